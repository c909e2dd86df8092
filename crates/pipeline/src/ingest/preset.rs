//! The preset ingester: the source of a pipeline run inside another program (upstream's
//! `preset-ingester`, what the agent's `EXPORT=direct-flp` feeds). The program gets a
//! [`PresetSender`] and hands it agent flows; nothing goes over the network.

use super::{GrpcStats, Ingester, LineStats, RunningIngest};
use crate::shard::{SendError, Shards};
use crate::shutdown::Shutdown;
use crate::stage::BuildError;
use futures::FutureExt;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use crate::config::PRESET_INGESTER;

/// Longest wait for room in the worker queues: a stuck pipeline is reported by the sender's
/// own queue filling up and dropping (counted), not by a call that never returns.
const SEND_WAIT: Duration = Duration::from_secs(3600);

/// Sends flows into an embedded pipeline's worker queues.
#[derive(Clone)]
pub struct PresetSender {
    shards: Shards,
    stats: Arc<GrpcStats>,
}

impl PresetSender {
    /// Queues agent flows (decoded by the workers), waiting while the queues are full: the
    /// pipeline's back-pressure reaches the caller. Fails once the pipeline stopped.
    pub async fn send(&self, flows: Vec<pbflow::Record>) -> Result<(), SendError> {
        if flows.is_empty() {
            return Ok(());
        }
        let n = flows.len() as u64;
        let received = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let batches = self.shards.split_flows(flows, received);
        let started = Instant::now();
        match self.shards.send(batches, started + SEND_WAIT).await {
            Ok(waited) => {
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats.flows.fetch_add(n, Ordering::Relaxed);
                if waited {
                    self.stats.waited_batches.fetch_add(1, Ordering::Relaxed);
                    self.stats.wait_us.fetch_add(
                        started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64,
                        Ordering::Relaxed,
                    );
                }
                Ok(())
            }
            Err(e) => {
                self.stats.refused_flows.fetch_add(n, Ordering::Relaxed);
                self.stats.refused_batches.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

/// The preset ingest before it starts: it hands the program its sender once the worker queues
/// exist.
pub struct PresetIngester {
    handoff: tokio::sync::oneshot::Sender<PresetSender>,
    buffer: usize,
}

impl PresetIngester {
    /// An ingest whose sender arrives on the returned receiver when the pipeline starts;
    /// `buffer` batches wait in each worker queue.
    pub fn new(buffer: usize) -> (Self, tokio::sync::oneshot::Receiver<PresetSender>) {
        let (handoff, receiver) = tokio::sync::oneshot::channel();
        (
            Self {
                handoff,
                buffer: buffer.max(1),
            },
            receiver,
        )
    }
}

impl Ingester for PresetIngester {
    fn queue_batches(&self) -> usize {
        self.buffer
    }

    fn start(
        self: Box<Self>,
        shards: Shards,
    ) -> BoxFuture<'static, Result<Box<dyn RunningIngest>, BuildError>> {
        let stats = Arc::new(GrpcStats::default());
        let sender = PresetSender {
            shards,
            stats: stats.clone(),
        };
        let result = match self.handoff.send(sender) {
            Ok(()) => Ok(Box::new(RunningPreset { stats }) as Box<dyn RunningIngest>),
            Err(_) => Err(BuildError::Invalid(
                "the program embedding the pipeline stopped before it started".into(),
            )),
        };
        futures::future::ready(result).boxed()
    }
}

/// The started preset ingest: the program holds the sender; the queues close when it drops it.
struct RunningPreset {
    stats: Arc<GrpcStats>,
}

impl RunningIngest for RunningPreset {
    fn stats(&self) -> Arc<GrpcStats> {
        self.stats.clone()
    }

    fn finish(
        self: Box<Self>,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<Option<LineStats>, String>> {
        async move {
            shutdown.wait().await;
            Ok(None)
        }
        .boxed()
    }

    fn abort(self: Box<Self>) -> BoxFuture<'static, ()> {
        futures::future::ready(()).boxed()
    }
}
