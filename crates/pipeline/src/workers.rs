//! The worker threads that run the stage graph: one [`Pipeline`] per worker, fed through its
//! own bounded queue (see [`crate::shard`]), plus what the workers report together (metrics and
//! the run summary).

use crate::config::Config;
use crate::encode::PromEncoder;
use crate::runtime::{Pipeline, PipelineStats};
use crate::write::DeliveryStats;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// A pipeline worker: its graph, its queue, and the dynamic-configuration updates it applies
/// between two batches.
pub struct Worker {
    /// The graph this worker runs.
    pub pipeline: Pipeline,
    /// Its input queue.
    pub queue: tokio::sync::mpsc::Receiver<crate::shard::Batch>,
    /// New dynamic documents, applied between batches.
    pub changes: std::sync::mpsc::Receiver<String>,
}

impl Worker {
    /// Runs until the queue closes; returns the pipeline (to flush it and read its counters).
    pub fn run(mut self, index: usize) -> Pipeline {
        while let Some(batch) = self.next_batch() {
            while let Ok(text) = self.changes.try_recv() {
                self.reload(index, &text);
            }
            let (batch, handled) = batch.untrack();
            self.pipeline.process(batch.into_records());
            // The source (Kafka) may now commit what this batch came from.
            drop(handled);
        }
        self.pipeline
    }

    /// The next batch, or `None` when the queue closed. While the queue stays empty, stages
    /// with timers (conversation tracking) are ticked every `tick_interval`, so what falls due
    /// (ended conversations, heartbeats) goes out without waiting for the next flow.
    fn next_batch(&mut self) -> Option<crate::shard::Batch> {
        loop {
            let Some(every) = self.pipeline.tick_interval() else {
                return self.queue.blocking_recv();
            };
            let runtime = self.pipeline.runtime().clone();
            // The timer is created inside `block_on`, where the runtime's timer driver is
            // reachable (a worker is a plain thread, outside any runtime context).
            let queue = &mut self.queue;
            match runtime.block_on(async { tokio::time::timeout(every, queue.recv()).await }) {
                Ok(batch) => return batch,
                Err(_) => self.pipeline.tick(),
            }
        }
    }

    fn reload(&mut self, index: usize, text: &str) {
        let result = Config::parse(text)
            .map_err(|e| e.to_string())
            .and_then(|d| self.pipeline.reload(&d).map_err(|e| e.to_string()));
        match result {
            // Every worker reloads; one line in the log is enough.
            Ok(stages) if index == 0 => {
                tracing::info!("dynamic configuration reloaded: {}", stages.join(", "));
            }
            Ok(_) => {}
            Err(err) if index == 0 => tracing::warn!(
                %err,
                "dynamic configuration refused, keeping the running stages"
            ),
            Err(_) => {}
        }
    }
}

/// What every worker exposes for `/metrics` and the summary, gathered once after the build.
#[derive(Clone, Default)]
pub struct WorkerReports {
    /// `prom` stage name → each worker's encoder.
    pub encoders: BTreeMap<String, Vec<Arc<Mutex<PromEncoder>>>>,
    /// Delivering writer stage name (Loki, IPFIX, Kafka, OpenTelemetry) → each worker's
    /// delivery counters.
    pub delivery: BTreeMap<String, Vec<Arc<DeliveryStats>>>,
}

impl WorkerReports {
    /// Gathers the encoders and delivery counters of `pipelines`.
    pub fn of(pipelines: &[&Pipeline]) -> Self {
        let mut out = Self::default();
        for p in pipelines {
            for (stage, e) in p.prom_encoders() {
                out.encoders
                    .entry(stage.clone())
                    .or_default()
                    .push(e.clone());
            }
            for (stage, s) in p.delivery_stats() {
                out.delivery
                    .entry(stage.clone())
                    .or_default()
                    .push(s.clone());
            }
        }
        out
    }

    /// The encoders' exposition, merged across workers (counters and histograms summed, gauges
    /// the most recent value); expired series are dropped first.
    pub fn render_encoders(&self) -> String {
        let now = std::time::Instant::now();
        let mut text = String::new();
        for encoders in self.encoders.values() {
            let mut guards = Vec::with_capacity(encoders.len());
            for e in encoders {
                match e.lock() {
                    Ok(mut g) => {
                        g.expire(now);
                        guards.push(g);
                    }
                    Err(p) => guards.push(p.into_inner()),
                }
            }
            let refs: Vec<&PromEncoder> = guards.iter().map(|g| &**g).collect();
            text.push_str(&PromEncoder::render_merged(&refs));
        }
        text
    }

    /// The Loki writers' counters, summed per stage across workers.
    pub fn delivery_totals(&self) -> BTreeMap<String, DeliveryTotals> {
        self.delivery
            .iter()
            .map(|(stage, list)| {
                let mut t = DeliveryTotals::default();
                for s in list {
                    t.sink = s.sink;
                    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
                    t.written += load(&s.written);
                    t.dropped_buffer_full += load(&s.dropped_buffer_full);
                    t.dropped_after_retries += load(&s.dropped_after_retries);
                    t.failed_attempts += load(&s.failed_attempts);
                    t.long_label_values += load(&s.long_label_values);
                }
                (stage.clone(), t)
            })
            .collect()
    }
}

impl std::fmt::Debug for WorkerReports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerReports")
            .field("encoders", &self.encoders.keys().collect::<Vec<_>>())
            .field("delivery", &self.delivery.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One delivering writer stage's counters summed over the workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryTotals {
    /// The writer type (`loki`, `ipfix`).
    pub sink: &'static str,
    /// Entries Loki accepted.
    pub written: u64,
    /// Entries dropped because the writer's buffer was full.
    pub dropped_buffer_full: u64,
    /// Entries dropped after the last retry.
    pub dropped_after_retries: u64,
    /// Push attempts that failed.
    pub failed_attempts: u64,
    /// Label values kept in the line because they were too long.
    pub long_label_values: u64,
}

/// The end-of-run summary over every worker, taken after the writers flushed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Summed pipeline counters.
    pub pipeline: PipelineStats,
    /// Entries Loki accepted.
    pub loki_written: u64,
    /// Entries dropped for Loki.
    pub loki_dropped: u64,
    /// Records exporters (IPFIX) delivered.
    pub exported: u64,
    /// Records exporters dropped (queue full, transport failures).
    pub export_dropped: u64,
}

impl Summary {
    /// Flushes and drops `pipelines` (Loki writers push what they hold), then sums.
    pub fn finish(pipelines: Vec<Pipeline>) -> Self {
        let reports = WorkerReports::of(&pipelines.iter().collect::<Vec<_>>());
        let mut pipeline = PipelineStats::default();
        for p in &pipelines {
            let s = p.stats();
            pipeline.ingested += s.ingested;
            pipeline.filtered += s.filtered;
            pipeline.written += s.written;
            pipeline.write_errors += s.write_errors;
        }
        drop(pipelines);
        let mut out = Self {
            pipeline,
            ..Self::default()
        };
        for t in reports.delivery_totals().values() {
            if t.sink == "loki" {
                out.loki_written += t.written;
                out.loki_dropped += t.dropped_buffer_full + t.dropped_after_retries;
            } else {
                out.exported += t.written;
                out.export_dropped += t.dropped_buffer_full + t.dropped_after_retries;
            }
        }
        out
    }

    /// Records delivered by any writer (stdout / none writers, Loki and the exporters).
    pub fn written(&self) -> u64 {
        self.pipeline.written + self.loki_written + self.exported
    }
}
