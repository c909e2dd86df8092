//! PacketTranslation without a kernel hook: conntrack over netlink (`NETLINK_NETFILTER`).
//!
//! Where neither `fentry` nor `kprobe` can attach to `nf_nat_manip_pkt` (locked-down kernels,
//! kernels without `CONFIG_KPROBES`), the agent listens to the conntrack table's NEW and DESTROY
//! events instead, keeps the translated connections (those whose REPLY tuple, turned around,
//! differs from the ORIGINAL one) keyed by the original tuple, and looks flows up at eviction.
//! NAT bindings are fixed when a connection is confirmed, which is when the NEW event is sent,
//! so UPDATE events (one per TCP state change) carry nothing new and are not subscribed to.
//! A dump of the table at start (and after an event overflow) covers connections that predate
//! the subscription.
//!
//! The socket belongs to the network namespace it was opened in: the agent opens it where it
//! observes interfaces (the host, or `NETOBSERV_NETNS`).

use netobserv_agent_common::{ETH_P_IP, ETH_P_IPV6, FlowId, XlatMetrics};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

const NETLINK_NETFILTER: libc::c_int = 12;
/// `NF_NETLINK_CONNTRACK_NEW` multicast group bit.
const GROUP_NEW: u32 = 1;
/// `NF_NETLINK_CONNTRACK_DESTROY` multicast group bit.
const GROUP_DESTROY: u32 = 4;
const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_SCTP: u8 = 132;

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

fn mapped(v4: &[u8]) -> Option<[u8; 16]> {
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
        IPCTNL_MSG_CT_DELETE => Some(CtEvent::Destroy { orig: orig? }),
        _ => None,
    }
}

/// The flow key of a tuple (same layout as the kernel's `FlowId`).
fn key(t: &Tuple) -> FlowId {
    FlowId {
        src_ip: t.src,
        dst_ip: t.dst,
        src_port: t.sport,
        dst_port: t.dport,
        transport_protocol: t.proto,
        ..FlowId::default()
    }
}

struct Entry {
    xlat: XlatMetrics,
    destroyed: Option<Instant>,
}

/// Translated connections keyed by their original tuple, shared by the listener thread and the
/// eviction.
pub struct Table {
    entries: Mutex<HashMap<FlowId, Entry>>,
    max_entries: usize,
    grace: Duration,
    /// Translations learnt (NEW events and dump entries with NAT).
    pub learnt: AtomicU64,
    /// Translations not kept because the table was full.
    pub refused: AtomicU64,
    /// Event overflows of the socket (ENOBUFS), each followed by a dump.
    pub overflows: AtomicU64,
}

/// What the table did since the counters were last taken.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableCounts {
    /// Translations learnt (NEW events and dump entries with NAT).
    pub learnt: u64,
    /// Translations not kept because the table was full.
    pub refused: u64,
    /// Event overflows of the socket (ENOBUFS), each followed by a dump.
    pub overflows: u64,
}

impl Table {
    /// An empty table holding at most `max_entries` connections; destroyed connections stay
    /// `grace` longer so the last eviction of their flow still finds them.
    pub fn new(max_entries: usize, grace: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::with_capacity(max_entries.min(4096))),
            max_entries,
            grace,
            learnt: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
        }
    }

    /// Applies one event; untranslated connections and protocols without ports are ignored.
    pub fn apply(&self, ev: &CtEvent) {
        match ev {
            CtEvent::New { orig, reply, zone } => {
                if !matches!(orig.proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP) {
                    return;
                }
                // What the first packet became: the reply tuple turned around.
                let translated = (reply.dst, reply.src, reply.dport, reply.sport);
                if translated == (orig.src, orig.dst, orig.sport, orig.dport) {
                    return;
                }
                let xlat = XlatMetrics {
                    saddr: reply.dst,
                    daddr: reply.src,
                    sport: reply.dport,
                    dport: reply.sport,
                    zone_id: *zone,
                    eth_protocol: if orig.v4 { ETH_P_IP } else { ETH_P_IPV6 },
                    ..XlatMetrics::default()
                };
                let mut m = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
                let k = key(orig);
                if m.len() >= self.max_entries && !m.contains_key(&k) {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                m.insert(
                    k,
                    Entry {
                        xlat,
                        destroyed: None,
                    },
                );
                self.learnt.fetch_add(1, Ordering::Relaxed);
            }
            CtEvent::Destroy { orig } => {
                let mut m = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(e) = m.get_mut(&key(orig)) {
                    e.destroyed = Some(Instant::now());
                }
            }
        }
    }

    /// Forgets connections destroyed more than the grace period ago.
    pub fn purge(&self, now: Instant) {
        let grace = self.grace;
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, e| e.destroyed.is_none_or(|t| now.duration_since(t) < grace));
    }

    /// The translation of each flow key that has one.
    pub fn lookup<'a>(&self, ids: impl Iterator<Item = &'a FlowId>) -> Vec<(FlowId, XlatMetrics)> {
        let m = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if m.is_empty() {
            return Vec::new();
        }
        ids.filter_map(|id| m.get(id).map(|e| (*id, e.xlat)))
            .collect()
    }

    /// Reads and resets the counters, for the agent's metrics.
    pub fn take_counts(&self) -> TableCounts {
        TableCounts {
            learnt: self.learnt.swap(0, Ordering::Relaxed),
            refused: self.refused.swap(0, Ordering::Relaxed),
            overflows: self.overflows.swap(0, Ordering::Relaxed),
        }
    }

    /// Connections currently held.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the table holds no connection.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A netlink socket of the netfilter family, with a receive timeout so the listener can stop.
fn open_socket(groups: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor this function owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let set = |opt: libc::c_int, val: &[u8]| {
        // SAFETY: `val` is a valid buffer of the option's size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                val.as_ptr().cast(),
                val.len() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    // A burst of new connections must not overflow the socket: 4 MiB (root may exceed rmem_max).
    let size: libc::c_int = 4 << 20;
    if set(libc::SO_RCVBUFFORCE, &size.to_ne_bytes()).is_err() {
        let _ = set(libc::SO_RCVBUF, &size.to_ne_bytes());
    }
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 500_000,
    };
    // SAFETY: timeval is plain data; viewing it as bytes for setsockopt is sound.
    let tv_bytes = unsafe {
        std::slice::from_raw_parts(
            (&tv as *const libc::timeval).cast::<u8>(),
            size_of::<libc::timeval>(),
        )
    };
    set(libc::SO_RCVTIMEO, tv_bytes)?;
    // SAFETY: zeroed sockaddr_nl is a valid "any" address; fields set below.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = groups;
    // SAFETY: `addr` is a valid sockaddr_nl of the size given.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Receives one datagram; `Ok(0)` on timeout.
fn recv(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a writable buffer of the length given.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(0),
            _ => Err(e),
        };
    }
    Ok(n as usize)
}

/// Calls `f` on every netlink message of a datagram; returns false at `NLMSG_DONE`/error.
fn each_message(mut b: &[u8], mut f: impl FnMut(&[u8])) -> bool {
    while b.len() >= 16 {
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if len < 16 || len > b.len() {
            break;
        }
        let ty = u16::from_ne_bytes([b[4], b[5]]);
        if ty == NLMSG_DONE || ty == NLMSG_ERROR {
            return false;
        }
        f(&b[..len]);
        b = &b[len.div_ceil(4).saturating_mul(4).min(b.len())..];
    }
    true
}

/// Lists the whole conntrack table into `table` (connections that predate the subscription).
fn dump(table: &Table) -> io::Result<usize> {
    let fd = open_socket(0)?;
    let mut req = [0u8; 20];
    req[0..4].copy_from_slice(&20u32.to_ne_bytes());
    req[4..6].copy_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET).to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // nfgenmsg: AF_UNSPEC (every family), version 0, resource id 0.
    // SAFETY: `req` is a valid buffer; the kernel is the default destination of a netlink socket.
    let n = unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut count = 0;
    loop {
        let n = recv(&fd, &mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "conntrack dump timed out",
            ));
        }
        let more = each_message(&buf[..n], |m| {
            if let Some(ev) = parse_message(m) {
                table.apply(&ev);
                count += 1;
            }
        });
        if !more {
            return Ok(count);
        }
    }
}

/// The running listener; dropping it stops the thread within half a second.
pub struct Listener {
    table: Arc<Table>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    /// Subscribes to conntrack events in the calling thread's network namespace, dumps the
    /// current table, and keeps `table` up to date from a background thread.
    pub fn start(table: Arc<Table>) -> io::Result<Self> {
        let events = open_socket(GROUP_NEW | GROUP_DESTROY)?;
        if let Err(e) = dump(&table) {
            tracing::warn!(error = %e, "conntrack dump failed; only new connections are seen");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (table.clone(), stop.clone());
        std::thread::Builder::new()
            .name("conntrack".into())
            .spawn(move || listen(events, &t, &s))?;
        Ok(Self { table, stop })
    }

    /// The table this listener fills.
    pub fn table(&self) -> &Arc<Table> {
        &self.table
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn listen(fd: OwnedFd, table: &Table, stop: &AtomicBool) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_purge = Instant::now();
    let mut errors = 0u32;
    while !stop.load(Ordering::Relaxed) {
        match recv(&fd, &mut buf) {
            Ok(n) => {
                errors = 0;
                each_message(&buf[..n], |m| {
                    if let Some(ev) = parse_message(m) {
                        table.apply(&ev);
                    }
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                // Events were lost: resynchronise from the table itself.
                table.overflows.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("conntrack events overflowed; re-reading the table");
                if let Err(e) = dump(table) {
                    tracing::warn!(error = %e, "conntrack dump failed");
                }
            }
            Err(e) => {
                errors += 1;
                if errors == 1 {
                    tracing::warn!(error = %e, "reading conntrack events");
                }
                // Back off instead of spinning on a persistent error.
                std::thread::sleep(Duration::from_millis(100 * u64::from(errors.min(50))));
            }
        }
        let now = Instant::now();
        if now.duration_since(last_purge) >= Duration::from_secs(1) {
            table.purge(now);
            last_purge = now;
        }
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
        let proto = [
            nla(CTA_PROTO_NUM, &[t.proto]),
            nla(CTA_PROTO_SRC_PORT, &t.sport.to_be_bytes()),
            nla(CTA_PROTO_DST_PORT, &t.dport.to_be_bytes()),
        ]
        .concat();
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
        mapped(&a).unwrap()
    }

    /// A ctnetlink NEW message for a DNAT of 10.96.0.10:80 to 10.199.0.2:8080, zone 7.
    pub(crate) fn dnat_message(sport: u16) -> Vec<u8> {
        let orig = Tuple {
            src: v4([10, 199, 0, 1]),
            dst: v4([10, 96, 0, 10]),
            sport,
            dport: 80,
            proto: 6,
            v4: true,
        };
        let reply = Tuple {
            src: v4([10, 199, 0, 2]),
            dst: v4([10, 199, 0, 1]),
            sport: 8080,
            dport: sport,
            proto: 6,
            v4: true,
        };
        encode_new(&orig, &reply, 7)
    }

    #[test]
    fn dnat_event_yields_the_backend_under_the_original_tuple() {
        let ev = parse_message(&dnat_message(40000)).expect("parsed");
        let t = Table::new(10, Duration::from_secs(1));
        t.apply(&ev);
        let id = FlowId {
            src_ip: mapped(&[10, 199, 0, 1]).unwrap(),
            dst_ip: mapped(&[10, 96, 0, 10]).unwrap(),
            src_port: 40000,
            dst_port: 80,
            transport_protocol: 6,
            ..FlowId::default()
        };
        let found = t.lookup([id].iter());
        assert_eq!(found.len(), 1);
        let x = found[0].1;
        assert_eq!(x.saddr, mapped(&[10, 199, 0, 1]).unwrap());
        assert_eq!(x.daddr, mapped(&[10, 199, 0, 2]).unwrap());
        assert_eq!((x.sport, x.dport, x.zone_id), (40000, 8080, 7));
        assert_eq!(x.eth_protocol, ETH_P_IP);
    }

    #[test]
    fn untranslated_connections_and_garbage_are_ignored() {
        let t = Table::new(10, Duration::from_secs(1));
        let plain = Tuple {
            src: [1; 16],
            dst: [2; 16],
            sport: 1,
            dport: 2,
            proto: 6,
            v4: false,
        };
        let reply = Tuple {
            src: plain.dst,
            dst: plain.src,
            sport: 2,
            dport: 1,
            ..plain
        };
        t.apply(&CtEvent::New {
            orig: plain,
            reply,
            zone: 0,
        });
        assert!(t.is_empty());
        let m = dnat_message(1);
        for cut in 0..m.len() {
            // Truncated input never panics.
            let _ = parse_message(&m[..cut]);
        }
        assert_eq!(parse_message(&[0xff; 64]), None);
    }

    #[test]
    fn destroyed_connections_leave_after_the_grace_period() {
        let t = Table::new(10, Duration::from_millis(50));
        let ev = parse_message(&dnat_message(5)).expect("parsed");
        t.apply(&ev);
        let CtEvent::New { orig, .. } = ev else {
            panic!("not a NEW event")
        };
        t.apply(&CtEvent::Destroy { orig });
        t.purge(Instant::now());
        assert_eq!(t.len(), 1, "kept during the grace period");
        t.purge(Instant::now() + Duration::from_millis(60));
        assert!(t.is_empty());
    }

    #[test]
    fn a_full_table_refuses_new_connections() {
        let t = Table::new(2, Duration::from_secs(1));
        for p in 1..=3 {
            t.apply(&parse_message(&dnat_message(p)).expect("parsed"));
        }
        assert_eq!(t.len(), 2);
        assert_eq!(t.refused.load(Ordering::Relaxed), 1);
    }
}
