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
