//! Packet capture (upstream's PCA, loaded and attached only when `ENABLE_PCA=true`): classifiers
//! that copy the first `PCA_SNAPLEN` bytes of every packet the flow filter rules keep (every
//! frame when no rule is set) into the `packet_record` ring buffer, after a
//! `netobserv_agent_common::capture::PacketMeta`. They never alter traffic.
//!
//! Ring records need a size the verifier knows, so each packet takes the smallest of a fixed set
//! of record sizes that holds its bytes (`RECORD_CLASSES`): one copy, straight from the packet
//! into the ring, and at most a third of a record unused. A full ring loses the packet and
//! counts it (`PCA_LOST`); user space reports it.

use crate::base::count;
use crate::filter::{ENABLE_FLOWS_FILTERING, HAS_FILTER_SAMPLING, Verdict, filter};
use crate::flow::KeyBuf;
use crate::monitor::{SAMPLING, TCX_NEXT};
use crate::parse::parse;
use aya_ebpf::{
    Global,
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP, TC_ACT_OK},
    helpers::{bpf_get_prandom_u32, bpf_ktime_get_ns, bpf_skb_load_bytes},
    macros::{classifier, map},
    maps::RingBuf,
    programs::TcContext,
};
use core::mem::size_of;
use netobserv_agent_common::capture::{DEFAULT_SNAPLEN, PacketMeta, RECORD_CLASSES};
use netobserv_agent_common::{DIRECTION_EGRESS, DIRECTION_INGRESS, counters};

/// Captured packets for user space; sized by user space (`PCA_RINGBUF_BYTES`).
#[map(name = "packet_record")]
static PACKET_RECORD: RingBuf = RingBuf::with_byte_size(1 << 12, 0);

/// Bytes copied per packet at most (`PCA_SNAPLEN`); set by user space before load.
#[unsafe(no_mangle)]
static PCA_SNAPLEN: Global<u32> = Global::new(DEFAULT_SNAPLEN);

/// log2 of the step of waiting bytes in `packet_record` at which a record wakes user space up
/// (a quarter of the ring). Set by user space; 0 = never (user space only polls).
#[unsafe(no_mangle)]
static PCA_WAKEUP_SHIFT: Global<u32> = Global::new(0);

/// One ring record holding up to `N` bytes of a packet.
#[repr(C)]
struct Record<const N: usize> {
    meta: PacketMeta,
    data: [u8; N],
}

/// Whether sampling keeps this packet (1 in `rate`; 0 or 1: all); counts what it skips.
#[inline(always)]
fn sampled_in(rate: u32) -> bool {
    // SAFETY: helper without preconditions.
    if rate > 1 && unsafe { bpf_get_prandom_u32() } % rate != 0 {
        count(counters::SAMPLED_OUT);
        return false;
    }
    true
}

/// Copies one packet seen in `direction` to user space when sampling and the filter keep it.
#[inline(always)]
fn capture(ctx: &TcContext, direction: u8) {
    let mut sampling = SAMPLING.load();
    let filter_sampling = HAS_FILTER_SAMPLING.load() != 0;
    if !filter_sampling && !sampled_in(sampling) {
        return;
    }
    if ENABLE_FLOWS_FILTERING.load() != 0 {
        // The rules speak of addresses, ports and protocols: a frame that is not IP matches none.
        let mut key = KeyBuf::default();
        let Some(p) = parse(ctx, &mut key) else {
            return;
        };
        let (verdict, rule_sampling) = filter::<true>(&key.id, p.eth_protocol, direction, p.flags);
        if verdict == Verdict::Skip {
            return;
        }
        if rule_sampling != 0 {
            sampling = rule_sampling;
        }
        if filter_sampling && !sampled_in(sampling) {
            return;
        }
    }
    let len = ctx.len();
    let snap = PCA_SNAPLEN.load();
    let meta = PacketMeta {
        // SAFETY: helper without preconditions.
        timestamp: unsafe { bpf_ktime_get_ns() },
        len,
        cap_len: if len < snap { len } else { snap },
        // SAFETY: reading a field of the context's __sk_buff is allowed for TC programs.
        if_index: unsafe { (*ctx.skb.skb).ifindex },
        direction,
        pad: [0; 3],
    };
    if meta.cap_len == 0 {
        return;
    }
    let sent = copy_in_class(ctx, &meta);
    count(if sent {
        counters::PCA_CAPTURED
    } else {
        counters::PCA_LOST
    });
}

/// Writes the packet into a record of the smallest class that holds `meta.cap_len` bytes. False
/// when the ring was full or the copy failed.
#[inline(always)]
fn copy_in_class(ctx: &TcContext, meta: &PacketMeta) -> bool {
    macro_rules! classes {
        ($($n:literal)*) => {
            // The classes user space sizes records by, checked at build time.
            const LISTED: &[u32] = &[$($n),*];
            const _: () = assert!(same_classes(LISTED));
            $(if meta.cap_len <= $n {
                return emit::<$n>(ctx, meta);
            })*
        };
    }
    classes!(64 96 128 192 256 384 512 768 1024 1536 2048 3072 4096 6144 8192 12288 16384
        24576 32768 49152 65536);
    false
}

/// Whether `listed` is `RECORD_CLASSES`.
const fn same_classes(listed: &[u32]) -> bool {
    if listed.len() != RECORD_CLASSES.len() {
        return false;
    }
    let mut i = 0;
    while i < listed.len() {
        if listed[i] != RECORD_CLASSES[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Reserves a record of `N` data bytes, copies the packet's first `meta.cap_len` (≤ `N`) bytes
/// into it and submits it, waking user space only when the waiting bytes cross a multiple of a
/// quarter of the ring (see `ring::ring_event` for why).
#[inline(always)]
fn emit<const N: usize>(ctx: &TcContext, meta: &PacketMeta) -> bool {
    let Some(mut e) = PACKET_RECORD.reserve::<Record<N>>(0) else {
        return false;
    };
    let rec = e.as_mut_ptr();
    // Clamped into 1..=N on the very register passed to the helper, which must not write past
    // the record and refuses a zero length. `black_box` keeps the compiler from dropping the
    // clamp as redundant with the class test above, which it proves on another register the
    // verifier does not connect to this one.
    let mut n = core::hint::black_box(meta.cap_len);
    if n > N as u32 {
        n = N as u32;
    }
    if n == 0 {
        n = 1;
    }
    // SAFETY: `rec` is a reserved record of `Record<N>`; `n` ≤ N bytes go into its data, and the
    // skb pointer is the context's.
    let r = unsafe {
        (*rec).meta = *meta;
        bpf_skb_load_bytes(ctx.skb.skb.cast(), 0, (*rec).data.as_mut_ptr().cast(), n)
    };
    if r != 0 {
        e.discard(u64::from(BPF_RB_NO_WAKEUP));
        return false;
    }
    let shift = PCA_WAKEUP_SHIFT.load();
    let waiting = PACKET_RECORD.query(u64::from(BPF_RB_AVAIL_DATA));
    let before = waiting.saturating_sub(size_of::<Record<N>>() as u64 + 8);
    let wake = if shift != 0 && (waiting >> shift) != (before >> shift) {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    e.submit(u64::from(wake));
    true
}

/// Legacy TC (clsact) ingress capture.
#[classifier]
pub fn tc_ingress_pca_parse(ctx: TcContext) -> i32 {
    capture(&ctx, DIRECTION_INGRESS);
    TC_ACT_OK
}

/// Legacy TC (clsact) egress capture.
#[classifier]
pub fn tc_egress_pca_parse(ctx: TcContext) -> i32 {
    capture(&ctx, DIRECTION_EGRESS);
    TC_ACT_OK
}

/// TCX ingress capture; lets later programs in the chain run.
#[classifier]
pub fn tcx_ingress_pca_parse(ctx: TcContext) -> i32 {
    capture(&ctx, DIRECTION_INGRESS);
    TCX_NEXT
}

/// TCX egress capture; lets later programs in the chain run.
#[classifier]
pub fn tcx_egress_pca_parse(ctx: TcContext) -> i32 {
    capture(&ctx, DIRECTION_EGRESS);
    TCX_NEXT
}
