//! The `synthetic` ingest through the binary: records arrive at the configured rate, cycle
//! through the configured number of conversations, flow through a transform to a JSON writer,
//! and the operational metrics (`ingest_synthetic_flows_processed`, per-stage counters and
//! durations, queue size) are served on `/metrics`; SIGTERM drains and exits cleanly.

mod common;
use common::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
pipeline:
  - {name: synth}
  - {name: flags, follows: synth}
  - {name: out, follows: flags}
parameters:
  - name: synth
    ingest: {type: synthetic, synthetic: {connections: 20, batchMaxLen: 50, flowLogsPerMin: 60000}}
  - name: flags
    transform:
      type: network
      network:
        rules: [{type: add_subnet, add_subnet: {input: SrcAddr, output: SrcSubnet, subnet_mask: /16}}]
  - {name: out, write: {type: stdout, stdout: {format: json}}}
"#;

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

#[test]
fn synthetic_ingest_runs_at_its_rate() {
    let dir = std::env::temp_dir().join(format!("netobserv-synthetic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("config.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &config.to_string_lossy()])
        .args(["--metrics-address", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let banner = common::read_until(&mut stderr, "synthetic ingest");
    assert!(
        banner.contains("synthetic ingest: 20 connections"),
        "{banner}"
    );
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    std::thread::sleep(Duration::from_millis(2000));
    let text = http_get(metrics_port, "/metrics");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("exits");
    let elapsed = started.elapsed().as_secs_f64();
    assert!(status.success(), "exit status {status}");
    let lines = reader.join().expect("reader");

    // 1000 flows/s for about two seconds (start-up and the tick before the first batch
    // included): well above zero, never above the rate.
    let n = lines.len() as f64;
    assert!(
        n >= 800.0 && n <= 1000.0 * elapsed + 50.0,
        "{n} records in {elapsed:.2}s"
    );
    let mut conversations = HashSet::new();
    for line in &lines {
        let r: serde_json::Value = serde_json::from_str(line).expect("json line");
        assert!(r["Bytes"].as_u64().is_some_and(|b| b > 0), "{line}");
        let src = r["SrcAddr"].as_str().expect("SrcAddr");
        let subnet = r["SrcSubnet"].as_str().expect("enriched");
        let prefix: Vec<&str> = src.split('.').take(2).collect();
        assert_eq!(subnet, format!("{}.0.0/16", prefix.join(".")), "{line}");
        conversations.insert((
            src.to_string(),
            r["DstAddr"].to_string(),
            r["SrcPort"].to_string(),
            r["DstPort"].to_string(),
            r["Proto"].to_string(),
        ));
    }
    assert_eq!(conversations.len(), 20);

    let synthetic = metric(&text, "netobserv_ingest_synthetic_flows_processed");
    assert!(synthetic >= 500.0, "{text}");
    assert!(
        metric(&text, "netobserv_stage_records_in_total{stage=\"flags\"}") > 0.0,
        "{text}"
    );
    assert!(
        metric(&text, "netobserv_stage_duration_ms_count{stage=\"out\"}") > 0.0,
        "{text}"
    );
    assert!(
        text.contains("netobserv_stage_in_queue_size{stage=\"synth\"}"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
