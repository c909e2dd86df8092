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
    bindings::{BPF_F_NO_PREALLOC, BPF_NOEXIST, TC_ACT_OK},
    helpers::bpf_probe_read_kernel,
    helpers::{bpf_get_prandom_u32, bpf_jiffies64, bpf_ktime_get_coarse_ns, bpf_ktime_get_ns},
    macros::{btf_tracepoint, classifier, fentry, map},
    maps::{HashMap, LpmTrie, PerCpuArray, PerCpuHashMap, lpm_trie::Key},
    programs::{BtfTracePointContext, FEntryContext, RawTracePointContext, TcContext},
};
use core::{intrinsics::AtomicOrdering, mem::size_of};
mod netevents;

use netobserv_agent_common::{
    AdditionalMetrics, CachedFlow, DIRECTION_ANY, DIRECTION_BOTH, DIRECTION_EGRESS,
    DIRECTION_INGRESS, DNS_NAME_MAX_LEN, DnsFlowId, DnsMetrics, ETH_P_IP, ETH_P_IPV6,
    FLOW_CACHE_FLUSH_CHUNK, FLOW_CACHE_SLOTS, FLOW_CACHE_SLOTS_LOG2, FilterValue, FlowId,
    FlowMetrics, MAX_FILTER_ENTRIES, MAX_OBSERVED_INTERFACES, PktDropMetrics, counters,
    filter_action, tcp_flag,
};

mod xlat;

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

/// Kernel struct offsets for the RTT hook, from the running kernel's BTF (see
/// `netobserv_agent_common::globals`). Zero means unknown; the hook then does nothing.
#[unsafe(no_mangle)]
static OFF_SKC_FAMILY: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_DADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_RCV_SADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_DPORT: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_NUM: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_V6_DADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_V6_RCV_SADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_TCP_SRTT_US: Global<u32> = Global::new(0);

#[unsafe(no_mangle)]
static OFF_SKB_HEAD: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKB_NETWORK_HEADER: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKB_LEN: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKB_IIF: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKB_SK: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static OFF_SKC_STATE: Global<u32> = Global::new(0);

/// Drops per flow; merged by user space at eviction. Preallocated (kernel memory: entries ×
/// (~100 B + CPUs × 32 B)): with on-demand allocation, every new dropped flow paid a per-CPU
/// allocation of ~15 µs, which made a flood of drops at closed ports the agent's costliest path.
#[map(name = "aggregated_flows_pkt_drop")]
static AGGREGATED_FLOWS_PKT_DROP: PerCpuHashMap<FlowId, PktDropMetrics> =
    PerCpuHashMap::with_max_entries(65536, 0);

/// RTT (and, upstream, IPsec) enrichment per flow; merged by user space at eviction.
/// Preallocated, like `aggregated_flows_pkt_drop` (one new entry per connection and eviction).
#[map(name = "additional_flow_metrics")]
static ADDITIONAL_FLOW_METRICS: PerCpuHashMap<FlowId, AdditionalMetrics> =
    PerCpuHashMap::with_max_entries(65536, 0);

/// 1 when DNS tracking is on.
#[unsafe(no_mangle)]
static ENABLE_DNS_TRACKING: Global<u8> = Global::new(0);
/// Extra DNS port besides 53.
#[unsafe(no_mangle)]
static DNS_PORT: Global<u16> = Global::new(53);

/// DNS enrichment per flow; merged by user space at eviction.
/// Preallocated, like `aggregated_flows_pkt_drop` (each query's random source port is a new flow).
#[map(name = "aggregated_flows_dns")]
static AGGREGATED_FLOWS_DNS: PerCpuHashMap<FlowId, DnsMetrics> =
    PerCpuHashMap::with_max_entries(65536, 0);

/// Scratch space for building a `DnsMetrics` off the 512-byte stack.
#[map(name = "dns_scratch")]
static DNS_SCRATCH: PerCpuArray<DnsMetrics> = PerCpuArray::with_max_entries(1, 0);

/// Outstanding DNS queries: query tuple + id → timestamp.
#[map(name = "dns_flows")]
static DNS_FLOWS: HashMap<DnsFlowId, u64> = HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// The shared flow table. Resized by user space to `CACHE_MAX_FLOWS` before load.
/// Preallocated: a new flow pops a ready element off a per-CPU free list instead of going
/// through the kernel's BPF memory allocator (whose refills raise an IRQ work), which halves
/// the cost of the first packet of a flow.
#[map(name = "aggregated_flows")]
static AGGREGATED_FLOWS: HashMap<FlowId, FlowMetrics> = HashMap::with_max_entries(65536, 0);

/// Per-CPU flow cache in front of `aggregated_flows` (see `netobserv_agent_common::CachedFlow`).
#[map(name = "flow_cache")]
static FLOW_CACHE: PerCpuArray<CachedFlow> = PerCpuArray::with_max_entries(FLOW_CACHE_SLOTS, 0);

/// Per-CPU switch of the flow cache: 1 = in use. User space sets it only once the flush program
/// has run on every CPU, so a kernel that cannot flush never caches.
#[map(name = "flow_cache_ctl")]
static FLOW_CACHE_CTL: PerCpuArray<u32> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU counters indexed by `netobserv_agent_common::counters`.
#[map(name = "global_counters")]
static GLOBAL_COUNTERS: PerCpuArray<u32> = PerCpuArray::with_max_entries(counters::MAX_COUNTERS, 0);

/// Filter rules keyed by CIDR.
#[map(name = "filter_map")]
static FILTER_MAP: LpmTrie<[u8; 16], FilterValue> =
    LpmTrie::with_max_entries(MAX_FILTER_ENTRIES, 0);

/// Peer CIDRs of filter rules that set `peer_ip`/`peer_cidr`.
#[map(name = "peer_filter_map")]
static PEER_FILTER_MAP: LpmTrie<[u8; 16], u8> = LpmTrie::with_max_entries(MAX_FILTER_ENTRIES, 0);

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

/// Verdict of the flow filter for one packet.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Verdict {
    Keep,
    Skip,
}

/// Matches a port criterion: a range (start..=end), two alternatives, or a single port
/// (stored as `port1`). Returns `None` when the rule sets no criterion of this kind.
#[inline(always)]
fn port_match(start: u16, end: u16, p1: u16, p2: u16, port: u16) -> Option<bool> {
    if start != 0 && end != 0 {
        Some(port >= start && port <= end)
    } else if start != 0 {
        Some(port == start)
    } else if p1 != 0 || p2 != 0 {
        Some((p1 != 0 && port == p1) || (p2 != 0 && port == p2))
    } else {
        None
    }
}

/// Builds the LPM key of an address as upstream does: raw 4 bytes for IPv4, 16 for IPv6.
#[inline(always)]
fn filter_key(addr: &[u8; 16], v4: bool) -> Key<[u8; 16]> {
    let mut data = [0u8; 16];
    if v4 {
        data[0] = addr[12];
        data[1] = addr[13];
        data[2] = addr[14];
        data[3] = addr[15];
        Key::new(32, data)
    } else {
        data = *addr;
        Key::new(128, data)
    }
}

/// Evaluates the rule found for `addr`; returns (score > 0, action, rule sampling).
#[inline(always)]
fn eval_rule(
    rule: &FilterValue,
    id: &FlowId,
    peer: &[u8; 16],
    v4: bool,
    direction: u8,
    flags: u16,
) -> bool {
    if rule.do_peer_cidr_lookup != 0 && PEER_FILTER_MAP.get(filter_key(peer, v4)).is_none() {
        return false;
    }
    if rule.protocol != 0 && rule.protocol != id.transport_protocol {
        return false;
    }
    match id.transport_protocol {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => {
            if let Some(false) = port_match(
                rule.dst_port_start,
                rule.dst_port_end,
                rule.dst_port1,
                rule.dst_port2,
                id.dst_port,
            ) {
                return false;
            }
            if let Some(false) = port_match(
                rule.src_port_start,
                rule.src_port_end,
                rule.src_port1,
                rule.src_port2,
                id.src_port,
            ) {
                return false;
            }
            let either_src = port_match(
                rule.port_start,
                rule.port_end,
                rule.port1,
                rule.port2,
                id.src_port,
            );
            let either_dst = port_match(
                rule.port_start,
                rule.port_end,
                rule.port1,
                rule.port2,
                id.dst_port,
            );
            if either_src == Some(false) && either_dst == Some(false) {
                return false;
            }
            if id.transport_protocol == IPPROTO_TCP
                && rule.tcp_flags != 0
                && rule.tcp_flags != u32::from(flags)
            {
                return false;
            }
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            if rule.icmp_set & 1 != 0 && rule.icmp_type != id.icmp_type {
                return false;
            }
            if rule.icmp_set & 2 != 0 && rule.icmp_code != id.icmp_code {
                return false;
            }
        }
        _ => {}
    }
    if u32::from(DIRECTION_ANY) != rule.direction && rule.direction != u32::from(direction) {
        return false;
    }
    // The TC path never sees drops; a drops-only rule cannot match here.
    rule.filter_drops == 0
}

/// Runs the flow filter: looks the source address up, then the destination. Returns the verdict
/// and, when the matching rule has one, its sampling rate.
#[inline(always)]
fn filter(id: &FlowId, eth_protocol: u16, direction: u8, flags: u16) -> (Verdict, u32) {
    let v4 = eth_protocol == ETH_P_IP;
    let mut last_action = filter_action::UNSET;
    let sides: [(&[u8; 16], &[u8; 16]); 2] = [(&id.src_ip, &id.dst_ip), (&id.dst_ip, &id.src_ip)];
    for (addr, peer) in sides {
        if let Some(rule) = FILTER_MAP.get(filter_key(addr, v4)) {
            last_action = rule.action;
            if eval_rule(rule, id, peer, v4, direction, flags) {
                return match rule.action {
                    filter_action::REJECT => {
                        count(counters::FILTER_REJECT);
                        (Verdict::Skip, rule.sample)
                    }
                    _ => {
                        count(counters::FILTER_ACCEPT);
                        (Verdict::Keep, rule.sample)
                    }
                };
            }
        }
    }
    count(counters::FILTER_NOMATCH);
    if last_action == filter_action::REJECT {
        (Verdict::Keep, 0)
    } else {
        (Verdict::Skip, 0)
    }
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
        Ok(()) => true,
        Err(e) if e == -EEXIST => match AGGREGATED_FLOWS.get_ptr_mut(id) {
            Some(m) => update(m, ifindex, direction, d),
            None => {
                count(counters::HASHMAP_FAIL_UPDATE_FLOW);
                false
            }
        },
        Err(_) => {
            count(counters::HASHMAP_FAIL_CREATE_FLOW);
            false
        }
    }
}

/// Volatile store: keeps the order of the cache-slot writes as written, since the flush program
/// can interrupt a classifier on the same CPU (it runs in the IPI of `BPF_F_TEST_RUN_ON_CPU`)
/// and relies on `busy` being set before, and cleared after, every other write.
#[inline(always)]
fn vw<T>(p: *mut T, v: T) {
    // SAFETY: `p` points into a map value of this CPU, valid for this program run.
    unsafe { core::ptr::write_volatile(p, v) };
}

/// Volatile load; see [`vw`].
#[inline(always)]
fn vr<T: Copy>(p: *const T) -> T {
    // SAFETY: as for `vw`.
    unsafe { core::ptr::read_volatile(p) }
}

/// Picks the cache slot of a flow on an interface and direction: Fibonacci hashing of the folded key words
/// (the top bits of the product depend on every input bit).
#[inline(always)]
fn cache_slot(key: &KeyBuf, ifindex: u32, direction: u8) -> u32 {
    let w = key as *const KeyBuf as *const u32;
    let mut h = ifindex ^ (u32::from(direction) << 24);
    for i in 0..10 {
        // SAFETY: the key is 40 bytes, 8-aligned.
        h ^= unsafe { w.add(i).read() }.rotate_left(i as u32 * 3);
    }
    h.wrapping_mul(0x9E37_79B1) >> (32 - FLOW_CACHE_SLOTS_LOG2)
}

/// Whether slot `s` holds the flow `key` seen on `ifindex` in `direction`.
#[inline(always)]
fn cache_holds(s: *const CachedFlow, key: &KeyBuf, ifindex: u32, direction: u8) -> bool {
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
fn cache_add(s: *mut CachedFlow, len: u64, p: &Parsed, sampling: u32) {
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
fn cache_claim(
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
    if ENABLE_DNS_TRACKING.load() != 0 && p.payload != 0 {
        track_dns(ctx, id, &p);
    }
    // SAFETY: reading fields of the context's __sk_buff is allowed for TC programs.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    let len = u64::from(ctx.len());

    // The per-CPU cache first: a flow that owns its slot costs no map lookup and no atomic add.
    let ctl = FLOW_CACHE_CTL.get_ptr(0);
    // SAFETY: per-CPU value of this CPU.
    let cache_on = matches!(ctl, Some(c) if vr(c) == 1);
    let slot = if cache_on {
        FLOW_CACHE.get_ptr_mut(cache_slot(&key, ifindex, direction))
    } else {
        None
    };
    if let Some(s) = slot
        && cache_holds(s, &key, ifindex, direction)
    {
        cache_add(s, len, &p, sampling);
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
    // New flow: the precise clock, and only now the MAC addresses (destination first). It takes
    // a cache slot with its second packet (above): flows of one packet never pay for one.
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

/// Copies the raw QNAME that follows the DNS header straight into map memory, as many bytes as
/// the packet holds (tried in decreasing constant sizes, which the verifier accepts).
#[inline(always)]
fn dns_name(ctx: &TcContext, off: usize, name: &mut [u8; DNS_NAME_MAX_LEN]) {
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
fn track_dns(ctx: &TcContext, id: &FlowId, p: &Parsed) {
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
        // SAFETY: per-CPU value of this CPU.
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

/// Reads a `T` at `base + off` in kernel memory.
#[inline(always)]
fn kread<T>(base: *const u8, off: u32) -> Option<T> {
    // SAFETY: bpf_probe_read_kernel validates the address; a fault returns an error.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(off as usize) as *const T) }.ok()
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// FlowRTT: `tcp_probe` fires for every segment `tcp_rcv_established` handles. The key is the
/// received segment's 5-tuple (remote → local), like the TC flow of that segment; the value keeps
/// the largest smoothed RTT (`srtt_us >> 3`, in ns).
#[btf_tracepoint(function = "tcp_probe")]
pub fn tcp_probe_rtt(ctx: BtfTracePointContext) -> i32 {
    let _ = rtt::<true>(ctx.arg(0));
    0
}

/// FlowRTT on `tcp_probe` reading the socket with `bpf_probe_read_kernel`: the fallback where a
/// verifier refuses the direct loads of [`tcp_probe_rtt`].
#[btf_tracepoint(function = "tcp_probe")]
pub fn tcp_probe_rtt_compat(ctx: BtfTracePointContext) -> i32 {
    let _ = rtt::<false>(ctx.arg(0));
    0
}

/// FlowRTT, preferred variant: `fentry` on `tcp_rcv_established(sk, skb)`, the function that
/// fires `tcp_probe`, so the socket, the key and the value are the same as the tracepoint's.
/// Kernels in lockdown refuse to load it; user space then falls back to [`tcp_probe_rtt`].
#[fentry(function = "tcp_rcv_established")]
pub fn tcp_rcv_fentry_rtt(ctx: FEntryContext) -> i32 {
    let _ = rtt::<true>(ctx.arg(0));
    0
}

/// Reads the smoothed RTT of socket `sk` and keeps the largest per flow (received direction),
/// with direct BTF loads or probe reads (see [`field`]). This runs for every segment a TCP
/// socket receives, ACKs included, on every socket of the node.
#[inline(always)]
fn rtt<const DIRECT: bool>(sk: *const u8) -> Option<()> {
    let srtt_off = OFF_TCP_SRTT_US.load();
    if srtt_off == 0 || sk.is_null() {
        return None;
    }
    let family: u16 = field::<DIRECT, _>(sk, OFF_SKC_FAMILY.load())?;
    let mut id = FlowId::default();
    let eth_protocol = match family {
        AF_INET => {
            let src: [u8; 4] = field::<DIRECT, _>(sk, OFF_SKC_DADDR.load())?;
            let dst: [u8; 4] = field::<DIRECT, _>(sk, OFF_SKC_RCV_SADDR.load())?;
            id.src_ip[10] = 0xff;
            id.src_ip[11] = 0xff;
            id.dst_ip[10] = 0xff;
            id.dst_ip[11] = 0xff;
            id.src_ip[12] = src[0];
            id.src_ip[13] = src[1];
            id.src_ip[14] = src[2];
            id.src_ip[15] = src[3];
            id.dst_ip[12] = dst[0];
            id.dst_ip[13] = dst[1];
            id.dst_ip[14] = dst[2];
            id.dst_ip[15] = dst[3];
            ETH_P_IP
        }
        AF_INET6 => {
            id.src_ip = field::<DIRECT, _>(sk, OFF_SKC_V6_DADDR.load())?;
            id.dst_ip = field::<DIRECT, _>(sk, OFF_SKC_V6_RCV_SADDR.load())?;
            // Dual-stack sockets carry v4-mapped addresses: same key as the IPv4 TC flow.
            let mapped = id.src_ip[..10].iter().all(|b| *b == 0)
                && id.src_ip[10] == 0xff
                && id.src_ip[11] == 0xff;
            if mapped { ETH_P_IP } else { ETH_P_IPV6 }
        }
        _ => return None,
    };
    let dport: u16 = field::<DIRECT, _>(sk, OFF_SKC_DPORT.load())?;
    let num: u16 = field::<DIRECT, _>(sk, OFF_SKC_NUM.load())?;
    id.src_port = u16::from_be(dport);
    id.dst_port = num;
    id.transport_protocol = IPPROTO_TCP;
    // `srtt_us` lies in `tcp_sock`, beyond the `sock` the hook's BTF types the pointer as, so the
    // verifier only allows a probe read there.
    let srtt_us: u32 = kread(sk, srtt_off)?;
    let rtt_ns = u64::from(srtt_us >> 3) * 1000;
    if rtt_ns == 0 {
        return None;
    }
    if let Some(m) = ADDITIONAL_FLOW_METRICS.get_ptr_mut(&id) {
        // SAFETY: per-CPU value of this CPU, valid for this run.
        let m = unsafe { &mut *m };
        let now = trace_tick_now();
        if now > m.end_mono_time_ts {
            m.end_mono_time_ts = now;
        }
        if rtt_ns > m.flow_rtt {
            m.flow_rtt = rtt_ns;
        }
    } else {
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        let m = AdditionalMetrics {
            start_mono_time_ts: now,
            end_mono_time_ts: now,
            flow_rtt: rtt_ns,
            eth_protocol,
            ..AdditionalMetrics::default()
        };
        let _ = ADDITIONAL_FLOW_METRICS.insert(&id, &m, 0);
    }
    Some(())
}

/// `SKB_DROP_REASON_NOT_SPECIFIED`: this value and below (not dropped, consumed) are ignored.
const SKB_DROP_REASON_NOT_SPECIFIED: u32 = 2;

/// PacketDrop: `kfree_skb(skb, location, reason, ...)`. Parses the dropped packet's headers
/// from `skb->head + network_header` and accounts it per flow with its drop reason.
#[btf_tracepoint(function = "kfree_skb")]
pub fn kfree_skb_drop(ctx: BtfTracePointContext) -> i32 {
    let _ = pkt_drop::<true>(&ctx);
    0
}

/// PacketDrop, compatible variant: the same hook reading every `sk_buff` field with
/// `bpf_probe_read_kernel`. User space falls back to it when a kernel's verifier refuses the
/// direct field loads of [`kfree_skb_drop`].
#[btf_tracepoint(function = "kfree_skb")]
pub fn kfree_skb_drop_compat(ctx: BtfTracePointContext) -> i32 {
    let _ = pkt_drop::<false>(&ctx);
    0
}

/// Reads a `T` at `base + off` of a kernel object the hook received typed (`sk_buff`, `sock`):
/// with `DIRECT`, a plain load, which the verifier checks against the type's BTF (`off` comes
/// from read-only data, so it is a known constant there); otherwise through
/// `bpf_probe_read_kernel`, one helper call per field (about 10 ns each).
#[inline(always)]
fn field<const DIRECT: bool, T: Copy>(base: *const u8, off: u32) -> Option<T> {
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

/// A flow key parsed from headers in kernel memory (the drop and NetworkEvents hooks, which get
/// an `sk_buff` rather than packet data).
pub(crate) struct KernelHeaders {
    pub(crate) key: KeyBuf,
    pub(crate) flags: u16,
    pub(crate) eth_protocol: u16,
    /// Whether the transport protocol is one whose ports / ICMP fields the key carries (TCP,
    /// UDP, SCTP, ICMP, ICMPv6); other protocols leave them 0.
    pub(crate) known_l4: bool,
}

/// Why [`kernel_headers`] returned no key.
pub(crate) enum HeadersError {
    /// Neither IPv4 nor IPv6.
    NotIp,
    /// A header could not be read.
    Unreadable,
}

/// Parses the IPv4/IPv6 header at `net` and the transport header after it, with probe reads.
/// One read covers an IPv6 header or an IPv4 header and what follows it (the skb head has tail
/// room and `skb_shared_info` after the data); a failed read retries at IPv4 size.
#[inline(always)]
pub(crate) fn kernel_headers(net: *const u8) -> Result<KernelHeaders, HeadersError> {
    let ip: [u32; 10] = match kread::<[u32; 10]>(net, 0) {
        Some(h) => h,
        None => {
            let h: [u32; 5] = kread(net, 0).ok_or(HeadersError::Unreadable)?;
            [h[0], h[1], h[2], h[3], h[4], 0, 0, 0, 0, 0]
        }
    };
    let mut key = KeyBuf::default();
    let (proto, l4, eth_protocol) = match (ip[0] as u8) >> 4 {
        4 => {
            key.set_u32(2, V4_MAPPED_PREFIX);
            key.set_u32(3, ip[3]);
            key.set_u32(6, V4_MAPPED_PREFIX);
            key.set_u32(7, ip[4]);
            (
                (ip[2] >> 8) as u8,
                net.wrapping_add(((ip[0] & 0x0f) as usize) * 4),
                ETH_P_IP,
            )
        }
        6 => {
            let mut i = 0;
            while i < 8 {
                key.set_u32(i, ip[2 + i]);
                i += 1;
            }
            ((ip[1] >> 16) as u8, net.wrapping_add(40), ETH_P_IPV6)
        }
        _ => return Err(HeadersError::NotIp),
    };
    let id = &mut key.id;
    id.transport_protocol = proto;
    let mut flags = 0;
    let mut known_l4 = true;
    match proto {
        IPPROTO_TCP => {
            let tcp: [u8; 14] = kread(l4, 0).ok_or(HeadersError::Unreadable)?;
            id.src_port = u16::from_be_bytes([tcp[0], tcp[1]]);
            id.dst_port = u16::from_be_bytes([tcp[2], tcp[3]]);
            flags = tcp_flag(tcp[13]);
        }
        IPPROTO_UDP | IPPROTO_SCTP => {
            let p: [u8; 4] = kread(l4, 0).ok_or(HeadersError::Unreadable)?;
            id.src_port = u16::from_be_bytes([p[0], p[1]]);
            id.dst_port = u16::from_be_bytes([p[2], p[3]]);
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            let t: [u8; 2] = kread(l4, 0).ok_or(HeadersError::Unreadable)?;
            id.icmp_type = t[0];
            id.icmp_code = t[1];
        }
        _ => known_l4 = false,
    }
    Ok(KernelHeaders {
        key,
        flags,
        eth_protocol,
        known_l4,
    })
}

/// This CPU's last precise clock reading in the tracing hooks and the `jiffies` it was read at.
#[map(name = "trace_clock")]
static TRACE_CLOCK: PerCpuArray<[u64; 2]> = PerCpuArray::with_max_entries(1, 0);

/// A per-tick stamp for the tracing hooks (drops, RTT), where `bpf_ktime_get_coarse_ns` is not
/// allowed: the precise clock is read at most once per tick per CPU, then reused while
/// `jiffies` (an inlined load) stays the same.
#[inline(always)]
fn trace_tick_now() -> u64 {
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

#[inline(always)]
fn pkt_drop<const DIRECT: bool>(ctx: &BtfTracePointContext) -> Option<()> {
    let head_off = OFF_SKB_HEAD.load();
    if head_off == 0 {
        return None;
    }
    let reason: u32 = ctx.arg(2);
    if reason <= SKB_DROP_REASON_NOT_SPECIFIED {
        return None;
    }
    let skb: *const u8 = ctx.arg(0);
    let iif: u32 = field::<DIRECT, u32>(skb, OFF_SKB_IIF.load())?;
    if iif <= 1 {
        // Unknown interface or loopback, as upstream.
        return None;
    }
    let head: u64 = field::<DIRECT, u64>(skb, head_off)?;
    let head = head as *const u8;
    let nh: u16 = field::<DIRECT, u16>(skb, OFF_SKB_NETWORK_HEADER.load())?;
    let len: u32 = field::<DIRECT, u32>(skb, OFF_SKB_LEN.load())?;
    let net = head.wrapping_add(nh as usize);
    let Ok(h) = kernel_headers(net) else {
        return None;
    };
    if !h.known_l4 {
        return None;
    }
    let (key, flags, eth_protocol) = (h.key, h.flags, h.eth_protocol);
    let sk: u64 = field::<DIRECT, u64>(skb, OFF_SKB_SK.load())?;
    let sk = sk as *const u8;
    let state: u8 = if sk.is_null() {
        0
    } else {
        field::<DIRECT, u8>(sk, OFF_SKC_STATE.load()).unwrap_or(0)
    };
    let len16 = if len > 0xffff { 0xffff } else { len as u16 };
    if let Some(m) = AGGREGATED_FLOWS_PKT_DROP.get_ptr_mut(&key.id) {
        // SAFETY: per-CPU value of this CPU, valid for this run.
        let m = unsafe { &mut *m };
        // Later drops of a flow carry a per-tick stamp, as its later packets do.
        let now = trace_tick_now();
        if now > m.end_mono_time_ts {
            m.end_mono_time_ts = now;
        }
        m.bytes = m.bytes.saturating_add(len16);
        m.packets = m.packets.saturating_add(1);
        m.latest_drop_cause = reason;
        m.latest_flags = flags;
        m.latest_state = state;
    } else {
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        let m = PktDropMetrics {
            start_mono_time_ts: now,
            end_mono_time_ts: now,
            bytes: len16,
            packets: 1,
            latest_drop_cause: reason,
            latest_flags: flags,
            eth_protocol,
            latest_state: state,
            pad: [0; 3],
        };
        let _ = AGGREGATED_FLOWS_PKT_DROP.insert(&key.id, &m, 0);
    }
    Some(())
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
