//! The live terminal view and `--query`, end to end: the real binary runs under `script` (a real
//! pseudo-terminal, 40×160), confined to a network-namespace pair this test creates. UDP and TCP
//! traffic is sent with `--query 'Proto = 17'`: the view must show the UDP peers among its top
//! talkers, the store (read by `sqlite3`) must hold the UDP flows and no TCP one, and pressing
//! `q` in the terminal must stop the run as Ctrl-C does: every hook detached, the terminal given
//! back, the logs in a file beside the store rather than on the screen. A DNS answer naming the
//! peer is sent first: the flows to it must carry that name (`DstResolvedName`). Root only;
//! fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The terminal output without its escape sequences (CSI and the alternate-screen switches).
fn plain_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
        // A cursor move separates cells: keep words apart.
        out.push(' ');
    }
    out
}

/// One DNS exchange between the namespaces: `name` A `ip`, answered from port 53 of the peer.
fn resolve(pair: &NetPair, name: &str, ip: &str) {
    let ip: std::net::Ipv4Addr = ip.parse().unwrap();
    let server = netobserv_agent::netns::in_netns(Some(&pair.path_b()), || {
        UdpSocket::bind((pair.ip_b, 53)).unwrap()
    })
    .unwrap();
    let client = netobserv_agent::netns::in_netns(Some(&pair.path_a()), || {
        UdpSocket::bind((pair.ip_a, 0)).unwrap()
    })
    .unwrap();
    let mut question = Vec::new();
    for label in name.split('.') {
        question.push(label.len() as u8);
        question.extend(label.as_bytes());
    }
    question.extend([0, 0, 1, 0, 1]);
    let mut query = vec![0x51, 0x51, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend(&question);
    client.send_to(&query, (pair.ip_b, 53)).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 512];
    let (_, from) = server.recv_from(&mut buf).unwrap();
    let mut answer = vec![0x51, 0x51, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    answer.extend(&question);
    answer.extend([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
    answer.extend(ip.octets());
    server.send_to(&answer, from).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client.recv_from(&mut buf).unwrap();
}

/// A count from the store.
fn count(store: &Path, query: &str) -> u64 {
    sql(store, query).parse().unwrap_or(0)
}

/// The `script` process and the `netobserv-local` it runs, stopped when the test ends whether it
/// passed or not: a failed assertion must not leave an agent attached to the host.
struct Running {
    child: Child,
    store: PathBuf,
}

impl Running {
    fn new(store: &Path, child: Child) -> Self {
        Self {
            child,
            store: store.to_path_buf(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The view runs in its own session under `script`: find it by its store path.
        let me = std::process::id().to_string();
        let needle = self.store.to_string_lossy().into_owned();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
    }
}

#[test]
fn the_live_view_shows_top_talkers_applies_the_query_and_q_stops_cleanly() {
    require_root();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let dir = std::env::temp_dir().join(format!("netobserv-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("flows.db");
    let metrics = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let command = format!(
        "stty rows 40 cols 160; exec {} --netns {} --interfaces {} --cache-active-timeout 300ms \
         --store {} --console-address 127.0.0.1:0 --metrics-address {metrics} --query 'Proto = 17'",
        env!("CARGO_BIN_EXE_netobserv-local"),
        pair.path_a().display(),
        pair.veth_a,
        store.display(),
    );
    let mut run = Running::new(
        &store,
        Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .env("TERM", "xterm")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script"),
    );
    let child = &mut run.child;
    let screen = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = screen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let text = || plain_text(&screen.lock().unwrap());
    wait_attached(&pair, Duration::from_secs(30), || true, text);

    // A DNS answer naming the peer, as a resolver would send it: the flows to that address get
    // the name (SrcResolvedName / DstResolvedName, from the answers the namespace received).
    resolve(&pair, "web.example", pair.ip_b);

    // UDP, which the query keeps, and TCP, which it drops.
    udp_a_to_b(&pair, 9999, 20, 1000);
    assert!(
        nc_tcp_transfer(&pair, "echo hello", pair.ip_b, 5301, 5301),
        "the TCP transfer failed"
    );

    // The view shows the UDP peers among the top talkers.
    let peer = pair.ip_b.to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let t = text();
        if t.contains("Top talkers") && t.contains(&peer) && t.contains("UDP") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the view never showed {peer}:\n{t}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let udp = count(
        &store,
        &format!("SELECT COUNT(*) FROM flow WHERE Proto = 17 AND DstAddr = '{peer}'"),
    );
    assert!(udp >= 1, "no UDP flow stored");
    let named = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM flow WHERE DstAddr = '{peer}' AND DstPort = 9999 AND DstResolvedName = 'web.example'"
        ),
    );
    assert!(
        named >= 1,
        "the UDP flows to {peer} are not named web.example"
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM flow WHERE Proto = 6"),
        0,
        "--query 'Proto = 17' let TCP flows through"
    );

    // `q` stops the run like Ctrl-C.
    child.stdin.as_mut().unwrap().write_all(b"q").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "q did not stop:\n{}", text());
        std::thread::sleep(Duration::from_millis(50));
    };
    let t = text();
    assert!(status.success(), "exit {status}:\n{t}");
    assert!(t.contains("stopped: every hook detached"), "{t}");
    let raw = screen.lock().unwrap().clone();
    let raw = String::from_utf8_lossy(&raw);
    let left = raw
        .rfind("\u{1b}[?1049l")
        .expect("the alternate screen was never left");
    assert!(
        raw.rfind("\u{1b}[?1049h")
            .is_some_and(|entered| entered < left),
        "the terminal was not given back"
    );
    assert_eq!(tcx_programs(&pair, &pair.veth_a), 0, "hooks left attached");
    let log = std::fs::read_to_string(dir.join("netobserv-local.log")).unwrap_or_default();
    assert!(!log.is_empty(), "no log file beside the store");
    let _ = std::fs::remove_dir_all(&dir);
}
