//! Export of captured packets to a `pbpacket.Collector`: a bounded queue the drain task fills
//! (when it is full the packet is dropped and counted, never silently), and a task that sends
//! the packets, one `Send` call each as the contract has it, several in flight at once over one
//! HTTP/2 connection (TLS like the flow exporter), retrying while the collector is unreachable.

use crate::exporter::{ExporterConfig, ExporterError};
use crate::metrics::Metrics;
use futures::StreamExt;
use pbflow::pbpacket::Packet;
use pbflow::pbpacket::collector_client::CollectorClient;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tonic::transport::Channel;

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
    /// `Send` calls in flight at most (`PCA_EXPORT_IN_FLIGHT`).
    pub in_flight: usize,
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
    let task = tokio::spawn(run(cfg, client, rx, len, metrics, stop));
    Ok((queue, task))
}

async fn run(
    cfg: PacketExportConfig,
    client: CollectorClient<Channel>,
    mut rx: mpsc::Receiver<Packet>,
    len: Gauge,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    let backoff = (cfg.target.min_backoff, cfg.target.max_backoff);
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(|p| {
            len.dec();
            send_one(client.clone(), p, &metrics, stop.clone(), backoff)
        })
        .buffer_unordered(cfg.in_flight.max(1))
        .for_each(|()| async {})
        .await;
}

/// Sends one packet until the collector accepts it, or until a failure after `stop`.
async fn send_one(
    mut client: CollectorClient<Channel>,
    p: Packet,
    metrics: &Metrics,
    mut stop: watch::Receiver<bool>,
    (min_backoff, max_backoff): (Duration, Duration),
) {
    let mut backoff = min_backoff;
    loop {
        match client.send(p.clone()).await {
            Ok(_) => {
                metrics.exported_packets.inc();
                return;
            }
            Err(status) => {
                metrics.export_errors.inc();
                tracing::debug!(error = %status, "sending a packet to the collector");
                if *stop.borrow() {
                    metrics.report_packet_loss(&crate::losses::PCA_EXPORT_SHUTDOWN, 1, "");
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    res = stop.changed() => if res.is_err() {
                        // The agent is gone without a word: as at shutdown.
                        metrics.report_packet_loss(&crate::losses::PCA_EXPORT_SHUTDOWN, 1, "");
                        return;
                    }
                }
                backoff = (backoff * 2).min(max_backoff);
            }
        }
    }
}
