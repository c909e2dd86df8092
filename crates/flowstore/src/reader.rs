//! Reading a store: a store written here, or a capture file the CLI (or `sqlite3` from the
//! documented schema) made, opened read-only. What the file holds is found from its columns, so
//! a file with fewer columns answers what it can and names what it cannot.

use crate::error::{Error, Result};
use crate::fields::{self, EXTRA_COLUMN, FIELDS};
use crate::query::{MetricFunction, MetricsQuery, RecordsQuery, Series, TimeRange, top_series};
use crate::row::json_of;
use crate::sql::{self, Sql, StoreInfo};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Read connections kept open per reader.
const POOL: usize = 4;

/// Column names of `table` as the file spells them.
pub fn table_columns(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = st
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

/// Registers `regexp` (for `REGEXP`) and `inet_in` (address ranges) on a connection.
pub fn register_functions(conn: &Connection) -> Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("regexp", 2, flags, |ctx| {
        type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
        let re: Arc<regex::Regex> = ctx.get_or_create_aux(0, |v| -> Result<_, BoxError> {
            Ok(regex::Regex::new(v.as_str()?)?)
        })?;
        let text = match ctx.get_raw(1) {
            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            rusqlite::types::ValueRef::Integer(i) => i.to_string(),
            rusqlite::types::ValueRef::Real(f) => f.to_string(),
            _ => return Ok(false),
        };
        Ok(re.is_match(&text))
    })?;
    conn.create_scalar_function("inet_in", 3, flags, |ctx| {
        let addr = match ctx.get_raw(0) {
            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            _ => return Ok(false),
        };
        let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
            return Ok(false);
        };
        let v = crate::filter::to16(ip);
        let lo = ctx.get_raw(1).as_blob().unwrap_or(&[]);
        let hi = ctx.get_raw(2).as_blob().unwrap_or(&[]);
        Ok(lo <= v.as_slice() && v.as_slice() <= hi)
    })?;
    Ok(())
}

/// What the file holds, read from its schema.
pub fn store_info(conn: &Connection) -> Result<StoreInfo> {
    let cols = table_columns(conn, "flow")?;
    if cols.is_empty() {
        return Err(Error::Invalid(
            "no `flow` table: not a flow store or capture file".into(),
        ));
    }
    let has = |n: &str| cols.iter().any(|c| c.eq_ignore_ascii_case(n));
    // Rollups are only trusted when the writer that maintains them says so: a file made by hand
    // from the schema has an empty `flow_rollup`.
    let has_rollup = !table_columns(conn, "flow_rollup")?.is_empty()
        && conn
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'rollups'",
                [],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .ok()
            .flatten()
            .as_deref()
            == Some("maintained");
    let bucket_ms = if has_rollup {
        conn.query_row(
            "SELECT value FROM store_meta WHERE key = 'rollup_bucket_ms'",
            [],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(crate::writer::DEFAULT_BUCKET_MS)
    } else {
        crate::writer::DEFAULT_BUCKET_MS
    };
    let rollup_levels = if has_rollup {
        crate::writer::rollup_levels_of(conn)
    } else {
        Vec::new()
    };
    Ok(StoreInfo {
        columns: FIELDS.iter().map(|f| f.name).filter(|n| has(n)).collect(),
        has_extra: has(EXTRA_COLUMN),
        has_rollup,
        bucket_ms,
        rollup_levels,
    })
}

/// Records read from the store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordsResult {
    /// The records, newest first, fields as JSON.
    pub records: Vec<Map<String, Value>>,
    /// Whether `limit` cut the answer.
    pub limit_reached: bool,
}

/// Series read from the store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsResult {
    /// The top series.
    pub series: Vec<Series>,
    /// Whether the rollups answered (rather than raw flows).
    pub from_rollup: bool,
}

/// A store opened for reading.
pub struct Reader {
    path: PathBuf,
    info: StoreInfo,
    pool: Mutex<Vec<Connection>>,
    memory: Option<Arc<Mutex<Connection>>>,
}

impl Reader {
    /// Opens the file at `path` read-only (a store being written, or a capture file).
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::Invalid(format!(
                "flow store {} does not exist",
                path.display()
            )));
        }
        let conn = open_read_only(path)?;
        let info = store_info(&conn).map_err(|e| e.at(path))?;
        Ok(Self {
            path: path.to_path_buf(),
            info,
            pool: Mutex::new(vec![conn]),
            memory: None,
        })
    }

    /// A reader over an existing connection (an in-memory store in tests).
    pub fn from_connection(conn: Connection) -> Result<Self> {
        register_functions(&conn)?;
        let info = store_info(&conn)?;
        Ok(Self {
            path: PathBuf::from(":memory:"),
            info,
            pool: Mutex::new(Vec::new()),
            memory: Some(Arc::new(Mutex::new(conn))),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file holds.
    pub fn info(&self) -> &StoreInfo {
        &self.info
    }

    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if let Some(m) = &self.memory {
            let conn = m.lock().unwrap_or_else(PoisonError::into_inner);
            return f(&conn);
        }
        let taken = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(c) => c,
            None => open_read_only(&self.path)?,
        };
        let out = f(&conn);
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < POOL {
            pool.push(conn);
        }
        out
    }

    /// Number of raw flows.
    pub fn count(&self) -> Result<u64> {
        self.with_conn(|c| {
            Ok(c.query_row("SELECT count(*) FROM flow", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    /// Oldest and newest `TimeFlowEndMs` (Unix ms), to open a capture file on its own time
    /// range; `None` when empty or without timestamps.
    pub fn time_bounds(&self) -> Result<Option<(i64, i64)>> {
        if !self.info.has(crate::fields::TIME_COLUMN) {
            return Ok(None);
        }
        self.with_conn(|c| {
            let (lo, hi): (Option<i64>, Option<i64>) = c.query_row(
                "SELECT min(TimeFlowEndMs), max(TimeFlowEndMs) FROM flow",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(lo.zip(hi))
        })
    }

    /// A page of records, newest first.
    pub fn records(&self, q: &RecordsQuery) -> Result<RecordsResult> {
        let mut probe = q.clone();
        probe.limit = q.limit.saturating_add(1);
        let sql = sql::records_sql(&probe, &self.info)?;
        let cols = sql::record_columns(&self.info);
        let kinds: Vec<Option<fields::Kind>> = cols
            .iter()
            .map(|c| fields::field(c).map(|f| f.kind))
            .collect();
        let mut records = self.with_conn(|c| {
            let mut st = c.prepare_cached(&sql.text)?;
            let mut rows = st.query(rusqlite::params_from_iter(sql.params.iter()))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut rec = Map::new();
                for (i, name) in cols.iter().enumerate() {
                    let v = row.get_ref(i)?;
                    match kinds[i] {
                        Some(kind) => {
                            if let Some(j) = json_of(kind, v) {
                                rec.insert((*name).to_string(), j);
                            }
                        }
                        None => {
                            if let rusqlite::types::ValueRef::Text(t) = v
                                && let Ok(Value::Object(extra)) = serde_json::from_slice(t)
                            {
                                for (k, v) in extra {
                                    rec.entry(k).or_insert(v);
                                }
                            }
                        }
                    }
                }
                out.push(rec);
            }
            Ok(out)
        })?;
        let limit_reached = records.len() > q.limit;
        records.truncate(q.limit);
        Ok(RecordsResult {
            records,
            limit_reached,
        })
    }

    /// Aggregated series, top `limit` of them.
    pub fn metrics(&self, q: &MetricsQuery) -> Result<MetricsResult> {
        self.metrics_with(q, true)
    }

    /// [`Self::metrics`], from raw flows only when `allow_rollup` is false.
    pub fn metrics_with(&self, q: &MetricsQuery, allow_rollup: bool) -> Result<MetricsResult> {
        let (sql, plan) = sql::metrics_sql_with(q, &self.info, allow_rollup)?;
        let nl = q.labels.len();
        let quantile = plan.quantile;
        let cells = self.with_conn(|c| aggregate_rows(c, &sql, nl, quantile.is_some()))?;
        let step_ms = q.step_s * 1000;
        let step_s = q.step_s as f64;
        // Absent and empty label values share a key (NULL adds no text), as Prometheus and Loki
        // treat them alike.
        let series: Vec<Series> = cells
            .into_iter()
            .map(|(labels, slots)| {
                let mut values: Vec<(i64, f64)> = slots
                    .into_iter()
                    .filter(|(_, acc)| acc.n > 0.0)
                    .map(|(slot, acc)| {
                        let v = match (quantile, q.function) {
                            (Some(qt), _) => quantile_of(acc.values, qt),
                            (None, MetricFunction::Rate) => acc.s / step_s,
                            (None, MetricFunction::Count) => acc.n,
                            (None, MetricFunction::Sum) => acc.s,
                            (None, MetricFunction::Avg) => acc.s / acc.n,
                            (None, MetricFunction::Min) => acc.lo,
                            (None, _) => acc.hi,
                        };
                        ((plan.origin_ms + (slot + 1) * step_ms) / 1000, v)
                    })
                    .collect();
                values.sort_by_key(|(t, _)| *t);
                Series {
                    labels: q
                        .labels
                        .iter()
                        .zip(labels)
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| ((*k).to_string(), v))
                        .collect(),
                    values,
                }
            })
            .filter(|s| !s.values.is_empty())
            .collect();
        let series = top_series(series, q.function, q.limit);
        Ok(MetricsResult {
            series,
            from_rollup: plan.table != sql::Table::Flow,
        })
    }

    /// Distinct non-empty values of `field`, sorted.
    pub fn label_values(
        &self,
        field: &str,
        filters: &crate::filter::Filters,
        range: Option<TimeRange>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let sql = sql::label_values_sql(field, filters, range, &self.info, limit)?;
        self.with_conn(|c| {
            let mut st = c.prepare_cached(&sql.text)?;
            let vals = st
                .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                    Ok(match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                        rusqlite::types::ValueRef::Real(f) => f.to_string(),
                        _ => String::new(),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(vals)
        })
    }
}

/// Opens read-only. A WAL file whose `-shm` cannot be created (a read-only directory, a file
/// owned by someone else) is opened as immutable instead: no writer can be running there.
fn open_read_only(path: &Path) -> Result<Connection> {
    match open_with(path, false) {
        Ok(c) => Ok(c),
        Err(first) => open_with(path, true).map_err(|_| first),
    }
}

fn open_with(path: &Path, immutable: bool) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = if immutable {
        let uri = format!("file:{}?immutable=1", path.display());
        Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
    } else {
        Connection::open_with_flags(path, flags)
    }
    .map_err(|e| Error::open(path, e))?;
    // Opening is lazy: read the schema now so a bad file fails here, with its name.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(|e| Error::open(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Reads map the file instead of copying pages into a per-connection cache.
    conn.query_row("PRAGMA mmap_size = 1073741824", [], |_| Ok(()))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(()),
            other => Err(other),
        })?;
    register_functions(&conn)?;
    Ok(conn)
}

/// Sums, count, minimum and maximum of the rows of one series and step.
#[derive(Default)]
struct Acc {
    s: f64,
    n: f64,
    lo: f64,
    hi: f64,
    /// Every value, for percentiles.
    values: Vec<f64>,
}

/// Appends a label value to a key buffer, as text, then a separator (0 cannot occur in text).
fn push_label(buf: &mut Vec<u8>, v: rusqlite::types::ValueRef<'_>) {
    match v {
        rusqlite::types::ValueRef::Integer(i) => buf.extend_from_slice(i.to_string().as_bytes()),
        rusqlite::types::ValueRef::Real(f) => buf.extend_from_slice(f.to_string().as_bytes()),
        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
            buf.extend_from_slice(t)
        }
        rusqlite::types::ValueRef::Null => {}
    }
    buf.push(0);
}

fn real(v: rusqlite::types::ValueRef<'_>) -> Option<f64> {
    match v {
        rusqlite::types::ValueRef::Integer(i) => Some(i as f64),
        rusqlite::types::ValueRef::Real(f) => Some(f),
        _ => None,
    }
}

type Fast<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One series' label values and its accumulators per step.
type SeriesCells = (Vec<String>, Vec<(i64, Acc)>);

/// Accumulators by series key (label values joined by NUL) and step.
type Cells = Fast<Vec<u8>, Fast<i64, Acc>>;

/// Streams `(key, slot, s, n, lo, hi)` rows into per-(key, slot) accumulators, then splits the
/// keys into the `nl` label values. The key buffer is reused, so a row that lands in a known
/// series allocates nothing.
fn aggregate_rows(
    c: &Connection,
    sql: &Sql,
    nl: usize,
    keep_values: bool,
) -> Result<Vec<SeriesCells>> {
    let mut st = c.prepare_cached(&sql.text)?;
    let mut rows = st.query(rusqlite::params_from_iter(sql.params.iter()))?;
    let mut cells: Cells = Cells::default();
    let mut key = Vec::with_capacity(64);
    while let Some(row) = rows.next()? {
        key.clear();
        push_label(&mut key, row.get_ref(0)?);
        let slot: i64 = row.get(1)?;
        let Some(s) = real(row.get_ref(2)?) else {
            continue;
        };
        let n = real(row.get_ref(3)?).unwrap_or(0.0);
        let lo = real(row.get_ref(4)?);
        let hi = real(row.get_ref(5)?);
        let series = match cells.get_mut(key.as_slice()) {
            Some(s) => s,
            None => cells.entry(key.clone()).or_default(),
        };
        let acc = series.entry(slot).or_insert_with(|| Acc {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            ..Acc::default()
        });
        acc.s += s;
        acc.n += n;
        if let Some(lo) = lo {
            acc.lo = acc.lo.min(lo);
        }
        if let Some(hi) = hi {
            acc.hi = acc.hi.max(hi);
        }
        if keep_values {
            acc.values.push(s);
        }
    }
    Ok(cells
        .into_iter()
        .map(|(k, slots)| {
            let mut labels: Vec<String> = k
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            labels.truncate(nl);
            (labels, slots.into_iter().collect())
        })
        .collect())
}

fn quantile_of(mut vals: Vec<f64>, q: f64) -> f64 {
    vals.sort_by(f64::total_cmp);
    if vals.is_empty() {
        return 0.0;
    }
    let rank = (q * (vals.len() - 1) as f64).round() as usize;
    vals[rank.min(vals.len() - 1)]
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_wal_store_opens_as_immutable_too() {
        let dir = std::env::temp_dir().join(format!("flowstore-immutable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("flows.db");
        let _ = std::fs::remove_file(&path);
        let row = crate::row::FlowRow::from_json(
            serde_json::json!({"TimeFlowEndMs": 5, "Bytes": 7})
                .as_object()
                .expect("object"),
        );
        crate::writer::Store::open(&path, crate::writer::StoreOptions::default())
            .and_then(|mut s| s.insert(&[row]))
            .expect("written");
        let conn = super::open_with(&path, true).expect("immutable open");
        let n: i64 = conn
            .query_row("SELECT sum(Bytes) FROM flow", [], |r| r.get(0))
            .expect("query");
        assert_eq!(n, 7);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
