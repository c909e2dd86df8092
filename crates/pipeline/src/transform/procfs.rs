//! Reading which local process owns which socket, from procfs: the socket tables of a network
//! namespace (`/proc/thread-self/net/{tcp,tcp6,udp,udp6}`: local address, port, inode), the
//! socket inodes each process holds (`/proc/PID/fd/* -> socket:[INODE]`), its command
//! (`/proc/PID/comm`) and its container (the id in `/proc/PID/cgroup`).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// A socket's identity as flows see it: (IP protocol, local address, local port).
pub type SocketKey = (u8, IpAddr, u16);

/// Who holds a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Process id (the first process found holding the socket).
    pub pid: u32,
    /// Its command name.
    pub comm: String,
    /// The container id from its cgroup, when it runs in one.
    pub container: Option<String>,
    /// The container's name, when its runtime's state on this host names it.
    pub container_name: Option<String>,
}

/// One `/proc/net/{tcp,udp}[6]` table line: local address, port and inode (`None` for the header
/// and for sockets without an inode, such as TIME_WAIT).
pub fn parse_socket_line(line: &str) -> Option<(IpAddr, u16, u64)> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    let (addr, port) = cols.get(1)?.split_once(':')?;
    let inode: u64 = cols.get(9)?.parse().ok()?;
    if inode == 0 {
        return None;
    }
    let port = u16::from_str_radix(port, 16).ok()?;
    // The kernel prints each 32-bit word of the address as a native-endian integer.
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some((ip, port, inode))
}

/// The container id in a `/proc/PID/cgroup` text: the last path element that is (after the
/// runtimes' prefixes and `.scope`) 64 hexadecimal digits.
pub fn container_id(cgroup: &str) -> Option<String> {
    cgroup
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .flat_map(|path| path.rsplit('/'))
        .map(|el| {
            let el = el.strip_suffix(".scope").unwrap_or(el);
            [
                "docker-",
                "cri-containerd-",
                "crio-",
                "libpod-",
                "containerd-",
            ]
            .iter()
            .find_map(|p| el.strip_prefix(p))
            .unwrap_or(el)
        })
        .find(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
}

/// The sockets of the calling thread's network namespace: key -> inode.
pub fn sockets(proc_root: &Path) -> HashMap<SocketKey, u64> {
    let mut out = HashMap::new();
    for (file, proto) in [("tcp", 6u8), ("tcp6", 6), ("udp", 17), ("udp6", 17)] {
        let path = proc_root.join("thread-self/net").join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (ip, port, inode) in text.lines().skip(1).filter_map(parse_socket_line) {
            out.insert((proto, ip, port), inode);
        }
    }
    out
}

/// The owners of `wanted` socket inodes, by walking every process's descriptors.
pub fn owners(proc_root: &Path, wanted: &HashSet<u64>) -> HashMap<u64, Owner> {
    let mut found = HashMap::new();
    let Ok(procs) = std::fs::read_dir(proc_root) else {
        return found;
    };
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        let mut owner: Option<Owner> = None;
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = link
                .to_str()
                .and_then(|l| l.strip_prefix("socket:["))
                .and_then(|l| l.strip_suffix(']'))
                .and_then(|l| l.parse::<u64>().ok())
            else {
                continue;
            };
            if !wanted.contains(&inode) || found.contains_key(&inode) {
                continue;
            }
            let o = owner.get_or_insert_with(|| Owner {
                pid,
                comm: std::fs::read_to_string(p.path().join("comm"))
                    .map(|c| c.trim_end().to_string())
                    .unwrap_or_default(),
                container: std::fs::read_to_string(p.path().join("cgroup"))
                    .ok()
                    .and_then(|c| container_id(&c)),
                container_name: None,
            });
            found.insert(inode, o.clone());
        }
        if found.len() == wanted.len() {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_lines_of_both_families() {
        let v4 = "   0: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 24180 1 0000000000000000 100 0 0 10 0";
        let (ip, port, inode) = parse_socket_line(v4).expect("v4 line");
        if cfg!(target_endian = "little") {
            assert_eq!(ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        assert_eq!((port, inode), (53, 24180));
        let v6 = "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0";
        let (ip, port, inode) = parse_socket_line(v6).expect("v6 line");
        if cfg!(target_endian = "little") {
            assert_eq!(ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
        }
        assert_eq!((port, inode), (8080, 99));
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
        assert_eq!(parse_socket_line(header), None);
        let time_wait = "   2: 0100007F:0035 0100007F:9C40 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 0000000000000000";
        assert_eq!(parse_socket_line(time_wait), None);
    }

    #[test]
    fn container_ids_of_the_common_runtimes() {
        let id = "4f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
        for cgroup in [
            format!("0::/system.slice/docker-{id}.scope\n"),
            format!("0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-{id}.scope\n"),
            format!("12:memory:/docker/{id}\n0::/\n"),
            format!("0::/machine.slice/libpod-{id}.scope/container\n"),
        ] {
            assert_eq!(container_id(&cgroup).as_deref(), Some(id), "{cgroup}");
        }
        assert_eq!(
            container_id("0::/user.slice/user-0.slice/session-3.scope\n"),
            None
        );
    }

    #[test]
    fn this_process_owns_its_own_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let proc_root = Path::new("/proc");
        let table = sockets(proc_root);
        let inode = *table
            .get(&(6, IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .expect("our listening socket in the table");
        let found = owners(proc_root, &HashSet::from([inode]));
        assert_eq!(found[&inode].pid, std::process::id());
    }
}
