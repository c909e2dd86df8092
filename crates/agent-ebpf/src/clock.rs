//! Time stamps of the per-packet path and the tracing hooks, cheaper than the precise clock
//! where a tick's precision is enough.

use aya_ebpf::{
    Global,
    helpers::{bpf_jiffies64, bpf_ktime_get_coarse_ns, bpf_ktime_get_ns},
    macros::map,
    maps::PerCpuArray,
};

/// 1 when the kernel offers `bpf_ktime_get_coarse_ns` (probed by user space; read-only data, so
/// on older kernels the verifier prunes the call and never sees the unknown helper).
#[unsafe(no_mangle)]
pub(crate) static COARSE_CLOCK: Global<u8> = Global::new(0);

/// The time stamped on a packet of an existing flow: `CLOCK_MONOTONIC` as of the last timer tick
/// where the kernel has the coarse helper, the precise clock otherwise. Reading the precise
/// clock goes through the clocksource's indirect `read` call; in a VM with retpolines it measured
/// 26 ns of the 78 ns an established-flow packet cost (`BPF_PROG_TEST_RUN`), for a precision the
/// millisecond record fields barely use. The flow's first packet still reads the precise clock,
/// so `TimeFlowStart` is exact and `TimeFlowEnd` trails the last packet by at most one tick
/// (4 ms at `HZ=250`); user space keeps end ≥ start.
#[inline(always)]
pub(crate) fn tick_now() -> u64 {
    if COARSE_CLOCK.load() != 0 {
        // SAFETY: helper without preconditions (kernel 5.11+, checked by user space).
        unsafe { bpf_ktime_get_coarse_ns() }
    } else {
        // SAFETY: helper without preconditions.
        unsafe { bpf_ktime_get_ns() }
    }
}

/// This CPU's last precise clock reading in the tracing hooks and the `jiffies` it was read at.
#[map(name = "trace_clock")]
static TRACE_CLOCK: PerCpuArray<[u64; 2]> = PerCpuArray::with_max_entries(1, 0);

/// A per-tick stamp for the tracing hooks (drops, RTT), where `bpf_ktime_get_coarse_ns` is not
/// allowed: the precise clock is read at most once per tick per CPU, then reused while
/// `jiffies` (an inlined load) stays the same.
#[inline(always)]
pub(crate) fn trace_tick_now() -> u64 {
    // SAFETY: helpers without preconditions; the slot is this CPU's.
    unsafe {
        let j = bpf_jiffies64();
        if let Some(c) = TRACE_CLOCK.get_ptr_mut(0) {
            if (*c)[0] == j && (*c)[1] != 0 {
                return (*c)[1];
            }
            let now = bpf_ktime_get_ns();
            *c = [j, now];
            return now;
        }
        bpf_ktime_get_ns()
    }
}
