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
