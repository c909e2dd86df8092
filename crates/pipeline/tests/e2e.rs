//! End to end: flows sent over real gRPC to the `netobserv-pipeline` binary are enriched, then
//! (a) written to Loki — a receiving HTTP server here stands in for Loki, which cannot run on this
//! machine, and decodes each push as Loki does (snappy + protobuf) — and (b) turned into
//! `netobserv_*` metrics that a real Prometheus (Debian's `prometheus`, started here on loopback)
//! scrapes; PromQL over its HTTP API returns the expected values.

mod common;

use std::io::{BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A receiving HTTP server standing in for Loki: decodes pushes (snappy + protobuf) and keeps
/// `(stream labels, line)` pairs.
async fn fake_loki(pushes: Arc<Mutex<Vec<(String, String)>>>) -> u16 {
    use axum::body::Bytes;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let port = listener.local_addr().expect("addr").port();
    let app = axum::Router::new().route(
        "/loki/api/v1/push",
        axum::routing::post(move |body: Bytes| {
            let pushes = pushes.clone();
            async move {
                let Ok(push) = netobserv_pipeline::write::loki::decode_push(&body) else {
                    return axum::http::StatusCode::BAD_REQUEST;
                };
                let mut pushes = pushes.lock().expect("lock");
                for stream in push.streams {
                    for entry in stream.entries {
                        pushes.push((stream.labels.clone(), entry.line));
                    }
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// Kills a child process when the test ends, pass or fail.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn promql(port: u16, query: &str) -> Option<f64> {
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = common::http_body(port, &format!("/api/v1/query?query={encoded}"))?;
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    json.pointer("/data/result/0/value/1")?
        .as_str()?
        .parse()
        .ok()
}

const CONFIG: &str = r#"
pipeline:
  - {name: grpc}
  - {name: enrich, follows: grpc}
  - {name: prometheus, follows: enrich}
  - {name: loki, follows: enrich}
parameters:
  - {name: grpc, ingest: {type: grpc, grpc: {port: 0}}}
  - name: enrich
    transform:
      type: network
      network:
        rules:
          - {type: add_subnet_label, add_subnet_label: {input: DstAddr, output: DstSubnetLabel}}
        subnetLabels: [{name: Pods, cidrs: [10.128.0.0/14]}]
  - name: prometheus
    encode:
      type: prom
      prom:
        prefix: netobserv_
        metrics:
          - {name: node_egress_bytes_total, type: counter, valueKey: Bytes, labels: [DstSubnetLabel]}
          - {name: namespace_flows_total, type: counter, labels: [Proto]}
  - name: loki
    write:
      type: loki
      loki:
        url: http://127.0.0.1:LOKI_PORT/
        tenantID: netobserv
        batchWait: 200ms
        labels: [DstSubnetLabel, Proto]
        staticLabels: {app: netobserv-flowcollector}
        timestampLabel: TimeFlowEndMs
        timestampScale: 1ms
"#;

fn flow(dst: &str, proto: u32, bytes: u64) -> pbflow::Record {
    pbflow::Record {
        eth_protocol: 0x0800,
        network: Some(pbflow::Network {
            src_addr: Some(pbflow::Ip::from_addr("10.128.0.5".parse().expect("ip"))),
            dst_addr: Some(pbflow::Ip::from_addr(dst.parse().expect("ip"))),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 40000,
            dst_port: 443,
            protocol: proto,
        }),
        bytes,
        packets: 1,
        interface: "eth0".into(),
        ..pbflow::Record::default()
    }
}

#[test]
fn grpc_flows_reach_loki_and_a_real_prometheus() {
    assert!(
        Command::new("prometheus").arg("--version").output().is_ok(),
        "Debian `prometheus` is required (make test installs it through scripts/prerequisites.sh)"
    );
    let dir = std::env::temp_dir().join(format!("netobserv-e2e-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("pipeline.yaml");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pushes: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let loki_port = runtime.block_on(fake_loki(pushes.clone()));
    std::fs::write(&config, CONFIG.replace("LOKI_PORT", &loki_port.to_string())).expect("config");

    let metrics_port = free_port();
    let mut pipeline = Guard(
        Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
            .args(["--config", &config.to_string_lossy()])
            .args(["--metrics-address", &format!("127.0.0.1:{metrics_port}")])
            .stderr(Stdio::piped())
            .spawn()
            .expect("pipeline starts"),
    );
    let mut stderr = BufReader::new(pipeline.0.stderr.take().expect("stderr"));
    let banner = common::read_until(&mut stderr, "listening on");
    let grpc_addr = banner
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no address in `{banner}`"))
        .replace("0.0.0.0", "127.0.0.1");

    runtime.block_on(async {
        let mut client =
            pbflow::collector_client::CollectorClient::connect(format!("http://{grpc_addr}"))
                .await
                .expect("connects");
        client
            .send(pbflow::Records {
                entries: vec![
                    flow("10.129.0.9", 6, 1000),
                    flow("10.129.0.10", 6, 500),
                    flow("8.8.8.8", 17, 70),
                ],
            })
            .await
            .expect("accepted");
    });

    let prom_port = free_port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: pipeline\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
        ),
    )
    .expect("prometheus config");
    let _prometheus = Guard(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut pods_bytes, mut tcp_flows) = (None, None);
    while Instant::now() < deadline {
        pods_bytes = promql(
            prom_port,
            r#"sum(netobserv_node_egress_bytes_total{DstSubnetLabel="Pods"})"#,
        );
        tcp_flows = promql(prom_port, r#"netobserv_namespace_flows_total{Proto="6"}"#);
        if pods_bytes == Some(1500.0) && tcp_flows == Some(2.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        pods_bytes,
        Some(1500.0),
        "bytes to the Pods subnet, as Prometheus sees them"
    );
    assert_eq!(
        tcp_flows,
        Some(2.0),
        "TCP flow count, as Prometheus sees it"
    );
    assert_eq!(
        promql(
            prom_port,
            r#"netobserv_ingest_flows_processed{stage="grpc"}"#
        ),
        Some(3.0)
    );

    // Loki received one stream per label set, label fields out of the JSON lines.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pushes.lock().expect("lock").len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut lines = pushes.lock().expect("lock").clone();
    lines.sort();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(
        lines[0].0,
        r#"{DstSubnetLabel="Pods", Proto="6", app="netobserv-flowcollector"}"#
    );
    assert_eq!(lines[2].0, r#"{Proto="17", app="netobserv-flowcollector"}"#);
    let line: serde_json::Value = serde_json::from_str(&lines[2].1).expect("JSON line");
    assert_eq!(line["DstAddr"], "8.8.8.8");
    assert_eq!(line["Bytes"], 70);
    assert!(
        line.get("Proto").is_none(),
        "label fields are not repeated in the line"
    );

    // SIGTERM: the pipeline drains and reports what it did.
    let pid = pipeline.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("stderr");
    let status = pipeline.0.wait().expect("exits");
    assert!(status.success(), "{rest}");
    assert!(rest.contains("3 flows ingested"), "{rest}");
    assert!(
        rest.contains("3 sent to Loki, 0 dropped for Loki"),
        "{rest}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
