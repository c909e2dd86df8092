//! `otlpmetrics`: the `prom` encoder's metrics (the same definitions, so
//! `netobserv_namespace_flows_total` means the same in Prometheus and in an OpenTelemetry
//! backend) pushed every `pushTimeInterval` as cumulative OTLP metrics: counters as monotonic
//! sums, gauges, histograms with explicit bounds. Series expire as in `prom`.
//!
//! Each worker's copy of the stage keeps its own series and pushes them under its own
//! `service.instance.id`: cumulative streams from two copies must not share an identity, and
//! the receiver adds them up as it does for several pipeline pods.

use super::attributes::string;
use super::{Export, Sender, Target, now_nanos};
use crate::config::{Encode, MetricKind, PromEncode, parse_go_duration};
use crate::encode::prom::{MetricSnapshot, PromEncoder, SeriesValue};
use crate::record::Record;
use crate::stage::{BuildError, StageContext, section};
use crate::write::DeliveryStats;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Push period when the stage sets none (upstream's).
pub const DEFAULT_PUSH: Duration = Duration::from_secs(20);

fn attributes(names: &[String], values: &[String]) -> Vec<KeyValue> {
    names
        .iter()
        .zip(values)
        .map(|(k, v)| string(k, v))
        .collect()
}

/// One metric of a snapshot as an OTLP metric, and its number of data points.
fn metric(m: &MetricSnapshot, start: u64, now: u64) -> (Metric, u64) {
    let numbers = || {
        m.series
            .iter()
            .filter_map(|s| match s.value {
                SeriesValue::Number(v) => Some(NumberDataPoint {
                    attributes: attributes(&m.label_names, &s.labels),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    value: Some(Number::AsDouble(v)),
                    ..NumberDataPoint::default()
                }),
                SeriesValue::Histogram { .. } => None,
            })
            .collect::<Vec<_>>()
    };
    let data = match m.kind {
        MetricKind::Counter => Data::Sum(Sum {
            data_points: numbers(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        MetricKind::Gauge => Data::Gauge(Gauge {
            data_points: numbers(),
        }),
        MetricKind::Histogram | MetricKind::AggHistogram => Data::Histogram(Histogram {
            data_points: m
                .series
                .iter()
                .filter_map(|s| match &s.value {
                    SeriesValue::Histogram { counts, sum, count } => {
                        let mut buckets = counts.clone();
                        buckets.push(count.saturating_sub(counts.iter().sum()));
                        Some(HistogramDataPoint {
                            attributes: attributes(&m.label_names, &s.labels),
                            start_time_unix_nano: start,
                            time_unix_nano: now,
                            count: *count,
                            sum: Some(*sum),
                            bucket_counts: buckets,
                            explicit_bounds: m.buckets.clone(),
                            ..HistogramDataPoint::default()
                        })
                    }
                    SeriesValue::Number(_) => None,
                })
                .collect(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
    };
    let points = m.series.len() as u64;
    let metric = Metric {
        name: m.name.clone(),
        description: m.help.clone(),
        data: Some(data),
        ..Metric::default()
    };
    (metric, points)
}

/// A snapshot as one export request (`None` when it has no series).
pub fn request(
    snapshot: &[MetricSnapshot],
    instance: &str,
    start: u64,
    now: u64,
) -> Option<(ExportMetricsServiceRequest, u64)> {
    let mut points = 0;
    let metrics: Vec<Metric> = snapshot
        .iter()
        .filter(|m| !m.series.is_empty())
        .map(|m| {
            let (metric, n) = metric(m, start, now);
            points += n;
            metric
        })
        .collect();
    if metrics.is_empty() {
        return None;
    }
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    string("service.name", super::logs::SERVICE_NAME),
                    string("service.instance.id", instance),
                ],
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: super::logs::SCOPE.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..InstrumentationScope::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    };
    Some((request, points))
}

/// Distinguishes the stage copies of this process (and processes, by pid).
fn instance_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "pipeline".to_string());
    format!(
        "{host}/{}/{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An `otlpmetrics` stage: the worker updates the metrics, a task pushes them.
pub struct OtlpMetricsStage {
    encoder: Arc<Mutex<PromEncoder>>,
    stats: Arc<DeliveryStats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pusher: Option<(tokio::task::JoinHandle<Arc<Sender>>, tokio::runtime::Handle)>,
}

impl OtlpMetricsStage {
    /// Pushes `encoder`'s metrics to `target` every `interval` from a task on `runtime`.
    pub fn start(
        encoder: PromEncoder,
        target: Target,
        interval: Duration,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let encoder = Arc::new(Mutex::new(encoder));
        let sender = Arc::new(Sender::start(target, runtime));
        let stats = sender.stats();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let pusher = runtime.spawn(push_loop(encoder.clone(), sender, interval, stopped));
        Self {
            encoder,
            stats,
            stop: Some(stop),
            pusher: Some((pusher, runtime.clone())),
        }
    }
}

/// Pushes every `interval`, and once more when stopped; returns the sender so that the stage
/// drops it (waiting for the last sends) outside the runtime.
async fn push_loop(
    encoder: Arc<Mutex<PromEncoder>>,
    sender: Arc<Sender>,
    interval: Duration,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) -> Arc<Sender> {
    let instance = instance_id();
    let start = now_nanos();
    let push = || {
        let snapshot = match encoder.lock() {
            Ok(mut e) => {
                e.expire(std::time::Instant::now());
                e.snapshot()
            }
            Err(_) => return,
        };
        if let Some((request, points)) = request(&snapshot, &instance, start, now_nanos()) {
            sender.send(Export::Metrics(request, points));
        }
    };
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => push(),
            _ = &mut stopped => {
                push();
                return sender;
            }
        }
    }
}

impl crate::encode::Encoder for OtlpMetricsStage {
    fn encode(&mut self, batch: &[Record]) {
        if let Ok(mut e) = self.encoder.lock() {
            e.encode_batch(batch);
        }
    }

    fn delivery(&self) -> Option<Arc<DeliveryStats>> {
        Some(self.stats.clone())
    }
}

impl Drop for OtlpMetricsStage {
    /// A last push of what the worker counted, then the sender's drain.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some((task, runtime)) = self.pusher.take() {
            let sender = std::thread::scope(|s| {
                s.spawn(|| runtime.block_on(task))
                    .join()
                    .ok()
                    .and_then(Result::ok)
            });
            drop(sender);
        }
    }
}

/// Builder of `otlpmetrics`.
pub fn build(
    encode: &Encode,
    ctx: &mut StageContext<'_>,
) -> Result<Box<dyn crate::encode::Encoder>, BuildError> {
    let params = section(encode.otlpmetrics.as_ref(), "otlpmetrics")?;
    let target = Target::from_params(&params.otlp_connection_info)?;
    let interval = match &params.push_time_interval {
        Some(t) => parse_go_duration(t)
            .map_err(|e| BuildError::Invalid(format!("otlpmetrics.pushTimeInterval: {e}")))?,
        None => DEFAULT_PUSH,
    }
    .max(Duration::from_millis(100));
    let encoder = PromEncoder::new(&PromEncode {
        prefix: params.prefix.clone(),
        expiry_time: params.expiry_time.clone(),
        metrics: params.metrics.clone(),
        ..PromEncode::default()
    })?;
    Ok(Box::new(OtlpMetricsStage::start(
        encoder,
        target,
        interval,
        ctx.shared.runtime(),
    )))
}
