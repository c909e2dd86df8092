//! NetworkEvents: OVN observability samples. OVS's datapath calls
//! `psample_sample_packet(group, skb, sample_rate, md)` for every packet an OVN ACL with a
//! `Sample` matches; `md->user_cookie` carries 8 bytes naming the ACL (decoded in user space).
//! This hook keeps, per flow, up to [`MAX_NETWORK_EVENTS`] distinct cookies with their own
//! packet and byte counters, in the per-CPU `aggregated_flows_network_events` map.
//!
//! Two programs share one body: an `fentry` (preferred, cheaper) and a `kprobe` (fallback, as
//! upstream). User space loads whichever the kernel accepts. Rust eBPF has no CO-RE, so the
//! `psample_group`/`psample_metadata`/`sk_buff` member offsets arrive as load-time globals read
//! from the kernel's BTF; an unknown offset (0) makes the hook do nothing.

use crate::base::{ETH_HLEN, count, kread};
use crate::filter::{ENABLE_FLOWS_FILTERING, Verdict, filter};
use crate::parse::{HeadersError, kernel_headers};
use aya_ebpf::{
    Global,
    bindings::BPF_F_NO_PREALLOC,
    helpers::{bpf_ktime_get_ns, generated::bpf_probe_read_kernel},
    macros::{fentry, kprobe, map},
    maps::PerCpuHashMap,
    programs::{FEntryContext, ProbeContext},
};
use netobserv_agent_common::{
    FlowId, counters,
    netevents::{MAX_EVENT_MD, MAX_NETWORK_EVENTS, NetworkEventsMetrics},
};

/// psample group of OVN's samples (`NETWORK_EVENTS_MONITORING_GROUP_ID`, default 10).
#[unsafe(no_mangle)]
static NETEVENTS_GROUP_ID: Global<u32> = Global::new(10);
/// `psample_group.group_num`.
#[unsafe(no_mangle)]
static OFF_PSAMPLE_GROUP_NUM: Global<u32> = Global::new(0);
/// `psample_metadata.user_cookie`.
#[unsafe(no_mangle)]
static OFF_PSAMPLE_MD_USER_COOKIE: Global<u32> = Global::new(0);
/// `psample_metadata.user_cookie_len`.
#[unsafe(no_mangle)]
static OFF_PSAMPLE_MD_USER_COOKIE_LEN: Global<u32> = Global::new(0);
/// `sk_buff.head`.
#[unsafe(no_mangle)]
static OFF_NETEVENTS_SKB_HEAD: Global<u32> = Global::new(0);
/// `sk_buff.data`: where the packet (Ethernet header) starts when `network_header` is unset.
#[unsafe(no_mangle)]
static OFF_NETEVENTS_SKB_DATA: Global<u32> = Global::new(0);
/// `sk_buff.network_header`.
#[unsafe(no_mangle)]
static OFF_NETEVENTS_SKB_NETWORK_HEADER: Global<u32> = Global::new(0);
/// `sk_buff.len`.
#[unsafe(no_mangle)]
static OFF_NETEVENTS_SKB_LEN: Global<u32> = Global::new(0);

/// Network events per flow; merged by user space at eviction. Resized by user space to
/// `CACHE_MAX_FLOWS` when the feature is on, to 1 otherwise. Per-CPU (the cookie slots and
/// their counters are updated by every sampled packet) but allocated on demand, so that its
/// memory follows the flows with events rather than the map size times the CPU count.
#[map(name = "aggregated_flows_network_events")]
static AGGREGATED_FLOWS_NETWORK_EVENTS: PerCpuHashMap<FlowId, NetworkEventsMetrics> =
    PerCpuHashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// NetworkEvents via `kprobe/psample_sample_packet` (fallback; needs `CONFIG_KPROBES`).
#[kprobe]
pub fn psample_kprobe_netevents(ctx: ProbeContext) -> u32 {
    if let (Some(group), Some(skb), Some(md)) = (ctx.arg(0), ctx.arg(1), ctx.arg(3)) {
        let _ = network_event(group, skb, md);
    }
    0
}

/// NetworkEvents via `fentry/psample_sample_packet` (preferred; refused by locked-down kernels).
#[fentry(function = "psample_sample_packet")]
pub fn psample_fentry_netevents(ctx: FEntryContext) -> i32 {
    let _ = network_event(ctx.arg(0), ctx.arg(1), ctx.arg(3));
    0
}

/// Saturating 16-bit add, as upstream's `add_u16`.
#[inline(always)]
fn sat16(a: u16, b: u16) -> u16 {
    a.saturating_add(b)
}

/// Checks the group, copies the cookie, parses the packet and records the event.
#[inline(always)]
fn network_event(group: *const u8, skb: *const u8, md: *const u8) -> Option<()> {
    let group_off = OFF_PSAMPLE_GROUP_NUM.load();
    let head_off = OFF_NETEVENTS_SKB_HEAD.load();
    if group_off == 0 || head_off == 0 || group.is_null() || skb.is_null() || md.is_null() {
        return None;
    }
    let group_num: u32 = kread(group, group_off)?;
    if group_num != NETEVENTS_GROUP_ID.load() {
        count(counters::NETWORK_EVENTS_ERR_GROUPID_MISMATCH);
        return None;
    }
    let cookie_len: u32 = kread(md, OFF_PSAMPLE_MD_USER_COOKIE_LEN.load())?;
    if cookie_len == 0 {
        count(counters::NETWORK_EVENTS_ERR);
        return None;
    }
    if cookie_len > MAX_EVENT_MD as u32 {
        count(counters::NETWORK_EVENTS_COOKIE_TOO_BIG);
        return None;
    }
    let cookie_ptr: *const u8 = kread(md, OFF_PSAMPLE_MD_USER_COOKIE.load())?;
    if cookie_ptr.is_null() {
        count(counters::NETWORK_EVENTS_ERR);
        return None;
    }
    let mut cookie = [0u8; MAX_EVENT_MD];
    // SAFETY: `cookie` has MAX_EVENT_MD writable bytes and 1 <= cookie_len <= MAX_EVENT_MD (the
    // verifier sees both bounds); the helper validates the kernel source address.
    let ret = unsafe {
        bpf_probe_read_kernel(
            cookie.as_mut_ptr() as *mut core::ffi::c_void,
            cookie_len & 0xf,
            cookie_ptr as *const core::ffi::c_void,
        )
    };
    if ret != 0 {
        count(counters::NETWORK_EVENTS_ERR);
        return None;
    }
    let cookie = u64::from_ne_bytes(cookie);

    let head: *const u8 = kread(skb, head_off)?;
    let nh: u16 = kread(skb, OFF_NETEVENTS_SKB_NETWORK_HEADER.load())?;
    let len: u32 = kread(skb, OFF_NETEVENTS_SKB_LEN.load())?;
    // `network_header` is `~0` while unset; OVS sets it when it extracts the flow key, but if
    // it is not, the packet starts at `data` (the Ethernet header in the OVS datapath).
    let net = if nh == u16::MAX {
        let data: *const u8 = kread(skb, OFF_NETEVENTS_SKB_DATA.load())?;
        data.wrapping_add(ETH_HLEN)
    } else {
        head.wrapping_add(nh as usize)
    };
    let (key, flags, eth_protocol) = match kernel_headers(net) {
        // Other transport protocols are kept, with ports 0, as upstream does.
        Ok(h) => (h.key, h.flags, h.eth_protocol),
        Err(HeadersError::NotIp) => {
            count(counters::NETWORK_EVENTS_ERR);
            return None;
        }
        Err(HeadersError::Unreadable) => return None,
    };
    if ENABLE_FLOWS_FILTERING.load() != 0
        && filter::<true>(&key.id, eth_protocol, 0, flags).0 == Verdict::Skip
    {
        return None;
    }
    let len16 = if len > 0xffff { 0xffff } else { len as u16 };
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(m) = AGGREGATED_FLOWS_NETWORK_EVENTS.get_ptr_mut(&key.id) {
        // SAFETY: per-CPU value of this CPU, valid for this program run.
        let m = unsafe { &mut *m };
        m.end_mono_time_ts = now;
        record(m, cookie, len16);
    } else {
        let mut m = NetworkEventsMetrics {
            start_mono_time_ts: now,
            end_mono_time_ts: now,
            eth_protocol,
            ..NetworkEventsMetrics::default()
        };
        record(&mut m, cookie, len16);
        if AGGREGATED_FLOWS_NETWORK_EVENTS
            .insert(&key.id, &m, 0)
            .is_err()
        {
            count(counters::NETWORK_EVENTS_ERR_UPDATE_MAP_FLOWS);
            return None;
        }
    }
    count(counters::NETWORK_EVENTS_GOOD);
    Some(())
}

/// Adds one sample of `cookie` to the flow's slots: a known cookie bumps its own counters; a new
/// one takes slot `network_events_idx`, which advances modulo 4. Wrapping back to slot 0 counts
/// `NETWORK_EVENTS_OVERFLOW` (from then on the oldest cookie is overwritten), as upstream.
#[inline(always)]
fn record(m: &mut NetworkEventsMetrics, cookie: u64, len: u16) {
    let mut i = 0;
    while i < MAX_NETWORK_EVENTS {
        if let (Some(slot), Some(p), Some(b)) = (
            m.network_events.get(i),
            m.packets.get_mut(i),
            m.bytes.get_mut(i),
        ) && u64::from_ne_bytes(*slot) == cookie
        {
            *p = sat16(*p, 1);
            *b = sat16(*b, len);
            return;
        }
        i += 1;
    }
    let idx = (m.network_events_idx as usize) % MAX_NETWORK_EVENTS;
    if let (Some(slot), Some(p), Some(b)) = (
        m.network_events.get_mut(idx),
        m.packets.get_mut(idx),
        m.bytes.get_mut(idx),
    ) {
        *slot = cookie.to_ne_bytes();
        *p = 1;
        *b = len;
    }
    let next = (idx + 1) % MAX_NETWORK_EVENTS;
    m.network_events_idx = next as u8;
    if next == 0 {
        count(counters::NETWORK_EVENTS_OVERFLOW);
    }
}
