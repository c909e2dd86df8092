//! The flow collector: `pbflow.Collector/Send` (the pipeline's gRPC ingest, with its
//! back-pressure) -> Kubernetes enrichment and `--query` (the pipeline's stages) -> the JSON
//! array and the flow store (the pipeline's `sqlite` writer conversion, so the file is the one
//! the console opens), until `--max-time`, `--max-bytes` or a stop request.

use super::enrich::{FlowStages, KubeNames};
use super::files::{JsonArray, OutputPaths};
use super::{CollectorError, Progress, StopReason, Summary};
use netobserv_flowstore::{BackgroundWriter, BatchOptions, StoreOptions};
use netobserv_pipeline::ingest::grpc::{DEFAULT_QUEUE_WAIT, GrpcIngest};
use netobserv_pipeline::record::Record;
use netobserv_pipeline::write::sqlite::row_of;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Batches waiting between the gRPC calls and the writers (each up to an agent's message).
const QUEUE_BATCHES: usize = 64;

/// What a flow capture is told.
pub struct FlowCapture {
    /// Listening address.
    pub addr: SocketAddr,
    /// Output file paths.
    pub paths: OutputPaths,
    /// Stop after this long.
    pub max_time: Duration,
    /// Stop after this many JSON bytes.
    pub max_bytes: u64,
    /// Enrichment.
    pub names: KubeNames,
    /// `--query`.
    pub query: Option<String>,
    /// `--subnet-label`s.
    pub subnet_labels: Vec<crate::subnets::SubnetLabel>,
    /// Where each written flow is also sent (the TUI), if anywhere; full: not sent, counted.
    pub observer: Option<mpsc::Sender<Arc<Record>>>,
}

/// Runs a flow capture until a stop condition; `bound` is called with the bound address once
/// the gRPC server listens.
pub async fn run(
    capture: FlowCapture,
    progress: Arc<Progress>,
    stop: impl Future<Output = ()>,
    bound: impl FnOnce(SocketAddr),
) -> Result<Summary, CollectorError> {
    let mut stages = FlowStages::new(
        &capture.names,
        capture.query.as_deref(),
        &capture.subnet_labels,
    )
    .map_err(|e| CollectorError::Config(e.to_string()))?;
    let mut json = JsonArray::create(&capture.paths.json).map_err(|e| CollectorError::Output {
        path: capture.paths.json.clone(),
        source: e,
    })?;
    // A capture file stays small (`--max-bytes`): readers answer from its raw flows, and
    // maintaining rollups would cost more than writing the flows (see `rollups`).
    let store = BackgroundWriter::start(
        &capture.paths.db,
        StoreOptions {
            rollups: false,
            ..StoreOptions::default()
        },
        BatchOptions::default(),
    )
    .map_err(|e| CollectorError::Store(e.to_string()))?;
    let (tx, mut rx) = mpsc::channel(QUEUE_BATCHES);
    let ingest = GrpcIngest::start(capture.addr, tx, DEFAULT_QUEUE_WAIT)
        .await
        .map_err(|e| CollectorError::Listen {
            addr: capture.addr,
            source: e,
        })?;
    bound(ingest.local_addr);
    tracing::info!(addr = %ingest.local_addr, json = %capture.paths.json.display(),
        db = %capture.paths.db.display(), "collecting flows");
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + capture.max_time;
    tokio::pin!(stop);
    let mut observer_drops = 0u64;
    let reason = loop {
        let batch = tokio::select! {
            b = rx.recv() => match b {
                Some(b) => b,
                None => break StopReason::Stopped,
            },
            () = tokio::time::sleep_until(deadline) => break StopReason::MaxTime,
            () = &mut stop => break StopReason::Stopped,
        };
        let (written, over) = tokio::task::block_in_place(|| {
            let mut rows = Vec::with_capacity(batch.len());
            let mut written = 0u64;
            for record in batch.into_records() {
                let Some(record) = stages.apply(record) else {
                    progress.add_filtered(1);
                    continue;
                };
                let text = serde_json::to_vec(&record.sorted()).unwrap_or_default();
                if let Err(e) = json.push(&text) {
                    return Err(CollectorError::Output {
                        path: capture.paths.json.clone(),
                        source: e,
                    });
                }
                rows.push(row_of(&record));
                written += 1;
                if let Some(o) = &capture.observer
                    && o.try_send(Arc::new(record)).is_err()
                {
                    observer_drops += 1;
                }
            }
            store.send(rows);
            Ok((written, json.bytes() >= capture.max_bytes))
        })?;
        progress.add_flows(written);
        progress.set_bytes(json.bytes());
        if over {
            break StopReason::MaxBytes;
        }
    };
    ingest.stop().await;
    // Flows queued before the stop are kept: the agents were told they were received.
    rx.close();
    while let Ok(batch) = rx.try_recv() {
        let rows: Vec<_> = batch
            .into_records()
            .into_iter()
            .filter_map(|r| stages.apply(r))
            .map(|r| {
                let _ = json.push(&serde_json::to_vec(&r.sorted()).unwrap_or_default());
                progress.add_flows(1);
                row_of(&r)
            })
            .collect();
        store.send(rows);
    }
    progress.set_bytes(json.bytes());
    let flows = json.count();
    json.finish().map_err(|e| CollectorError::Output {
        path: capture.paths.json.clone(),
        source: e,
    })?;
    let stats = store.stats();
    tokio::task::block_in_place(|| store.close());
    let failed = stats.failed.load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 {
        tracing::warn!(failed, "rows the flow store could not write");
    }
    if observer_drops > 0 {
        tracing::debug!(observer_drops, "flows the display skipped (it was behind)");
    }
    Ok(Summary {
        reason,
        items: flows,
        bytes: progress.bytes(),
        elapsed: started.elapsed(),
        store_failed_rows: failed,
        refused: 0,
    })
}
