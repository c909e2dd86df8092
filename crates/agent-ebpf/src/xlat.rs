//! PacketTranslation: a hook on `nf_nat_manip_pkt(skb, ct, ...)`, the function netfilter calls
//! each time it rewrites a packet for NAT. It records, per flow, the address and ports the
//! connection was translated to, read from the conntrack entry (`struct nf_conn`).
//!
//! The flow key is the connection's ORIGINAL tuple (what the client sent, e.g. to a Service
//! address), so it matches the TC flow seen before translation; the value holds the REPLY tuple
//! turned around (the translated source/destination as the first packet left), plus the
//! conntrack zone. Rust eBPF gets no CO-RE relocations, so every `nf_conn` offset comes from the
//! running kernel's BTF as a load-time global; zero means unknown and the hook does nothing.
//!
//! Two attach variants share the body: `fentry` (cheapest, refused under lockdown) and `kprobe`
//! (needs `CONFIG_KPROBES`). User space picks one at run time and otherwise falls back to
//! conntrack netlink.
//!
//! Like the flow classifiers, the hook honours the flow filter rules (a connection whose
//! original tuple a rule would not keep in either direction is not recorded; rules on TCP flags
//! never match here, the hook sees no segment flags) and sampling: with `SAMPLING` > 1 a
//! translated packet is recorded with the same 1-in-N chance as a packet is accounted, so the
//! cost follows the sampled traffic; every packet of a connection writes the same translation,
//! so a sampled flow still gets it.
//!
//! ICMP and ICMPv6 connections are keyed by the request's type and code (from the tuple's
//! `dst.u.icmp`), as the classifiers key ICMP flows; their ports stay 0.

use crate::base::{
    AF_INET, AF_INET6, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, kread,
};
use crate::filter::{ENABLE_FLOWS_FILTERING, HAS_FILTER_SAMPLING, Verdict, filter};
use crate::monitor::SAMPLING;
use aya_ebpf::{
    Global,
    helpers::{bpf_get_prandom_u32, bpf_ktime_get_ns},
    macros::{fentry, kprobe, map},
    bindings::BPF_F_NO_PREALLOC,
    maps::HashMap,
    programs::{FEntryContext, ProbeContext},
};
use netobserv_agent_common::{
    DIRECTION_EGRESS, DIRECTION_INGRESS, ETH_P_IP, ETH_P_IPV6, FlowId, XlatMetrics,
};

/// `nf_conn.tuplehash[IP_CT_DIR_ORIGINAL].tuple`.
#[unsafe(no_mangle)]
static OFF_CT_TUPLE_ORIG: Global<u32> = Global::new(0);
/// `nf_conn.tuplehash[IP_CT_DIR_REPLY].tuple`.
#[unsafe(no_mangle)]
static OFF_CT_TUPLE_REPLY: Global<u32> = Global::new(0);
/// `nf_conn.zone.id`; 0 when the kernel has no conntrack zones.
#[unsafe(no_mangle)]
static OFF_CT_ZONE_ID: Global<u32> = Global::new(0);
/// `nf_conntrack_tuple.src.u3`.
#[unsafe(no_mangle)]
static OFF_TUPLE_SRC_ADDR: Global<u32> = Global::new(0);
/// `nf_conntrack_tuple.src.u.all` (port, network order).
#[unsafe(no_mangle)]
static OFF_TUPLE_SRC_PORT: Global<u32> = Global::new(0);
/// `nf_conntrack_tuple.src.l3num` (address family).
#[unsafe(no_mangle)]
static OFF_TUPLE_L3NUM: Global<u32> = Global::new(0);
/// `nf_conntrack_tuple.dst.u3`.
#[unsafe(no_mangle)]
static OFF_TUPLE_DST_ADDR: Global<u32> = Global::new(0);
/// `nf_conntrack_tuple.dst.u.all`.
#[unsafe(no_mangle)]
static OFF_TUPLE_DST_PORT: Global<u32> = Global::new(0);
/// `nf_conntrack_tuple.dst.protonum`.
#[unsafe(no_mangle)]
static OFF_TUPLE_PROTONUM: Global<u32> = Global::new(0);

/// Translations per flow (original tuple), drained by user space at eviction. Resized to
/// `CACHE_MAX_FLOWS` when PacketTranslation is on, 1 otherwise. Shared by every CPU (every
/// NAT-ed packet of a connection writes the same translation, so per-CPU copies would only
/// multiply the memory by the CPU count) and allocated on demand.
#[map(name = "aggregated_flows_xlat")]
static AGGREGATED_FLOWS_XLAT: HashMap<FlowId, XlatMetrics> =
    HashMap::with_max_entries(65536, BPF_F_NO_PREALLOC);

/// PacketTranslation, kprobe variant (upstream's attach method).
#[kprobe(function = "nf_nat_manip_pkt")]
pub fn track_nat_manip_pkt(ctx: ProbeContext) -> u32 {
    if let Some(ct) = ctx.arg::<*const u8>(1) {
        let _ = record(ct);
    }
    0
}

/// PacketTranslation, fentry variant (preferred when the kernel allows it).
#[fentry(function = "nf_nat_manip_pkt")]
pub fn nf_nat_manip_pkt_fentry(ctx: FEntryContext) -> i32 {
    let _ = record(ctx.arg(1));
    0
}

/// One side of a conntrack tuple.
struct Side {
    addr: [u8; 16],
    port: u16,
}

/// Reads the source and destination of the tuple at `ct + off` (ports only for TCP/UDP/SCTP).
#[inline(always)]
fn tuple(ct: *const u8, off: u32, v4: bool, ports: bool) -> Option<(Side, Side)> {
    let t = ct.wrapping_add(off as usize);
    let mut src = Side {
        addr: [0; 16],
        port: 0,
    };
    let mut dst = Side {
        addr: [0; 16],
        port: 0,
    };
    if v4 {
        let s: [u8; 4] = kread(t, OFF_TUPLE_SRC_ADDR.load())?;
        let d: [u8; 4] = kread(t, OFF_TUPLE_DST_ADDR.load())?;
        src.addr[10] = 0xff;
        src.addr[11] = 0xff;
        dst.addr[10] = 0xff;
        dst.addr[11] = 0xff;
        src.addr[12] = s[0];
        src.addr[13] = s[1];
        src.addr[14] = s[2];
        src.addr[15] = s[3];
        dst.addr[12] = d[0];
        dst.addr[13] = d[1];
        dst.addr[14] = d[2];
        dst.addr[15] = d[3];
    } else {
        src.addr = kread(t, OFF_TUPLE_SRC_ADDR.load())?;
        dst.addr = kread(t, OFF_TUPLE_DST_ADDR.load())?;
    }
    if ports {
        src.port = u16::from_be(kread(t, OFF_TUPLE_SRC_PORT.load())?);
        dst.port = u16::from_be(kread(t, OFF_TUPLE_DST_PORT.load())?);
    }
    Some((src, dst))
}

/// Whether the flow filter rules and sampling let this translated packet be recorded (see the
/// module doc).
#[inline(always)]
fn wanted(id: &FlowId, eth_protocol: u16) -> bool {
    let mut sampling = SAMPLING.load();
    if ENABLE_FLOWS_FILTERING.load() != 0 {
        let (mut verdict, mut rule_sampling) =
            filter::<false>(id, eth_protocol, DIRECTION_INGRESS, 0);
        if verdict == Verdict::Skip {
            (verdict, rule_sampling) = filter::<false>(id, eth_protocol, DIRECTION_EGRESS, 0);
        }
        if verdict == Verdict::Skip {
            return false;
        }
        if HAS_FILTER_SAMPLING.load() != 0 && rule_sampling != 0 {
            sampling = rule_sampling;
        }
    }
    // SAFETY: helper without preconditions.
    sampling <= 1 || unsafe { bpf_get_prandom_u32() } % sampling == 0
}

/// Records the translation of conntrack entry `ct` under its original tuple.
#[inline(always)]
fn record(ct: *const u8) -> Option<()> {
    let orig_off = OFF_CT_TUPLE_ORIG.load();
    let reply_off = OFF_CT_TUPLE_REPLY.load();
    if ct.is_null() || reply_off == 0 {
        return None;
    }
    let orig = ct.wrapping_add(orig_off as usize);
    let family: u16 = kread(orig, OFF_TUPLE_L3NUM.load())?;
    let proto: u8 = kread(orig, OFF_TUPLE_PROTONUM.load())?;
    let (v4, eth_protocol) = match family {
        AF_INET => (true, ETH_P_IP),
        AF_INET6 => (false, ETH_P_IPV6),
        _ => return None,
    };
    let ports = matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP);
    let (osrc, odst) = tuple(ct, orig_off, v4, ports)?;
    let (rsrc, rdst) = tuple(ct, reply_off, v4, ports)?;
    let zone_off = OFF_CT_ZONE_ID.load();
    let zone_id: u16 = if zone_off == 0 {
        0
    } else {
        kread(ct, zone_off).unwrap_or(0)
    };
    let mut id = FlowId {
        src_ip: osrc.addr,
        dst_ip: odst.addr,
        src_port: osrc.port,
        dst_port: odst.port,
        transport_protocol: proto,
        ..FlowId::default()
    };
    if matches!(proto, IPPROTO_ICMP | IPPROTO_ICMPV6) {
        // `dst.u.icmp` = { type, code }: the request's, as the classifiers key the flow.
        let tc: [u8; 2] = kread(
            ct.wrapping_add(orig_off as usize),
            OFF_TUPLE_DST_PORT.load(),
        )?;
        id.icmp_type = tc[0];
        id.icmp_code = tc[1];
    }
    if !wanted(&id, eth_protocol) {
        return None;
    }
    // SAFETY: helper without preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(m) = AGGREGATED_FLOWS_XLAT.get_ptr_mut(&id) {
        // SAFETY: value of a successful lookup, valid for this run (shared: a racing CPU writes
        // the same translation).
        let m = unsafe { &mut *m };
        m.end_mono_time_ts = now;
        m.saddr = rdst.addr;
        m.daddr = rsrc.addr;
        m.sport = rdst.port;
        m.dport = rsrc.port;
        m.zone_id = zone_id;
    } else {
        let m = XlatMetrics {
            start_mono_time_ts: now,
            end_mono_time_ts: now,
            saddr: rdst.addr,
            daddr: rsrc.addr,
            sport: rdst.port,
            dport: rsrc.port,
            zone_id,
            eth_protocol,
        };
        let _ = AGGREGATED_FLOWS_XLAT.insert(&id, &m, 0);
    }
    Some(())
}
