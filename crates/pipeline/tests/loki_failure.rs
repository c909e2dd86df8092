//! A Loki that cannot be reached, seen the way an operator sees it: the real binary logs a WARN
//! for each failed push through its `tracing` subscriber (level from `LOG_LEVEL`, JSON lines with
//! `LOG_FORMAT=json`) and counts the failures and the entries given up on `/metrics`.
//!
//! "Loki" is a loopback port nothing listens on (connection refused): no Loki can run here, and
//! an unreachable one is exactly the failure under test. The same run checks that the process
//! keeps one tokio runtime: every thread is the main thread, a `pipeline-io` runtime thread or a
//! `pipeline-worker` (the Loki writer and the other background tasks start no runtime of their
//! own).

mod common;
use common::http_body;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

fn config(loki_port: u16) -> String {
    format!(
        r#"
pipeline:
  - {{name: synth}}
  - {{name: loki, follows: synth}}
parameters:
  - name: synth
    ingest: {{type: synthetic, synthetic: {{connections: 5, batchMaxLen: 10, flowLogsPerMin: 6000}}}}
  - name: loki
    write:
      type: loki
      loki: {{url: "http://127.0.0.1:{loki_port}/", batchWait: 100ms, batchSize: 1000000, minBackoff: 10ms, maxBackoff: 20ms, maxRetries: 2, timeout: 1s, labels: [SrcAddr]}}
"#
    )
}

/// The binary, its stderr lines as they come, and its metrics port.
struct Run {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    metrics_port: u16,
    dir: std::path::PathBuf,
}

impl Run {
    fn start(tag: &str, env: &[(&str, &str)]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("netobserv-loki-fail-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config.yaml");
        // Reserved then released: nothing listens there while the test runs.
        std::fs::write(&path, config(free_port())).expect("config");
        let metrics_port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"));
        command
            .args(["--config", &path.to_string_lossy()])
            .args(["--metrics-address", &format!("127.0.0.1:{metrics_port}")])
            .env_remove("RUST_LOG")
            .env_remove("LOG_LEVEL")
            .env_remove("LOG_FORMAT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("starts");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("lock").push(line);
            }
        });
        Self {
            child,
            lines,
            metrics_port,
            dir,
        }
    }

    fn log(&self) -> Vec<String> {
        self.lines.lock().expect("lock").clone()
    }

    fn metrics(&self) -> String {
        http_body(self.metrics_port, "/metrics").unwrap_or_default()
    }

    /// Names of the process's threads (`/proc/<pid>/task/*/comm`).
    fn threads(&self) -> Vec<String> {
        let dir = format!("/proc/{}/task", self.child.id());
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
            .map(|s| s.trim().to_string())
            .collect()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The value of the sample that starts with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

const FAILED: &str = r#"netobserv_loki_failed_pushes_total{stage="loki"} "#;
const GIVEN_UP: &str =
    r#"netobserv_loki_dropped_entries_total{stage="loki",reason="retries_exhausted"} "#;

/// Waits (at most 20 s) until `done` holds for the run's log and metrics.
fn wait(run: &Run, done: impl Fn(&[String], &str) -> bool) -> (Vec<String>, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (log, metrics) = (run.log(), run.metrics());
        if done(&log, &metrics) || Instant::now() > deadline {
            return (log, metrics);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn json_warnings(log: &[String]) -> Vec<serde_json::Value> {
    log.iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "WARN")
        .collect()
}

#[test]
fn an_unreachable_loki_is_logged_as_a_warning_and_counted() {
    let run = Run::start("json", &[("LOG_LEVEL", "info"), ("LOG_FORMAT", "json")]);
    let (log, metrics) = wait(&run, |log, metrics| {
        json_warnings(log)
            .iter()
            .any(|w| w["fields"]["message"] == "cannot reach Loki")
            && sample(metrics, GIVEN_UP).is_some_and(|n| n > 0.0)
    });
    let warnings = json_warnings(&log);
    let warning = warnings
        .iter()
        .find(|w| w["fields"]["message"] == "cannot reach Loki")
        .unwrap_or_else(|| {
            panic!(
                "no WARN `cannot reach Loki` in the log:\n{}",
                log.join("\n")
            )
        });
    // The cause is in the line, not only "error sending request".
    let err = warning["fields"]["err"].as_str().unwrap_or_default();
    assert!(!err.is_empty(), "{warning}");
    assert!(warning["fields"]["attempt"].is_number(), "{warning}");
    // Every line is JSON: nothing bypasses the subscriber (no eprintln!).
    for line in &log {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
    let failed = sample(&metrics, FAILED).unwrap_or_else(|| panic!("no {FAILED}in\n{metrics}"));
    assert!(failed >= 1.0, "{metrics}");
    let given_up =
        sample(&metrics, GIVEN_UP).unwrap_or_else(|| panic!("no {GIVEN_UP}in\n{metrics}"));
    assert!(given_up >= 1.0, "{metrics}");
    // Nothing reached Loki.
    assert_eq!(
        sample(
            &metrics,
            r#"netobserv_loki_sent_entries_total{stage="loki"} "#
        ),
        Some(0.0),
        "{metrics}"
    );
    // One runtime: no thread but the main one, the runtime's and the stage workers.
    let threads = run.threads();
    assert!(!threads.is_empty());
    for name in &threads {
        assert!(
            name.starts_with("netobserv-pipel")
                || name.starts_with("pipeline-io")
                || name.starts_with("pipeline-worker"),
            "thread {name} outside the one runtime: {threads:?}"
        );
    }
}

#[test]
fn log_level_filters_the_warnings_but_not_the_counters() {
    let run = Run::start("quiet", &[("LOG_LEVEL", "error")]);
    let (log, metrics) = wait(&run, |_, metrics| {
        sample(metrics, FAILED).is_some_and(|n| n >= 3.0)
    });
    assert!(
        sample(&metrics, FAILED).is_some_and(|n| n >= 3.0),
        "the failures are counted at any level:\n{metrics}"
    );
    assert!(
        !log.iter().any(|l| l.contains("cannot reach Loki")),
        "LOG_LEVEL=error still shows warnings:\n{}",
        log.join("\n")
    );
    // And the default text format is used: readable lines, no JSON objects.
    let run = Run::start("text", &[]);
    let (log, _) = wait(&run, |log, _| {
        log.iter().any(|l| l.contains("cannot reach Loki"))
    });
    let line = log
        .iter()
        .find(|l| l.contains("cannot reach Loki"))
        .unwrap_or_else(|| panic!("no warning in text mode:\n{}", log.join("\n")));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        serde_json::from_str::<serde_json::Value>(line).is_err(),
        "{line}"
    );
}
