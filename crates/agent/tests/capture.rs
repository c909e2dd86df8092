//! Packet capture mode (`ENABLE_PCA=true`) end to end, with the agent binary on a veth pair in
//! network namespaces: the pcapng file a `pbpacket` collector writes from the agent's packets
//! holds the same packets, byte for byte up to the snap length, as `tcpdump` captured on the same
//! interface at the same time, and Debian's `tshark` reads it with its comments; a ring buffer
//! that user space does not drain loses packets loudly (metric, `/status`, WARN naming the
//! setting), and every packet sent is either delivered or counted lost. Root only; fails (does
//! not skip) otherwise. tcpdump and tshark come from `scripts/prerequisites.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::packets::{Enricher, PacketCollector, per_packet};
use common::*;
use pcapng::enrichment::{Endpoint, Enrichment};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// UDP port the filter rule selects (and tcpdump's filter too).
const PORT: u16 = 5555;
/// The rule: UDP to or from port 5555 within the pair's subnet.
const RULE: &str =
    r#"[{"ip_cidr":"10.199.0.0/24","action":"Accept","protocol":"UDP","port":5555}]"#;

fn require_capture_tools() {
    for tool in ["tcpdump", "tshark"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{tool} is missing: run scripts/prerequisites.sh");
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("capture-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Fake Kubernetes lookup: the pair's two addresses are a client and a server pod.
fn enricher() -> Enricher {
    per_packet(|frame: &[u8]| {
        let pod = |ip: &[u8]| match ip {
            [10, 199, 0, 1] => Endpoint {
                namespace: "capture-test".into(),
                name: "client-5d8f".into(),
                kind: "Pod".into(),
                owner_name: "client".into(),
                owner_kind: "Deployment".into(),
                host_name: "node-a".into(),
                ..Endpoint::default()
            },
            [10, 199, 0, 2] => Endpoint {
                namespace: "capture-test".into(),
                name: "server-0".into(),
                kind: "Pod".into(),
                owner_name: "server".into(),
                owner_kind: "StatefulSet".into(),
                host_name: "node-b".into(),
                ..Endpoint::default()
            },
            _ => Endpoint::default(),
        };
        if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
            return Enrichment::default();
        }
        Enrichment {
            source: pod(&frame[26..30]),
            destination: pod(&frame[30..34]),
            common: Vec::new(),
        }
    })
}

/// The agent binary in packet mode on `veth_a`, logging to `log`.
fn start_agent(
    pair: &NetPair,
    port: u16,
    metrics_port: u16,
    log: &Path,
    env: &[(&str, &str)],
) -> Child {
    let out = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netobserv-ebpf-agent"));
    cmd.env("TARGET_HOST", "127.0.0.1")
        .env("TARGET_PORT", port.to_string())
        .env("NETOBSERV_NETNS", pair.path_a())
        .env("NETNS_DIRS", "none")
        .env("INTERFACES", &pair.veth_a)
        .env("ENABLE_PCA", "true")
        .env("FLOW_FILTER_RULES", RULE)
        .env("METRICS_ENABLE", "true")
        .env("METRICS_SERVER_ADDRESS", "127.0.0.1")
        .env("METRICS_SERVER_PORT", metrics_port.to_string())
        .env("LOG_LEVEL", "info")
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn the agent binary")
}

/// Waits until the capture classifiers are on both hooks of `veth_a`.
async fn wait_attached(pair: &NetPair, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while tcx_programs(pair, &pair.veth_a) < 2 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "agent exited early: {status}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the capture classifiers were never attached:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends SIGTERM and waits for a clean exit with no hook left.
async fn stop_agent(pair: &NetPair, mut child: Child, log: &Path) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "agent did not exit on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        status.success(),
        "exit status {status}\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    assert_eq!(tcx_programs(pair, &pair.veth_a), 0, "TCX programs left");
}

/// A UDP socket bound in namespace `ns` (it stays there once created).
fn udp_in(ns: &Path, bind: &str) -> UdpSocket {
    netobserv_agent::netns::in_netns(Some(ns), || UdpSocket::bind(bind))
        .unwrap()
        .unwrap()
}

/// Datagram `i` of `len` bytes: its number, then a pattern unique to it.
fn payload(i: u32, len: usize) -> Vec<u8> {
    let mut p: Vec<u8> = i.to_be_bytes().to_vec();
    p.extend((0..len).map(|k| (k as u32).wrapping_mul(31).wrapping_add(i) as u8));
    p.truncate(len.max(4));
    p
}

/// One packet of a capture file: time (ns since the epoch), length on the wire, bytes kept.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Captured {
    time_ns: u64,
    orig_len: u32,
    data: Vec<u8>,
}

/// Reads a classic pcap file (what tcpdump writes): microsecond or nanosecond magic.
fn read_pcap(path: &Path) -> Vec<Captured> {
    let b = std::fs::read(path).unwrap();
    let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let unit = match word(0) {
        0xa1b2_c3d4 => 1000,
        0xa1b2_3c4d => 1,
        m => panic!(
            "{}: not a little-endian pcap file (magic {m:#x})",
            path.display()
        ),
    };
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= b.len() {
        let (secs, frac, cap, orig) = (word(i), word(i + 4), word(i + 8), word(i + 12));
        let data = b[i + 16..i + 16 + cap as usize].to_vec();
        out.push(Captured {
            time_ns: u64::from(secs) * 1_000_000_000 + u64::from(frac) * unit,
            orig_len: orig,
            data,
        });
        i += 16 + cap as usize;
    }
    out
}

fn tshark(path: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The frames of `tshark -x` output (hex dump lines `0000  02 00 ...`), one per packet.
fn dumped_bytes(out: &str) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    for line in out.lines() {
        let is_dump = line.len() > 6
            && line[..4].chars().all(|c| c.is_ascii_hexdigit())
            && &line[4..6] == "  ";
        if !is_dump {
            if !cur.is_empty() {
                frames.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let hex = &line[6..line.len().min(6 + 16 * 3)];
        cur.extend(
            hex.split_whitespace()
                .take_while(|t| t.len() == 2)
                .filter_map(|t| u8::from_str_radix(t, 16).ok()),
        );
    }
    if !cur.is_empty() {
        frames.push(cur);
    }
    frames
}

/// One packet of the agent's pcapng as tshark reads it.
#[derive(Debug)]
struct Read {
    captured: Captured,
    interface: String,
    direction: String,
    comment: String,
}

/// The agent's pcapng through tshark: bytes from its hex dump, the rest from its fields.
fn read_with_tshark(path: &Path) -> Vec<Read> {
    let bytes = dumped_bytes(&tshark(path, &["-x"]));
    let fields = tshark(
        path,
        &[
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.packet_flags_direction",
            "-e",
            "frame.comment",
        ],
    );
    let rows: Vec<&str> = fields.lines().collect();
    assert_eq!(rows.len(), bytes.len(), "{fields}");
    rows.iter()
        .zip(bytes)
        .map(|(row, data)| {
            let f: Vec<&str> = row.splitn(5, '|').collect();
            let (secs, frac) = f[0].split_once('.').unwrap();
            assert_eq!(frac.len(), 9, "nanosecond time stamps: {row}");
            Read {
                captured: Captured {
                    time_ns: secs.parse::<u64>().unwrap() * 1_000_000_000
                        + frac.parse::<u64>().unwrap(),
                    orig_len: f[1].parse().unwrap(),
                    data,
                },
                interface: f[2].to_string(),
                direction: f[3].to_string(),
                comment: f.get(4).unwrap_or(&"").to_string(),
            }
        })
        .collect()
}

/// tcpdump on `veth_a` in namespace a, writing `file`; returns once it listens.
fn start_tcpdump(pair: &NetPair, file: &Path, snaplen: u32, log: &Path) -> Child {
    let err = std::fs::File::create(log).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &pair.ns_a, "tcpdump", "-i", &pair.veth_a])
        .args([
            "-n",
            "-p",
            "-U",
            "--immediate-mode",
            "-s",
            &snaplen.to_string(),
        ])
        .arg("-w")
        .arg(file)
        .arg(format!("udp port {PORT}"))
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("spawn tcpdump");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(Instant::now() < deadline, "tcpdump did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn stop_tcpdump(mut child: Child, log: &Path) -> String {
    // SAFETY: sending a signal to our own child (`ip netns exec` execs tcpdump in place).
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Reads one metric sample (`name{labels} value`) from the agent's `/metrics`, 0 if absent.
fn metric(addr: std::net::SocketAddr, series: &str) -> u64 {
    let text = http_get(addr, "/metrics");
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn status(addr: std::net::SocketAddr) -> serde_json::Value {
    let text = http_get(addr, "/status");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("/status: {e}\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcapng_holds_the_packets_tcpdump_saw_with_their_enrichment() {
    require_root();
    require_capture_tools();
    const SNAP: u32 = 200;
    let pair = NetPair::new();
    pair.disable_ipv6();
    let dir = temp_dir("tcpdump");
    let collector = PacketCollector::start(0, &dir.join("agent.pcapng"), SNAP, enricher()).await;
    let metrics_port = free_port();
    let log = dir.join("agent.log");
    let snap = SNAP.to_string();
    let mut agent = start_agent(
        &pair,
        collector.port,
        metrics_port,
        &log,
        &[("PCA_SNAPLEN", &snap)],
    );
    wait_attached(&pair, &mut agent, &log).await;
    let tcpdump_log = dir.join("tcpdump.log");
    let tcpdump = start_tcpdump(&pair, &dir.join("tcpdump.pcap"), SNAP, &tcpdump_log);

    // Both directions on the selected port, sizes below, at and above the snap length; traffic
    // the rule leaves out (another port, ICMP) around it.
    let a = udp_in(&pair.path_a(), "10.199.0.1:0");
    let b = udp_in(&pair.path_b(), "10.199.0.2:0");
    let sizes = [1usize, 18, 100, 157, 158, 159, 400, 1000, 1472];
    let mut sent = 0u64;
    for round in 0..20u32 {
        for (k, len) in sizes.iter().enumerate() {
            let i = round * 100 + k as u32;
            a.send_to(&payload(i, *len), ("10.199.0.2", PORT)).unwrap();
            b.send_to(&payload(i + 50, *len), ("10.199.0.1", PORT))
                .unwrap();
            a.send_to(&payload(i, *len), ("10.199.0.2", PORT + 1))
                .unwrap();
            sent += 2;
        }
    }
    ns_run(&pair.ns_a, &["ping", "-c", "2", "-i", "0.05", pair.ip_b]);
    collector.wait_for(sent, 30).await;
    // Anything extra (a packet the rule should have left out) would arrive by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tcpdump_err = stop_tcpdump(tcpdump, &tcpdump_log);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port));
    let st = status(addr);
    stop_agent(&pair, agent, &log).await;
    assert_eq!(collector.refused(), 0);
    assert!(collector.batches() > 0, "packets came in SendBatch calls");
    let ours = read_with_tshark(&collector.finish());
    let theirs = read_pcap(&dir.join("tcpdump.pcap"));

    assert!(
        tcpdump_err.contains("0 packets dropped by kernel"),
        "tcpdump lost packets itself: {tcpdump_err}"
    );
    assert_eq!(theirs.len() as u64, sent, "tcpdump: {tcpdump_err}");
    assert_eq!(
        ours.len() as u64,
        sent,
        "the agent's capture holds every packet, no more"
    );
    // Byte for byte (up to the snap length), the same packets.
    let mut a_bytes: Vec<&Vec<u8>> = ours.iter().map(|r| &r.captured.data).collect();
    let mut t_bytes: Vec<&Vec<u8>> = theirs.iter().map(|c| &c.data).collect();
    a_bytes.sort();
    t_bytes.sort();
    assert!(a_bytes == t_bytes, "the packets differ from tcpdump's");
    for r in &ours {
        let t = theirs.iter().find(|t| t.data == r.captured.data).unwrap();
        assert_eq!(r.captured.orig_len, t.orig_len, "length on the wire");
        assert_eq!(r.captured.data.len() as u32, t.orig_len.min(SNAP));
        let dt = r.captured.time_ns.abs_diff(t.time_ns);
        assert!(dt < 50_000_000, "time stamps {dt} ns apart");
        assert_eq!(r.interface, pair.veth_a);
        let from_a = r.captured.data[26..30] == [10, 199, 0, 1];
        assert_eq!(
            r.direction,
            if from_a { "0x00000002" } else { "0x00000001" },
            "outbound from a, inbound to a"
        );
        let (src, dst) = if from_a {
            ("client-5d8f", "server-0")
        } else {
            ("server-0", "client-5d8f")
        };
        for want in [
            format!("SrcK8S_Name: {src}"),
            format!("DstK8S_Name: {dst}"),
            "SrcK8S_Namespace: capture-test".to_string(),
            "SrcK8S_OwnerType: ".to_string(),
            "DstK8S_HostName: node-".to_string(),
        ] {
            assert!(
                r.comment.contains(&want),
                "{want} missing from {:?}",
                r.comment
            );
        }
    }
    // A display filter on the comments finds the client's packets.
    let filtered = tshark(
        &dir.join("agent.pcapng"),
        &["-Y", "frame.comment contains \"SrcK8S_Name: client-5d8f\""],
    );
    assert_eq!(filtered.lines().count() as u64, sent / 2);
    // /status: packet mode, what was captured, nothing lost.
    assert_eq!(st["hooks"][0]["hook"], "PacketCapture", "{st}");
    assert_eq!(st["hooks"][0]["active"], true, "{st}");
    assert_eq!(st["packet_capture"]["snaplen"], SNAP, "{st}");
    assert_eq!(st["packet_capture"]["captured"], sent, "{st}");
    assert_eq!(st["packets_lost"]["total"], 0, "{st}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_that_is_not_drained_loses_packets_loudly_and_counts_them() {
    require_root();
    require_capture_tools();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let dir = temp_dir("ring");
    let collector = PacketCollector::start(0, &dir.join("agent.pcapng"), 1500, enricher()).await;
    let metrics_port = free_port();
    let log = dir.join("agent.log");
    let mut agent = start_agent(
        &pair,
        collector.port,
        metrics_port,
        &log,
        &[("PCA_RINGBUF_BYTES", "65536"), ("PCA_SNAPLEN", "1500")],
    );
    wait_attached(&pair, &mut agent, &log).await;
    // User space stops reading: the 64 KiB ring holds about 60 packets of 1 KB.
    // SAFETY: signals to our own child process.
    assert_eq!(unsafe { libc::kill(agent.id() as i32, libc::SIGSTOP) }, 0);
    let a = udp_in(&pair.path_a(), "10.199.0.1:0");
    const SENT: u64 = 2000;
    for i in 0..SENT as u32 {
        a.send_to(&payload(i, 1000), ("10.199.0.2", PORT)).unwrap();
    }
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(agent.id() as i32, libc::SIGCONT) }, 0);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port));
    let series = r#"ebpf_agent_dropped_packets_total{source="ebpf",reason="PacketRingBufferFull"}"#;
    let deadline = Instant::now() + Duration::from_secs(30);
    let lost = loop {
        let lost = metric(addr, series);
        if lost > 0 && collector.received() + lost >= SENT {
            break lost;
        }
        assert!(
            Instant::now() < deadline,
            "received {} + lost {lost} never reached {SENT}",
            collector.received()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    let received = collector.received();
    let lost_now = metric(addr, series);
    assert_eq!(lost_now, lost, "the count settled");
    assert_eq!(
        received + lost,
        SENT,
        "every packet delivered or counted lost"
    );
    assert!(lost >= SENT - 100, "the ring held ~60 packets: lost {lost}");
    assert_eq!(metric(addr, "ebpf_agent_captured_packets_total"), received);
    let st = status(addr);
    assert_eq!(st["packets_lost"]["total"], lost, "{st}");
    let reason = &st["packets_lost"]["by_reason"][0];
    assert_eq!(reason["reason"], "PacketRingBufferFull", "{st}");
    assert!(
        reason["remedy"]
            .as_str()
            .unwrap()
            .contains("PCA_RINGBUF_BYTES"),
        "{st}"
    );
    stop_agent(&pair, agent, &log).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let warn = text
        .lines()
        .find(|l| l.contains("WARN") && l.contains("packets lost since the last warning"))
        .unwrap_or_else(|| panic!("no loss WARN in\n{text}"));
    for want in [
        "PacketRingBufferFull",
        "PCA_RINGBUF_BYTES=65536",
        "raise PCA_RINGBUF_BYTES",
    ] {
        assert!(warn.contains(want), "{want} missing from {warn}");
    }
    drop(collector);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A collector that only knows upstream's `Send` (it answers UNIMPLEMENTED to `SendBatch`)
/// still gets every packet, one call each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_collector_gets_one_send_per_packet() {
    require_root();
    require_capture_tools();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let dir = temp_dir("unary");
    let collector =
        PacketCollector::start_with(0, &dir.join("agent.pcapng"), 256, enricher(), true).await;
    let log = dir.join("agent.log");
    let mut agent = start_agent(&pair, collector.port, free_port(), &log, &[]);
    wait_attached(&pair, &mut agent, &log).await;
    let a = udp_in(&pair.path_a(), "10.199.0.1:0");
    for i in 0..300u32 {
        a.send_to(&payload(i, 64), ("10.199.0.2", PORT)).unwrap();
    }
    collector.wait_for(300, 30).await;
    stop_agent(&pair, agent, &log).await;
    assert_eq!(collector.batches(), 0);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("does not implement pbpacket.Collector/SendBatch"),
        "{text}"
    );
    let ours = read_with_tshark(&collector.finish());
    assert_eq!(ours.len(), 300);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CLI's collector (`kubectl-netobserv collector --mode=packets`, crates/cli) fed by the
/// agent: its pcapng holds byte for byte what tcpdump saw on the interface, with the Kubernetes
/// names its enrichment (the pipeline's index, filled with the pair's two pods) gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_collector_writes_what_tcpdump_saw_with_kubernetes_names() {
    use k8s_openapi::api::core::v1::Pod;
    use kubectl_netobserv::collector::enrich::{KubeNames, network_config};
    use kubectl_netobserv::collector::{Progress, packets};
    use netobserv_pipeline::transform::NetworkStage;
    use netobserv_pipeline::transform::kubernetes::KubeIndex;
    use std::sync::{Arc, RwLock};

    require_root();
    require_capture_tools();
    const SNAP: u32 = 256;
    let pod = |name: &str, ip: &str| -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "cli-test"},
            "spec": {"nodeName": "node-a", "containers": [{"name": "c"}]},
            "status": {"hostIP": "172.18.0.2", "podIP": ip, "podIPs": [{"ip": ip}]}
        }))
        .unwrap()
    };
    let mut index = KubeIndex::new(NetworkStage::kube_index_settings(&network_config()).unwrap());
    index.apply(&pod("cli-client", "10.199.0.1"));
    index.apply(&pod("cli-server", "10.199.0.2"));

    let pair = NetPair::new();
    pair.disable_ipv6();
    let dir = temp_dir("cli-collector");
    let path = dir.join("pcap/cli.pcapng");
    let progress = Arc::new(Progress::default());
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let capture = packets::PacketCapture {
        addr: "127.0.0.1:0".parse().unwrap(),
        path: path.clone(),
        max_time: Duration::from_secs(120),
        max_bytes: 50_000_000,
        snaplen: SNAP,
        names: KubeNames::Index(Arc::new(RwLock::new(index))),
        observer: None,
    };
    let p = progress.clone();
    let collector = tokio::spawn(async move {
        packets::run(
            capture,
            p,
            async {
                let _ = stop_rx.await;
            },
            |a| {
                let _ = addr_tx.send(a);
            },
        )
        .await
        .expect("the CLI collector runs")
    });
    let port = addr_rx.await.unwrap().port();
    let metrics_port = free_port();
    let log = dir.join("agent.log");
    let snap = SNAP.to_string();
    let mut agent = start_agent(&pair, port, metrics_port, &log, &[("PCA_SNAPLEN", &snap)]);
    wait_attached(&pair, &mut agent, &log).await;
    let tcpdump_log = dir.join("tcpdump.log");
    let tcpdump = start_tcpdump(&pair, &dir.join("tcpdump.pcap"), SNAP, &tcpdump_log);
    let a = udp_in(&pair.path_a(), "10.199.0.1:0");
    let b = udp_in(&pair.path_b(), "10.199.0.2:0");
    let mut sent = 0u64;
    for i in 0..200u32 {
        let len = [1usize, 200, 214, 1000][i as usize % 4];
        a.send_to(&payload(i, len), ("10.199.0.2", PORT)).unwrap();
        b.send_to(&payload(i + 1000, len), ("10.199.0.1", PORT))
            .unwrap();
        a.send_to(&payload(i, len), ("10.199.0.2", PORT + 1))
            .unwrap();
        sent += 2;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while progress.flows() < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tcpdump_err = stop_tcpdump(tcpdump, &tcpdump_log);
    stop_agent(&pair, agent, &log).await;
    stop.send(()).unwrap();
    let summary = collector.await.unwrap();
    assert_eq!((summary.items, summary.refused), (sent, 0), "{summary:?}");

    let ours = read_with_tshark(&path);
    let theirs = read_pcap(&dir.join("tcpdump.pcap"));
    assert_eq!(theirs.len() as u64, sent, "tcpdump: {tcpdump_err}");
    assert_eq!(ours.len() as u64, sent);
    let mut a_bytes: Vec<&Vec<u8>> = ours.iter().map(|r| &r.captured.data).collect();
    let mut t_bytes: Vec<&Vec<u8>> = theirs.iter().map(|c| &c.data).collect();
    a_bytes.sort();
    t_bytes.sort();
    assert!(
        a_bytes == t_bytes,
        "the CLI collector's packets differ from tcpdump's"
    );
    for r in &ours {
        let from_a = r.captured.data[26..30] == [10, 199, 0, 1];
        let (src, dst) = if from_a {
            ("cli-client", "cli-server")
        } else {
            ("cli-server", "cli-client")
        };
        for want in [
            format!("SrcK8S_Name: {src}"),
            format!("DstK8S_Name: {dst}"),
            "SrcK8S_Namespace: cli-test".to_string(),
            "DstK8S_HostName: node-a".to_string(),
        ] {
            assert!(
                r.comment.contains(&want),
                "{want} missing from {:?}",
                r.comment
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
