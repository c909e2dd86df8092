//! Header parsing: packets in the TC path ([`parse`], from the packet data) and packets the
//! tracing hooks get as an `sk_buff` ([`kernel_headers`], from kernel memory).

use crate::base::{
    ETH_HLEN, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, kread,
};
use crate::flow::{KeyBuf, V4_MAPPED_PREFIX};
use aya_ebpf::programs::TcContext;
use core::mem::size_of;
use netobserv_agent_common::{ETH_P_IP, ETH_P_IPV6, tcp_flag};

/// Reads a `T` at `off` bytes into the packet: directly when it lies in the linear part,
/// through `bpf_skb_load_bytes` otherwise.
#[inline(always)]
pub(crate) fn load<T: Copy>(ctx: &TcContext, off: usize) -> Option<T> {
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
pub(crate) fn load_words<T: Copy>(ctx: &TcContext, off: usize) -> Option<T> {
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

/// What the parser extracted besides the key.
pub(crate) struct Parsed {
    /// Offset of the DNS header if this is TCP/UDP (payload start), else 0.
    pub(crate) payload: usize,
    pub(crate) eth_protocol: u16,
    pub(crate) flags: u16,
    pub(crate) dscp: u8,
}

/// Parses Ethernet / IPv4|IPv6 / L4 into `key`. `None` for frames the agent does not account
/// (non-IP, truncated). Each header is read as one bounds-checked block of words, so every
/// direct packet access is preceded by a bounds check the verifier can follow. The MAC
/// addresses are only read when a flow is created (see `monitor::flow_monitor`).
#[inline(always)]
pub(crate) fn parse(ctx: &TcContext, key: &mut KeyBuf) -> Option<Parsed> {
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

