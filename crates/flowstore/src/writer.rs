//! Writing to a store: the schema on first open, one transaction per batch (raw rows and the
//! rollup upserts together, so a reader never sees one without the other), and retention by age
//! and by size.

use crate::error::{Error, Result};
use crate::fields::{self, EXTRA_COLUMN, FIELDS, TIME_COLUMN};
use crate::row::{Cell, FlowRow, key_of};
use crate::schema::{self, ROLLUP_DIMS, ROLLUP_LEVELS, ROLLUP_MEASURES, SCHEMA_VERSION};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Default rollup bucket: 30 s, the console's default step.
pub const DEFAULT_BUCKET_MS: i64 = 30_000;

/// How long flows are kept and how large the file may grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Rows whose `TimeFlowEndMs` is older than this are deleted.
    pub max_age: Option<Duration>,
    /// When the data pages exceed this many bytes, the oldest rows are deleted down to 90 %.
    pub max_bytes: Option<u64>,
}

/// Options of a writable store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Rollup bucket length in ms (kept from the file when it already has one).
    pub bucket_ms: i64,
    /// Retention limits.
    pub retention: Retention,
    /// Maintain the rollups (per-bucket aggregates the console's overview queries read) with
    /// each batch. Off for a file that stays small, such as a CLI capture bounded by
    /// `--max-bytes`: the rollup upserts cost more than the raw inserts, and readers answer
    /// every query from the raw flows of a file without rollups. Only a new file can be
    /// created without them; a file that has them keeps them maintained.
    pub rollups: bool,
    /// Also maintain the `peer` level (addresses, names, processes: the topology's resource and
    /// process scopes) in a new file. Cheap where peers repeat (a host: local mode), but where
    /// nearly every flow is a new peer pair it costs as much as the raw insert (ingest 46k instead
    /// of 106k flows per CPU-second on the bench's cluster-shaped flows), so it is asked for.
    pub peer_rollup: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            bucket_ms: DEFAULT_BUCKET_MS,
            retention: Retention::default(),
            rollups: true,
            peer_rollup: false,
        }
    }
}

/// What one retention pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Raw rows deleted for age.
    pub aged_out: u64,
    /// Raw rows deleted for size.
    pub size_evicted: u64,
}

/// A store opened for writing.
pub struct Store {
    conn: Connection,
    bucket_ms: i64,
    retention: Retention,
    insert_sql: String,
    rollup_sql: String,
    /// Whether [`Store::insert`] writes rollups.
    rollups: bool,
    /// Per level: its id, and for each rollup column the field position when the level keeps it.
    levels: Vec<(i64, Vec<Option<usize>>)>,
    /// The transaction [`Store::append`] left open, if any.
    open: Option<OpenBatch>,
}

/// Rollup keys: level, bucket, dimension hash.
type AggKey = (i64, i64, i64);

/// A transaction left open across [`Store::append`] calls: the rows are already in SQLite (its
/// page cache holds them, bounded), only their rollup sums wait here for the commit. A writer
/// thus holds no rows of its own between two commits, however many it groups.
#[derive(Default)]
struct OpenBatch {
    aggs: HashMap<AggKey, Agg>,
    rows: usize,
}

#[derive(Default)]
struct Agg {
    dims: Vec<Cell>,
    /// In [`ROLLUP_MEASURES`] order.
    m: [Option<i64>; 15],
}

impl Agg {
    fn add(&mut self, slot: usize, v: i64) {
        self.m[slot] = Some(self.m[slot].unwrap_or(0) + v);
    }
    fn min(&mut self, slot: usize, v: i64) {
        self.m[slot] = Some(self.m[slot].map_or(v, |m| m.min(v)));
    }
    fn max(&mut self, slot: usize, v: i64) {
        self.m[slot] = Some(self.m[slot].map_or(v, |m| m.max(v)));
    }
}

fn idx(name: &str) -> usize {
    // Every name used here is in the catalogue (checked by a test).
    fields::index(name).unwrap_or(0)
}

impl Store {
    /// Opens (creating when missing) the store at `path` for writing.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| Error::open(path, e))?;
        Self::init(conn, options).map_err(|e| e.at(path))
    }

    /// An in-memory store, for tests and benchmarks of the query layer.
    pub fn in_memory(options: StoreOptions) -> Result<Self> {
        Self::init(Connection::open_in_memory()?, options)
    }

    fn init(conn: Connection, options: StoreOptions) -> Result<Self> {
        if options.bucket_ms <= 0 {
            return Err(Error::Invalid(format!(
                "rollup bucket must be positive, got {} ms",
                options.bucket_ms
            )));
        }
        // auto_vacuum only takes effect before the first table exists.
        conn.execute_batch(
            "PRAGMA page_size = 8192; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384; PRAGMA busy_timeout = 5000;",
        )?;
        conn.execute_batch(&schema::ddl())?;
        add_missing_columns(&conn)?;
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(v) = version.as_deref().and_then(|v| v.parse::<i64>().ok())
            && v > SCHEMA_VERSION
        {
            return Err(Error::Invalid(format!(
                "the file has schema version {v}, newer than this build's {SCHEMA_VERSION}"
            )));
        }
        let stored_bucket: Option<String> = conn
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'rollup_bucket_ms'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let bucket_ms = match stored_bucket.and_then(|b| b.parse::<i64>().ok()) {
            Some(b) if b > 0 => {
                if b != options.bucket_ms {
                    tracing::warn!(
                        file = b,
                        asked = options.bucket_ms,
                        "the store keeps the rollup bucket it was created with"
                    );
                }
                b
            }
            _ => options.bucket_ms,
        };
        conn.execute(
            "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('schema_version', ?1), ('rollup_bucket_ms', ?2)",
            params![SCHEMA_VERSION.to_string(), bucket_ms.to_string()],
        )?;
        // Rows written before this writer (a capture file appended to) have no rollups: readers
        // then answer from raw flows only.
        let maintained: Option<String> = conn
            .query_row(
                "SELECT value FROM store_meta WHERE key = 'rollups'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let rows: i64 = conn.query_row("SELECT count(*) FROM flow", [], |r| r.get(0))?;
        let rollups = maintained.is_some() || (rows == 0 && options.rollups);
        if maintained.is_none() && rollups {
            // A new file maintains every level from its first row; one written by an older
            // build keeps the levels it had (a level started later would miss the older rows).
            let levels = schema::all_levels()
                .iter()
                .filter(|l| options.peer_rollup || **l != schema::PEER_LEVEL)
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            conn.execute(
                "INSERT INTO store_meta (key, value) VALUES ('rollups', 'maintained'), ('rollup_levels', ?1)",
                [levels],
            )?;
        } else if maintained.is_none() && rows > 0 {
            tracing::warn!(
                rows,
                "appending to a file with flows but no rollups: queries will read raw flows"
            );
        }
        let kept = rollup_levels_of(&conn);
        let cols: Vec<&str> = FIELDS
            .iter()
            .map(|f| f.name)
            .chain([EXTRA_COLUMN])
            .collect();
        let insert_sql = format!(
            "INSERT INTO flow ({}) VALUES ({})",
            cols.join(", "),
            (1..=cols.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Self {
            conn,
            bucket_ms,
            retention: options.retention,
            insert_sql,
            rollup_sql: rollup_upsert_sql(),
            rollups,
            levels: ROLLUP_LEVELS
                .iter()
                .filter(|l| kept.contains(&l.id))
                .map(|l| {
                    let cols = ROLLUP_DIMS
                        .iter()
                        .map(|d| l.dims.contains(d).then(|| idx(d)))
                        .collect();
                    (l.id, cols)
                })
                .collect(),
            open: None,
        })
    }

    /// The rollup bucket length in ms.
    pub fn bucket_ms(&self) -> i64 {
        self.bucket_ms
    }

    /// The connection, for readers sharing an in-memory store.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Inserts a batch in one transaction: the raw rows and their rollups.
    pub fn insert(&mut self, rows: &[FlowRow]) -> Result<usize> {
        self.append(rows)?;
        self.commit()
    }

    /// Inserts rows into the open transaction (opening one if needed); they become visible at
    /// [`Store::commit`]. On error the whole open transaction is rolled back: see
    /// [`Store::pending_rows`] for what that loses.
    pub fn append(&mut self, rows: &[FlowRow]) -> Result<()> {
        if self.open.is_none() {
            self.conn.execute_batch("BEGIN")?;
            self.open = Some(OpenBatch::default());
        }
        if let Err(e) = self.insert_rows(rows) {
            self.rollback();
            return Err(e);
        }
        let mut open = self.open.take().unwrap_or_default();
        if self.rollups {
            self.aggregate_into(rows, &mut open.aggs);
        }
        open.rows += rows.len();
        self.open = Some(open);
        Ok(())
    }

    /// Rows appended since the last commit.
    pub fn pending_rows(&self) -> usize {
        self.open.as_ref().map_or(0, |o| o.rows)
    }

    /// Writes the open transaction's rollups and commits it; returns its rows (0 when none was
    /// open). On error it is rolled back.
    pub fn commit(&mut self) -> Result<usize> {
        let Some(open) = self.open.take() else {
            return Ok(0);
        };
        let result = self
            .upsert_rollups(&open.aggs)
            .and_then(|()| Ok(self.conn.execute_batch("COMMIT")?));
        if let Err(e) = result {
            self.open = Some(open);
            self.rollback();
            return Err(e);
        }
        Ok(open.rows)
    }

    /// Abandons the open transaction.
    fn rollback(&mut self) {
        self.open = None;
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn insert_rows(&self, rows: &[FlowRow]) -> Result<()> {
        let mut st = self.conn.prepare_cached(&self.insert_sql)?;
        let extra_at = FIELDS.len() + 1;
        for row in rows {
            // Bindings persist across executions: clear them and bind only present cells
            // (a record fills about half the columns).
            st.clear_bindings();
            for (i, c) in row.cells.iter().enumerate() {
                if *c != Cell::Null {
                    st.raw_bind_parameter(i + 1, c)?;
                }
            }
            if !row.extra.is_empty() {
                st.raw_bind_parameter(extra_at, row.extra_cell())?;
            }
            st.raw_execute()?;
        }
        Ok(())
    }

    fn upsert_rollups(&self, aggs: &HashMap<AggKey, Agg>) -> Result<()> {
        let mut up = self.conn.prepare_cached(&self.rollup_sql)?;
        for ((level, bucket, key), agg) in aggs {
            up.raw_bind_parameter(1, level)?;
            up.raw_bind_parameter(2, bucket)?;
            up.raw_bind_parameter(3, key)?;
            let mut p = 4;
            for d in &agg.dims {
                up.raw_bind_parameter(p, d)?;
                p += 1;
            }
            for m in &agg.m {
                up.raw_bind_parameter(p, m)?;
                p += 1;
            }
            up.raw_execute()?;
        }
        Ok(())
    }

    fn aggregate_into(&self, rows: &[FlowRow], aggs: &mut HashMap<AggKey, Agg>) {
        let (t, bytes, packets, dbytes, dpackets, dns_id, dns_lat, rtt) = (
            idx(TIME_COLUMN),
            idx("Bytes"),
            idx("Packets"),
            idx("PktDropBytes"),
            idx("PktDropPackets"),
            idx("DnsId"),
            idx("DnsLatencyMs"),
            idx("TimeFlowRttNs"),
        );
        static NULL: Cell = Cell::Null;
        for row in rows {
            let time = row.cells[t].as_i64().unwrap_or(0);
            let bucket = time.div_euclid(self.bucket_ms) * self.bucket_ms;
            for (level, cols) in &self.levels {
                let cell = |c: &Option<usize>| c.map_or(&NULL, |i| &row.cells[i]);
                let key = key_of(cols.iter().map(cell));
                let agg = aggs.entry((*level, bucket, key)).or_insert_with(|| Agg {
                    dims: cols.iter().map(|c| cell(c).clone()).collect(),
                    ..Agg::default()
                });
                let v = |i: usize| row.cells[i].as_i64().unwrap_or(0);
                agg.add(0, 1);
                agg.add(1, v(bytes));
                agg.add(2, v(packets));
                agg.add(3, v(dbytes));
                agg.add(4, v(dpackets));
                agg.add(5, i64::from(v(dpackets) > 0));
                agg.add(6, i64::from(row.cells[dns_id] != Cell::Null));
                let lat = v(dns_lat);
                if lat > 0 {
                    agg.add(7, lat);
                    agg.add(8, 1);
                    agg.min(9, lat);
                    agg.max(10, lat);
                }
                let r = v(rtt);
                if r > 0 {
                    agg.add(11, r);
                    agg.add(12, 1);
                    agg.min(13, r);
                    agg.max(14, r);
                }
            }
        }
    }

    /// Deletes what the retention limits exclude. `now_ms` is the wall clock in Unix ms.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<RetentionReport> {
        let mut report = RetentionReport::default();
        if let Some(age) = self.retention.max_age {
            let cutoff = now_ms - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
            report.aged_out = self.delete_before(cutoff)?;
        }
        if let Some(max) = self.retention.max_bytes {
            // Rows are not the only pages (rollups, the index): estimate, delete, measure again.
            for _ in 0..8 {
                let used = self.data_bytes()?;
                if used <= max {
                    break;
                }
                let rows: i64 = self
                    .conn
                    .query_row("SELECT count(*) FROM flow", [], |r| r.get(0))?;
                let keep = (max as f64 * 0.9) / used as f64;
                let evict = ((rows as f64) * (1.0 - keep)).ceil() as i64;
                if evict <= 0 || rows <= 1 {
                    break;
                }
                let cutoff: Option<i64> = self
                    .conn
                    .query_row(
                        &format!(
                            "SELECT {TIME_COLUMN} FROM flow ORDER BY {TIME_COLUMN} LIMIT 1 OFFSET ?1"
                        ),
                        [evict.min(rows - 1)],
                        |r| r.get(0),
                    )
                    .optional()?
                    .flatten();
                let Some(c) = cutoff else { break };
                let deleted = self.delete_before(c)?;
                if deleted == 0 {
                    break;
                }
                report.size_evicted += deleted;
            }
        }
        if report != RetentionReport::default() {
            // Freed pages go back to the OS once the WAL is checkpointed into the file.
            // incremental_vacuum frees one page per step: run it to the end.
            {
                let mut st = self.conn.prepare("PRAGMA incremental_vacuum")?;
                let mut rows = st.query([])?;
                while rows.next()?.is_some() {}
            }
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(report)
    }

    fn delete_before(&mut self, cutoff_ms: i64) -> Result<u64> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            &format!("DELETE FROM flow WHERE {TIME_COLUMN} < ?1"),
            [cutoff_ms],
        )?;
        tx.execute(
            "DELETE FROM flow_rollup WHERE Bucket + ?2 <= ?1",
            params![cutoff_ms, self.bucket_ms],
        )?;
        tx.commit()?;
        Ok(n as u64)
    }

    /// Bytes held by pages in use (the file size minus free pages).
    pub fn data_bytes(&self) -> Result<u64> {
        let (count, free, size): (i64, i64, i64) = self.conn.query_row(
            "SELECT (SELECT page_count FROM pragma_page_count), \
             (SELECT freelist_count FROM pragma_freelist_count), \
             (SELECT page_size FROM pragma_page_size)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(((count - free).max(0) * size) as u64)
    }
}

/// Adds catalogued columns a file lacks (a CLI capture file, or an older store), so the writer
/// can append to it; likewise the rollup dimensions an older store's `flow_rollup` lacks (NULL in
/// its rows, as in every level that does not keep them).
fn add_missing_columns(conn: &Connection) -> Result<()> {
    let present = crate::reader::table_columns(conn, "flow")?;
    for f in FIELDS
        .iter()
        .map(|f| (f.name, f.kind.sql_type()))
        .chain([(EXTRA_COLUMN, "TEXT")])
    {
        if !present.iter().any(|p| p.eq_ignore_ascii_case(f.0)) {
            conn.execute_batch(&format!("ALTER TABLE flow ADD COLUMN {} {}", f.0, f.1))?;
        }
    }
    let present = crate::reader::table_columns(conn, "flow_rollup")?;
    for d in ROLLUP_DIMS {
        if !present.iter().any(|p| p.eq_ignore_ascii_case(d)) {
            let ty = fields::field(d).map_or("TEXT", |f| f.kind.sql_type());
            conn.execute_batch(&format!("ALTER TABLE flow_rollup ADD COLUMN {d} {ty}"))?;
        }
    }
    Ok(())
}

/// The rollup levels a store maintains: `rollup_levels` in `store_meta`, else (a store written
/// before that key) the levels every store had then.
pub(crate) fn rollup_levels_of(conn: &Connection) -> Vec<i64> {
    let listed: Option<String> = conn
        .query_row(
            "SELECT value FROM store_meta WHERE key = 'rollup_levels'",
            [],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    match listed {
        Some(text) => text
            .split(',')
            .filter_map(|l| l.trim().parse().ok())
            .collect(),
        None => schema::LEGACY_LEVELS.to_vec(),
    }
}

fn rollup_upsert_sql() -> String {
    let cols: Vec<&str> = ["Level", "Bucket", "DimKey"]
        .into_iter()
        .chain(ROLLUP_DIMS.iter().copied())
        .chain(ROLLUP_MEASURES.iter().copied())
        .collect();
    let sets: Vec<String> = ROLLUP_MEASURES
        .iter()
        .map(|m| {
            if m.ends_with("Min") {
                format!("{m} = min(coalesce({m}, excluded.{m}), coalesce(excluded.{m}, {m}))")
            } else if m.ends_with("Max") {
                format!("{m} = max(coalesce({m}, excluded.{m}), coalesce(excluded.{m}, {m}))")
            } else {
                format!("{m} = coalesce({m}, 0) + coalesce(excluded.{m}, 0)")
            }
        })
        .collect();
    format!(
        "INSERT INTO flow_rollup ({}) VALUES ({}) ON CONFLICT (Level, Bucket, DimKey) DO UPDATE SET {}",
        cols.join(", "),
        (1..=cols.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", "),
        sets.join(", ")
    )
}
