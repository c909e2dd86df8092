//! The `sqlite` writer: records into a flow store file (crate `netobserv-flowstore`) that the
//! console and the CLI read. Not an upstream writer; configured like the others:
//!
//! ```yaml
//! write:
//!   type: sqlite
//!   sqlite:
//!     path: /var/lib/netobserv/flows.db
//!     batchSize: 10000        # rows per transaction (default 10000)
//!     flushInterval: 1s       # longest wait before a transaction (default 1s)
//!     maxAge: 24h             # retention by age (default none)
//!     maxBytes: 1073741824    # retention by size (default none)
//!     rollupBucket: 30s       # rollup granularity of a new file (default 30s)
//!     peerRollup: true        # also roll up per peer (addresses, processes; default false)
//! ```
//!
//! Every copy of a pipeline graph (one per worker) shares one writer thread per file. A full
//! queue blocks the stage, so a slow disk slows the pipeline rather than losing flows; rows lost
//! to a failed transaction are logged and counted in [`WriterStats`].

use crate::config::{Write, parse_go_duration};
use crate::record::{Record, Value};
use crate::stage::{BuildError, StageContext, section};
use netobserv_flowstore::fields::{self, FIELDS, Kind};
use netobserv_flowstore::{
    BackgroundWriter, BatchOptions, Cell, FlowRow, Retention, StoreOptions, WriterStats,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

pub use crate::config::SqliteWrite;

/// A running `sqlite` writer stage.
pub struct SqliteWriter {
    writer: BackgroundWriter,
}

fn shared() -> &'static Mutex<HashMap<PathBuf, BackgroundWriter>> {
    static WRITERS: OnceLock<Mutex<HashMap<PathBuf, BackgroundWriter>>> = OnceLock::new();
    WRITERS.get_or_init(Default::default)
}

impl SqliteWriter {
    /// Opens (or joins, for another copy of the graph) the writer of `config.path`.
    pub fn start(config: &SqliteWrite) -> Result<Self, String> {
        if config.path.is_empty() {
            return Err("sqlite: `path` is required".into());
        }
        let dur =
            |field: &str, v: &Option<String>| -> Result<Option<std::time::Duration>, String> {
                v.as_deref()
                    .map(|t| parse_go_duration(t).map_err(|e| format!("sqlite.{field}: {e}")))
                    .transpose()
            };
        let defaults = BatchOptions::default();
        let batch = BatchOptions {
            batch_rows: config.batch_size.unwrap_or(defaults.batch_rows).max(1),
            flush_interval: dur("flushInterval", &config.flush_interval)?
                .unwrap_or(defaults.flush_interval),
            ..defaults
        };
        let options = StoreOptions {
            bucket_ms: dur("rollupBucket", &config.rollup_bucket)?
                .map_or(StoreOptions::default().bucket_ms, |d| d.as_millis() as i64),
            retention: Retention {
                max_age: dur("maxAge", &config.max_age)?,
                max_bytes: config.max_bytes,
            },
            rollups: true,
            peer_rollup: config.peer_rollup.unwrap_or(false),
        };
        let path = PathBuf::from(&config.path);
        let mut writers = shared().lock().unwrap_or_else(PoisonError::into_inner);
        let writer = match writers.get(&path) {
            Some(w) => w.clone(),
            None => {
                let w = BackgroundWriter::start(&path, options, batch)
                    .map_err(|e| format!("sqlite: {e}"))?;
                writers.insert(path, w.clone());
                w
            }
        };
        Ok(Self { writer })
    }

    /// Converts and queues a batch (blocks while the writer's queue is full).
    pub fn write(&self, batch: &[Record]) {
        self.writer.send(batch.iter().map(row_of).collect());
    }

    /// The writer's counters.
    pub fn stats(&self) -> Arc<WriterStats> {
        self.writer.stats()
    }

    /// Waits until what was queued is committed.
    pub fn flush(&self) {
        self.writer.flush();
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        // Commit what this stage queued before the pipeline goes away.
        self.writer.flush();
    }
}

fn json_of(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A list as JSON text. Lists of scalars (interfaces, directions, flags: nearly all of them)
/// are serialised straight from the record's value; lists holding objects go through
/// `serde_json::Value`, whose objects sort their keys, as the store has always written them.
fn list_text(value: &Value) -> String {
    match value {
        Value::List(items)
            if !items
                .iter()
                .any(|i| matches!(i, Value::Map(_) | Value::List(_))) =>
        {
            serde_json::to_string(value).unwrap_or_default()
        }
        _ => json_of(value).to_string(),
    }
}

/// One record as a store row.
pub fn row_of(record: &Record) -> FlowRow {
    let mut row = FlowRow::default();
    for (name, value) in record.iter() {
        let Some(i) = fields::index(name) else {
            row.extra.insert(name.to_string(), json_of(value));
            continue;
        };
        let kind = FIELDS[i].kind;
        let cell = match value {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Int(i64::from(*b)),
            Value::Int(n) => Cell::Int(*n),
            Value::UInt(n) => Cell::Int(i64::try_from(*n).unwrap_or(i64::MAX)),
            Value::Float(f) if kind == Kind::Int && f.fract() == 0.0 => Cell::Int(*f as i64),
            Value::Float(f) => Cell::Real(*f),
            Value::Str(s) if kind == Kind::Int => s
                .parse()
                .map_or_else(|_| Cell::Text(s.to_string()), Cell::Int),
            Value::Str(s) => Cell::Text(s.to_string()),
            Value::Ip(ip) => Cell::Text(ip.to_string()),
            Value::List(_) | Value::Map(_) => Cell::Text(list_text(value)),
        };
        row.set_at(i, cell);
    }
    // The singular `Interface` column from the list, as `FlowRow::finish` does from JSON text,
    // without parsing back the text just written.
    if let (Some(single), Some(Value::List(names))) =
        (fields::index("Interface"), record.get("Interfaces"))
        && row.cells[single] == Cell::Null
    {
        let joined: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
        if !joined.is_empty() {
            row.cells[single] = Cell::Text(joined.join(","));
        }
    }
    row
}

impl super::Writer for SqliteWriter {
    fn write(&mut self, batch: &[Record]) -> super::Written {
        SqliteWriter::write(self, batch);
        super::Written {
            ok: batch.len() as u64,
            failed: 0,
        }
    }
}

/// Builder of `sqlite`: the copies of the graph share one writer thread per file.
pub fn build(
    write: &Write,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn super::Writer>, BuildError> {
    let config = section(write.sqlite.as_ref(), "sqlite")?;
    Ok(Box::new(
        SqliteWriter::start(config).map_err(BuildError::Invalid)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_become_rows_with_every_field_kept() {
        let record = Record::from_json(
            r#"{"SrcAddr":"10.0.0.1","Bytes":1200,"FlowDirection":1,"Interfaces":["eth0","br-ex"],
                "NetworkEvents":[{"Action":"drop","Name":"deny"}],"DnsLatencyMs":2.5,
                "SrcK8S_labels_app":"web"}"#,
        )
        .expect("record");
        let row = row_of(&record);
        assert_eq!(row.get("SrcAddr"), &Cell::Text("10.0.0.1".into()));
        assert_eq!(row.get("Bytes"), &Cell::Int(1200));
        assert_eq!(row.get("FlowDirection"), &Cell::Int(1));
        assert_eq!(
            row.get("Interfaces"),
            &Cell::Text(r#"["eth0","br-ex"]"#.into())
        );
        assert_eq!(row.get("Interface"), &Cell::Text("eth0,br-ex".into()));
        assert_eq!(
            row.get("NetworkEvents"),
            &Cell::Text(r#"[{"Action":"drop","Name":"deny"}]"#.into())
        );
        assert_eq!(row.get("DnsLatencyMs"), &Cell::Real(2.5));
        assert_eq!(
            row.extra.get("SrcK8S_labels_app"),
            Some(&serde_json::json!("web"))
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = SqliteWriter::start(&SqliteWrite::default())
            .err()
            .unwrap_or_default();
        assert!(err.contains("`path` is required"), "{err}");
        let err = SqliteWriter::start(&SqliteWrite {
            path: "/tmp/unused.db".into(),
            max_age: Some("a week".into()),
            ..SqliteWrite::default()
        })
        .err()
        .unwrap_or_default();
        assert!(err.contains("sqlite.maxAge"), "{err}");
    }
}
