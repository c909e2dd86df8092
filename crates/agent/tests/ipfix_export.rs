//! `EXPORT=ipfix+udp` and `EXPORT=ipfix+tcp` against independent readers: the agent binary
//! watches one end of a veth pair in network namespaces, each UDP datagram sent there is one
//! flow, the IPFIX messages the agent sends to a collector this test runs on loopback are put
//! into a pcapng file, and Debian's `tshark` (Wireshark's IPFIX dissector) decodes them; every
//! field is compared with what the test knows of the traffic (addresses, ports, MACs, sizes,
//! interface, direction). Over TCP the collector starts late and then closes its connection:
//! the agent waits, reconnects, opens each session with its templates, and loses nothing.
//! Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "../../pipeline/tests/support/ipfix_tshark.rs"]
mod ipfix_tshark;

use common::*;
use ipfix_tshark::{pcap, read_message, temp, tshark_records};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{TcpListener, UdpSocket};
use std::process::Child;
use std::time::{Duration, Instant};

const UDP_PORT: u16 = 9;
/// Bytes of one datagram as the agent counts them: Ethernet, IPv4 and UDP headers, payload.
const FRAME_BYTES: u64 = 14 + 20 + 8 + "netobserv".len() as u64;

/// A running agent and the log it writes.
struct Agent {
    child: Child,
    log: std::path::PathBuf,
    metrics: std::net::SocketAddr,
}

impl Agent {
    fn start(pair: &NetPair, export: &str, port: u16) -> Self {
        let log = std::env::temp_dir().join(format!(
            "netobserv-ipfix-agent-{export}-{}.log",
            std::process::id()
        ));
        let metrics_port = free_port();
        let mut child = agent_command(pair, metrics_port, &log)
            .env("EXPORT", export)
            .env("TARGET_HOST", "127.0.0.1")
            .env("TARGET_PORT", port.to_string())
            .spawn()
            .expect("spawn the agent binary");
        wait_attached(&mut child, pair, &log);
        Self {
            child,
            log,
            metrics: format!("127.0.0.1:{metrics_port}").parse().unwrap(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A counter of the agent's `/metrics`, summed over its labels.
    fn counter(&self, name: &str) -> u64 {
        http_get(self.metrics, "/metrics")
            .lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    /// SIGTERM, and a clean exit within 30 s.
    fn stop(mut self) {
        // SAFETY: sending a signal to our own child process.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "agent did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "{}", self.log());
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Two namespaces where A→B UDP to port 9 is the only traffic (B drops it without answering).
fn quiet_pair() -> NetPair {
    let pair = NetPair::new();
    pair.disable_ipv6();
    nft(
        &pair.ns_b,
        "table inet quiet { chain in { type filter hook input priority 0; udp dport 9 drop; }; }",
    );
    pair
}

fn mac(ns: &str, iface: &str) -> String {
    let out = ns_run(ns, &["cat", &format!("/sys/class/net/{iface}/address")]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// tshark's data records of `messages` that are A→B datagrams, by source port.
fn decoded_datagrams(
    messages: &[Vec<u8>],
    name: &str,
    pair: &NetPair,
) -> BTreeMap<u32, Vec<serde_json::Map<String, Value>>> {
    let path = temp(name);
    pcap(messages, &path);
    let records = tshark_records(&path);
    let _ = std::fs::remove_file(&path);
    let field = |r: &serde_json::Map<String, Value>, k: &str| {
        r.get(k).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let mut out: BTreeMap<u32, Vec<_>> = BTreeMap::new();
    for r in records {
        if field(&r, "cflow.srcaddr") == pair.ip_a
            && field(&r, "cflow.dstport") == UDP_PORT.to_string()
        {
            let port = field(&r, "cflow.srcport").parse().expect("source port");
            out.entry(port).or_default().push(r);
        }
    }
    out
}

/// Every field tshark shows for one datagram's flow, as the traffic defines it.
fn assert_fields(r: &serde_json::Map<String, Value>, pair: &NetPair, port: u32, macs: &[String]) {
    let want = [
        ("cflow.srcaddr", pair.ip_a.to_string()),
        ("cflow.dstaddr", pair.ip_b.to_string()),
        ("cflow.srcport", port.to_string()),
        ("cflow.dstport", UDP_PORT.to_string()),
        ("cflow.protocol", "17".into()),
        ("cflow.ethernet_type", "2048".into()),
        // Egress on the watched interface: flowDirection 1.
        ("cflow.direction", "1".into()),
        ("cflow.srcmac", macs[0].clone()),
        ("cflow.dstmac", macs[1].clone()),
        ("cflow.octets", FRAME_BYTES.to_string()),
        ("cflow.packets", "1".into()),
        ("cflow.tcpflags", "0x0000".into()),
        ("cflow.if_name", pair.veth_a.clone()),
        ("cflow.icmp_ipv4_type", "0".into()),
        ("cflow.icmp_ipv4_code", "0".into()),
    ];
    for (k, v) in want {
        assert_eq!(
            r.get(k).and_then(Value::as_str),
            Some(v.as_str()),
            "{k} of the flow from port {port}: {r:#?}"
        );
    }
    assert!(
        r.keys().all(|k| !k.contains("pie")),
        "no enterprise element from the agent: {r:#?}"
    );
}

/// Checks that `decoded` holds exactly one flow per port of `ports`, each field as expected.
fn assert_all_once(
    decoded: &BTreeMap<u32, Vec<serde_json::Map<String, Value>>>,
    ports: std::ops::Range<u32>,
    pair: &NetPair,
    log: &dyn Fn() -> String,
) {
    let macs = [mac(&pair.ns_a, &pair.veth_a), mac(&pair.ns_b, &pair.veth_b)];
    let seen: Vec<u32> = decoded
        .keys()
        .copied()
        .filter(|p| ports.contains(p))
        .collect();
    assert_eq!(
        seen.len(),
        ports.len(),
        "every datagram from {ports:?} is one flow tshark decodes; got {} ports\n{}",
        seen.len(),
        log()
    );
    for port in ports {
        let flows = &decoded[&port];
        assert_eq!(flows.len(), 1, "the flow from port {port} exported once");
        assert_fields(&flows[0], pair, port, &macs);
    }
}

/// Datagrams received on `sock` until it stays quiet for `quiet` (or 60 s pass).
fn receive_until_quiet(sock: &UdpSocket, quiet: Duration) -> Vec<Vec<u8>> {
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let (deadline, mut last) = (Instant::now() + Duration::from_secs(60), Instant::now());
    let mut buf = vec![0u8; 65536];
    let mut got = Vec::new();
    while last.elapsed() < quiet && Instant::now() < deadline {
        if let Ok(len) = sock.recv(&mut buf) {
            got.push(buf[..len].to_vec());
            last = Instant::now();
        }
    }
    got
}

/// Messages read from a TCP session until it stays quiet for `quiet`.
fn read_until_quiet(stream: &mut std::net::TcpStream, quiet: Duration) -> Vec<Vec<u8>> {
    stream.set_read_timeout(Some(quiet)).unwrap();
    std::iter::from_fn(|| read_message(stream)).collect()
}

fn set_id(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[16], message[17]])
}

fn send(pair: &NetPair, first_port: u32, count: u32) {
    let mut sender = udp_datagrams(&pair.ns_a, pair.ip_b, UDP_PORT, first_port, count, 200);
    assert!(sender.wait().unwrap().success(), "python3 sender");
}

#[test]
fn udp_export_is_decoded_by_tshark_field_by_field() {
    require_root();
    let pair = quiet_pair();
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = collector.local_addr().unwrap().port();
    let agent = Agent::start(&pair, "ipfix+udp", port);
    send(&pair, 20_000, 200);
    let messages = receive_until_quiet(&collector, Duration::from_secs(3));
    assert!(!messages.is_empty(), "no datagram:\n{}", agent.log());
    assert_eq!(set_id(&messages[0]), 2, "the templates come first");
    let decoded = decoded_datagrams(&messages, "agent-udp", &pair);
    assert_all_once(&decoded, 20_000..20_200, &pair, &|| agent.log());
    assert!(agent.counter("ebpf_agent_exported_flows_total") >= 200);
    assert_eq!(agent.counter("ebpf_agent_dropped_flows_total"), 0);
    agent.stop();
}

#[test]
fn tcp_export_waits_for_the_collector_and_reconnects_without_loss() {
    require_root();
    let pair = quiet_pair();
    let port = free_port();
    let agent = Agent::start(&pair, "ipfix+tcp", port);
    // Nobody listens yet: the flows wait in the agent's queues.
    send(&pair, 21_000, 100);
    std::thread::sleep(Duration::from_secs(1));
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let accept = |what: &str| {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((c, _)) = listener.accept() {
                c.set_nonblocking(false).unwrap();
                return c;
            }
            assert!(Instant::now() < deadline, "{what}:\n{}", agent.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut session = accept("the agent never connected");
    let first = read_until_quiet(&mut session, Duration::from_secs(3));
    assert_eq!(set_id(&first[0]), 2, "the session opens with the templates");
    let decoded = decoded_datagrams(&first, "agent-tcp-1", &pair);
    assert_all_once(&decoded, 21_000..21_100, &pair, &|| agent.log());

    // The collector restarts: the agent sees the close before writing, reconnects, and sends
    // the templates again; no flow is lost.
    drop(session);
    send(&pair, 22_000, 100);
    let mut session = accept("the agent never reconnected");
    let second = read_until_quiet(&mut session, Duration::from_secs(3));
    assert_eq!(
        set_id(&second[0]),
        2,
        "a new session opens with the templates"
    );
    let decoded = decoded_datagrams(&second, "agent-tcp-2", &pair);
    assert_all_once(&decoded, 22_000..22_100, &pair, &|| agent.log());
    assert_eq!(
        agent.counter("ebpf_agent_dropped_flows_total"),
        0,
        "{}",
        agent.log()
    );
    agent.stop();
}
