//! The `prom` encoder: counters, gauges and histograms derived from flow records, rendered in the
//! Prometheus text exposition format for `/metrics`.
//!
//! Series that get no update for `expiryTime` are removed (flows come and go, and Prometheus
//! should not keep scraping a pod that left an hour ago). Past `maxMetrics` series, new ones are
//! dropped and counted, never silently.

use crate::config::{
    Encode, MetricKind, MetricsFilter, MetricsFilterKind, MetricsItem, PromEncode,
    parse_go_duration,
};
use crate::record::{Record, Value};
use crate::stage::{BuildError, StageContext, section};
use compact_str::CompactString;
use compact_str::ToCompactString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Series maps hash label values on every observation: a fast non-cryptographic hasher (the
/// label values come from flows, but a series count is bounded by `maxMetrics` and expiry).
type SeriesMap = HashMap<Vec<CompactString>, Series, foldhash::fast::RandomState>;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Default series expiry, as upstream.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(120);

/// Prometheus' default histogram buckets, for histograms defined without any.
const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

enum Test {
    Equal(String),
    NotEqual(String),
    Presence,
    Absence,
    Regex(flowdsl::Pattern, bool),
}

struct Filter {
    key: String,
    test: Test,
}

impl Filter {
    fn new(f: &MetricsFilter) -> Result<Self, BuildError> {
        let regex = |negated| {
            flowdsl::Pattern::new(&f.value)
                .map(|p| Test::Regex(p, negated))
                .map_err(|e| {
                    BuildError::Invalid(format!("filter on `{}`: regex `{}`: {e}", f.key, f.value))
                })
        };
        let test = match f.kind {
            MetricsFilterKind::Equal => Test::Equal(f.value.clone()),
            MetricsFilterKind::NotEqual => Test::NotEqual(f.value.clone()),
            MetricsFilterKind::Presence => Test::Presence,
            MetricsFilterKind::Absence => Test::Absence,
            MetricsFilterKind::MatchRegex => regex(false)?,
            MetricsFilterKind::NotMatchRegex => regex(true)?,
        };
        Ok(Self {
            key: f.key.clone(),
            test,
        })
    }

    fn passes(&self, value: Option<&Value>) -> bool {
        match (&self.test, value) {
            (Test::Presence, v) => v.is_some(),
            (Test::Absence, v) => v.is_none(),
            (Test::Equal(want), Some(v)) => &*text_of(v) == want.as_str(),
            (Test::Equal(_), None) => false,
            (Test::NotEqual(want), Some(v)) => &*text_of(v) != want.as_str(),
            (Test::NotEqual(_), None) => true,
            (Test::Regex(p, negated), Some(v)) => p.regex().is_match(&text_of(v)) != *negated,
            (Test::Regex(_, negated), None) => *negated,
        }
    }
}

fn text_of(v: &Value) -> Text<'_> {
    match v {
        Value::Str(s) => Text::Borrowed(s.as_str()),
        // Numbers (directions, protocols, ports) are compared as text: inline, no heap.
        Value::UInt(u) => Text::Inline(u.to_compact_string()),
        Value::Int(i) => Text::Inline(i.to_compact_string()),
        other => Text::Inline(CompactString::from(other.to_text())),
    }
}

/// A value's text form, borrowed or short enough to live inline.
enum Text<'a> {
    Borrowed(&'a str),
    Inline(CompactString),
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Inline(s) => s,
        }
    }
}

/// Accumulated state of one label set.
#[derive(Clone, Debug)]
enum State {
    Number(f64),
    Histogram {
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

#[derive(Clone, Debug)]
struct Series {
    state: State,
    updated: Instant,
}

struct Metric {
    name: String,
    help: String,
    kind: MetricKind,
    filters: Vec<Filter>,
    value_key: String,
    label_fields: Vec<String>,
    label_names: Vec<String>,
    flatten: Vec<String>,
    buckets: Vec<f64>,
    scale: f64,
    series: SeriesMap,
    /// The label values of the observation being made, reused from one record to the next:
    /// looking a series up costs no allocation; only a new series copies it.
    scratch: Vec<CompactString>,
}

/// Replaces what a Prometheus name cannot hold (`/ . - >` ...) with `_`.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

impl Metric {
    fn new(item: &MetricsItem, prefix: &str) -> Result<Self, BuildError> {
        if item.kind == MetricKind::AggHistogram && item.value_key.is_empty() {
            return Err(BuildError::Invalid(format!(
                "metric `{}`: agg_histogram needs `valueKey` (a list of values, such as the \
                 aggregates stage's `recent_raw_values`)",
                item.name
            )));
        }
        if item.name.is_empty() {
            return Err(BuildError::Invalid("a metric has no name".into()));
        }
        let filters = if item.filters.is_empty() {
            item.filter
                .iter()
                .map(Filter::new)
                .collect::<Result<_, _>>()?
        } else {
            item.filters
                .iter()
                .map(Filter::new)
                .collect::<Result<_, _>>()?
        };
        let mut buckets = if item.buckets.is_empty() {
            DEFAULT_BUCKETS.to_vec()
        } else {
            item.buckets.clone()
        };
        if buckets.iter().any(|b| !b.is_finite()) {
            return Err(BuildError::Invalid(format!(
                "metric `{}`: a bucket is not a number",
                item.name
            )));
        }
        buckets.sort_by(f64::total_cmp);
        buckets.dedup();
        Ok(Self {
            name: sanitize(&format!("{prefix}{}", item.name)),
            help: item.help.clone(),
            kind: item.kind,
            filters,
            value_key: item.value_key.clone(),
            label_names: item
                .labels
                .iter()
                .map(|l| sanitize(item.remap.get(l).map_or(l.as_str(), String::as_str)))
                .collect(),
            label_fields: item.labels.clone(),
            flatten: item.flatten.clone(),
            buckets,
            scale: item.scale(),
            series: SeriesMap::default(),
            scratch: Vec::new(),
        })
    }
}

/// Looks fields up in a record, resolving `Field>Key` inside the current element of each
/// flattened field.
struct View<'a> {
    record: &'a Record,
    elements: &'a [(&'a str, Option<&'a Record>)],
}

impl<'a> View<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        // Without flattened fields, `>` has no meaning: skip the search for it.
        if self.elements.is_empty() {
            return self.record.get(key);
        }
        if let Some((field, sub)) = key.split_once('>') {
            let element = self
                .elements
                .iter()
                .find(|(f, _)| *f == field)
                .and_then(|(_, e)| *e)?;
            return element.get(sub);
        }
        self.record.get(key)
    }
}

/// Counters of what the encoder could not do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PromStats {
    /// Observations whose value field was missing or not a number.
    pub value_errors: u64,
    /// New series refused because `maxMetrics` was reached.
    pub dropped_series: u64,
    /// Series removed after `expiryTime` without updates.
    pub expired_series: u64,
}

/// A built `prom` encoder.
pub struct PromEncoder {
    metrics: Vec<Metric>,
    expiry: Duration,
    max_series: usize,
    stats: PromStats,
}

impl PromEncoder {
    /// Builds the encoder from its parameters.
    pub fn new(config: &PromEncode) -> Result<Self, BuildError> {
        let expiry = match &config.expiry_time {
            Some(t) => parse_go_duration(t).map_err(BuildError::Invalid)?,
            None => DEFAULT_EXPIRY,
        };
        let metrics = config
            .metrics
            .iter()
            .map(|m| Metric::new(m, &config.prefix))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            metrics,
            expiry,
            max_series: config.max_metrics,
            stats: PromStats::default(),
        })
    }

    /// What went wrong so far.
    pub fn stats(&self) -> PromStats {
        self.stats
    }

    /// Number of live series across metrics.
    pub fn series_count(&self) -> usize {
        self.metrics.iter().map(|m| m.series.len()).sum()
    }

    /// Updates every metric with one record.
    pub fn encode(&mut self, record: &Record) {
        self.encode_at(record, Instant::now());
    }

    /// Updates every metric with a batch of records, reading the clock once.
    pub fn encode_batch(&mut self, records: &[Record]) {
        let now = Instant::now();
        for record in records {
            self.encode_at(record, now);
        }
    }

    /// [`Self::encode`] with an explicit clock, for expiry tests.
    pub fn encode_at(&mut self, record: &Record, now: Instant) {
        let mut total = self.series_count();
        for metric in &mut self.metrics {
            if metric.flatten.is_empty() {
                let view = View {
                    record,
                    elements: &[],
                };
                observe(
                    metric,
                    &view,
                    now,
                    &mut total,
                    self.max_series,
                    &mut self.stats,
                );
                continue;
            }
            // The elements of each flattened field; an absent or empty list is one "no element".
            // Taken out for the loop so the metric can be updated while the names are borrowed.
            let flatten = std::mem::take(&mut metric.flatten);
            let lists: Vec<(&str, Vec<Option<&Record>>)> = flatten
                .iter()
                .map(|f| {
                    let elements: Vec<Option<&Record>> = match record.get(f) {
                        Some(Value::List(items)) if !items.is_empty() => items
                            .iter()
                            .map(|i| match i {
                                Value::Map(m) => Some(m),
                                _ => None,
                            })
                            .collect(),
                        _ => vec![None],
                    };
                    (f.as_str(), elements)
                })
                .collect();
            let mut cursor = vec![0usize; lists.len()];
            loop {
                let elements: Vec<(&str, Option<&Record>)> = lists
                    .iter()
                    .zip(&cursor)
                    .map(|((f, items), i)| (*f, items[*i]))
                    .collect();
                let view = View {
                    record,
                    elements: &elements,
                };
                observe(
                    metric,
                    &view,
                    now,
                    &mut total,
                    self.max_series,
                    &mut self.stats,
                );
                // Next combination of flattened elements (odometer order).
                let mut level = 0;
                loop {
                    if level == cursor.len() {
                        break;
                    }
                    cursor[level] += 1;
                    if cursor[level] < lists[level].1.len() {
                        break;
                    }
                    cursor[level] = 0;
                    level += 1;
                }
                if level == cursor.len() {
                    break;
                }
            }
            drop(lists);
            metric.flatten = flatten;
        }
    }

    /// Removes series older than the expiry.
    pub fn expire(&mut self, now: Instant) {
        let expiry = self.expiry;
        for metric in &mut self.metrics {
            let before = metric.series.len();
            metric
                .series
                .retain(|_, s| now.saturating_duration_since(s.updated) < expiry);
            self.stats.expired_series += (before - metric.series.len()) as u64;
        }
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for metric in &self.metrics {
            write_metric(&mut out, metric, &metric.series);
        }
        out
    }

    /// The exposition of several copies of the same encoder (one per pipeline worker) as one:
    /// counters and histograms of a label set are summed, a gauge shows the most recently
    /// updated copy's value. A metric only some copies have (during a reload) is shown from
    /// those.
    pub fn render_merged(encoders: &[&PromEncoder]) -> String {
        match encoders {
            [] => String::new(),
            [one] => one.render(),
            _ => {
                let mut out = String::new();
                let mut seen: Vec<&str> = Vec::new();
                for encoder in encoders {
                    for metric in &encoder.metrics {
                        if seen.contains(&metric.name.as_str()) {
                            continue;
                        }
                        seen.push(&metric.name);
                        let mut merged = SeriesMap::default();
                        for other in encoders {
                            let Some(m) = other.metrics.iter().find(|m| m.name == metric.name)
                            else {
                                continue;
                            };
                            for (key, series) in &m.series {
                                match merged.get_mut(key) {
                                    None => {
                                        merged.insert(key.clone(), series.clone());
                                    }
                                    Some(into) => merge_series(into, series, metric.kind),
                                }
                            }
                        }
                        write_metric(&mut out, metric, &merged);
                    }
                }
                out
            }
        }
    }
}

/// Adds `from` into `into` (same metric, same label set, another worker's copy).
fn merge_series(into: &mut Series, from: &Series, kind: MetricKind) {
    match (&mut into.state, &from.state) {
        (State::Number(a), State::Number(b)) => {
            if kind == MetricKind::Gauge {
                if from.updated > into.updated {
                    *a = *b;
                }
            } else {
                *a += *b;
            }
        }
        (
            State::Histogram { counts, sum, count },
            State::Histogram {
                counts: c2,
                sum: s2,
                count: n2,
            },
        ) if counts.len() == c2.len() => {
            for (a, b) in counts.iter_mut().zip(c2) {
                *a += b;
            }
            *sum += s2;
            *count += n2;
        }
        _ => {}
    }
    into.updated = into.updated.max(from.updated);
}

/// Writes one metric family with the given series.
fn write_metric(out: &mut String, metric: &Metric, series_map: &SeriesMap) {
    let kind = match metric.kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram | MetricKind::AggHistogram => "histogram",
    };
    if !metric.help.is_empty() {
        let _ = writeln!(out, "# HELP {} {}", metric.name, escape_help(&metric.help));
    }
    let _ = writeln!(out, "# TYPE {} {kind}", metric.name);
    let mut keys: Vec<&Vec<CompactString>> = series_map.keys().collect();
    keys.sort();
    for key in keys {
        let series = &series_map[key];
        let labels = label_text(&metric.label_names, key, None);
        match &series.state {
            State::Number(v) => {
                let _ = writeln!(out, "{}{labels} {}", metric.name, number(*v));
            }
            State::Histogram { counts, sum, count } => {
                let mut cumulative = 0;
                for (bound, n) in metric.buckets.iter().zip(counts) {
                    cumulative += n;
                    let l = label_text(&metric.label_names, key, Some(&number(*bound)));
                    let _ = writeln!(out, "{}_bucket{l} {cumulative}", metric.name);
                }
                let l = label_text(&metric.label_names, key, Some("+Inf"));
                let _ = writeln!(out, "{}_bucket{l} {count}", metric.name);
                let _ = writeln!(out, "{}_sum{labels} {}", metric.name, number(*sum));
                let _ = writeln!(out, "{}_count{labels} {count}", metric.name);
            }
        }
    }
}

fn observe(
    metric: &mut Metric,
    view: &View<'_>,
    now: Instant,
    total: &mut usize,
    max_series: usize,
    stats: &mut PromStats,
) {
    if !metric.filters.iter().all(|f| f.passes(view.get(&f.key))) {
        return;
    }
    // agg_histogram observes every number of a list (the aggregates stage's raw values of the
    // last batch); the other kinds observe one value.
    let mut many: Vec<f64> = Vec::new();
    let value = if metric.value_key.is_empty() {
        1.0
    } else if metric.kind == MetricKind::AggHistogram {
        match view.get(&metric.value_key) {
            Some(Value::List(items)) => {
                for item in items {
                    match item.as_f64() {
                        Some(v) => many.push(v / metric.scale),
                        None => stats.value_errors += 1,
                    }
                }
                if many.is_empty() {
                    return;
                }
                0.0
            }
            _ => {
                stats.value_errors += 1;
                return;
            }
        }
    } else {
        match view.get(&metric.value_key).and_then(Value::as_f64) {
            Some(v) => v / metric.scale,
            None => {
                stats.value_errors += 1;
                return;
            }
        }
    };
    // Label values of this observation; short values (most) live inline, so building the key
    // does not touch the heap.
    let mut key = std::mem::take(&mut metric.scratch);
    key.clear();
    key.extend(metric.label_fields.iter().map(|f| match view.get(f) {
        Some(Value::Str(s)) => s.clone(),
        Some(Value::UInt(u)) => u.to_compact_string(),
        Some(Value::Int(i)) => i.to_compact_string(),
        Some(other) => CompactString::from(&*text_of(other)),
        None => CompactString::default(),
    }));
    let buckets = metric.buckets.len();
    let series = match metric.series.get_mut(key.as_slice()) {
        Some(s) => s,
        None => {
            if max_series > 0 && *total >= max_series {
                stats.dropped_series += 1;
                return;
            }
            *total += 1;
            let state = match metric.kind {
                MetricKind::Histogram | MetricKind::AggHistogram => State::Histogram {
                    counts: vec![0; buckets],
                    sum: 0.0,
                    count: 0,
                },
                _ => State::Number(0.0),
            };
            metric.series.entry(key.clone()).or_insert(Series {
                state,
                updated: now,
            })
        }
    };
    series.updated = now;
    match (&mut series.state, metric.kind) {
        (State::Number(n), MetricKind::Gauge) => *n = value,
        (State::Number(n), _) => *n += value,
        (State::Histogram { counts, sum, count }, MetricKind::AggHistogram) => {
            for value in many {
                if let Some(i) = metric.buckets.iter().position(|b| value <= *b) {
                    counts[i] += 1;
                }
                *sum += value;
                *count += 1;
            }
        }
        (State::Histogram { counts, sum, count }, _) => {
            if let Some(i) = metric.buckets.iter().position(|b| value <= *b) {
                counts[i] += 1;
            }
            *sum += value;
            *count += 1;
        }
    }
    metric.scratch = key;
}

fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn label_text(names: &[String], values: &[CompactString], le: Option<&str>) -> String {
    if names.is_empty() && le.is_none() {
        return String::new();
    }
    let mut out = String::from("{");
    let mut first = true;
    for (name, value) in names.iter().zip(values) {
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{name}=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if let Some(le) = le {
        if !first {
            out.push(',');
        }
        let _ = write!(out, "le=\"{le}\"");
    }
    out.push('}');
    out
}

/// One metric's series at a moment, for pushers (OTLP) that do not read the text exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSnapshot {
    /// Name, prefix included.
    pub name: String,
    /// Help text.
    pub help: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Label names, in the order of each series' values.
    pub label_names: Vec<String>,
    /// Histogram bucket upper bounds (sorted; `+Inf` implied).
    pub buckets: Vec<f64>,
    /// The live series.
    pub series: Vec<SeriesSnapshot>,
}

/// One label set's value.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSnapshot {
    /// Label values, as [`MetricSnapshot::label_names`].
    pub labels: Vec<String>,
    /// Counter or gauge value, or histogram state.
    pub value: SeriesValue,
}

/// A series' accumulated value.
#[derive(Clone, Debug, PartialEq)]
pub enum SeriesValue {
    /// Counter or gauge.
    Number(f64),
    /// Histogram: observations per bucket (not cumulative; the last, past every bound, is
    /// `count` minus their sum), sum and count.
    Histogram {
        /// Per bucket of [`MetricSnapshot::buckets`].
        counts: Vec<u64>,
        /// Sum of the observations.
        sum: f64,
        /// Number of observations.
        count: u64,
    },
}

impl PromEncoder {
    /// Every metric's live series, label sets sorted.
    pub fn snapshot(&self) -> Vec<MetricSnapshot> {
        self.metrics
            .iter()
            .map(|m| {
                let mut series: Vec<SeriesSnapshot> = m
                    .series
                    .iter()
                    .map(|(key, s)| SeriesSnapshot {
                        labels: key.iter().map(|v| v.to_string()).collect(),
                        value: match &s.state {
                            State::Number(v) => SeriesValue::Number(*v),
                            State::Histogram { counts, sum, count } => SeriesValue::Histogram {
                                counts: counts.clone(),
                                sum: *sum,
                                count: *count,
                            },
                        },
                    })
                    .collect();
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                MetricSnapshot {
                    name: m.name.clone(),
                    help: m.help.clone(),
                    kind: m.kind,
                    label_names: m.label_names.clone(),
                    buckets: m.buckets.clone(),
                    series,
                }
            })
            .collect()
    }
}

/// A `prom` encoder as a stage of one worker's graph: the encoder is shared with the `/metrics`
/// endpoint, which merges the workers' copies.
pub struct PromStage {
    encoder: Arc<Mutex<PromEncoder>>,
}

impl PromStage {
    /// Wraps a built encoder.
    pub fn new(encoder: PromEncoder) -> Self {
        Self {
            encoder: Arc::new(Mutex::new(encoder)),
        }
    }
}

impl super::Encoder for PromStage {
    fn encode(&mut self, batch: &[Record]) {
        if let Ok(mut encoder) = self.encoder.lock() {
            encoder.encode_batch(batch);
        }
    }

    fn exposition(&self) -> Option<Arc<Mutex<PromEncoder>>> {
        Some(self.encoder.clone())
    }
}

/// Builder of `prom`.
pub fn build(
    encode: &Encode,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn super::Encoder>, BuildError> {
    let config = section(encode.prom.as_ref(), "prom")?;
    Ok(Box::new(PromStage::new(PromEncoder::new(config)?)))
}
