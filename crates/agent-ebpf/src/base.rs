//! Primitives every kernel module uses: protocol constants, the per-CPU global counters, atomic
//! adds, volatile slot access and reads of kernel memory.

use aya_ebpf::{helpers::bpf_probe_read_kernel, macros::map, maps::PerCpuArray};
use core::intrinsics::AtomicOrdering;
use netobserv_agent_common::counters;

/// `EEXIST`: another CPU inserted the same key first.
pub(crate) const EEXIST: i32 = 17;

pub(crate) const ETH_HLEN: usize = 14;
pub(crate) const IPPROTO_ICMP: u8 = 1;
pub(crate) const IPPROTO_TCP: u8 = 6;
pub(crate) const IPPROTO_UDP: u8 = 17;
pub(crate) const IPPROTO_ICMPV6: u8 = 58;
pub(crate) const IPPROTO_SCTP: u8 = 132;

pub(crate) const AF_INET: u16 = 2;
pub(crate) const AF_INET6: u16 = 10;

/// Per-CPU counters indexed by `netobserv_agent_common::counters`.
#[map(name = "global_counters")]
static GLOBAL_COUNTERS: PerCpuArray<u32> = PerCpuArray::with_max_entries(counters::MAX_COUNTERS, 0);

/// Bumps one global counter (per-CPU slot, so no other CPU writes it).
#[inline(always)]
pub(crate) fn count(idx: u32) {
    if let Some(p) = GLOBAL_COUNTERS.get_ptr_mut(idx) {
        // SAFETY: per-CPU array slot of this CPU.
        unsafe { *p = (*p).wrapping_add(1) };
    }
}

/// Adds `n` to one global counter (per-CPU slot).
#[inline(always)]
pub(crate) fn count_n(idx: u32, n: u32) {
    if let Some(p) = GLOBAL_COUNTERS.get_ptr_mut(idx) {
        // SAFETY: per-CPU array slot of this CPU.
        unsafe { *p = (*p).wrapping_add(n) };
    }
}

/// Adds `v` atomically (BPF_XADD); `fetch_add` does not lower on this target.
#[inline(always)]
pub(crate) fn xadd_u64(p: *mut u64, v: u64) {
    // SAFETY: `p` points into a map value returned by the kernel, valid for this program run.
    unsafe { core::intrinsics::atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, v) };
}

/// 32-bit variant of [`xadd_u64`].
#[inline(always)]
pub(crate) fn xadd_u32(p: *mut u32, v: u32) {
    // SAFETY: as for `xadd_u64`.
    unsafe { core::intrinsics::atomic_xadd::<u32, u32, { AtomicOrdering::Relaxed }>(p, v) };
}

/// Volatile store: keeps the order of the cache-slot writes as written, since the flush program
/// can interrupt a classifier on the same CPU (it runs in the IPI of `BPF_F_TEST_RUN_ON_CPU`)
/// and relies on `busy` being set before, and cleared after, every other write.
#[inline(always)]
pub(crate) fn vw<T>(p: *mut T, v: T) {
    // SAFETY: `p` points into a map value of this CPU, valid for this program run.
    unsafe { core::ptr::write_volatile(p, v) };
}

/// Volatile load; see [`vw`].
#[inline(always)]
pub(crate) fn vr<T: Copy>(p: *const T) -> T {
    // SAFETY: as for `vw`.
    unsafe { core::ptr::read_volatile(p) }
}

/// Reads a `T` at `base + off` in kernel memory.
#[inline(always)]
pub(crate) fn kread<T>(base: *const u8, off: u32) -> Option<T> {
    // SAFETY: bpf_probe_read_kernel validates the address; a fault returns an error.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(off as usize) as *const T) }.ok()
}

/// Reads a `T` at `base + off` of a kernel object the hook received typed (`sk_buff`, `sock`):
/// with `DIRECT`, a plain load, which the verifier checks against the type's BTF (`off` comes
/// from read-only data, so it is a known constant there); otherwise through
/// `bpf_probe_read_kernel`, one helper call per field (about 10 ns each).
#[inline(always)]
pub(crate) fn field<const DIRECT: bool, T: Copy>(base: *const u8, off: u32) -> Option<T> {
    if DIRECT {
        // SAFETY: `base` is a BTF-typed pointer argument of the tracepoint (or a pointer field
        // loaded from one) and `off` the offset of a `T`-sized member, from the kernel's BTF; the
        // verifier rejects the program otherwise, and faults on such loads are handled by the
        // kernel's exception table.
        Some(unsafe { core::ptr::read_volatile(base.wrapping_add(off as usize) as *const T) })
    } else {
        kread(base, off)
    }
}
