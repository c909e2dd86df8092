//! Shared fixtures of the agent's root-only tests: network namespaces joined by a veth pair
//! (removed on drop, even when a test fails), nftables counters, and traffic generators.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod packets;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// TCP through `nc`: a listener on `listen_port` in namespace B and a client in namespace A
/// sending what the shell command `input` prints to `dst:port` (the listener's address, or a
/// service address NAT-ed to it). Waits up to 5 s for the listener to read the end of the
/// stream, then stops it. Returns whether the client succeeded.
pub fn nc_tcp_transfer(
    pair: &NetPair,
    input: &str,
    dst: &str,
    port: u16,
    listen_port: u16,
) -> bool {
    let mut server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &pair.ns_b,
            "nc",
            "-l",
            &listen_port.to_string(),
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("nc listener");
    wait_listening(&pair.ns_b, "tcp", listen_port);
    let client = Command::new("sh")
        .args([
            "-c",
            &format!(
                "{input} | ip netns exec {} nc -N -w 5 {dst} {port}",
                pair.ns_a
            ),
        ])
        .status()
        .expect("nc client");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while matches!(server.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = server.kill();
    let _ = server.wait();
    client.success()
}

/// Waits (up to 30 s) until something listens on `proto` (`tcp`/`udp`) port `port` in
/// namespace `ns`: a client started before that would be refused, however loaded the machine.
pub fn wait_listening(ns: &str, proto: &str, port: u16) {
    let flag = if proto == "udp" { "-Hlun" } else { "-Hltn" };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = ns_run(ns, &["ss", flag, &format!("sport = :{port}")]);
        if !out.stdout.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {proto} port {port} in {ns}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// TCX programs attached to `iface` in `ns` (ingress + egress), via the kernel query API.
pub fn tcx_programs(pair: &NetPair, iface: &str) -> usize {
    use aya::programs::{SchedClassifier, TcAttachType};
    netobserv_agent::netns::in_netns(Some(&pair.path_a()), || {
        [TcAttachType::Ingress, TcAttachType::Egress]
            .into_iter()
            .map(|t| {
                SchedClassifier::query_tcx(iface, t)
                    .map(|(_, p)| p.len())
                    .unwrap_or(0)
            })
            .sum()
    })
    .unwrap()
}

/// Fails (never skips) when not root: these tests need to create namespaces and load eBPF.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the agent tests must run as root (they create network namespaces, veth pairs and load \
         eBPF programs); run `sudo -E cargo test` or `make test` as root"
    );
    for tool in ["ip", "nft", "ping", "nc"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "{tool} is missing: run scripts/prerequisites.sh");
    }
}

/// Runs a command and panics with its output when it fails.
pub fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("spawning {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a command inside a namespace.
pub fn ns_run(ns: &str, args: &[&str]) -> Output {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    run(&v)
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Two namespaces `a` and `b` joined by a veth pair, IPv4 10.199.0.1/2 and fd00:199::1/2.
pub struct NetPair {
    pub ns_a: String,
    pub ns_b: String,
    pub veth_a: String,
    pub veth_b: String,
    pub ip_a: &'static str,
    pub ip_b: &'static str,
    pub ip6_a: &'static str,
    pub ip6_b: &'static str,
}

impl NetPair {
    /// Creates the pair with names unique to this process and call.
    pub fn new() -> Self {
        let id = format!(
            "{}{}",
            std::process::id() % 100_000,
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let p = NetPair {
            ns_a: format!("nota{id}"),
            ns_b: format!("notb{id}"),
            veth_a: format!("va{id}"),
            veth_b: format!("vb{id}"),
            ip_a: "10.199.0.1",
            ip_b: "10.199.0.2",
            ip6_a: "fd00:199::1",
            ip6_b: "fd00:199::2",
        };
        run(&["ip", "netns", "add", &p.ns_a]);
        run(&["ip", "netns", "add", &p.ns_b]);
        run(&[
            "ip", "link", "add", &p.veth_a, "netns", &p.ns_a, "type", "veth", "peer", "name",
            &p.veth_b, "netns", &p.ns_b,
        ]);
        for (ns, dev, v4, v6) in [
            (&p.ns_a, &p.veth_a, p.ip_a, p.ip6_a),
            (&p.ns_b, &p.veth_b, p.ip_b, p.ip6_b),
        ] {
            ns_run(ns, &["ip", "addr", "add", &format!("{v4}/24"), "dev", dev]);
            ns_run(
                ns,
                &[
                    "ip",
                    "-6",
                    "addr",
                    "add",
                    &format!("{v6}/64"),
                    "dev",
                    dev,
                    "nodad",
                ],
            );
            ns_run(ns, &["ip", "link", "set", dev, "up"]);
            ns_run(ns, &["ip", "link", "set", "lo", "up"]);
        }
        p
    }

    /// Path of namespace `a` for `Config::netns` / `in_netns`.
    pub fn path_a(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.ns_a))
    }

    /// Path of namespace `b`.
    pub fn path_b(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.ns_b))
    }

    /// Turns IPv6 off in both namespaces, so that the pair carries only what a test sends
    /// (IPv6 sends neighbour discovery and MLD reports of its own, some retransmitted a second
    /// or more after the link came up).
    pub fn disable_ipv6(&self) {
        for ns in [&self.ns_a, &self.ns_b] {
            for scope in ["all", "default"] {
                ns_run(
                    ns,
                    &[
                        "sysctl",
                        "-q",
                        "-w",
                        &format!("net.ipv6.conf.{scope}.disable_ipv6=1"),
                    ],
                );
            }
        }
    }

    /// Adds an extra veth pair whose both ends stay in namespace `a`.
    pub fn add_local_veth(&self, name: &str, peer: &str) {
        ns_run(
            &self.ns_a,
            &[
                "ip", "link", "add", name, "type", "veth", "peer", "name", peer,
            ],
        );
        ns_run(&self.ns_a, &["ip", "link", "set", name, "up"]);
        ns_run(&self.ns_a, &["ip", "link", "set", peer, "up"]);
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        // Deleting the namespaces removes the veths and any hooks on them.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns_a])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns_b])
            .status();
    }
}

/// Named nftables counters in namespace `ns`, table `inet netobserv_test`.
pub struct NftCounters {
    ns: String,
}

impl NftCounters {
    /// Creates the table with a prerouting (ingress) and a postrouting (egress) chain.
    pub fn new(ns: &str) -> Self {
        let script = "table inet netobserv_test {\n\
             chain pre { type filter hook prerouting priority -300; policy accept; }\n\
             chain post { type filter hook postrouting priority 300; policy accept; }\n}\n";
        nft(ns, script);
        NftCounters { ns: ns.to_string() }
    }

    /// Adds counter `name` fed by `match_expr` in the ingress (`pre`) or egress (`post`) chain.
    pub fn add(&self, name: &str, chain: &str, match_expr: &str) {
        nft(
            &self.ns,
            &format!(
                "add counter inet netobserv_test {name}\n\
                 add rule inet netobserv_test {chain} {match_expr} counter name {name}\n"
            ),
        );
    }

    /// (packets, bytes) of counter `name`.
    pub fn get(&self, name: &str) -> (u64, u64) {
        let out = ns_run(
            &self.ns,
            &["nft", "list", "counter", "inet", "netobserv_test", name],
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let num = |key: &str| -> u64 {
            let i = text
                .find(key)
                .unwrap_or_else(|| panic!("{key} not in {text}"));
            text[i + key.len()..]
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("cannot parse {key} in {text}"))
        };
        (num("packets "), num("bytes "))
    }
}

pub fn nft(ns: &str, script: &str) {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nft");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft failed on\n{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The 4 last bytes of a v4-mapped address.
pub fn v4_mapped(ip: &str) -> [u8; 16] {
    let v4: std::net::Ipv4Addr = ip.parse().unwrap();
    v4.to_ipv6_mapped().octets()
}

/// Raw IPv6 address bytes.
pub fn v6(ip: &str) -> [u8; 16] {
    let a: std::net::Ipv6Addr = ip.parse().unwrap();
    a.octets()
}

/// A `pbflow.Collector` on 127.0.0.1 that keeps what it receives.
pub struct TestCollector {
    pub records: std::sync::Arc<std::sync::Mutex<Vec<pbflow::Record>>>,
    pub calls: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

#[derive(Clone)]
struct CollectorSvc {
    records: std::sync::Arc<std::sync::Mutex<Vec<pbflow::Record>>>,
    calls: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
}

#[tonic::async_trait]
impl pbflow::collector_server::Collector for CollectorSvc {
    async fn send(
        &self,
        req: tonic::Request<pbflow::Records>,
    ) -> Result<tonic::Response<pbflow::CollectorReply>, tonic::Status> {
        let entries = req.into_inner().entries;
        self.calls.lock().unwrap().push(entries.len());
        self.records.lock().unwrap().extend(entries);
        Ok(tonic::Response::new(pbflow::CollectorReply {}))
    }
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TestCollector {
    /// Serves on `port` (0 = any free port).
    pub async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let svc = CollectorSvc {
            records: Default::default(),
            calls: Default::default(),
        };
        let (records, calls) = (svc.records.clone(), svc.calls.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(pbflow::collector_server::CollectorServer::new(svc))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async {
                        let _ = rx.await;
                    },
                )
                .await
                .unwrap();
        });
        TestCollector {
            records,
            calls,
            port,
            stop: Some(tx),
        }
    }

    pub fn len(&self) -> usize {
        self.records.lock().unwrap().len()
    }

    pub fn snapshot(&self) -> Vec<pbflow::Record> {
        self.records.lock().unwrap().clone()
    }

    /// Waits until at least `n` records arrived, panicking after `secs`.
    pub async fn wait_for(&self, n: usize, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while self.len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "collector got {} records, expected at least {n}",
                self.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestCollector {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// GETs `path` from the agent's HTTP endpoint (`/status`, `/metrics`) and returns the raw
/// response, headers included.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Sends `count` UDP datagrams from namespace `ns` to `dst:dst_port`, each from its own source
/// port (so each is one flow), `rate` per second, in the background.
pub fn udp_datagrams(
    ns: &str,
    dst: &str,
    dst_port: u16,
    first_port: u32,
    count: u32,
    rate: u32,
) -> std::process::Child {
    let script = format!(
        "import socket, time\n\
         for i in range({count}):\n\
         \x20   s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         \x20   s.bind(('', {first_port} + i))\n\
         \x20   s.sendto(b'netobserv', ('{dst}', {dst_port}))\n\
         \x20   s.close()\n\
         \x20   time.sleep(1.0 / {rate})\n"
    );
    std::process::Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &script])
        .spawn()
        .expect("python3 sender")
}

/// The agent binary watching end A of `pair` (its namespace only), evicting every 200 ms and
/// serving `/metrics` on `127.0.0.1:metrics_port`, its output in `log`: the export tests' agent,
/// to which each adds its `EXPORT` settings.
pub fn agent_command(pair: &NetPair, metrics_port: u16, log: &std::path::Path) -> Command {
    let out = std::fs::File::create(log).expect("agent log");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_netobserv-ebpf-agent"));
    agent
        .env("NETOBSERV_NETNS", pair.path_a())
        .env("NETNS_DIRS", "none")
        .env("INTERFACES", &pair.veth_a)
        .env("CACHE_ACTIVE_TIMEOUT", "200ms")
        .env("METRICS_ENABLE", "true")
        .env("METRICS_SERVER_ADDRESS", "127.0.0.1")
        .env("METRICS_SERVER_PORT", metrics_port.to_string())
        .env("LOG_LEVEL", "info")
        .env_remove("RUST_LOG")
        .stdout(out.try_clone().expect("agent log handle"))
        .stderr(out);
    agent
}

/// Waits (20 s at most) until `agent` attached its two TCX programs to end A of `pair`; fails
/// with its log when it exits or never attaches.
pub fn wait_attached(agent: &mut std::process::Child, pair: &NetPair, log: &std::path::Path) {
    let agent_log = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while tcx_programs(pair, &pair.veth_a) < 2 {
        assert!(
            agent.try_wait().expect("agent status").is_none(),
            "agent exited:\n{}",
            agent_log()
        );
        assert!(
            std::time::Instant::now() < deadline,
            "agent never attached:\n{}",
            agent_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
