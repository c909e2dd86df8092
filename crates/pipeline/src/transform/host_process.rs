//! The `host_process` transform (ours, for local mode, where the pipeline runs on the observed
//! host): names the local process and container behind each end of a TCP or UDP flow —
//! `SrcProcessName`, `SrcProcessPid`, `SrcContainerId`, `SrcContainerName` (Docker, Podman:
//! see [`super::containers`]) and the `Dst` ones.
//!
//! ```yaml
//! transform:
//!   type: host_process
//!   host_process:
//!     netns: /run/netns/NAME   # whose sockets (default: the pipeline's namespace)
//!     scanInterval: 1s         # how often the socket table is read
//!     keepFor: 1m              # how long a closed socket still names its flows
//!     services: /etc/services  # also name the ports: SrcPortName, DstPortName (default: no)
//!     resolvedNames: true      # name addresses from DNS answers: SrcResolvedName (default: no)
//! ```
//!
//! A scanner thread (one per namespace, shared by the stage's copies, gone when they are) reads
//! the namespace's socket tables every `scanInterval` and resolves new socket inodes to processes
//! (see [`super::procfs`]); flows are exported seconds after their packets, often after a short
//! client exited, so a socket seen once keeps naming its flows for `keepFor`. A socket that opens
//! and closes between two scans is not seen: its flows get no process fields.

use super::Transformer;
use super::containers::ContainerNames;
use super::procfs::{self, Owner, SocketKey};
use super::resolved::{self, Resolved};
use super::services::{self, PortNames};
use crate::config::{HostProcessTransform, parse_go_duration};
use crate::record::{Record, Value};
use crate::stage::BuildError;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

/// What the scanner knows: socket key -> owner and when the socket was last seen.
#[derive(Default)]
struct Known {
    by_key: HashMap<SocketKey, (Arc<Owner>, Instant)>,
}

/// The shared table of one namespace.
type Shared = RwLock<Known>;

fn scanners() -> &'static Mutex<HashMap<String, Weak<Shared>>> {
    static SCANNERS: OnceLock<Mutex<HashMap<String, Weak<Shared>>>> = OnceLock::new();
    SCANNERS.get_or_init(Default::default)
}

/// The port names of services file `path`, read once and shared by every stage copy that names
/// the same file while one of them lives (as the scanner is shared per namespace).
fn port_names(path: &str) -> Result<Arc<PortNames>, BuildError> {
    static TABLES: OnceLock<Mutex<HashMap<String, Weak<PortNames>>>> = OnceLock::new();
    let mut tables = TABLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(t) = tables.get(path).and_then(Weak::upgrade) {
        return Ok(t);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| BuildError::Invalid(format!("host_process.services {path}: {e}")))?;
    let t = Arc::new(services::parse(&text));
    tables.retain(|_, w| w.strong_count() > 0);
    tables.insert(path.to_string(), Arc::downgrade(&t));
    Ok(t)
}

/// A running `host_process` stage.
pub struct HostProcessStage {
    known: Arc<Shared>,
    ports: Arc<PortNames>,
    resolved: Option<Arc<Resolved>>,
}

impl HostProcessStage {
    /// Joins (or starts) the scanner of the configured namespace.
    pub fn start(config: &HostProcessTransform) -> Result<Self, BuildError> {
        let dur = |name: &str, v: &Option<String>, default: Duration| {
            v.as_deref().map_or(Ok(default), |t| {
                parse_go_duration(t)
                    .map_err(|e| BuildError::Invalid(format!("host_process.{name}: {e}")))
            })
        };
        let interval = dur(
            "scanInterval",
            &config.scan_interval,
            Duration::from_secs(1),
        )?;
        let keep = dur("keepFor", &config.keep_for, Duration::from_secs(60))?;
        let ports = match config.services.as_deref().filter(|p| !p.is_empty()) {
            Some(path) => port_names(path)?,
            None => Arc::new(PortNames::new()),
        };
        let netns = config.netns.clone().filter(|n| !n.is_empty());
        let resolved = if config.resolved_names == Some(true) {
            Some(
                resolved::start(netns.as_deref())
                    .map_err(|e| BuildError::Invalid(format!("host_process.resolvedNames: {e}")))?,
            )
        } else {
            None
        };
        let key = netns.clone().unwrap_or_default();
        let mut map = scanners().lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = map.get(&key).and_then(Weak::upgrade) {
            return Ok(Self {
                known,
                ports,
                resolved,
            });
        }
        let ns_file = netns
            .as_deref()
            .map(|p| {
                std::fs::File::open(p)
                    .map_err(|e| BuildError::Invalid(format!("host_process.netns {p}: {e}")))
            })
            .transpose()?;
        let known: Arc<Shared> = Arc::default();
        let weak = Arc::downgrade(&known);
        std::thread::Builder::new()
            .name("host-process".into())
            .spawn(move || scan_loop(ns_file, weak, interval, keep))
            .map_err(|e| {
                BuildError::Invalid(format!("host_process: cannot start the scanner: {e}"))
            })?;
        map.insert(key, Arc::downgrade(&known));
        Ok(Self {
            known,
            ports,
            resolved,
        })
    }
}

impl HostProcessStage {
    /// `SrcResolvedName` / `DstResolvedName` from the DNS answers seen, any protocol.
    fn name_addresses(&self, record: &mut Record) {
        let Some(resolved) = &self.resolved else {
            return;
        };
        for (addr, name) in [
            ("SrcAddr", "SrcResolvedName"),
            ("DstAddr", "DstResolvedName"),
        ] {
            if let Some(n) = addr_of(record, addr).and_then(|a| resolved.name(a)) {
                record.insert(name, &*n);
            }
        }
    }

    /// `SrcPortName` / `DstPortName` from the services file, for the ports it lists.
    fn name_ports(&self, record: &mut Record, proto: u8) {
        if self.ports.is_empty() {
            return;
        }
        for (port, name) in [("SrcPort", "SrcPortName"), ("DstPort", "DstPortName")] {
            if let Some(n) = int(record, port)
                .and_then(|p| u16::try_from(p).ok())
                .and_then(|p| self.ports.get(&(proto, p)))
            {
                record.insert(name, &**n);
            }
        }
    }
}

/// The scanner: joins the namespace, then reads the tables until the stages are gone.
fn scan_loop(ns: Option<std::fs::File>, known: Weak<Shared>, interval: Duration, keep: Duration) {
    if let Some(f) = ns {
        use std::os::fd::AsRawFd;
        // SAFETY: setns on an open namespace file only moves this thread.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "host_process: cannot enter the network namespace; flows get no process fields"
            );
            return;
        }
    }
    let proc_root = PathBuf::from("/proc");
    let mut inode_owner: HashMap<u64, Arc<Owner>> = HashMap::new();
    let mut names = ContainerNames::new(Path::new("/"));
    loop {
        let Some(shared) = known.upgrade() else {
            return;
        };
        scan_once(&proc_root, &shared, &mut inode_owner, &mut names, keep);
        drop(shared);
        std::thread::sleep(interval);
    }
}

/// One pass: the table's sockets, owners of the new inodes, expiry of old entries.
fn scan_once(
    proc_root: &Path,
    shared: &Shared,
    inode_owner: &mut HashMap<u64, Arc<Owner>>,
    names: &mut ContainerNames,
    keep: Duration,
) {
    let table = procfs::sockets(proc_root);
    let live: HashSet<u64> = table.values().copied().collect();
    inode_owner.retain(|inode, _| live.contains(inode));
    let running: HashSet<&str> = inode_owner
        .values()
        .filter_map(|o| o.container.as_deref())
        .collect();
    names.keep_only(&running);
    let unknown: HashSet<u64> = live
        .iter()
        .filter(|i| !inode_owner.contains_key(i))
        .copied()
        .collect();
    if !unknown.is_empty() {
        for (inode, mut owner) in procfs::owners(proc_root, &unknown) {
            owner.container_name = owner.container.as_deref().and_then(|id| names.name(id));
            inode_owner.insert(inode, Arc::new(owner));
        }
    }
    let now = Instant::now();
    let mut k = shared.write().unwrap_or_else(PoisonError::into_inner);
    for (key, inode) in &table {
        if let Some(owner) = inode_owner.get(inode) {
            k.by_key.insert(*key, (owner.clone(), now));
        }
    }
    k.by_key
        .retain(|_, (_, seen)| now.duration_since(*seen) <= keep);
}

/// The owner of the socket at (proto, addr, port): exact, else bound to any address (a v4 flow
/// may also belong to a dual-stack socket).
fn lookup(known: &Known, proto: u8, addr: IpAddr, port: u16) -> Option<&Arc<Owner>> {
    // A fixed array, not a Vec: this runs for both ends of every TCP/UDP flow.
    let candidates = match addr {
        IpAddr::V4(v4) => [
            Some(addr),
            Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Some(IpAddr::V6(v4.to_ipv6_mapped())),
            Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        ],
        IpAddr::V6(_) => [
            Some(addr),
            Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
            None,
            None,
        ],
    };
    candidates
        .into_iter()
        .flatten()
        .find_map(|a| known.by_key.get(&(proto, a, port)).map(|(o, _)| o))
}

/// The fields one end of a flow is read from and written to.
struct Side {
    addr: &'static str,
    port: &'static str,
    process_name: &'static str,
    process_pid: &'static str,
    container_id: &'static str,
    container_name: &'static str,
}

const SIDES: [Side; 2] = [
    Side {
        addr: "SrcAddr",
        port: "SrcPort",
        process_name: "SrcProcessName",
        process_pid: "SrcProcessPid",
        container_id: "SrcContainerId",
        container_name: "SrcContainerName",
    },
    Side {
        addr: "DstAddr",
        port: "DstPort",
        process_name: "DstProcessName",
        process_pid: "DstProcessPid",
        container_id: "DstContainerId",
        container_name: "DstContainerName",
    },
];

fn int(record: &Record, field: &str) -> Option<i64> {
    record.get(field).and_then(Value::as_i64)
}

fn addr_of(record: &Record, field: &str) -> Option<IpAddr> {
    record.get(field).and_then(Value::as_ip)
}

impl Transformer for HostProcessStage {
    fn apply(&mut self, mut record: Record) -> Option<Record> {
        self.name_addresses(&mut record);
        let proto = int(&record, "Proto").and_then(|p| u8::try_from(p).ok());
        let Some(proto @ (6 | 17)) = proto else {
            return Some(record);
        };
        self.name_ports(&mut record, proto);
        let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
        // Both ends looked up under one read lock; the owners are shared, not copied.
        let mut found: [Option<Arc<Owner>>; 2] = [None, None];
        for (slot, side) in found.iter_mut().zip(&SIDES) {
            let (Some(a), Some(p)) = (
                addr_of(&record, side.addr),
                int(&record, side.port).and_then(|p| u16::try_from(p).ok()),
            ) else {
                continue;
            };
            *slot = lookup(&known, proto, a, p).cloned();
        }
        drop(known);
        for (o, side) in found.iter().zip(&SIDES) {
            let Some(o) = o else { continue };
            record.insert(side.process_name, o.comm.as_str());
            record.insert(side.process_pid, i64::from(o.pid));
            if let Some(c) = &o.container {
                record.insert(side.container_id, c.as_str());
            }
            if let Some(n) = &o.container_name {
                record.insert(side.container_name, n.as_str());
            }
        }
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_and_wildcard_sockets_are_named() {
        let mut known = Known::default();
        let now = Instant::now();
        let client = Arc::new(Owner {
            pid: 42,
            comm: "curl".into(),
            container: None,
            container_name: None,
        });
        let server = Arc::new(Owner {
            pid: 7,
            comm: "nginx".into(),
            container: Some("ab".repeat(32)),
            container_name: Some("web".into()),
        });
        known
            .by_key
            .insert((6, "10.0.0.1".parse().expect("addr"), 40000), (client, now));
        known
            .by_key
            .insert((6, "::".parse().expect("addr"), 80), (server, now));
        let mut stage = HostProcessStage {
            known: Arc::new(RwLock::new(known)),
            ports: Arc::new(services::parse("http 80/tcp\nhttp-alt 8080/tcp\n")),
            resolved: None,
        };
        let r = Record::from_json(
            r#"{"Proto":6,"SrcAddr":"10.0.0.1","SrcPort":40000,"DstAddr":"10.0.0.1","DstPort":80}"#,
        )
        .expect("record");
        let out = stage.apply(r).expect("kept");
        assert_eq!(
            out.get("SrcProcessName").and_then(Value::as_str),
            Some("curl")
        );
        assert_eq!(out.get("SrcProcessPid").and_then(Value::as_i64), Some(42));
        assert!(out.get("SrcContainerId").is_none());
        assert_eq!(
            out.get("DstProcessName").and_then(Value::as_str),
            Some("nginx")
        );
        assert_eq!(
            out.get("DstContainerId").and_then(Value::as_str),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(
            out.get("DstContainerName").and_then(Value::as_str),
            Some("web")
        );
        assert!(out.get("SrcContainerName").is_none());
        assert_eq!(out.get("DstPortName").and_then(Value::as_str), Some("http"));
        assert!(out.get("SrcPortName").is_none(), "40000 is not listed");
        // Another protocol, or an unknown port: untouched.
        let udp = Record::from_json(
            r#"{"Proto":17,"SrcAddr":"10.0.0.1","SrcPort":40000,"DstAddr":"10.0.0.1","DstPort":80}"#,
        )
        .expect("record");
        let out = stage.apply(udp).expect("kept");
        assert!(out.get("SrcProcessName").is_none() && out.get("DstProcessName").is_none());
        assert!(
            out.get("DstPortName").is_none(),
            "80 is only listed for TCP"
        );
    }
}
