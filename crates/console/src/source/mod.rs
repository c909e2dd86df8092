//! The three data sources behind one trait: Loki ([`loki`]), Prometheus ([`prom`]) and the SQLite
//! flow store ([`store`]). Routes build a source-independent query, pick a source, and render the
//! answer the same way whichever answered.

pub mod loki;
pub mod prom;
pub mod store;

use crate::client::CallError;
use futures::future::BoxFuture;
use netobserv_flowstore::filter::Filters;
use netobserv_flowstore::query::{MetricFunction, MetricsQuery, RecordsQuery, Series, TimeRange};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Which source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Loki.
    Loki,
    /// Prometheus.
    Prom,
    /// The SQLite flow store.
    Store,
}

impl SourceKind {
    /// The name used in `dataSource` and in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Loki => "loki",
            SourceKind::Prom => "prom",
            SourceKind::Store => "store",
        }
    }
}

/// Why a source could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The request cannot be answered as asked (HTTP 400), with what to change.
    #[error("{0}")]
    BadRequest(String),
    /// This source cannot answer this query, but another might (used by `auto`).
    #[error("{0}")]
    NotHere(String),
    /// The service refused the credentials (HTTP 401/403): `auto` retries elsewhere.
    #[error("{0}")]
    Forbidden(String),
    /// The service is down or timed out (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// The service answered with an error (HTTP 502), with its message and a hint.
    #[error("{0}")]
    Upstream(String),
    /// Something failed here (HTTP 500).
    #[error("{0}")]
    Internal(String),
}

impl SourceError {
    /// Classifies a failed call to Loki or Prometheus, adding a hint for the known limits.
    pub fn from_call(e: CallError) -> Self {
        match &e {
            CallError::Unreachable { .. } => SourceError::Unavailable(e.to_string()),
            CallError::Status { status, body, .. } => {
                let hint = if body.contains("max entries limit") {
                    " (lower `limit` or narrow the time range)"
                } else if body.contains("maximum of series") || body.contains("max series") {
                    " (add filters, lower `limit` or narrow the time range; Prometheus answers topology without this limit when its metrics are enabled)"
                } else if body.contains("query time range exceeds") || body.contains("too many") {
                    " (narrow the time range)"
                } else {
                    ""
                };
                match status {
                    401 | 403 => SourceError::Forbidden(e.to_string()),
                    400 | 422 => SourceError::BadRequest(format!("{e}{hint}")),
                    _ => SourceError::Upstream(format!("{e}{hint}")),
                }
            }
            CallError::Setup(_) => SourceError::Internal(e.to_string()),
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            SourceError::BadRequest(_) | SourceError::NotHere(_) => 400,
            SourceError::Forbidden(_) => 403,
            SourceError::Unavailable(_) => 503,
            SourceError::Upstream(_) => 502,
            SourceError::Internal(_) => 500,
        }
    }
}

impl From<netobserv_flowstore::Error> for SourceError {
    fn from(e: netobserv_flowstore::Error) -> Self {
        if e.is_client_error() {
            SourceError::BadRequest(e.to_string())
        } else {
            SourceError::Internal(e.to_string())
        }
    }
}

/// One flow record: stream labels, the other fields, and its timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRecord {
    /// Fields that are stream labels.
    pub labels: BTreeMap<String, String>,
    /// The other fields (the Loki line).
    pub fields: Map<String, Value>,
    /// Timestamp, Unix ns.
    pub ts_ns: i64,
}

impl FlowRecord {
    /// The whole record, labels merged into the fields (numbers parsed back).
    pub fn merged(&self) -> Map<String, Value> {
        let mut out = self.fields.clone();
        for (k, v) in &self.labels {
            let value = v
                .parse::<i64>()
                .ok()
                .filter(|_| matches!(k.as_str(), "FlowDirection" | "Proto"))
                .map_or_else(|| Value::String(v.clone()), Value::from);
            out.insert(k.clone(), value);
        }
        out
    }
}

/// Per-query statistics reported to the UI.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Queries sent.
    pub num_queries: usize,
    /// Entries returned.
    pub total_entries: usize,
    /// Records seen in more than one query's answer, counted once.
    pub duplicates: usize,
    /// Whether a limit cut the answer.
    pub limit_reached: bool,
    /// The queries, as sent (LogQL, PromQL or SQL).
    pub queries: Vec<String>,
    /// Sources that answered.
    pub data_sources: Vec<SourceKind>,
}

/// Records and how they were obtained.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordsAnswer {
    /// Records, newest first.
    pub records: Vec<FlowRecord>,
    /// Statistics.
    pub stats: Stats,
}

/// Series and how they were obtained.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsAnswer {
    /// Series.
    pub series: Vec<Series>,
    /// Statistics.
    pub stats: Stats,
}

/// The caller's identity, forwarded when a source is configured to.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The bearer token of the request.
    pub token: Option<String>,
    /// The namespace the request is restricted to (the developer perspective's `namespace`):
    /// Prometheus is then asked through `devUrl` with that namespace, as Thanos's tenancy port
    /// wants.
    pub namespace: Option<String>,
}

impl Caller {
    /// The same caller, restricted to `ns` when it is given and not empty.
    pub fn in_namespace(mut self, ns: Option<&String>) -> Self {
        self.namespace = ns.filter(|n| !n.is_empty()).cloned();
        self
    }
}

/// A source of flows.
pub trait FlowSource: Send + Sync {
    /// Which source this is.
    fn kind(&self) -> SourceKind;

    /// A page of records.
    fn records<'a>(
        &'a self,
        q: &'a RecordsQuery,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<RecordsAnswer, SourceError>>;

    /// Aggregated series.
    fn metrics<'a>(
        &'a self,
        q: &'a MetricsQuery,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<MetricsAnswer, SourceError>>;

    /// Distinct values of `field` among flows matching `filters`.
    fn label_values<'a>(
        &'a self,
        field: &'a str,
        filters: &'a Filters,
        range: TimeRange,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<Vec<String>, SourceError>>;

    /// Whether the source answers (Loki `/ready`, Prometheus `/-/ready`, the file opens).
    fn ready<'a>(&'a self, caller: &'a Caller) -> BoxFuture<'a, Result<(), SourceError>>;
}

/// Merges several queries' series (OR groups, de-duplication halves): values of the same labels
/// and time are summed for counts, rates and sums, otherwise the first answer's is kept.
pub fn merge_series(
    parts: Vec<Vec<Series>>,
    function: MetricFunction,
    limit: usize,
) -> Vec<Series> {
    let additive = matches!(
        function,
        MetricFunction::Rate | MetricFunction::Sum | MetricFunction::Count
    );
    let mut merged: HashMap<BTreeMap<String, String>, BTreeMap<i64, f64>> = HashMap::new();
    for part in parts {
        for s in part {
            let slot = merged.entry(s.labels).or_default();
            for (t, v) in s.values {
                slot.entry(t)
                    .and_modify(|cur| {
                        if additive {
                            *cur += v
                        }
                    })
                    .or_insert(v);
            }
        }
    }
    let series = merged
        .into_iter()
        .map(|(labels, values)| Series {
            labels,
            values: values.into_iter().collect(),
        })
        .collect();
    netobserv_flowstore::query::top_series(series, function, limit)
}

/// Parses a Prometheus / Loki `matrix` result.
pub fn parse_matrix(body: &[u8], service: &str) -> Result<Vec<Series>, SourceError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| SourceError::Upstream(format!("{service} answered invalid JSON: {e}")))?;
    let result = v
        .pointer("/data/result")
        .and_then(Value::as_array)
        .ok_or_else(|| SourceError::Upstream(format!("{service} answer has no data.result")))?;
    let mut out = Vec::with_capacity(result.len());
    for r in result {
        let labels = r
            .get("metric")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .filter(|(_, v)| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let values = r
            .get("values")
            .and_then(Value::as_array)
            .map(|vals| {
                vals.iter()
                    .filter_map(|p| {
                        let t = p.get(0)?.as_f64()? as i64;
                        let v: f64 = p.get(1)?.as_str()?.parse().ok()?;
                        v.is_finite().then_some((t, v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Series { labels, values });
    }
    Ok(out)
}
