//! Kernel flow entries to `pbflow::Record`: monotonic timestamps become wall-clock ones, IPv4
//! keys lose their v4-mapped prefix, interface indexes become names.

use netobserv_agent_common::{DIRECTION_BOTH, ETH_P_IPV6, FlowId, FlowMetrics};
use pbflow::{DataLink, Direction, DupMapEntry, Ip, Network, Record, Transport};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A pair of readings of the monotonic and wall clocks taken together, to convert kernel
/// `bpf_ktime_get_ns()` values into wall-clock times.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    mono_ns: u64,
    wall: SystemTime,
}

impl Clock {
    /// Reads both clocks now.
    pub fn now() -> Self {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid pointer to a timespec; CLOCK_MONOTONIC is what bpf_ktime_get_ns reads.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        Self {
            mono_ns: (ts.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec as u64),
            wall: SystemTime::now(),
        }
    }

    /// Builds a clock from explicit readings (tests).
    pub fn from_parts(mono_ns: u64, wall: SystemTime) -> Self {
        Self { mono_ns, wall }
    }

    /// The monotonic reading, in ns.
    pub fn mono_ns(&self) -> u64 {
        self.mono_ns
    }

    /// Wall-clock time of a monotonic kernel timestamp.
    pub fn wall_of(&self, mono_ns: u64) -> SystemTime {
        let ago = Duration::from_nanos(self.mono_ns.saturating_sub(mono_ns));
        self.wall.checked_sub(ago).unwrap_or(UNIX_EPOCH)
    }
}

fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    prost_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

fn ip_of(raw: &[u8; 16], v6: bool) -> Ip {
    if v6 {
        Ip::from_addr(IpAddr::V6(Ipv6Addr::from(*raw)))
    } else {
        Ip::from_addr(IpAddr::V4(Ipv4Addr::new(
            raw[12], raw[13], raw[14], raw[15],
        )))
    }
}

fn direction(d: u8) -> i32 {
    if d == 1 {
        Direction::Egress as i32
    } else {
        Direction::Ingress as i32
    }
}

/// Converts one evicted flow. `name_of` resolves interface indexes (in the observed namespace).
pub fn to_record(
    id: &FlowId,
    m: &FlowMetrics,
    clock: &Clock,
    name_of: &dyn Fn(u32) -> String,
    agent_ip: &Ip,
) -> Record {
    let v6 = m.eth_protocol == ETH_P_IPV6;
    let mut dup_list = vec![DupMapEntry {
        interface: name_of(m.if_index_first_seen),
        direction: direction(m.direction_first_seen),
        udn: String::new(),
    }];
    let n = (m.nb_observed_intf as usize).min(m.observed_intf.len());
    for i in 0..n {
        let dir = m.observed_direction[i];
        let name = name_of(m.observed_intf[i]);
        if dir == DIRECTION_BOTH {
            for d in [0, 1] {
                dup_list.push(DupMapEntry {
                    interface: name.clone(),
                    direction: direction(d),
                    udn: String::new(),
                });
            }
        } else {
            dup_list.push(DupMapEntry {
                interface: name,
                direction: direction(dir),
                udn: String::new(),
            });
        }
    }
    Record {
        eth_protocol: u32::from(m.eth_protocol),
        direction: direction(m.direction_first_seen),
        time_flow_start: Some(timestamp(clock.wall_of(m.start_mono_time_ts))),
        // Later packets carry the tick clock (see `COARSE_CLOCK`), which can read a little
        // before the precise stamp of the first packet within the same tick.
        time_flow_end: Some(timestamp(
            clock.wall_of(m.end_mono_time_ts.max(m.start_mono_time_ts)),
        )),
        data_link: Some(DataLink {
            src_mac: pbflow::mac_to_u64(m.src_mac),
            dst_mac: pbflow::mac_to_u64(m.dst_mac),
        }),
        network: Some(Network {
            src_addr: Some(ip_of(&id.src_ip, v6)),
            dst_addr: Some(ip_of(&id.dst_ip, v6)),
            dscp: u32::from(m.dscp),
        }),
        transport: Some(Transport {
            src_port: u32::from(id.src_port),
            dst_port: u32::from(id.dst_port),
            protocol: u32::from(id.transport_protocol),
        }),
        bytes: m.bytes,
        packets: u64::from(m.packets),
        agent_ip: Some(agent_ip.clone()),
        flags: u32::from(m.flags),
        icmp_type: u32::from(id.icmp_type),
        icmp_code: u32::from(id.icmp_code),
        time_flow_rtt: Some(prost_types::Duration::default()),
        dup_list,
        sampling: m.sampling,
        ..Default::default()
    }
}

/// Sets each interface entry's `udn` from `udns` (interface → label), when the mapping is on.
fn tag_udns(r: &mut Record, udns: Option<&std::collections::HashMap<String, String>>) {
    let Some(udns) = udns.filter(|m| !m.is_empty()) else {
        return;
    };
    for e in &mut r.dup_list {
        if let Some(label) = udns.get(&e.interface) {
            e.udn.clone_from(label);
        }
    }
}

/// Decodes a raw QNAME (length-prefixed labels) into dotted form; stops at the root label, a
/// compression pointer or the end of the captured bytes, as upstream does.
pub fn dns_name(raw: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < raw.len() {
        let len = raw[i] as usize;
        if len == 0 || len >= 0xc0 || i + 1 + len > raw.len() {
            break;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.extend(raw[i + 1..i + 1 + len].iter().map(|b| char::from(*b)));
        i += 1 + len;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn qname_decoding() {
        assert_eq!(
            super::dns_name(b"\x03www\x07example\x03com\x00"),
            "www.example.com"
        );
        assert_eq!(super::dns_name(b"\x03www\x07exa"), "www");
        assert_eq!(super::dns_name(b"\x00"), "");
        assert_eq!(super::dns_name(b"\x02ab\xc0\x0c"), "ab");
    }

    use super::*;

    #[test]
    fn v4_flow_converts_like_upstream() {
        let id = FlowId {
            src_ip: Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().octets(),
            dst_ip: Ipv4Addr::new(10, 0, 0, 2).to_ipv6_mapped().octets(),
            src_port: 1234,
            dst_port: 80,
            transport_protocol: 6,
            ..Default::default()
        };
        let m = FlowMetrics {
            start_mono_time_ts: 1_000_000_000,
            end_mono_time_ts: 3_000_000_000,
            bytes: 1500,
            packets: 3,
            eth_protocol: 0x0800,
            flags: 0x12,
            src_mac: [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
            if_index_first_seen: 7,
            direction_first_seen: 1,
            nb_observed_intf: 1,
            observed_intf: [9, 0, 0, 0, 0, 0],
            observed_direction: [DIRECTION_BOTH, 0, 0, 0, 0, 0],
            sampling: 50,
            dscp: 10,
            ..Default::default()
        };
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
        let clock = Clock::from_parts(10_000_000_000, wall);
        let names = |i: u32| format!("if{i}");
        let agent = Ip::from_addr("192.0.2.1".parse().unwrap());
        let r = to_record(&id, &m, &clock, &names, &agent);
        assert_eq!(r.time_flow_start.as_ref().unwrap().seconds, 1_700_000_001);
        assert_eq!(r.time_flow_end.as_ref().unwrap().seconds, 1_700_000_003);
        let net = r.network.unwrap();
        assert_eq!(
            net.src_addr.unwrap().to_addr(),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(net.dscp, 10);
        assert_eq!(r.direction, Direction::Egress as i32);
        assert_eq!(r.data_link.unwrap().src_mac, 0xaabbccddeeff);
        assert_eq!(
            (r.bytes, r.packets, r.flags, r.sampling),
            (1500, 3, 0x12, 50)
        );
        let dups: Vec<(String, i32)> = r
            .dup_list
            .iter()
            .map(|d| (d.interface.clone(), d.direction))
            .collect();
        assert_eq!(
            dups,
            vec![("if7".into(), 1), ("if9".into(), 0), ("if9".into(), 1)]
        );
        assert!(r.time_flow_rtt.is_some());
    }

    /// A later packet stamped by the tick clock can read before the first packet's precise
    /// stamp (same tick): the record must still end at or after its start.
    #[test]
    fn coarse_end_before_precise_start_is_clamped() {
        let m = FlowMetrics {
            start_mono_time_ts: 2_003_500_000,
            end_mono_time_ts: 2_000_000_000,
            eth_protocol: 0x0800,
            ..Default::default()
        };
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
        let clock = Clock::from_parts(10_000_000_000, wall);
        let agent = Ip::from_addr("192.0.2.1".parse().unwrap());
        let r = to_record(
            &FlowId::default(),
            &m,
            &clock,
            &|i| format!("if{i}"),
            &agent,
        );
        assert_eq!(r.time_flow_start, r.time_flow_end);
        assert_eq!(r.time_flow_start.as_ref().unwrap().nanos, 3_500_000);
    }
}

/// Per-eviction enrichment table. Keyed by flow ids taken from traffic, so it uses a per-process
/// seeded hasher, but a much cheaper one than SipHash: building, probing and emptying this
/// table once per flow was a tenth of the agent's export CPU with PacketDrop on.
pub type EnrichMap = std::collections::HashMap<FlowId, Enrichment, foldhash::fast::RandomState>;

/// Enrichment of one flow gathered from the per-feature maps.
#[derive(Debug, Clone, Default)]
pub struct Enrichment {
    /// FlowRTT and IPsec (`additional_flow_metrics`).
    pub rtt: Option<netobserv_agent_common::AdditionalMetrics>,
    /// DNSTracking (boxed, like NetworkEvents: few flows carry it, and every entry of the
    /// per-eviction enrichment table pays for the inline size of each field).
    pub dns: Option<Box<netobserv_agent_common::DnsMetrics>>,
    /// TLSTracking (boxed, as DNS: few flows carry it).
    pub tls: Option<Box<netobserv_agent_common::TlsMetrics>>,
    /// QUIC tracking.
    pub quic: Option<netobserv_agent_common::QuicMetrics>,
    /// PacketDrop.
    pub drops: Option<crate::drops::PktDropTotals>,
    /// NetworkEvents, already decoded.
    pub network_events: Option<Box<crate::netevents::DecodedEvents>>,
    /// PacketTranslation.
    pub xlat: Option<netobserv_agent_common::XlatMetrics>,
}

impl Enrichment {
    /// Earliest start, latest end and EtherType over the enrichment sources, for flows that
    /// only a hook saw.
    fn base(&self) -> FlowMetrics {
        let mut spans = Vec::with_capacity(3);
        if let Some(a) = &self.rtt {
            spans.push((a.start_mono_time_ts, a.end_mono_time_ts, a.eth_protocol));
        }
        if let Some(d) = &self.dns {
            spans.push((d.start_mono_time_ts, d.end_mono_time_ts, d.eth_protocol));
        }
        if let Some(t) = &self.tls {
            spans.push((t.start_mono_time_ts, t.end_mono_time_ts, t.eth_protocol));
        }
        if let Some(q) = &self.quic {
            spans.push((q.start_mono_time_ts, q.end_mono_time_ts, q.eth_protocol));
        }
        if let Some(d) = &self.drops {
            spans.push((d.start, d.end, d.eth_protocol));
        }
        if let Some(n) = &self.network_events {
            spans.push((n.start, n.end, n.eth_protocol));
        }
        if let Some(x) = &self.xlat {
            spans.push((x.start_mono_time_ts, x.end_mono_time_ts, x.eth_protocol));
        }
        let start = spans
            .iter()
            .map(|s| s.0)
            .filter(|v| *v != 0)
            .min()
            .unwrap_or(0);
        let end = spans.iter().map(|s| s.1).max().unwrap_or(0);
        let v6 = spans.iter().any(|s| s.2 == ETH_P_IPV6);
        FlowMetrics {
            start_mono_time_ts: start,
            end_mono_time_ts: end,
            eth_protocol: if v6 { ETH_P_IPV6 } else { 0x0800 },
            ..FlowMetrics::default()
        }
    }

    /// Writes the enrichment fields into a record.
    fn apply(&self, r: &mut Record) {
        let dur = |ns: u64| prost_types::Duration {
            seconds: (ns / 1_000_000_000) as i64,
            nanos: (ns % 1_000_000_000) as i32,
        };
        if let Some(a) = &self.rtt {
            if a.flow_rtt > 0 {
                r.time_flow_rtt = Some(dur(a.flow_rtt));
            }
            r.ipsec_encrypted = u32::from(a.ipsec_encrypted);
            r.ipsec_encrypted_ret = a.ipsec_encrypted_ret;
        }
        if let Some(d) = &self.dns {
            r.dns_id = u32::from(d.id);
            r.dns_flags = u32::from(d.flags);
            r.dns_errno = u32::from(d.errno);
            if d.latency != 0 {
                r.dns_latency = Some(dur(d.latency));
            }
            r.dns_name = dns_name(&d.name);
        }
        if let Some(t) = &self.tls {
            r.ssl_version = u32::from(t.ssl_version);
            r.ssl_mismatch = t.mismatch != 0;
            r.tls_types = t.tls_types;
            r.tls_cipher_suite = u32::from(t.cipher_suite);
            r.tls_key_share = u32::from(t.key_share);
        }
        if let Some(q) = &self.quic {
            r.quic = Some(pbflow::Quic {
                version: q.version,
                seen_long_hdr: u32::from(q.seen_long_hdr),
                seen_short_hdr: u32::from(q.seen_short_hdr),
            });
        }
        if let Some(d) = &self.drops {
            r.pkt_drop_bytes = d.bytes;
            r.pkt_drop_packets = d.packets;
            r.pkt_drop_latest_flags = d.flags;
            r.pkt_drop_latest_state = d.state;
            r.pkt_drop_latest_drop_cause = d.cause;
        }
        if let Some(n) = &self.network_events {
            r.network_events_metadata = n
                .maps
                .iter()
                .map(|m| pbflow::NetworkEvent { events: m.clone() })
                .collect();
            // An ACL drop is a drop too: its sampled packets count as dropped, and its cause
            // (1<<24 + actor) is the latest one, as upstream injects it.
            if let Some((cause, packets, bytes)) = n.drop {
                r.pkt_drop_packets += packets;
                r.pkt_drop_bytes += bytes;
                r.pkt_drop_latest_drop_cause = cause;
            }
        }
        if let Some(x) = &self.xlat {
            let v6 = x.eth_protocol == ETH_P_IPV6;
            r.xlat = Some(pbflow::Xlat {
                src_addr: Some(ip_of(&x.saddr, v6)),
                dst_addr: Some(ip_of(&x.daddr, v6)),
                src_port: u32::from(x.sport),
                dst_port: u32::from(x.dport),
                zone_id: u32::from(x.zone_id),
            });
        }
    }
}

/// One eviction kept in its compact kernel form (≈150 bytes a flow instead of ≈600 for a
/// `Record`) until the exporter converts it chunk by chunk: this bounds the agent's memory by
/// the message size rather than by the eviction size.
pub struct FlowBatch {
    flows: std::vec::IntoIter<(FlowId, FlowMetrics)>,
    extra: EnrichMap,
    partial: Option<std::vec::IntoIter<(FlowId, Enrichment)>>,
    clock: Clock,
    names: std::sync::Arc<std::collections::HashMap<u32, String>>,
    mac_names: std::sync::Arc<std::collections::HashMap<(u32, [u8; 6]), String>>,
    /// Interface → UDN label (`ENABLE_UDN_MAPPING`); `None` leaves `udn` empty.
    udns: Option<crate::udn::UdnMap>,
    agent_ip: Ip,
    len: usize,
}

impl FlowBatch {
    /// Bundles an eviction: base flows, per-flow enrichment, and what conversion needs.
    pub fn new<S: std::hash::BuildHasher>(
        flows: Vec<(FlowId, FlowMetrics)>,
        extra: std::collections::HashMap<FlowId, Enrichment, S>,
        clock: Clock,
        names: std::sync::Arc<std::collections::HashMap<u32, String>>,
        agent_ip: Ip,
    ) -> Self {
        Self::from_enrichment(flows, extra.into_iter().collect(), clock, names, agent_ip)
    }

    /// [`FlowBatch::new`] with the enrichment already in an [`EnrichMap`] (no copy).
    pub fn from_enrichment(
        flows: Vec<(FlowId, FlowMetrics)>,
        extra: EnrichMap,
        clock: Clock,
        names: std::sync::Arc<std::collections::HashMap<u32, String>>,
        agent_ip: Ip,
    ) -> Self {
        // Enrichment entries without a base flow become partial records. The drained flow keys
        // are distinct, so counting the matched ones is enough (no set of all keys to build).
        let partial = if extra.is_empty() {
            0
        } else {
            let matched = flows.iter().filter(|(k, _)| extra.contains_key(k)).count();
            extra.len().saturating_sub(matched)
        };
        Self {
            len: flows.len() + partial,
            flows: flows.into_iter(),
            extra,
            partial: None,
            clock,
            names,
            mac_names: std::sync::Arc::default(),
            udns: None,
            agent_ip,
        }
    }

    /// Adds the names of interfaces in secondary namespaces, keyed by (index, MAC) since their
    /// indexes may repeat those of the observed namespace: a flow's first-seen interface is the
    /// one whose MAC is the frame's (destination on ingress, source on egress), as upstream
    /// resolves it.
    pub fn with_mac_names(
        mut self,
        mac_names: std::sync::Arc<std::collections::HashMap<(u32, [u8; 6]), String>>,
    ) -> Self {
        self.mac_names = mac_names;
        self
    }

    /// Tags each interface of the records with its UDN from `udns` (interface → label), as
    /// the UDN mapping read it at this eviction; interfaces it does not know stay untagged.
    pub fn with_udns(mut self, udns: Option<crate::udn::UdnMap>) -> Self {
        self.udns = udns;
        self
    }

    /// Number of records this batch yields.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch yields no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Converts up to `max` more records; empty when the batch is exhausted.
    pub fn next_chunk(&mut self, max: usize) -> Vec<Record> {
        let names = self.names.clone();
        let mac_names = self.mac_names.clone();
        let name_of = |i: u32| {
            names
                .get(&i)
                .or_else(|| {
                    // Only a secondary namespace has this index.
                    (!mac_names.is_empty())
                        .then(|| mac_names.iter().find(|((x, _), _)| *x == i).map(|(_, n)| n))
                        .flatten()
                })
                .cloned()
                .unwrap_or_else(|| "unknown".into())
        };
        let mut out = Vec::with_capacity(max.min(self.len));
        while out.len() < max {
            let Some((id, m)) = self.flows.next() else {
                break;
            };
            let own_mac = if m.direction_first_seen == 1 {
                m.src_mac
            } else {
                m.dst_mac
            };
            let first = m.if_index_first_seen;
            let name_of_flow = |i: u32| {
                if i == first
                    && let Some(n) = mac_names.get(&(i, own_mac))
                {
                    return n.clone();
                }
                name_of(i)
            };
            let mut r = to_record(&id, &m, &self.clock, &name_of_flow, &self.agent_ip);
            if let Some(e) = self.extra.remove(&id) {
                e.apply(&mut r);
            }
            tag_udns(&mut r, self.udns.as_deref());
            out.push(r);
        }
        if out.len() < max {
            // Flows only the hooks saw become partial records (0 bytes), as upstream does.
            let partial = self.partial.get_or_insert_with(|| {
                std::mem::take(&mut self.extra)
                    .into_iter()
                    .collect::<Vec<_>>()
                    .into_iter()
            });
            while out.len() < max {
                let Some((id, e)) = partial.next() else {
                    break;
                };
                let mut r = to_record(&id, &e.base(), &self.clock, &name_of, &self.agent_ip);
                e.apply(&mut r);
                tag_udns(&mut r, self.udns.as_deref());
                out.push(r);
            }
        }
        out
    }
}
