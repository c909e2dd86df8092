//! Plain `#[repr(C)]` types shared between the kernel programs and user space. They live apart
//! from both so that the byte layout is defined once and checked on both sides.
//!
//! Every struct carries its padding as explicit, named fields: the kernel hashes keys byte by byte
//! and the verifier rejects reads of uninitialised stack, so nothing may be left implicit. The
//! layouts follow the upstream NetObserv agent (see `agent.md` §1.5) so that sizes and offsets are
//! the same as the C structs; the host tests (`tests.rs`) pin them.
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

pub mod counters;

pub mod globals;

pub mod maps;

pub mod programs;

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
mod tests;
