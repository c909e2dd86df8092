//! The bounded queue between a pipeline worker and an exporter's sending task (OTLP, Kafka, IPFIX).
//!
//! Sending never happens on the worker: it hands items over without waiting, and what the
//! queue cannot take is counted as dropped ([`DeliveryStats::dropped_buffer_full`]), so a slow
//! or absent receiver costs the Loki and metrics branches nothing. Dropping the sender closes
//! the queue and waits for the task to send what it holds (the task bounds each send itself).

use super::DeliveryStats;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// Something queued for sending and how many records it carries (what the counters count).
pub trait Counted: Send + 'static {
    /// Records (or data points) in this item.
    fn items(&self) -> u64;
}

/// The worker's end of one exporter's queue.
pub struct BackgroundSender<T: Counted> {
    tx: Option<mpsc::Sender<T>>,
    stats: Arc<DeliveryStats>,
    task: Option<(tokio::task::JoinHandle<()>, tokio::runtime::Handle)>,
}

impl<T: Counted> BackgroundSender<T> {
    /// Starts `run(queue, stats)` on `runtime` behind a queue of `capacity` items. `run` counts
    /// what it delivers and what it gives up on; this side counts what the queue refuses.
    pub fn start<F, Fut>(
        sink: &'static str,
        capacity: usize,
        runtime: &tokio::runtime::Handle,
        run: F,
    ) -> Self
    where
        F: FnOnce(mpsc::Receiver<T>, Arc<DeliveryStats>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(DeliveryStats {
            sink,
            ..DeliveryStats::default()
        });
        let task = runtime.spawn(run(rx, stats.clone()));
        Self {
            tx: Some(tx),
            stats,
            task: Some((task, runtime.clone())),
        }
    }

    /// Queues `item`, or counts its records as dropped when the queue is full.
    pub fn send(&self, item: T) {
        let n = item.items();
        let Some(tx) = &self.tx else { return };
        match tx.try_send(item) {
            Ok(()) => self.stats.queued.fetch_add(n, Ordering::Relaxed),
            Err(_) => self
                .stats
                .dropped_buffer_full
                .fetch_add(n, Ordering::Relaxed),
        };
    }

    /// The delivery counters.
    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.stats.clone()
    }
}

impl<T: Counted> Drop for BackgroundSender<T> {
    /// Waits for what is queued to be sent, from a short-lived thread so that this works from
    /// async and blocking callers alike.
    fn drop(&mut self) {
        self.tx.take();
        if let Some((task, runtime)) = self.task.take() {
            std::thread::scope(|s| {
                let _ = s.spawn(|| runtime.block_on(task)).join();
            });
        }
    }
}
