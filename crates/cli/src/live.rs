//! The table of a foreground cluster run: the collector runs in its pod with `--live` and prints
//! each record as a `LIVE <JSON>` line next to its progress lines; the CLI follows the pod's
//! log through the API server (`pods/log`, the user's credentials, no exec or TTY) and turns the
//! lines back into what the terminal table shows: records, and the capture's bytes and count.
//!
//! Upstream attaches a terminal to the collector pod and draws the table there; reading records
//! instead keeps the table on this side (the column choice, the keys, the terminal's size are
//! local) and needs nothing the API server does not serve to `kubectl logs`.

use crate::collector::{LIVE_PREFIX, Progress};
use netobserv_pipeline::record::Record;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Where the followed log goes: a [`std::io::Write`] that splits it into lines, sends the live
/// records to the table and reads the progress lines into `progress`.
pub struct LiveFeed {
    pending: Vec<u8>,
    records: mpsc::Sender<Arc<Record>>,
    progress: Arc<Progress>,
    /// Rows the table was too far behind to take (the files in the pod hold them all).
    skipped: Arc<AtomicU64>,
}

impl LiveFeed {
    /// A feed sending to `records` (the table's channel) and updating `progress`.
    pub fn new(records: mpsc::Sender<Arc<Record>>, progress: Arc<Progress>) -> Self {
        Self {
            pending: Vec::new(),
            records,
            progress,
            skipped: Arc::default(),
        }
    }

    /// How many rows the table skipped so far (shared: readable after the feed moved).
    pub fn skipped(&self) -> Arc<AtomicU64> {
        self.skipped.clone()
    }

    fn line(&self, line: &str) {
        if let Some(json) = line.strip_prefix(LIVE_PREFIX) {
            match Record::from_json(json) {
                Ok(r) => {
                    if self.records.try_send(Arc::new(r)).is_err() {
                        self.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => tracing::debug!(%e, "a live line that is not a record"),
            }
        } else {
            // The collector's own log lines are not for the table; progress lines are.
            self.progress.read_line(line);
        }
    }
}

impl std::io::Write for LiveFeed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..end]);
            self.line(text.trim_end_matches('\r'));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn live_lines_become_records_and_progress_lines_counters() {
        let (tx, mut rx) = mpsc::channel(1);
        let progress = Arc::new(Progress::default());
        let mut feed = LiveFeed::new(tx, progress.clone());
        let skipped = feed.skipped();
        // Split anywhere, as the log's chunks are.
        let text = "collector listening\nLIVE {\"SrcAddr\":\"10.0.0.1\",\"Bytes\":42}\nelapsed 5s, captured 900 bytes, 3 written (1/s)\nLIVE {\"Bytes\":7}\nLIVE not json\n";
        for chunk in text.as_bytes().chunks(7) {
            feed.write_all(chunk).expect("write");
        }
        let first = rx.try_recv().expect("a record");
        assert_eq!(
            first.get("SrcAddr").and_then(|v| v.as_str()),
            Some("10.0.0.1")
        );
        assert_eq!(first.get("Bytes").and_then(|v| v.as_i64()), Some(42));
        assert!(
            rx.try_recv().is_err(),
            "the second record found the table full"
        );
        assert_eq!(skipped.load(Ordering::Relaxed), 1);
        assert_eq!((progress.bytes(), progress.flows()), (900, 3));
    }
}
