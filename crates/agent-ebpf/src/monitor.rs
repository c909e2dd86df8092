//! The flow classifiers (TC and TCX, ingress and egress): each packet is parsed, filtered,
//! sampled and accounted to its flow, through the per-CPU flow cache, the ring buffer (a flow's
//! first packet) or the shared flow map. They never alter traffic: TC programs return
//! `TC_ACT_OK`, TCX programs `TCX_NEXT`.

use crate::base::{count, vr, vw};
use crate::cache::{FLOW_CACHE, FLOW_CACHE_CTL, cache_add, cache_claim, cache_holds};
use crate::clock::tick_now;
use crate::dns::{ENABLE_DNS_TRACKING, track_dns};
use crate::filter::{ENABLE_FLOWS_FILTERING, HAS_FILTER_SAMPLING, Verdict, filter};
use crate::flow::{Delta, KeyBuf, flow_hash};
use crate::flowmap::{AGGREGATED_FLOWS, add_to_flow, update};
use crate::parse::{load, parse};
use crate::ring::{Event, FLOW_SEEN, ring_event};
use crate::quic::{QUIC_TRACKING_MODE, track_quic};
use crate::tls::{ENABLE_TLS_TRACKING, track_tls};
use aya_ebpf::{
    Global,
    bindings::TC_ACT_OK,
    helpers::{bpf_get_prandom_u32, bpf_ktime_get_ns},
    macros::classifier,
    programs::TcContext,
};
use netobserv_agent_common::{
    DIRECTION_EGRESS, DIRECTION_INGRESS, FLOW_CACHE_SLOTS_LOG2, FLOW_SEEN_SLOTS_LOG2, counters,
    event_kind,
};

/// TCX verdict that lets the next program in the chain run.
pub(crate) const TCX_NEXT: i32 = -1;

/// Keep 1 packet in N (0 or 1: all). Set by user space before load.
#[unsafe(no_mangle)]
pub(crate) static SAMPLING: Global<u32> = Global::new(0);
/// Profiling only (`examples/prog_profile.rs`): when non-zero, the classifiers return at the
/// section boundary of that number (see [`stop_at`]), so the cost of each section of the
/// per-packet path is the difference between two runs. Read-only data: at 0 the verifier prunes
/// every check, and the program the agent runs is unchanged.
#[unsafe(no_mangle)]
static PROFILE_STOP: Global<u8> = Global::new(0);

/// Whether the profiling run stops at section boundary `n` (never in the agent's own runs).
#[inline(always)]
fn stop_at(n: u8) -> bool {
    PROFILE_STOP.load() == n
}

/// Accounts one packet seen in `direction`.
#[inline(always)]
fn flow_monitor(ctx: &TcContext, direction: u8) {
    if stop_at(1) {
        return;
    }
    let mut sampling = SAMPLING.load();
    let filtering = ENABLE_FLOWS_FILTERING.load() != 0;
    let filter_sampling = HAS_FILTER_SAMPLING.load() != 0;
    if !filter_sampling && sampling > 1 {
        // SAFETY: helper without preconditions.
        if unsafe { bpf_get_prandom_u32() } % sampling != 0 {
            count(counters::SAMPLED_OUT);
            return;
        }
    }
    let mut key = KeyBuf::default();
    let Some(p) = parse(ctx, &mut key) else {
        return;
    };
    let id = &key.id;
    if filtering {
        let (verdict, rule_sampling) = filter::<true>(id, p.eth_protocol, direction, p.flags);
        if verdict == Verdict::Skip {
            return;
        }
        if rule_sampling != 0 {
            sampling = rule_sampling;
        }
        if filter_sampling && sampling > 1 {
            // SAFETY: helper without preconditions.
            if unsafe { bpf_get_prandom_u32() } % sampling != 0 {
                count(counters::SAMPLED_OUT);
                return;
            }
        }
    }
    if stop_at(2) {
        return;
    }
    if ENABLE_DNS_TRACKING.load() != 0 && p.payload != 0 {
        track_dns(ctx, id, &p);
    }
    if ENABLE_TLS_TRACKING.load() != 0 && p.payload != 0 {
        track_tls(ctx, id, &p);
    }
    let quic_mode = QUIC_TRACKING_MODE.load();
    if quic_mode != 0 && p.payload != 0 {
        track_quic(ctx, id, &p, quic_mode);
    }
    if stop_at(3) {
        return;
    }
    // SAFETY: reading fields of the context's __sk_buff is allowed for TC programs.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    let len = u64::from(ctx.len());
    let h = flow_hash(&key, ifindex, direction);

    // The per-CPU cache first: a flow that owns its slot costs no map lookup and no atomic add.
    let ctl = FLOW_CACHE_CTL.get_ptr(0);
    let cache_on = matches!(ctl, Some(c) if vr(c) == 1);
    let slot = if cache_on {
        FLOW_CACHE.get_ptr_mut(h >> (32 - FLOW_CACHE_SLOTS_LOG2))
    } else {
        None
    };
    if let Some(s) = slot
        && cache_holds(s, &key, ifindex, direction)
    {
        cache_add(s, len, &p, sampling);
        return;
    }
    if stop_at(4) {
        return;
    }
    let d = Delta {
        packets: 1,
        bytes: len,
        flags: p.flags,
        dscp: p.dscp,
        sampling,
        end: 0,
    };

    // A flow's first packet on this interface and direction (as far as `flow_seen` remembers)
    // goes to user space through the ring buffer, without touching the flow map: a map lookup
    // that misses and an insert cost several cache misses each, a ring record a few stores.
    // The flow enters the map with its second packet. A forgotten fingerprint (overwritten by
    // another flow) only sends one more packet this way; every packet is counted once, in the
    // ring or in the map, and user space merges both at eviction.
    let fingerprint = if h == 0 { 1 } else { h };
    if let Some(seen) = FLOW_SEEN.get_ptr_mut(h >> (32 - FLOW_SEEN_SLOTS_LOG2))
        && vr(seen) != fingerprint
    {
        // Shared by every CPU: a racing write only costs another flow one more ring record.
        vw(seen, fingerprint);
        if stop_at(5) {
            return;
        }
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        if stop_at(6) {
            return;
        }
        let macs: [u8; 12] = load(ctx, 0).unwrap_or([0; 12]);
        let ev = Event {
            id,
            ifindex,
            direction,
            eth_protocol: p.eth_protocol,
            first: now,
            macs,
        };
        if ring_event(&ev, &Delta { end: now, ..d }, event_kind::FIRST_PACKET) {
            return;
        }
        // Ring full: the map takes the packet (and counts the loss if it cannot either).
    }

    if let Some(m) = AGGREGATED_FLOWS.get_ptr_mut(id) {
        let d = Delta {
            end: tick_now(),
            ..d
        };
        // A known flow on its counting interface takes the slot with this packet, so the shared
        // entry is only ever written by inserts and flushes, never behind the eviction's back.
        // SAFETY: `m` comes from a successful lookup.
        if let Some(s) = slot
            && unsafe { (*m).if_index_first_seen } == ifindex
            && cache_claim(ctx, s, &key, ifindex, direction, p.eth_protocol, &d)
        {
            return;
        }
        update(m, ifindex, direction, &d);
        return;
    }
    // New flow in the map: the precise clock, and only now the MAC addresses (destination
    // first). It takes a cache slot with its next packet (above).
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    add_to_flow(
        id,
        ifindex,
        direction,
        p.eth_protocol,
        &Delta { end: now, ..d },
        now,
        || load(ctx, 0).unwrap_or([0; 12]),
    );
}

/// Legacy TC (clsact) ingress hook.
#[classifier]
pub fn tc_ingress_flow_parse(ctx: TcContext) -> i32 {
    flow_monitor(&ctx, DIRECTION_INGRESS);
    TC_ACT_OK
}

/// Legacy TC (clsact) egress hook.
#[classifier]
pub fn tc_egress_flow_parse(ctx: TcContext) -> i32 {
    flow_monitor(&ctx, DIRECTION_EGRESS);
    TC_ACT_OK
}

/// TCX ingress hook; lets later programs in the chain run.
#[classifier]
pub fn tcx_ingress_flow_parse(ctx: TcContext) -> i32 {
    flow_monitor(&ctx, DIRECTION_INGRESS);
    TCX_NEXT
}

/// TCX egress hook; lets later programs in the chain run.
#[classifier]
pub fn tcx_egress_flow_parse(ctx: TcContext) -> i32 {
    flow_monitor(&ctx, DIRECTION_EGRESS);
    TCX_NEXT
}

