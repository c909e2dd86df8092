//! The pipeline end to end on JSON lines: the library runtime with a NetObserv-shaped graph
//! (fan-out to a writer and a Prometheus encoder), and the binary on stdin.

mod common;
use common::*;
use netobserv_pipeline::config::Config;
use netobserv_pipeline::ingest::read_json_lines;
use netobserv_pipeline::runtime::Pipeline;
use std::io::Write;
use std::process::{Command, Stdio};

const CONFIG: &str = r#"
pipeline:
  - {name: ingest}
  - {name: enrich, follows: ingest}
  - {name: keep, follows: enrich}
  - {name: out, follows: keep}
  - {name: prom, follows: keep}
parameters:
  - {name: ingest, ingest: {type: stdin}}
  - name: enrich
    transform:
      type: network
      network:
        rules:
          - {type: add_subnet_label, add_subnet_label: {input: DstAddr, output: DstSubnetLabel}}
          - {type: decode_tcp_flags, decode_tcp_flags: {input: Flags, output: Flags}}
        subnetLabels: [{name: "EXT:internet", cidrs: [0.0.0.0/0]}]
  - name: keep
    transform:
      type: filter
      filter:
        rules: [{type: keep_entry_query, keepEntryQuery: 'Proto=6'}]
  - {name: out, write: {type: stdout, stdout: {format: json}}}
  - name: prom
    encode:
      type: prom
      prom:
        prefix: netobserv_
        metrics: [{name: egress_bytes_total, type: counter, valueKey: Bytes, labels: [DstSubnetLabel]}]
"#;

const INPUT: &str = r#"{"DstAddr":"1.1.1.1","Proto":6,"Flags":2,"Bytes":60}
not json at all
{"DstAddr":"8.8.8.8","Proto":17,"Bytes":80}

{"DstAddr":"9.9.9.9","Proto":6,"Flags":17,"Bytes":40}
"#;

#[test]
fn records_flow_through_transforms_to_writer_and_metrics() {
    let config = Config::parse(CONFIG).expect("parses");
    let out = Shared::default();
    let sink = out.clone();
    let mut pipeline = Pipeline::build(&config, move || Box::new(sink.clone())).expect("builds");
    let stats = read_json_lines(INPUT.as_bytes(), 2, |b| pipeline.process(b)).expect("reads");
    assert_eq!((stats.records, stats.decode_errors, stats.blank), (3, 1, 1));
    let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            // Keys in alphabetical order, as upstream's JSON output.
            r#"{"Bytes":60,"DstAddr":"1.1.1.1","DstSubnetLabel":"EXT:internet","Flags":["SYN"],"Proto":6}"#,
            r#"{"Bytes":40,"DstAddr":"9.9.9.9","DstSubnetLabel":"EXT:internet","Flags":["FIN","ACK"],"Proto":6}"#,
        ]
    );
    let s = pipeline.stats();
    assert_eq!((s.ingested, s.filtered, s.written), (3, 1, 2));
    let metrics = pipeline.prom_encoders()[0].1.lock().expect("lock").render();
    assert!(
        metrics.contains(r#"netobserv_egress_bytes_total{DstSubnetLabel="EXT:internet"} 100"#),
        "{metrics}"
    );
}

#[test]
fn binary_runs_a_config_on_stdin() {
    let dir = std::env::temp_dir().join(format!("netobserv-pipeline-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("config.yaml");
    let metrics = dir.join("metrics.txt");
    std::fs::write(&config, CONFIG).expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args([
            "--config",
            &config.to_string_lossy(),
            "--metrics-out",
            &metrics.to_string_lossy(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(INPUT.as_bytes())
        .expect("feeds");
    let output = child.wait_with_output().expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("3 records read, 1 undecodable lines, 1 filtered out, 2 written"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&metrics).expect("metrics file");
    assert!(text.contains("netobserv_egress_bytes_total"), "{text}");

    // An unsupported stage is refused with its name, not run half-way.
    std::fs::write(&config, CONFIG.replace("type: stdin", "type: ipfix")).expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &config.to_string_lossy()])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("stage `ingest`: ingest type `ipfix`")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// In stdin mode with a Loki writer, the summary counts what Loki received (it said
/// `0 written` before: only stdout writers were counted, and Loki flushed after the summary).
#[test]
fn stdin_summary_counts_records_written_to_loki() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (port, pushes) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let port = listener.local_addr().expect("addr").port();
        (port, common::loki::serve(listener, None))
    });
    let dir = std::env::temp_dir().join(format!("netobserv-run-loki-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "pipeline: [{{name: in}}, {{name: loki, follows: in}}]\nparameters:\n- {{name: in, ingest: {{type: stdin}}}}\n- {{name: loki, write: {{type: loki, loki: {{url: 'http://127.0.0.1:{port}/', batchWait: 100ms}}}}}}\n"
        ),
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &config.to_string_lossy()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"{\"Bytes\":1}\n{\"Bytes\":2}\n")
        .expect("feeds");
    let output = child.wait_with_output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(pushes.lock().expect("lock").len(), 2);
    assert!(
        stderr.contains("2 records read, 0 undecodable lines, 0 filtered out, 2 written"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 sent to Loki, 0 dropped for Loki"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The gRPC ingest (`grpc.address`, ours) and the health server (`--health.address`, upstream's)
/// bind the address they are given, not always every interface.
#[test]
fn listen_addresses_are_honoured() {
    let dir = std::env::temp_dir().join(format!("netobserv-run-addr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("config.yaml");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port")
    };
    let (health, metrics) = (free(), free());
    std::fs::write(
        &config,
        "pipeline: [{name: in}, {name: out, follows: in}]\nparameters:\n- {name: in, ingest: {type: grpc, grpc: {address: 127.0.0.1, port: 0}}}\n- {name: out, write: {type: none}}\n",
    )
    .expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .arg(format!("--config={}", config.display()))
        .args(["--health.address", "127.0.0.1"])
        .arg(format!("--health.port={health}"))
        .arg(format!("--metrics-address=127.0.0.1:{metrics}"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let health_line = common::read_until(&mut stderr, "health endpoint");
    let banner = common::read_until(&mut stderr, "listening on");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        health_line.contains(&format!("address=127.0.0.1:{health}")),
        "{health_line}"
    );
    assert!(banner.contains("listening on 127.0.0.1:"), "{banner}");
}

/// SIGTERM stops a stdin run that is still waiting for input (the signal handler the long-running
/// modes need must not make a one-shot run unkillable).
#[test]
fn sigterm_stops_a_stdin_run_waiting_for_input() {
    let dir = std::env::temp_dir().join(format!("netobserv-run-term-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("config.yaml");
    std::fs::write(&config, CONFIG).expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &config.to_string_lossy()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let _stdin = child.stdin.take();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running 5 s after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!status.success(), "an interrupted run is not a success");
}
