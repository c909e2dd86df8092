//! JSON-lines ingest: one flow record per line, handed on in batches.
//!
//! A line that is not a JSON object is counted and skipped: one corrupt line must not stop the
//! stream or take the process down.

use crate::record::Record;
use std::io::BufRead;

/// What a JSON-lines ingest read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Records decoded.
    pub records: u64,
    /// Lines that were not a JSON object (skipped).
    pub decode_errors: u64,
    /// Blank lines (skipped silently).
    pub blank: u64,
}

/// Reads `reader` to the end, calling `on_batch` with at most `batch_len` records at a time.
pub fn read_json_lines(
    reader: impl BufRead,
    batch_len: usize,
    mut on_batch: impl FnMut(Vec<Record>),
) -> std::io::Result<LineStats> {
    let batch_len = batch_len.max(1);
    let mut stats = LineStats::default();
    let mut batch = Vec::with_capacity(batch_len);
    for line in reader.lines() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            stats.blank += 1;
            continue;
        }
        match Record::from_json(line) {
            Ok(record) => {
                stats.records += 1;
                batch.push(record);
                if batch.len() == batch_len {
                    on_batch(std::mem::replace(&mut batch, Vec::with_capacity(batch_len)));
                }
            }
            Err(err) => {
                stats.decode_errors += 1;
                tracing::warn!(%err, "skipping a line that is not a JSON flow record");
            }
        }
    }
    if !batch.is_empty() {
        on_batch(batch);
    }
    Ok(stats)
}

/// Records handed on per batch by the line sources.
const LINE_BATCH: usize = 1000;

/// A `stdin` or `file` ingest: JSON lines, read on a blocking thread.
pub struct LinesIngester {
    /// `None` reads standard input.
    file: Option<String>,
}

/// Builder of `stdin`.
pub fn build_stdin(
    _: &crate::config::Ingest,
    _: &mut crate::stage::StageContext<'_>,
) -> Result<Box<dyn super::Ingester>, crate::stage::BuildError> {
    Ok(Box::new(LinesIngester { file: None }))
}

/// Builder of `file`.
pub fn build_file(
    ingest: &crate::config::Ingest,
    _: &mut crate::stage::StageContext<'_>,
) -> Result<Box<dyn super::Ingester>, crate::stage::BuildError> {
    match &ingest.file {
        Some(f) if !f.filename.is_empty() => Ok(Box::new(LinesIngester {
            file: Some(f.filename.clone()),
        })),
        _ => Err(crate::stage::BuildError::Invalid(
            "file ingest needs `file.filename`".into(),
        )),
    }
}

impl super::Ingester for LinesIngester {
    fn is_service(&self) -> bool {
        false
    }

    fn start(
        self: Box<Self>,
        shards: crate::shard::Shards,
    ) -> futures::future::BoxFuture<
        'static,
        Result<Box<dyn super::RunningIngest>, crate::stage::BuildError>,
    > {
        use futures::FutureExt;
        use std::sync::atomic::Ordering;
        let stats = std::sync::Arc::new(super::GrpcStats::default());
        let counters = stats.clone();
        let file = self.file;
        let task = tokio::task::spawn_blocking(move || {
            let send = |batch: Vec<Record>| {
                counters.batches.fetch_add(1, Ordering::Relaxed);
                counters
                    .flows
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                if shards.blocking_send_records(batch).is_err() {
                    tracing::error!("the pipeline workers stopped before the end of the input");
                }
            };
            match file {
                None => read_json_lines(std::io::stdin().lock(), LINE_BATCH, send),
                Some(path) => {
                    let f = std::fs::File::open(&path).map_err(|e| {
                        std::io::Error::new(e.kind(), format!("cannot open {path}: {e}"))
                    })?;
                    read_json_lines(std::io::BufReader::new(f), LINE_BATCH, send)
                }
            }
        });
        let running: Box<dyn super::RunningIngest> = Box::new(RunningLines { stats, task });
        futures::future::ready(Ok(running)).boxed()
    }
}

/// A line source being read.
struct RunningLines {
    stats: std::sync::Arc<super::GrpcStats>,
    task: tokio::task::JoinHandle<std::io::Result<LineStats>>,
}

impl super::RunningIngest for RunningLines {
    fn stats(&self) -> std::sync::Arc<super::GrpcStats> {
        self.stats.clone()
    }

    fn finish(
        self: Box<Self>,
        shutdown: crate::shutdown::Shutdown,
    ) -> futures::future::BoxFuture<'static, Result<Option<LineStats>, String>> {
        use futures::FutureExt;
        async move {
            tokio::select! {
                result = self.task => match result {
                    Ok(Ok(stats)) => Ok(Some(stats)),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(e) => Err(e.to_string()),
                },
                () = shutdown.wait() => {
                    Err("interrupted by a signal before the end of the input".into())
                }
            }
        }
        .boxed()
    }

    fn abort(self: Box<Self>) -> futures::future::BoxFuture<'static, ()> {
        use futures::FutureExt;
        self.task.abort();
        futures::future::ready(()).boxed()
    }
}
