//! PacketTranslation without a kernel hook: conntrack over netlink (`NETLINK_NETFILTER`).
//!
//! Where neither `fentry` nor `kprobe` can attach to `nf_nat_manip_pkt` (locked-down kernels,
//! kernels without `CONFIG_KPROBES`), the agent listens to the conntrack table's NEW and DESTROY
//! events instead, keeps the translated connections (those whose REPLY tuple, turned around,
//! differs from the ORIGINAL one) keyed by the original tuple and zone ([`table`]), and looks
//! flows up at eviction. TCP, UDP, SCTP and ICMP / ICMPv6 connections are kept.
//! NAT bindings are fixed when a connection is confirmed, which is when the NEW event is sent,
//! so UPDATE events (one per TCP state change) carry nothing new and are not subscribed to.
//! A dump of the table at start (and after an event overflow) covers connections that predate
//! the subscription.
//!
//! The socket belongs to the network namespace it was opened in: the agent opens it where it
//! observes interfaces (the host, or `NETOBSERV_NETNS`).

mod message;
mod table;

pub use message::{CtEvent, Tuple, encode_new, parse_message};
pub use table::{Table, TableCounts};

use message::{
    GROUP_DESTROY, GROUP_NEW, IPCTNL_MSG_CT_GET, NETLINK_NETFILTER, NFNL_SUBSYS_CTNETLINK,
    NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR,
};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::message::{IPPROTO_ICMP, mapped};
    use super::*;
    use netobserv_agent_common::{ETH_P_IP, FlowId};

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
            ..Tuple::default()
        };
        let reply = Tuple {
            src: v4([10, 199, 0, 2]),
            dst: v4([10, 199, 0, 1]),
            sport: 8080,
            dport: sport,
            ..orig
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
            ..Tuple::default()
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
        t.apply(&CtEvent::Destroy { orig, zone: 7 });
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

    fn flow(sport: u16) -> FlowId {
        FlowId {
            src_ip: v4([10, 199, 0, 1]),
            dst_ip: v4([10, 96, 0, 10]),
            src_port: sport,
            dst_port: 80,
            transport_protocol: 6,
            ..FlowId::default()
        }
    }

    #[test]
    fn zones_are_kept_apart_and_the_latest_translation_wins() {
        let t = Table::new(10, Duration::from_millis(50));
        let CtEvent::New { orig, reply, .. } = parse_message(&dnat_message(9)).unwrap() else {
            panic!("not a NEW event")
        };
        // The same tuple SNAT-ed in zone 2 after being DNAT-ed in zone 7.
        let snat = Tuple {
            src: v4([10, 199, 0, 2]),
            dst: v4([100, 64, 0, 1]),
            ..reply
        };
        t.apply(&CtEvent::New {
            orig,
            reply,
            zone: 7,
        });
        t.apply(&CtEvent::New {
            orig,
            reply: snat,
            zone: 2,
        });
        assert_eq!(t.len(), 2, "one entry per zone");
        let x = t.lookup([flow(9)].iter())[0].1;
        assert_eq!((x.saddr, x.zone_id), (v4([100, 64, 0, 1]), 2));
        // Zone 2's connection ends: zone 7's translation stays and answers.
        t.apply(&CtEvent::Destroy { orig, zone: 2 });
        t.purge(Instant::now() + Duration::from_millis(60));
        assert_eq!(t.len(), 1);
        let x = t.lookup([flow(9)].iter())[0].1;
        assert_eq!(
            (x.daddr, x.dport, x.zone_id),
            (v4([10, 199, 0, 2]), 8080, 7)
        );
        // A DESTROY in a zone that never translated the tuple changes nothing.
        t.apply(&CtEvent::Destroy { orig, zone: 5 });
        t.purge(Instant::now() + Duration::from_millis(60));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn icmp_echo_to_a_translated_address_is_keyed_by_type_and_code() {
        let t = Table::new(10, Duration::from_secs(1));
        let orig = Tuple {
            src: v4([10, 199, 0, 1]),
            dst: v4([10, 96, 0, 10]),
            proto: IPPROTO_ICMP,
            icmp_type: 8,
            icmp_id: 77,
            v4: true,
            ..Tuple::default()
        };
        let reply = Tuple {
            src: v4([10, 199, 0, 2]),
            dst: v4([10, 199, 0, 1]),
            icmp_type: 0,
            ..orig
        };
        t.apply(&parse_message(&encode_new(&orig, &reply, 0)).unwrap());
        let id = FlowId {
            src_ip: orig.src,
            dst_ip: orig.dst,
            transport_protocol: IPPROTO_ICMP,
            icmp_type: 8,
            ..FlowId::default()
        };
        let found = t.lookup([id].iter());
        assert_eq!(found.len(), 1, "echo request flow translated");
        let x = found[0].1;
        assert_eq!((x.saddr, x.daddr), (orig.src, v4([10, 199, 0, 2])));
        assert_eq!((x.sport, x.dport), (0, 0));
        // An untranslated ping is not kept.
        let plain = Tuple {
            src: orig.dst,
            dst: orig.src,
            icmp_type: 0,
            ..orig
        };
        t.apply(&CtEvent::New {
            orig,
            reply: plain,
            zone: 0,
        });
        t.apply(&CtEvent::New {
            orig: Tuple {
                icmp_id: 78,
                ..orig
            },
            reply: Tuple {
                icmp_id: 78,
                ..plain
            },
            zone: 1,
        });
        assert_eq!(t.len(), 1);
    }
}
