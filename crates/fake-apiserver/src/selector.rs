//! Label and field selectors of LIST and WATCH requests, with the operators kube-apiserver
//! accepts (`=`, `==`, `!=`, `in`, `notin`, exists, `!` not exists; fields on `metadata.name`
//! and `metadata.namespace`).

use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
enum Term {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// The selectors of one request.
#[derive(Clone, Debug, Default)]
pub struct Selectors {
    labels: Vec<Term>,
    fields: Vec<Term>,
}

/// Splits on commas outside parentheses.
fn split_terms(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn set(values: &str) -> Vec<String> {
    values
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(|v| v.trim().to_string())
        .collect()
}

fn parse(s: &str) -> Vec<Term> {
    split_terms(s)
        .into_iter()
        .map(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                Term::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = t.split_once("==") {
                Term::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = t.split_once('=') {
                Term::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = t.split_once(" notin ") {
                Term::NotIn(k.trim().into(), set(v))
            } else if let Some((k, v)) = t.split_once(" in ") {
                Term::In(k.trim().into(), set(v))
            } else if let Some(k) = t.strip_prefix('!') {
                Term::NotExists(k.trim().into())
            } else {
                Term::Exists(t)
            }
        })
        .collect()
}

fn holds(term: &Term, get: &dyn Fn(&str) -> Option<String>) -> bool {
    match term {
        Term::Equals(k, v) => get(k).as_deref() == Some(v.as_str()),
        Term::NotEquals(k, v) => get(k).as_deref() != Some(v.as_str()),
        Term::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Term::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Term::Exists(k) => get(k).is_some(),
        Term::NotExists(k) => get(k).is_none(),
    }
}

impl Selectors {
    /// From the `labelSelector` and `fieldSelector` query parameters.
    pub fn from_query(query: &BTreeMap<String, String>) -> Self {
        Self {
            labels: query
                .get("labelSelector")
                .map(|s| parse(s))
                .unwrap_or_default(),
            fields: query
                .get("fieldSelector")
                .map(|s| parse(s))
                .unwrap_or_default(),
        }
    }

    /// Whether an object is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        let label = |k: &str| obj["metadata"]["labels"][k].as_str().map(str::to_string);
        let field = |k: &str| match k {
            "metadata.name" => obj["metadata"]["name"].as_str().map(str::to_string),
            "metadata.namespace" => obj["metadata"]["namespace"].as_str().map(str::to_string),
            other => obj
                .pointer(&format!("/{}", other.replace('.', "/")))
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        self.labels.iter().all(|t| holds(t, &label)) && self.fields.iter().all(|t| holds(t, &field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_operators() {
        let obj = json!({"metadata": {"name": "a", "labels": {"app": "x", "tier": "web"}}});
        let sel = |l: &str| {
            let mut q = BTreeMap::new();
            q.insert("labelSelector".to_string(), l.to_string());
            Selectors::from_query(&q).matches(&obj)
        };
        assert!(sel("app=x"));
        assert!(sel("app==x,tier"));
        assert!(!sel("app!=x"));
        assert!(sel("tier in (web,db)"));
        assert!(!sel("tier notin (web)"));
        assert!(sel("!missing"));
        assert!(!sel("missing"));
    }
}
