//! Per-stage operational metrics (upstream's `stage_duration_ms` histogram and record counts),
//! shared between the worker thread that runs the stages and the `/metrics` endpoint.
//!
//! Updated once per stage per batch (two clock reads and a few relaxed atomic adds per batch of
//! up to a thousand records), so they cost nothing measurable on the per-flow path.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (ms) of the `stage_duration_ms` buckets.
pub const DURATION_BUCKETS_MS: [f64; 9] = [0.1, 0.5, 1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0];

/// Counters of one stage.
#[derive(Debug, Default)]
pub struct StageCounters {
    /// Batches the stage handled.
    pub batches: AtomicU64,
    /// Records that entered the stage.
    pub records_in: AtomicU64,
    /// Records the stage passed on (or wrote, for terminal stages).
    pub records_out: AtomicU64,
    /// Time spent in the stage's own work, in nanoseconds.
    pub duration_ns: AtomicU64,
    /// Per-bucket batch counts of [`DURATION_BUCKETS_MS`] (not cumulative), plus +Inf.
    buckets: [AtomicU64; DURATION_BUCKETS_MS.len() + 1],
}

impl StageCounters {
    /// Batches per duration bucket (not cumulative), the last one past the highest bound.
    pub fn bucket_counts(&self) -> [u64; DURATION_BUCKETS_MS.len() + 1] {
        std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed))
    }
}

impl StageCounters {
    /// Records one batch.
    pub fn observe(&self, records_in: usize, records_out: usize, took: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.records_in
            .fetch_add(records_in as u64, Ordering::Relaxed);
        self.records_out
            .fetch_add(records_out as u64, Ordering::Relaxed);
        let ns = took.as_nanos().min(u128::from(u64::MAX)) as u64;
        self.duration_ns.fetch_add(ns, Ordering::Relaxed);
        let ms = ns as f64 / 1e6;
        let i = DURATION_BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(DURATION_BUCKETS_MS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters of every stage, by name.
#[derive(Debug, Default)]
pub struct StageMetrics {
    stages: BTreeMap<String, Arc<StageCounters>>,
}

impl StageMetrics {
    /// Counters for these stages.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a String>) -> Self {
        Self {
            stages: names
                .into_iter()
                .map(|n| (n.clone(), Arc::new(StageCounters::default())))
                .collect(),
        }
    }

    /// The counters of `stage`.
    pub fn get(&self, stage: &str) -> Option<&Arc<StageCounters>> {
        self.stages.get(stage)
    }

    /// Every stage's counters, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Arc<StageCounters>)> {
        self.stages.iter()
    }
}
