//! Names for addresses from the DNS answers the observed host receives, for the `host_process`
//! transform's `resolvedNames` option (`SrcResolvedName`, `DstResolvedName`): the name a local
//! program asked for before it talked to that address, which a reverse lookup (PTR) rarely gives.
//!
//! A sniffer thread per network namespace reads DNS responses (UDP from port 53) from an
//! `AF_PACKET` socket in that namespace, with a classic BPF filter so that only those wake it,
//! parses them (`simple-dns`) and keeps each A / AAAA answer's address → the question's name for
//! the record's TTL (at least [`MIN_KEEP`], since flows are exported seconds after the lookup).
//! Flows read the table; nothing is sent anywhere.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

/// Shortest time an answer names its address.
pub const MIN_KEEP: Duration = Duration::from_secs(300);
/// Most addresses remembered (oldest dropped first beyond it).
const MAX_NAMES: usize = 65_536;

/// Address → (name, until when).
#[derive(Default)]
pub struct Resolved {
    names: RwLock<HashMap<IpAddr, (Arc<str>, Instant)>>,
}

impl Resolved {
    /// The name `addr` was resolved from, if a live answer said so.
    pub fn name(&self, addr: IpAddr) -> Option<Arc<str>> {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        let (name, until) = names.get(&addr)?;
        (*until > Instant::now()).then(|| name.clone())
    }

    /// Records the answers of one DNS response.
    pub fn learn(&self, answers: Vec<(IpAddr, String, Duration)>) {
        if answers.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        if names.len() >= MAX_NAMES {
            names.retain(|_, (_, until)| *until > now);
            if names.len() >= MAX_NAMES {
                names.clear();
            }
        }
        for (ip, name, ttl) in answers {
            names.insert(ip, (Arc::from(name), now + ttl.max(MIN_KEEP)));
        }
    }
}

/// The A / AAAA answers of a DNS response: (address, the question's name, TTL).
pub fn answers(dns: &[u8]) -> Vec<(IpAddr, String, Duration)> {
    let Ok(packet) = simple_dns::Packet::parse(dns) else {
        return Vec::new();
    };
    if !packet.has_flags(simple_dns::PacketFlag::RESPONSE) {
        return Vec::new();
    }
    let asked = packet.questions.first().map(|q| q.qname.to_string());
    packet
        .answers
        .iter()
        .filter_map(|rr| {
            let ip = match &rr.rdata {
                simple_dns::rdata::RData::A(a) => IpAddr::V4(Ipv4Addr::from(a.address)),
                simple_dns::rdata::RData::AAAA(a) => IpAddr::V6(Ipv6Addr::from(a.address)),
                _ => return None,
            };
            let name = asked.clone().unwrap_or_else(|| rr.name.to_string());
            let name = name.trim_end_matches('.').to_string();
            Some((ip, name, Duration::from_secs(u64::from(rr.ttl))))
        })
        .collect()
}

/// The UDP payload of an IP packet from source port 53 (no IPv6 extension headers, no
/// fragments: what resolvers answer with).
pub fn dns_payload(packet: &[u8]) -> Option<&[u8]> {
    let udp = match packet.first()? >> 4 {
        4 => {
            let ihl = usize::from(packet[0] & 0x0f) * 4;
            (packet.get(9) == Some(&17) && ihl >= 20).then_some(ihl)?
        }
        6 => (packet.get(6) == Some(&17)).then_some(40)?,
        _ => return None,
    };
    let header = packet.get(udp..udp + 8)?;
    (u16::from_be_bytes([header[0], header[1]]) == 53).then(|| &packet[udp + 8..])
}

/// Classic BPF: accept IPv4 (unfragmented) and IPv6 UDP packets from port 53, at the network
/// header (what an `AF_PACKET`/`SOCK_DGRAM` socket filter sees).
fn filter() -> [libc::sock_filter; 17] {
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    [
        op(0x30, 0, 0, 0),      // 0: A = byte [0]
        op(0x74, 0, 0, 4),      // 1: A >>= 4 (IP version)
        op(0x15, 1, 0, 4),      // 2: v4 -> 4
        op(0x15, 7, 12, 6),     // 3: v6 -> 11, else reject
        op(0x30, 0, 0, 9),      // 4: A = protocol
        op(0x15, 0, 10, 17),    // 5: UDP or reject
        op(0x28, 0, 0, 6),      // 6: A = flags + fragment offset
        op(0x45, 8, 0, 0x1fff), // 7: a later fragment: reject
        op(0xb1, 0, 0, 0),      // 8: X = IP header length
        op(0x48, 0, 0, 0),      // 9: A = half [X] (source port)
        op(0x15, 4, 5, 53),     // 10: 53 -> accept, else reject
        op(0x30, 0, 0, 6),      // 11: A = IPv6 next header
        op(0x15, 0, 3, 17),     // 12: UDP or reject
        op(0x28, 0, 0, 40),     // 13: A = source port
        op(0x15, 0, 1, 53),     // 14: 53 -> accept, else reject
        op(0x06, 0, 0, 0xffff), // 15: accept
        op(0x06, 0, 0, 0),      // 16: reject
    ]
}

fn sniffers() -> &'static Mutex<HashMap<String, Weak<Resolved>>> {
    static SNIFFERS: OnceLock<Mutex<HashMap<String, Weak<Resolved>>>> = OnceLock::new();
    SNIFFERS.get_or_init(Default::default)
}

/// Joins (or starts) the sniffer of the namespace at `netns` (`None`: this one).
pub fn start(netns: Option<&str>) -> Result<Arc<Resolved>, String> {
    let key = netns.unwrap_or_default().to_string();
    let mut map = sniffers().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(r) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(r);
    }
    let ns = netns
        .map(|p| std::fs::File::open(p).map_err(|e| format!("{p}: {e}")))
        .transpose()?;
    let resolved: Arc<Resolved> = Arc::default();
    let weak = Arc::downgrade(&resolved);
    let (ready_tx, ready) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("dns-answers".into())
        .spawn(move || sniff(ns, weak, ready_tx))
        .map_err(|e| format!("cannot start the DNS sniffer: {e}"))?;
    ready
        .recv()
        .map_err(|_| "the DNS sniffer stopped".to_string())??;
    map.insert(key, Arc::downgrade(&resolved));
    Ok(resolved)
}

/// An `AF_PACKET` socket in this thread's namespace with the DNS filter and a read timeout.
fn open_socket() -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket creation; the fd is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a new socket nobody else owns.
    let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    let mut program = filter();
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 500_000,
    };
    // SAFETY: both options get pointers to live values of the sizes given.
    let failed = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            std::ptr::from_ref(&fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as u32,
        ) != 0
            || libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::from_ref(&timeout).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            ) != 0
    };
    if failed {
        return Err(std::io::Error::last_os_error());
    }
    Ok(owned)
}

/// The sniffer: joins the namespace, opens the socket (reporting on `ready`), then reads
/// answers until the stages are gone.
fn sniff(
    ns: Option<std::fs::File>,
    resolved: Weak<Resolved>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    use std::os::fd::AsRawFd;
    if let Some(f) = ns {
        // SAFETY: setns on an open namespace file only moves this thread.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            let _ = ready.send(Err(format!(
                "cannot enter the network namespace: {}",
                std::io::Error::last_os_error()
            )));
            return;
        }
    }
    let socket = match open_socket() {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot read DNS answers: {e}")));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut buf = vec![0u8; 65_536];
    loop {
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let Some(table) = resolved.upgrade() else {
            return;
        };
        if n > 0
            && let Some(dns) = dns_payload(&buf[..n as usize])
        {
            table.learn(answers(dns));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for `web.example.` with a CNAME, then an A and an AAAA record, as a resolver
    /// sends it (name compression pointers to the question).
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
        m.extend(b"\x03web\x07example\x00\x00\x01\x00\x01");
        // CNAME web.example -> x.cdn (pointer to offset 12 for the owner name).
        m.extend([0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7]);
        m.extend(b"\x01x\x03cdn\x00");
        // x.cdn A 10.1.2.3, TTL 600 (owner: pointer to the CNAME's target at offset 41).
        m.extend([0xc0, 41, 0, 1, 0, 1, 0, 0, 2, 88, 0, 4, 10, 1, 2, 3]);
        m.extend([0xc0, 41, 0, 28, 0, 1, 0, 0, 0, 30, 0, 16]);
        m.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
        m
    }

    #[test]
    fn answers_name_their_addresses_with_the_question() {
        let got = answers(&response());
        assert_eq!(
            got,
            vec![
                (
                    "10.1.2.3".parse().expect("ip"),
                    "web.example".to_string(),
                    Duration::from_secs(600)
                ),
                (
                    "fd00::7".parse().expect("ip"),
                    "web.example".to_string(),
                    Duration::from_secs(30)
                ),
            ]
        );
        // A query (no response flag) and garbage teach nothing.
        let mut query = response();
        query[2] = 0x01;
        assert!(answers(&query).is_empty());
        assert!(answers(b"\x00\x01").is_empty());
        let r = Resolved::default();
        r.learn(got);
        assert_eq!(
            r.name("fd00::7".parse().expect("ip")).as_deref(),
            Some("web.example")
        );
        assert!(r.name("10.9.9.9".parse().expect("ip")).is_none());
    }

    #[test]
    fn dns_payloads_are_found_in_ipv4_and_ipv6_packets() {
        let mut v4 = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        v4.extend([0, 53, 0x9c, 0x40, 0, 12, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(dns_payload(&v4), Some(&[0xaa, 0xbb, 0xcc, 0xdd][..]));
        let mut v6 = vec![0x60, 0, 0, 0, 0, 12, 17, 64];
        v6.extend([0u8; 32]);
        v6.extend([0, 53, 0x9c, 0x40, 0, 12, 0, 0, 0xee, 0xff]);
        assert_eq!(dns_payload(&v6), Some(&[0xee, 0xff][..]));
        let mut other = v4.clone();
        other[21] = 54;
        assert_eq!(dns_payload(&other), None);
    }
}
