//! Counters turned into rates over time, for the charts: each round of scrapes (one exposition
//! per agent) is summed across agents per series, and each counter's increase since the previous
//! round, divided by the time between them, is its rate. A counter that went down (an agent
//! restarted, a series expired and came back) counts from zero, as Prometheus' `rate` does.
//! Only counters (`*_total`) are charted.

use super::exposition::Parsed;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Points kept per chart (at one round every 2 s: 10 minutes).
pub const KEEP_POINTS: usize = 300;
/// Label sets listed per panel.
pub const TOP: usize = 10;

/// One chart: a metric's total rate over time and its busiest label sets now.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// Metric name without the prefix (e.g. `namespace_flows_total`).
    pub metric: String,
    /// `B/s`, `packets/s` or `flows/s`.
    pub unit: &'static str,
    /// (seconds since the first round, total rate) per round.
    pub points: VecDeque<(f64, f64)>,
    /// The busiest label sets at the last round, busiest first: (label set as text, rate).
    pub top: Vec<(String, f64)>,
}

/// The charts of a metrics capture.
#[derive(Debug, Default)]
pub struct History {
    prefix: String,
    /// One per included metric, in include-list order.
    pub panels: Vec<Panel>,
    last: HashMap<(String, String), f64>,
    last_t: Option<f64>,
    /// Rounds recorded.
    pub rounds: u64,
    /// Exposition lines that did not parse, over all rounds.
    pub bad_lines: usize,
}

fn unit(metric: &str) -> &'static str {
    if metric.contains("bytes") {
        "B/s"
    } else if metric.contains("packets") {
        "packets/s"
    } else {
        "flows/s"
    }
}

/// A label set as one short text: `source → destination` (the non-empty values of the `Src*`
/// and `Dst*` labels, `-` when none), other non-empty labels in parentheses.
pub fn label_text(labels: &BTreeMap<String, String>) -> String {
    let side = |prefix: &str| -> String {
        let values: Vec<&str> = labels
            .iter()
            .filter(|(k, v)| k.starts_with(prefix) && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect();
        if values.is_empty() {
            "-".to_string()
        } else {
            values.join("/")
        }
    };
    let other: Vec<String> = labels
        .iter()
        .filter(|(k, _)| !k.starts_with("Src") && !k.starts_with("Dst"))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut out = format!("{} → {}", side("Src"), side("Dst"));
    if !other.is_empty() {
        out.push_str(&format!(" ({})", other.join(", ")));
    }
    out
}

impl History {
    /// Charts for `metrics` (names without `prefix`).
    pub fn new(prefix: &str, metrics: &[String]) -> Self {
        Self {
            prefix: prefix.to_string(),
            panels: metrics
                .iter()
                .filter(|m| m.ends_with("_total"))
                .map(|m| Panel {
                    metric: m.clone(),
                    unit: unit(m),
                    ..Panel::default()
                })
                .collect(),
            ..Self::default()
        }
    }

    /// Records one round of scrapes taken at `t` seconds: (agent, its exposition) each.
    pub fn add(&mut self, t: f64, scrapes: &[(String, Parsed)]) {
        let dt = self.last_t.map(|l| t - l).filter(|d| *d > 0.0);
        // Per (metric, label set): the increase over every agent since the last round.
        let mut increase: HashMap<(String, String), f64> = HashMap::new();
        let mut now: HashMap<(String, String), f64> = HashMap::new();
        for (agent, p) in scrapes {
            self.bad_lines += p.bad_lines;
            for s in &p.samples {
                let Some(metric) = s.name.strip_prefix(&self.prefix) else {
                    continue;
                };
                let labels = label_text(&s.labels);
                let series = (format!("{agent}\u{0}{metric}"), labels.clone());
                let before = self.last.get(&series).copied().unwrap_or(0.0);
                let up = if s.value >= before {
                    s.value - before
                } else {
                    s.value
                };
                *increase.entry((metric.to_string(), labels)).or_default() += up;
                now.insert(series, s.value);
            }
        }
        if let Some(dt) = dt {
            for panel in &mut self.panels {
                let mut rates: Vec<(String, f64)> = increase
                    .iter()
                    .filter(|((m, _), _)| *m == panel.metric)
                    .map(|((_, labels), up)| (labels.clone(), up / dt))
                    .collect();
                let total = rates.iter().map(|(_, r)| r).sum();
                panel.points.push_back((t, total));
                if panel.points.len() > KEEP_POINTS {
                    panel.points.pop_front();
                }
                rates.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                rates.truncate(TOP);
                panel.top = rates;
            }
        }
        self.last = now;
        self.last_t = Some(t);
        self.rounds += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::parse;

    fn round(values: &[(u32, u32)]) -> Vec<(String, Parsed)> {
        values
            .iter()
            .enumerate()
            .map(|(i, (v, w))| {
                let text = format!(
                    "p_a_bytes_total{{SrcK8S_Namespace=\"x\",DstK8S_Namespace=\"y\"}} {v}\n\
                     p_a_bytes_total{{SrcK8S_Namespace=\"x\",DstK8S_Namespace=\"\"}} {w}\n"
                );
                (format!("agent-{i}"), parse(&text))
            })
            .collect()
    }

    #[test]
    fn rates_sum_agents_and_survive_resets() {
        let mut h = History::new("p_", &["a_bytes_total".into(), "h_seconds".into()]);
        assert_eq!(h.panels.len(), 1, "only counters are charted");
        assert_eq!(h.panels[0].unit, "B/s");
        h.add(0.0, &round(&[(100, 10), (100, 0)]));
        assert!(h.panels[0].points.is_empty(), "one round has no rate yet");
        h.add(2.0, &round(&[(300, 30), (500, 0)]));
        let p = &h.panels[0];
        assert_eq!(p.points.back(), Some(&(2.0, (600.0 + 20.0) / 2.0)));
        assert_eq!(p.top[0], ("x → y".to_string(), 300.0));
        assert_eq!(p.top[1], ("x → -".to_string(), 10.0));
        // agent-0 restarted: its counter starts over at 50; agent-1 is idle.
        h.add(4.0, &round(&[(50, 30), (500, 0)]));
        assert_eq!(h.panels[0].top[0], ("x → y".to_string(), 25.0));
        assert_eq!(h.panels[0].top[1], ("x → -".to_string(), 0.0));
    }
}
