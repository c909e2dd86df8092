//! A store writer on its own thread: callers hand over batches of rows through a bounded queue
//! (a full queue blocks the caller, so a slow disk slows the pipeline instead of losing flows),
//! the thread groups them into transactions of up to `batch_rows` or `flush_interval` (each batch
//! goes into the open transaction as it arrives: rows are not held here until the commit), and runs
//! retention every `retention_interval`. Every outcome is counted in [`WriterStats`].

use crate::error::Result;
use crate::row::FlowRow;
use crate::writer::{Store, StoreOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Batching of a background writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Rows per transaction at most.
    pub batch_rows: usize,
    /// Longest time a row waits before its transaction.
    pub flush_interval: Duration,
    /// Batches queued before senders block. Each is one pipeline batch (a few thousand rows at
    /// most from the agent), so a short queue bounds the rows held in memory.
    pub queue_batches: usize,
    /// Time between retention passes.
    pub retention_interval: Duration,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            batch_rows: 10_000,
            flush_interval: Duration::from_secs(1),
            queue_batches: 2,
            retention_interval: Duration::from_secs(30),
        }
    }
}

/// What a background writer did.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Rows received.
    pub received: AtomicU64,
    /// Rows committed.
    pub written: AtomicU64,
    /// Rows lost because their transaction failed (disk full, I/O error): logged and counted.
    pub failed: AtomicU64,
    /// Transactions committed.
    pub transactions: AtomicU64,
    /// Rows deleted by retention (age).
    pub aged_out: AtomicU64,
    /// Rows deleted by retention (size).
    pub size_evicted: AtomicU64,
    /// Bytes in use in the file after the last retention pass.
    pub data_bytes: AtomicU64,
}

enum Msg {
    Rows(Vec<FlowRow>),
    Flush(SyncSender<()>),
}

/// Handle to a writer thread. Cloning shares the thread; it stops when the last handle is
/// dropped (or at [`BackgroundWriter::close`]) after writing what is queued.
#[derive(Clone)]
pub struct BackgroundWriter {
    tx: SyncSender<Msg>,
    stats: Arc<WriterStats>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    path: PathBuf,
}

impl BackgroundWriter {
    /// Opens the store (creating it) and starts the thread.
    pub fn start(path: &Path, options: StoreOptions, batch: BatchOptions) -> Result<Self> {
        let store = Store::open(path, options)?;
        let (tx, rx) = sync_channel(batch.queue_batches.max(1));
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        let name = path.display().to_string();
        let handle = std::thread::Builder::new()
            .name("flowstore-writer".into())
            .spawn(move || run(store, rx, batch, &thread_stats, &name))
            .map_err(|e| crate::Error::Invalid(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            tx,
            stats,
            thread: Arc::new(Mutex::new(Some(handle))),
            path: path.to_path_buf(),
        })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues rows, blocking while the queue is full. Returns false when the thread is gone
    /// (the rows are then counted as failed).
    pub fn send(&self, rows: Vec<FlowRow>) -> bool {
        let n = rows.len() as u64;
        self.stats.received.fetch_add(n, Ordering::Relaxed);
        if self.tx.send(Msg::Rows(rows)).is_err() {
            self.stats.failed.fetch_add(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Waits until everything queued before this call is committed.
    pub fn flush(&self) {
        let (done, wait) = sync_channel(1);
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// The counters.
    pub fn stats(&self) -> Arc<WriterStats> {
        self.stats.clone()
    }

    /// Writes what is queued and stops the thread (other clones then fail to send).
    pub fn close(self) {
        self.flush();
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(self.tx);
        if let Some(h) = handle
            && Arc::strong_count(&self.thread) == 1
        {
            let _ = h.join();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Appends rows to the open transaction; on failure the transaction's rows are lost (counted).
fn append(store: &mut Store, rows: &[FlowRow], stats: &WriterStats, name: &str) {
    let before = store.pending_rows() as u64;
    if let Err(e) = store.append(rows) {
        let n = before + rows.len() as u64;
        stats.failed.fetch_add(n, Ordering::Relaxed);
        tracing::error!(store = name, rows = n, error = %e, "flow store write failed; rows lost");
    }
}

fn commit(store: &mut Store, stats: &WriterStats, name: &str) {
    let n = store.pending_rows() as u64;
    if n == 0 {
        return;
    }
    match store.commit() {
        Ok(_) => {
            stats.written.fetch_add(n, Ordering::Relaxed);
            stats.transactions.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            stats.failed.fetch_add(n, Ordering::Relaxed);
            tracing::error!(store = name, rows = n, error = %e, "flow store write failed; rows lost");
        }
    }
}

fn retention(store: &mut Store, stats: &WriterStats, name: &str) {
    match store.apply_retention(now_ms()) {
        Ok(r) => {
            stats.aged_out.fetch_add(r.aged_out, Ordering::Relaxed);
            stats
                .size_evicted
                .fetch_add(r.size_evicted, Ordering::Relaxed);
            if r.aged_out + r.size_evicted > 0 {
                tracing::debug!(
                    store = name,
                    aged_out = r.aged_out,
                    size_evicted = r.size_evicted,
                    "retention"
                );
            }
        }
        Err(e) => tracing::warn!(store = name, error = %e, "flow store retention failed"),
    }
    if let Ok(b) = store.data_bytes() {
        stats.data_bytes.store(b, Ordering::Relaxed);
    }
}

fn run(mut store: Store, rx: Receiver<Msg>, batch: BatchOptions, stats: &WriterStats, name: &str) {
    let mut oldest: Option<Instant> = None;
    let mut last_retention = Instant::now();
    retention(&mut store, stats, name);
    loop {
        let wait = oldest.map_or(batch.flush_interval, |t| {
            batch.flush_interval.saturating_sub(t.elapsed())
        });
        match rx.recv_timeout(wait) {
            Ok(Msg::Rows(rows)) => {
                if oldest.is_none() {
                    oldest = Some(Instant::now());
                }
                append(&mut store, &rows, stats, name);
                drop(rows);
                if store.pending_rows() >= batch.batch_rows {
                    commit(&mut store, stats, name);
                    oldest = None;
                }
            }
            Ok(Msg::Flush(done)) => {
                commit(&mut store, stats, name);
                oldest = None;
                let _ = done.send(());
            }
            Err(RecvTimeoutError::Timeout) => {
                commit(&mut store, stats, name);
                oldest = None;
            }
            Err(RecvTimeoutError::Disconnected) => {
                commit(&mut store, stats, name);
                retention(&mut store, stats, name);
                return;
            }
        }
        if last_retention.elapsed() >= batch.retention_interval {
            // Retention vacuums and checkpoints: outside any transaction.
            commit(&mut store, stats, name);
            oldest = None;
            retention(&mut store, stats, name);
            last_retention = Instant::now();
        }
    }
}
