//! DNS tracking inline in the TC path: queries remembered by tuple and id, responses matched
//! to them, per-flow id, flags, latency and name in `aggregated_flows_dns`.

use crate::base::count;
use crate::parse::{Parsed, load};
use aya_ebpf::{
    Global,
    bindings::{BPF_F_NO_PREALLOC, BPF_NOEXIST},
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{HashMap, PerCpuArray},
    programs::TcContext,
};
use netobserv_agent_common::{DNS_NAME_MAX_LEN, DnsFlowId, DnsMetrics, FlowId, counters};

/// 1 when DNS tracking is on.
#[unsafe(no_mangle)]
pub(crate) static ENABLE_DNS_TRACKING: Global<u8> = Global::new(0);
/// Extra DNS port besides 53.
#[unsafe(no_mangle)]
pub(crate) static DNS_PORT: Global<u16> = Global::new(53);

/// DNS enrichment per flow, shared by every CPU (written only by DNS packets, so per-CPU
/// copies would not pay for their memory), drained at eviction. Allocated on demand: kernel
/// memory follows the number of DNS flows.
#[map(name = "aggregated_flows_dns")]
pub(crate) static AGGREGATED_FLOWS_DNS: HashMap<FlowId, DnsMetrics> =
    HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// Scratch space for building a `DnsMetrics` off the 512-byte stack.
#[map(name = "dns_scratch")]
pub(crate) static DNS_SCRATCH: PerCpuArray<DnsMetrics> = PerCpuArray::with_max_entries(1, 0);

/// Outstanding DNS queries: query tuple + id → timestamp.
#[map(name = "dns_flows")]
pub(crate) static DNS_FLOWS: HashMap<DnsFlowId, u64> = HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// Copies the raw QNAME that follows the DNS header straight into map memory, as many bytes as
/// the packet holds (tried in decreasing constant sizes, which the verifier accepts).
#[inline(always)]
pub(crate) fn dns_name(ctx: &TcContext, off: usize, name: &mut [u8; DNS_NAME_MAX_LEN]) {
    for len in [31u32, 16, 8] {
        // SAFETY: `name` is at least `len` bytes of writable map memory; the helper bounds-checks
        // the packet side.
        let ret = unsafe {
            aya_ebpf::helpers::generated::bpf_skb_load_bytes(
                ctx.skb.skb as *const core::ffi::c_void,
                off as u32,
                name.as_mut_ptr() as *mut core::ffi::c_void,
                len,
            )
        };
        if ret == 0 {
            return;
        }
    }
}

/// DNS tracking inline in the TC path: queries are remembered by tuple + id; a response
/// looks up the reversed tuple, yields the latency and records id, flags and name per flow.
#[inline(always)]
pub(crate) fn track_dns(ctx: &TcContext, id: &FlowId, p: &Parsed) {
    let port = DNS_PORT.load();
    if !(id.src_port == 53 || id.dst_port == 53 || id.src_port == port || id.dst_port == port) {
        return;
    }
    let Some(hdr) = load::<[u8; 12]>(ctx, p.payload) else {
        return;
    };
    let dns_id = u16::from_be_bytes([hdr[0], hdr[1]]);
    let dns_flags = u16::from_be_bytes([hdr[2], hdr[3]]);
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if dns_flags & 0x8000 == 0 {
        let q = DnsFlowId {
            src_port: id.src_port,
            dst_port: id.dst_port,
            src_ip: id.src_ip,
            dst_ip: id.dst_ip,
            id: dns_id,
            protocol: id.transport_protocol,
            pad: 0,
        };
        let _ = DNS_FLOWS.insert(&q, &now, u64::from(BPF_NOEXIST));
        return;
    }
    let q = DnsFlowId {
        src_port: id.dst_port,
        dst_port: id.src_port,
        src_ip: id.dst_ip,
        dst_ip: id.src_ip,
        id: dns_id,
        protocol: id.transport_protocol,
        pad: 0,
    };
    let (latency, errno) = match DNS_FLOWS.get_ptr(&q) {
        Some(ts) => {
            // SAFETY: value pointer from a successful lookup.
            let ts = unsafe { *ts };
            let _ = DNS_FLOWS.remove(&q);
            (now.saturating_sub(ts), 0)
        }
        None => (0, 2 /* ENOENT */),
    };
    if let Some(m) = AGGREGATED_FLOWS_DNS.get_ptr_mut(id) {
        // SAFETY: value of a successful lookup, valid for this run (shared: DNS packets of one
        // flow seldom race, and a racing write leaves one of two valid readings).
        let m = unsafe { &mut *m };
        m.end_mono_time_ts = now;
        m.id = dns_id;
        m.flags = dns_flags;
        if latency > m.latency {
            m.latency = latency;
        }
        m.errno = errno;
        return;
    }
    let Some(m) = DNS_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU scratch slot of this CPU, exclusively used for the rest of this run.
    let m = unsafe { &mut *m };
    m.start_mono_time_ts = now;
    m.end_mono_time_ts = now;
    m.latency = latency;
    m.id = dns_id;
    m.flags = dns_flags;
    m.eth_protocol = p.eth_protocol;
    m.errno = errno;
    m.pad = 0;
    m.name = [0; DNS_NAME_MAX_LEN];
    dns_name(ctx, p.payload + 12, &mut m.name);
    if AGGREGATED_FLOWS_DNS.insert(id, &*m, 0).is_err() {
        count(counters::HASHMAP_FAIL_UPDATE_DNS);
    }
}
