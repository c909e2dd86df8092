//! FlowRTT: the smoothed RTT of TCP sockets, per flow (received direction), from
//! `fentry/tcp_rcv_established` (preferred) or `tp_btf/tcp_probe` (fallback), with direct socket
//! loads or, where a verifier refuses them, probe reads.

use crate::base::{AF_INET, AF_INET6, IPPROTO_TCP, field, kread};
use crate::clock::trace_tick_now;
use aya_ebpf::{
    Global,
    bindings::BPF_F_NO_PREALLOC,
    helpers::bpf_ktime_get_ns,
    macros::{btf_tracepoint, fentry, map},
    maps::HashMap,
    programs::{BtfTracePointContext, FEntryContext},
};
use netobserv_agent_common::{AdditionalMetrics, ETH_P_IP, ETH_P_IPV6, FlowId};

/// Kernel struct offsets for the RTT hook, from the running kernel's BTF (see
/// `netobserv_agent_common::globals`). Zero means unknown; the hook then does nothing.
#[unsafe(no_mangle)]
static OFF_SKC_FAMILY: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_DADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_RCV_SADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_DPORT: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_NUM: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_V6_DADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_V6_RCV_SADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_TCP_SRTT_US: Global<u32> = Global::new(0);

/// RTT and IPsec (see `crate::ipsec`) enrichment per flow, shared by every CPU (the hook keeps the
/// largest RTT; a racing write can only lose a smaller one for a moment), drained at eviction.
/// Allocated on demand, like `aggregated_flows_pkt_drop`.
#[map(name = "additional_flow_metrics")]
pub(crate) static ADDITIONAL_FLOW_METRICS: HashMap<FlowId, AdditionalMetrics> =
    HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// FlowRTT: `tcp_probe` fires for every segment `tcp_rcv_established` handles. The key is the
/// received segment's 5-tuple (remote → local), like the TC flow of that segment; the value keeps
/// the largest smoothed RTT (`srtt_us >> 3`, in ns).
#[btf_tracepoint(function = "tcp_probe")]
pub fn tcp_probe_rtt(ctx: BtfTracePointContext) -> i32 {
    let _ = rtt::<true>(ctx.arg(0));
    0
}

/// FlowRTT on `tcp_probe` reading the socket with `bpf_probe_read_kernel`: the fallback where a
/// verifier refuses the direct loads of [`tcp_probe_rtt`].
#[btf_tracepoint(function = "tcp_probe")]
pub fn tcp_probe_rtt_compat(ctx: BtfTracePointContext) -> i32 {
    let _ = rtt::<false>(ctx.arg(0));
    0
}

/// FlowRTT, preferred variant: `fentry` on `tcp_rcv_established(sk, skb)`, the function that
/// fires `tcp_probe`, so the socket, the key and the value are the same as the tracepoint's.
/// Kernels in lockdown refuse to load it; user space then falls back to [`tcp_probe_rtt`].
#[fentry(function = "tcp_rcv_established")]
pub fn tcp_rcv_fentry_rtt(ctx: FEntryContext) -> i32 {
    let _ = rtt::<true>(ctx.arg(0));
    0
}

/// Reads the smoothed RTT of socket `sk` and keeps the largest per flow (received direction),
/// with direct BTF loads or probe reads (see `base::field`). This runs for every segment a TCP
/// socket receives, ACKs included, on every socket of the node.
#[inline(always)]
fn rtt<const DIRECT: bool>(sk: *const u8) -> Option<()> {
    let srtt_off = OFF_TCP_SRTT_US.load();
    if srtt_off == 0 || sk.is_null() {
        return None;
    }
    let family: u16 = field::<DIRECT, _>(sk, OFF_SKC_FAMILY.load())?;
    let mut id = FlowId::default();
    let eth_protocol = match family {
        AF_INET => {
            let src: [u8; 4] = field::<DIRECT, _>(sk, OFF_SKC_DADDR.load())?;
            let dst: [u8; 4] = field::<DIRECT, _>(sk, OFF_SKC_RCV_SADDR.load())?;
            id.src_ip[10] = 0xff;
            id.src_ip[11] = 0xff;
            id.dst_ip[10] = 0xff;
            id.dst_ip[11] = 0xff;
            id.src_ip[12] = src[0];
            id.src_ip[13] = src[1];
            id.src_ip[14] = src[2];
            id.src_ip[15] = src[3];
            id.dst_ip[12] = dst[0];
            id.dst_ip[13] = dst[1];
            id.dst_ip[14] = dst[2];
            id.dst_ip[15] = dst[3];
            ETH_P_IP
        }
        AF_INET6 => {
            id.src_ip = field::<DIRECT, _>(sk, OFF_SKC_V6_DADDR.load())?;
            id.dst_ip = field::<DIRECT, _>(sk, OFF_SKC_V6_RCV_SADDR.load())?;
            // Dual-stack sockets carry v4-mapped addresses: same key as the IPv4 TC flow.
            let mapped = id.src_ip[..10].iter().all(|b| *b == 0)
                && id.src_ip[10] == 0xff
                && id.src_ip[11] == 0xff;
            if mapped { ETH_P_IP } else { ETH_P_IPV6 }
        }
        _ => return None,
    };
    let dport: u16 = field::<DIRECT, _>(sk, OFF_SKC_DPORT.load())?;
    let num: u16 = field::<DIRECT, _>(sk, OFF_SKC_NUM.load())?;
    id.src_port = u16::from_be(dport);
    id.dst_port = num;
    id.transport_protocol = IPPROTO_TCP;
    // `srtt_us` lies in `tcp_sock`, beyond the `sock` the hook's BTF types the pointer as, so the
    // verifier only allows a probe read there.
    let srtt_us: u32 = kread(sk, srtt_off)?;
    let rtt_ns = u64::from(srtt_us >> 3) * 1000;
    if rtt_ns == 0 {
        return None;
    }
    if let Some(m) = ADDITIONAL_FLOW_METRICS.get_ptr_mut(&id) {
        // SAFETY: value of a successful lookup, valid for this run (shared: plain stores of the
        // largest RTT and the latest stamp, which a racing CPU can at worst overwrite with its
        // own, also valid, reading).
        let m = unsafe { &mut *m };
        let now = trace_tick_now();
        if now > m.end_mono_time_ts {
            m.end_mono_time_ts = now;
        }
        if rtt_ns > m.flow_rtt {
            m.flow_rtt = rtt_ns;
        }
    } else {
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        let m = AdditionalMetrics {
            start_mono_time_ts: now,
            end_mono_time_ts: now,
            flow_rtt: rtt_ns,
            eth_protocol,
            ..AdditionalMetrics::default()
        };
        let _ = ADDITIONAL_FLOW_METRICS.insert(&id, &m, 0);
    }
    Some(())
}
