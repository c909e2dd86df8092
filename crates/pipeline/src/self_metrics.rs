//! The pipeline's own metrics (ingest, stages, writers), exposed through `prometheus-client`.
//!
//! The hot paths keep updating plain atomics (one relaxed add per batch); collectors registered
//! here read them at scrape time, summing the workers' copies. Names are upstream's, with the
//! configured prefix (`metricsSettings.prefix`, `netobserv_` by default). Upstream's counters
//! without a `_total` suffix (`ingest_flows_processed`, `records_written`, `ingest_errors`...) keep
//! their names, since the operator's alerts and dashboards query them: they are written as
//! counters in the Prometheus text format, where the suffix is not required.

use crate::conntrack_metrics::ConntrackRegistry;
use crate::conntrack_metrics::{CLASSIFICATIONS, RECORD_TYPES, TCP_ACTIONS};
use crate::ingest::GrpcStats;
use crate::ingest::grpc::error_type;
use crate::shard::QueueGauge;
use crate::stage_metrics::{DURATION_BUCKETS_MS, StageMetrics};
use crate::workers::WorkerReports;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The registry of the process's own metrics; collectors are added as the parts they read start.
#[derive(Clone)]
pub struct SelfMetrics {
    prefix: String,
    registry: Arc<RwLock<Registry>>,
}

impl fmt::Debug for SelfMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfMetrics")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl SelfMetrics {
    /// An empty registry whose metric names start with `prefix`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            registry: Arc::new(RwLock::new(Registry::default())),
        }
    }

    fn add(&self, collector: impl Collector) {
        let mut registry = self.registry.write().unwrap_or_else(|p| p.into_inner());
        registry.register_collector(Box::new(collector));
    }

    /// Adds the counters of ingest stage `stage`, and the gauge of its worker queues.
    pub fn add_ingest(
        &self,
        stage: &str,
        stats: Arc<GrpcStats>,
        queues: QueueGauge,
        synthetic: bool,
    ) {
        self.add(IngestCollector {
            prefix: self.prefix.clone(),
            stage: stage.to_string(),
            stats,
            queues,
            synthetic,
        });
    }

    /// Adds the per-stage counters and the writers' counters of the workers' graphs.
    pub fn add_graph(&self, stages: Arc<StageMetrics>, reports: WorkerReports) {
        self.add(GraphCollector {
            prefix: self.prefix.clone(),
            stages,
            reports,
        });
    }

    /// Adds the `conntrack_*` metrics of the graph's conversation-tracking stages (nothing is
    /// written while the graph has none).
    pub fn add_conntrack(&self, stages: ConntrackRegistry) {
        self.add(ConntrackCollector {
            prefix: self.prefix.clone(),
            stages,
        });
    }

    /// The exposition (Prometheus text format, no `# EOF`, so it can be followed by more).
    pub fn render(&self) -> String {
        let registry = self.registry.read().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        if let Err(err) = prometheus_client::encoding::text::encode_registry(&mut out, &registry) {
            tracing::error!(%err, "cannot encode the pipeline's metrics");
        }
        out
    }
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Writes one family under `name` as given: gauges, and upstream's counters whose samples have
/// no `_total` suffix.
fn family<V: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: &[(Vec<(&str, &str)>, V)],
) -> fmt::Result {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        metric.encode_family(labels)?.encode_gauge(value)?;
    }
    Ok(())
}

/// A counter family whose samples end in `_total`, declared under that same name, as the
/// Prometheus text format (0.0.4, what `/metrics` serves) and upstream's Go client write it:
/// `# TYPE x_total counter` then `x_total{...} v`.
fn counter_total(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: &[(Vec<(&str, &str)>, u64)],
) -> fmt::Result {
    family(
        encoder,
        &format!("{name}_total"),
        help,
        MetricType::Counter,
        samples,
    )
}

/// Ingest counters, read from the ingest's atomics.
#[derive(Debug)]
struct IngestCollector {
    prefix: String,
    stage: String,
    stats: Arc<GrpcStats>,
    queues: QueueGauge,
    synthetic: bool,
}

impl Collector for IngestCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let p = &self.prefix;
        let stage = vec![("stage", self.stage.as_str())];
        let s = &self.stats;
        for (name, help, value) in [
            (
                "ingest_flows_processed",
                "Flows received and queued for processing.",
                load(&s.flows),
            ),
            (
                "ingest_batches_processed",
                "Calls (batches) received and queued.",
                load(&s.batches),
            ),
            (
                "ingest_flows_refused",
                "Flows refused because the pipeline queues stayed full until the deadline.",
                load(&s.refused_flows),
            ),
            (
                "ingest_backpressure_waits",
                "Calls that waited for room in the pipeline queues.",
                load(&s.waited_batches),
            ),
        ] {
            family(
                &mut encoder,
                &format!("{p}{name}"),
                help,
                MetricType::Counter,
                &[(stage.clone(), value)],
            )?;
        }
        family(
            &mut encoder,
            &format!("{p}ingest_backpressure_wait_seconds"),
            "Time calls spent waiting for room in the pipeline queues.",
            MetricType::Counter,
            &[(stage.clone(), load(&s.wait_us) as f64 / 1e6)],
        )?;
        let errors = s.errors();
        let samples: Vec<(Vec<(&str, &str)>, u64)> = errors
            .iter()
            .map(|(code, n)| {
                (
                    vec![
                        ("stage", self.stage.as_str()),
                        ("type", error_type(code)),
                        ("code", *code),
                    ],
                    *n,
                )
            })
            .collect();
        family(
            &mut encoder,
            &format!("{p}ingest_errors"),
            "Calls that failed, by gRPC status code.",
            MetricType::Counter,
            &samples,
        )?;
        if self.synthetic {
            family(
                &mut encoder,
                &format!("{p}ingest_synthetic_flows_processed"),
                "Flows the synthetic source generated.",
                MetricType::Counter,
                &[(Vec::new(), load(&s.flows))],
            )?;
        }
        family(
            &mut encoder,
            &format!("{p}stage_in_queue_size"),
            "Batches waiting in the worker queues.",
            MetricType::Gauge,
            &[(stage, self.queues.queued() as u64)],
        )
    }
}

/// Per-stage and writer counters of the workers' graphs.
#[derive(Debug)]
struct GraphCollector {
    prefix: String,
    stages: Arc<StageMetrics>,
    reports: WorkerReports,
}

impl Collector for GraphCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let p = &self.prefix;
        self.encode_stages(&mut encoder, p)?;
        let all = self.reports.delivery_totals();
        if all.is_empty() {
            return Ok(());
        }
        let written: Vec<(Vec<(&str, &str)>, u64)> = all
            .iter()
            .map(|(stage, t)| (vec![("stage", stage.as_str())], t.written))
            .collect();
        family(
            &mut encoder,
            &format!("{p}records_written"),
            "Records a writer stage delivered.",
            MetricType::Counter,
            &written,
        )?;
        let (loki, exporters): (Vec<_>, Vec<_>) = all.iter().partition(|(_, t)| t.sink == "loki");
        if !loki.is_empty() {
            encode_loki(&mut encoder, p, &loki)?;
        }
        if !exporters.is_empty() {
            encode_exporters(&mut encoder, p, &exporters)?;
        }
        Ok(())
    }
}

type Totals<'a> = [(&'a String, &'a crate::workers::DeliveryTotals)];

fn by_stage<'a>(
    totals: &Totals<'a>,
    pick: fn(&crate::workers::DeliveryTotals) -> u64,
) -> Vec<(Vec<(&'static str, &'a str)>, u64)> {
    totals
        .iter()
        .map(|(stage, t)| (vec![("stage", stage.as_str())], pick(t)))
        .collect()
}

/// Drops by reason; `failed` names the drops after the transport gave up.
fn dropped_by_reason<'a>(
    totals: &Totals<'a>,
    failed: &'static str,
) -> Vec<(Vec<(&'static str, &'a str)>, u64)> {
    let mut dropped = Vec::new();
    for (stage, t) in totals {
        dropped.push((
            vec![("stage", stage.as_str()), ("reason", "buffer_full")],
            t.dropped_buffer_full,
        ));
        dropped.push((
            vec![("stage", stage.as_str()), ("reason", failed)],
            t.dropped_after_retries,
        ));
    }
    dropped
}

/// Loki writers' counters under upstream's names.
fn encode_loki(encoder: &mut DescriptorEncoder, p: &str, totals: &Totals<'_>) -> fmt::Result {
    counter_total(
        encoder,
        &format!("{p}loki_sent_entries"),
        "Entries Loki accepted.",
        &by_stage(totals, |t| t.written),
    )?;
    counter_total(
        encoder,
        &format!("{p}loki_dropped_entries"),
        "Entries dropped before reaching Loki, by reason.",
        &dropped_by_reason(totals, "retries_exhausted"),
    )?;
    counter_total(
        encoder,
        &format!("{p}loki_failed_pushes"),
        "Push attempts Loki refused or that could not reach it (each retry counts).",
        &by_stage(totals, |t| t.failed_attempts),
    )?;
    counter_total(
        encoder,
        &format!("{p}loki_label_values_too_long"),
        "Label values too long to be a Loki label, kept in the line instead.",
        &by_stage(totals, |t| t.long_label_values),
    )
}

/// Exporters' (IPFIX) counters: what went out, what was dropped and why, failed sends.
fn encode_exporters(encoder: &mut DescriptorEncoder, p: &str, totals: &Totals<'_>) -> fmt::Result {
    counter_total(
        encoder,
        &format!("{p}exporter_sent_records"),
        "Records an exporter sent.",
        &by_stage(totals, |t| t.written),
    )?;
    counter_total(
        encoder,
        &format!("{p}exporter_dropped_records"),
        "Records an exporter dropped: its queue was full (the collector too slow or away) or \
         the transport failed to send them.",
        &dropped_by_reason(totals, "send_failed"),
    )?;
    counter_total(
        encoder,
        &format!("{p}exporter_failed_sends"),
        "Sends or connection attempts to an exporter's collector that failed.",
        &by_stage(totals, |t| t.failed_attempts),
    )
}

impl GraphCollector {
    fn encode_stages(&self, encoder: &mut DescriptorEncoder, p: &str) -> fmt::Result {
        let name = format!("{p}stage_duration_ms");
        let mut metric = encoder.encode_descriptor(
            &name,
            "Time a stage spends on one batch",
            None,
            MetricType::Histogram,
        )?;
        for (stage, c) in self.stages.iter() {
            let mut buckets: Vec<(f64, u64)> = DURATION_BUCKETS_MS
                .iter()
                .copied()
                .zip(c.bucket_counts())
                .collect();
            buckets.push((f64::INFINITY, c.bucket_counts()[DURATION_BUCKETS_MS.len()]));
            let labels = [("stage", stage.as_str())];
            metric
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(
                    load(&c.duration_ns) as f64 / 1e6,
                    load(&c.batches),
                    &buckets,
                    None,
                )?;
        }
        for (name, help, records_in) in [
            ("stage_records_in", "Records that entered a stage", true),
            (
                "stage_records_out",
                "Records a stage passed on or wrote",
                false,
            ),
        ] {
            let samples: Vec<(Vec<(&str, &str)>, u64)> = self
                .stages
                .iter()
                .map(|(stage, c)| {
                    let v = if records_in {
                        load(&c.records_in)
                    } else {
                        load(&c.records_out)
                    };
                    (vec![("stage", stage.as_str())], v)
                })
                .collect();
            counter_total(encoder, &format!("{p}{name}"), help, &samples)?;
        }
        Ok(())
    }
}

/// Samples labelled by field name.
fn per_field(m: &BTreeMap<String, u64>) -> Vec<(Vec<(&str, &str)>, u64)> {
    m.iter()
        .map(|(f, n)| (vec![("field", f.as_str())], *n))
        .collect()
}

/// The conntrack stages' counters and connection gauge (reference §A.5 names).
#[derive(Debug)]
struct ConntrackCollector {
    prefix: String,
    stages: ConntrackRegistry,
}

impl Collector for ConntrackCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        if self.stages.is_empty() {
            return Ok(());
        }
        let t = self.stages.totals();
        let p = &self.prefix;
        let by = |label: &'static str, names: &[&'static str], values: &[u64]| {
            names
                .iter()
                .zip(values)
                .map(|(n, v)| (vec![(label, *n)], *v))
                .collect::<Vec<(Vec<(&str, &str)>, u64)>>()
        };
        counter_total(
            &mut encoder,
            &format!("{p}conntrack_input_records"),
            "Input records of conversation tracking, by classification.",
            &by("classification", &CLASSIFICATIONS, &t.input),
        )?;
        counter_total(
            &mut encoder,
            &format!("{p}conntrack_output_records"),
            "Records conversation tracking emitted, by type.",
            &by("type", &RECORD_TYPES, &t.output),
        )?;
        counter_total(
            &mut encoder,
            &format!("{p}conntrack_tcp_flags"),
            "TCP flag actions of conversation tracking.",
            &by("action", &TCP_ACTIONS, &t.tcp_flags),
        )?;
        let memory: Vec<(Vec<(&str, &str)>, i64)> = t
            .memory
            .iter()
            .map(|((g, phase), n)| (vec![("group", g.as_str()), ("phase", *phase)], *n))
            .collect();
        family(
            &mut encoder,
            &format!("{p}conntrack_memory_connections"),
            "Connections conversation tracking holds, by scheduling group and phase.",
            MetricType::Gauge,
            &memory,
        )?;
        let ends: Vec<(Vec<(&str, &str)>, u64)> = t
            .ends
            .iter()
            .map(|((g, reason), n)| (vec![("group", g.as_str()), ("reason", *reason)], *n))
            .collect();
        counter_total(
            &mut encoder,
            &format!("{p}conntrack_end_connections"),
            "Connections ended, by scheduling group and reason.",
            &ends,
        )?;
        counter_total(
            &mut encoder,
            &format!("{p}conntrack_hash_errors"),
            "Input records whose connection key could not be computed, by missing field.",
            &per_field(&t.hash_errors),
        )?;
        counter_total(
            &mut encoder,
            &format!("{p}conntrack_aggregator_errors"),
            "Output field inputs missing or not numeric, by field.",
            &per_field(&t.aggregator_errors),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage_metrics::StageMetrics;
    use std::time::Duration;

    #[test]
    fn buckets_are_cumulative() {
        let names = ["a".to_string()];
        let m = Arc::new(StageMetrics::new(names.iter()));
        let c = m.get("a").expect("stage");
        c.observe(10, 8, Duration::from_micros(50));
        c.observe(10, 10, Duration::from_millis(3));
        c.observe(5, 0, Duration::from_secs(2));
        let metrics = SelfMetrics::new("netobserv_");
        metrics.add_graph(m, WorkerReports::default());
        let text = metrics.render();
        // prometheus-client writes bounds as floats (`5.0`) and `le` before the stage label: the
        // same samples.
        for line in [
            r#"netobserv_stage_duration_ms_bucket{le="0.1",stage="a"} 1"#,
            r#"netobserv_stage_duration_ms_bucket{le="5.0",stage="a"} 2"#,
            r#"netobserv_stage_duration_ms_bucket{le="1000.0",stage="a"} 2"#,
            r#"netobserv_stage_duration_ms_bucket{le="+Inf",stage="a"} 3"#,
            r#"netobserv_stage_duration_ms_count{stage="a"} 3"#,
            r#"netobserv_stage_records_in_total{stage="a"} 25"#,
            r#"netobserv_stage_records_out_total{stage="a"} 18"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }

    #[test]
    fn conntrack_metrics_use_the_reference_names() {
        use crate::extract::conntrack::Tallies;
        let stages = ConntrackRegistry::default();
        let metrics = SelfMetrics::new("netobserv_");
        metrics.add_conntrack(stages.clone());
        assert!(
            !metrics.render().contains("conntrack"),
            "nothing before a conntrack stage is built"
        );
        let mut t = Tallies {
            input: [0, 2, 1, 5],
            output: [5, 0, 3, 0],
            tcp_flags: [4, 1],
            ..Tallies::default()
        };
        t.hash_errors.insert("SrcPort".into(), 2);
        t.ends.insert(("default".into(), "FIN_flag"), 3);
        t.memory.insert(("default".into(), "active"), 2);
        stages.stage("extract_conntrack").flush(&mut t);
        let text = metrics.render();
        for line in [
            r#"netobserv_conntrack_input_records_total{classification="newConnection"} 5"#,
            r#"netobserv_conntrack_input_records_total{classification="rejected"} 2"#,
            r#"netobserv_conntrack_output_records_total{type="endConnection"} 3"#,
            r#"netobserv_conntrack_tcp_flags_total{action="swapAB"} 1"#,
            r#"netobserv_conntrack_memory_connections{group="default",phase="active"} 2"#,
            r#"netobserv_conntrack_end_connections_total{group="default",reason="FIN_flag"} 3"#,
            r#"netobserv_conntrack_hash_errors_total{field="SrcPort"} 2"#,
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
