//! The catalogue of record fields the store knows: one column of the `flow` table each, with
//! how values are stored and matched. The SQL builder, the console's LogQL and PromQL builders
//! and the schema documentation all read this one list, so a field cannot be filterable in one
//! source and unknown in another.

/// How a field's values are stored and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An integer: counters, ports, codes, timestamps. Stored as `INTEGER`.
    Int,
    /// Free text. Stored as `TEXT`.
    Text,
    /// An IPv4 or IPv6 address as text. Filters accept an address, a CIDR or a range `a-b`.
    Addr,
    /// A list (`Interfaces`, `IfDirections`, `Udns`, `Flags`, `TLSTypes`), stored as JSON text.
    /// A raw integer (`Flags` before `decode_tcp_flags`) is stored as an integer.
    List,
    /// `NetworkEvents`: a list of objects, stored as JSON text.
    Events,
}

impl Kind {
    /// The SQLite column type.
    pub fn sql_type(self) -> &'static str {
        match self {
            Kind::Int => "INTEGER",
            Kind::Text | Kind::Addr | Kind::List | Kind::Events => "TEXT",
        }
    }

    /// Whether values compare as numbers.
    pub fn numeric(self) -> bool {
        self == Kind::Int
    }
}

/// What a field is about, for the documentation and the frontend's column groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Timestamps and record bookkeeping.
    Record,
    /// Layer 2 to 4 identity and counters.
    Network,
    /// Interfaces and directions.
    Interfaces,
    /// Kubernetes enrichment.
    Kubernetes,
    /// DNS tracking.
    Dns,
    /// Packet drops.
    Drops,
    /// TCP round-trip time.
    Rtt,
    /// Network events (OVN ACL samples).
    NetworkEvents,
    /// Packet translation (NAT through conntrack zones).
    Translation,
    /// IPsec, TLS and QUIC tracking.
    Crypto,
    /// Conntrack connection records.
    Conntrack,
    /// The local process and container behind a flow's end (local mode's `host_process`).
    Host,
}

/// One record field and its column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The record field name, which is also the column name.
    pub name: &'static str,
    /// How it is stored and compared.
    pub kind: Kind,
    /// What it is about.
    pub group: Group,
}

const fn f(name: &'static str, kind: Kind, group: Group) -> Field {
    Field { name, kind, group }
}

use Group as G;
use Kind as K;

/// Every field, in column order. Kubernetes fields come in `Src`, `Dst`, `XlatSrc` and `XlatDst`
/// variants; see [`K8S_SUFFIXES`].
pub const FIELDS: &[Field] = &[
    f("TimeFlowStartMs", K::Int, G::Record),
    f("TimeFlowEndMs", K::Int, G::Record),
    f("TimeReceived", K::Int, G::Record),
    f("_RecordType", K::Text, G::Record),
    f("_HashId", K::Text, G::Record),
    f("_IsFirst", K::Int, G::Record),
    f("numFlowLogs", K::Int, G::Record),
    f("AgentIP", K::Addr, G::Record),
    f("SrcMac", K::Text, G::Network),
    f("DstMac", K::Text, G::Network),
    f("Etype", K::Int, G::Network),
    f("SrcAddr", K::Addr, G::Network),
    f("DstAddr", K::Addr, G::Network),
    f("SrcPort", K::Int, G::Network),
    f("DstPort", K::Int, G::Network),
    f("Proto", K::Int, G::Network),
    f("Dscp", K::Int, G::Network),
    f("IcmpType", K::Int, G::Network),
    f("IcmpCode", K::Int, G::Network),
    f("Flags", K::List, G::Network),
    f("Bytes", K::Int, G::Network),
    f("Packets", K::Int, G::Network),
    f("Sampling", K::Int, G::Network),
    f("Interfaces", K::List, G::Interfaces),
    f("IfDirections", K::List, G::Interfaces),
    f("Udns", K::List, G::Interfaces),
    f("Interface", K::Text, G::Interfaces),
    f("FlowDirection", K::Int, G::Interfaces),
    f("SrcK8S_Name", K::Text, G::Kubernetes),
    f("SrcK8S_Namespace", K::Text, G::Kubernetes),
    f("SrcK8S_Type", K::Text, G::Kubernetes),
    f("SrcK8S_OwnerName", K::Text, G::Kubernetes),
    f("SrcK8S_OwnerType", K::Text, G::Kubernetes),
    f("SrcK8S_HostIP", K::Addr, G::Kubernetes),
    f("SrcK8S_HostName", K::Text, G::Kubernetes),
    f("SrcK8S_Zone", K::Text, G::Kubernetes),
    f("SrcK8S_NetworkName", K::Text, G::Kubernetes),
    f("SrcSubnetLabel", K::Text, G::Kubernetes),
    f("DstK8S_Name", K::Text, G::Kubernetes),
    f("DstK8S_Namespace", K::Text, G::Kubernetes),
    f("DstK8S_Type", K::Text, G::Kubernetes),
    f("DstK8S_OwnerName", K::Text, G::Kubernetes),
    f("DstK8S_OwnerType", K::Text, G::Kubernetes),
    f("DstK8S_HostIP", K::Addr, G::Kubernetes),
    f("DstK8S_HostName", K::Text, G::Kubernetes),
    f("DstK8S_Zone", K::Text, G::Kubernetes),
    f("DstK8S_NetworkName", K::Text, G::Kubernetes),
    f("DstSubnetLabel", K::Text, G::Kubernetes),
    f("K8S_FlowLayer", K::Text, G::Kubernetes),
    f("K8S_ClusterName", K::Text, G::Kubernetes),
    f("DnsId", K::Int, G::Dns),
    f("DnsFlags", K::Int, G::Dns),
    f("DnsFlagsResponseCode", K::Text, G::Dns),
    f("DnsLatencyMs", K::Int, G::Dns),
    f("DnsName", K::Text, G::Dns),
    f("DnsErrno", K::Int, G::Dns),
    f("PktDropBytes", K::Int, G::Drops),
    f("PktDropPackets", K::Int, G::Drops),
    f("PktDropLatestFlags", K::Int, G::Drops),
    f("PktDropLatestState", K::Text, G::Drops),
    f("PktDropLatestDropCause", K::Text, G::Drops),
    f("TimeFlowRttNs", K::Int, G::Rtt),
    f("NetworkEvents", K::Events, G::NetworkEvents),
    f("XlatSrcAddr", K::Addr, G::Translation),
    f("XlatDstAddr", K::Addr, G::Translation),
    f("XlatSrcPort", K::Int, G::Translation),
    f("XlatDstPort", K::Int, G::Translation),
    f("ZoneId", K::Int, G::Translation),
    f("XlatSrcK8S_Name", K::Text, G::Translation),
    f("XlatSrcK8S_Namespace", K::Text, G::Translation),
    f("XlatSrcK8S_Type", K::Text, G::Translation),
    f("XlatSrcK8S_OwnerName", K::Text, G::Translation),
    f("XlatSrcK8S_OwnerType", K::Text, G::Translation),
    f("XlatSrcK8S_HostIP", K::Addr, G::Translation),
    f("XlatSrcK8S_HostName", K::Text, G::Translation),
    f("XlatSrcK8S_Zone", K::Text, G::Translation),
    f("XlatSrcK8S_NetworkName", K::Text, G::Translation),
    f("XlatDstK8S_Name", K::Text, G::Translation),
    f("XlatDstK8S_Namespace", K::Text, G::Translation),
    f("XlatDstK8S_Type", K::Text, G::Translation),
    f("XlatDstK8S_OwnerName", K::Text, G::Translation),
    f("XlatDstK8S_OwnerType", K::Text, G::Translation),
    f("XlatDstK8S_HostIP", K::Addr, G::Translation),
    f("XlatDstK8S_HostName", K::Text, G::Translation),
    f("XlatDstK8S_Zone", K::Text, G::Translation),
    f("XlatDstK8S_NetworkName", K::Text, G::Translation),
    f("IPSecRetCode", K::Int, G::Crypto),
    f("IPSecStatus", K::Text, G::Crypto),
    f("TLSVersion", K::Text, G::Crypto),
    f("TLSTypes", K::List, G::Crypto),
    f("TLSCipherSuite", K::Text, G::Crypto),
    f("TLSGroup", K::Text, G::Crypto),
    f("QuicVersion", K::Int, G::Crypto),
    f("QuicSeenLongHdr", K::Int, G::Crypto),
    f("QuicSeenShortHdr", K::Int, G::Crypto),
    f("Bytes_AB", K::Int, G::Conntrack),
    f("Bytes_BA", K::Int, G::Conntrack),
    f("Packets_AB", K::Int, G::Conntrack),
    f("Packets_BA", K::Int, G::Conntrack),
    f("SrcProcessName", K::Text, G::Host),
    f("SrcProcessPid", K::Int, G::Host),
    f("SrcContainerId", K::Text, G::Host),
    f("DstProcessName", K::Text, G::Host),
    f("DstProcessPid", K::Int, G::Host),
    f("DstContainerId", K::Text, G::Host),
    f("SrcContainerName", K::Text, G::Host),
    f("DstContainerName", K::Text, G::Host),
    f("SrcResolvedName", K::Text, G::Host),
    f("DstResolvedName", K::Text, G::Host),
    f("SrcPortName", K::Text, G::Host),
    f("DstPortName", K::Text, G::Host),
];

/// The Kubernetes enrichment suffixes, each present as `SrcK8S_<s>`, `DstK8S_<s>`,
/// `XlatSrcK8S_<s>` and `XlatDstK8S_<s>`.
pub const K8S_SUFFIXES: &[&str] = &[
    "Name",
    "Namespace",
    "Type",
    "OwnerName",
    "OwnerType",
    "HostIP",
    "HostName",
    "Zone",
    "NetworkName",
];

/// The column that keeps, as a JSON object, every record field the catalogue does not name (pod
/// labels, annotations, custom fields), so nothing a writer receives is lost.
pub const EXTRA_COLUMN: &str = "Extra";

/// The time column every time range applies to.
pub const TIME_COLUMN: &str = "TimeFlowEndMs";

/// The catalogue entry of `name`, matched case-insensitively as SQLite matches column names
/// (the CLI's capture file spells RTT `TimeFlowRTTNs`).
pub fn field(name: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// Position of `name` in [`FIELDS`], case-insensitively.
pub fn index(name: &str) -> Option<usize> {
    // Writers look up every field of every record: the exact spelling through a map (a linear
    // case-insensitive scan of the catalogue was the largest cost of turning a record into a
    // row), any other case through the scan.
    static EXACT: std::sync::OnceLock<std::collections::HashMap<&'static str, usize>> =
        std::sync::OnceLock::new();
    let exact = EXACT.get_or_init(|| {
        FIELDS
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, i))
            .collect()
    });
    exact.get(name).copied().or_else(|| {
        FIELDS
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_case_insensitively() {
        for (i, a) in FIELDS.iter().enumerate() {
            for b in &FIELDS[i + 1..] {
                assert!(!a.name.eq_ignore_ascii_case(b.name), "{}", a.name);
            }
        }
    }

    #[test]
    fn kubernetes_variants_are_all_present() {
        for prefix in ["SrcK8S_", "DstK8S_", "XlatSrcK8S_", "XlatDstK8S_"] {
            for s in K8S_SUFFIXES {
                assert!(field(&format!("{prefix}{s}")).is_some(), "{prefix}{s}");
            }
        }
        assert_eq!(
            field("TimeFlowRTTNs").map(|f| f.name),
            Some("TimeFlowRttNs")
        );
    }
}
