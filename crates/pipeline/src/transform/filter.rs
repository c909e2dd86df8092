//! The `filter` transform: drops records or fields, adds fields, keeps records matching a query,
//! and samples, scaling the sampling field of what it keeps.

use super::{BuildError, Sampler, Transformer};
use crate::config::{
    FilterGenericRule, FilterRule, FilterRuleKind, FilterRuleWithAssignee, FilterTransform,
    RemoveEntryRule,
};
use crate::record::{Record, Value};

/// A comparison parsed once from `parameters` such as `>=10`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Condition {
    Eq(f64),
    Ne(f64),
    Lt(f64),
    Le(f64),
    Gt(f64),
    Ge(f64),
}

impl Condition {
    fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (op, rest) = ["==", "!=", ">=", "<=", ">", "<"]
            .iter()
            .find_map(|op| t.strip_prefix(op).map(|rest| (*op, rest)))
            .ok_or_else(|| format!("condition `{text}` must start with ==, !=, <, <=, > or >="))?;
        let n: f64 = rest
            .trim()
            .parse()
            .map_err(|_| format!("condition `{text}`: `{}` is not a number", rest.trim()))?;
        Ok(match op {
            "==" => Self::Eq(n),
            "!=" => Self::Ne(n),
            ">=" => Self::Ge(n),
            "<=" => Self::Le(n),
            ">" => Self::Gt(n),
            _ => Self::Lt(n),
        })
    }

    fn holds(self, v: f64) -> bool {
        match self {
            Self::Eq(n) => v == n,
            Self::Ne(n) => v != n,
            Self::Lt(n) => v < n,
            Self::Le(n) => v <= n,
            Self::Gt(n) => v > n,
            Self::Ge(n) => v >= n,
        }
    }
}

/// A `remove_entry_*` test, with its comparison value pre-rendered as text.
struct EntryTest {
    kind: FilterRuleKind,
    input: String,
    value_text: String,
}

impl EntryTest {
    fn new(kind: FilterRuleKind, rule: &FilterGenericRule) -> Result<Self, BuildError> {
        use FilterRuleKind as K;
        if !matches!(
            kind,
            K::RemoveEntryIfExists
                | K::RemoveEntryIfDoesntExist
                | K::RemoveEntryIfEqual
                | K::RemoveEntryIfNotEqual
        ) {
            return Err(BuildError::Invalid(format!(
                "{kind:?} cannot be nested: use a remove_entry_if_* rule"
            )));
        }
        let value_text = match &rule.value {
            None => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => Value::from(other.clone()).to_text(),
        };
        Ok(Self {
            kind,
            input: rule.input.clone(),
            value_text,
        })
    }

    /// Whether the record satisfies the removal condition. Values compare by their text form,
    /// so `6` in the configuration equals a `Proto` of 6 whatever its JSON type.
    fn satisfied(&self, record: &Record) -> bool {
        use FilterRuleKind as K;
        let value = record.get(&self.input);
        match self.kind {
            K::RemoveEntryIfExists => value.is_some(),
            K::RemoveEntryIfDoesntExist => value.is_none(),
            K::RemoveEntryIfEqual => value.is_some_and(|v| text_equals(v, &self.value_text)),
            K::RemoveEntryIfNotEqual => value.is_some_and(|v| !text_equals(v, &self.value_text)),
            _ => false,
        }
    }
}

fn text_equals(value: &Value, text: &str) -> bool {
    match value {
        Value::Str(s) => s.as_str() == text,
        other => other.to_text() == text,
    }
}

fn assignment(rule: &FilterGenericRule) -> Value {
    let value = rule.value.clone().map(Value::from).unwrap_or(Value::Null);
    if rule.cast_int
        && let Some(i) = value.as_i64()
    {
        return Value::Int(i);
    }
    value
}

enum Op {
    RemoveField(String),
    RemoveEntry(EntryTest),
    RemoveAll(Vec<EntryTest>),
    Keep {
        query: flowdsl::Filter,
        sampling: u64,
    },
    Add {
        field: String,
        value: Value,
        only_if_absent: bool,
    },
    AddIf {
        rule: FilterRuleWithAssignee,
        condition: Condition,
    },
    AddRegexIf {
        rule: FilterRuleWithAssignee,
        pattern: flowdsl::Pattern,
    },
    Sample(Vec<(u64, Vec<EntryTest>)>),
    /// `add_label`: label `name` = `value` on every record.
    Label {
        name: String,
        value: String,
    },
    /// `add_label_if`: label `name` = `value` when the input satisfies the condition.
    LabelIf {
        input: String,
        condition: Condition,
        name: String,
        value: String,
    },
}

/// A built `filter` stage.
pub struct FilterStage {
    ops: Vec<Op>,
    sampling_field: String,
    sampler: Sampler,
}

impl FilterStage {
    /// Builds the stage: parses queries, regexes and conditions once.
    pub fn new(config: FilterTransform) -> Result<Self, BuildError> {
        let ops = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| build_op(r).map_err(|e| prefix(i, e)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            ops,
            sampling_field: config.sampling_field,
            sampler: Sampler::new(),
        })
    }

    /// Replaces the random sampler (tests use a seeded one).
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = sampler;
        self
    }
}

fn prefix(i: usize, e: BuildError) -> BuildError {
    match e {
        BuildError::Invalid(m) => BuildError::Invalid(format!("filter.rules[{i}]: {m}")),
        BuildError::Unsupported(m) => BuildError::Unsupported(format!("filter.rules[{i}]: {m}")),
        other => other,
    }
}

fn missing(kind: FilterRuleKind, key: &str) -> BuildError {
    BuildError::Invalid(format!("type {kind:?} needs `{key}`"))
}

fn build_op(rule: &FilterRule) -> Result<Op, BuildError> {
    use FilterRuleKind as K;
    let kind = rule.kind;
    Ok(match kind {
        K::RemoveField => Op::RemoveField(
            rule.remove_field
                .as_ref()
                .ok_or_else(|| missing(kind, "removeField"))?
                .input
                .clone(),
        ),
        K::RemoveEntryIfExists
        | K::RemoveEntryIfDoesntExist
        | K::RemoveEntryIfEqual
        | K::RemoveEntryIfNotEqual => Op::RemoveEntry(EntryTest::new(
            kind,
            rule.remove_entry
                .as_ref()
                .ok_or_else(|| missing(kind, "removeEntry"))?,
        )?),
        K::RemoveEntryAllSatisfied => Op::RemoveAll(nested(&rule.remove_entry_all_satisfied)?),
        K::KeepEntryQuery => Op::Keep {
            query: flowdsl::compile(&rule.keep_entry_query)
                .map_err(|e| BuildError::Invalid(format!("keepEntryQuery: {e}")))?,
            sampling: u64::from(rule.keep_entry_sampling.unwrap_or(0)),
        },
        K::AddField | K::AddFieldIfDoesntExist => {
            let sub = if kind == K::AddField {
                rule.add_field
                    .as_ref()
                    .ok_or_else(|| missing(kind, "addField"))?
            } else {
                rule.add_field_if_doesnt_exist
                    .as_ref()
                    .ok_or_else(|| missing(kind, "addFieldIfDoesntExist"))?
            };
            Op::Add {
                field: sub.input.clone(),
                value: assignment(sub),
                only_if_absent: kind == K::AddFieldIfDoesntExist,
            }
        }
        K::AddFieldIf => {
            let sub = rule
                .add_field_if
                .clone()
                .ok_or_else(|| missing(kind, "addFieldIf"))?;
            let condition = Condition::parse(&sub.parameters).map_err(BuildError::Invalid)?;
            Op::AddIf {
                rule: sub,
                condition,
            }
        }
        K::AddRegexIf => {
            let sub = rule
                .add_regex_if
                .clone()
                .ok_or_else(|| missing(kind, "addRegexIf"))?;
            let pattern = flowdsl::Pattern::new(&sub.parameters)
                .map_err(|e| BuildError::Invalid(format!("regex `{}`: {e}", sub.parameters)))?;
            Op::AddRegexIf { rule: sub, pattern }
        }
        K::AddLabel => {
            let sub = rule
                .add_label
                .as_ref()
                .ok_or_else(|| missing(kind, "addLabel"))?;
            if sub.input.is_empty() {
                return Err(BuildError::Invalid(
                    "addLabel needs `input` (the label name)".into(),
                ));
            }
            let value = match &sub.value {
                None => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => Value::from(other.clone()).to_text(),
            };
            Op::Label {
                name: sub.input.clone(),
                value,
            }
        }
        K::AddLabelIf => {
            let sub = rule
                .add_label_if
                .as_ref()
                .ok_or_else(|| missing(kind, "addLabelIf"))?;
            if sub.output.is_empty() {
                return Err(BuildError::Invalid(
                    "addLabelIf needs `output` (the label name)".into(),
                ));
            }
            Op::LabelIf {
                input: sub.input.clone(),
                condition: Condition::parse(&sub.parameters).map_err(BuildError::Invalid)?,
                name: sub.output.clone(),
                value: sub.assignee.clone(),
            }
        }
        K::ConditionalSampling => Op::Sample(
            rule.conditional_sampling
                .iter()
                .map(|c| Ok((u64::from(c.value), nested(&c.rules)?)))
                .collect::<Result<_, BuildError>>()?,
        ),
    })
}

fn nested(rules: &[RemoveEntryRule]) -> Result<Vec<EntryTest>, BuildError> {
    rules
        .iter()
        .map(|r| EntryTest::new(r.kind, &r.remove_entry))
        .collect()
}

impl FilterStage {
    /// Keeps 1 in `n` records; the kept ones have their sampling field multiplied by `n`.
    fn sample(&mut self, record: &mut Record, n: u64) -> bool {
        if n <= 1 {
            return true;
        }
        if !self.sampler.keep(n) {
            return false;
        }
        if !self.sampling_field.is_empty() {
            let current = record
                .get(&self.sampling_field)
                .and_then(Value::as_i64)
                .filter(|s| *s > 0)
                .unwrap_or(1) as u64;
            record.insert(self.sampling_field.clone(), current.saturating_mul(n));
        }
        true
    }
}

impl Transformer for FilterStage {
    fn apply(&mut self, mut record: Record) -> Option<Record> {
        // Labels set by add_label / add_label_if, joined into the `labels` field at the end
        // (upstream's shape: `name=value,...`; here sorted by name so the output is stable).
        // Indices of the label rules that applied, in order.
        let mut labels: Vec<usize> = Vec::new();
        for i in 0..self.ops.len() {
            let keep = match &self.ops[i] {
                Op::RemoveField(field) => {
                    record.remove(field);
                    true
                }
                Op::RemoveEntry(test) => !test.satisfied(&record),
                Op::RemoveAll(tests) => !tests.iter().all(|t| t.satisfied(&record)),
                Op::Keep { query, sampling } => {
                    let sampling = *sampling;
                    query.matches(&record) && self.sample(&mut record, sampling)
                }
                Op::Add {
                    field,
                    value,
                    only_if_absent,
                } => {
                    if !*only_if_absent || !record.contains(field) {
                        record.insert(field.clone(), value.clone());
                    }
                    true
                }
                Op::AddIf { rule, condition } => {
                    if let Some(v) = record.get(&rule.input).cloned()
                        && v.as_f64().is_some_and(|f| condition.holds(f))
                    {
                        record.insert(rule.output.clone(), assigned(&rule.assignee, v));
                        record.insert(format!("{}_Evaluate", rule.output), true);
                    }
                    true
                }
                Op::AddRegexIf { rule, pattern } => {
                    if let Some(v) = record.get(&rule.input).cloned()
                        && pattern.regex().is_match(&v.to_text())
                    {
                        record.insert(rule.output.clone(), assigned(&rule.assignee, v));
                        record.insert(format!("{}_Matched", rule.output), true);
                    }
                    true
                }
                Op::Sample(conditions) => {
                    let n = conditions
                        .iter()
                        .find(|(_, tests)| tests.iter().all(|t| t.satisfied(&record)))
                        .map(|(n, _)| *n);
                    match n {
                        Some(n) => self.sample(&mut record, n),
                        None => true,
                    }
                }
                Op::Label { .. } => {
                    labels.push(i);
                    true
                }
                Op::LabelIf {
                    input, condition, ..
                } => {
                    if record
                        .get(input)
                        .and_then(Value::as_f64)
                        .is_some_and(|f| condition.holds(f))
                    {
                        labels.push(i);
                    }
                    true
                }
            };
            if !keep {
                return None;
            }
        }
        if !labels.is_empty() {
            let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(labels.len());
            for i in labels {
                if let Op::Label { name, value } | Op::LabelIf { name, value, .. } = &self.ops[i] {
                    set_label(&mut pairs, name, value);
                }
            }
            pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut text = String::new();
            for (k, v) in &pairs {
                if !text.is_empty() {
                    text.push(',');
                }
                text.push_str(k);
                text.push('=');
                text.push_str(v);
            }
            record.insert("labels", text);
        }
        Some(record)
    }
}

/// Sets a label, a later rule overriding an earlier one with the same name.
fn set_label<'a>(labels: &mut Vec<(&'a str, &'a str)>, name: &'a str, value: &'a str) {
    match labels.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = value,
        None => labels.push((name, value)),
    }
}

/// The value written by a conditional rule: the assignee when given, else the input's value.
fn assigned(assignee: &str, input: Value) -> Value {
    if assignee.is_empty() {
        input
    } else {
        Value::from(assignee)
    }
}
