//! Parameters of the `prom` encoder (the other encoders are kept as raw JSON until they run).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `encode: {type: prom, prom: {...}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromEncode {
    /// Listen address of the metrics endpoint (empty: all interfaces).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Listen port; 0 means the shared metrics server of `metricsSettings`.
    #[serde(default)]
    pub port: u16,
    /// TLS of the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<PromTls>,
    /// Prepended to every metric name (NetObserv: `netobserv_`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// How long a series may go without updates before it is removed (Go duration, default 2m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    /// Upper bound on the number of series; 0 means unbounded. New series past it are dropped
    /// and counted.
    #[serde(default)]
    pub max_metrics: usize,
    /// The metric definitions.
    #[serde(default)]
    pub metrics: Vec<MetricsItem>,
}

/// Certificate and key of the metrics endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromTls {
    /// PEM certificate path.
    pub cert_path: String,
    /// PEM key path.
    pub key_path: String,
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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
    /// The observed value is divided by this (0 means 1).
    #[serde(default)]
    pub value_scale: f64,
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

/// Parses a Go duration string (`2m`, `1s`, `500ms`, `1h30m`, `1.5s`).
pub fn parse_go_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("`{text}` is not a duration (expected e.g. 30s, 2m, 500ms)");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * seconds;
        rest = tail;
    }
    Ok(std::time::Duration::from_secs_f64(total))
}
