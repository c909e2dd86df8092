//! The table's columns: upstream's display cycle (which feature's fields are shown) and
//! enrichment cycle (how each end is named), and how a record's value prints in a cell.

use netobserv_pipeline::record::{Record, Value};

/// One column: its header and the record fields it shows (joined with ` ` when several).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Header.
    pub title: &'static str,
    /// Fields shown, in order.
    pub fields: &'static [&'static str],
    /// Width in cells.
    pub width: u16,
}

impl Column {
    /// A stable name for the columns file: its fields joined by `+` (titles repeat across
    /// enrichments, e.g. `Src` for both IP and Resource; field lists do not).
    pub fn id(&self) -> String {
        self.fields.join("+")
    }
}

/// The first column of every display: the flow's end (a packet's time).
pub const END_TIME: Column = col("End time", &["TimeFlowEndMs"], 12);

const fn col(title: &'static str, fields: &'static [&'static str], width: u16) -> Column {
    Column {
        title,
        fields,
        width,
    }
}

/// What the table shows besides the ends (Ctrl-D, ← →).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// Interfaces, direction, protocol, DSCP, bytes, packets.
    Standard,
    /// Packet drops.
    Drops,
    /// DNS.
    Dns,
    /// Round-trip time.
    Rtt,
    /// Network events.
    NetworkEvents,
    /// Packet translation.
    Translation,
    /// The user-defined networks (OVN-Kubernetes UDN) of each interface.
    Udn,
    /// IPsec tracking.
    IpSec,
    /// Everything above.
    All,
}

/// The display cycle, in order.
pub const DISPLAYS: &[Display] = &[
    Display::Standard,
    Display::Drops,
    Display::Dns,
    Display::Rtt,
    Display::NetworkEvents,
    Display::Translation,
    Display::Udn,
    Display::IpSec,
    Display::All,
];

const STANDARD: &[Column] = &[
    col("Interfaces", &["Interfaces"], 14),
    col("Dir", &["FlowDirection"], 4),
    col("Proto", &["Proto"], 6),
    col("Dscp", &["Dscp"], 5),
    col("Bytes", &["Bytes"], 10),
    col("Packets", &["Packets"], 8),
];
const DROPS: &[Column] = &[
    col("Drop bytes", &["PktDropBytes"], 11),
    col("Drop pkts", &["PktDropPackets"], 10),
    col("Drop state", &["PktDropLatestState"], 14),
    col("Drop cause", &["PktDropLatestDropCause"], 26),
];
const DNS: &[Column] = &[
    col("DNS id", &["DnsId"], 7),
    col("DNS name", &["DnsName"], 24),
    col("DNS ms", &["DnsLatencyMs"], 7),
    col("DNS rcode", &["DnsFlagsResponseCode"], 10),
];
const RTT: &[Column] = &[col("RTT ns", &["TimeFlowRttNs"], 12)];
const EVENTS: &[Column] = &[col("Network events", &["NetworkEvents"], 40)];
const XLAT: &[Column] = &[
    col("Xlat src", &["XlatSrcAddr", "XlatSrcPort"], 22),
    col("Xlat dst", &["XlatDstAddr", "XlatDstPort"], 22),
    col("Zone id", &["ZoneId"], 8),
];
const UDN: &[Column] = &[col("UDNs", &["Udns"], 24)];
const IPSEC: &[Column] = &[
    col("IPsec status", &["IPSecStatus"], 13),
    col("IPsec code", &["IPSecRetCode"], 11),
];

impl Display {
    /// Its name in the header.
    pub fn name(self) -> &'static str {
        match self {
            Display::Standard => "Standard",
            Display::Drops => "Packet drops",
            Display::Dns => "DNS",
            Display::Rtt => "RTT",
            Display::NetworkEvents => "Network events",
            Display::Translation => "Packet translation",
            Display::Udn => "UDN mapping",
            Display::IpSec => "IPsec",
            Display::All => "All",
        }
    }

    /// Its columns.
    pub fn columns(self) -> Vec<Column> {
        match self {
            Display::Standard => STANDARD.to_vec(),
            Display::Drops => DROPS.to_vec(),
            Display::Dns => DNS.to_vec(),
            Display::Rtt => RTT.to_vec(),
            Display::NetworkEvents => EVENTS.to_vec(),
            Display::Translation => XLAT.to_vec(),
            Display::Udn => UDN.to_vec(),
            Display::IpSec => IPSEC.to_vec(),
            Display::All => [STANDARD, DROPS, DNS, RTT, EVENTS, XLAT, UDN, IPSEC].concat(),
        }
    }
}

/// How each end is named (Ctrl-E).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enrichment {
    /// Address and port.
    Ip,
    /// Cluster name.
    Cluster,
    /// Zone.
    Zone,
    /// Node.
    Host,
    /// Namespace.
    Namespace,
    /// Owner (e.g. Deployment).
    Owner,
    /// Pod / Service / Node name (the default).
    Resource,
    /// Subnet label.
    SubnetLabel,
    /// The network (primary or user-defined) each end is on.
    NetworkName,
}

/// The enrichment cycle, in order.
pub const ENRICHMENTS: &[Enrichment] = &[
    Enrichment::Ip,
    Enrichment::Cluster,
    Enrichment::Zone,
    Enrichment::Host,
    Enrichment::Namespace,
    Enrichment::Owner,
    Enrichment::Resource,
    Enrichment::SubnetLabel,
    Enrichment::NetworkName,
];

impl Enrichment {
    /// Its name in the header.
    pub fn name(self) -> &'static str {
        match self {
            Enrichment::Ip => "IP & port",
            Enrichment::Cluster => "Cluster",
            Enrichment::Zone => "Zone",
            Enrichment::Host => "Host",
            Enrichment::Namespace => "Namespace",
            Enrichment::Owner => "Owner",
            Enrichment::Resource => "Resource",
            Enrichment::SubnetLabel => "Subnet label",
            Enrichment::NetworkName => "Network name",
        }
    }

    /// The source and destination columns.
    pub fn columns(self) -> Vec<Column> {
        match self {
            Enrichment::Ip => vec![
                col("Src", &["SrcAddr", "SrcPort"], 22),
                col("Dst", &["DstAddr", "DstPort"], 22),
            ],
            Enrichment::Cluster => vec![col("Cluster", &["K8S_ClusterName"], 16)],
            Enrichment::Zone => vec![
                col("Src zone", &["SrcK8S_Zone"], 14),
                col("Dst zone", &["DstK8S_Zone"], 14),
            ],
            Enrichment::Host => vec![
                col("Src node", &["SrcK8S_HostName"], 18),
                col("Dst node", &["DstK8S_HostName"], 18),
            ],
            Enrichment::Namespace => vec![
                col("Src namespace", &["SrcK8S_Namespace"], 18),
                col("Dst namespace", &["DstK8S_Namespace"], 18),
            ],
            Enrichment::Owner => vec![
                col("Src owner", &["SrcK8S_OwnerType", "SrcK8S_OwnerName"], 26),
                col("Dst owner", &["DstK8S_OwnerType", "DstK8S_OwnerName"], 26),
            ],
            Enrichment::Resource => vec![
                col(
                    "Src",
                    &["SrcK8S_Type", "SrcK8S_Namespace", "SrcK8S_Name"],
                    34,
                ),
                col(
                    "Dst",
                    &["DstK8S_Type", "DstK8S_Namespace", "DstK8S_Name"],
                    34,
                ),
            ],
            Enrichment::SubnetLabel => vec![
                col("Src subnet", &["SrcSubnetLabel"], 14),
                col("Dst subnet", &["DstSubnetLabel"], 14),
            ],
            Enrichment::NetworkName => vec![
                col("Src network", &["SrcK8S_NetworkName"], 20),
                col("Dst network", &["DstK8S_NetworkName"], 20),
            ],
        }
    }
}

/// A value as a cell shows it (lists joined with `,`).
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::List(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_text(),
    }
}

/// The cell of `column` for `record` (the fields that are set, joined by a space; a missing
/// IP-and-port end falls back to the address alone).
pub fn cell(record: &Record, column: &Column) -> String {
    let parts: Vec<String> = column
        .fields
        .iter()
        .filter_map(|f| record.get(f).map(text))
        .filter(|t| !t.is_empty())
        .collect();
    if column.fields.len() == 2 && column.fields[1].ends_with("Port") && parts.len() == 2 {
        return format!("{}:{}", parts[0], parts[1]);
    }
    parts.join(" ")
}

/// What a cell shows: the end time as a clock time, any other column through [`cell`].
pub fn show(record: &Record, column: &Column) -> String {
    if *column == END_TIME {
        time(record)
    } else {
        cell(record, column)
    }
}

/// The end time of a record as `HH:MM:SS.mmm` UTC (flows: `TimeFlowEndMs`).
pub fn time(record: &Record) -> String {
    let Some(ms) = record.get("TimeFlowEndMs").and_then(Value::as_i64) else {
        return String::new();
    };
    let day = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day / 3_600_000,
        (day / 60_000) % 60,
        (day / 1000) % 60,
        day % 1000
    )
}
