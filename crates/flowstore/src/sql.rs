//! Queries as SQL text plus parameters, built from [`crate::query`] types. Pure functions of the
//! query and of what the file holds ([`StoreInfo`]), so tests compare the generated SQL.

use crate::error::{Error, Result};
use crate::fields::{EXTRA_COLUMN, FIELDS, Field, Kind, TIME_COLUMN};
use crate::filter::{FilterValue, Filters, Match, Op};
use crate::query::{
    MetricFunction, MetricType, MetricsQuery, PacketLoss, RecordType, RecordsQuery, Selection,
};
use crate::schema::RollupLevel;

/// A bound parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// Integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (address bounds).
    Blob(Vec<u8>),
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Int(i) => ValueRef::Integer(*i),
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
            Param::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// SQL text and its parameters (`?1`, `?2`... in order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sql {
    /// The statement.
    pub text: String,
    /// Its parameters.
    pub params: Vec<Param>,
}

impl Sql {
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("?{}", self.params.len())
    }
}

/// What a store file holds, which decides how a query can be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreInfo {
    /// Catalogued fields with a column in `flow` (catalogue spelling).
    pub columns: Vec<&'static str>,
    /// Whether `flow` has the `Extra` column.
    pub has_extra: bool,
    /// Whether `flow_rollup` exists (stores written here; not CLI capture files).
    pub has_rollup: bool,
    /// Rollup bucket length, ms.
    pub bucket_ms: i64,
    /// The rollup levels the file maintains (ids).
    pub rollup_levels: Vec<i64>,
}

impl StoreInfo {
    /// A store with the full schema.
    pub fn full(bucket_ms: i64) -> Self {
        Self {
            columns: FIELDS.iter().map(|f| f.name).collect(),
            has_extra: true,
            has_rollup: true,
            bucket_ms,
            rollup_levels: crate::schema::all_levels(),
        }
    }

    /// Whether field `name` has a column.
    pub fn has(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    fn require(&self, name: &str) -> Result<()> {
        if self.has(name) {
            Ok(())
        } else {
            Err(Error::Unsupported(format!(
                "this flow store has no `{name}` column (a capture file written without that field); remove the filter or aggregation on it"
            )))
        }
    }
}

/// Which table a query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// Raw flows.
    Flow,
    /// Per-bucket rollups of one level.
    Rollup(&'static RollupLevel),
}

/// How a metrics query was planned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricsPlan {
    /// The table read.
    pub table: Table,
    /// Percentile to compute from raw values (`p90`, `p99`), when the SQL returns values.
    pub quantile: Option<f64>,
    /// Origin of the step slots, Unix ms.
    pub origin_ms: i64,
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '*' => out.push('%'),
            c => out.push(c),
        }
    }
    out
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// SQL for one value of a match on column `c` (true when the value matches).
fn value_sql(sql: &mut Sql, field: &Field, value: &FilterValue) -> String {
    let c = field.name;
    match (field.kind, value) {
        (_, FilterValue::Empty) => format!("({c} IS NULL OR {c} = '')"),
        (_, FilterValue::Regex(re)) => format!("{c} REGEXP {}", sql.bind(Param::Text(re.clone()))),
        (_, FilterValue::Number(n)) => match field.kind {
            Kind::List => format!(
                "EXISTS (SELECT 1 FROM json_each({c}) WHERE json_each.value = {})",
                sql.bind(Param::Int(*n))
            ),
            _ => format!("{c} = {}", sql.bind(Param::Int(*n))),
        },
        (_, FilterValue::Addr(a)) => match a {
            crate::filter::AddrMatch::Ip(ip) => {
                format!("{c} = {}", sql.bind(Param::Text(ip.to_string())))
            }
            other => {
                let (lo, hi) = other.bounds();
                let lo = sql.bind(Param::Blob(lo.to_vec()));
                let hi = sql.bind(Param::Blob(hi.to_vec()));
                format!("inet_in({c}, {lo}, {hi})")
            }
        },
        (Kind::List, FilterValue::Exact(s)) if !s.contains('*') => format!(
            "EXISTS (SELECT 1 FROM json_each({c}) WHERE json_each.value = {})",
            sql.bind(Param::Text(s.clone()))
        ),
        (Kind::Events, FilterValue::Exact(s)) if !s.contains('*') => format!(
            "EXISTS (SELECT 1 FROM json_each({c}) e, json_each(e.value) v WHERE v.value = {})",
            sql.bind(Param::Text(s.clone()))
        ),
        (_, FilterValue::Exact(s)) if s.contains('*') => {
            format!("{c} GLOB {}", sql.bind(Param::Text(escape_glob(s))))
        }
        (_, FilterValue::Exact(s)) => format!("{c} = {}", sql.bind(Param::Text(s.clone()))),
        (_, FilterValue::Contains(s)) => format!(
            "{c} LIKE {} ESCAPE '\\'",
            sql.bind(Param::Text(format!("%{}%", escape_like(s))))
        ),
    }
}

/// SQL for one match.
fn match_sql(sql: &mut Sql, m: &Match) -> String {
    let any: Vec<String> = m
        .values
        .iter()
        .map(|v| match m.op {
            Op::GreaterOrEqual => match v {
                FilterValue::Number(n) => {
                    format!("{} >= {}", m.field.name, sql.bind(Param::Int(*n)))
                }
                _ => "0".to_string(),
            },
            _ => value_sql(sql, m.field, v),
        })
        .collect();
    let any = if any.len() == 1 {
        any.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", any.join(" OR "))
    };
    if m.op.negated() {
        format!("NOT coalesce({any}, 0)")
    } else {
        any
    }
}

fn filters_sql(sql: &mut Sql, filters: &Filters, info: &StoreInfo) -> Result<Option<String>> {
    for f in filters.fields() {
        info.require(f)?;
    }
    let groups: Vec<String> = filters
        .groups
        .iter()
        .map(|g| {
            let parts: Vec<String> = g.iter().map(|m| match_sql(sql, m)).collect();
            parts.join(" AND ")
        })
        .collect();
    Ok(match groups.len() {
        0 => None,
        1 => groups.into_iter().next(),
        _ => Some(format!(
            "({})",
            groups
                .iter()
                .map(|g| format!("({g})"))
                .collect::<Vec<_>>()
                .join(" OR ")
        )),
    })
}

/// The `WHERE` conditions of a selection (time range, record type, packet loss, filters).
fn selection_sql(
    sql: &mut Sql,
    sel: &Selection,
    info: &StoreInfo,
    table: Table,
) -> Result<Vec<String>> {
    let mut conds = Vec::new();
    match table {
        Table::Flow if info.has(TIME_COLUMN) => {
            let s = sql.bind(Param::Int(sel.range.start_ms));
            let e = sql.bind(Param::Int(sel.range.end_ms));
            conds.push(format!("{TIME_COLUMN} >= {s} AND {TIME_COLUMN} < {e}"));
        }
        Table::Flow => {}
        Table::Rollup(level) => {
            let start = sel.range.start_ms.div_euclid(info.bucket_ms) * info.bucket_ms;
            let s = sql.bind(Param::Int(start));
            let e = sql.bind(Param::Int(sel.range.end_ms));
            conds.push(format!(
                "Level = {} AND Bucket >= {s} AND Bucket < {e}",
                level.id
            ));
        }
    }
    if info.has("_RecordType") {
        match sel.record_type {
            RecordType::FlowLog => {
                conds.push("(_RecordType IS NULL OR _RecordType = 'flowLog')".into())
            }
            RecordType::AllConnections => {
                conds.push("_RecordType IN ('newConnection', 'heartbeat', 'endConnection')".into())
            }
            other => {
                let p = sql.bind(Param::Text(other.as_str().into()));
                conds.push(format!("_RecordType = {p}"));
            }
        }
    } else if sel.record_type != RecordType::FlowLog {
        info.require("_RecordType")?;
    }
    if sel.packet_loss != PacketLoss::All {
        info.require("PktDropPackets")?;
        if table == Table::Flow {
            match sel.packet_loss {
                PacketLoss::Dropped => conds
                    .push("coalesce(Packets, 0) = 0 AND coalesce(PktDropPackets, 0) >= 1".into()),
                PacketLoss::HasDrops => conds.push("coalesce(PktDropPackets, 0) >= 1".into()),
                PacketLoss::Sent => conds.push("coalesce(PktDropPackets, 0) = 0".into()),
                PacketLoss::All => {}
            }
        }
    }
    if let Some(f) = filters_sql(sql, &sel.filters, info)? {
        conds.push(f);
    }
    Ok(conds)
}

fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

/// The columns a record query reads (every catalogued column the file has, then `Extra`).
pub fn record_columns(info: &StoreInfo) -> Vec<&'static str> {
    let mut cols: Vec<&'static str> = FIELDS
        .iter()
        .map(|f| f.name)
        .filter(|n| info.has(n))
        .collect();
    if info.has_extra {
        cols.push(EXTRA_COLUMN);
    }
    cols
}

/// SQL for a page of raw records, newest first.
pub fn records_sql(q: &RecordsQuery, info: &StoreInfo) -> Result<Sql> {
    let mut sql = Sql::default();
    let conds = selection_sql(&mut sql, &q.selection, info, Table::Flow)?;
    let order = if info.has(TIME_COLUMN) {
        format!("{TIME_COLUMN} DESC")
    } else {
        "rowid DESC".into()
    };
    let limit = sql.bind(Param::Int(q.limit as i64));
    sql.text = format!(
        "SELECT {} FROM flow{} ORDER BY {order} LIMIT {limit}",
        record_columns(info).join(", "),
        where_clause(&conds),
    );
    Ok(sql)
}

/// Whether the FlowDirection de-duplication applies (bytes and packets are reported by both
/// nodes of a pod-to-pod flow: keep the ingress copy, and egress copies that have no ingress
/// twin), as the console does unless the user filters on `FlowDirection`.
fn dedup_condition(q: &MetricsQuery, info: &StoreInfo) -> Option<&'static str> {
    (matches!(q.metric_type, MetricType::Bytes | MetricType::Packets)
        && !q.selection.filters.mentions("FlowDirection")
        && info.has("FlowDirection")
        && info.has("DstK8S_Type"))
    .then_some(
        "(FlowDirection IS NULL OR FlowDirection IN (0, 2) OR (FlowDirection = 1 AND coalesce(DstK8S_Type, '') IN ('', 'Service')))",
    )
}

fn rollup_level(q: &MetricsQuery, info: &StoreInfo) -> Option<&'static RollupLevel> {
    let needed: Vec<&str> = q
        .labels
        .iter()
        .copied()
        .chain(q.selection.filters.fields())
        .collect();
    let step_ms = q.step_s * 1000;
    let function_ok = match q.function {
        MetricFunction::P90 | MetricFunction::P99 => false,
        MetricFunction::Min | MetricFunction::Max => q.metric_type.is_latency(),
        _ => true,
    };
    let ok = info.has_rollup
        && function_ok
        && q.selection.packet_loss == PacketLoss::All
        && step_ms >= info.bucket_ms
        && step_ms % info.bucket_ms == 0;
    if ok {
        crate::schema::rollup_level(needed.iter().copied(), &info.rollup_levels)
    } else {
        None
    }
}

/// SQL for an aggregated query. Rows are `(key, slot, sum, count, min, max)`, one per raw flow or
/// rollup row, where `key` joins the label values with NUL; the reader combines them per series
/// and step.
pub fn metrics_sql(q: &MetricsQuery, info: &StoreInfo) -> Result<(Sql, MetricsPlan)> {
    metrics_sql_with(q, info, true)
}

/// [`metrics_sql`], reading raw flows even when the rollups could answer when `allow_rollup` is
/// false (to check one against the other).
pub fn metrics_sql_with(
    q: &MetricsQuery,
    info: &StoreInfo,
    allow_rollup: bool,
) -> Result<(Sql, MetricsPlan)> {
    if q.metric_type.is_latency() && q.function == MetricFunction::Rate {
        return Err(Error::Invalid(format!(
            "function `rate` does not apply to {}: use avg, min, max, p90 or p99",
            q.metric_type.as_str()
        )));
    }
    if !q.metric_type.is_latency()
        && matches!(q.function, MetricFunction::P90 | MetricFunction::P99)
    {
        return Err(Error::Invalid(format!(
            "function `{}` applies to DnsLatencyMs and TimeFlowRttNs, not {}",
            q.function.as_str(),
            q.metric_type.as_str()
        )));
    }
    if q.step_s <= 0 {
        return Err(Error::Invalid("step must be positive".into()));
    }
    for l in &q.labels {
        info.require(l)?;
    }
    if let Some(f) = q.metric_type.field() {
        info.require(f)?;
    }
    let table = match rollup_level(q, info) {
        Some(level) if allow_rollup => Table::Rollup(level),
        _ => Table::Flow,
    };
    let mut sql = Sql::default();
    let mut conds = selection_sql(&mut sql, &q.selection, info, table)?;
    if let Some(d) = dedup_condition(q, info) {
        conds.push(d.into());
    }
    let step_ms = q.step_s * 1000;
    // Steps start at a bucket boundary whichever table answers, so raw and rolled-up answers
    // put a flow in the same step.
    let origin = q.selection.range.start_ms.div_euclid(info.bucket_ms) * info.bucket_ms;
    let time = match table {
        Table::Flow => TIME_COLUMN,
        Table::Rollup(_) => "Bucket",
    };
    let o = sql.bind(Param::Int(origin));
    let st = sql.bind(Param::Int(step_ms));
    let slot = if table == Table::Flow && !info.has(TIME_COLUMN) {
        // A capture file without timestamps: every flow in the first step.
        format!("0 * {o} * {st} AS slot")
    } else {
        format!("({time} - {o}) / {st} AS slot")
    };
    // The label values come back as one key column (values joined by NUL, absent = empty):
    // one column to decode per row instead of one per label.
    let select_labels = if q.labels.is_empty() {
        "'' AS k, ".to_string()
    } else {
        let parts: Vec<String> = q
            .labels
            .iter()
            .map(|l| format!("coalesce({l}, '')"))
            .collect();
        format!("{} AS k, ", parts.join(" || char(0) || "))
    };
    let quantile = match q.function {
        MetricFunction::P90 => Some(0.9),
        MetricFunction::P99 => Some(0.99),
        _ => None,
    };
    // Rows are aggregated per (labels, step) by the reader, not by SQL: a hash aggregation of
    // the streamed rows is several times faster than SQLite's sort-based GROUP BY here.
    let text = match table {
        Table::Flow => {
            let (measure, cond) = raw_measure(q.metric_type);
            if let Some(c) = cond {
                conds.push(c.into());
            }
            format!(
                "SELECT {select_labels}{slot}, {measure} AS s, 1 AS n, {measure} AS lo, {measure} AS hi FROM flow{}",
                where_clause(&conds)
            )
        }
        Table::Rollup(_) => {
            let (sum, count, min, max) = rollup_measure(q.metric_type);
            conds.push(format!("{count} > 0"));
            format!(
                "SELECT {select_labels}{slot}, {sum} AS s, {count} AS n, {min} AS lo, {max} AS hi FROM flow_rollup{}",
                where_clause(&conds)
            )
        }
    };
    sql.text = text;
    Ok((
        sql,
        MetricsPlan {
            table,
            quantile,
            origin_ms: origin,
        },
    ))
}

/// The per-record value expression and the condition a record needs to count.
fn raw_measure(t: MetricType) -> (&'static str, Option<&'static str>) {
    match t {
        MetricType::Bytes => ("Bytes", None),
        MetricType::Packets => ("Packets", None),
        MetricType::Flows => ("1", None),
        MetricType::DnsFlows => ("1", Some("DnsId IS NOT NULL")),
        MetricType::PktDropBytes => ("PktDropBytes", Some("PktDropPackets > 0")),
        MetricType::PktDropPackets => ("PktDropPackets", Some("PktDropPackets > 0")),
        MetricType::DnsLatencyMs => ("DnsLatencyMs", Some("DnsLatencyMs > 0")),
        MetricType::TimeFlowRttNs => ("TimeFlowRttNs / 1e6", Some("TimeFlowRttNs > 0")),
    }
}

/// Rollup expressions: (sum, count, min, max).
fn rollup_measure(t: MetricType) -> (&'static str, &'static str, &'static str, &'static str) {
    match t {
        MetricType::Bytes => ("Bytes", "Flows", "NULL", "NULL"),
        MetricType::Packets => ("Packets", "Flows", "NULL", "NULL"),
        MetricType::Flows => ("Flows", "Flows", "NULL", "NULL"),
        MetricType::DnsFlows => ("DnsFlows", "DnsFlows", "NULL", "NULL"),
        MetricType::PktDropBytes => ("PktDropBytes", "DropFlows", "NULL", "NULL"),
        MetricType::PktDropPackets => ("PktDropPackets", "DropFlows", "NULL", "NULL"),
        MetricType::DnsLatencyMs => (
            "DnsLatencySum",
            "DnsLatencyCount",
            "DnsLatencyMin",
            "DnsLatencyMax",
        ),
        MetricType::TimeFlowRttNs => ("RttSum / 1e6", "RttCount", "RttMin / 1e6", "RttMax / 1e6"),
    }
}

/// SQL for the distinct non-empty values of `field` among flows matching `filters`
/// (autocompletion), from the rollups when a level holds the field and the filtered fields.
pub fn label_values_sql(
    field: &str,
    filters: &Filters,
    range: Option<crate::query::TimeRange>,
    info: &StoreInfo,
    limit: usize,
) -> Result<Sql> {
    info.require(field)?;
    let f = crate::fields::field(field)
        .ok_or_else(|| Error::Invalid(format!("unknown field `{field}`")))?;
    let c = f.name;
    let level = if info.has_rollup {
        let needed: Vec<&str> = std::iter::once(c).chain(filters.fields()).collect();
        crate::schema::rollup_level(needed.iter().copied(), &info.rollup_levels)
    } else {
        None
    };
    let mut sql = Sql::default();
    let mut conds = vec![format!("{c} IS NOT NULL AND {c} != ''")];
    if let Some(l) = level {
        conds.push(format!("Level = {}", l.id));
    }
    if let Some(r) = range {
        if level.is_some() {
            let s = sql.bind(Param::Int(
                r.start_ms.div_euclid(info.bucket_ms) * info.bucket_ms,
            ));
            let e = sql.bind(Param::Int(r.end_ms));
            conds.push(format!("Bucket >= {s} AND Bucket < {e}"));
        } else if info.has(TIME_COLUMN) {
            let s = sql.bind(Param::Int(r.start_ms));
            let e = sql.bind(Param::Int(r.end_ms));
            conds.push(format!("{TIME_COLUMN} >= {s} AND {TIME_COLUMN} < {e}"));
        }
    }
    if let Some(f) = filters_sql(&mut sql, filters, info)? {
        conds.push(f);
    }
    let limit = sql.bind(Param::Int(limit as i64));
    sql.text = format!(
        "SELECT DISTINCT {c} FROM {}{} ORDER BY 1 LIMIT {limit}",
        if level.is_some() {
            "flow_rollup"
        } else {
            "flow"
        },
        where_clause(&conds)
    );
    Ok(sql)
}
