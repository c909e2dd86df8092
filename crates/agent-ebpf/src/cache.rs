//! The per-CPU flow cache in front of `aggregated_flows` (see
//! `netobserv_agent_common::CachedFlow`) and the flush program that empties it before evictions.

use crate::base::{vr, vw};
use crate::clock::COARSE_CLOCK;
use crate::flow::{Delta, KeyBuf};
use crate::flowmap::add_to_flow;
use crate::parse::{Parsed, load};
use aya_ebpf::{
    helpers::{bpf_jiffies64, bpf_ktime_get_coarse_ns, bpf_ktime_get_ns},
    macros::map,
    maps::PerCpuArray,
    programs::{RawTracePointContext, TcContext},
};
use netobserv_agent_common::{CachedFlow, FLOW_CACHE_FLUSH_CHUNK, FLOW_CACHE_SLOTS};

/// Per-CPU flow cache in front of `aggregated_flows` (see `netobserv_agent_common::CachedFlow`).
#[map(name = "flow_cache")]
pub(crate) static FLOW_CACHE: PerCpuArray<CachedFlow> = PerCpuArray::with_max_entries(FLOW_CACHE_SLOTS, 0);

/// Per-CPU switch of the flow cache: 1 = in use. User space sets it only once the flush program
/// has run on every CPU, so a kernel that cannot flush never caches.
#[map(name = "flow_cache_ctl")]
pub(crate) static FLOW_CACHE_CTL: PerCpuArray<u32> = PerCpuArray::with_max_entries(1, 0);

/// Whether slot `s` holds the flow `key` seen on `ifindex` in `direction`.
#[inline(always)]
pub(crate) fn cache_holds(s: *const CachedFlow, key: &KeyBuf, ifindex: u32, direction: u8) -> bool {
    // SAFETY: `s` is this CPU's slot; both keys are 40 bytes, 8-aligned.
    unsafe {
        let a = s as *const u64;
        let b = key as *const KeyBuf as *const u64;
        (*s).valid != 0
            && (*s).if_index == ifindex
            && (*s).direction == direction
            && a.read() == b.read()
            && a.add(1).read() == b.add(1).read()
            && a.add(2).read() == b.add(2).read()
            && a.add(3).read() == b.add(3).read()
            && a.add(4).read() == b.add(4).read()
    }
}

/// Adds one packet to the slot (plain stores: the slot belongs to this CPU). With the tick
/// clock, the stamp is only re-read when `jiffies` (an inlined load) has moved since the last
/// packet: the clock would return the same value within a tick.
#[inline(always)]
pub(crate) fn cache_add(s: *mut CachedFlow, len: u64, p: &Parsed, sampling: u32) {
    // SAFETY: `s` is this CPU's slot, valid for this program run.
    unsafe {
        vw(&raw mut (*s).busy, 1);
        let n = vr(&raw const (*s).packets);
        if COARSE_CLOCK.load() != 0 {
            let j = bpf_jiffies64();
            if n == 0 || j != vr(&raw const (*s).last_jiffies) {
                let now = bpf_ktime_get_coarse_ns();
                vw(&raw mut (*s).last_ts, now);
                vw(&raw mut (*s).last_jiffies, j);
                if n == 0 {
                    vw(&raw mut (*s).first_ts, now);
                }
            }
        } else {
            let now = bpf_ktime_get_ns();
            vw(&raw mut (*s).last_ts, now);
            if n == 0 {
                vw(&raw mut (*s).first_ts, now);
            }
        }
        vw(&raw mut (*s).packets, n + 1);
        vw(&raw mut (*s).bytes, vr(&raw const (*s).bytes) + len);
        vw(&raw mut (*s).flags, vr(&raw const (*s).flags) | p.flags);
        vw(&raw mut (*s).dscp, p.dscp);
        vw(&raw mut (*s).sampling, sampling);
        vw(&raw mut (*s).busy, 0);
    }
}

/// Gives an idle slot (nothing pending since the last flush) to a flow whose counting interface
/// is `ifindex`, starting its sums at `d` (the current packet, or nothing when the packet was
/// already counted in the shared map). Returns false when another flow's sums occupy the slot.
#[inline(always)]
pub(crate) fn cache_claim(
    ctx: &TcContext,
    s: *mut CachedFlow,
    key: &KeyBuf,
    ifindex: u32,
    direction: u8,
    eth_protocol: u16,
    d: &Delta,
) -> bool {
    // SAFETY: `s` is this CPU's slot, valid for this program run; the key is 40 bytes, 8-aligned.
    unsafe {
        if vr(&raw const (*s).valid) != 0 && vr(&raw const (*s).packets) != 0 {
            return false;
        }
        let macs: [u8; 12] = load(ctx, 0).unwrap_or([0; 12]);
        vw(&raw mut (*s).busy, 1);
        vw(&raw mut (*s).packets, 0);
        let a = s as *mut u64;
        let b = key as *const KeyBuf as *const u64;
        for i in 0..5 {
            vw(a.add(i), b.add(i).read());
        }
        vw(&raw mut (*s).first_ts, d.end);
        vw(&raw mut (*s).last_ts, d.end);
        vw(&raw mut (*s).bytes, d.bytes);
        vw(&raw mut (*s).flags, d.flags);
        vw(&raw mut (*s).dscp, d.dscp);
        vw(&raw mut (*s).sampling, d.sampling);
        vw(&raw mut (*s).if_index, ifindex);
        vw(&raw mut (*s).direction, direction);
        vw(&raw mut (*s).eth_protocol, eth_protocol);
        vw(
            &raw mut (*s).dst_mac,
            [macs[0], macs[1], macs[2], macs[3], macs[4], macs[5]],
        );
        vw(
            &raw mut (*s).src_mac,
            [macs[6], macs[7], macs[8], macs[9], macs[10], macs[11]],
        );
        vw(&raw mut (*s).valid, 1);
        vw(&raw mut (*s).packets, d.packets);
        vw(&raw mut (*s).busy, 0);
    }
    true
}

/// Moves the sums of this CPU's cache slots `start..start + FLOW_CACHE_FLUSH_CHUNK` into the
/// shared flow map, with the per-packet path's rules. Never attached: user space runs it on
/// every CPU with `BPF_PROG_TEST_RUN` before each eviction (`args[0]` = `start`). While it
/// runs, this CPU's classifiers bypass the cache (`flow_cache_ctl` = 0); a slot a classifier
/// was updating when the run interrupted it is left alone and counted in the return value, so
/// user space runs the chunk again. Returns `busy | flushed << 16` (slots left busy, slots whose
/// sums were moved), or `u32::MAX` when the control map is missing.
///
/// Declared by hand rather than with `#[raw_tracepoint]`, whose wrapper discards the return value.
#[unsafe(no_mangle)]
#[unsafe(link_section = "raw_tp/netobserv_flush_flow_cache")]
pub fn flush_flow_cache(ctx: *mut core::ffi::c_void) -> u32 {
    let start: u64 = RawTracePointContext::new(ctx).arg(0);
    let Some(ctl) = FLOW_CACHE_CTL.get_ptr_mut(0) else {
        return u32::MAX;
    };
    let prev = vr(ctl);
    vw(ctl, 0);
    let mut skipped = 0;
    let mut flushed = 0;
    for j in 0..FLOW_CACHE_FLUSH_CHUNK {
        let Some(s) = FLOW_CACHE.get_ptr_mut((start as u32).wrapping_add(j)) else {
            break;
        };
        // SAFETY: this CPU's slot; nothing else runs on this CPU until the program returns.
        unsafe {
            if vr(&raw const (*s).busy) != 0 {
                skipped += 1;
                continue;
            }
            let n = vr(&raw const (*s).packets);
            if vr(&raw const (*s).valid) == 0 || n == 0 {
                continue;
            }
            let id = (*s).id;
            let d = Delta {
                packets: n,
                bytes: (*s).bytes,
                flags: (*s).flags,
                dscp: (*s).dscp,
                sampling: (*s).sampling,
                end: (*s).last_ts,
            };
            let (src, dst) = ((*s).src_mac, (*s).dst_mac);
            add_to_flow(
                &id,
                (*s).if_index,
                (*s).direction,
                (*s).eth_protocol,
                &d,
                (*s).first_ts,
                || {
                    [
                        dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], src[0], src[1], src[2],
                        src[3], src[4], src[5],
                    ]
                },
            );
            vw(&raw mut (*s).packets, 0);
            vw(&raw mut (*s).bytes, 0);
            vw(&raw mut (*s).flags, 0);
            flushed += 1;
        }
    }
    vw(ctl, prev);
    skipped | (flushed << 16)
}
