//! Per-stage operational metrics (upstream's `stage_duration_ms` histogram and record counts),
//! shared between the worker thread that runs the stages and the `/metrics` endpoint.
//!
//! Updated once per stage per batch (two clock reads and a few relaxed atomic adds per batch of
//! up to a thousand records), so they cost nothing measurable on the per-flow path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
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

    /// Prometheus text: `<prefix>stage_duration_ms` (histogram) and
    /// `<prefix>stage_records_{in,out}_total` (counters), labelled by stage.
    pub fn render(&self, prefix: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {prefix}stage_duration_ms Time a stage spends on one batch\n# TYPE {prefix}stage_duration_ms histogram"
        );
        for (stage, c) in &self.stages {
            let mut cumulative = 0;
            for (i, bound) in DURATION_BUCKETS_MS.iter().enumerate() {
                cumulative += c.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{prefix}stage_duration_ms_bucket{{stage=\"{stage}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = c.batches.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{prefix}stage_duration_ms_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "{prefix}stage_duration_ms_sum{{stage=\"{stage}\"}} {}",
                c.duration_ns.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "{prefix}stage_duration_ms_count{{stage=\"{stage}\"}} {count}"
            );
        }
        for (name, help, pick) in [
            ("stage_records_in_total", "Records that entered a stage", 0),
            (
                "stage_records_out_total",
                "Records a stage passed on or wrote",
                1,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {prefix}{name} {help}\n# TYPE {prefix}{name} counter"
            );
            for (stage, c) in &self.stages {
                let v = if pick == 0 {
                    c.records_in.load(Ordering::Relaxed)
                } else {
                    c.records_out.load(Ordering::Relaxed)
                };
                let _ = writeln!(out, "{prefix}{name}{{stage=\"{stage}\"}} {v}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let names = ["a".to_string()];
        let m = StageMetrics::new(names.iter());
        let c = m.get("a").expect("stage");
        c.observe(10, 8, Duration::from_micros(50));
        c.observe(10, 10, Duration::from_millis(3));
        c.observe(5, 0, Duration::from_secs(2));
        let text = m.render("netobserv_");
        for line in [
            r#"netobserv_stage_duration_ms_bucket{stage="a",le="0.1"} 1"#,
            r#"netobserv_stage_duration_ms_bucket{stage="a",le="5"} 2"#,
            r#"netobserv_stage_duration_ms_bucket{stage="a",le="1000"} 2"#,
            r#"netobserv_stage_duration_ms_bucket{stage="a",le="+Inf"} 3"#,
            r#"netobserv_stage_duration_ms_count{stage="a"} 3"#,
            r#"netobserv_stage_records_in_total{stage="a"} 25"#,
            r#"netobserv_stage_records_out_total{stage="a"} 18"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
