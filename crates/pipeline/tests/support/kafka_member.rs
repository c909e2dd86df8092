//! A `netobserv-pipeline` binary as a member of a Kafka consumer group, writing JSON lines to
//! a file: shared by the pipeline's Kafka tests and the agent's agent → Kafka → pipelines chain
//! test, which includes this file by path.
#![allow(dead_code)]

use netobserv_test_kafka::Broker;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A loopback port free at the time of the call.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Runs the `netobserv-pipeline` binary `bin` with a configuration file.
fn binary(bin: &str) -> impl FnOnce(&Path) -> Command + '_ {
    move |config| {
        let mut c = Command::new(bin);
        c.args(["--config", &config.to_string_lossy()]);
        c
    }
}

/// A pipeline binary in the consumer group, writing JSON lines to `out`.
pub struct Member {
    child: Child,
    /// Where the member writes its records.
    pub out: PathBuf,
    log: PathBuf,
}

impl Member {
    /// Starts the `netobserv-pipeline` binary `bin` as member `name` of group `flp-test`.
    pub fn start(bin: &str, dir: &Path, name: &str, broker: &Broker, topic: &str) -> Member {
        Self::start_with(binary(bin), dir, name, broker, topic)
    }

    /// As [`Member::start`], decoding JSON messages (`decoder: {type: json}`).
    pub fn start_json(bin: &str, dir: &Path, name: &str, broker: &Broker, topic: &str) -> Member {
        Self::start_decoding(binary(bin), dir, name, broker, topic, "json", "")
    }

    /// As [`Member::start`], with `extra` (`, key: value`, flow YAML) added to the ingest's
    /// `kafka` parameters.
    pub fn start_extra(
        bin: &str,
        dir: &Path,
        name: &str,
        broker: &Broker,
        topic: &str,
        extra: &str,
    ) -> Member {
        Self::start_decoding(binary(bin), dir, name, broker, topic, "protobuf", extra)
    }

    /// As [`Member::start`] against a broker behind the TLS front, trusting `ca` and
    /// presenting the test's client certificate.
    pub fn start_tls(
        bin: &str,
        dir: &Path,
        name: &str,
        broker: &Broker,
        topic: &str,
        ca: &Path,
    ) -> Member {
        let files = broker.tls.as_ref().expect("a broker behind the TLS front");
        let tls = format!(
            ", tls: {{caCertPath: {}, userCertPath: {}, userKeyPath: {}}}",
            ca.display(),
            files.client_cert.display(),
            files.client_key.display()
        );
        Self::start_extra(bin, dir, name, broker, topic, &tls)
    }

    /// Starts the command `launch` builds for a configuration file as member `name`.
    pub fn start_with(
        launch: impl FnOnce(&Path) -> Command,
        dir: &Path,
        name: &str,
        broker: &Broker,
        topic: &str,
    ) -> Member {
        Self::start_decoding(launch, dir, name, broker, topic, "protobuf", "")
    }

    fn start_decoding(
        launch: impl FnOnce(&Path) -> Command,
        dir: &Path,
        name: &str,
        broker: &Broker,
        topic: &str,
        decoder: &str,
        extra: &str,
    ) -> Member {
        let config = dir.join(format!("{name}.yaml"));
        std::fs::write(
            &config,
            format!(
                r#"
metricsSettings: {{port: {}}}
pipeline:
  - {{name: in}}
  - {{name: out, follows: in}}
parameters:
  - name: in
    ingest:
      type: kafka
      kafka: {{brokers: ["{}"], topic: {topic}, groupid: flp-test, decoder: {{type: {decoder}}}, commitInterval: 500, batchMaxLen: 500{extra}}}
  - {{name: out, write: {{type: stdout, stdout: {{format: json}}}}}}
"#,
                free_port(),
                broker.address
            ),
        )
        .expect("config");
        let out = dir.join(format!("{name}.out"));
        let log = dir.join(format!("{name}.log"));
        let child = launch(&config)
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("starts");
        Member { child, out, log }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the log once it exited cleanly.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                assert!(status.success(), "member failed: {log}");
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "member still running 40 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How many times the member joined its group so far (a rebalance makes it join again).
    pub fn joins(&self) -> usize {
        self.log().matches("Joined group").count()
    }

    /// How many partitions of `topic` the member's last logged assignment holds.
    pub fn partitions(&self, topic: &str) -> usize {
        self.log()
            .lines()
            .rfind(|l| l.contains("assignment changed"))
            .map_or(0, |l| l.matches(&format!("(\"{topic}\",")).count())
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}
