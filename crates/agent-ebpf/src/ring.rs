//! The `direct_flows` ring buffer: a flow's first packet on an interface and direction (as far
//! as `flow_seen` remembers), a flow's first drop, and whatever the flow map refused go to user
//! space as [`FlowEvent`] records instead of through a map insert.

use crate::base::{count, count_n};
use crate::flow::Delta;
use aya_ebpf::{
    Global,
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    macros::map,
    maps::{Array, RingBuf},
};
use core::mem::size_of;
use netobserv_agent_common::{FLOW_SEEN_SLOTS, FlowEvent, FlowId, counters, event_kind};

/// First packets of flows, and what the flow map refused, for user space (see
/// `netobserv_agent_common::FlowEvent`). Resized by user space from `CACHE_MAX_FLOWS`.
#[map(name = "direct_flows")]
pub(crate) static DIRECT_FLOWS: RingBuf = RingBuf::with_byte_size(1 << 16, 0);

/// Fingerprints of the flows whose first packet went through `direct_flows`, by flow, interface
/// and direction (see `monitor::flow_monitor`). One table for all CPUs: a flow's packets may be handled
/// by any of them, and a lost race only costs one more ring record.
#[map(name = "flow_seen")]
pub(crate) static FLOW_SEEN: Array<u32> = Array::with_max_entries(FLOW_SEEN_SLOTS, 0);

/// log2 of the step of waiting bytes in `direct_flows` at which a record wakes user space up (a
/// quarter of the ring). Set by user space; 0 = never (user space only polls).
#[unsafe(no_mangle)]
static RINGBUF_WAKEUP_SHIFT: Global<u32> = Global::new(0);

/// Bytes one `FlowEvent` takes in the ring (8-byte header included).
const RINGBUF_RECORD_BYTES: u64 = size_of::<FlowEvent>() as u64 + 8;

/// What the map refused goes to user space through the ring buffer; lost (and counted as
/// such) only when the ring is full too.
#[inline(always)]
pub(crate) fn overflow(
    id: &FlowId,
    ifindex: u32,
    direction: u8,
    eth_protocol: u16,
    d: &Delta,
    first: u64,
    macs: [u8; 12],
) {
    let ev = Event {
        id,
        ifindex,
        direction,
        eth_protocol,
        first,
        macs,
    };
    if !ring_event(&ev, d, event_kind::MAP_FULL) {
        count(counters::RINGBUF_LOST_RECORDS);
        count_n(counters::RINGBUF_LOST_PACKETS, d.packets);
    }
}

/// The fixed part of a [`FlowEvent`]: which flow, where, since when.
pub(crate) struct Event<'a> {
    pub(crate) id: &'a FlowId,
    pub(crate) ifindex: u32,
    pub(crate) direction: u8,
    pub(crate) eth_protocol: u16,
    pub(crate) first: u64,
    /// Destination then source MAC.
    pub(crate) macs: [u8; 12],
}

/// Writes one record into `direct_flows`. Records go without a wakeup of user space (which
/// polls the ring) until a quarter of the ring waits, so a flood of new flows does not raise an
/// interrupt per packet. Returns false when the ring is full.
#[inline(always)]
pub(crate) fn ring_event(ev: &Event, d: &Delta, kind: u8) -> bool {
    let Some(mut e) = DIRECT_FLOWS.reserve::<FlowEvent>(0) else {
        return false;
    };
    e.write(FlowEvent {
        id: *ev.id,
        start_mono_time_ts: ev.first,
        end_mono_time_ts: if d.end > ev.first { d.end } else { ev.first },
        bytes: d.bytes,
        packets: d.packets,
        if_index: ev.ifindex,
        sampling: d.sampling,
        eth_protocol: ev.eth_protocol,
        flags: d.flags,
        macs: ev.macs,
        direction: ev.direction,
        dscp: d.dscp,
        kind,
        pad: 0,
    });
    // Wake user space when this record takes the waiting bytes past a multiple of a quarter of
    // the ring, not for every record beyond it: in a VM, each forced wakeup is an interrupt
    // (a self-IPI and a VM exit, ~1.7 µs measured), which a flood would pay per packet while
    // user space drains.
    let shift = RINGBUF_WAKEUP_SHIFT.load();
    let waiting = DIRECT_FLOWS.query(u64::from(BPF_RB_AVAIL_DATA));
    let before = waiting.saturating_sub(RINGBUF_RECORD_BYTES);
    let wake = if shift != 0 && (waiting >> shift) != (before >> shift) {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    e.submit(u64::from(wake));
    count(match kind {
        event_kind::FIRST_PACKET => counters::RINGBUF_FIRST_PACKET,
        event_kind::DROP => counters::RINGBUF_FIRST_DROP,
        _ => counters::RINGBUF_MAP_FULL,
    });
    true
}

