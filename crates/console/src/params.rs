//! Request parameters (reference §B.2) into source-independent queries, refusing bad input with
//! a message that names the parameter and what to change.

use crate::config::parse_duration;
use netobserv_flowstore::fields;
use netobserv_flowstore::filter::{Filters, Match};
use netobserv_flowstore::query::{
    MetricFunction, MetricType, MetricsQuery, PacketLoss, RecordType, RecordsQuery, Selection,
    TimeRange,
};
use std::collections::HashMap;

/// The labels of each scope: the flow store defines them for every source.
pub use netobserv_flowstore::query::scope_labels;

/// The longest time range a query may cover.
pub const MAX_RANGE_S: i64 = 31 * 24 * 3600;
/// The default time range, seconds back from now.
pub const DEFAULT_RANGE_S: i64 = 300;
/// Most points a series may have (Prometheus' own limit is 11,000).
pub const MAX_POINTS: i64 = 11_000;
/// Largest `limit` of a records query.
pub const MAX_RECORDS: usize = 100_000;
/// Largest `limit` (top N) of a metrics query.
pub const MAX_SERIES: usize = 1_000;

/// A bad parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

type Params = HashMap<String, String>;

fn get<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

fn seconds(p: &Params, k: &str) -> Result<Option<f64>, ParamError> {
    get(p, k)
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .ok_or_else(|| {
                    ParamError(format!("{k}: `{v}` is not a number of seconds (Unix time)"))
                })
                .and_then(|f| {
                    // Beyond the year 5000: most likely milliseconds.
                    if k != "timeRange" && f > 1e11 {
                        Err(ParamError(format!(
                            "{k}: `{v}` is not a Unix time in seconds (milliseconds?)"
                        )))
                    } else {
                        Ok(f)
                    }
                })
        })
        .transpose()
}

/// `startTime` / `endTime` (Unix seconds, end inclusive) or `timeRange` (seconds back from now).
pub fn time_range(p: &Params, now_ms: i64) -> Result<TimeRange, ParamError> {
    // Saturating: absurd values become an inverted or too long range, reported below.
    let ms = |s: f64| (s * 1000.0) as i64;
    let end = seconds(p, "endTime")?.map_or(now_ms, |s| ms(s).saturating_add(1000));
    let start = match (seconds(p, "startTime")?, seconds(p, "timeRange")?) {
        (Some(s), _) => ms(s),
        (None, Some(r)) => end.saturating_sub(ms(r)),
        (None, None) => end.saturating_sub(DEFAULT_RANGE_S * 1000),
    };
    if start >= end {
        return Err(ParamError(format!(
            "the time range is inverted or empty: startTime {} is not before endTime {}",
            start / 1000,
            end / 1000 - 1
        )));
    }
    let span = end.saturating_sub(start);
    if span > MAX_RANGE_S * 1000 {
        return Err(ParamError(format!(
            "the time range covers {} days, more than the {}-day limit: narrow it",
            span / 86_400_000,
            MAX_RANGE_S / 86_400
        )));
    }
    Ok(TimeRange {
        start_ms: start,
        end_ms: end,
    })
}

fn parse_enum<T: std::str::FromStr<Err = String>>(
    p: &Params,
    k: &str,
    default: T,
) -> Result<T, ParamError> {
    get(p, k).map_or(Ok(default), |v| v.parse().map_err(ParamError))
}

/// `filters`, `namespace`, `recordType`, `packetLoss` and the time range.
pub fn selection(p: &Params, now_ms: i64) -> Result<Selection, ParamError> {
    let mut filters = match get(p, "filters") {
        Some(f) => Filters::parse(f).map_err(|e| ParamError(e.to_string()))?,
        None => Filters::default(),
    };
    if let Some(ns) = get(p, "namespace") {
        filters = in_namespace(filters, ns)?;
    }
    Ok(Selection {
        filters,
        range: time_range(p, now_ms)?,
        record_type: parse_enum(p, "recordType", RecordType::FlowLog)?,
        packet_loss: parse_enum(p, "packetLoss", PacketLoss::All)?,
    })
}

/// `filters` restricted to the `namespace` parameter's flows when there is one.
pub(crate) fn within_namespace(
    filters: Filters,
    p: &HashMap<String, String>,
) -> Result<Filters, ParamError> {
    match get(p, "namespace") {
        Some(ns) => in_namespace(filters, ns),
        None => Ok(filters),
    }
}

/// Restricts every group to flows from or to namespace `ns` (the developer perspective).
fn in_namespace(filters: Filters, ns: &str) -> Result<Filters, ParamError> {
    let side = |name: &str| -> Result<Match, ParamError> {
        let one = Filters::parse(&format!("{name}=\"{ns}\""))
            .map_err(|e| ParamError(format!("namespace: {e}")))?;
        one.groups
            .into_iter()
            .flatten()
            .next()
            .ok_or_else(|| ParamError("namespace: empty".into()))
    };
    let (src, dst) = (side("SrcK8S_Namespace")?, side("DstK8S_Namespace")?);
    let groups = if filters.groups.is_empty() {
        vec![Vec::new()]
    } else {
        filters.groups
    };
    let mut out = Vec::new();
    for g in groups {
        for m in [&src, &dst] {
            let mut g2 = g.clone();
            g2.push(m.clone());
            out.push(g2);
        }
    }
    Ok(Filters { groups: out })
}

fn limit(p: &Params, default: usize, max: usize) -> Result<usize, ParamError> {
    match get(p, "limit") {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ParamError(format!("limit: `{v}` is not a number from 1 to {max}"))),
    }
}

/// A records query.
pub fn records_query(p: &Params, now_ms: i64) -> Result<RecordsQuery, ParamError> {
    Ok(RecordsQuery {
        selection: selection(p, now_ms)?,
        limit: limit(p, 100, MAX_RECORDS)?,
    })
}

fn aggregation(p: &Params) -> Result<Vec<&'static str>, ParamError> {
    let by = get(p, "aggregateBy").ok_or_else(|| {
        ParamError(
            "aggregateBy is required: a scope (cluster, zone, host, namespace, owner, resource, network, app) or field names".into(),
        )
    })?;
    let mut labels: Vec<&'static str> = Vec::new();
    let mut push = |l: &'static str| {
        if !labels.contains(&l) {
            labels.push(l);
        }
    };
    match scope_labels(by) {
        Some(ls) => ls.iter().for_each(|l| push(l)),
        None => {
            for f in by.split(',') {
                let field = fields::field(f.trim()).ok_or_else(|| {
                    ParamError(format!(
                        "aggregateBy: `{f}` is neither a scope nor a record field"
                    ))
                })?;
                push(field.name);
            }
        }
    }
    if let Some(groups) = get(p, "groups") {
        for g in groups.split('+') {
            let ls = scope_labels(g).ok_or_else(|| {
                ParamError(format!(
                    "groups: `{g}` is not a scope (clusters, zones, hosts, namespaces, owners)"
                ))
            })?;
            ls.iter().for_each(|l| push(l));
        }
    }
    Ok(labels)
}

fn duration_s(p: &Params, k: &str, default: i64) -> Result<i64, ParamError> {
    match get(p, k) {
        None => Ok(default),
        Some(v) => {
            let d = parse_duration(v)
                .or_else(|_| {
                    v.parse::<u64>()
                        .map(std::time::Duration::from_secs)
                        .map_err(|_| ())
                })
                .map_err(|_| {
                    ParamError(format!("{k}: `{v}` is not a duration such as 30s or 1m"))
                })?;
            let s = d.as_secs() as i64;
            if s < 1 {
                return Err(ParamError(format!("{k}: `{v}` is shorter than one second")));
            }
            Ok(s)
        }
    }
}

/// A metrics query.
pub fn metrics_query(p: &Params, now_ms: i64) -> Result<MetricsQuery, ParamError> {
    let selection = selection(p, now_ms)?;
    let step_s = duration_s(p, "step", 30)?;
    let points = (selection.range.end_ms - selection.range.start_ms) / 1000 / step_s;
    if points > MAX_POINTS {
        return Err(ParamError(format!(
            "step {step_s}s over this time range gives {points} points per series, more than {MAX_POINTS}: use a larger step"
        )));
    }
    Ok(MetricsQuery {
        labels: aggregation(p)?,
        metric_type: parse_enum(p, "type", MetricType::Bytes)?,
        function: parse_enum(p, "function", MetricFunction::Rate)?,
        step_s,
        rate_interval_s: duration_s(p, "rateInterval", 60)?,
        limit: limit(p, 50, MAX_SERIES)?,
        selection,
    })
}

/// `dataSource`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// Prometheus when it can answer, else Loki, else the store.
    Auto,
    /// Loki only.
    Loki,
    /// Prometheus only.
    Prom,
    /// The store only.
    Store,
}

/// `dataSource`.
pub fn data_source(p: &Params) -> Result<DataSource, ParamError> {
    match get(p, "dataSource") {
        None | Some("auto") => Ok(DataSource::Auto),
        Some("loki") => Ok(DataSource::Loki),
        Some("prom") => Ok(DataSource::Prom),
        Some("store") => Ok(DataSource::Store),
        Some(other) => Err(ParamError(format!(
            "dataSource: `{other}` is not one of auto, loki, prom, store"
        ))),
    }
}
