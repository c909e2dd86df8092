//! The collector fed by real gRPC clients (tonic's generated `pbflow` and `pbpacket` clients,
//! what the agent uses) on loopback, its files read by independent readers: the JSON with
//! serde_json, the flow store with Debian's `sqlite3` CLI and the console backend's store
//! opening, the pcapng with `tshark`. Kubernetes names come from the pipeline's index filled
//! with two pods (no API server here); the stop conditions are exercised one by one.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use k8s_openapi::api::core::v1::Pod;
use kubectl_netobserv::collector::enrich::{KubeNames, network_config};
use kubectl_netobserv::collector::files::OutputPaths;
use kubectl_netobserv::collector::{Progress, StopReason, Summary, flows, packets};
use netobserv_pipeline::transform::NetworkStage;
use netobserv_pipeline::transform::kubernetes::KubeIndex;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netobserv-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn pod(name: &str, ip: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c"}]},
        "status": {"hostIP": "172.18.0.2", "podIP": ip, "podIPs": [{"ip": ip}]}
    }))
    .expect("pod")
}

/// Two pods: a client 10.128.0.10 and a server 10.128.0.20.
fn names() -> KubeNames {
    let settings = NetworkStage::kube_index_settings(&network_config()).expect("settings");
    let mut index = KubeIndex::new(settings);
    index.apply(&pod("client", "10.128.0.10"));
    index.apply(&pod("server", "10.128.0.20"));
    KubeNames::Index(Arc::new(RwLock::new(index)))
}

fn now() -> prost_types::Timestamp {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    prost_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

fn flow(proto: u32, dst_port: u32, bytes: u64) -> pbflow::Record {
    pbflow::Record {
        eth_protocol: 0x0800,
        network: Some(pbflow::Network {
            src_addr: Some(pbflow::Ip::from_addr("10.128.0.10".parse().expect("ip"))),
            dst_addr: Some(pbflow::Ip::from_addr("10.128.0.20".parse().expect("ip"))),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 40000,
            dst_port,
            protocol: proto,
        }),
        bytes,
        packets: 2,
        interface: "eth0".into(),
        time_flow_start: Some(now()),
        time_flow_end: Some(now()),
        ..pbflow::Record::default()
    }
}

struct Running<T> {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<T>,
}

async fn start_flows(
    dir: &Path,
    max_time: Duration,
    max_bytes: u64,
    query: Option<&str>,
) -> (Running<Summary>, OutputPaths, Arc<Progress>) {
    let paths = OutputPaths::new(dir, SystemTime::now());
    let progress = Arc::new(Progress::default());
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let capture = flows::FlowCapture {
        addr: "127.0.0.1:0".parse().expect("addr"),
        paths: paths.clone(),
        max_time,
        max_bytes,
        names: names(),
        query: query.map(str::to_string),
        subnet_labels: Vec::new(),
        observer: None,
    };
    let p = progress.clone();
    let task = tokio::spawn(async move {
        flows::run(
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
        .expect("collector runs")
    });
    let addr = addr_rx.await.expect("collector listens");
    (Running { addr, stop, task }, paths, progress)
}

async fn send_flows(addr: SocketAddr, flows: Vec<pbflow::Record>) {
    let mut client = pbflow::collector_client::CollectorClient::connect(format!("http://{addr}"))
        .await
        .expect("connects");
    client
        .send(pbflow::Records { entries: flows })
        .await
        .expect("accepted");
}

fn sqlite(db: &Path, sql: &str) -> Value {
    let out = Command::new("sqlite3")
        .arg("-json")
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 runs (scripts/prerequisites.sh installs it)");
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return json!([]);
    }
    serde_json::from_str(&text).expect("sqlite3 JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_are_enriched_into_json_and_a_store_sqlite3_and_the_console_read() {
    let dir = temp_dir("flows");
    let (run, paths, progress) = start_flows(&dir, Duration::from_secs(60), 50_000_000, None).await;
    send_flows(run.addr, vec![flow(6, 443, 1000), flow(17, 53, 80)]).await;
    send_flows(run.addr, vec![flow(6, 8080, 5000)]).await;
    // The collector processes the calls it answered before it stops.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while progress.flows() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.stop.send(()).expect("stop");
    let summary = run.task.await.expect("joins");
    assert_eq!(summary.reason, StopReason::Stopped);
    assert_eq!(summary.items, 3);

    // JSON: one array, keys sorted, enriched.
    let text = std::fs::read_to_string(&paths.json).expect("json file");
    let flows: Vec<Value> = serde_json::from_str(&text).expect("a JSON array");
    assert_eq!(flows.len(), 3);
    assert_eq!(
        summary.bytes,
        text.len() as u64 - 3,
        "bytes counted up to the closing bracket"
    );
    let first = &flows[0];
    assert_eq!(first["SrcK8S_Name"], "client", "{first}");
    assert_eq!(first["DstK8S_Name"], "server");
    assert_eq!(first["DstK8S_Namespace"], "shop");
    assert_eq!(first["DstK8S_HostName"], "node-a");
    assert_eq!(first["DstPort"], 443);
    let keys: Vec<&String> = first.as_object().expect("object").keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "keys sorted as upstream's JSON");

    // The store, read by sqlite3: every flow, correct column names, enrichment included.
    let rows = sqlite(
        &paths.db,
        "SELECT SrcAddr, DstAddr, DstPort, Proto, Bytes, Packets, SrcK8S_Name, DstK8S_Name, \
         DstK8S_Namespace, Interface FROM flow ORDER BY DstPort",
    );
    assert_eq!(
        rows,
        json!([
            {"SrcAddr": "10.128.0.10", "DstAddr": "10.128.0.20", "DstPort": 53, "Proto": 17, "Bytes": 80,
             "Packets": 2, "SrcK8S_Name": "client", "DstK8S_Name": "server", "DstK8S_Namespace": "shop", "Interface": "eth0"},
            {"SrcAddr": "10.128.0.10", "DstAddr": "10.128.0.20", "DstPort": 443, "Proto": 6, "Bytes": 1000,
             "Packets": 2, "SrcK8S_Name": "client", "DstK8S_Name": "server", "DstK8S_Namespace": "shop", "Interface": "eth0"},
            {"SrcAddr": "10.128.0.10", "DstAddr": "10.128.0.20", "DstPort": 8080, "Proto": 6, "Bytes": 5000,
             "Packets": 2, "SrcK8S_Name": "client", "DstK8S_Name": "server", "DstK8S_Namespace": "shop", "Interface": "eth0"},
        ])
    );

    // The console backend opens it as a flow store.
    let source = netobserv_console::source::store::StoreSource::open(&paths.db, vec![])
        .expect("the console opens the capture");
    assert_eq!(source.reader().count().expect("count"), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_keeps_only_matching_flows() {
    let dir = temp_dir("query");
    let (run, paths, progress) =
        start_flows(&dir, Duration::from_secs(60), 50_000_000, Some("Proto=6")).await;
    send_flows(
        run.addr,
        vec![flow(6, 443, 1), flow(17, 53, 1), flow(6, 80, 1)],
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while progress.flows() + progress.filtered() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.stop.send(()).expect("stop");
    let summary = run.task.await.expect("joins");
    assert_eq!((summary.items, progress.filtered()), (2, 1));
    assert_eq!(
        sqlite(&paths.db, "SELECT count(*) AS n FROM flow WHERE Proto = 17"),
        json!([{"n": 0}])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_bytes_and_max_time_stop_the_capture() {
    let dir = temp_dir("limits");
    let (run, paths, _) = start_flows(&dir, Duration::from_secs(60), 2_000, None).await;
    let mut client =
        pbflow::collector_client::CollectorClient::connect(format!("http://{}", run.addr))
            .await
            .expect("connects");
    let mut sent = 0;
    // Calls after the stop are refused (the server is gone): that ends the loop too.
    while !run.task.is_finished() && sent < 200 {
        let batch = pbflow::Records {
            entries: (0..5).map(|i| flow(6, 1000 + i, 10)).collect(),
        };
        if client.send(batch).await.is_err() {
            break;
        }
        sent += 5;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        sent < 200,
        "2000 bytes is about 4 flows: the capture should have stopped"
    );
    let summary = tokio::time::timeout(Duration::from_secs(10), run.task)
        .await
        .expect("stops by itself")
        .expect("joins");
    assert_eq!(summary.reason, StopReason::MaxBytes);
    assert!(summary.bytes >= 2_000, "{summary:?}");
    let flows: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&paths.json).expect("json")).expect("array");
    assert_eq!(
        flows.len() as u64,
        summary.items,
        "the array is closed and complete"
    );
    drop(run.stop);

    let dir2 = temp_dir("time");
    let (run, _, _) = start_flows(&dir2, Duration::from_millis(500), 50_000_000, None).await;
    let started = std::time::Instant::now();
    let summary = tokio::time::timeout(Duration::from_secs(10), run.task)
        .await
        .expect("stops by itself")
        .expect("joins");
    assert_eq!(summary.reason, StopReason::MaxTime);
    assert!(started.elapsed() >= Duration::from_millis(450));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&dir2);
}

/// An Ethernet + IPv4 + UDP frame from `src` to `dst`.
fn frame(src: [u8; 4], dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let sum = !ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .fold(0u32, |a, b| {
            let s = a + b;
            (s & 0xffff) + (s >> 16)
        }) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40000u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn packet(data: &[u8], time_ns: u64, direction: u32) -> pbflow::pbpacket::Packet {
    let mut value =
        pbflow::pbpacket::pcap_record_header(time_ns, data.len() as u32, data.len() as u32)
            .to_vec();
    value.extend_from_slice(data);
    pbflow::pbpacket::Packet {
        pcap: Some(prost_types::Any {
            type_url: String::new(),
            value,
        }),
        timestamp_ns: time_ns,
        interface: "eth0".into(),
        if_index: 2,
        direction,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_go_to_pcapng_with_enrichment_comments_that_tshark_reads() {
    let dir = temp_dir("packets");
    let path = dir.join("pcap/capture.pcapng");
    let progress = Arc::new(Progress::default());
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (table_tx, mut table_rx) = tokio::sync::mpsc::channel(16);
    let capture = packets::PacketCapture {
        addr: "127.0.0.1:0".parse().expect("addr"),
        path: path.clone(),
        max_time: Duration::from_secs(60),
        max_bytes: 50_000_000,
        snaplen: 256,
        names: names(),
        observer: Some(table_tx),
    };
    let p = progress.clone();
    let task = tokio::spawn(async move {
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
        .expect("collector runs")
    });
    let addr: SocketAddr = addr_rx.await.expect("listens");
    let mut client =
        pbflow::pbpacket::collector_client::CollectorClient::connect(format!("http://{addr}"))
            .await
            .expect("connects");
    let t0 = 1_764_000_000_123_456_789u64;
    let a = frame([10, 128, 0, 10], [10, 128, 0, 20], 5353, b"hello");
    let b = frame([10, 128, 0, 20], [10, 128, 0, 10], 40000, b"world!");
    let c = frame([192, 168, 1, 1], [10, 128, 0, 20], 80, b"?");
    client
        .send_batch(pbflow::pbpacket::Packets {
            packets: vec![packet(&a, t0, 1), packet(&b, t0 + 1, 0)],
        })
        .await
        .expect("batch accepted");
    client
        .send(packet(&c, t0 + 2, 0))
        .await
        .expect("unary accepted");
    stop.send(()).expect("stop");
    let summary = task.await.expect("joins");
    assert_eq!((summary.items, summary.refused), (3, 0));
    assert_eq!(summary.bytes, std::fs::metadata(&path).expect("file").len());

    let out = Command::new("tshark")
        .args(["-r"])
        .arg(&path)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "udp.dstport",
            "-e",
            "frame.comment",
        ])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    // Full-precision time stamps (nanoseconds).
    assert!(
        lines[0].starts_with("1764000000.123456789|10.128.0.10|10.128.0.20|5353|"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(
            "Source\\nSrcK8S_HostIP: 172.18.0.2\\nSrcK8S_HostName: node-a\\nSrcK8S_Name: client"
        ),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("DstK8S_Name: server"), "{}", lines[0]);
    assert!(
        lines[1].contains("SrcK8S_Name: server") && lines[1].contains("DstK8S_Name: client"),
        "{}",
        lines[1]
    );
    // Nothing known of 192.168.1.1: no Source comment, a Destination one.
    assert!(
        !lines[2].contains("Source") && lines[2].contains("DstK8S_Name: server"),
        "{}",
        lines[2]
    );
    // The table gets each packet as a record with the same names.
    let first = table_rx.recv().await.expect("a packet for the table");
    let row: Value = serde_json::from_str(&first.to_json()).expect("json");
    assert_eq!(row["SrcAddr"], "10.128.0.10", "{row}");
    assert_eq!(
        (
            row["Proto"].clone(),
            row["DstPort"].clone(),
            row["Bytes"].clone()
        ),
        (json!(17), json!(5353), json!(a.len()))
    );
    assert_eq!(row["SrcK8S_Name"], "client");
    assert_eq!(row["TimeFlowEndMs"], 1_764_000_000_123i64);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--live` (what a foreground cluster run asks of the collector): the binary prints every
/// flow it writes as a `LIVE <JSON record>` line on standard output, between its progress
/// lines, and the CLI's feed turns those lines back into the records the table shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_prints_each_flow_for_the_table_of_a_cluster_run() {
    use std::io::{BufRead, Write};
    let dir = temp_dir("live");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-netobserv"))
        .args([
            "collector",
            "--mode=flows",
            "--address=127.0.0.1",
            &format!("--port={port}"),
            &format!("--output={}", dir.display()),
            "--max-time=60s",
            "--live",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("collector binary");
    let stdout = child.stdout.take().expect("stdout");
    let (line_tx, line_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line_tx.send(line).is_err() {
                return;
            }
        }
    });
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "collector never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send_flows(
        addr,
        vec![flow(6, 443, 1000), flow(17, 53, 80), flow(6, 80, 5)],
    )
    .await;
    // The CLI side: the same lines through the feed, as if read from the pod's log.
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let progress = Arc::new(Progress::default());
    let mut feed = kubectl_netobserv::live::LiveFeed::new(tx, progress.clone());
    let mut live = 0;
    while live < 3 {
        let line = line_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("a line within 20 s");
        live += usize::from(line.starts_with("LIVE {"));
        feed.write_all(format!("{line}\n").as_bytes())
            .expect("feed");
    }
    let mut ports: Vec<i64> = (0..3)
        .map(|_| {
            let r = rx.try_recv().expect("a record for the table");
            assert_eq!(
                r.get("SrcAddr").and_then(|v| v.as_str()),
                Some("10.128.0.10")
            );
            // Enriched with the names the collector knows (none here: no API server).
            r.get("DstPort").and_then(|v| v.as_i64()).expect("DstPort")
        })
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, vec![53, 80, 443]);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
