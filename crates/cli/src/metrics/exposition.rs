//! Reading the Prometheus text exposition format (what the agents' `prom` encoder serves):
//! samples `name{label="value",...} value [timestamp]`, comments and blank lines skipped. A
//! line that does not parse is counted, not fatal: one odd line must not blank the charts.

use std::collections::BTreeMap;

/// One sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name (with its prefix and any `_bucket` / `_sum` / `_count` suffix).
    pub name: String,
    /// Labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: f64,
}

/// What a scrape held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// The samples, in the order served.
    pub samples: Vec<Sample>,
    /// Lines that were neither comments nor samples.
    pub bad_lines: usize,
}

/// Parses an exposition.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match sample(line) {
            Some(s) => out.samples.push(s),
            None => out.bad_lines += 1,
        }
    }
    out
}

fn sample(line: &str) -> Option<Sample> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = label_set(body)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Reads `a="x",b="y"}` and returns the labels and what follows the brace.
fn label_set(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start_matches([' ', ',']);
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        };
        labels.insert(key, value);
        s = &s[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_labels_and_escapes() {
        let p = parse(
            "# HELP x_total help\n# TYPE x_total counter\n\
             x_total{a=\"1\",b=\"q\\\"uote\\\\\"} 12.5\n\
             y 3 1700000000000\n\
             h_bucket{le=\"+Inf\"} 4\n\
             broken{a=\"1\" 2\n",
        );
        assert_eq!(p.samples.len(), 3);
        assert_eq!(p.samples[0].name, "x_total");
        assert_eq!(p.samples[0].labels["b"], "q\"uote\\");
        assert_eq!(p.samples[0].value, 12.5);
        assert_eq!(p.samples[1].labels.len(), 0);
        assert_eq!(p.samples[1].value, 3.0);
        assert_eq!(p.samples[2].labels["le"], "+Inf");
        assert_eq!(p.bad_lines, 1);
    }
}
