//! PacketDrop: packets the kernel frees with a drop reason (`tp_btf/kfree_skb`), per flow with
//! the latest reason, TCP flags and socket state. A flow's first drop goes to user space through
//! the `direct_flows` ring buffer; later ones add to `aggregated_flows_pkt_drop`.

use crate::base::{EEXIST, count, field, vr, vw, xadd_u32, xadd_u64};
use crate::clock::trace_tick_now;
use crate::flow::{Delta, flow_hash};
use crate::parse::kernel_headers;
use crate::ring::{Event, FLOW_SEEN, ring_event};
use aya_ebpf::{
    Global,
    bindings::{BPF_F_NO_PREALLOC, BPF_NOEXIST},
    helpers::bpf_ktime_get_ns,
    macros::{btf_tracepoint, map},
    maps::HashMap,
    programs::BtfTracePointContext,
};
use netobserv_agent_common::{
    DIRECTION_INGRESS, FLOW_SEEN_SLOTS_LOG2, FlowId, PktDropMetrics, counters, event_kind,
};

/// Kernel struct offsets for the drop hook, from the running kernel's BTF (see
/// `netobserv_agent_common::globals`). Zero means unknown; the hook then does nothing.
#[unsafe(no_mangle)]
pub(crate) static OFF_SKB_HEAD: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKB_NETWORK_HEADER: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKB_LEN: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKB_IIF: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKB_SK: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_STATE: Global<u32> = Global::new(0);


/// Drops per flow, shared by every CPU (atomic adds), drained by user space at eviction.
/// Allocated on demand (`BPF_F_NO_PREALLOC`): kernel memory follows the number of dropped flows,
/// not the map size times the CPU count. A flow's first drop does not come here but goes
/// through the `direct_flows` ring buffer (see [`pkt_drop`]): an insert costs about 1 µs here,
/// a ring record a tenth of that, and a flood of drops is mostly first drops (a scan of closed
/// ports).
#[map(name = "aggregated_flows_pkt_drop")]
static AGGREGATED_FLOWS_PKT_DROP: HashMap<FlowId, PktDropMetrics> =
    HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// Direction value the drop hook keys `flow_seen` with (no packet has it).
const DIRECTION_DROP: u8 = 4;

/// `SKB_DROP_REASON_NOT_SPECIFIED`: this value and below (not dropped, consumed) are ignored.
const SKB_DROP_REASON_NOT_SPECIFIED: u32 = 2;

/// PacketDrop: `kfree_skb(skb, location, reason, ...)`. Parses the dropped packet's headers
/// from `skb->head + network_header` and accounts it per flow with its drop reason.
#[btf_tracepoint(function = "kfree_skb")]
pub fn kfree_skb_drop(ctx: BtfTracePointContext) -> i32 {
    let _ = pkt_drop::<true>(&ctx);
    0
}

/// PacketDrop, compatible variant: the same hook reading every `sk_buff` field with
/// `bpf_probe_read_kernel`. User space falls back to it when a kernel's verifier refuses the
/// direct field loads of [`kfree_skb_drop`].
#[btf_tracepoint(function = "kfree_skb")]
pub fn kfree_skb_drop_compat(ctx: BtfTracePointContext) -> i32 {
    let _ = pkt_drop::<false>(&ctx);
    0
}


#[inline(always)]
fn pkt_drop<const DIRECT: bool>(ctx: &BtfTracePointContext) -> Option<()> {
    let head_off = OFF_SKB_HEAD.load();
    if head_off == 0 {
        return None;
    }
    let reason: u32 = ctx.arg(2);
    if reason <= SKB_DROP_REASON_NOT_SPECIFIED {
        return None;
    }
    let skb: *const u8 = ctx.arg(0);
    let iif: u32 = field::<DIRECT, u32>(skb, OFF_SKB_IIF.load())?;
    if iif <= 1 {
        // Unknown interface or loopback, as upstream.
        return None;
    }
    let head: u64 = field::<DIRECT, u64>(skb, head_off)?;
    let head = head as *const u8;
    let nh: u16 = field::<DIRECT, u16>(skb, OFF_SKB_NETWORK_HEADER.load())?;
    let len: u32 = field::<DIRECT, u32>(skb, OFF_SKB_LEN.load())?;
    let net = head.wrapping_add(nh as usize);
    let Ok(h) = kernel_headers(net) else {
        return None;
    };
    if !h.known_l4 {
        return None;
    }
    let (key, flags, eth_protocol) = (h.key, h.flags, h.eth_protocol);
    let sk: u64 = field::<DIRECT, u64>(skb, OFF_SKB_SK.load())?;
    let sk = sk as *const u8;
    let state: u8 = if sk.is_null() {
        0
    } else {
        field::<DIRECT, u8>(sk, OFF_SKC_STATE.load()).unwrap_or(0)
    };
    // A flow's first drop (as far as `flow_seen` remembers, keyed with a direction no packet
    // has) goes to user space through the ring buffer, like a flow's first packet; the entry
    // is created by its second drop, and later ones add to it.
    let fp = flow_hash(&key, iif, DIRECTION_DROP);
    let fingerprint = if fp == 0 { 1 } else { fp };
    if let Some(seen) = FLOW_SEEN.get_ptr_mut(fp >> (32 - FLOW_SEEN_SLOTS_LOG2))
        && vr(seen) != fingerprint
    {
        vw(seen, fingerprint);
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        let ev = Event {
            id: &key.id,
            ifindex: iif,
            direction: DIRECTION_INGRESS,
            eth_protocol,
            first: now,
            macs: [0; 12],
        };
        // A drop record carries the drop reason in `sampling` and the TCP state in `dscp`.
        let d = Delta {
            packets: 1,
            bytes: u64::from(len),
            flags,
            dscp: state,
            sampling: reason,
            end: now,
        };
        if ring_event(&ev, &d, event_kind::DROP) {
            return Some(());
        }
    }
    let add = |m: *mut PktDropMetrics| {
        // SAFETY: value of a successful lookup, valid for this run; shared by every CPU, so the
        // counters take atomic adds (the latest cause, flags and state are plain stores).
        let m = unsafe { &mut *m };
        // Later drops of a flow carry a per-tick stamp, as its later packets do.
        let now = trace_tick_now();
        if now > m.end_mono_time_ts {
            m.end_mono_time_ts = now;
        }
        xadd_u64(&mut m.bytes, u64::from(len));
        xadd_u32(&mut m.packets, 1);
        m.latest_drop_cause = reason;
        m.latest_flags |= flags;
        m.latest_state = state;
    };
    if let Some(m) = AGGREGATED_FLOWS_PKT_DROP.get_ptr_mut(&key.id) {
        add(m);
    } else {
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        let m = PktDropMetrics {
            start_mono_time_ts: now,
            end_mono_time_ts: now,
            bytes: u64::from(len),
            packets: 1,
            latest_drop_cause: reason,
            latest_flags: flags,
            eth_protocol,
            latest_state: state,
            pad: [0; 3],
        };
        if let Err(e) = AGGREGATED_FLOWS_PKT_DROP.insert(&key.id, &m, u64::from(BPF_NOEXIST)) {
            // Another CPU created it first: add to theirs.
            if e == -EEXIST
                && let Some(m) = AGGREGATED_FLOWS_PKT_DROP.get_ptr_mut(&key.id)
            {
                add(m);
            } else {
                count(counters::HASHMAP_FAIL_UPDATE_DROPS);
            }
        }
    }
    Some(())
}
