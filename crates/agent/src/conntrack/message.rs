//! ctnetlink messages: the parser of the conntrack events and dump entries the listener
//! receives (reduced to what PacketTranslation needs: tuples, ICMP type/code/id, zone), and an
//! encoder producing the same bytes as the kernel, for tests and benches.

pub(super) const NETLINK_NETFILTER: libc::c_int = 12;
/// `NF_NETLINK_CONNTRACK_NEW` multicast group bit.
pub(super) const GROUP_NEW: u32 = 1;
/// `NF_NETLINK_CONNTRACK_DESTROY` multicast group bit.
pub(super) const GROUP_DESTROY: u32 = 4;
pub(super) const NFNL_SUBSYS_CTNETLINK: u16 = 1;
pub(super) const IPCTNL_MSG_CT_NEW: u16 = 0;
pub(super) const IPCTNL_MSG_CT_GET: u16 = 1;
pub(super) const IPCTNL_MSG_CT_DELETE: u16 = 2;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
pub(super) const NLM_F_REQUEST: u16 = 1;
pub(super) const NLM_F_DUMP: u16 = 0x300;
pub(super) const CTA_TUPLE_ORIG: u16 = 1;
pub(super) const CTA_TUPLE_REPLY: u16 = 2;
pub(super) const CTA_ZONE: u16 = 18;
pub(super) const CTA_TUPLE_IP: u16 = 1;
pub(super) const CTA_TUPLE_PROTO: u16 = 2;
pub(super) const CTA_IP_V4_SRC: u16 = 1;
pub(super) const CTA_IP_V4_DST: u16 = 2;
pub(super) const CTA_IP_V6_SRC: u16 = 3;
pub(super) const CTA_IP_V6_DST: u16 = 4;
pub(super) const CTA_PROTO_NUM: u16 = 1;
pub(super) const CTA_PROTO_SRC_PORT: u16 = 2;
pub(super) const CTA_PROTO_DST_PORT: u16 = 3;
pub(super) const CTA_PROTO_ICMP_ID: u16 = 4;
pub(super) const CTA_PROTO_ICMP_TYPE: u16 = 5;
pub(super) const CTA_PROTO_ICMP_CODE: u16 = 6;
pub(super) const CTA_PROTO_ICMPV6_ID: u16 = 7;
pub(super) const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
pub(super) const CTA_PROTO_ICMPV6_CODE: u16 = 9;
pub(super) const IPPROTO_TCP: u8 = 6;
pub(super) const IPPROTO_UDP: u8 = 17;
pub(super) const IPPROTO_SCTP: u8 = 132;
pub(super) const IPPROTO_ICMP: u8 = 1;
pub(super) const IPPROTO_ICMPV6: u8 = 58;

/// One direction of a conntrack entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tuple {
    /// Source address (v4-mapped for IPv4).
    pub src: [u8; 16],
    /// Destination address (v4-mapped for IPv4).
    pub dst: [u8; 16],
    /// Source port (host order).
    pub sport: u16,
    /// Destination port (host order).
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// ICMP / ICMPv6 type (the request's in the original tuple); 0 for other protocols.
    pub icmp_type: u8,
    /// ICMP / ICMPv6 code; 0 for other protocols.
    pub icmp_code: u8,
    /// ICMP / ICMPv6 identifier; 0 for other protocols.
    pub icmp_id: u16,
    /// Whether the addresses are IPv4.
    pub v4: bool,
}

/// A conntrack notification reduced to what PacketTranslation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtEvent {
    /// A connection was confirmed (or listed by a dump).
    New {
        /// ORIGINAL direction.
        orig: Tuple,
        /// REPLY direction.
        reply: Tuple,
        /// Conntrack zone.
        zone: u16,
    },
    /// A connection was removed from the table.
    Destroy {
        /// ORIGINAL direction.
        orig: Tuple,
        /// Conntrack zone (the same tuple may live in several zones).
        zone: u16,
    },
}

/// Netlink attributes of a payload: (type without flags, value).
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let ty = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            return None;
        }
        let value = &b[4..len];
        b = &b[len.div_ceil(4).saturating_mul(4).min(b.len())..];
        Some((ty, value))
    })
}

fn be16(v: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(v.get(..2)?.try_into().ok()?))
}

pub(super) fn mapped(v4: &[u8]) -> Option<[u8; 16]> {
    let mut a = [0u8; 16];
    a[10] = 0xff;
    a[11] = 0xff;
    a[12..].copy_from_slice(v4.get(..4)?);
    Some(a)
}

/// Parses a `CTA_TUPLE_*` nest.
fn tuple(b: &[u8]) -> Option<Tuple> {
    let mut t = Tuple::default();
    for (ty, v) in attrs(b) {
        match ty {
            CTA_TUPLE_IP => {
                for (ty, v) in attrs(v) {
                    match ty {
                        CTA_IP_V4_SRC => {
                            t.src = mapped(v)?;
                            t.v4 = true;
                        }
                        CTA_IP_V4_DST => t.dst = mapped(v)?,
                        CTA_IP_V6_SRC => t.src = v.get(..16)?.try_into().ok()?,
                        CTA_IP_V6_DST => t.dst = v.get(..16)?.try_into().ok()?,
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for (ty, v) in attrs(v) {
                    match ty {
                        CTA_PROTO_NUM => t.proto = *v.first()?,
                        CTA_PROTO_SRC_PORT => t.sport = be16(v)?,
                        CTA_PROTO_DST_PORT => t.dport = be16(v)?,
                        CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => t.icmp_id = be16(v)?,
                        CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => t.icmp_type = *v.first()?,
                        CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => t.icmp_code = *v.first()?,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(t)
}

/// Parses one netlink message (header included) from the conntrack subsystem; `None` for
/// anything else (errors, done markers, other subsystems, malformed input).
pub fn parse_message(msg: &[u8]) -> Option<CtEvent> {
    if msg.len() < 20 {
        return None;
    }
    let ty = u16::from_ne_bytes([msg[4], msg[5]]);
    if ty >> 8 != NFNL_SUBSYS_CTNETLINK {
        return None;
    }
    let (mut orig, mut reply, mut zone) = (None, None, 0u16);
    for (t, v) in attrs(&msg[20..]) {
        match t {
            CTA_TUPLE_ORIG => orig = tuple(v),
            CTA_TUPLE_REPLY => reply = tuple(v),
            CTA_ZONE => zone = be16(v).unwrap_or(0),
            _ => {}
        }
    }
    match ty & 0xff {
        IPCTNL_MSG_CT_NEW => Some(CtEvent::New {
            orig: orig?,
            reply: reply?,
            zone,
        }),
        IPCTNL_MSG_CT_DELETE => Some(CtEvent::Destroy { orig: orig?, zone }),
        _ => None,
    }
}

/// Encodes a ctnetlink NEW message for `orig`/`reply` in `zone`, byte for byte as the kernel
/// sends it (IPv4 and IPv6). Benches and tests use it to feed the parser without a kernel.
pub fn encode_new(orig: &Tuple, reply: &Tuple, zone: u16) -> Vec<u8> {
    fn nla(ty: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 + value.len() + 3);
        v.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(value);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }
    fn tuple_attr(ty: u16, t: &Tuple) -> Vec<u8> {
        let ip = if t.v4 {
            [
                nla(CTA_IP_V4_SRC, &t.src[12..]),
                nla(CTA_IP_V4_DST, &t.dst[12..]),
            ]
            .concat()
        } else {
            [nla(CTA_IP_V6_SRC, &t.src), nla(CTA_IP_V6_DST, &t.dst)].concat()
        };
        let proto = match t.proto {
            IPPROTO_ICMP => [
                nla(CTA_PROTO_NUM, &[t.proto]),
                nla(CTA_PROTO_ICMP_ID, &t.icmp_id.to_be_bytes()),
                nla(CTA_PROTO_ICMP_TYPE, &[t.icmp_type]),
                nla(CTA_PROTO_ICMP_CODE, &[t.icmp_code]),
            ]
            .concat(),
            IPPROTO_ICMPV6 => [
                nla(CTA_PROTO_NUM, &[t.proto]),
                nla(CTA_PROTO_ICMPV6_ID, &t.icmp_id.to_be_bytes()),
                nla(CTA_PROTO_ICMPV6_TYPE, &[t.icmp_type]),
                nla(CTA_PROTO_ICMPV6_CODE, &[t.icmp_code]),
            ]
            .concat(),
            _ => [
                nla(CTA_PROTO_NUM, &[t.proto]),
                nla(CTA_PROTO_SRC_PORT, &t.sport.to_be_bytes()),
                nla(CTA_PROTO_DST_PORT, &t.dport.to_be_bytes()),
            ]
            .concat(),
        };
        nla(
            ty | 0x8000,
            &[
                nla(CTA_TUPLE_IP | 0x8000, &ip),
                nla(CTA_TUPLE_PROTO | 0x8000, &proto),
            ]
            .concat(),
        )
    }
    let body = [
        tuple_attr(CTA_TUPLE_ORIG, orig),
        tuple_attr(CTA_TUPLE_REPLY, reply),
        nla(CTA_ZONE, &zone.to_be_bytes()),
    ]
    .concat();
    let mut m = Vec::with_capacity(20 + body.len());
    m.extend_from_slice(&((20 + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW).to_ne_bytes());
    m.extend_from_slice(&[0; 10]);
    m.extend_from_slice(&[if orig.v4 { 2 } else { 10 }, 0, 0, 0]);
    m.extend_from_slice(&body);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        mapped(&a).expect("4 bytes")
    }

    #[test]
    fn icmp_tuples_round_trip_with_type_code_and_id() {
        let orig = Tuple {
            src: v4([10, 0, 0, 1]),
            dst: v4([10, 96, 0, 10]),
            proto: IPPROTO_ICMP,
            icmp_type: 8,
            icmp_code: 0,
            icmp_id: 0x1234,
            v4: true,
            ..Tuple::default()
        };
        let reply = Tuple {
            src: v4([10, 199, 0, 2]),
            dst: v4([10, 0, 0, 1]),
            icmp_type: 0,
            ..orig
        };
        let ev = parse_message(&encode_new(&orig, &reply, 3)).expect("parsed");
        assert_eq!(
            ev,
            CtEvent::New {
                orig,
                reply,
                zone: 3
            }
        );
        let v6 = Tuple {
            src: [0xfd; 16],
            dst: [0xfe; 16],
            proto: IPPROTO_ICMPV6,
            icmp_type: 128,
            icmp_code: 0,
            icmp_id: 7,
            v4: false,
            ..Tuple::default()
        };
        let ev = parse_message(&encode_new(&v6, &v6, 0)).expect("parsed");
        assert_eq!(
            ev,
            CtEvent::New {
                orig: v6,
                reply: v6,
                zone: 0
            }
        );
    }

    #[test]
    fn a_destroy_event_carries_its_zone() {
        let t = Tuple {
            src: v4([1, 1, 1, 1]),
            dst: v4([2, 2, 2, 2]),
            sport: 1,
            dport: 2,
            proto: IPPROTO_TCP,
            v4: true,
            ..Tuple::default()
        };
        let mut m = encode_new(&t, &t, 9);
        // Same attributes as a NEW, message type DELETE.
        m[4..6]
            .copy_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE).to_ne_bytes());
        assert_eq!(
            parse_message(&m),
            Some(CtEvent::Destroy { orig: t, zone: 9 })
        );
    }
}
