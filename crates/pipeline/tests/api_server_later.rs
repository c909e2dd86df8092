//! The pipeline starts before the API server answers, as it does in a cluster where the API
//! server is slow or restarting: it must not exit (that would be a crash loop), but wait.
//!
//! The `netobserv-pipeline` binary runs a NetObserv-shaped configuration (dynamic ConfigMap read
//! through the API, `add_kubernetes` enrichment) pointed at an API server address where nothing
//! listens yet, in a network namespace of its own so that the address is free and known. It must
//! keep running, log one WARN per retry naming the address and the cause, answer `/ready` with
//! 503, hold the flows sent meanwhile; then, once the strict fake API server (tests/common/cluster.rs,
//! bearer token required) answers at that address, become ready and write the held flows, enriched.

mod common;

use common::cluster;
use common::pod::in_new_netns;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const API: &str = "127.0.0.1:6443";

const STATIC: &str = r#"{
  "health": {"port": 8080},
  "metricsSettings": {"port": 9401, "prefix": "netobserv_"},
  "dynamicParameters": {"namespace": "netobserv", "name": "flp-dynamic", "fileName": "config.json"},
  "pipeline": [{"name": "grpc"}, {"name": "enrich", "follows": "grpc"}, {"name": "filters", "follows": "enrich"}, {"name": "out", "follows": "filters"}],
  "parameters": [
    {"name": "grpc", "ingest": {"type": "grpc", "grpc": {"port": 2055, "bufferLength": 10}}},
    {"name": "enrich", "transform": {"type": "network", "network": {"rules": [
      {"type": "add_kubernetes", "kubernetes": {"ipField": "SrcAddr", "output": "SrcK8S"}},
      {"type": "add_kubernetes", "kubernetes": {"ipField": "DstAddr", "output": "DstK8S"}}
    ]}}},
    {"name": "out", "write": {"type": "stdout", "stdout": {"format": "json"}}}
  ]
}"#;

const DYNAMIC: &str = r#"{"parameters": [{"name": "filters", "transform": {"type": "filter", "filter": {"rules": [{"type": "keep_entry_query", "keepEntryQuery": "Proto=6"}]}}}]}"#;

fn get(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split(' ').nth(1)?.parse().ok()
}

fn flow(src: &str, dst: &str) -> pbflow::Record {
    pbflow::Record {
        eth_protocol: 0x0800,
        network: Some(pbflow::Network {
            src_addr: Some(pbflow::Ip::from_addr(src.parse().expect("ip"))),
            dst_addr: Some(pbflow::Ip::from_addr(dst.parse().expect("ip"))),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 40000,
            dst_port: 443,
            protocol: 6,
        }),
        bytes: 10,
        packets: 1,
        interface: "eth0".into(),
        ..pbflow::Record::default()
    }
}

#[test]
fn the_pipeline_waits_for_the_api_server_then_enriches_the_held_flows() {
    in_new_netns(run);
}

fn run() {
    let dir = std::env::temp_dir().join(format!("netobserv-api-later-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("config.json"), STATIC).expect("config");
    std::fs::write(
        dir.join("kubeconfig"),
        cluster::kubeconfig(API.parse().expect("addr")),
    )
    .expect("kubeconfig");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &dir.join("config.json").to_string_lossy()])
        .env_clear()
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            lines.lock().expect("lock").push(line);
        }
    });
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let out = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let records = out.clone();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                records.lock().expect("lock").push(v);
            }
        }
    });
    let warnings = || {
        log.lock()
            .expect("lock")
            .iter()
            .filter(|l| l.contains("WARN"))
            .cloned()
            .collect::<Vec<_>>()
    };
    // Live, not ready, retrying, and saying what it waits for.
    let deadline = Instant::now() + Duration::from_secs(10);
    while warnings().len() < 2 {
        if let Some(status) = child.try_wait().expect("wait") {
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "the pipeline exited ({status}) instead of waiting: {:#?}",
                log.lock().expect("lock")
            );
        }
        assert!(
            Instant::now() < deadline,
            "no retries logged: {:#?}",
            log.lock().expect("lock")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the pipeline exited"
    );
    assert_eq!(get(8080, "/live"), Some(200));
    assert_eq!(get(8080, "/ready"), Some(503));
    for w in warnings() {
        assert!(w.contains("127.0.0.1:6443"), "the address is named: {w}");
        assert!(
            w.to_lowercase().contains("connection refused"),
            "the cause is named: {w}"
        );
    }
    // Flows sent meanwhile are accepted (the queue holds them) but not written.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut client =
            pbflow::collector_client::CollectorClient::connect("http://127.0.0.1:2055")
                .await
                .expect("the ingest is up before the API server");
        client
            .send(pbflow::Records {
                entries: vec![flow("10.128.0.17", "172.30.0.10")],
            })
            .await
            .expect("held");
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        out.lock().expect("lock").is_empty(),
        "nothing written before the first sync"
    );
    // The API server comes up at that address.
    let _api = runtime.block_on(cluster::serve(
        API.parse().expect("addr"),
        vec![serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "flp-dynamic", "namespace": "netobserv"},
            "data": {"config.json": DYNAMIC}})],
    ));
    let deadline = Instant::now() + Duration::from_secs(40);
    while get(8080, "/ready") != Some(200) {
        assert!(
            Instant::now() < deadline,
            "never ready: {:#?}",
            log.lock().expect("lock")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.lock().expect("lock").is_empty() {
        assert!(Instant::now() < deadline, "the held flow never came out");
        std::thread::sleep(Duration::from_millis(100));
    }
    let record = out.lock().expect("lock")[0].clone();
    assert_eq!(record["SrcK8S_Name"], "web-5c8b-x7k2p", "{record}");
    assert_eq!(record["SrcK8S_OwnerName"], "web", "{record}");
    assert_eq!(record["DstK8S_Name"], "api", "{record}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().expect("exits").success());
    assert!(started.elapsed() > Duration::from_millis(500));
    let _ = std::fs::remove_dir_all(&dir);
}
