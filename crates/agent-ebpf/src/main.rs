//! Kernel side of the flow agent: TC/TCX classifiers that parse each packet's headers and
//! aggregate it per flow into the shared `aggregated_flows` hash map, which user space evicts
//! periodically. Built for `bpfel-unknown-none` by `crates/agent/build.rs`.
//!
//! The programs never alter traffic: TC programs return `TC_ACT_OK`, TCX programs `TCX_NEXT`.
#![no_std]
#![no_main]
#![feature(core_intrinsics)]
#![allow(internal_features)]

use aya_ebpf::{
    Global,
    bindings::{
        BPF_F_NO_PREALLOC, BPF_NOEXIST, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP,
        TC_ACT_OK,
    },
    helpers::bpf_probe_read_kernel,
    helpers::{bpf_get_prandom_u32, bpf_jiffies64, bpf_ktime_get_coarse_ns, bpf_ktime_get_ns},
    macros::{btf_tracepoint, classifier, fentry, map},
    maps::{Array, HashMap, LpmTrie, PerCpuArray, RingBuf, lpm_trie::Key},
    programs::{BtfTracePointContext, FEntryContext, RawTracePointContext, TcContext},
};
use core::{intrinsics::AtomicOrdering, mem::size_of};
mod netevents;

use netobserv_agent_common::{
    AdditionalMetrics, CachedFlow, DIRECTION_ANY, DIRECTION_BOTH, DIRECTION_EGRESS,
    DIRECTION_INGRESS, DNS_NAME_MAX_LEN, DnsFlowId, DnsMetrics, ETH_P_IP, ETH_P_IPV6,
    FLOW_CACHE_FLUSH_CHUNK, FLOW_CACHE_SLOTS, FLOW_CACHE_SLOTS_LOG2, FLOW_SEEN_SLOTS,
    FLOW_SEEN_SLOTS_LOG2, FilterValue, FlowEvent, FlowId, FlowMetrics, MAX_FILTER_ENTRIES,
    MAX_OBSERVED_INTERFACES, PktDropMetrics, counters, event_kind, filter_action, tcp_flag,
};

mod cache;
mod dns;
mod filter;
mod hooks;
mod xlat;

use cache::*;
use dns::*;
use filter::*;
use hooks::*;

/// TCX verdict that lets the next program in the chain run.
const TCX_NEXT: i32 = -1;
/// `EEXIST`: another CPU inserted the same key first.
const EEXIST: i32 = 17;

const ETH_HLEN: usize = 14;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_SCTP: u8 = 132;

/// Keep 1 packet in N (0 or 1: all). Set by user space before load.
#[unsafe(no_mangle)]
static SAMPLING: Global<u32> = Global::new(0);
/// 1 when filter rules are installed.
#[unsafe(no_mangle)]
static ENABLE_FLOWS_FILTERING: Global<u8> = Global::new(0);
/// 1 when a filter rule carries its own sampling rate, so sampling waits for the filter verdict.
#[unsafe(no_mangle)]
static HAS_FILTER_SAMPLING: Global<u8> = Global::new(0);
/// 1 when the kernel offers `bpf_ktime_get_coarse_ns` (probed by user space; read-only data, so
/// on older kernels the verifier prunes the call and never sees the unknown helper).
#[unsafe(no_mangle)]
static COARSE_CLOCK: Global<u8> = Global::new(0);
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

/// The shared flow table. Resized by user space to `CACHE_MAX_FLOWS` before load.
/// Preallocated: a new flow pops a ready element off a per-CPU free list instead of going
/// through the kernel's BPF memory allocator (whose refills raise an IRQ work), which halves
/// the cost of the first packet of a flow.
#[map(name = "aggregated_flows")]
static AGGREGATED_FLOWS: HashMap<FlowId, FlowMetrics> = HashMap::with_max_entries(65536, 0);

/// First packets of flows, and what the flow map refused, for user space (see
/// `netobserv_agent_common::FlowEvent`). Resized by user space from `CACHE_MAX_FLOWS`.
#[map(name = "direct_flows")]
static DIRECT_FLOWS: RingBuf = RingBuf::with_byte_size(1 << 16, 0);

/// Fingerprints of the flows whose first packet went through `direct_flows`, by flow, interface
/// and direction (see `flow_monitor`). One table for all CPUs: a flow's packets may be handled
/// by any of them, and a lost race only costs one more ring record.
#[map(name = "flow_seen")]
static FLOW_SEEN: Array<u32> = Array::with_max_entries(FLOW_SEEN_SLOTS, 0);

/// log2 of the step of waiting bytes in `direct_flows` at which a record wakes user space up (a
/// quarter of the ring). Set by user space; 0 = never (user space only polls).
#[unsafe(no_mangle)]
static RINGBUF_WAKEUP_SHIFT: Global<u32> = Global::new(0);

/// Bytes one `FlowEvent` takes in the ring (8-byte header included).
const RINGBUF_RECORD_BYTES: u64 = size_of::<FlowEvent>() as u64 + 8;

/// Per-CPU counters indexed by `netobserv_agent_common::counters`.
#[map(name = "global_counters")]
static GLOBAL_COUNTERS: PerCpuArray<u32> = PerCpuArray::with_max_entries(counters::MAX_COUNTERS, 0);

/// Adds `v` atomically (BPF_XADD); `fetch_add` does not lower on this target.
#[inline(always)]
fn xadd_u64(p: *mut u64, v: u64) {
    // SAFETY: `p` points into a map value returned by the kernel, valid for this program run.
    unsafe { core::intrinsics::atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, v) };
}

/// 32-bit variant of [`xadd_u64`].
#[inline(always)]
fn xadd_u32(p: *mut u32, v: u32) {
    // SAFETY: as for `xadd_u64`.
    unsafe { core::intrinsics::atomic_xadd::<u32, u32, { AtomicOrdering::Relaxed }>(p, v) };
}

/// Bumps one global counter (per-CPU slot, so no other CPU writes it).
#[inline(always)]
fn count(idx: u32) {
    if let Some(p) = GLOBAL_COUNTERS.get_ptr_mut(idx) {
        // SAFETY: per-CPU array slot of this CPU.
        unsafe { *p = (*p).wrapping_add(1) };
    }
}

/// Adds `n` to one global counter (per-CPU slot).
#[inline(always)]
fn count_n(idx: u32, n: u32) {
    if let Some(p) = GLOBAL_COUNTERS.get_ptr_mut(idx) {
        // SAFETY: per-CPU array slot of this CPU.
        unsafe { *p = (*p).wrapping_add(n) };
    }
}

/// Reads a `T` at `off` bytes into the packet: directly when it lies in the linear part,
/// through `bpf_skb_load_bytes` otherwise.
#[inline(always)]
fn load<T: Copy>(ctx: &TcContext, off: usize) -> Option<T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + off + size_of::<T>() <= end {
        // SAFETY: bounds checked against data_end just above (and by the verifier).
        Some(unsafe { core::ptr::read_unaligned((start + off) as *const T) })
    } else {
        ctx.load::<T>(off).ok()
    }
}

/// Reads a block of machine words at `off` bytes into the packet, with one bounds check for the
/// whole block, as full-width loads (`read_unaligned` would be split into single-byte loads by
/// the BPF backend, which cost one instruction and a shift/or per byte on every packet).
#[inline(always)]
fn load_words<T: Copy>(ctx: &TcContext, off: usize) -> Option<T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + off + size_of::<T>() <= end {
        // SAFETY: bounds checked against data_end just above (and by the verifier). Header
        // fields may sit at 2-byte offsets: the BPF ISA has no alignment traps and the verifier
        // accepts unaligned packet loads on the architectures the agent targets (x86-64, arm64:
        // efficient unaligned access), so the full-width load is what the kernel executes.
        Some(unsafe { core::ptr::read((start + off) as *const T) })
    } else {
        ctx.load::<T>(off).ok()
    }
}

/// A flow key on an 8-byte boundary, so the parser fills it with word stores.
#[repr(C, align(8))]
#[derive(Default)]
struct KeyBuf {
    id: FlowId,
}

impl KeyBuf {
    /// Writes the `i`th 32-bit word of the key.
    #[inline(always)]
    fn set_u32(&mut self, i: usize, v: u32) {
        // SAFETY: `i` < 10 at every call site (the key is 40 bytes) and `self` is 8-aligned.
        unsafe { (self as *mut Self as *mut u32).add(i).write(v) };
    }

    /// Writes the `i`th 64-bit word of the key.
    #[inline(always)]
    fn set_u64(&mut self, i: usize, v: u64) {
        // SAFETY: `i` < 5 at every call site and `self` is 8-aligned.
        unsafe { (self as *mut Self as *mut u64).add(i).write(v) };
    }
}

/// Bytes 8..12 of a v4-mapped address (`::ffff:a.b.c.d`), as a little-endian word.
const V4_MAPPED_PREFIX: u32 = 0xffff_0000;

/// What the parser extracted besides the key.
struct Parsed {
    /// Offset of the DNS header if this is TCP/UDP (payload start), else 0.
    payload: usize,
    eth_protocol: u16,
    flags: u16,
    dscp: u8,
}

/// Parses Ethernet / IPv4|IPv6 / L4 into `key`. `None` for frames the agent does not account
/// (non-IP, truncated). Each header is read as one bounds-checked block of words, so every
/// direct packet access is preceded by a bounds check the verifier can follow. The MAC
/// addresses are only read when a flow is created (see [`flow_monitor`]).
#[inline(always)]
fn parse(ctx: &TcContext, key: &mut KeyBuf) -> Option<Parsed> {
    let eth: [u16; 7] = load_words(ctx, 0)?;
    let eth_protocol = u16::from_be(eth[6]);
    let (proto, l4, dscp) = match eth_protocol {
        ETH_P_IP => {
            let ip: [u32; 5] = load_words(ctx, ETH_HLEN)?;
            key.set_u32(2, V4_MAPPED_PREFIX);
            key.set_u32(3, ip[3]);
            key.set_u32(6, V4_MAPPED_PREFIX);
            key.set_u32(7, ip[4]);
            let ihl = ((ip[0] & 0x0f) as usize) * 4;
            if ihl < 20 {
                return None;
            }
            (
                (ip[2] >> 8) as u8,
                ETH_HLEN + ihl,
                (ip[0] >> 10) as u8 & 0x3f,
            )
        }
        ETH_P_IPV6 => {
            let ip: [u64; 5] = load_words(ctx, ETH_HLEN)?;
            key.set_u64(0, ip[1]);
            key.set_u64(1, ip[2]);
            key.set_u64(2, ip[3]);
            key.set_u64(3, ip[4]);
            let b0 = ip[0] as u8;
            let b1 = (ip[0] >> 8) as u8;
            let tc = ((b0 & 0x0f) << 4) | (b1 >> 4);
            ((ip[0] >> 48) as u8, ETH_HLEN + 40, tc >> 2)
        }
        _ => return None,
    };
    let id = &mut key.id;
    id.transport_protocol = proto;
    let mut flags = 0;
    let mut payload = 0;
    match proto {
        IPPROTO_TCP => {
            let tcp: [u32; 4] = load_words(ctx, l4)?;
            id.src_port = u16::from_be(tcp[0] as u16);
            id.dst_port = u16::from_be((tcp[0] >> 16) as u16);
            flags = tcp_flag((tcp[3] >> 8) as u8);
            // DNS over TCP: a 2-byte length precedes the message.
            payload = l4 + (((tcp[3] as u8) >> 4) as usize) * 4 + 2;
        }
        IPPROTO_UDP => {
            let ports: u32 = load_words(ctx, l4)?;
            id.src_port = u16::from_be(ports as u16);
            id.dst_port = u16::from_be((ports >> 16) as u16);
            payload = l4 + 8;
        }
        IPPROTO_SCTP => {
            let ports: u32 = load_words(ctx, l4)?;
            id.src_port = u16::from_be(ports as u16);
            id.dst_port = u16::from_be((ports >> 16) as u16);
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            let tc: u16 = load_words(ctx, l4)?;
            id.icmp_type = tc as u8;
            id.icmp_code = (tc >> 8) as u8;
        }
        _ => {}
    }
    Some(Parsed {
        payload,
        eth_protocol,
        flags,
        dscp,
    })
}

/// Records `ifindex` in the flow's observed-interface list (no byte counting there).
/// Written with `get`/`get_mut` only, so no bounds-check panic path reaches the verifier.
#[inline(always)]
fn add_observed(m: &mut FlowMetrics, ifindex: u32, direction: u8) {
    let n = m.nb_observed_intf as usize;
    for i in 0..MAX_OBSERVED_INTERFACES {
        if i >= n {
            break;
        }
        let (Some(intf), Some(dir)) = (m.observed_intf.get(i), m.observed_direction.get_mut(i))
        else {
            break;
        };
        if *intf == ifindex {
            if *dir != direction {
                *dir = DIRECTION_BOTH;
            }
            return;
        }
    }
    match (m.observed_intf.get_mut(n), m.observed_direction.get_mut(n)) {
        (Some(intf), Some(dir)) => {
            *intf = ifindex;
            *dir = direction;
            m.nb_observed_intf = (n + 1) as u8;
        }
        _ => {
            if m.eth_protocol != 0 {
                count(counters::OBSERVED_INTF_MISSED);
            }
        }
    }
}

/// What one packet (or a flushed cache slot) adds to a flow.
struct Delta {
    packets: u32,
    bytes: u64,
    flags: u16,
    dscp: u8,
    sampling: u32,
    /// Time of the latest packet.
    end: u64,
}

/// Adds `d` to an existing flow entry: counted when `ifindex` is the flow's counting interface,
/// otherwise only listed in its observed interfaces. Returns whether it was counted.
#[inline(always)]
fn update(m: *mut FlowMetrics, ifindex: u32, direction: u8, d: &Delta) -> bool {
    // SAFETY: `m` comes from a successful map lookup and stays valid during this program run.
    let m = unsafe { &mut *m };
    if m.if_index_first_seen == ifindex {
        xadd_u32(&mut m.packets, d.packets);
        xadd_u64(&mut m.bytes, d.bytes);
        if d.end > m.end_mono_time_ts {
            m.end_mono_time_ts = d.end;
        }
        m.flags |= d.flags;
        m.dscp = d.dscp;
        m.sampling = d.sampling;
        true
    } else {
        if ifindex != 0 {
            if d.end > m.end_mono_time_ts {
                m.end_mono_time_ts = d.end;
            }
            m.flags |= d.flags;
            add_observed(m, ifindex, direction);
        }
        false
    }
}

/// Adds `d` to the flow `id` in the shared map, creating the entry (with `first` as its start and
/// `macs` as destination + source MAC) when there is none. Returns whether `ifindex` counts the
/// flow, i.e. whether its packets may be summed in a cache slot.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn add_to_flow(
    id: &FlowId,
    ifindex: u32,
    direction: u8,
    eth_protocol: u16,
    d: &Delta,
    first: u64,
    macs: impl FnOnce() -> [u8; 12],
) -> bool {
    if let Some(m) = AGGREGATED_FLOWS.get_ptr_mut(id) {
        return update(m, ifindex, direction, d);
    }
    let macs = macs();
    let m = FlowMetrics {
        start_mono_time_ts: first,
        end_mono_time_ts: if d.end > first { d.end } else { first },
        bytes: d.bytes,
        packets: d.packets,
        eth_protocol,
        flags: d.flags,
        src_mac: [macs[6], macs[7], macs[8], macs[9], macs[10], macs[11]],
        dst_mac: [macs[0], macs[1], macs[2], macs[3], macs[4], macs[5]],
        if_index_first_seen: ifindex,
        sampling: d.sampling,
        direction_first_seen: direction,
        dscp: d.dscp,
        ..FlowMetrics::default()
    };
    match AGGREGATED_FLOWS.insert(id, &m, u64::from(BPF_NOEXIST)) {
        Ok(()) => {
            count(counters::FLOWS_INSERTED);
            true
        }
        Err(e) if e == -EEXIST => match AGGREGATED_FLOWS.get_ptr_mut(id) {
            Some(m) => update(m, ifindex, direction, d),
            None => {
                overflow(id, ifindex, direction, eth_protocol, d, first, macs);
                false
            }
        },
        Err(_) => {
            overflow(id, ifindex, direction, eth_protocol, d, first, macs);
            false
        }
    }
}

/// What the map refused goes to user space through the ring buffer; lost (and counted as
/// such) only when the ring is full too.
#[inline(always)]
fn overflow(
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
struct Event<'a> {
    id: &'a FlowId,
    ifindex: u32,
    direction: u8,
    eth_protocol: u16,
    first: u64,
    /// Destination then source MAC.
    macs: [u8; 12],
}

/// Writes one record into `direct_flows`. Records go without a wakeup of user space (which
/// polls the ring) until a quarter of the ring waits, so a flood of new flows does not raise an
/// interrupt per packet. Returns false when the ring is full.
#[inline(always)]
fn ring_event(ev: &Event, d: &Delta, kind: u8) -> bool {
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

/// The time stamped on a packet of an existing flow: `CLOCK_MONOTONIC` as of the last timer tick
/// where the kernel has the coarse helper, the precise clock otherwise. Reading the precise
/// clock goes through the clocksource's indirect `read` call; in a VM with retpolines it measured
/// 26 ns of the 78 ns an established-flow packet cost (`BPF_PROG_TEST_RUN`), for a precision the
/// millisecond record fields barely use. The flow's first packet still reads the precise clock,
/// so `TimeFlowStart` is exact and `TimeFlowEnd` trails the last packet by at most one tick
/// (4 ms at `HZ=250`); user space keeps end ≥ start.
#[inline(always)]
fn tick_now() -> u64 {
    if COARSE_CLOCK.load() != 0 {
        // SAFETY: helper without preconditions (kernel 5.11+, checked by user space).
        unsafe { bpf_ktime_get_coarse_ns() }
    } else {
        // SAFETY: helper without preconditions.
        unsafe { bpf_ktime_get_ns() }
    }
}

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
        let (verdict, rule_sampling) = filter(id, p.eth_protocol, direction, p.flags);
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

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
