//! Prometheus as a source of aggregated series (it has no raw flows): PromQL over
//! `/api/v1/query_range` on the pipeline's `netobserv_*` metrics.

use super::{
    Caller, FlowSource, MetricsAnswer, RecordsAnswer, SourceError, SourceKind, Stats, merge_series,
    parse_matrix,
};
use crate::client::{Client, ClientSettings, encode};
use crate::config::Prometheus;
use crate::promql::{self, PromMetric};
use futures::future::BoxFuture;
use netobserv_flowstore::filter::Filters;
use netobserv_flowstore::query::{MetricsQuery, RecordsQuery, TimeRange};
use serde_json::Value;

/// The Prometheus source.
pub struct PromSource {
    base: String,
    /// `devUrl`: where namespace-restricted queries go (Thanos's tenancy port).
    dev_base: Option<String>,
    catalog: Vec<PromMetric>,
    client: Client,
    forward_token: bool,
}

impl PromSource {
    /// A source for the `prometheus` section; `features` are the frontend features (zones and
    /// multi-cluster decide which labels the metrics have).
    pub fn new(cfg: &Prometheus, features: &[String]) -> Result<Self, SourceError> {
        let settings = ClientSettings {
            skip_tls: cfg.skip_tls,
            ca_path: cfg.ca_path.clone(),
            token_path: cfg.token_path.clone(),
            tenant: None,
            timeout: cfg.timeout.0,
        };
        Ok(Self {
            base: cfg.url.trim_end_matches('/').to_string(),
            dev_base: cfg
                .dev_url
                .as_deref()
                .filter(|u| !u.is_empty())
                .map(|u| u.trim_end_matches('/').to_string()),
            catalog: promql::catalog(&cfg.metrics, features),
            client: Client::new("Prometheus", settings)
                .map_err(|e| SourceError::Internal(format!("prometheus: {e}")))?,
            forward_token: cfg.forward_user_token,
        })
    }

    /// The metrics known.
    pub fn catalog(&self) -> &[PromMetric] {
        &self.catalog
    }

    /// The PromQL of a metrics query, or why Prometheus cannot answer it.
    pub fn queries(&self, q: &MetricsQuery) -> Result<Vec<String>, SourceError> {
        promql::metric_queries(q, &self.catalog).map_err(SourceError::NotHere)
    }

    /// Prometheus's own answer to `GET /api/v1/<api>?<query>`: the rules and instant queries
    /// the Network Health page reads, as the OpenShift console serves them to its plugins.
    pub async fn api_get(
        &self,
        api: &str,
        query: &str,
        caller: &Caller,
    ) -> Result<bytes::Bytes, SourceError> {
        let url = match query {
            "" => format!("{}/api/v1/{api}", self.base),
            q => format!("{}/api/v1/{api}?{q}", self.base),
        };
        self.client
            .get(&url, self.token(caller))
            .await
            .map_err(SourceError::from_call)
    }

    /// The URL of `path_and_query` (which has a query string) for `caller`: through `devUrl`
    /// with `namespace=` when the caller is restricted to a namespace and `devUrl` is set.
    fn url(&self, caller: &Caller, path_and_query: &str) -> String {
        match (&self.dev_base, &caller.namespace) {
            (Some(dev), Some(ns)) => format!("{dev}{path_and_query}&namespace={}", encode(ns)),
            _ => format!("{}{path_and_query}", self.base),
        }
    }

    fn token<'a>(&self, caller: &'a Caller) -> Option<&'a str> {
        if self.forward_token {
            caller.token.as_deref()
        } else {
            None
        }
    }
}

impl FlowSource for PromSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Prom
    }

    fn records<'a>(
        &'a self,
        _q: &'a RecordsQuery,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<RecordsAnswer, SourceError>> {
        Box::pin(async {
            Err(SourceError::NotHere(
                "Prometheus holds metrics, not flow records: use dataSource loki or store".into(),
            ))
        })
    }

    fn metrics<'a>(
        &'a self,
        q: &'a MetricsQuery,
        caller: &'a Caller,
    ) -> BoxFuture<'a, Result<MetricsAnswer, SourceError>> {
        Box::pin(async move {
            let queries = self.queries(q)?;
            let token = self.token(caller);
            let calls = queries.iter().map(|query| {
                let url = self.url(
                    caller,
                    &format!(
                        "/api/v1/query_range?query={}&start={}&end={}&step={}",
                        encode(query),
                        q.selection.range.start_ms as f64 / 1000.0,
                        q.selection.range.end_ms as f64 / 1000.0,
                        q.step_s
                    ),
                );
                async move { self.client.get(&url, token).await }
            });
            let mut parts = Vec::new();
            for body in futures::future::join_all(calls).await {
                parts.push(parse_matrix(
                    &body.map_err(SourceError::from_call)?,
                    "Prometheus",
                )?);
            }
            let series = merge_series(parts, q.function, q.limit);
            Ok(MetricsAnswer {
                stats: Stats {
                    num_queries: queries.len(),
                    total_entries: series.len(),
                    queries,
                    data_sources: vec![SourceKind::Prom],
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
            let mut needed: Vec<String> = vec![field.to_string()];
            for g in &filters.groups {
                needed.extend(g.iter().map(|m| m.field.name.to_string()));
            }
            let metric = self
                .catalog
                .iter()
                .filter(|m| m.enabled && needed.iter().all(|l| m.labels.iter().any(|x| x == l)))
                .min_by_key(|m| m.labels.len())
                .ok_or_else(|| {
                    SourceError::NotHere(format!("no enabled metric has the label {field}"))
                })?;
            let matchers: Vec<String> = match filters.groups.as_slice() {
                [] => Vec::new(),
                [g] => g
                    .iter()
                    .map(crate::logql::label_matcher)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| SourceError::NotHere("filter not expressible".into()))?,
                _ => return Err(SourceError::NotHere("several filter groups".into())),
            };
            let url = self.url(
                caller,
                &format!(
                    "/api/v1/label/{field}/values?match[]={}&start={}&end={}",
                    encode(&format!("{}{{{}}}", metric.name, matchers.join(","))),
                    range.start_ms / 1000,
                    range.end_ms / 1000
                ),
            );
            let body = self
                .client
                .get(&url, self.token(caller))
                .await
                .map_err(SourceError::from_call)?;
            let v: Value = serde_json::from_slice(&body).map_err(|e| {
                SourceError::Upstream(format!("Prometheus answered invalid JSON: {e}"))
            })?;
            Ok(v.get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .filter(|s| !s.is_empty())
                .collect())
        })
    }

    fn ready<'a>(&'a self, caller: &'a Caller) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async move {
            self.client
                .get(&format!("{}/-/ready", self.base), self.token(caller))
                .await
                .map(|_| ())
                .map_err(SourceError::from_call)
        })
    }
}
