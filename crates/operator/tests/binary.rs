//! The `netobserv-operator` binary against the fake API server over HTTP (through a kubeconfig),
//! as it would start in a cluster where the FlowCollector CRD is missing or arrives late.
//!
//! On a real cluster, with the CRD missing, SIGTERM logged `shutdown requested` and the process
//! stayed alive (25 minutes in one case), while the failing watch was logged only at DEBUG,
//! `/readyz` said ok and no metric moved. Here: the failure is a WARN line, a counter and a
//! failing `/readyz`; the CRD's arrival makes it ready; SIGTERM ends the process within seconds.

mod common;

use netobserv_fake_apiserver::FakeApiServer;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// GET on loopback; the status code and body, or None when nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

struct Operator {
    child: Child,
    health: u16,
    metrics: u16,
    log: Arc<Mutex<String>>,
    _kubeconfig: std::path::PathBuf,
}

impl Operator {
    fn start(fake: &FakeApiServer, name: &str) -> Self {
        Self::start_with(fake, name, &[])
    }

    fn start_with(fake: &FakeApiServer, name: &str, extra: &[String]) -> Self {
        let kubeconfig = std::env::temp_dir().join(format!(
            "netobserv-operator-{name}-{}.kubeconfig",
            std::process::id()
        ));
        std::fs::write(&kubeconfig, fake.kubeconfig()).expect("kubeconfig written");
        let (health, metrics) = (free_port(), free_port());
        let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-operator"))
            .arg(format!("--health-probe-bind-address=127.0.0.1:{health}"))
            .arg(format!("--metrics-bind-address=127.0.0.1:{metrics}"))
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info")
            .env("RELATED_IMAGE_EBPF_AGENT", "example/agent:1")
            .env("RELATED_IMAGE_FLOWLOGS_PIPELINE", "example/flp:1")
            .env("RELATED_IMAGE_CONSOLE_PLUGIN", "example/plugin:1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("operator starts");
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        Self {
            child,
            health,
            metrics,
            log,
            _kubeconfig: kubeconfig,
        }
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until `check` holds (polling), or panics with the log after `within`.
    async fn wait_for(&self, what: &str, within: Duration, check: impl Fn(&Self) -> bool) {
        let start = Instant::now();
        while !check(self) {
            assert!(
                start.elapsed() < within,
                "{what} not seen within {within:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn readyz(&self) -> Option<u16> {
        get(self.health, "/readyz").map(|(c, _)| c)
    }

    fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = get(self.metrics, "/metrics")?;
        body.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
    }

    /// Sends SIGTERM and waits for the exit; returns how long it took and the exit code.
    async fn terminate(&mut self) -> (Duration, Option<i32>) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        let start = Instant::now();
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (start.elapsed(), status.code());
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("still running 30 s after SIGTERM; log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const WATCH_FAILURES: &str = "netobserv_operator_flowcollector_watch_failures_total";

#[tokio::test]
async fn without_the_crd_it_says_so_is_not_ready_and_stops_on_sigterm() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    let mut op = Operator::start(&fake, "nocrd");
    op.wait_for("the health server", Duration::from_secs(20), |o| {
        o.readyz().is_some()
    })
    .await;
    op.wait_for("the watch failure counted", Duration::from_secs(20), |o| {
        o.metric(WATCH_FAILURES).is_some_and(|v| v >= 1.0)
    })
    .await;
    assert_eq!(
        op.readyz(),
        Some(503),
        "not ready while FlowCollectors cannot be listed"
    );
    let log = op.log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("cannot list or watch FlowCollectors")),
        "no WARN line about the failing watch:\n{log}"
    );
    let (took, code) = op.terminate().await;
    eprintln!("SIGTERM to exit: {took:?}");
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    assert_eq!(code, Some(0), "log:\n{}", op.log());
}

#[tokio::test]
async fn the_crd_arriving_later_makes_it_ready() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    let mut op = Operator::start(&fake, "latecrd");
    op.wait_for("the watch failure counted", Duration::from_secs(20), |o| {
        o.metric(WATCH_FAILURES).is_some_and(|v| v >= 1.0)
    })
    .await;
    for crd in [
        "config/crd/bases/flows.netobserv.io_flowcollectors.yaml",
        "config/crd/bases/flows.netobserv.io_flowmetrics.yaml",
    ] {
        fake.create_yaml(&common::read(crd)).expect("CRD accepted");
    }
    op.wait_for("readiness", Duration::from_secs(40), |o| {
        o.readyz() == Some(200)
    })
    .await;
    let (took, code) = op.terminate().await;
    eprintln!("SIGTERM to exit: {took:?}");
    assert!(took < Duration::from_secs(10), "SIGTERM took {took:?}");
    assert_eq!(code, Some(0), "log:\n{}", op.log());
}

/// One truthful line about the webhooks (the old build also claimed they were not served), on
/// the address asked for.
#[tokio::test]
async fn webhooks_bind_where_asked_and_say_so_once() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    let dir = std::env::temp_dir().join(format!("netobserv-webhook-certs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("cert dir");
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    std::fs::write(dir.join("tls.crt"), ck.cert.pem()).expect("crt");
    std::fs::write(dir.join("tls.key"), ck.signing_key.serialize_pem()).expect("key");
    let port = free_port();
    let mut op = Operator::start_with(
        &fake,
        "webhook",
        &[
            format!("--webhook-port={port}"),
            "--webhook-bind-address=127.0.0.1".to_string(),
            format!("--webhook-cert-dir={}", dir.display()),
        ],
    );
    op.wait_for("the webhook listener", Duration::from_secs(20), |_| {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let log = op.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("webhook")).collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains(&format!("127.0.0.1:{port}")) && lines[0].contains("served over HTTPS"),
        "{}",
        lines[0]
    );
    let _ = op.terminate().await;
    let _ = std::fs::remove_dir_all(&dir);
}
