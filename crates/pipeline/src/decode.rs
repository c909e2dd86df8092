//! Decoding of agent flows (`pbflow.Record`) into pipeline records, field by field as reference
//! §A.6 lists them, so that Loki lines, metrics and console queries see upstream's names and
//! value forms: MACs as lower-case `0a:58:..` (what the console's filters and the CLI match),
//! v4-mapped IPv6 addresses as dotted quads, TCP states, drop causes and DNS response codes as
//! names.
//!
//! As upstream, `FlowDirection` is not set here: it is the node's point of view, which only
//! `reinterpret_direction` knows; the interface-level directions are in `IfDirections`. One
//! difference, documented in the README's compatibility section: when the agent sends no
//! de-duplication list, `Interfaces` / `IfDirections` / `Udns` are filled from the flow's single
//! interface and direction (upstream leaves them out), so every record says where it was seen.

use crate::record::{Key, Record, Value};
use compact_str::CompactString;

/// Protocol numbers that decide which transport fields a flow carries.
const ICMP: u32 = 1;
const TCP: u32 = 6;
const UDP: u32 = 17;
const ICMPV6: u32 = 58;
const SCTP: u32 = 132;

/// EtherTypes that carry an IP header.
const ETH_IPV4: u32 = 0x0800;
const ETH_IPV6: u32 = 0x86DD;

// Offset the agent adds to OVN network-event drop causes, and their actors in index order
// (shared with the agent through the wire-contract crate).
use pbflow::{NETWORK_EVENT_ACTORS, NETWORK_EVENT_CAUSE_BASE};

/// Drop reasons of the Open vSwitch kernel datapath start at subsystem 3 << 16.
const OVS_DROP_BASE: u32 = 3 << 16;
const OVS_DROP_REASONS: [&str; 11] = [
    "OVS_DROP_LAST_ACTION",
    "OVS_DROP_ACTION_ERROR",
    "OVS_DROP_EXPLICIT",
    "OVS_DROP_EXPLICIT_WITH_ERROR",
    "OVS_DROP_METER",
    "OVS_DROP_RECURSION_LIMIT",
    "OVS_DROP_DEFERRED_LIMIT",
    "OVS_DROP_FRAG_L2_TOO_LONG",
    "OVS_DROP_FRAG_INVALID_PROTO",
    "OVS_DROP_CONNTRACK",
    "OVS_DROP_IP_TTL",
];

/// The kernel's `enum skb_drop_reason` core values (index = value), as upstream's table has them.
const SKB_DROP_REASONS: [&str; 76] = [
    "SKB_NOT_DROPPED_YET",
    "SKB_CONSUMED",
    "SKB_DROP_REASON_NOT_SPECIFIED",
    "SKB_DROP_REASON_NO_SOCKET",
    "SKB_DROP_REASON_PKT_TOO_SMALL",
    "SKB_DROP_REASON_TCP_CSUM",
    "SKB_DROP_REASON_SOCKET_FILTER",
    "SKB_DROP_REASON_UDP_CSUM",
    "SKB_DROP_REASON_NETFILTER_DROP",
    "SKB_DROP_REASON_OTHERHOST",
    "SKB_DROP_REASON_IP_CSUM",
    "SKB_DROP_REASON_IP_INHDR",
    "SKB_DROP_REASON_IP_RPFILTER",
    "SKB_DROP_REASON_UNICAST_IN_L2_MULTICAST",
    "SKB_DROP_REASON_XFRM_POLICY",
    "SKB_DROP_REASON_IP_NOPROTO",
    "SKB_DROP_REASON_SOCKET_RCVBUFF",
    "SKB_DROP_REASON_PROTO_MEM",
    "SKB_DROP_REASON_TCP_MD5NOTFOUND",
    "SKB_DROP_REASON_TCP_MD5UNEXPECTED",
    "SKB_DROP_REASON_TCP_MD5FAILURE",
    "SKB_DROP_REASON_SOCKET_BACKLOG",
    "SKB_DROP_REASON_TCP_FLAGS",
    "SKB_DROP_REASON_TCP_ZEROWINDOW",
    "SKB_DROP_REASON_TCP_OLD_DATA",
    "SKB_DROP_REASON_TCP_OVERWINDOW",
    "SKB_DROP_REASON_TCP_OFOMERGE",
    "SKB_DROP_REASON_TCP_RFC7323_PAWS",
    "SKB_DROP_REASON_TCP_INVALID_SEQUENCE",
    "SKB_DROP_REASON_TCP_RESET",
    "SKB_DROP_REASON_TCP_INVALID_SYN",
    "SKB_DROP_REASON_TCP_CLOSE",
    "SKB_DROP_REASON_TCP_FASTOPEN",
    "SKB_DROP_REASON_TCP_OLD_ACK",
    "SKB_DROP_REASON_TCP_TOO_OLD_ACK",
    "SKB_DROP_REASON_TCP_ACK_UNSENT_DATA",
    "SKB_DROP_REASON_TCP_OFO_QUEUE_PRUNE",
    "SKB_DROP_REASON_TCP_OFO_DROP",
    "SKB_DROP_REASON_IP_OUTNOROUTES",
    "SKB_DROP_REASON_BPF_CGROUP_EGRESS",
    "SKB_DROP_REASON_IPV6DISABLED",
    "SKB_DROP_REASON_NEIGH_CREATEFAIL",
    "SKB_DROP_REASON_NEIGH_FAILED",
    "SKB_DROP_REASON_NEIGH_QUEUEFULL",
    "SKB_DROP_REASON_NEIGH_DEAD",
    "SKB_DROP_REASON_TC_EGRESS",
    "SKB_DROP_REASON_QDISC_DROP",
    "SKB_DROP_REASON_CPU_BACKLOG",
    "SKB_DROP_REASON_XDP",
    "SKB_DROP_REASON_TC_INGRESS",
    "SKB_DROP_REASON_UNHANDLED_PROTO",
    "SKB_DROP_REASON_SKB_CSUM",
    "SKB_DROP_REASON_SKB_GSO_SEG",
    "SKB_DROP_REASON_SKB_UCOPY_FAULT",
    "SKB_DROP_REASON_DEV_HDR",
    "SKB_DROP_REASON_DEV_READY",
    "SKB_DROP_REASON_FULL_RING",
    "SKB_DROP_REASON_NOMEM",
    "SKB_DROP_REASON_HDR_TRUNC",
    "SKB_DROP_REASON_TAP_FILTER",
    "SKB_DROP_REASON_TAP_TXFILTER",
    "SKB_DROP_REASON_ICMP_CSUM",
    "SKB_DROP_REASON_INVALID_PROTO",
    "SKB_DROP_REASON_IP_INADDRERRORS",
    "SKB_DROP_REASON_IP_INNOROUTES",
    "SKB_DROP_REASON_PKT_TOO_BIG",
    "SKB_DROP_REASON_DUP_FRAG",
    "SKB_DROP_REASON_FRAG_REASM_TIMEOUT",
    "SKB_DROP_REASON_FRAG_TOO_FAR",
    "SKB_DROP_REASON_TCP_MINTTL",
    "SKB_DROP_REASON_IPV6_BAD_EXTHDR",
    "SKB_DROP_REASON_IPV6_NDISC_FRAG",
    "SKB_DROP_REASON_IPV6_NDISC_HOP_LIMIT",
    "SKB_DROP_REASON_IPV6_NDISC_BAD_CODE",
    "SKB_DROP_REASON_IPV6_NDISC_BAD_OPTIONS",
    "SKB_DROP_REASON_IPV6_NDISC_NS_OTHERHOST",
];

/// The name of a drop cause as the console shows it.
pub fn drop_cause_name(cause: u32) -> String {
    if let Some(actor) = cause
        .checked_sub(NETWORK_EVENT_CAUSE_BASE)
        .and_then(|i| NETWORK_EVENT_ACTORS.get(i as usize))
    {
        return format!("NetworkEvent_{actor}");
    }
    if let Some(name) = cause
        .checked_sub(OVS_DROP_BASE + 1)
        .and_then(|i| OVS_DROP_REASONS.get(i as usize))
    {
        return (*name).to_string();
    }
    SKB_DROP_REASONS
        .get(cause as usize)
        .map_or("SKB_DROP_UNKNOWN_CAUSE", |n| n)
        .to_string()
}

/// The kernel TCP state name (`include/net/tcp_states.h`). Upstream's table skips
/// `TCP_TIME_WAIT` (6), naming every later state one off; this one follows the kernel.
pub fn tcp_state_name(state: u32) -> &'static str {
    const STATES: [&str; 12] = [
        "TCP_INVALID_STATE",
        "TCP_ESTABLISHED",
        "TCP_SYN_SENT",
        "TCP_SYN_RECV",
        "TCP_FIN_WAIT1",
        "TCP_FIN_WAIT2",
        "TCP_TIME_WAIT",
        "TCP_CLOSE",
        "TCP_CLOSE_WAIT",
        "TCP_LAST_ACK",
        "TCP_LISTEN",
        "TCP_CLOSING",
    ];
    match state {
        12 => "TCP_NEW_SYN_RECV",
        s => STATES
            .get(s as usize)
            .copied()
            .unwrap_or("TCP_INVALID_STATE"),
    }
}

/// The DNS response code name (RFC 6895 registry).
pub fn dns_rcode_name(rcode: u32) -> &'static str {
    match rcode {
        0 => "NoError",
        1 => "FormErr",
        2 => "ServFail",
        3 => "NXDomain",
        4 => "NotImp",
        5 => "Refused",
        6 => "YXDomain",
        7 => "YXRRSet",
        8 => "NXRRSet",
        9 => "NotAuth",
        10 => "NotZone",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        _ => "UnDefined",
    }
}

/// `aa:bb:cc:dd:ee:ff` from the packed wire form (inline, no heap allocation; written by hand
/// because `format!` with six `{:02x}` costs several times more on this per-flow path).
pub fn mac_string(mac: u64) -> CompactString {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = mac.to_be_bytes();
    let mut out = [b':'; 17];
    for (i, byte) in b[2..].iter().enumerate() {
        out[i * 3] = HEX[usize::from(byte >> 4)];
        out[i * 3 + 1] = HEX[usize::from(byte & 0xF)];
    }
    // Only ASCII hex digits and colons were written.
    CompactString::from_utf8(out).unwrap_or_default()
}

/// The address as a binary [`Value::Ip`] (v4-mapped IPv6 as IPv4, as upstream's text is); an
/// absent address is the empty string, as upstream's.
pub fn ip_value(ip: Option<&pbflow::Ip>) -> Value {
    match ip.and_then(pbflow::Ip::to_addr) {
        Some(addr) => Value::ip(addr),
        None => Value::from(""),
    }
}

fn millis(ts: Option<&prost_types::Timestamp>) -> i64 {
    ts.map_or(0, |t| {
        t.seconds.saturating_mul(1000) + i64::from(t.nanos) / 1_000_000
    })
}

fn nanos(d: Option<&prost_types::Duration>) -> i64 {
    d.map_or(0, |d| {
        d.seconds.saturating_mul(1_000_000_000) + i64::from(d.nanos)
    })
}

fn s(k: &'static str) -> Key {
    Key::Borrowed(k)
}

/// Decodes one agent flow. `received_s` is the processing time (Unix seconds), passed in so a
/// batch shares one clock read. Fields are pushed in upstream's order, one group per helper.
pub fn record_from_pbflow(flow: &pbflow::Record, received_s: i64) -> Record {
    let mut r = Record::with_capacity(40);
    let data_link = flow.data_link.as_ref();
    r.push_new(s("SrcMac"), mac_string(data_link.map_or(0, |d| d.src_mac)));
    r.push_new(s("DstMac"), mac_string(data_link.map_or(0, |d| d.dst_mac)));
    r.push_new(s("Etype"), u64::from(flow.eth_protocol));
    r.push_new(s("TimeFlowStartMs"), millis(flow.time_flow_start.as_ref()));
    r.push_new(s("TimeFlowEndMs"), millis(flow.time_flow_end.as_ref()));
    r.push_new(s("TimeReceived"), received_s);
    r.push_new(s("AgentIP"), ip_value(flow.agent_ip.as_ref()));
    push_interfaces(&mut r, flow);
    r.push_new(s("Bytes"), flow.bytes);
    r.push_new(s("Packets"), flow.packets);
    if flow.sampling != 0 {
        r.push_new(s("Sampling"), u64::from(flow.sampling));
    }
    if flow.eth_protocol == ETH_IPV4 || flow.eth_protocol == ETH_IPV6 {
        push_network(&mut r, flow);
    }
    push_dns(&mut r, flow);
    push_drops(&mut r, flow);
    let rtt = nanos(flow.time_flow_rtt.as_ref());
    if rtt != 0 {
        r.push_new(s("TimeFlowRttNs"), rtt);
    }
    push_translation(&mut r, flow);
    push_network_events(&mut r, flow);
    push_encryption(&mut r, flow);
    r
}

/// Interfaces, their directions and UDNs: parallel lists, from the de-duplicated list when the
/// agent sends one, else from the single interface. `Udns` has one entry per interface, empty
/// when the interface is on no user-defined network (upstream writes `[""]` too).
fn push_interfaces(r: &mut Record, flow: &pbflow::Record) {
    let (interfaces, directions, udns) = if flow.dup_list.is_empty() {
        (
            vec![Value::from(flow.interface.as_str())],
            vec![Value::Int(i64::from(flow.direction))],
            vec![Value::from("")],
        )
    } else {
        let n = flow.dup_list.len();
        let mut lists = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for d in &flow.dup_list {
            lists.0.push(Value::from(d.interface.as_str()));
            lists.1.push(Value::Int(i64::from(d.direction)));
            lists.2.push(Value::from(d.udn.as_str()));
        }
        lists
    };
    r.push_new(s("Interfaces"), Value::List(interfaces));
    r.push_new(s("IfDirections"), Value::List(directions));
    r.push_new(s("Udns"), Value::List(udns));
}

/// Addresses, protocol, DSCP, and the ICMP type/code or ports (and TCP flags) by protocol.
fn push_network(r: &mut Record, flow: &pbflow::Record) {
    let network = flow.network.as_ref();
    r.insert(
        s("SrcAddr"),
        ip_value(network.and_then(|n| n.src_addr.as_ref())),
    );
    r.insert(
        s("DstAddr"),
        ip_value(network.and_then(|n| n.dst_addr.as_ref())),
    );
    let proto = flow.transport.as_ref().map_or(0, |t| t.protocol);
    r.push_new(s("Proto"), u64::from(proto));
    r.push_new(s("Dscp"), u64::from(network.map_or(0, |n| n.dscp)));
    match proto {
        ICMP | ICMPV6 => {
            r.push_new(s("IcmpType"), u64::from(flow.icmp_type));
            r.push_new(s("IcmpCode"), u64::from(flow.icmp_code));
        }
        TCP | UDP | SCTP => {
            let t = flow.transport.as_ref();
            r.push_new(s("SrcPort"), u64::from(t.map_or(0, |t| t.src_port)));
            r.push_new(s("DstPort"), u64::from(t.map_or(0, |t| t.dst_port)));
            if proto == TCP {
                r.push_new(s("Flags"), u64::from(flow.flags));
            }
        }
        _ => {}
    }
}

/// The DNS feature: id, flags and response code, latency, name, errno.
fn push_dns(r: &mut Record, flow: &pbflow::Record) {
    if flow.dns_id != 0 || !flow.dns_name.is_empty() || flow.dns_errno != 0 {
        r.push_new(s("DnsId"), u64::from(flow.dns_id));
        r.push_new(s("DnsFlags"), u64::from(flow.dns_flags));
        r.insert(
            s("DnsFlagsResponseCode"),
            dns_rcode_name(flow.dns_flags & 0xF),
        );
        let latency_ns = nanos(flow.dns_latency.as_ref());
        if latency_ns != 0 {
            r.push_new(s("DnsLatencyMs"), latency_ns / 1_000_000);
        }
        if !flow.dns_name.is_empty() {
            r.push_new(s("DnsName"), flow.dns_name.as_str());
        }
        if flow.dns_errno != 0 {
            r.push_new(s("DnsErrno"), u64::from(flow.dns_errno));
        }
    }
}

/// The PacketDrop feature: counts and the latest drop's flags, TCP state and cause.
fn push_drops(r: &mut Record, flow: &pbflow::Record) {
    if flow.pkt_drop_latest_drop_cause != 0 {
        r.push_new(s("PktDropBytes"), flow.pkt_drop_bytes);
        r.push_new(s("PktDropPackets"), flow.pkt_drop_packets);
        r.insert(
            s("PktDropLatestFlags"),
            u64::from(flow.pkt_drop_latest_flags),
        );
        r.insert(
            s("PktDropLatestState"),
            tcp_state_name(flow.pkt_drop_latest_state),
        );
        r.insert(
            s("PktDropLatestDropCause"),
            drop_cause_name(flow.pkt_drop_latest_drop_cause),
        );
    }
}

/// PacketTranslation (NAT): the translated addresses and ports and the conntrack zone.
fn push_translation(r: &mut Record, flow: &pbflow::Record) {
    if let Some(x) = &flow.xlat {
        let src = ip_value(x.src_addr.as_ref());
        let dst = ip_value(x.dst_addr.as_ref());
        if src.as_ip().is_some() || dst.as_ip().is_some() || x.zone_id != 0 {
            r.push_new(s("XlatSrcAddr"), src);
            r.push_new(s("XlatDstAddr"), dst);
            r.push_new(s("XlatSrcPort"), u64::from(x.src_port));
            r.push_new(s("XlatDstPort"), u64::from(x.dst_port));
            r.push_new(s("ZoneId"), u64::from(x.zone_id));
        }
    }
}

/// NetworkEvents: one map per event, keys sorted so records compare equal.
fn push_network_events(r: &mut Record, flow: &pbflow::Record) {
    if !flow.network_events_metadata.is_empty() {
        let events = flow
            .network_events_metadata
            .iter()
            .map(|e| {
                let mut entries: Vec<(&String, &String)> = e.events.iter().collect();
                entries.sort();
                Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| (Key::Owned(k.clone()), Value::from(v.as_str())))
                        .collect(),
                )
            })
            .collect();
        r.push_new(s("NetworkEvents"), Value::List(events));
    }
}

/// IPsec status, TLS handshake facts and QUIC headers seen.
fn push_encryption(r: &mut Record, flow: &pbflow::Record) {
    if flow.ipsec_encrypted != 0 || flow.ipsec_encrypted_ret != 0 {
        r.push_new(s("IPSecRetCode"), i64::from(flow.ipsec_encrypted_ret));
        let status = if flow.ipsec_encrypted_ret == 0 {
            "success"
        } else {
            "error"
        };
        r.push_new(s("IPSecStatus"), status);
    }
    if flow.ssl_version != 0 {
        r.push_new(s("TLSVersion"), tls_version_name(flow.ssl_version));
        r.push_new(s("TLSTypes"), u64::from(flow.tls_types));
        r.push_new(s("TLSCipherSuite"), u64::from(flow.tls_cipher_suite));
        r.push_new(s("TLSGroup"), u64::from(flow.tls_key_share));
    }
    if let Some(q) = &flow.quic
        && q.version != 0
    {
        r.push_new(s("QuicVersion"), u64::from(q.version));
        r.push_new(s("QuicSeenLongHdr"), u64::from(q.seen_long_hdr));
        r.push_new(s("QuicSeenShortHdr"), u64::from(q.seen_short_hdr));
    }
}

/// `TLS 1.3`-style names for the record-layer versions, the raw number otherwise.
fn tls_version_name(version: u32) -> String {
    match version {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn names() {
        assert_eq!(drop_cause_name(8), "SKB_DROP_REASON_NETFILTER_DROP");
        assert_eq!(drop_cause_name(9999), "SKB_DROP_UNKNOWN_CAUSE");
        assert_eq!(
            drop_cause_name((1 << 24) + 1),
            "NetworkEvent_AdminNetworkPolicy"
        );
        assert_eq!(drop_cause_name((3 << 16) + 3), "OVS_DROP_EXPLICIT");
        assert_eq!(tcp_state_name(1), "TCP_ESTABLISHED");
        assert_eq!(tcp_state_name(12), "TCP_NEW_SYN_RECV");
        assert_eq!(tcp_state_name(99), "TCP_INVALID_STATE");
        assert_eq!(dns_rcode_name(3), "NXDomain");
        assert_eq!(mac_string(0x0a58_0a80_0011), "0a:58:0a:80:00:11");
        assert_eq!(mac_string(0xffff_ffff_ffff), "ff:ff:ff:ff:ff:ff");
        for text in ["0.0.0.0", "10.0.0.1", "255.255.255.255", "2001:db8::1"] {
            let addr: IpAddr = text.parse().expect("addr");
            let ip = pbflow::Ip::from_addr(addr);
            assert_eq!(ip_value(Some(&ip)).to_text(), text);
        }
        let mapped: IpAddr = "::ffff:192.168.100.9".parse().expect("addr");
        let v = ip_value(Some(&pbflow::Ip::from_addr(mapped)));
        assert_eq!(v.as_ip(), Some("192.168.100.9".parse().expect("addr")));
        assert_eq!(v, Value::from("192.168.100.9"));
        assert_eq!(ip_value(None), Value::from(""));
    }
}
