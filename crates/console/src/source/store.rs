//! The SQLite flow store as a source: a store written by the pipeline's `sqlite` writer or local
//! mode, or a capture file, opened read-only. Queries run on the blocking thread pool.

use super::{
    Caller, FlowRecord, FlowSource, MetricsAnswer, RecordsAnswer, SourceError, SourceKind, Stats,
};
use futures::future::BoxFuture;
use netobserv_flowstore::filter::Filters;
use netobserv_flowstore::query::{MetricsQuery, RecordsQuery, TimeRange};
use netobserv_flowstore::{Reader, sql};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The store source.
pub struct StoreSource {
    path: PathBuf,
    reader: Arc<Reader>,
    labels: Vec<String>,
}

impl StoreSource {
    /// Opens `path` read-only; `labels` are the fields presented as stream labels.
    pub fn open(path: &Path, labels: Vec<String>) -> Result<Self, SourceError> {
        let reader = Reader::open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            reader: Arc::new(reader),
            labels,
        })
    }

    /// The reader.
    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader) -> Result<T, SourceError> + Send + 'static,
    ) -> Result<T, SourceError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || f(&reader))
            .await
            .map_err(|e| SourceError::Internal(format!("store query task: {e}")))?
    }
}

impl FlowSource for StoreSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Store
    }

    fn records<'a>(
        &'a self,
        q: &'a RecordsQuery,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<RecordsAnswer, SourceError>> {
        Box::pin(async move {
            let query = q.clone();
            let text = sql::records_sql(q, self.reader.info())
                .map(|s| s.text)
                .map_err(SourceError::from)?;
            let result = self
                .blocking(move |r| r.records(&query).map_err(SourceError::from))
                .await?;
            let records: Vec<FlowRecord> = result
                .records
                .into_iter()
                .map(|mut fields| {
                    let mut labels = BTreeMap::new();
                    for l in &self.labels {
                        if let Some(v) = fields.remove(l) {
                            let text = match v {
                                Value::String(s) => s,
                                other => other.to_string(),
                            };
                            labels.insert(l.clone(), text);
                        }
                    }
                    let ts_ns = fields
                        .get("TimeFlowEndMs")
                        .and_then(Value::as_i64)
                        .unwrap_or(0)
                        * 1_000_000;
                    FlowRecord {
                        labels,
                        fields,
                        ts_ns,
                    }
                })
                .collect();
            Ok(RecordsAnswer {
                stats: Stats {
                    num_queries: 1,
                    total_entries: records.len(),
                    limit_reached: result.limit_reached,
                    queries: vec![text],
                    data_sources: vec![SourceKind::Store],
                    ..Stats::default()
                },
                records,
            })
        })
    }

    fn metrics<'a>(
        &'a self,
        q: &'a MetricsQuery,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<MetricsAnswer, SourceError>> {
        Box::pin(async move {
            let query = q.clone();
            let text = sql::metrics_sql(q, self.reader.info())
                .map(|(s, _)| s.text)
                .map_err(SourceError::from)?;
            let result = self
                .blocking(move |r| r.metrics(&query).map_err(SourceError::from))
                .await?;
            Ok(MetricsAnswer {
                stats: Stats {
                    num_queries: 1,
                    total_entries: result.series.len(),
                    queries: vec![text],
                    data_sources: vec![SourceKind::Store],
                    ..Stats::default()
                },
                series: result.series,
            })
        })
    }

    fn label_values<'a>(
        &'a self,
        field: &'a str,
        filters: &'a Filters,
        range: TimeRange,
        _caller: &'a Caller,
    ) -> BoxFuture<'a, Result<Vec<String>, SourceError>> {
        Box::pin(async move {
            let (field, filters) = (field.to_string(), filters.clone());
            self.blocking(move |r| {
                r.label_values(&field, &filters, Some(range), 1000)
                    .map_err(SourceError::from)
            })
            .await
        })
    }

    fn ready<'a>(&'a self, _caller: &'a Caller) -> BoxFuture<'a, Result<(), SourceError>> {
        Box::pin(async move {
            let path = self.path.display().to_string();
            self.blocking(move |r| {
                r.count()
                    .map(|_| ())
                    .map_err(|e| SourceError::Unavailable(format!("flow store {path}: {e}")))
            })
            .await
        })
    }
}
