//! `encode` stages: `prom` (metrics), `kafka`, `s3` and the OpenTelemetry exporters.

use crate::common::{ClientTls, Sasl, check_duration, is_zero, needs};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The encode types upstream has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodeKind {
    /// Prometheus metrics.
    #[default]
    Prom,
    /// JSON records to a Kafka topic.
    Kafka,
    /// Objects in an S3 bucket.
    S3,
    /// OpenTelemetry logs.
    Otlplogs,
    /// OpenTelemetry metrics.
    Otlpmetrics,
    /// OpenTelemetry traces.
    Otlptraces,
}

impl EncodeKind {
    /// The upstream type name.
    pub fn as_str(self) -> &'static str {
        match self {
            EncodeKind::Prom => "prom",
            EncodeKind::Kafka => "kafka",
            EncodeKind::S3 => "s3",
            EncodeKind::Otlplogs => "otlplogs",
            EncodeKind::Otlpmetrics => "otlpmetrics",
            EncodeKind::Otlptraces => "otlptraces",
        }
    }
}

/// An encode stage: its `type` and the sub-object that type reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encode {
    /// Which encoder runs.
    #[serde(rename = "type")]
    pub kind: EncodeKind,
    /// For `prom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prom: Option<PromEncode>,
    /// For `kafka`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<EncodeKafka>,
    /// For `s3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<EncodeS3>,
    /// For `otlplogs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlplogs: Option<EncodeOtlpLogs>,
    /// For `otlpmetrics`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlpmetrics: Option<EncodeOtlpMetrics>,
    /// For `otlptraces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlptraces: Option<EncodeOtlpTraces>,
}

impl Encode {
    /// A `prom` encoder.
    pub fn prom(prom: PromEncode) -> Self {
        Self {
            kind: EncodeKind::Prom,
            prom: Some(prom),
            ..Self::default()
        }
    }

    /// Checks that the sub-object `type` needs is there and well formed.
    pub fn check(&self) -> Result<(), String> {
        let kind = self.kind.as_str();
        match self.kind {
            EncodeKind::Prom => needs("encode", kind, self.prom.as_ref())?.check(),
            EncodeKind::Kafka => needs("encode", kind, self.kafka.as_ref()).map(|_| ()),
            EncodeKind::S3 => needs("encode", kind, self.s3.as_ref()).map(|_| ()),
            EncodeKind::Otlplogs => needs("encode", kind, self.otlplogs.as_ref()).map(|_| ()),
            EncodeKind::Otlpmetrics => {
                let m = needs("encode", kind, self.otlpmetrics.as_ref())?;
                check_duration(
                    "otlpmetrics.pushTimeInterval",
                    m.push_time_interval.as_deref(),
                )?;
                check_duration("otlpmetrics.expiryTime", m.expiry_time.as_deref())
            }
            EncodeKind::Otlptraces => needs("encode", kind, self.otlptraces.as_ref()).map(|_| ()),
        }
    }
}

/// `encode: {type: prom, prom: {...}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromEncode {
    /// Listen address of the metrics endpoint (empty: all interfaces).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Listen port; 0 means the shared metrics server of `metricsSettings`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub port: u16,
    /// TLS of the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::common::ServerTls>,
    /// Prepended to every metric name (NetObserv: `netobserv_`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// How long a series may go without updates before it is removed (Go duration, default 2m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    /// Upper bound on the number of series; 0 means unbounded. New series past it are dropped
    /// and counted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_metrics: usize,
    /// The metric definitions.
    #[serde(default)]
    pub metrics: Vec<MetricsItem>,
}

/// The Prometheus metric types the encoder produces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Sum of the value (or of 1 per record).
    #[default]
    Counter,
    /// Last value seen.
    Gauge,
    /// Distribution of the value.
    Histogram,
    /// Pre-aggregated histogram from an `aggregates` extract stage.
    AggHistogram,
}

/// One metric definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricsItem {
    /// Name without the prefix.
    pub name: String,
    /// The metric type.
    #[serde(rename = "type")]
    pub kind: MetricKind,
    /// HELP text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help: String,
    /// Records must pass all of these to count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<MetricsFilter>,
    /// Deprecated single-filter form, used when `filters` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<MetricsFilter>,
    /// Numeric field observed; empty counts records.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value_key: String,
    /// Fields that become labels (a flattened sub-field is written `Field>Key`).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Label renames: field -> label name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub remap: BTreeMap<String, String>,
    /// List-of-maps fields whose elements are observed one by one (e.g. `NetworkEvents`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flatten: Vec<String>,
    /// Histogram bucket bounds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<f64>,
    /// The observed value is divided by this (absent or 0 means 1). Kept as written, so an
    /// integer scale stays an integer in a rendered configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_scale: Option<serde_json::Number>,
}

impl MetricsItem {
    /// The divider of observed values (1 when unset or 0).
    pub fn scale(&self) -> f64 {
        match self
            .value_scale
            .as_ref()
            .and_then(serde_json::Number::as_f64)
        {
            Some(s) if s != 0.0 => s,
            _ => 1.0,
        }
    }
}

impl PromEncode {
    /// Checks the expiry and the metric definitions.
    pub fn check(&self) -> Result<(), String> {
        check_duration("prom.expiryTime", self.expiry_time.as_deref())?;
        for (i, m) in self.metrics.iter().enumerate() {
            let at = |e: String| format!("prom.metrics[{i}] `{}`: {e}", m.name);
            if m.name.is_empty() {
                return Err(format!("prom.metrics[{i}]: a metric has no name"));
            }
            if m.kind == MetricKind::AggHistogram && m.value_key.is_empty() {
                return Err(at("agg_histogram needs `valueKey`".into()));
            }
            for f in m.filters.iter().chain(&m.filter) {
                if matches!(
                    f.kind,
                    MetricsFilterKind::MatchRegex | MetricsFilterKind::NotMatchRegex
                ) {
                    flowdsl::Pattern::new(&f.value).map_err(|e| {
                        at(format!("filter on `{}`: regex `{}`: {e}", f.key, f.value))
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// How a metric filter compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsFilterKind {
    /// The field's text equals the value.
    #[default]
    #[serde(alias = "exact")]
    Equal,
    /// The field's text differs from the value (an absent field differs).
    #[serde(alias = "exact_not")]
    NotEqual,
    /// The field exists.
    Presence,
    /// The field does not exist.
    Absence,
    /// The field's text matches the regex.
    #[serde(alias = "regex")]
    MatchRegex,
    /// The field's text does not match the regex.
    #[serde(alias = "regex_not")]
    NotMatchRegex,
}

/// One metric filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFilter {
    /// The field (or `Field>Key` inside a flattened field).
    pub key: String,
    /// The compared value or regex.
    #[serde(default)]
    pub value: String,
    /// The comparison.
    #[serde(default, rename = "type")]
    pub kind: MetricsFilterKind,
}

/// Kafka partition balancers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum KafkaBalancer {
    /// Round robin.
    RoundRobin,
    /// Fewest bytes.
    LeastBytes,
    /// Hash of the key.
    Hash,
    /// CRC32 of the key.
    Crc32,
    /// Murmur2 of the key.
    Murmur2,
}

/// `kafka` encoder: JSON records to a topic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncodeKafka {
    /// Broker address.
    #[serde(default)]
    pub address: String,
    /// The topic.
    #[serde(default)]
    pub topic: String,
    /// Partition balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balancer: Option<KafkaBalancer>,
    /// Write timeout, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_timeout: Option<i64>,
    /// Read timeout, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_timeout: Option<i64>,
    /// Most bytes per request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_bytes: Option<i64>,
    /// Most messages buffered per partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i64>,
    /// Compression codec (none, gzip, snappy, lz4, zstd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// TLS towards the brokers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// SASL authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl: Option<Sasl>,
}

/// `s3` encoder: batches of records as objects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncodeS3 {
    /// Tenant written in the object path.
    #[serde(default)]
    pub account: String,
    /// Server address.
    #[serde(default)]
    pub endpoint: String,
    /// Access key.
    #[serde(default)]
    pub access_key_id: String,
    /// Secret key.
    #[serde(default)]
    pub secret_access_key: String,
    /// Bucket.
    #[serde(default)]
    pub bucket: String,
    /// Write timeout (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_timeout: Option<String>,
    /// Records per object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i64>,
    /// HTTPS.
    #[serde(default, skip_serializing_if = "crate::common::is_false")]
    pub secure: bool,
    /// Extra header fields of each object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub object_header_parameters: BTreeMap<String, serde_json::Value>,
}

/// Transport of an OpenTelemetry exporter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtlpProtocol {
    /// OTLP over gRPC.
    #[default]
    Grpc,
    /// OTLP over HTTP.
    Http,
}

/// Where an OpenTelemetry exporter sends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OtlpConnection {
    /// Receiver host.
    #[serde(default)]
    pub address: String,
    /// Receiver port.
    #[serde(default)]
    pub port: u16,
    /// gRPC or HTTP.
    #[serde(default)]
    pub connection_type: OtlpProtocol,
    /// Headers of every message.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// TLS towards the receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
}

/// `otlplogs`: records as OpenTelemetry log records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncodeOtlpLogs {
    /// The receiver.
    pub otlp_connection_info: OtlpConnection,
}

/// `otlpmetrics`: metrics (as `prom` defines them) pushed over OTLP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncodeOtlpMetrics {
    /// The receiver.
    pub otlp_connection_info: OtlpConnection,
    /// Prepended to every metric name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Push period (Go duration, default 20s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_time_interval: Option<String>,
    /// Series expiry (Go duration, default 2m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    /// The metric definitions.
    #[serde(default)]
    pub metrics: Vec<MetricsItem>,
}

/// `otlptraces`: records as OpenTelemetry spans.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncodeOtlpTraces {
    /// The receiver.
    pub otlp_connection_info: OtlpConnection,
    /// Fields that split a flow into child spans.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub span_splitter: Vec<String>,
}
