//! Plain `#[repr(C)]` types shared between the kernel programs and user space. They live apart
//! from both so that the byte layout is defined once and checked on both sides.
//!
//! Every struct carries its padding as explicit, named fields: the kernel hashes keys byte by byte
//! and the verifier rejects reads of uninitialised stack, so nothing may be left implicit. The
//! layouts follow the upstream NetObserv agent (see `agent.md` §1.5) so that sizes and offsets are
//! the same as the C structs; the host tests at the bottom pin them.
#![cfg_attr(not(test), no_std)]

pub mod capture;
pub mod filter;
pub mod netevents;

pub use filter::*;

/// Direction of a packet on an interface: received.
pub const DIRECTION_INGRESS: u8 = 0;
/// Direction of a packet on an interface: sent.
pub const DIRECTION_EGRESS: u8 = 1;
/// Filter wildcard: any direction (upstream `MAX_DIRECTION`).
pub const DIRECTION_ANY: u8 = 2;
/// In `observed_direction`: the interface saw the flow both ways.
pub const DIRECTION_BOTH: u8 = 3;

/// How many extra interfaces a flow remembers besides the one that counts its bytes.
pub const MAX_OBSERVED_INTERFACES: usize = 6;

/// EtherType of IPv4, as stored in `FlowMetrics::eth_protocol` (host order).
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType of IPv6, as stored in `FlowMetrics::eth_protocol` (host order).
pub const ETH_P_IPV6: u16 = 0x86dd;

/// TCP flag encoding of the agent: one bit per packet, chosen by priority (see [`tcp_flag`]).
pub mod tcp_flags {
    /// FIN alone.
    pub const FIN: u16 = 0x01;
    /// SYN alone.
    pub const SYN: u16 = 0x02;
    /// RST alone.
    pub const RST: u16 = 0x04;
    /// PSH (only when no ACK, which takes priority).
    pub const PSH: u16 = 0x08;
    /// ACK.
    pub const ACK: u16 = 0x10;
    /// URG.
    pub const URG: u16 = 0x20;
    /// ECE.
    pub const ECE: u16 = 0x40;
    /// CWR.
    pub const CWR: u16 = 0x80;
    /// SYN and ACK together.
    pub const SYN_ACK: u16 = 0x100;
    /// FIN and ACK together.
    pub const FIN_ACK: u16 = 0x200;
    /// RST and ACK together.
    pub const RST_ACK: u16 = 0x400;
}

/// Maps the raw TCP flags byte (offset 13 of the TCP header) to the single flag bit the agent
/// records for that packet. Downstream consumers (FLP, console filters) rely on this priority
/// chain, so it must match upstream exactly: combined SYN/FIN/RST+ACK first, then single flags.
#[inline(always)]
pub fn tcp_flag(raw: u8) -> u16 {
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const PSH: u8 = 0x08;
    const ACK: u8 = 0x10;
    const URG: u8 = 0x20;
    const ECE: u8 = 0x40;
    const CWR: u8 = 0x80;
    if raw & (SYN | ACK) == SYN | ACK {
        tcp_flags::SYN_ACK
    } else if raw & (FIN | ACK) == FIN | ACK {
        tcp_flags::FIN_ACK
    } else if raw & (RST | ACK) == RST | ACK {
        tcp_flags::RST_ACK
    } else if raw & FIN != 0 {
        tcp_flags::FIN
    } else if raw & SYN != 0 {
        tcp_flags::SYN
    } else if raw & ACK != 0 {
        tcp_flags::ACK
    } else if raw & RST != 0 {
        tcp_flags::RST
    } else if raw & PSH != 0 {
        tcp_flags::PSH
    } else if raw & URG != 0 {
        tcp_flags::URG
    } else if raw & ECE != 0 {
        tcp_flags::ECE
    } else if raw & CWR != 0 {
        tcp_flags::CWR
    } else {
        0
    }
}

/// Key of the flow maps: the 5-tuple plus ICMP type/code. IPv4 addresses are stored v4-mapped
/// (`::ffff:a.b.c.d`) so both families share one key type; ports are in host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowId {
    /// Source address, IPv6 or v4-mapped.
    pub src_ip: [u8; 16],
    /// Destination address, IPv6 or v4-mapped.
    pub dst_ip: [u8; 16],
    /// Source port (host order); 0 for ICMP.
    pub src_port: u16,
    /// Destination port (host order); 0 for ICMP.
    pub dst_port: u16,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP).
    pub transport_protocol: u8,
    /// ICMP/ICMPv6 type, 0 otherwise.
    pub icmp_type: u8,
    /// ICMP/ICMPv6 code, 0 otherwise.
    pub icmp_code: u8,
    /// Explicit trailing padding; always zero because the kernel hashes every key byte.
    pub pad: u8,
}

/// Aggregated counters of one flow in the shared `aggregated_flows` hash map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowMetrics {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) of the first packet.
    pub start_mono_time_ts: u64,
    /// `bpf_ktime_get_ns()` of the latest packet.
    pub end_mono_time_ts: u64,
    /// Bytes counted on the first-seen interface (`skb->len`, Ethernet header included).
    pub bytes: u64,
    /// Packets counted on the first-seen interface.
    pub packets: u32,
    /// EtherType (host order): 0x0800 or 0x86dd.
    pub eth_protocol: u16,
    /// OR of the per-packet TCP flag bits (see [`tcp_flag`]).
    pub flags: u16,
    /// Source MAC of the first packet.
    pub src_mac: [u8; 6],
    /// Destination MAC of the first packet.
    pub dst_mac: [u8; 6],
    /// Interface whose packets are counted; other interfaces only appear in `observed_intf`.
    pub if_index_first_seen: u32,
    /// Upstream keeps a `bpf_spin_lock` here; these programs update with atomics instead, but the
    /// slot is kept so the layout stays that of upstream (104 bytes).
    pub lock: u32,
    /// Sampling rate in effect when the flow was last updated (0 or 1 = every packet).
    pub sampling: u32,
    /// Direction on the first-seen interface.
    pub direction_first_seen: u8,
    /// Error number of a failed map insert (ring-buffer fallback only).
    pub errno: u8,
    /// DSCP of the latest packet (`tos >> 2`).
    pub dscp: u8,
    /// How many `observed_intf` slots are used.
    pub nb_observed_intf: u8,
    /// Direction per observed interface ([`DIRECTION_BOTH`] when seen both ways).
    pub observed_direction: [u8; MAX_OBSERVED_INTERFACES],
    /// Explicit padding before `observed_intf`.
    pub pad0: [u8; 2],
    /// Further interfaces (ifindex) the flow crossed, not counted in bytes/packets.
    pub observed_intf: [u32; MAX_OBSERVED_INTERFACES],
    /// TLS version (TLS tracking, not implemented by these programs yet).
    pub ssl_version: u16,
    /// TLS cipher suite (TLS tracking).
    pub tls_cipher_suite: u16,
    /// TLS key share group (TLS tracking).
    pub tls_key_share: u16,
    /// TLS record types seen (TLS tracking).
    pub tls_types: u8,
    /// Miscellaneous flags; bit 0x01 = SSL version mismatch.
    pub misc_flags: u8,
    /// Explicit trailing padding to the 8-byte alignment.
    pub pad1: [u8; 4],
}

/// Number of slots of the per-CPU flow cache (a power of two: the slot is picked by the top bits
/// of a multiplicative hash).
pub const FLOW_CACHE_SLOTS: u32 = 256;
/// log2 of [`FLOW_CACHE_SLOTS`].
pub const FLOW_CACHE_SLOTS_LOG2: u32 = 8;
/// Slots one run of the flush program walks (user space runs it
/// `FLOW_CACHE_SLOTS / FLOW_CACHE_FLUSH_CHUNK` times per CPU): a short bounded loop keeps the
/// verifier's work small on every kernel.
pub const FLOW_CACHE_FLUSH_CHUNK: u32 = 32;

/// One slot of the per-CPU flow cache (`flow_cache`, not an upstream map): the packets of a
/// flow counted on one interface, on one CPU, since the last flush. A packet whose flow owns
/// its slot adds to it with plain stores, skipping the shared hash map's lookup and its two
/// atomic adds (most of an established flow's cost); the flush program moves the sums into
/// `aggregated_flows` before every eviction, with the same rules as the per-packet path.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachedFlow {
    /// The flow this slot holds (valid when `valid` is 1).
    pub id: FlowId,
    /// Time of the first packet since the last flush.
    pub first_ts: u64,
    /// Time of the latest packet.
    pub last_ts: u64,
    /// Bytes since the last flush.
    pub bytes: u64,
    /// Packets since the last flush (0: nothing to flush, the slot may be taken over).
    pub packets: u32,
    /// Interface the packets were seen on (the flow's counting interface when cached).
    pub if_index: u32,
    /// Sampling rate of the latest packet.
    pub sampling: u32,
    /// EtherType (host order).
    pub eth_protocol: u16,
    /// OR of the TCP flag bits since the last flush.
    pub flags: u16,
    /// Source MAC of the flow's packets.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Direction on `if_index`.
    pub direction: u8,
    /// DSCP of the latest packet.
    pub dscp: u8,
    /// 1 once the slot holds a flow.
    pub valid: u8,
    /// 1 while a classifier updates the slot; the flush program (which may interrupt it on the
    /// same CPU) leaves such a slot for its next run.
    pub busy: u8,
    /// `jiffies` when `last_ts` was read: with the tick clock, a packet in the same tick keeps
    /// the stamp instead of calling the clock helper again.
    pub last_jiffies: u64,
}

/// Per-flow enrichment written by the tracing hooks into the per-CPU `additional_flow_metrics`
/// map, keyed by the same [`FlowId`] (upstream `additional_metrics`, 32 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdditionalMetrics {
    /// First time the hook saw the flow (monotonic ns).
    pub start_mono_time_ts: u64,
    /// Latest time the hook saw the flow (monotonic ns).
    pub end_mono_time_ts: u64,
    /// Largest smoothed RTT seen, in ns.
    pub flow_rtt: u64,
    /// Error returned by `xfrm_input` / `xfrm_output` for the flow (0 when none failed).
    pub ipsec_encrypted_ret: i32,
    /// EtherType of the flow.
    pub eth_protocol: u16,
    /// 1 when the kernel's IPsec layer handled the flow's packets without error.
    pub ipsec_encrypted: u8,
    /// Explicit trailing padding.
    pub pad: u8,
}

/// Per-flow drop information written by the `kfree_skb` hook into the shared
/// `aggregated_flows_pkt_drop` map. Upstream keeps 16-bit saturating counters per CPU (32
/// bytes); here one entry per flow is shared by every CPU and counted with atomic adds, so the
/// counters are full width (40 bytes) and never saturate within an eviction period.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PktDropMetrics {
    /// First drop seen (monotonic ns).
    pub start_mono_time_ts: u64,
    /// Latest drop seen (monotonic ns).
    pub end_mono_time_ts: u64,
    /// Dropped bytes.
    pub bytes: u64,
    /// Dropped packets.
    pub packets: u32,
    /// Kernel `enum skb_drop_reason` of the latest drop.
    pub latest_drop_cause: u32,
    /// TCP flag bits of the dropped packets, OR-ed.
    pub latest_flags: u16,
    /// EtherType of the flow.
    pub eth_protocol: u16,
    /// TCP state of the socket, if any, at the latest drop.
    pub latest_state: u8,
    /// Explicit trailing padding.
    pub pad: [u8; 3],
}

/// Why a [`FlowEvent`] went through the ring buffer.
pub mod event_kind {
    /// The first packet of a flow on an interface and direction (the classifiers send first
    /// packets to user space instead of inserting them into the flow map; see `FlowEvent`).
    pub const FIRST_PACKET: u8 = 1;
    /// The flow map refused a new entry (full, typically): the packet or the flushed cache sums
    /// came this way instead of being lost.
    pub const MAP_FULL: u8 = 2;
    /// A flow's first dropped packet (PacketDrop hook). Such a record carries the kernel's drop
    /// reason in `sampling`, the socket's TCP state in `dscp`, and no MAC addresses.
    pub const DROP: u8 = 3;
}

/// One record of the `direct_flows` ring buffer: packets the kernel did not aggregate in the
/// flow map (or, for [`event_kind::DROP`], the drops map), for user space to aggregate and merge
/// with the maps' content at eviction.
///
/// Two paths use it. A flow's first packet on an interface and direction goes here rather than
/// into the map (a small shared table of recently seen flows, `flow_seen`, tells first packets
/// from later ones): a map insert costs a few hundred ns of cache misses, a ring record a few
/// tens, and most flows of a flood of new flows (scans, DNS, short UDP) have one packet per
/// direction. And whatever the map refuses (full) comes here too, so a full map loses nothing
/// while user space keeps up with the ring.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowEvent {
    /// The flow.
    pub id: FlowId,
    /// First packet (monotonic ns).
    pub start_mono_time_ts: u64,
    /// Latest packet (monotonic ns).
    pub end_mono_time_ts: u64,
    /// Bytes (`skb->len`).
    pub bytes: u64,
    /// Packets (1, except for flushed flow-cache sums).
    pub packets: u32,
    /// Interface the packets were seen on.
    pub if_index: u32,
    /// Sampling rate in effect.
    pub sampling: u32,
    /// EtherType (host order).
    pub eth_protocol: u16,
    /// OR of the TCP flag bits.
    pub flags: u16,
    /// Destination then source MAC, as in the Ethernet header.
    pub macs: [u8; 12],
    /// Direction on `if_index`.
    pub direction: u8,
    /// DSCP.
    pub dscp: u8,
    /// [`event_kind`] value.
    pub kind: u8,
    /// Explicit trailing padding.
    pub pad: u8,
}

/// Entries of the `flow_seen` table (a power of two). Each holds a 32-bit fingerprint of a
/// flow, interface and direction whose first packet went through the ring buffer. Small on
/// purpose: 16 KiB stay in the TLB and the caches, where a 256 KiB table cost ~150 ns of misses
/// per new flow in a VM. A fingerprint overwritten before its flow's next packet only sends that
/// packet through the ring buffer too.
pub const FLOW_SEEN_SLOTS: u32 = 1 << 12;
/// log2 of [`FLOW_SEEN_SLOTS`].
pub const FLOW_SEEN_SLOTS_LOG2: u32 = 12;

/// Longest raw QNAME prefix kept per flow.
pub const DNS_NAME_MAX_LEN: usize = 32;

/// DNS enrichment per flow, written by the TC programs into the per-CPU `aggregated_flows_dns`
/// map (upstream `dns_metrics`, 64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsMetrics {
    /// First DNS packet of the flow (monotonic ns).
    pub start_mono_time_ts: u64,
    /// Latest DNS packet (monotonic ns).
    pub end_mono_time_ts: u64,
    /// Response time: response timestamp minus the matching query's, in ns.
    pub latency: u64,
    /// DNS transaction id (responses only).
    pub id: u16,
    /// DNS header flags, including the response code (responses only).
    pub flags: u16,
    /// EtherType of the flow.
    pub eth_protocol: u16,
    /// Error: ENOENT when a response matches no recorded query.
    pub errno: u8,
    /// Raw QNAME bytes (length-prefixed labels), NUL padded.
    pub name: [u8; DNS_NAME_MAX_LEN],
    /// Explicit trailing padding.
    pub pad: u8,
}

/// TLS handshake facts of one flow, written by the flow classifiers (TLS tracking, inline) into
/// the shared `aggregated_flows_tls` map; user space merges them into the flow's record
/// (`ssl_version`, `tls_cipher_suite`, `tls_key_share`, `tls_types`, `ssl_mismatch`). 32 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsMetrics {
    /// First TLS record seen (monotonic ns).
    pub start_mono_time_ts: u64,
    /// Latest handshake record seen (monotonic ns).
    pub end_mono_time_ts: u64,
    /// Record types seen, OR-ed: 0x01 ClientHello, 0x02 ServerHello, 0x04 other handshake,
    /// 0x08 change cipher spec, 0x10 alert, 0x20 application data (see [`tls_types`]).
    pub tls_types: u32,
    /// Negotiated version (`supported_versions` for TLS 1.3, else the hello's version).
    pub ssl_version: u16,
    /// Cipher suite chosen by the server (ServerHello only).
    pub cipher_suite: u16,
    /// Key share group chosen by the server (ServerHello only).
    pub key_share: u16,
    /// EtherType of the flow.
    pub eth_protocol: u16,
    /// 1 when two hellos of the flow disagreed on the version.
    pub mismatch: u8,
    /// Explicit trailing padding.
    pub pad: [u8; 3],
}

/// QUIC facts of one flow, written by the flow classifiers (QUIC tracking, inline) into the
/// shared `quic_flows` map (upstream `quic_metrics`, 24 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuicMetrics {
    /// First QUIC packet seen (monotonic ns).
    pub start_mono_time_ts: u64,
    /// Latest long-header packet seen (monotonic ns).
    pub end_mono_time_ts: u64,
    /// Version of the latest long-header packet.
    pub version: u32,
    /// EtherType of the flow.
    pub eth_protocol: u16,
    /// 1 once a long-header packet was seen.
    pub seen_long_hdr: u8,
    /// 1 once a short-header packet was seen.
    pub seen_short_hdr: u8,
}

/// TLS record types, as bits of [`TlsMetrics::tls_types`] (upstream's values).
pub mod tls_types {
    /// A ClientHello.
    pub const CLIENT_HELLO: u32 = 0x01;
    /// A ServerHello.
    pub const SERVER_HELLO: u32 = 0x02;
    /// Another handshake message (certificate, key exchange, finished...).
    pub const OTHER_HANDSHAKE: u32 = 0x04;
    /// A change-cipher-spec record.
    pub const CHANGE_CIPHER: u32 = 0x08;
    /// An alert record.
    pub const ALERT: u32 = 0x10;
    /// Application data.
    pub const APPLICATION_DATA: u32 = 0x20;
}

/// Address translation of one flow, written by the PacketTranslation hook into the per-CPU
/// `aggregated_flows_xlat` map keyed by the connection's original tuple (upstream
/// `xlat_metrics`, 56 bytes). Addresses are v4-mapped for IPv4, ports in host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XlatMetrics {
    /// First translation seen (monotonic ns).
    pub start_mono_time_ts: u64,
    /// Latest translation seen (monotonic ns).
    pub end_mono_time_ts: u64,
    /// Source address after translation (the reply tuple's destination).
    pub saddr: [u8; 16],
    /// Destination address after translation (the reply tuple's source).
    pub daddr: [u8; 16],
    /// Source port after translation.
    pub sport: u16,
    /// Destination port after translation.
    pub dport: u16,
    /// Conntrack zone of the connection.
    pub zone_id: u16,
    /// EtherType of the flow.
    pub eth_protocol: u16,
}

/// Key of the `dns_flows` map that pairs a query with its response (upstream `dns_flow_id`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsFlowId {
    /// Source port of the query.
    pub src_port: u16,
    /// Destination port of the query.
    pub dst_port: u16,
    /// Source address of the query.
    pub src_ip: [u8; 16],
    /// Destination address of the query.
    pub dst_ip: [u8; 16],
    /// DNS transaction id.
    pub id: u16,
    /// IP protocol (UDP or TCP).
    pub protocol: u8,
    /// Explicit trailing padding.
    pub pad: u8,
}

/// Indexes of the per-CPU `global_counters` array. 0–12 are upstream's; 13 and above are ours.
pub mod counters {
    /// An existing flow could not be updated after an insert race.
    pub const HASHMAP_FAIL_UPDATE_FLOW: u32 = 0;
    /// A new flow could not be inserted (map full, typically): the packet was not counted.
    pub const HASHMAP_FAIL_CREATE_FLOW: u32 = 1;
    /// The DNS map could not be updated.
    pub const HASHMAP_FAIL_UPDATE_DNS: u32 = 2;
    /// A filter rule rejected the packet.
    pub const FILTER_REJECT: u32 = 3;
    /// A filter rule accepted the packet.
    pub const FILTER_ACCEPT: u32 = 4;
    /// No filter rule matched.
    pub const FILTER_NOMATCH: u32 = 5;
    /// Network events: generic error.
    pub const NETWORK_EVENTS_ERR: u32 = 6;
    /// Network events: psample group mismatch.
    pub const NETWORK_EVENTS_ERR_GROUPID_MISMATCH: u32 = 7;
    /// Network events: map update failed.
    pub const NETWORK_EVENTS_ERR_UPDATE_MAP_FLOWS: u32 = 8;
    /// Network events: recorded.
    pub const NETWORK_EVENTS_GOOD: u32 = 9;
    /// Network events: cookie ring overflowed.
    pub const NETWORK_EVENTS_OVERFLOW: u32 = 10;
    /// Network events: cookie too big.
    pub const NETWORK_EVENTS_COOKIE_TOO_BIG: u32 = 11;
    /// A flow crossed more interfaces than `observed_intf` can hold.
    pub const OBSERVED_INTF_MISSED: u32 = 12;
    /// Packets skipped by sampling (not in upstream, which does not count them).
    pub const SAMPLED_OUT: u32 = 13;
    /// First packets of flows sent to user space through the ring buffer (not a loss).
    pub const RINGBUF_FIRST_PACKET: u32 = 14;
    /// Records sent through the ring buffer because the flow map refused an entry (not a loss).
    pub const RINGBUF_MAP_FULL: u32 = 15;
    /// Records lost because the ring buffer was full: user space did not keep up.
    pub const RINGBUF_LOST_RECORDS: u32 = 16;
    /// Packets in those lost records.
    pub const RINGBUF_LOST_PACKETS: u32 = 17;
    /// New entries created in the flow map (user space reads it between evictions to evict
    /// early when the map nears its high-water mark).
    pub const FLOWS_INSERTED: u32 = 18;
    /// The drops map could not take a new flow (full): that flow's drop details are lost.
    pub const HASHMAP_FAIL_UPDATE_DROPS: u32 = 19;
    /// First drops of flows sent to user space through the ring buffer (not a loss).
    pub const RINGBUF_FIRST_DROP: u32 = 20;
    /// Packet capture: packets written into `packet_record`.
    pub const PCA_CAPTURED: u32 = 21;
    /// Packet capture: packets lost because `packet_record` was full (user space did not keep
    /// up).
    pub const PCA_LOST: u32 = 22;
    /// The TLS map could not take a new flow (full): that flow's TLS details are lost.
    pub const HASHMAP_FAIL_UPDATE_TLS: u32 = 23;
    /// The QUIC map could not take a new flow (full): that flow's QUIC details are lost.
    pub const HASHMAP_FAIL_UPDATE_QUIC: u32 = 24;
    /// Number of counters (size of the array).
    pub const MAX_COUNTERS: u32 = 25;
}

/// Names of the user-space-settable load-time globals (`.rodata`), set with
/// `EbpfLoader::set_global` before the programs are loaded.
pub mod globals {
    /// `u32`: keep 1 packet in N (0 or 1 = all).
    pub const SAMPLING: &str = "SAMPLING";
    /// `u8`: 1 when filter rules are installed in `filter_map`.
    pub const ENABLE_FLOWS_FILTERING: &str = "ENABLE_FLOWS_FILTERING";
    /// `u8`: 1 when at least one filter rule sets its own sampling rate.
    pub const HAS_FILTER_SAMPLING: &str = "HAS_FILTER_SAMPLING";
    /// `u8`: 1 when the kernel has `bpf_ktime_get_coarse_ns` (5.11+). Packets after a flow's
    /// first then stamp its end with the tick-granular clock instead of the precise one, which
    /// costs a third of the per-packet program in a VM (see `tick_now` in the eBPF crate).
    pub const COARSE_CLOCK: &str = "COARSE_CLOCK";
    /// `u8`: profiling only; the classifiers return at this section boundary (0 = never).
    pub const PROFILE_STOP: &str = "PROFILE_STOP";
    /// `u32`: log2 of the step of waiting bytes in the ring buffer at which a record forces a
    /// wakeup of user space (crossing each multiple); other records are submitted without one,
    /// and user space polls the ring.
    pub const RINGBUF_WAKEUP_SHIFT: &str = "RINGBUF_WAKEUP_SHIFT";
    /// `u32` byte offsets into kernel structs, read from the running kernel's BTF because Rust
    /// eBPF programs get no CO-RE relocations: `sock_common.skc_family`.
    pub const OFF_SKC_FAMILY: &str = "OFF_SKC_FAMILY";
    /// `sock_common.skc_daddr`.
    pub const OFF_SKC_DADDR: &str = "OFF_SKC_DADDR";
    /// `sock_common.skc_rcv_saddr`.
    pub const OFF_SKC_RCV_SADDR: &str = "OFF_SKC_RCV_SADDR";
    /// `sock_common.skc_dport`.
    pub const OFF_SKC_DPORT: &str = "OFF_SKC_DPORT";
    /// `sock_common.skc_num`.
    pub const OFF_SKC_NUM: &str = "OFF_SKC_NUM";
    /// `sock_common.skc_v6_daddr`.
    pub const OFF_SKC_V6_DADDR: &str = "OFF_SKC_V6_DADDR";
    /// `sock_common.skc_v6_rcv_saddr`.
    pub const OFF_SKC_V6_RCV_SADDR: &str = "OFF_SKC_V6_RCV_SADDR";
    /// `tcp_sock.srtt_us`.
    pub const OFF_TCP_SRTT_US: &str = "OFF_TCP_SRTT_US";
    /// `sk_buff.head`.
    pub const OFF_SKB_HEAD: &str = "OFF_SKB_HEAD";
    /// `sk_buff.network_header`.
    pub const OFF_SKB_NETWORK_HEADER: &str = "OFF_SKB_NETWORK_HEADER";
    /// `sk_buff.len`.
    pub const OFF_SKB_LEN: &str = "OFF_SKB_LEN";
    /// `sk_buff.skb_iif`.
    pub const OFF_SKB_IIF: &str = "OFF_SKB_IIF";
    /// `sk_buff.sk`.
    pub const OFF_SKB_SK: &str = "OFF_SKB_SK";
    /// `sock_common.skc_state`.
    pub const OFF_SKC_STATE: &str = "OFF_SKC_STATE";
    /// PacketTranslation (`nf_conn` layout): `nf_conn.tuplehash[ORIGINAL].tuple`.
    pub const OFF_CT_TUPLE_ORIG: &str = "OFF_CT_TUPLE_ORIG";
    /// `nf_conn.tuplehash[REPLY].tuple`.
    pub const OFF_CT_TUPLE_REPLY: &str = "OFF_CT_TUPLE_REPLY";
    /// `nf_conn.zone.id` (0 = no zones in this kernel).
    pub const OFF_CT_ZONE_ID: &str = "OFF_CT_ZONE_ID";
    /// `nf_conntrack_tuple.src.u3`.
    pub const OFF_TUPLE_SRC_ADDR: &str = "OFF_TUPLE_SRC_ADDR";
    /// `nf_conntrack_tuple.src.u.all`.
    pub const OFF_TUPLE_SRC_PORT: &str = "OFF_TUPLE_SRC_PORT";
    /// `nf_conntrack_tuple.src.l3num`.
    pub const OFF_TUPLE_L3NUM: &str = "OFF_TUPLE_L3NUM";
    /// `nf_conntrack_tuple.dst.u3`.
    pub const OFF_TUPLE_DST_ADDR: &str = "OFF_TUPLE_DST_ADDR";
    /// `nf_conntrack_tuple.dst.u.all`.
    pub const OFF_TUPLE_DST_PORT: &str = "OFF_TUPLE_DST_PORT";
    /// `nf_conntrack_tuple.dst.protonum`.
    pub const OFF_TUPLE_PROTONUM: &str = "OFF_TUPLE_PROTONUM";
    /// `u8`: 1 when DNS tracking is on.
    pub const ENABLE_DNS_TRACKING: &str = "ENABLE_DNS_TRACKING";
    /// `u16`: extra DNS port to watch besides 53 (`DNS_TRACKING_PORT`).
    pub const DNS_PORT: &str = "DNS_PORT";
    /// `u8`: 1 when TLS tracking is on (`ENABLE_TLS_TRACKING`).
    pub const ENABLE_TLS_TRACKING: &str = "ENABLE_TLS_TRACKING";
    /// `u8`: QUIC tracking, 0 off, 1 UDP port 443 only, 2 any UDP port (`QUIC_TRACKING_MODE`).
    pub const QUIC_TRACKING_MODE: &str = "QUIC_TRACKING_MODE";
}

/// Names of the maps in the eBPF object (upstream names, so tooling output reads the same).
pub mod maps {
    /// Shared hash map `FlowId` → `FlowMetrics`.
    pub const AGGREGATED_FLOWS: &str = "aggregated_flows";
    /// Per-CPU array of `u32` counters indexed by [`crate::counters`].
    pub const GLOBAL_COUNTERS: &str = "global_counters";
    /// LPM trie `FilterKey` → `FilterValue`.
    pub const FILTER_MAP: &str = "filter_map";
    /// LPM trie `FilterKey` → `u8` of peer CIDRs.
    pub const PEER_FILTER_MAP: &str = "peer_filter_map";
    /// Hash `FlowId` → `AdditionalMetrics` (RTT and IPsec).
    pub const ADDITIONAL_FLOW_METRICS: &str = "additional_flow_metrics";
    /// Per-CPU hash `FlowId` → `DnsMetrics`.
    pub const AGGREGATED_FLOWS_DNS: &str = "aggregated_flows_dns";
    /// Hash `DnsFlowId` → query timestamp.
    pub const DNS_FLOWS: &str = "dns_flows";
    /// Per-CPU hash `FlowId` → `PktDropMetrics`.
    pub const AGGREGATED_FLOWS_PKT_DROP: &str = "aggregated_flows_pkt_drop";
    /// Per-CPU hash `FlowId` → `XlatMetrics` (PacketTranslation).
    pub const AGGREGATED_FLOWS_XLAT: &str = "aggregated_flows_xlat";
    /// TLS handshake facts per flow (TLS tracking).
    pub const AGGREGATED_FLOWS_TLS: &str = "aggregated_flows_tls";
    /// QUIC facts per flow (QUIC tracking).
    pub const QUIC_FLOWS: &str = "quic_flows";
    /// Hash of the inbound flows between the entry and the return of `xfrm_input` (IPsec).
    pub const IPSEC_INGRESS_MAP: &str = "ipsec_ingress_map";
    /// Hash of the outbound flows between the entry and the return of `xfrm_output` (IPsec).
    pub const IPSEC_EGRESS_MAP: &str = "ipsec_egress_map";
    /// Per-CPU array of [`crate::CachedFlow`] (not upstream; see that type).
    pub const FLOW_CACHE: &str = "flow_cache";
    /// Per-CPU `u32`: 1 when the classifiers may use this CPU's flow cache, 0 when off or while
    /// the flush program runs on the CPU.
    pub const FLOW_CACHE_CTL: &str = "flow_cache_ctl";
    /// Ring buffer of [`crate::FlowEvent`]s (first packets, and what the flow map refused).
    pub const DIRECT_FLOWS: &str = "direct_flows";
    /// Shared array of `u32` fingerprints of recently seen flows (see [`crate::FlowEvent`]).
    pub const FLOW_SEEN: &str = "flow_seen";
}

/// Names of the programs in the eBPF object.
pub mod programs {
    /// Legacy TC (clsact) ingress classifier.
    pub const TC_INGRESS: &str = "tc_ingress_flow_parse";
    /// Legacy TC (clsact) egress classifier.
    pub const TC_EGRESS: &str = "tc_egress_flow_parse";
    /// TCX ingress program (returns `TCX_NEXT`).
    pub const TCX_INGRESS: &str = "tcx_ingress_flow_parse";
    /// TCX egress program (returns `TCX_NEXT`).
    pub const TCX_EGRESS: &str = "tcx_egress_flow_parse";
    /// FlowRTT on `tp_btf/tcp_probe` (the fallback when fentry is refused, e.g. under lockdown).
    pub const TCP_PROBE_RTT: &str = "tcp_probe_rtt";
    /// The same with probe reads of the socket, for verifiers that refuse direct BTF loads.
    pub const TCP_PROBE_RTT_COMPAT: &str = "tcp_probe_rtt_compat";
    /// FlowRTT on `fentry/tcp_rcv_established` (preferred when the kernel allows it).
    pub const TCP_RCV_FENTRY_RTT: &str = "tcp_rcv_fentry_rtt";
    /// PacketDrop on `tp_btf/kfree_skb`, reading `sk_buff` fields with direct BTF loads.
    pub const KFREE_SKB_DROP: &str = "kfree_skb_drop";
    /// The same hook reading them with `bpf_probe_read_kernel`, for verifiers that refuse the
    /// direct loads.
    pub const KFREE_SKB_DROP_COMPAT: &str = "kfree_skb_drop_compat";
    /// PacketTranslation on `kprobe/nf_nat_manip_pkt` (upstream's method).
    pub const NAT_MANIP_KPROBE: &str = "track_nat_manip_pkt";
    /// PacketTranslation on `fentry/nf_nat_manip_pkt` (preferred when allowed).
    pub const NAT_MANIP_FENTRY: &str = "nf_nat_manip_pkt_fentry";
    /// IPsec on `fentry/xfrm_input` (preferred when allowed).
    pub const XFRM_INPUT_FENTRY: &str = "xfrm_input_fentry";
    /// IPsec on `fexit/xfrm_input`.
    pub const XFRM_INPUT_FEXIT: &str = "xfrm_input_fexit";
    /// IPsec on `fentry/xfrm_output`.
    pub const XFRM_OUTPUT_FENTRY: &str = "xfrm_output_fentry";
    /// IPsec on `fexit/xfrm_output`.
    pub const XFRM_OUTPUT_FEXIT: &str = "xfrm_output_fexit";
    /// IPsec on `kprobe/xfrm_input` (upstream's method).
    pub const XFRM_INPUT_KPROBE: &str = "xfrm_input_kprobe";
    /// IPsec on `kretprobe/xfrm_input`.
    pub const XFRM_INPUT_KRETPROBE: &str = "xfrm_input_kretprobe";
    /// IPsec on `kprobe/xfrm_output`.
    pub const XFRM_OUTPUT_KPROBE: &str = "xfrm_output_kprobe";
    /// IPsec on `kretprobe/xfrm_output`.
    pub const XFRM_OUTPUT_KRETPROBE: &str = "xfrm_output_kretprobe";
    /// Flush of the per-CPU flow cache: a raw tracepoint program never attached, run by user
    /// space on each CPU with `BPF_PROG_TEST_RUN` (`BPF_F_TEST_RUN_ON_CPU`).
    pub const FLUSH_FLOW_CACHE: &str = "flush_flow_cache";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all these types are `#[repr(C)]`, made only of integers and byte arrays, with every
    // padding byte an explicit field, so any bit pattern is valid and none is uninitialised.
    unsafe impl aya::Pod for super::FlowId {}
    unsafe impl aya::Pod for super::FlowMetrics {}
    unsafe impl aya::Pod for super::FilterKey {}
    unsafe impl aya::Pod for super::FilterValue {}
    unsafe impl aya::Pod for super::AdditionalMetrics {}
    unsafe impl aya::Pod for super::PktDropMetrics {}
    unsafe impl aya::Pod for super::DnsMetrics {}
    unsafe impl aya::Pod for super::DnsFlowId {}
    unsafe impl aya::Pod for super::XlatMetrics {}
    unsafe impl aya::Pod for super::TlsMetrics {}
    unsafe impl aya::Pod for super::QuicMetrics {}
    unsafe impl aya::Pod for super::CachedFlow {}
    unsafe impl aya::Pod for super::FlowEvent {}
    unsafe impl aya::Pod for super::capture::PacketMeta {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn flow_id_layout_matches_upstream() {
        assert_eq!(size_of::<FlowId>(), 40);
        assert_eq!(offset_of!(FlowId, dst_ip), 16);
        assert_eq!(offset_of!(FlowId, src_port), 32);
        assert_eq!(offset_of!(FlowId, dst_port), 34);
        assert_eq!(offset_of!(FlowId, transport_protocol), 36);
        assert_eq!(offset_of!(FlowId, icmp_type), 37);
        assert_eq!(offset_of!(FlowId, icmp_code), 38);
        assert_eq!(offset_of!(FlowId, pad), 39);
    }

    #[test]
    fn flow_metrics_layout_matches_upstream() {
        assert_eq!(size_of::<FlowMetrics>(), 104);
        assert_eq!(size_of::<CachedFlow>(), 104);
        assert_eq!(offset_of!(CachedFlow, first_ts), 40);
        assert_eq!(offset_of!(CachedFlow, busy), 95);
        assert_eq!(1 << FLOW_CACHE_SLOTS_LOG2, FLOW_CACHE_SLOTS);
        assert_eq!(FLOW_CACHE_SLOTS % FLOW_CACHE_FLUSH_CHUNK, 0);
        assert_eq!(align_of::<FlowMetrics>(), 8);
        let offsets = [
            (offset_of!(FlowMetrics, end_mono_time_ts), 8),
            (offset_of!(FlowMetrics, bytes), 16),
            (offset_of!(FlowMetrics, packets), 24),
            (offset_of!(FlowMetrics, eth_protocol), 28),
            (offset_of!(FlowMetrics, flags), 30),
            (offset_of!(FlowMetrics, src_mac), 32),
            (offset_of!(FlowMetrics, dst_mac), 38),
            (offset_of!(FlowMetrics, if_index_first_seen), 44),
            (offset_of!(FlowMetrics, lock), 48),
            (offset_of!(FlowMetrics, sampling), 52),
            (offset_of!(FlowMetrics, direction_first_seen), 56),
            (offset_of!(FlowMetrics, errno), 57),
            (offset_of!(FlowMetrics, dscp), 58),
            (offset_of!(FlowMetrics, nb_observed_intf), 59),
            (offset_of!(FlowMetrics, observed_direction), 60),
            (offset_of!(FlowMetrics, pad0), 66),
            (offset_of!(FlowMetrics, observed_intf), 68),
            (offset_of!(FlowMetrics, ssl_version), 92),
            (offset_of!(FlowMetrics, tls_cipher_suite), 94),
            (offset_of!(FlowMetrics, tls_key_share), 96),
            (offset_of!(FlowMetrics, tls_types), 98),
            (offset_of!(FlowMetrics, misc_flags), 99),
            (offset_of!(FlowMetrics, pad1), 100),
        ];
        for (i, (got, want)) in offsets.iter().enumerate() {
            assert_eq!(got, want, "field #{i}");
        }
    }

    #[test]
    fn additional_metrics_layout_matches_upstream() {
        assert_eq!(size_of::<AdditionalMetrics>(), 32);
        assert_eq!(offset_of!(AdditionalMetrics, flow_rtt), 16);
        assert_eq!(offset_of!(AdditionalMetrics, ipsec_encrypted_ret), 24);
        assert_eq!(offset_of!(AdditionalMetrics, eth_protocol), 28);
        assert_eq!(offset_of!(AdditionalMetrics, ipsec_encrypted), 30);
    }

    #[test]
    fn pkt_drop_metrics_layout() {
        assert_eq!(size_of::<PktDropMetrics>(), 40);
        assert_eq!(offset_of!(PktDropMetrics, bytes), 16);
        assert_eq!(offset_of!(PktDropMetrics, packets), 24);
        assert_eq!(offset_of!(PktDropMetrics, latest_drop_cause), 28);
        assert_eq!(offset_of!(PktDropMetrics, latest_flags), 32);
        assert_eq!(offset_of!(PktDropMetrics, eth_protocol), 34);
        assert_eq!(offset_of!(PktDropMetrics, latest_state), 36);
    }

    #[test]
    fn flow_event_layout() {
        assert_eq!(size_of::<FlowEvent>(), 96);
        assert_eq!(align_of::<FlowEvent>(), 8);
        assert_eq!(offset_of!(FlowEvent, start_mono_time_ts), 40);
        assert_eq!(offset_of!(FlowEvent, bytes), 56);
        assert_eq!(offset_of!(FlowEvent, packets), 64);
        assert_eq!(offset_of!(FlowEvent, macs), 80);
        assert_eq!(offset_of!(FlowEvent, kind), 94);
        assert_eq!(1 << FLOW_SEEN_SLOTS_LOG2, FLOW_SEEN_SLOTS);
    }

    #[test]
    fn dns_layouts_match_upstream() {
        assert_eq!(size_of::<DnsMetrics>(), 64);
        assert_eq!(offset_of!(DnsMetrics, id), 24);
        assert_eq!(offset_of!(DnsMetrics, flags), 26);
        assert_eq!(offset_of!(DnsMetrics, eth_protocol), 28);
        assert_eq!(offset_of!(DnsMetrics, errno), 30);
        assert_eq!(offset_of!(DnsMetrics, name), 31);
        assert_eq!(size_of::<DnsFlowId>(), 40);
        assert_eq!(offset_of!(DnsFlowId, src_ip), 4);
        assert_eq!(offset_of!(DnsFlowId, id), 36);
        assert_eq!(offset_of!(DnsFlowId, protocol), 38);
    }

    #[test]
    fn xlat_layout_matches_upstream() {
        assert_eq!(size_of::<XlatMetrics>(), 56);
        assert_eq!(size_of::<TlsMetrics>(), 32);
        assert_eq!(size_of::<QuicMetrics>(), 24);
        assert_eq!(offset_of!(QuicMetrics, seen_short_hdr), 23);
        assert_eq!(offset_of!(TlsMetrics, tls_types), 16);
        assert_eq!(offset_of!(TlsMetrics, mismatch), 28);
        assert_eq!(offset_of!(XlatMetrics, saddr), 16);
        assert_eq!(offset_of!(XlatMetrics, daddr), 32);
        assert_eq!(offset_of!(XlatMetrics, sport), 48);
        assert_eq!(offset_of!(XlatMetrics, dport), 50);
        assert_eq!(offset_of!(XlatMetrics, zone_id), 52);
        assert_eq!(offset_of!(XlatMetrics, eth_protocol), 54);
    }

    #[test]
    fn filter_layouts_match_upstream() {
        assert_eq!(size_of::<FilterKey>(), 20);
        assert_eq!(size_of::<FilterValue>(), 52);
        assert_eq!(offset_of!(FilterValue, dst_port_start), 2);
        assert_eq!(offset_of!(FilterValue, port2), 24);
        assert_eq!(offset_of!(FilterValue, icmp_type), 26);
        assert_eq!(offset_of!(FilterValue, icmp_code), 27);
        assert_eq!(offset_of!(FilterValue, direction), 28);
        assert_eq!(offset_of!(FilterValue, action), 32);
        assert_eq!(offset_of!(FilterValue, tcp_flags), 36);
        assert_eq!(offset_of!(FilterValue, filter_drops), 40);
        assert_eq!(offset_of!(FilterValue, sample), 44);
        assert_eq!(offset_of!(FilterValue, do_peer_cidr_lookup), 48);
    }

    #[test]
    fn tcp_flag_priority_chain() {
        assert_eq!(tcp_flag(0x12), tcp_flags::SYN_ACK);
        assert_eq!(tcp_flag(0x11), tcp_flags::FIN_ACK);
        assert_eq!(tcp_flag(0x14), tcp_flags::RST_ACK);
        assert_eq!(tcp_flag(0x02), tcp_flags::SYN);
        assert_eq!(tcp_flag(0x18), tcp_flags::ACK, "PSH+ACK records only ACK");
        assert_eq!(tcp_flag(0x08), tcp_flags::PSH);
        assert_eq!(tcp_flag(0x01), tcp_flags::FIN);
        assert_eq!(tcp_flag(0x04), tcp_flags::RST);
        assert_eq!(tcp_flag(0xc0), tcp_flags::ECE);
        assert_eq!(tcp_flag(0x80), tcp_flags::CWR);
        assert_eq!(tcp_flag(0), 0);
    }
}
