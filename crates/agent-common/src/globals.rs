//! Names of the user-space-settable load-time globals (`.rodata`), set with
//! `EbpfLoader::set_global` before the programs are loaded.

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
