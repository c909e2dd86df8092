//! IPsec: whether the kernel's IPsec (xfrm) layer encrypted or decrypted a flow's packets, and
//! the return code when it failed. `xfrm_output(sk, skb)` runs before an outgoing packet is
//! encrypted, `xfrm_input(skb, nexthdr, spi, encap_type)` when an ESP/AH packet arrives; each
//! gets an entry and a return hook. The entry parses the packet the skb holds and remembers its
//! flow until the return hook, which writes the result into `additional_flow_metrics` (shared
//! with FlowRTT, as upstream): `ipsec_encrypted` 1 on success, else 0 with the error in
//! `ipsec_encrypted_ret`. An error stays for the rest of the eviction period, so a later
//! success cannot hide it.
//!
//! Two attach variants share the bodies: `fentry`/`fexit` (preferred; the pending flow is keyed
//! by the skb pointer, which a nested call on another packet cannot reuse, and the exit program
//! reads the return value from its context) and `kprobe`/`kretprobe` (upstream's method; the
//! return probe has no arguments, so the pending flow is keyed by task, as upstream). User space
//! picks one at run time.
//!
//! Every `sk_buff` field is read with `bpf_probe_read_kernel`: kprobe arguments are untyped.

use crate::base::kread;
use crate::drops::{OFF_SKB_HEAD, OFF_SKB_NETWORK_HEADER};
use crate::parse::kernel_headers;
use crate::rtt::ADDITIONAL_FLOW_METRICS;
use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    macros::{fentry, fexit, kprobe, kretprobe, map},
    maps::HashMap,
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext},
};
use netobserv_agent_common::{AdditionalMetrics, FlowId};

/// A flow between the entry and the return hook of one call.
#[repr(C)]
#[derive(Clone, Copy)]
struct Pending {
    id: FlowId,
    eth_protocol: u16,
    pad: [u8; 6],
}

/// Pending inbound flows (`xfrm_input`), keyed by skb (fentry) or task (kprobe). An entry only
/// lives for one call, so the map holds the calls in flight at once; user space shrinks it to 1
/// entry when IPsec tracking is off.
#[map(name = "ipsec_ingress_map")]
static IPSEC_INGRESS_MAP: HashMap<u64, Pending> =
    HashMap::with_max_entries(16384, BPF_F_NO_PREALLOC);

/// Pending outbound flows (`xfrm_output`), as [`IPSEC_INGRESS_MAP`].
#[map(name = "ipsec_egress_map")]
static IPSEC_EGRESS_MAP: HashMap<u64, Pending> =
    HashMap::with_max_entries(16384, BPF_F_NO_PREALLOC);

/// `xfrm_input` entry, fentry variant: `skb` is argument 0.
#[fentry(function = "xfrm_input")]
pub fn xfrm_input_fentry(ctx: FEntryContext) -> i32 {
    let skb: *const u8 = ctx.arg(0);
    let _ = enter(&IPSEC_INGRESS_MAP, skb as u64, skb);
    0
}

/// `xfrm_input` return, fexit variant: the return value follows the 4 arguments.
#[fexit(function = "xfrm_input")]
pub fn xfrm_input_fexit(ctx: FExitContext) -> i32 {
    let skb: *const u8 = ctx.arg(0);
    let ret: i32 = ctx.arg(4);
    let _ = leave(&IPSEC_INGRESS_MAP, skb as u64, ret);
    0
}

/// `xfrm_output` entry, fentry variant: `skb` is argument 1.
#[fentry(function = "xfrm_output")]
pub fn xfrm_output_fentry(ctx: FEntryContext) -> i32 {
    let skb: *const u8 = ctx.arg(1);
    let _ = enter(&IPSEC_EGRESS_MAP, skb as u64, skb);
    0
}

/// `xfrm_output` return, fexit variant: the return value follows the 2 arguments.
#[fexit(function = "xfrm_output")]
pub fn xfrm_output_fexit(ctx: FExitContext) -> i32 {
    let skb: *const u8 = ctx.arg(1);
    let ret: i32 = ctx.arg(2);
    let _ = leave(&IPSEC_EGRESS_MAP, skb as u64, ret);
    0
}

/// `xfrm_input` entry, kprobe variant (upstream's).
#[kprobe(function = "xfrm_input")]
pub fn xfrm_input_kprobe(ctx: ProbeContext) -> u32 {
    if let Some(skb) = ctx.arg::<*const u8>(0) {
        let _ = enter(&IPSEC_INGRESS_MAP, task(), skb);
    }
    0
}

/// `xfrm_input` return, kretprobe variant.
#[kretprobe(function = "xfrm_input")]
pub fn xfrm_input_kretprobe(ctx: RetProbeContext) -> u32 {
    let _ = leave(&IPSEC_INGRESS_MAP, task(), ctx.ret::<i32>());
    0
}

/// `xfrm_output` entry, kprobe variant.
#[kprobe(function = "xfrm_output")]
pub fn xfrm_output_kprobe(ctx: ProbeContext) -> u32 {
    if let Some(skb) = ctx.arg::<*const u8>(1) {
        let _ = enter(&IPSEC_EGRESS_MAP, task(), skb);
    }
    0
}

/// `xfrm_output` return, kretprobe variant.
#[kretprobe(function = "xfrm_output")]
pub fn xfrm_output_kretprobe(ctx: RetProbeContext) -> u32 {
    let _ = leave(&IPSEC_EGRESS_MAP, task(), ctx.ret::<i32>());
    0
}

/// The calling task's key (`pid_tgid`), for the kprobe pair.
#[inline(always)]
fn task() -> u64 {
    bpf_get_current_pid_tgid()
}

/// Parses the packet `skb` holds (from its network header) and remembers its flow under `key`.
#[inline(always)]
fn enter(map: &HashMap<u64, Pending>, key: u64, skb: *const u8) -> Option<()> {
    let head_off = OFF_SKB_HEAD.load();
    if head_off == 0 || skb.is_null() {
        return None;
    }
    let head: u64 = kread(skb, head_off)?;
    let nh: u16 = kread(skb, OFF_SKB_NETWORK_HEADER.load())?;
    let net = (head as *const u8).wrapping_add(nh as usize);
    let h = kernel_headers(net).ok()?;
    let p = Pending {
        id: h.key.id,
        eth_protocol: h.eth_protocol,
        pad: [0; 6],
    };
    map.insert(&key, &p, 0).ok()
}

/// Takes the flow remembered under `key` and records the call's result `ret` for it.
#[inline(always)]
fn leave(map: &HashMap<u64, Pending>, key: u64, ret: i32) -> Option<()> {
    // SAFETY: the value is copied out at once, before the entry is removed.
    let p = unsafe { *map.get(&key)? };
    let _ = map.remove(&key);
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(m) = ADDITIONAL_FLOW_METRICS.get_ptr_mut(&p.id) {
        // SAFETY: value of a successful lookup, valid for this run (shared: plain stores; a
        // racing CPU writes its own, also valid, result).
        let m = unsafe { &mut *m };
        if now > m.end_mono_time_ts {
            m.end_mono_time_ts = now;
        }
        if ret != 0 {
            m.ipsec_encrypted = 0;
            m.ipsec_encrypted_ret = ret;
        } else if m.ipsec_encrypted_ret == 0 {
            m.ipsec_encrypted = 1;
        }
    } else {
        let m = AdditionalMetrics {
            start_mono_time_ts: now,
            end_mono_time_ts: now,
            eth_protocol: p.eth_protocol,
            ipsec_encrypted: u8::from(ret == 0),
            ipsec_encrypted_ret: ret,
            ..AdditionalMetrics::default()
        };
        let _ = ADDITIONAL_FLOW_METRICS.insert(&p.id, &m, 0);
    }
    Some(())
}
