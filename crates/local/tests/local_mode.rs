//! `netobserv-local` end to end, confined to a network-namespace pair this test creates (never
//! the host's interfaces): the real binary observes one end of the veth, known TCP, UDP and DNS
//! traffic is sent, and the flows are found with the right packet and byte counts both in the
//! flow store (read by the `sqlite3` program, an independent reader) and through the console API
//! (read by `curl`). TCP counts are checked against nftables counters on the same veth; UDP and
//! DNS counts are known from what was sent; the TCP client's process (`nc`) is named from the
//! namespace's sockets. SIGINT must leave no TCX program attached and nothing pinned under
//! /sys/fs/bpf. Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Ethernet header, counted by the agent and not by nftables.
const ETH_HLEN: u64 = 14;

/// A running `netobserv-local`, its output collected.
struct Local {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl Local {
    fn start(pair: &NetPair, store: &Path, metrics: SocketAddr) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-local"))
            .args(["--netns", &pair.path_a().display().to_string()])
            .args(["--interfaces", &pair.veth_a])
            .args(["--features", "DNSTracking"])
            .args(["--cache-active-timeout", "300ms"])
            .args(["--store", &store.display().to_string()])
            .args(["--console-address", "127.0.0.1:0"])
            .args(["--metrics-address", &metrics.to_string()])
            .args(["--summary-every", "1s"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn netobserv-local");
        let out = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sink = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(line);
                }
            });
        }
        Self { child, out }
    }

    fn log(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    /// The console's address, from the "console at http://..." line.
    fn console(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(a) = self
                .log()
                .lines()
                .find_map(|l| l.strip_prefix("console at http://").map(str::to_string))
            {
                return a;
            }
            if let Some(s) = self.child.try_wait().unwrap() {
                panic!("netobserv-local exited: {s}\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no console line:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: a signal to our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "netobserv-local did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Every path under /sys/fs/bpf.
fn bpffs_entries() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.clone());
            if p.is_dir() {
                walk(&p, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(Path::new("/sys/fs/bpf"), &mut v);
    v.sort();
    v
}

/// A DNS message: `id`, the question `example.test A`, as a query or an NXDOMAIN answer.
fn dns_message(id: u16, response: bool) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(if response {
        &[0x81, 0x83]
    } else {
        &[0x01, 0x00]
    });
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ["example", "test"] {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

/// UDP datagrams and one DNS exchange, from sockets opened inside the namespaces.
fn send_udp_and_dns(pair: &NetPair, udp_count: usize, udp_payload: usize) -> u16 {
    let server = netobserv_agent::netns::in_netns(Some(&pair.path_b()), || {
        (
            UdpSocket::bind((pair.ip_b, 9999)).unwrap(),
            UdpSocket::bind((pair.ip_b, 53)).unwrap(),
        )
    })
    .unwrap();
    let (client, resolver_client) = netobserv_agent::netns::in_netns(Some(&pair.path_a()), || {
        (
            UdpSocket::bind((pair.ip_a, 0)).unwrap(),
            UdpSocket::bind((pair.ip_a, 0)).unwrap(),
        )
    })
    .unwrap();
    let udp_port = client.local_addr().unwrap().port();
    server
        .0
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 2048];
    for _ in 0..udp_count {
        client
            .send_to(&vec![7u8; udp_payload], (pair.ip_b, 9999))
            .unwrap();
        let (n, _) = server.0.recv_from(&mut buf).unwrap();
        assert_eq!(n, udp_payload);
    }
    // DNS: one query, one NXDOMAIN answer.
    server
        .1
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    resolver_client
        .send_to(&dns_message(0x4242, false), (pair.ip_b, 53))
        .unwrap();
    let (_, from) = server.1.recv_from(&mut buf).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    server.1.send_to(&dns_message(0x4242, true), from).unwrap();
    resolver_client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    resolver_client.recv_from(&mut buf).unwrap();
    udp_port
}

/// (packets, bytes) of the flows matching `cond` in the store.
fn store_totals(store: &Path, cond: &str) -> (u64, u64) {
    let row = sql(
        store,
        &format!(
            "SELECT COALESCE(SUM(Packets),0) || ' ' || COALESCE(SUM(Bytes),0) FROM flow WHERE {cond}"
        ),
    );
    let mut it = row
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The console's records matching `filters` (console filter syntax), through curl.
fn api_records(console: &str, filters: &str, since_s: u64) -> Vec<serde_json::Value> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let url = format!(
        "http://{console}/api/loki/flow/records?filters={}&startTime={}&endTime={}&limit=1000",
        encode(filters),
        since_s - 60,
        now + 60
    );
    let out = Command::new("curl")
        .args(["-sf", &url])
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl {url} failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    v["result"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|pair| serde_json::from_str(pair[1].as_str()?).ok())
        .collect()
}

fn api_totals(records: &[serde_json::Value]) -> (u64, u64) {
    records.iter().fold((0, 0), |(p, b), r| {
        (
            p + r["Packets"].as_u64().unwrap_or(0),
            b + r["Bytes"].as_u64().unwrap_or(0),
        )
    })
}

/// nftables counters of the TCP traffic leaving and entering the observed end of the veth,
/// an independent count to check the agent's against.
fn count_tcp_on_veth(pair: &NetPair) -> NftCounters {
    let (a, b) = (pair.ip_a, pair.ip_b);
    let nft = NftCounters::new(&pair.ns_a);
    nft.add(
        "tcp_out",
        "post",
        &format!(
            "oifname \"{}\" ip saddr {a} ip daddr {b} tcp dport 5201",
            pair.veth_a
        ),
    );
    nft.add(
        "tcp_in",
        "pre",
        &format!(
            "iifname \"{}\" ip saddr {b} ip daddr {a} tcp sport 5201",
            pair.veth_a
        ),
    );
    nft
}

/// The traffic sent: each kind's store condition and the (packets, bytes) it must total.
struct Sent {
    udp_port: u16,
    udp_cond: String,
    tcp_out_cond: String,
    tcp_in_cond: String,
    dns_q_cond: String,
    dns_r_cond: String,
    udp: (u64, u64),
    tcp_out: (u64, u64),
    tcp_in: (u64, u64),
    /// Bytes of one DNS message on the wire (queries and answers are the same size).
    dns_len: u64,
}

impl Sent {
    /// Every condition with its expected (packets, bytes).
    fn expected(&self) -> [(&String, (u64, u64)); 5] {
        [
            (&self.udp_cond, self.udp),
            (&self.tcp_out_cond, self.tcp_out),
            (&self.tcp_in_cond, self.tcp_in),
            (&self.dns_q_cond, (1, self.dns_len)),
            (&self.dns_r_cond, (1, self.dns_len)),
        ]
    }
}

/// Sends known UDP, DNS and TCP traffic across the pair; TCP's expected counts come from the
/// nftables counters (plus the Ethernet header), UDP's and DNS's from what was sent.
fn send_traffic(pair: &NetPair, nft: &NftCounters) -> Sent {
    let (a, b) = (pair.ip_a, pair.ip_b);
    let (udp_count, udp_payload) = (5u64, 100usize);
    let udp_port = send_udp_and_dns(pair, udp_count as usize, udp_payload);
    // The client stays a moment after sending, so that a scan of the sockets sees it.
    assert!(
        nc_tcp_transfer(pair, "(head -c 100000 /dev/zero; sleep 1.5)", b, 5201, 5201),
        "TCP client failed"
    );
    let expect = |name: &str| {
        let (p, by) = nft.get(name);
        assert!(p > 0, "nft {name} saw nothing");
        (p, by + ETH_HLEN * p)
    };
    let (tcp_out, tcp_in) = (expect("tcp_out"), expect("tcp_in"));
    Sent {
        udp_port,
        udp_cond: format!(
            "SrcAddr='{a}' AND DstAddr='{b}' AND Proto=17 AND DstPort=9999 AND SrcPort={udp_port}"
        ),
        tcp_out_cond: format!("SrcAddr='{a}' AND DstAddr='{b}' AND Proto=6 AND DstPort=5201"),
        tcp_in_cond: format!("SrcAddr='{b}' AND DstAddr='{a}' AND Proto=6 AND SrcPort=5201"),
        dns_q_cond: format!("SrcAddr='{a}' AND DstAddr='{b}' AND Proto=17 AND DstPort=53"),
        dns_r_cond: format!("SrcAddr='{b}' AND DstAddr='{a}' AND Proto=17 AND SrcPort=53"),
        // IPv4 (20) + UDP (8) + Ethernet (14) around each payload.
        udp: (udp_count, udp_count * (udp_payload as u64 + 42)),
        tcp_out,
        tcp_in,
        dns_len: dns_message(0, false).len() as u64 + 42,
    }
}

/// Every kind of traffic reaches the store with the right totals. Evictions every 300 ms and
/// store commits every second: waits for every count, at most 20 s.
fn check_store_totals(store: &Path, sent: &Sent, local: &Local) {
    let expected = sent.expected();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = store.exists()
            && expected
                .iter()
                .all(|(c, want)| store_totals(store, c) == *want);
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for (cond, want) in &expected {
        assert_eq!(
            store_totals(store, cond),
            *want,
            "store totals of {cond}\n{}",
            local.log()
        );
    }
}

/// The stored flows are enriched: DNS tracking, subnet labels, port names and the TCP
/// client's process.
fn check_store_enrichment(store: &Path, sent: &Sent) {
    let (dns_r_cond, dns_q_cond) = (&sent.dns_r_cond, &sent.dns_q_cond);
    // DNS tracking: the answer carries the query's id, its response code and a latency.
    let dns = sql(
        store,
        &format!(
            "SELECT DnsId || ' ' || DnsFlagsResponseCode || ' ' || (DnsLatencyMs IS NOT NULL) FROM flow WHERE {dns_r_cond} AND DnsId IS NOT NULL"
        ),
    );
    assert_eq!(dns, format!("{} NXDomain 1", 0x4242), "DNS answer row");
    // The observed namespace's own address is labelled `host`, the peer by its range.
    let labels = sql(
        store,
        &format!(
            "SELECT DISTINCT SrcSubnetLabel || ' ' || DstSubnetLabel FROM flow WHERE {dns_q_cond}"
        ),
    );
    assert_eq!(labels, "host private", "subnet labels of the DNS query");
    // Port names from the host's /etc/services (read here too, as an independent reader).
    let services = std::fs::read_to_string("/etc/services").unwrap_or_default();
    let listed = services.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some("domain") && w.next() == Some("53/udp")
    });
    let names = sql(
        store,
        &format!("SELECT DISTINCT SrcPortName FROM flow WHERE {dns_r_cond}"),
    );
    assert_eq!(
        names,
        if listed { "domain" } else { "" },
        "the DNS answer's port name"
    );

    // The process behind the TCP client, named from the namespace's sockets (rows exported
    // before the first scan saw the socket have none).
    let tcp_out_cond = &sent.tcp_out_cond;
    let client = sql(
        store,
        &format!(
            "SELECT DISTINCT SrcProcessName || ' ' || (SrcProcessPid > 0) FROM flow WHERE {tcp_out_cond} AND SrcProcessName IS NOT NULL"
        ),
    );
    assert!(
        client.starts_with("nc") && client.ends_with(" 1") && client.lines().count() == 1,
        "TCP client process: {client:?}"
    );
}

/// The console API answers from the same store: UDP, TCP (with its process) and DNS totals.
fn check_console_api(console: &str, pair: &NetPair, sent: &Sent, since_s: u64) {
    let (a, b, udp_port) = (pair.ip_a, pair.ip_b, sent.udp_port);
    let udp = api_records(
        console,
        &format!("SrcAddr={a}&DstAddr={b}&Proto=17&DstPort=9999&SrcPort={udp_port}"),
        since_s,
    );
    assert_eq!(api_totals(&udp), sent.udp, "UDP via the API: {udp:?}");
    let tcp = api_records(
        console,
        &format!("SrcAddr={a}&DstAddr={b}&DstPort=5201"),
        since_s,
    );
    assert_eq!(api_totals(&tcp), sent.tcp_out, "TCP via the API: {tcp:?}");
    assert!(
        // Rows exported before the first scan that saw the socket have no process.
        tcp.iter().any(|r| r["SrcProcessName"]
            .as_str()
            .is_some_and(|n| n.starts_with("nc"))),
        "the client process via the API: {tcp:?}"
    );
    let dns = api_records(console, &format!("SrcAddr={b}&SrcPort=53"), since_s);
    assert_eq!(
        api_totals(&dns),
        (1, sent.dns_len),
        "DNS via the API: {dns:?}"
    );
    assert!(
        dns.iter().any(|r| r["DnsFlagsResponseCode"] == "NXDomain"),
        "{dns:?}"
    );
}

/// The pipeline's Prometheus counters are served on `metrics`.
fn check_prometheus_counters(metrics: SocketAddr) {
    let prom = Command::new("curl")
        .args(["-sf", &format!("http://{metrics}/metrics")])
        .output()
        .expect("curl");
    let prom = String::from_utf8_lossy(&prom.stdout);
    assert!(
        prom.lines()
            .any(|l| l.starts_with("netobserv_host_flows_total{")
                && l.contains("DstSubnetLabel=\"private\"")),
        "{prom}"
    );
}

/// SIGINT: everything detached, nothing pinned, the store flushed and the process gone.
fn check_sigint_detaches(
    local: &mut Local,
    pair: &NetPair,
    pins_before: &[PathBuf],
    store: &Path,
    sent: &Sent,
) {
    local.signal(libc::SIGINT);
    let status = local.wait(Duration::from_secs(30));
    assert!(status.success(), "exit {status}\n{}", local.log());
    assert_eq!(tcx_programs(pair, &pair.veth_a), 0, "TCX programs left");
    assert_eq!(
        bpffs_entries(),
        pins_before,
        "something pinned in /sys/fs/bpf"
    );
    let log = local.log();
    assert!(log.contains("stopped: every hook detached"), "{log}");
    assert_eq!(store_totals(store, &sent.udp_cond), sent.udp);
}

#[test]
fn local_mode_stores_and_serves_tcp_udp_and_dns_flows_and_detaches_on_sigint() {
    require_root();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let dir = std::env::temp_dir().join(format!("netobserv-local-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("flows.db");
    let pins_before = bpffs_entries();
    let since_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let metrics = free_addr();
    let mut local = Local::start(&pair, &store, metrics);
    let console = local.console();
    wait_attached(&pair, Duration::from_secs(20), || true, || local.log());
    let nft = count_tcp_on_veth(&pair);
    let sent = send_traffic(&pair, &nft);

    check_store_totals(&store, &sent, &local);
    check_store_enrichment(&store, &sent);
    check_console_api(&console, &pair, &sent, since_s);
    check_prometheus_counters(metrics);
    assert!(local.log().contains("new flows"), "{}", local.log());
    check_sigint_detaches(&mut local, &pair, &pins_before, &store, &sent);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A machine where nothing moves: local mode says which interfaces it watches and how to widen
/// the set, instead of staying silent.
#[test]
fn a_quiet_namespace_gets_the_hint() {
    require_root();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let dir = std::env::temp_dir().join(format!("netobserv-local-quiet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut local = Command::new(env!("CARGO_BIN_EXE_netobserv-local"))
        .args(["--netns", &pair.path_a().display().to_string()])
        .args(["--store", &dir.join("flows.db").display().to_string()])
        .args(["--console-address", "127.0.0.1:0"])
        .args(["--metrics-address", &free_addr().to_string()])
        .args(["--quiet-hint-after", "2s", "--duration", "4s"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(40);
    while local.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not stop after --duration");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = local.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hint = stdout
        .lines()
        .find(|l| l.starts_with("no flow seen for"))
        .unwrap_or_else(|| panic!("no hint in:\n{stdout}"));
    assert!(
        hint.contains(&format!("watching {}", pair.veth_a)),
        "{hint}"
    );
    assert!(hint.contains("excluded: lo"), "{hint}");
    assert!(hint.contains("--exclude-interfaces="), "{hint}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `make run`'s script: without root, one line saying why and what to run instead; as root (with
/// the binary this test built), it gets to the console line and stops cleanly.
#[test]
fn make_run_reaches_the_console_line_and_refuses_non_root_in_one_line() {
    require_root();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("scripts/run-local.sh");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "bash"])
        .arg(&script)
        .output()
        .expect("setpriv runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("needs root") && stderr.contains("sudo make run"),
        "{stderr}"
    );

    let pair = NetPair::new();
    let dir = std::env::temp_dir().join(format!("netobserv-local-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_netobserv-local"))
        .parent()
        .unwrap();
    let args = format!(
        "--netns {} --store {} --console-address 127.0.0.1:0 --metrics-address {} --duration 2s",
        pair.path_a().display(),
        dir.join("flows.db").display(),
        free_addr()
    );
    let out = Command::new("bash")
        .arg(&script)
        .env("BIN_DIR", bin_dir)
        .env("ARGS", args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run-local.sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("console at http://127.0.0.1:")),
        "{stdout}"
    );
    assert!(stdout.contains("stopped: every hook detached"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The second Ctrl-C exits at once, even while the first is still flushing a store that cannot
/// be written (another program holds SQLite's exclusive lock, as a stuck disk or a backup
/// would): exit status 130 within a second, and since the hooks are links owned by the
/// process, the kernel detaches them as it exits — nothing stays attached.
#[test]
fn a_second_ctrl_c_exits_at_once_while_the_first_waits_on_the_store() {
    require_root();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let dir = std::env::temp_dir().join(format!("netobserv-local-2nd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("flows.db");
    let mut local = Local::start(&pair, &store, free_addr());
    local.console();
    wait_attached(&pair, Duration::from_secs(20), || true, || local.log());
    // Hold the store's write lock from another process.
    let mut holder = Command::new("sqlite3")
        .arg(&store)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sqlite3");
    use std::io::Write;
    let stdin = holder.stdin.as_mut().unwrap();
    stdin.write_all(b"BEGIN EXCLUSIVE;\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    udp_a_to_b(&pair, 9998, 20, 100);
    std::thread::sleep(Duration::from_millis(800));

    local.signal(libc::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !local.log().contains("stopping: detaching hooks") {
        assert!(
            Instant::now() < deadline,
            "no stopping line:\n{}",
            local.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        local.child.try_wait().unwrap().is_none(),
        "the first Ctrl-C finished before the second could be tested (the store lock did not hold)"
    );
    let sent = Instant::now();
    local.signal(libc::SIGINT);
    let status = local.wait(Duration::from_secs(5));
    let took = sent.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(status.code(), Some(130), "{}", local.log());
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(
        local.log().contains("second Ctrl-C, exiting now"),
        "{}",
        local.log()
    );
    assert_eq!(tcx_programs(&pair, &pair.veth_a), 0, "hooks left attached");
    let _ = std::fs::remove_dir_all(&dir);
}
