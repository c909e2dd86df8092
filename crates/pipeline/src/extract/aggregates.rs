//! The `aggregates` extract stage: per-group running aggregates of a field (sum, min, max, avg,
//! count, raw values), emitted after every batch as one record per live group.
//!
//! Output records carry `name`, `operation_type`, `operation_key`, `by`, `aggregate` (the group's
//! values joined with `,`), each group-by field, `total_value` / `total_count` (since the group
//! appeared), and `recent_op_value` / `recent_count` / `recent_raw_values` (this batch only). The
//! `recent_*` fields are what counters and `agg_histogram` metrics consume. Groups without an
//! update for their expiry time are forgotten.

use crate::config::{
    AggregateOperation as Operation, AggregateRule, AggregatesConfig, Extract, parse_go_duration,
};
use crate::record::{Record, Value};
use crate::stage::{BuildError, StageContext, section};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Default group expiry, as upstream.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(120);

/// Running state of one group.
#[derive(Debug)]
struct Group {
    values: Vec<Value>,
    total_value: f64,
    total_count: u64,
    recent_value: f64,
    recent_count: u64,
    recent_raw: Vec<f64>,
    updated: Instant,
}

impl Group {
    fn add(&mut self, op: Operation, v: f64) {
        let fold = |current: f64, count: u64| match op {
            Operation::Sum => current + v,
            Operation::Count => current + 1.0,
            Operation::Min if count == 0 => v,
            Operation::Min => current.min(v),
            Operation::Max if count == 0 => v,
            Operation::Max => current.max(v),
            Operation::Avg => (current * count as f64 + v) / (count + 1) as f64,
            Operation::RawValues => 0.0,
        };
        self.total_value = fold(self.total_value, self.total_count);
        self.recent_value = fold(self.recent_value, self.recent_count);
        if op == Operation::RawValues {
            self.recent_raw.push(v);
        }
        self.total_count += 1;
        self.recent_count += 1;
    }
}

struct Rule {
    config: AggregateRule,
    by: String,
    expiry: Duration,
    groups: HashMap<String, Group>,
}

/// A built `aggregates` stage.
pub struct Aggregates {
    rules: Vec<Rule>,
    /// Records skipped because a group-by field or the operation field was missing or not a
    /// number (counted, so a typo in a key is visible).
    pub skipped: u64,
}

impl Aggregates {
    /// Builds the stage from its `aggregates` object as JSON (tools, tests).
    pub fn new(raw: &serde_json::Value) -> Result<Self, BuildError> {
        let config: AggregatesConfig = serde_json::from_value(raw.clone())
            .map_err(|e| BuildError::Invalid(format!("aggregates: {e}")))?;
        Self::from_config(config)
    }

    /// Builds the stage from its parameters.
    pub fn from_config(config: AggregatesConfig) -> Result<Self, BuildError> {
        let duration = |field: &str, v: &Option<String>, default| match v {
            Some(t) if !t.is_empty() => parse_go_duration(t)
                .map_err(|e| BuildError::Invalid(format!("aggregates {field}: {e}"))),
            _ => Ok(default),
        };
        let default_expiry = duration(
            "defaultExpiryTime",
            &config.default_expiry_time,
            DEFAULT_EXPIRY,
        )?;
        let rules = config
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| {
                if rule.operation_type != Operation::Count && rule.operation_key.is_empty() {
                    return Err(BuildError::Invalid(format!(
                        "aggregates.rules[{i}] `{}`: {} needs `operationKey`",
                        rule.name,
                        rule.operation_type.as_str()
                    )));
                }
                Ok(Rule {
                    by: rule.group_by_keys.join(","),
                    expiry: duration("expiryTime", &rule.expiry_time, default_expiry)?,
                    config: rule,
                    groups: HashMap::new(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules, skipped: 0 })
    }

    /// Folds a batch in and returns one record per live group (all rules).
    pub fn extract(&mut self, batch: &[Record]) -> Vec<Record> {
        self.extract_at(batch, Instant::now())
    }

    /// [`Self::extract`] with an explicit clock, for expiry tests.
    pub fn extract_at(&mut self, batch: &[Record], now: Instant) -> Vec<Record> {
        let mut out = Vec::new();
        for rule in &mut self.rules {
            for record in batch {
                let mut values = Vec::with_capacity(rule.config.group_by_keys.len());
                let mut key = String::new();
                let mut complete = true;
                for field in &rule.config.group_by_keys {
                    match record.get(field) {
                        Some(v) => {
                            if !key.is_empty() {
                                key.push(',');
                            }
                            key.push_str(&v.to_text());
                            values.push(v.clone());
                        }
                        None => {
                            complete = false;
                            break;
                        }
                    }
                }
                if !complete {
                    self.skipped += 1;
                    continue;
                }
                let v = if rule.config.operation_type == Operation::Count {
                    1.0
                } else {
                    match record
                        .get(&rule.config.operation_key)
                        .and_then(Value::as_f64)
                    {
                        Some(v) => v,
                        None => {
                            self.skipped += 1;
                            continue;
                        }
                    }
                };
                let group = rule.groups.entry(key).or_insert_with(|| Group {
                    values,
                    total_value: 0.0,
                    total_count: 0,
                    recent_value: 0.0,
                    recent_count: 0,
                    recent_raw: Vec::new(),
                    updated: now,
                });
                group.updated = now;
                group.add(rule.config.operation_type, v);
            }
            let expiry = rule.expiry;
            rule.groups
                .retain(|_, g| now.saturating_duration_since(g.updated) < expiry);
            let mut keys: Vec<&String> = rule.groups.keys().collect();
            keys.sort();
            let keys: Vec<String> = keys.into_iter().cloned().collect();
            for key in keys {
                let Some(group) = rule.groups.get_mut(&key) else {
                    continue;
                };
                let mut r = Record::with_capacity(10 + group.values.len());
                r.push_new("name", rule.config.name.as_str());
                r.push_new("operation_type", rule.config.operation_type.as_str());
                r.push_new("operation_key", rule.config.operation_key.as_str());
                r.push_new("by", rule.by.as_str());
                r.push_new("aggregate", key.as_str());
                for (field, value) in rule.config.group_by_keys.iter().zip(&group.values) {
                    r.insert(field.clone(), value.clone());
                }
                r.insert("total_value", group.total_value);
                r.insert("total_count", group.total_count);
                if rule.config.operation_type == Operation::RawValues {
                    r.insert(
                        "recent_raw_values",
                        Value::List(group.recent_raw.drain(..).map(Value::Float).collect()),
                    );
                }
                r.insert("recent_op_value", group.recent_value);
                r.insert("recent_count", group.recent_count);
                group.recent_value = 0.0;
                group.recent_count = 0;
                out.push(r);
            }
        }
        out
    }

    /// Live groups across rules.
    pub fn groups(&self) -> usize {
        self.rules.iter().map(|r| r.groups.len()).sum()
    }
}

/// Builder of `aggregates`.
pub fn build(
    extract: &Extract,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn super::Extractor>, BuildError> {
    let config = section(extract.aggregates.as_ref(), "aggregates")?;
    Ok(Box::new(Aggregates::from_config(config.clone())?))
}

impl super::Extractor for Aggregates {
    fn extract(&mut self, batch: &[Record]) -> Vec<Record> {
        Aggregates::extract(self, batch)
    }
}
