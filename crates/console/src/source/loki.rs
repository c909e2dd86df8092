//! Loki as a source: LogQL over `/loki/api/v1/query_range`, one query per filter group run in
//! parallel and merged (records de-duplicated, series summed).

use super::{
    Caller, FlowRecord, FlowSource, MetricsAnswer, RecordsAnswer, SourceError, SourceKind, Stats,
    merge_series, parse_matrix,
};
use crate::client::{Client, ClientSettings, encode};
use crate::config::Loki;
use crate::logql;
use futures::future::BoxFuture;
use netobserv_flowstore::filter::Filters;
use netobserv_flowstore::query::{MetricsQuery, RecordsQuery, Selection, TimeRange};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// The Loki source.
pub struct LokiSource {
    base: String,
    status_base: String,
    labels: Vec<String>,
    client: Client,
    status_client: Client,
    forward_token: bool,
    /// `pending` when the operator saw LokiStack components not ready.
    stack_status: Option<String>,
}

fn base(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

impl LokiSource {
    /// A source for the `loki` section.
    pub fn new(cfg: &Loki) -> Result<Self, SourceError> {
        let settings = ClientSettings {
            skip_tls: cfg.skip_tls,
            ca_path: cfg.ca_path.clone(),
            token_path: cfg.token_path.clone(),
            tenant: cfg.tenant_id.clone().filter(|t| !t.is_empty()),
            timeout: cfg.timeout.0,
        };
        let status_settings = ClientSettings {
            skip_tls: cfg.status_skip_tls || cfg.skip_tls,
            ca_path: cfg.status_ca_path.clone().or(cfg.ca_path.clone()),
            ..settings.clone()
        };
        let setup = |e: crate::client::CallError| SourceError::Internal(format!("loki: {e}"));
        Ok(Self {
            base: base(&cfg.url),
            status_base: base(cfg.status_url.as_deref().unwrap_or(&cfg.url)),
            labels: cfg.labels.clone(),
            client: Client::new("Loki", settings).map_err(setup)?,
            status_client: Client::new("Loki", status_settings).map_err(setup)?,
            forward_token: cfg.forward_user_token,
            stack_status: cfg.status.clone(),
        })
    }

    /// GETs `path` from Loki's status URL (`/metrics`, `/config`, build info), for the admin
    /// passthrough routes.
    pub async fn status_get(
        &self,
        path: &str,
        caller: &Caller,
    ) -> Result<bytes::Bytes, SourceError> {
        self.status_client
            .get(&format!("{}{path}", self.status_base), self.token(caller))
            .await
            .map_err(SourceError::from_call)
    }

    /// The configured stream labels.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    fn token<'a>(&self, caller: &'a Caller) -> Option<&'a str> {
        if self.forward_token {
            caller.token.as_deref()
        } else {
            None
        }
    }

    fn range_params(range: TimeRange) -> String {
        format!(
            "start={}&end={}",
            range.start_ms * 1_000_000,
            range.end_ms * 1_000_000
        )
    }

    /// The LogQL of a records query, one per group.
    pub fn record_queries(&self, sel: &Selection) -> Vec<String> {
        logql::record_queries(sel, &self.labels)
    }
}

/// Parses a `streams` answer into records.
pub fn parse_streams(body: &[u8]) -> Result<Vec<FlowRecord>, SourceError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| SourceError::Upstream(format!("Loki answered invalid JSON: {e}")))?;
    let result = v
        .pointer("/data/result")
        .and_then(Value::as_array)
        .ok_or_else(|| SourceError::Upstream("Loki answer has no data.result".into()))?;
    let mut out = Vec::new();
    for stream in result {
        let labels: BTreeMap<String, String> = stream
            .get("stream")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        for pair in stream
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(ts), Some(line)) = (
                pair.get(0).and_then(Value::as_str),
                pair.get(1).and_then(Value::as_str),
            ) else {
                continue;
            };
            let fields = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) => m,
                _ => {
                    let mut m = serde_json::Map::new();
                    m.insert("_line".into(), Value::String(line.to_string()));
                    m
                }
            };
            out.push(FlowRecord {
                labels: labels.clone(),
                fields,
                ts_ns: ts.parse().unwrap_or(0),
            });
        }
    }
    Ok(out)
}

impl FlowSource for LokiSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Loki
    }

    fn records<'a>(
        &'a self,
        q: &'a RecordsQuery,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<RecordsAnswer, SourceError>> {
        Box::pin(async move {
            let queries = self.record_queries(&q.selection);
            let token = self.token(caller);
            let calls = queries.iter().map(|query| {
                let url = format!(
                    "{}/loki/api/v1/query_range?query={}&{}&limit={}&direction=backward",
                    self.base,
                    encode(query),
                    Self::range_params(q.selection.range),
                    q.limit
                );
                async move { self.client.get(&url, token).await }
            });
            let bodies = futures::future::join_all(calls).await;
            let mut seen = HashSet::new();
            let mut stats = Stats {
                num_queries: queries.len(),
                queries: queries.clone(),
                data_sources: vec![SourceKind::Loki],
                ..Stats::default()
            };
            let mut records = Vec::new();
            for body in bodies {
                let body = body.map_err(SourceError::from_call)?;
                let part = parse_streams(&body)?;
                if part.len() >= q.limit {
                    stats.limit_reached = true;
                }
                for r in part {
                    let key = (
                        r.ts_ns,
                        serde_json::to_string(&r.fields).unwrap_or_default(),
                        format!("{:?}", r.labels),
                    );
                    if seen.insert(key) {
                        records.push(r);
                    } else {
                        stats.duplicates += 1;
                    }
                }
            }
            records.sort_by_key(|r| std::cmp::Reverse(r.ts_ns));
            if records.len() > q.limit {
                records.truncate(q.limit);
                stats.limit_reached = true;
            }
            stats.total_entries = records.len();
            Ok(RecordsAnswer { records, stats })
        })
    }

    fn metrics<'a>(
        &'a self,
        q: &'a MetricsQuery,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<MetricsAnswer, SourceError>> {
        Box::pin(async move {
            let queries =
                logql::metric_queries(q, &self.labels).map_err(SourceError::BadRequest)?;
            let token = self.token(caller);
            let calls = queries.iter().map(|query| {
                let url = format!(
                    "{}/loki/api/v1/query_range?query={}&start={}&end={}&step={}s",
                    self.base,
                    encode(query),
                    q.selection.range.start_ms / 1000,
                    q.selection.range.end_ms / 1000,
                    q.step_s
                );
                async move { self.client.get(&url, token).await }
            });
            let mut parts = Vec::new();
            for body in futures::future::join_all(calls).await {
                parts.push(parse_matrix(
                    &body.map_err(SourceError::from_call)?,
                    "Loki",
                )?);
            }
            let series = merge_series(parts, q.function, q.limit);
            Ok(MetricsAnswer {
                stats: Stats {
                    num_queries: queries.len(),
                    total_entries: series.len(),
                    queries,
                    data_sources: vec![SourceKind::Loki],
                    ..Stats::default()
                },
                series,
            })
        })
    }

    fn label_values<'a>(
        &'a self,
        field: &'a str,
        filters: &'a Filters,
        range: TimeRange,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<Vec<String>, SourceError>> {
        Box::pin(async move {
            if !self.labels.iter().any(|l| l == field) {
                return Err(SourceError::NotHere(format!("{field} is not a Loki label")));
            }
            let mut selector = vec![logql::APP_SELECTOR.to_string()];
            if let [group] = filters.groups.as_slice() {
                for m in group {
                    match logql::label_matcher(m) {
                        Some(s) if self.labels.iter().any(|l| l == m.field.name) => {
                            selector.push(s)
                        }
                        _ => {
                            return Err(SourceError::NotHere(format!(
                                "{} is not a Loki label",
                                m.field.name
                            )));
                        }
                    }
                }
            } else if !filters.is_empty() {
                return Err(SourceError::NotHere("several filter groups".into()));
            }
            let url = format!(
                "{}/loki/api/v1/label/{field}/values?{}&query={}",
                self.base,
                Self::range_params(range),
                encode(&format!("{{{}}}", selector.join(", ")))
            );
            let body = self
                .client
                .get(&url, self.token(caller))
                .await
                .map_err(SourceError::from_call)?;
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| SourceError::Upstream(format!("Loki answered invalid JSON: {e}")))?;
            let mut values: Vec<String> = v
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .filter(|s| !s.is_empty())
                .collect();
            values.sort();
            Ok(values)
        })
    }

    fn ready<'a>(&'a self, caller: &'a Caller) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async move {
            if self.stack_status.as_deref() == Some("pending") {
                return Err(SourceError::Unavailable(
                    "LokiStack reports components that are not ready (loki.status: pending)".into(),
                ));
            }
            let url = format!("{}/ready", self.status_base);
            let body = self
                .status_client
                .get(&url, self.token(caller))
                .await
                .map_err(SourceError::from_call)?;
            let text = String::from_utf8_lossy(&body);
            if text.trim() == "ready" {
                Ok(())
            } else {
                Err(SourceError::Unavailable(format!(
                    "Loki is not ready: {}",
                    text.trim()
                )))
            }
        })
    }
}
