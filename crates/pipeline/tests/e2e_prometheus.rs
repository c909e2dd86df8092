//! End to end: flows sent over real gRPC to the `netobserv-pipeline` binary are enriched and
//! turned into `netobserv_*` metrics, which a real Prometheus (Debian's `prometheus`, started
//! here on loopback) scrapes; PromQL over its HTTP API returns the expected values.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A plain HTTP/1.0 GET on loopback (no client library needed for two calls).
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

fn promql(port: u16, query: &str) -> Option<f64> {
    let encoded: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = http_get(port, &format!("/api/v1/query?query={encoded}"))?;
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
fn grpc_flows_become_metrics_that_a_real_prometheus_scrapes() {
    assert!(
        Command::new("prometheus").arg("--version").output().is_ok(),
        "Debian `prometheus` is required (make test installs it through scripts/prerequisites.sh)"
    );
    let dir = std::env::temp_dir().join(format!("netobserv-e2e-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("pipeline.yaml");
    std::fs::write(&config, CONFIG).expect("config");

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
    let mut banner = String::new();
    stderr.read_line(&mut banner).expect("banner");
    let grpc_addr = banner
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no address in `{banner}`"))
        .replace("0.0.0.0", "127.0.0.1");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
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
    let _ = std::fs::remove_dir_all(&dir);
}
