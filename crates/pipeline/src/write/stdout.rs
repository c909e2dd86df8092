//! The `stdout` writer: one line per record, as JSON (keys sorted, as upstream), `key=value`
//! pairs (`printf` / `fields`), or aligned columns (`table`, ours, for a person watching flows).

use super::{Writer, Written};
use crate::config::{StdoutFormat, Write as WriteParams};
use crate::record::Record;
use crate::stage::{BuildError, StageContext};
use std::io::Write;

/// Rows between two repetitions of the table header.
pub const TABLE_HEADER_EVERY: u64 = 40;

/// A built `stdout` writer.
pub struct StdoutWriter {
    out: Box<dyn Write + Send>,
    format: StdoutFormat,
    rows: u64,
}

impl StdoutWriter {
    /// Writes to `out` in `format`.
    pub fn new(out: Box<dyn Write + Send>, format: StdoutFormat) -> Self {
        Self {
            out,
            format,
            rows: 0,
        }
    }
}

/// Builder of `stdout`.
pub fn build(
    params: &WriteParams,
    ctx: &mut StageContext<'_>,
) -> Result<Box<dyn super::Writer>, BuildError> {
    let format = params
        .stdout
        .and_then(|s| s.format)
        .unwrap_or(StdoutFormat::Printf);
    Ok(Box::new(StdoutWriter::new((ctx.stdout)(), format)))
}

impl Writer for StdoutWriter {
    fn write(&mut self, batch: &[Record]) -> Written {
        let n = batch.len() as u64;
        if self.format == StdoutFormat::Json {
            // The whole batch is serialised into one buffer and written at once: no string per
            // record, one `write` per batch. Keys sorted, as upstream writes them.
            let mut buf = Vec::with_capacity(batch.len() * 512);
            for record in batch {
                if serde_json::to_writer(&mut buf, &record.sorted()).is_ok() {
                    buf.push(b'\n');
                }
            }
            return if self
                .out
                .write_all(&buf)
                .and_then(|()| self.out.flush())
                .is_ok()
            {
                Written { ok: n, failed: 0 }
            } else {
                Written { ok: 0, failed: n }
            };
        }
        let mut done = Written::default();
        for record in batch {
            let line = match self.format {
                StdoutFormat::Table => {
                    let row = crate::table::row(record);
                    if self.rows.is_multiple_of(TABLE_HEADER_EVERY) {
                        format!("{}\n{row}", crate::table::HEADER)
                    } else {
                        row
                    }
                }
                _ => fields_line(record),
            };
            if writeln!(self.out, "{line}").is_ok() {
                done.ok += 1;
                self.rows += 1;
            } else {
                done.failed += 1;
            }
        }
        let _ = self.out.flush();
        done
    }
}

/// `Key=value` pairs separated by spaces, sorted by key, for human reading.
fn fields_line(record: &Record) -> String {
    let mut fields: Vec<(&str, String)> = record.iter().map(|(k, v)| (k, v.to_text())).collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    fields
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
