//! The collector: receives what the agents capture and writes the output files
//! ([`files`]): flows through [`flows`], packets through [`packets`], both enriched with
//! Kubernetes names by the pipeline's stages ([`enrich`]). It runs in the capture's pod
//! (`kubectl-netobserv collector`, what the rendered Pod runs) and just as well on a laptop.

pub mod enrich;
pub mod files;
pub mod flows;
pub mod packets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

pub use crate::options::collector::{CollectorArgs, Mode};

/// Why a collector cannot run.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// A bad setting (e.g. `--query`).
    #[error("{0}")]
    Config(String),
    /// An output file cannot be written.
    #[error("{}: {source}", path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The flow store cannot be opened.
    #[error("flow store: {0}")]
    Store(String),
    /// The port cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Why a capture ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `--max-time` elapsed.
    MaxTime,
    /// `--max-bytes` written.
    MaxBytes,
    /// Asked to stop (Ctrl-C, SIGTERM, the pod deleted).
    Stopped,
}

/// What a capture did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Why it ended.
    pub reason: StopReason,
    /// Flows or packets written.
    pub items: u64,
    /// Bytes written (JSON, or pcapng).
    pub bytes: u64,
    /// How long it ran.
    pub elapsed: Duration,
    /// Flow store rows lost to failed transactions.
    pub store_failed_rows: u64,
    /// Packets refused as malformed.
    pub refused: u64,
}

/// Live counters of a capture, for the progress line and the TUI.
#[derive(Debug, Default)]
pub struct Progress {
    flows: AtomicU64,
    filtered: AtomicU64,
    bytes: Arc<AtomicU64>,
}

impl Progress {
    /// Flows (or packets) written.
    pub fn flows(&self) -> u64 {
        self.flows.load(Ordering::Relaxed)
    }
    /// Flows dropped by `--query`.
    pub fn filtered(&self) -> u64 {
        self.filtered.load(Ordering::Relaxed)
    }
    /// Bytes written.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    /// The progress line the collector prints every 5 s when it shows no table (what
    /// `follow` shows of a cluster run, and what a foreground run's table reads back).
    pub fn line(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64();
        format!(
            "elapsed {secs:.0}s, captured {} bytes, {} written ({:.0}/s)",
            self.bytes(),
            self.flows(),
            self.flows() as f64 / secs.max(1e-9)
        )
    }

    /// Takes the counters of a [`Progress::line`] (read from the collector's log); false, and
    /// nothing changed, for any other line.
    pub fn read_line(&self, line: &str) -> bool {
        let parsed = line
            .strip_prefix("elapsed ")
            .and_then(|rest| rest.split_once("s, captured "))
            .and_then(|(_, rest)| rest.split_once(" bytes, "))
            .and_then(|(bytes, rest)| {
                let (flows, _) = rest.split_once(" written")?;
                Some((bytes.parse::<u64>().ok()?, flows.parse::<u64>().ok()?))
            });
        match parsed {
            Some((bytes, flows)) => {
                self.set_bytes(bytes);
                self.flows.store(flows, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    fn add_flows(&self, n: u64) {
        self.flows.fetch_add(n, Ordering::Relaxed);
    }
    fn add_filtered(&self, n: u64) {
        self.filtered.fetch_add(n, Ordering::Relaxed);
    }
    fn set_bytes(&self, n: u64) {
        self.bytes.store(n, Ordering::Relaxed);
    }
    fn bytes_counter(&self) -> Arc<AtomicU64> {
        self.bytes.clone()
    }
}

/// Runs the collector `args` describe until a stop condition or `stop`; `bound` gets the
/// listening address.
pub async fn run(
    args: &CollectorArgs,
    names: enrich::KubeNames,
    observer: Option<tokio::sync::mpsc::Sender<Arc<netobserv_pipeline::record::Record>>>,
    progress: Arc<Progress>,
    stop: impl std::future::Future<Output = ()>,
    bound: impl FnOnce(SocketAddr),
) -> Result<Summary, CollectorError> {
    let addr: SocketAddr = format!("{}:{}", args.address, args.port)
        .parse()
        .map_err(|_| {
            CollectorError::Config(format!("--address {}: not an IP address", args.address))
        })?;
    let paths = files::OutputPaths::new(&args.output, SystemTime::now());
    match args.mode {
        Mode::Flows => {
            flows::run(
                flows::FlowCapture {
                    addr,
                    paths,
                    max_time: args.max_time,
                    max_bytes: args.max_bytes,
                    names,
                    query: args.query.clone(),
                    subnet_labels: args.subnet_labels.clone(),
                    observer,
                },
                progress,
                stop,
                bound,
            )
            .await
        }
        Mode::Packets => {
            packets::run(
                packets::PacketCapture {
                    addr,
                    path: paths.pcapng,
                    max_time: args.max_time,
                    max_bytes: args.max_bytes,
                    snaplen: args.snaplen,
                    names,
                    observer,
                },
                progress,
                stop,
                bound,
            )
            .await
        }
    }
}

/// What starts a live record line on the collector's standard output (`--live`).
pub const LIVE_PREFIX: &str = "LIVE ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_reads_back_into_the_counters() {
        let p = Progress::default();
        p.set_bytes(123_456);
        p.add_flows(789);
        let line = p.line(Duration::from_secs(10));
        assert_eq!(
            line,
            "elapsed 10s, captured 123456 bytes, 789 written (79/s)"
        );
        let q = Progress::default();
        assert!(q.read_line(&line));
        assert_eq!((q.bytes(), q.flows()), (123_456, 789));
        assert!(!q.read_line("collector listening addr=0.0.0.0:9999"));
        assert!(!q.read_line("elapsed 5s, captured many bytes, 3 written (1/s)"));
        assert_eq!((q.bytes(), q.flows()), (123_456, 789));
    }
}
