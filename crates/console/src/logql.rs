//! Queries as LogQL, for Loki. Per filter group: a stream selector on
//! `app="netobserv-flowcollector"` plus the filters on fields that are Loki labels, line filters
//! (regexes on the JSON line, whose keys are sorted) for the other fields, and `| json` label
//! filters where a regex on the text cannot express the match (address ranges, empty values,
//! user regexes). Metric queries unwrap the value field and aggregate by the requested labels.

use netobserv_flowstore::fields::{Field, Kind};
use netobserv_flowstore::filter::{AddrMatch, FilterValue, Group, Match, Op};
use netobserv_flowstore::query::{
    MetricFunction, MetricType, MetricsQuery, PacketLoss, RecordType, Selection,
};

/// The static label every NetObserv stream carries.
pub const APP_SELECTOR: &str = r#"app="netobserv-flowcollector""#;

/// A value as a LogQL / PromQL string literal: backticks (no escaping) unless it has one.
pub fn lit(s: &str) -> String {
    if s.contains('`') {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("`{s}`")
    }
}

/// Escapes RE2 metacharacters; `*` (the filter wildcard) becomes `wild`.
pub fn regex_text(s: &str, wild: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '*' => out.push_str(wild),
            '\\' | '.' | '+' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A regex matching the decimal integers at least `n` (no sign, no leading zeros), as JSON
/// writes them.
pub fn at_least(n: i64) -> String {
    if n <= 0 {
        return "[0-9]+".into();
    }
    let d: Vec<u32> = n
        .to_string()
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let k = d.len();
    let mut alts = vec![format!("[1-9][0-9]{{{k},}}")];
    for i in 0..k {
        if d[i] < 9 {
            let prefix: String = d[..i].iter().map(|x| x.to_string()).collect();
            let rest = k - i - 1;
            let tail = if rest == 0 {
                String::new()
            } else if rest == 1 {
                "[0-9]".to_string()
            } else {
                format!("[0-9]{{{rest}}}")
            };
            alts.push(format!("{prefix}[{}-9]{tail}", d[i] + 1));
        }
    }
    alts.push(n.to_string());
    format!("(?:{})", alts.join("|"))
}

/// Regex for one label value (label matchers are anchored).
fn label_alt(v: &FilterValue) -> String {
    match v {
        FilterValue::Empty => String::new(),
        FilterValue::Exact(s) => regex_text(s, ".*"),
        FilterValue::Contains(s) => format!("(?i:.*{}.*)", regex_text(s, ".*")),
        FilterValue::Number(n) => n.to_string(),
        FilterValue::Addr(a) => regex_text(&a.loki_text(), ".*"),
        FilterValue::Regex(r) => r.clone(),
    }
}

/// A label matcher (Loki stream selector or Prometheus), `None` when the match cannot be one
/// (`>=`, address ranges).
pub fn label_matcher(m: &Match) -> Option<String> {
    let name = m.field.name;
    if m.op == Op::GreaterOrEqual
        || m.values.iter().any(|v| {
            matches!(
                v,
                FilterValue::Addr(AddrMatch::Net(_)) | FilterValue::Addr(AddrMatch::Range(..))
            )
        })
    {
        return None;
    }
    let plain = |v: &FilterValue| match v {
        FilterValue::Empty => Some(String::new()),
        FilterValue::Exact(s) if !s.contains('*') => Some(s.clone()),
        FilterValue::Number(n) => Some(n.to_string()),
        FilterValue::Addr(AddrMatch::Ip(ip)) => Some(ip.to_string()),
        _ => None,
    };
    let neg = m.op.negated();
    if m.values.len() == 1
        && !matches!(m.op, Op::Regex | Op::NotRegex)
        && let Some(p) = plain(&m.values[0])
    {
        return Some(format!(
            "{name}{}{}",
            if neg { "!=" } else { "=" },
            quote(&p)
        ));
    }
    let alts: Vec<String> = m.values.iter().map(label_alt).collect();
    Some(format!(
        "{name}{}{}",
        if neg { "!~" } else { "=~" },
        lit(&alts.join("|"))
    ))
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Line-filter regex of one value of a non-label field, or `None` when it needs `| json`.
fn line_alt(field: &Field, v: &FilterValue) -> Option<String> {
    let f = field.name;
    Some(match (field.kind, v) {
        (_, FilterValue::Empty | FilterValue::Regex(_)) => return None,
        (_, FilterValue::Addr(AddrMatch::Ip(ip))) => {
            format!(r#""{f}":"{}""#, regex_text(&ip.to_string(), ""))
        }
        (_, FilterValue::Addr(_)) => return None,
        (Kind::List, FilterValue::Number(n)) => format!(r#""{f}":\[(?:[^\]]*,)?{n}[,\]]"#),
        (_, FilterValue::Number(n)) => format!(r#""{f}":{n}[,}}]"#),
        (Kind::List | Kind::Events, FilterValue::Exact(s)) => {
            format!(r#""{f}":\[[^\]]*"{}""#, regex_text(s, r#"[^"]*"#))
        }
        (Kind::List | Kind::Events, FilterValue::Contains(s)) => {
            format!(r#"(?i:"{f}":\[[^\]]*{})"#, regex_text(s, r#"[^"]*"#))
        }
        (_, FilterValue::Exact(s)) => format!(r#""{f}":"{}""#, regex_text(s, r#"[^"]*"#)),
        (_, FilterValue::Contains(s)) => {
            format!(r#"(?i:"{f}":"[^"]*{})"#, regex_text(s, r#"[^"]*"#))
        }
    })
}

/// `| json` label filter for a match on an extracted field.
fn json_filter(m: &Match) -> String {
    let f = m.field.name;
    if m.op == Op::GreaterOrEqual {
        let n = match m.values.first() {
            Some(FilterValue::Number(n)) => *n,
            _ => 0,
        };
        return format!("{f}>={n}");
    }
    let neg = m.op.negated();
    if let [FilterValue::Addr(a)] = m.values.as_slice() {
        return format!(
            "{f}{}ip({})",
            if neg { "!=" } else { "=" },
            quote(&a.loki_text())
        );
    }
    label_matcher(m).unwrap_or_else(|| format!("{f}!=\"\""))
}

/// The parts of one group's log query.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LogQuery {
    /// Stream matchers, `app` first.
    pub selector: Vec<String>,
    /// Line filters (`|~ ...`, `!~ ...`).
    pub lines: Vec<String>,
    /// Label filters after `| json`.
    pub json: Vec<String>,
}

impl LogQuery {
    /// The log pipeline; `| json` appears when there are label filters or `force_json`.
    pub fn render(&self, force_json: bool) -> String {
        let mut q = format!("{{{}}}", self.selector.join(", "));
        for l in &self.lines {
            q.push(' ');
            q.push_str(l);
        }
        if force_json || !self.json.is_empty() {
            q.push_str(" | json");
            for j in &self.json {
                q.push_str(" | ");
                q.push_str(j);
            }
        }
        q
    }

    fn add(&mut self, m: &Match, labels: &[String]) {
        if labels.iter().any(|l| l == m.field.name)
            && let Some(sel) = label_matcher(m)
        {
            self.selector.push(sel);
            return;
        }
        if matches!(m.op, Op::Equal | Op::NotEqual) {
            let alts: Option<Vec<String>> = m.values.iter().map(|v| line_alt(m.field, v)).collect();
            if let Some(alts) = alts {
                let re = if alts.len() == 1 {
                    alts.into_iter().next().unwrap_or_default()
                } else {
                    alts.iter()
                        .map(|a| format!("(?:{a})"))
                        .collect::<Vec<_>>()
                        .join("|")
                };
                let op = if m.op == Op::NotEqual { "!~" } else { "|~" };
                self.lines.push(format!("{op} {}", lit(&re)));
                return;
            }
        }
        if m.op == Op::GreaterOrEqual
            && let Some(FilterValue::Number(n)) = m.values.first()
        {
            self.lines.push(format!(
                "|~ {}",
                lit(&format!(r#""{}":{}[,}}]"#, m.field.name, at_least(*n)))
            ));
            return;
        }
        self.json.push(json_filter(m));
    }
}

/// The log query of one filter group (or no group) with the selection's record type and packet
/// loss.
pub fn group_query(sel: &Selection, group: Option<&Group>, labels: &[String]) -> LogQuery {
    let mut q = LogQuery {
        selector: vec![APP_SELECTOR.to_string()],
        ..LogQuery::default()
    };
    let is_label = |f: &str| labels.iter().any(|l| l == f);
    match (sel.record_type, is_label("_RecordType")) {
        (RecordType::FlowLog, false) => {}
        (RecordType::AllConnections, true) => q
            .selector
            .push(r#"_RecordType=~"newConnection|heartbeat|endConnection""#.into()),
        (RecordType::AllConnections, false) => q
            .lines
            .push(r#"|~ `"_RecordType":"(?:newConnection|heartbeat|endConnection)"`"#.into()),
        (t, true) => q.selector.push(format!(r#"_RecordType="{}""#, t.as_str())),
        (t, false) => q
            .lines
            .push(format!(r#"|~ `"_RecordType":"{}"`"#, t.as_str())),
    }
    if let Some(g) = group {
        for m in g {
            q.add(m, labels);
        }
    }
    match sel.packet_loss {
        PacketLoss::All => {}
        PacketLoss::Dropped => {
            q.lines.push(r#"!~ `"Packets":[1-9]`"#.into());
            q.lines.push(r#"|~ `"PktDropPackets":[1-9]`"#.into());
        }
        PacketLoss::HasDrops => q.lines.push(r#"|~ `"PktDropPackets":[1-9]`"#.into()),
        PacketLoss::Sent => q.lines.push(r#"!~ `"PktDropPackets":[1-9]`"#.into()),
    }
    q
}

/// One log query per filter group (one in all when there is no filter).
pub fn record_queries(sel: &Selection, labels: &[String]) -> Vec<String> {
    if sel.filters.groups.is_empty() {
        return vec![group_query(sel, None, labels).render(false)];
    }
    sel.filters
        .groups
        .iter()
        .map(|g| group_query(sel, Some(g), labels).render(false))
        .collect()
}

fn duration(s: i64) -> String {
    if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Metric queries, one per filter group and (for bytes and packets) per half of the
/// FlowDirection de-duplication; their answers are summed per series.
pub fn metric_queries(q: &MetricsQuery, labels: &[String]) -> Result<Vec<String>, String> {
    use MetricFunction as F;
    let t = q.metric_type;
    if t.is_latency() && q.function == F::Rate {
        return Err(format!(
            "function `rate` does not apply to {}: use avg, min, max, p90 or p99",
            t.as_str()
        ));
    }
    if !t.is_latency() && matches!(q.function, F::P90 | F::P99) {
        return Err(format!(
            "function `{}` applies to DnsLatencyMs and TimeFlowRttNs, not {}",
            q.function.as_str(),
            t.as_str()
        ));
    }
    let groups: Vec<Option<&Group>> = if q.selection.filters.groups.is_empty() {
        vec![None]
    } else {
        q.selection.filters.groups.iter().map(Some).collect()
    };
    let dedup = matches!(t, MetricType::Bytes | MetricType::Packets)
        && matches!(q.function, F::Rate | F::Sum | F::Count)
        && !q.selection.filters.mentions("FlowDirection");
    let mut out = Vec::new();
    for g in groups {
        let base = group_query(&q.selection, g, labels);
        let halves = if dedup {
            dedup_halves(&base, labels)
        } else {
            vec![base]
        };
        for mut part in halves {
            let needs = match t {
                MetricType::DnsFlows => Some(r#"|~ `"DnsId":`"#.to_string()),
                MetricType::PktDropBytes | MetricType::PktDropPackets => {
                    Some(r#"|~ `"PktDropPackets":[1-9]`"#.to_string())
                }
                MetricType::DnsLatencyMs => Some(r#"|~ `"DnsLatencyMs":[1-9]`"#.to_string()),
                MetricType::TimeFlowRttNs => Some(r#"|~ `"TimeFlowRttNs":[1-9]`"#.to_string()),
                _ => None,
            };
            part.lines.extend(needs);
            out.push(metric_expr(q, &part)?);
        }
    }
    Ok(out)
}

/// Splits a query into the two halves that count each flow once: FlowDirection 0 or 2, and
/// FlowDirection 1 towards no pod (a Service or outside).
fn dedup_halves(base: &LogQuery, labels: &[String]) -> Vec<LogQuery> {
    let is_label = |f: &str| labels.iter().any(|l| l == f);
    let mut ingress = base.clone();
    let mut egress = base.clone();
    if is_label("FlowDirection") {
        ingress.selector.push(r#"FlowDirection=~"0|2""#.into());
        egress.selector.push(r#"FlowDirection="1""#.into());
    } else {
        ingress
            .lines
            .push(r#"|~ `"FlowDirection":[02][,}]`"#.into());
        egress.lines.push(r#"|~ `"FlowDirection":1[,}]`"#.into());
    }
    if is_label("DstK8S_Type") {
        egress.selector.push(r#"DstK8S_Type=~"|Service""#.into());
    } else {
        egress.json.push(r#"DstK8S_Type=~"|Service""#.into());
    }
    vec![ingress, egress]
}

fn metric_expr(q: &MetricsQuery, part: &LogQuery) -> Result<String, String> {
    use MetricFunction as F;
    let by = q.labels.join(",");
    let ri = duration(q.rate_interval_s);
    let step = duration(q.step_s);
    let log = part.render(false);
    let unwrap = |field: &str| format!("{} | unwrap {field} | __error__=\"\"", part.render(true));
    let inner = match (q.metric_type.field(), q.function) {
        (None, F::Rate) => format!("sum by({by}) (rate({log} [{ri}]))"),
        (_, F::Count) | (None, F::Sum) => format!("sum by({by}) (count_over_time({log} [{step}]))"),
        (None, other) => {
            return Err(format!(
                "function `{}` does not apply to {}: use rate, sum or count",
                other.as_str(),
                q.metric_type.as_str()
            ));
        }
        (Some(f), F::Rate) => format!("sum by({by}) (rate({} [{ri}]))", unwrap(f)),
        (Some(f), F::Sum) => format!("sum by({by}) (sum_over_time({} [{step}]))", unwrap(f)),
        (Some(f), F::Avg) => format!("avg_over_time({} [{step}]) by ({by})", unwrap(f)),
        (Some(f), F::Min) => format!("min_over_time({} [{step}]) by ({by})", unwrap(f)),
        (Some(f), F::Max) => format!("max_over_time({} [{step}]) by ({by})", unwrap(f)),
        (Some(f), F::P90) => {
            format!("quantile_over_time(0.9, {} [{step}]) by ({by})", unwrap(f))
        }
        (Some(f), F::P99) => {
            format!("quantile_over_time(0.99, {} [{step}]) by ({by})", unwrap(f))
        }
    };
    let scaled = if q.metric_type == MetricType::TimeFlowRttNs && q.function != F::Count {
        format!("{inner} / 1000000")
    } else {
        inner
    };
    let k = if q.function == F::Min {
        "bottomk"
    } else {
        "topk"
    };
    Ok(format!("{k}({}, {scaled})", q.limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_matches_exactly_the_numbers_at_or_above() {
        for n in [0, 1, 9, 10, 25, 99, 100, 250, 1000, 3074] {
            let re = regex::Regex::new(&format!("^{}$", at_least(n))).expect("regex");
            for x in 0..5000 {
                assert_eq!(
                    re.is_match(&x.to_string()),
                    x >= n,
                    "{x} >= {n}: {}",
                    at_least(n)
                );
            }
        }
    }
}
