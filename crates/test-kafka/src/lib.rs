//! A real Kafka-protocol broker for the test suites: `tansu` (installed by
//! `scripts/prerequisites.sh`) listening on a free loopback port with in-memory storage.
//!
//! Tests talk to it with the same client the agent and the pipeline use, and read topics back
//! on their own (`read_all`) so a test can tell what the broker holds from what a consumer
//! handed on. `pause` / `resume` freeze the broker process (SIGSTOP / SIGCONT): to its clients
//! that is a broker that stops answering, connections open, the harshest outage to recover from.

mod scram;
mod tls;

pub use tls::TlsFiles;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use krafka::admin::{AlterUserScramCredentialsOptions, CreateTopicsOptions, NewTopic};
use krafka::auth::{AuthConfig, TlsConfig};
use krafka::{Kafka, Record};

/// One record read back from a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Partition it sits in.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// Its key, if any.
    pub key: Option<Vec<u8>>,
    /// Its value.
    pub value: Vec<u8>,
}

/// A running tansu broker, killed on drop.
#[derive(Debug)]
pub struct Broker {
    child: Child,
    /// `127.0.0.1:PORT`, what clients are given as the bootstrap address.
    pub address: String,
    /// With [`Broker::start_behind_tls`]: the files a client needs (the test's own clients
    /// use them too).
    pub tls: Option<TlsFiles>,
    /// With [`Broker::start_with_scram`]: the SCRAM-SHA-512 user and password (the test's own
    /// clients sign in with them).
    pub scram: Option<(String, String)>,
    /// Stops the TLS front.
    _front: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: TempDir,
}

#[derive(Debug)]
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address").port()
}

/// Runs `tansu broker` in `dir` (its log appended to `dir/tansu.log`).
fn run_tansu(
    dir: &std::path::Path,
    port: u16,
    advertised: u16,
    storage: &str,
    extra: &[&str],
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("tansu.log"))
        .expect("open the broker log");
    Command::new("tansu")
        .args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{port}"),
            "--advertised-listener-url",
            &format!("tcp://127.0.0.1:{advertised}"),
            "--storage-engine",
            storage,
        ])
        .args(extra)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log handle"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start `tansu` ({e}); `scripts/prerequisites.sh` installs it")
        })
}

impl Broker {
    /// Starts tansu and waits until it accepts connections. Panics with the reason when tansu
    /// is not installed or does not come up: a Kafka test cannot mean anything without it.
    pub fn start() -> Broker {
        let port = free_port();
        Self::spawn(port, port)
    }

    /// Starts tansu behind a TLS front (see the `tls` module: tansu 0.6 serves no TLS itself)
    /// that requires a client certificate from the test CA; `address` is the front's, and
    /// [`Broker::tls`] holds the files a client needs.
    pub fn start_behind_tls() -> Broker {
        let front = TcpListener::bind("127.0.0.1:0").expect("bind the TLS front");
        let front_port = front.local_addr().expect("front address").port();
        let plain_port = free_port();
        let mut broker = Self::spawn(plain_port, front_port);
        broker.serve_front(front, plain_port);
        broker
    }

    /// Puts the TLS front on `front`, forwarding to tansu's own `plain_port`.
    fn serve_front(&mut self, front: TcpListener, plain_port: u16) {
        let front_port = front.local_addr().expect("front address").port();
        let (files, config) = tls::pki(&self._dir.0);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        tls::serve(front, format!("127.0.0.1:{plain_port}"), config, stopped);
        self.tls = Some(files);
        self._front = Some(stop);
        self.address = format!("127.0.0.1:{front_port}");
    }

    /// Starts tansu requiring SASL (`--authentication`), where `user` signs in with SCRAM-SHA-512
    /// and `password`; the test's own clients then sign in as `user`.
    ///
    /// tansu 0.6 keeps SCRAM credentials in its storage and checks passwords against them, but
    /// with `--authentication` refuses every request before a sign-in, and offers no SASL/PLAIN:
    /// a broker that starts with no user cannot get one. So the broker first runs without
    /// authentication on SQLite storage (tansu's `libsql` feature), the credential is created
    /// there as a Kafka admin client does (`AlterUserScramCredentials`), and the broker is
    /// started again on the same storage, requiring authentication.
    pub async fn start_with_scram(user: &str, password: &str) -> Broker {
        Self::start_scram(user, password, false).await
    }

    /// Both: SCRAM-SHA-512 sign-in required, over the TLS front that wants a client
    /// certificate (a Strimzi listener with `tls` and `scram-sha-512` authentication).
    pub async fn start_behind_tls_with_scram(user: &str, password: &str) -> Broker {
        Self::start_scram(user, password, true).await
    }

    async fn start_scram(user: &str, password: &str, behind_tls: bool) -> Broker {
        const STORAGE: &str = "sqlite://tansu.db";
        let port = free_port();
        let mut broker = Self::spawn_with(port, port, STORAGE, &[]);
        let admin = broker.client().await;
        let results = admin
            .admin()
            .alter_user_scram_credentials(
                Vec::new(),
                vec![scram::credential(user, password)],
                AlterUserScramCredentialsOptions::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("AlterUserScramCredentials: {e}\n{}", broker.log()));
        for (name, result) in results {
            result.unwrap_or_else(|e| panic!("SCRAM credential of {name}: {e}"));
        }
        drop(admin);
        let _ = broker.child.kill();
        let _ = broker.child.wait();
        let front =
            behind_tls.then(|| TcpListener::bind("127.0.0.1:0").expect("bind the TLS front"));
        let advertised = match &front {
            Some(front) => front.local_addr().expect("front address").port(),
            None => port,
        };
        broker.child = run_tansu(
            &broker._dir.0,
            port,
            advertised,
            STORAGE,
            &["--authentication"],
        );
        broker.wait_listening();
        if let Some(front) = front {
            broker.serve_front(front, port);
        }
        broker.scram = Some((user.to_string(), password.to_string()));
        broker
    }

    /// Starts tansu listening on `port` and advertising `advertised` (a front's port, or the
    /// same), with in-memory storage.
    fn spawn(port: u16, advertised: u16) -> Broker {
        Self::spawn_with(port, advertised, "memory://tansu/", &[])
    }

    fn spawn_with(port: u16, advertised: u16, storage: &str, extra: &[&str]) -> Broker {
        let dir = std::env::temp_dir().join(format!("tansu-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the broker's directory");
        let child = run_tansu(&dir, port, advertised, storage, extra);
        let mut broker = Broker {
            child,
            address: format!("127.0.0.1:{port}"),
            tls: None,
            scram: None,
            _front: None,
            _dir: TempDir(dir),
        };
        broker.wait_listening();
        broker.address = format!("127.0.0.1:{advertised}");
        broker
    }

    /// Waits until tansu accepts connections on its own port (not the TLS front's).
    fn wait_listening(&mut self) {
        let addr: SocketAddr = self.address.parse().expect("loopback address");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("tansu exited at start ({status}): {}", self.log());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "tansu did not listen on {} within 30 s: {}",
            self.address,
            self.log()
        );
    }

    /// What the broker printed so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.0.join("tansu.log")).unwrap_or_default()
    }

    /// A client connected to this broker (over TLS with the test's client certificate when
    /// the broker is behind the TLS front).
    pub async fn client(&self) -> Kafka {
        let tls = self.tls.as_ref().map(|f| {
            TlsConfig::new()
                .with_ca_cert(f.ca.to_string_lossy().to_string())
                .with_client_cert(
                    f.client_cert.to_string_lossy().to_string(),
                    f.client_key.to_string_lossy().to_string(),
                )
        });
        let sign_in = match &self.scram {
            Some((user, password)) => AuthConfig::sasl_scram_sha512(user, password),
            None => AuthConfig::plaintext(),
        };
        let security = match tls {
            Some(tls) => sign_in.with_tls(tls),
            None => sign_in,
        };
        Kafka::builder(self.address.clone())
            .client_id("netobserv-test")
            .security(security)
            .request_timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connect to the test broker")
    }

    /// Creates `topic` with `partitions` partitions.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        let kafka = self.client().await;
        let topic_spec = NewTopic::new(topic, partitions, 1).expect("topic name");
        let results = kafka
            .admin()
            .create_topics([topic_spec], CreateTopicsOptions::default())
            .await
            .expect("create topic request");
        for (name, result) in results {
            result.unwrap_or_else(|e| panic!("create topic {name}: {e}"));
        }
    }

    /// Produces `values` (keyed when a key is given) and waits for every acknowledgement.
    pub async fn produce(&self, topic: &str, records: Vec<(Option<Vec<u8>>, Vec<u8>)>) {
        let kafka = self.client().await;
        let producer = kafka.producer().build().await.expect("test producer");
        let mut handles = Vec::with_capacity(records.len());
        for (key, value) in records {
            let mut record = Record::new(topic, value);
            if let Some(key) = key {
                record = record.key(key);
            }
            handles.push(producer.enqueue(record).await.expect("enqueue"));
        }
        for handle in handles {
            let _acknowledged = handle.await.expect("delivery acknowledged");
        }
        let _ = producer.close().await;
    }

    /// Reads every record of `topic` (all `partitions`) from the start, outside any consumer
    /// group, until `expected` records came or nothing new came for 5 s: the independent view
    /// of what the broker holds. (tansu 0.6's `ListOffsets` can answer a stale high watermark,
    /// so the end is not taken from it.)
    pub async fn read_all(&self, topic: &str, partitions: i32, expected: usize) -> Vec<Stored> {
        let kafka = self.client().await;
        let consumer = kafka
            .consumer_without_group()
            .auto_offset_reset(krafka::consumer::AutoOffsetReset::Earliest)
            // krafka 0.28 loses its place where a poll's record budget cuts a batch (against
            // tansu: it skips or stalls at that offset); unlimited polls never cut.
            .max_poll_records(-1)
            .build()
            .await
            .expect("reader");
        consumer
            .assign(topic, (0..partitions).collect())
            .await
            .expect("assign");
        let mut out = Vec::new();
        let mut quiet_since = Instant::now();
        while out.len() < expected && quiet_since.elapsed() < Duration::from_secs(5) {
            let records = consumer
                .poll(Duration::from_millis(500))
                .await
                .expect("poll");
            if !records.is_empty() {
                quiet_since = Instant::now();
            }
            for record in records {
                out.push(Stored {
                    partition: record.partition,
                    offset: record.offset,
                    key: record.key.map(|k| k.to_vec()),
                    value: record.value.map(|v| v.to_vec()).unwrap_or_default(),
                });
            }
        }
        let _ = consumer.close().await;
        out
    }

    /// Freezes the broker (SIGSTOP): it keeps its sockets but answers nothing.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Thaws a paused broker (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid, which is not reaped while `self` lives.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "signal {signal} to tansu");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
