//! Tracing hooks: FlowRTT (`tcp_probe` / `tcp_rcv_established`) and PacketDrop (`kfree_skb`),
//! with the header parser for packets in kernel memory they share with NetworkEvents.

use super::*;

/// Kernel struct offsets for the RTT hook, from the running kernel's BTF (see
/// `netobserv_agent_common::globals`). Zero means unknown; the hook then does nothing.
#[unsafe(no_mangle)]
pub(crate) static OFF_SKC_FAMILY: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKC_DADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKC_RCV_SADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKC_DPORT: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKC_NUM: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKC_V6_DADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKC_V6_RCV_SADDR: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_TCP_SRTT_US: Global<u32> = Global::new(0);

#[unsafe(no_mangle)]
pub(crate) static OFF_SKB_HEAD: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKB_NETWORK_HEADER: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKB_LEN: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKB_IIF: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKB_SK: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
pub(crate) static OFF_SKC_STATE: Global<u32> = Global::new(0);

/// Drops per flow, shared by every CPU (atomic adds), drained by user space at eviction.
/// Allocated on demand (`BPF_F_NO_PREALLOC`): kernel memory follows the number of dropped flows,
/// not the map size times the CPU count. A flow's first drop does not come here but goes
/// through the `direct_flows` ring buffer (see [`pkt_drop`]): an insert costs about 1 µs here,
/// a ring record a tenth of that, and a flood of drops is mostly first drops (a scan of closed
/// ports).
#[map(name = "aggregated_flows_pkt_drop")]
pub(crate) static AGGREGATED_FLOWS_PKT_DROP: HashMap<FlowId, PktDropMetrics> =
    HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// RTT (and, upstream, IPsec) enrichment per flow, shared by every CPU (the hook keeps the
/// largest RTT; a racing write can only lose a smaller one for a moment), drained at eviction.
/// Allocated on demand, like `aggregated_flows_pkt_drop`.
#[map(name = "additional_flow_metrics")]
pub(crate) static ADDITIONAL_FLOW_METRICS: HashMap<FlowId, AdditionalMetrics> =
    HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// Reads a `T` at `base + off` in kernel memory.
#[inline(always)]
pub(crate) fn kread<T>(base: *const u8, off: u32) -> Option<T> {
    // SAFETY: bpf_probe_read_kernel validates the address; a fault returns an error.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(off as usize) as *const T) }.ok()
}

pub(crate) const AF_INET: u16 = 2;
pub(crate) const AF_INET6: u16 = 10;

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
pub(crate) fn rtt<const DIRECT: bool>(sk: *const u8) -> Option<()> {
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
        // SAFETY: value of a successful lookup, valid for this run (shared: plain stores of the
        // largest RTT and the latest stamp, which a racing CPU can at worst overwrite with its
        // own, also valid, reading).
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

/// Direction value the drop hook keys `flow_seen` with (no packet has it).
const DIRECTION_DROP: u8 = 4;

/// `SKB_DROP_REASON_NOT_SPECIFIED`: this value and below (not dropped, consumed) are ignored.
pub(crate) const SKB_DROP_REASON_NOT_SPECIFIED: u32 = 2;

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
pub(crate) static TRACE_CLOCK: PerCpuArray<[u64; 2]> = PerCpuArray::with_max_entries(1, 0);

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

#[inline(always)]
pub(crate) fn pkt_drop<const DIRECT: bool>(ctx: &BtfTracePointContext) -> Option<()> {
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
    // A flow's first drop (as far as `flow_seen` remembers, keyed with a direction no packet
    // has) goes to user space through the ring buffer, like a flow's first packet; the entry
    // is created by its second drop, and later ones add to it.
    let fp = flow_hash(&key, iif, DIRECTION_DROP);
    let fingerprint = if fp == 0 { 1 } else { fp };
    if let Some(seen) = FLOW_SEEN.get_ptr_mut(fp >> (32 - FLOW_SEEN_SLOTS_LOG2))
        && vr(seen) != fingerprint
    {
        vw(seen, fingerprint);
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        let ev = Event {
            id: &key.id,
            ifindex: iif,
            direction: DIRECTION_INGRESS,
            eth_protocol,
            first: now,
            macs: [0; 12],
        };
        // A drop record carries the drop reason in `sampling` and the TCP state in `dscp`.
        let d = Delta {
            packets: 1,
            bytes: u64::from(len),
            flags,
            dscp: state,
            sampling: reason,
            end: now,
        };
        if ring_event(&ev, &d, event_kind::DROP) {
            return Some(());
        }
    }
    let add = |m: *mut PktDropMetrics| {
        // SAFETY: value of a successful lookup, valid for this run; shared by every CPU, so the
        // counters take atomic adds (the latest cause, flags and state are plain stores).
        let m = unsafe { &mut *m };
        // Later drops of a flow carry a per-tick stamp, as its later packets do.
        let now = trace_tick_now();
        if now > m.end_mono_time_ts {
            m.end_mono_time_ts = now;
        }
        xadd_u64(&mut m.bytes, u64::from(len));
        xadd_u32(&mut m.packets, 1);
        m.latest_drop_cause = reason;
        m.latest_flags |= flags;
        m.latest_state = state;
    };
    if let Some(m) = AGGREGATED_FLOWS_PKT_DROP.get_ptr_mut(&key.id) {
        add(m);
    } else {
        // SAFETY: helper without preconditions.
        let now = unsafe { bpf_ktime_get_ns() };
        let m = PktDropMetrics {
            start_mono_time_ts: now,
            end_mono_time_ts: now,
            bytes: u64::from(len),
            packets: 1,
            latest_drop_cause: reason,
            latest_flags: flags,
            eth_protocol,
            latest_state: state,
            pad: [0; 3],
        };
        if let Err(e) = AGGREGATED_FLOWS_PKT_DROP.insert(&key.id, &m, u64::from(BPF_NOEXIST)) {
            // Another CPU created it first: add to theirs.
            if e == -EEXIST
                && let Some(m) = AGGREGATED_FLOWS_PKT_DROP.get_ptr_mut(&key.id)
            {
                add(m);
            } else {
                count(counters::HASHMAP_FAIL_UPDATE_DROPS);
            }
        }
    }
    Some(())
}
