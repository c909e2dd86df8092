//! Export of captured packets to a `pbpacket.Collector`: a bounded queue the drain task fills
//! (when it is full the packet is dropped and counted, never silently), and a task that sends
//! what waits in batches (`SendBatch`, a netobserv-rs addition to the contract), several calls in
//! flight over one HTTP/2 connection (TLS like the flow exporter), retrying while the collector
//! is unreachable. A collector that does not know `SendBatch` (upstream's answers UNIMPLEMENTED)
//! gets one `Send` per packet, upstream's call, from then on; `PCA_EXPORT_BATCH=0` asks for that
//! from the start.
//!
//! One call per packet costs an HTTP/2 stream each (headers, data and trailers both ways): about
//! 20 µs of agent CPU per packet here, which capped the capture near 40,000 packets/s on two
//! cores; a batch shares that cost among its packets.

use crate::exporter::{ExporterConfig, ExporterError};
use crate::metrics::Metrics;
use futures::StreamExt;
use pbflow::pbpacket::collector_client::CollectorClient;
use pbflow::pbpacket::{Packet, Packets};
use prometheus_client::metrics::gauge::Gauge;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tonic::transport::Channel;

/// Bytes of packet data a batch carries at most, well under the 4 MiB a gRPC server accepts per
/// message by default.
const BATCH_BYTES: usize = 1 << 20;

/// Producer side of the packet queue.
pub struct PacketQueue {
    tx: mpsc::Sender<Packet>,
    len: Gauge,
}

impl PacketQueue {
    /// Queues a packet; false when the queue is full or closed (the caller counts the loss).
    pub fn push(&self, p: Packet) -> bool {
        if self.tx.try_send(p).is_ok() {
            self.len.inc();
            true
        } else {
            false
        }
    }
}

/// Where and how packets are sent.
#[derive(Debug, Clone)]
pub struct PacketExportConfig {
    /// Collector endpoint, TLS and call timeout (the flow exporter's settings).
    pub target: ExporterConfig,
    /// Packets waiting at most (`PCA_EXPORT_QUEUE`).
    pub queue: usize,
    /// Calls in flight at most (`PCA_EXPORT_IN_FLIGHT`).
    pub in_flight: usize,
    /// Packets per `SendBatch` call at most (`PCA_EXPORT_BATCH`); 0: one `Send` per packet.
    pub batch: usize,
    /// Bytes per packet at most (`PCA_SNAPLEN`), to keep a batch under [`BATCH_BYTES`].
    pub snaplen: u32,
}

impl PacketExportConfig {
    /// Packets one call carries at most.
    fn per_call(&self) -> usize {
        if self.batch == 0 {
            return 1;
        }
        let fit = BATCH_BYTES / (self.snaplen as usize + 64);
        self.batch.min(fit).max(1)
    }
}

/// What the sending task shares between calls.
struct Sender {
    client: CollectorClient<Channel>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
    /// Set once the collector refused `SendBatch` (or when batches are off).
    unary: AtomicBool,
    backoff: (Duration, Duration),
}

/// How a call ended.
enum Outcome {
    Sent,
    /// The collector does not implement the method.
    Unimplemented,
    /// Failed after `stop`: given up.
    GaveUp,
}

/// Starts the sending task. It ends once the queue is dropped and emptied; after `stop` turns
/// true, a packet whose call fails is counted as lost instead of retried.
pub fn start(
    cfg: PacketExportConfig,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<(PacketQueue, tokio::task::JoinHandle<()>), ExporterError> {
    let client = CollectorClient::new(crate::exporter::channel(&cfg.target)?);
    let (tx, rx) = mpsc::channel(cfg.queue.max(1));
    let len = metrics
        .buffer_size
        .get_or_create(&vec![("name".to_string(), "packet-queue".to_string())])
        .clone();
    let queue = PacketQueue {
        tx,
        len: len.clone(),
    };
    let sender = Arc::new(Sender {
        client,
        metrics,
        stop,
        unary: AtomicBool::new(cfg.batch == 0),
        backoff: (cfg.target.min_backoff, cfg.target.max_backoff),
    });
    let task = tokio::spawn(run(cfg, sender, rx, len));
    Ok((queue, task))
}

async fn run(cfg: PacketExportConfig, s: Arc<Sender>, rx: mpsc::Receiver<Packet>, len: Gauge) {
    let per_call = cfg.per_call();
    // Whatever waits when a call can start goes in it, up to `per_call` packets.
    futures::stream::unfold(rx, move |mut rx| async move {
        let mut batch = Vec::with_capacity(per_call);
        (rx.recv_many(&mut batch, per_call).await > 0).then_some((batch, rx))
    })
    .map(|batch| {
        len.dec_by(batch.len() as i64);
        let s = s.clone();
        async move { s.send(batch).await }
    })
    .buffer_unordered(cfg.in_flight.max(1))
    .for_each(|()| async {})
    .await;
}

impl Sender {
    /// Sends `batch` with one `SendBatch` call, or one `Send` per packet when the collector does
    /// not know batches.
    async fn send(&self, batch: Vec<Packet>) {
        let n = batch.len() as u64;
        if !self.unary.load(Ordering::Relaxed) {
            let outcome = self
                .call(|mut c| {
                    let req = Packets {
                        packets: batch.clone(),
                    };
                    async move { c.send_batch(req).await.map(|_| ()) }
                })
                .await;
            match outcome {
                Outcome::Sent => {
                    self.metrics.exported_packets.inc_by(n);
                    return;
                }
                Outcome::GaveUp => {
                    self.lost(n);
                    return;
                }
                Outcome::Unimplemented => {
                    if !self.unary.swap(true, Ordering::Relaxed) {
                        tracing::info!(
                            "the collector does not implement pbpacket.Collector/SendBatch \
                             (an upstream collector): one Send per packet from now on"
                        );
                    }
                }
            }
        }
        for p in batch {
            let outcome = self
                .call(|mut c| {
                    let p = p.clone();
                    async move { c.send(p).await.map(|_| ()) }
                })
                .await;
            match outcome {
                Outcome::Sent => {
                    self.metrics.exported_packets.inc();
                }
                Outcome::GaveUp | Outcome::Unimplemented => self.lost(1),
            }
        }
    }

    fn lost(&self, n: u64) {
        self.metrics
            .report_packet_loss(&crate::losses::PCA_EXPORT_SHUTDOWN, n, "");
    }

    /// Runs `call` until the collector accepts it, answers UNIMPLEMENTED, or fails after
    /// `stop`; waits with exponential backoff between attempts.
    async fn call<F, Fut>(&self, mut call: F) -> Outcome
    where
        F: FnMut(CollectorClient<Channel>) -> Fut,
        Fut: Future<Output = Result<(), tonic::Status>>,
    {
        let (min_backoff, max_backoff) = self.backoff;
        let mut backoff = min_backoff;
        let mut stop = self.stop.clone();
        loop {
            match call(self.client.clone()).await {
                Ok(()) => return Outcome::Sent,
                Err(status) if status.code() == tonic::Code::Unimplemented => {
                    return Outcome::Unimplemented;
                }
                Err(status) => {
                    self.metrics.export_errors.inc();
                    tracing::debug!(error = %status, "sending packets to the collector");
                    if *stop.borrow() {
                        return Outcome::GaveUp;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        // A dropped sender (the agent gone without a word) counts as stop.
                        res = stop.changed() => if res.is_err() {
                            return Outcome::GaveUp;
                        }
                    }
                    backoff = (backoff * 2).min(max_backoff);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_under_a_mebibyte() {
        let cfg = |batch, snaplen| PacketExportConfig {
            target: ExporterConfig::new("h", 1, 1, 1),
            queue: 1,
            in_flight: 1,
            batch,
            snaplen,
        };
        assert_eq!(cfg(0, 256).per_call(), 1, "batches off");
        assert_eq!(cfg(1000, 256).per_call(), 1000);
        assert_eq!(cfg(1000, 65_536).per_call(), 15);
        assert_eq!(cfg(1000, 1 << 20).per_call(), 1, "never 0");
    }
}
