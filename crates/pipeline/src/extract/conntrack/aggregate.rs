//! The `outputFields` of a connection: what each one folds over the connection's flows (sum,
//! count, min, max, first, last), split by direction when `splitAB` asks for it.
//!
//! Each output field owns one slot per output name (`Bytes`, or `Bytes_AB` and `Bytes_BA`) in
//! the connection's accumulator vector, so updating a connection is an index per field and no
//! lookup by name.

use super::ConfigError;
use crate::config::{ConnectionOperation as Op, OutputField};
use crate::record::{Key, Record, Value, key};

/// One compiled output field.
#[derive(Clone, Debug)]
struct Field {
    /// The configured name (metric labels, messages).
    name: String,
    input: Key,
    op: Op,
    report_missing: bool,
    /// Output names: one, or `_AB` then `_BA`.
    outputs: Vec<Key>,
    /// Index of the first slot.
    slot: usize,
}

/// Why a flow's value could not be folded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoldError {
    /// The input field is absent and the field has `reportMissing`.
    Missing,
    /// min / max / sum on a value that is not a number.
    NotNumeric,
}

/// The running value of one output.
#[derive(Clone, Debug, PartialEq)]
pub enum Acc {
    /// A sum: integers stay integers, so `Bytes_AB` prints as `1200`, not `1200.0`.
    Sum {
        /// Integer part.
        int: i64,
        /// Float part, when any input was fractional.
        float: Option<f64>,
    },
    /// A count of flows.
    Count(u64),
    /// The smallest or largest value so far, with its number.
    Extreme(Option<(f64, Value)>),
    /// A first or last value.
    Pick(Option<Value>),
}

/// The compiled `outputFields`.
#[derive(Clone, Debug, Default)]
pub struct Aggregation {
    fields: Vec<Field>,
    slots: usize,
}

impl Aggregation {
    /// Compiles the output fields. `splitAB` needs a bidirectional key; names must be unique.
    pub fn new(config: &[OutputField], bidirectional: bool) -> Result<Self, ConfigError> {
        let mut fields = Vec::with_capacity(config.len());
        let mut seen = std::collections::HashSet::new();
        let mut slots = 0;
        for f in config {
            if f.name.is_empty() {
                return Err(ConfigError::UnnamedOutputField);
            }
            if !seen.insert(f.name.as_str()) {
                return Err(ConfigError::DuplicateOutputField(f.name.clone()));
            }
            if f.split_ab && !bidirectional {
                return Err(ConfigError::SplitWithoutEndpoints(f.name.clone()));
            }
            let outputs = if f.split_ab {
                vec![
                    key(&format!("{}_AB", f.name)),
                    key(&format!("{}_BA", f.name)),
                ]
            } else {
                vec![key(&f.name)]
            };
            let input = if f.input.is_empty() {
                &f.name
            } else {
                &f.input
            };
            fields.push(Field {
                name: f.name.clone(),
                input: key(input),
                op: f.operation,
                report_missing: f.report_missing,
                slot: slots,
                outputs,
            });
            slots += fields.last().map_or(0, |f| f.outputs.len());
        }
        Ok(Self { fields, slots })
    }

    /// Fresh accumulators for a new connection.
    pub fn init(&self) -> Vec<Acc> {
        let mut accs = Vec::with_capacity(self.slots);
        for f in &self.fields {
            let acc = match f.op {
                Op::Sum => Acc::Sum {
                    int: 0,
                    float: None,
                },
                Op::Count => Acc::Count(0),
                Op::Min | Op::Max => Acc::Extreme(None),
                Op::First | Op::Last => Acc::Pick(None),
            };
            accs.extend(std::iter::repeat_n(acc, f.outputs.len()));
        }
        accs
    }

    /// Folds `record` into `accs`. `ab` says the flow goes from the connection's A endpoint to
    /// B (it picks the `_AB` or `_BA` slot of split fields). Each field that could not be
    /// folded is reported to `error` with its name.
    pub fn update(
        &self,
        accs: &mut [Acc],
        record: &Record,
        ab: bool,
        error: &mut dyn FnMut(&str, FoldError),
    ) {
        for f in &self.fields {
            let i = f.slot + usize::from(f.outputs.len() == 2 && !ab);
            let Some(acc) = accs.get_mut(i) else {
                continue;
            };
            let value = record.get(&f.input);
            if let Err(e) = fold(acc, f.op, value, f.report_missing) {
                error(&f.name, e);
            }
        }
    }

    /// Writes the outputs into `out`. Sums and counts are always written (0 for a direction
    /// without flows); min, max, first and last only once a value was seen.
    pub fn write(&self, accs: &[Acc], out: &mut Record) {
        for f in &self.fields {
            for (j, name) in f.outputs.iter().enumerate() {
                let value = match accs.get(f.slot + j) {
                    Some(Acc::Sum { int, float }) => match float {
                        Some(x) => Value::Float(*int as f64 + x),
                        None if *int >= 0 => Value::UInt(*int as u64),
                        None => Value::Int(*int),
                    },
                    Some(Acc::Count(n)) => Value::UInt(*n),
                    Some(Acc::Extreme(Some((_, v))) | Acc::Pick(Some(v))) => v.clone(),
                    _ => continue,
                };
                out.insert(name.clone(), value);
            }
        }
    }
}

/// Folds one value into an accumulator.
fn fold(
    acc: &mut Acc,
    op: Op,
    value: Option<&Value>,
    report_missing: bool,
) -> Result<(), FoldError> {
    if let Acc::Count(n) = acc {
        *n += 1;
        return Ok(());
    }
    let value = match value {
        None | Some(Value::Null) if report_missing => return Err(FoldError::Missing),
        None | Some(Value::Null) => return Ok(()),
        Some(v) => v,
    };
    match acc {
        Acc::Sum { int, float } => match value {
            Value::Int(i) => *int = int.saturating_add(*i),
            Value::UInt(u) => *int = int.saturating_add(i64::try_from(*u).unwrap_or(i64::MAX)),
            other => {
                let x = other.as_f64().ok_or(FoldError::NotNumeric)?;
                *float = Some(float.unwrap_or(0.0) + x);
            }
        },
        Acc::Extreme(current) => {
            let x = value.as_f64().ok_or(FoldError::NotNumeric)?;
            let replace = match current {
                None => true,
                Some((best, _)) => (op == Op::Min && x < *best) || (op == Op::Max && x > *best),
            };
            if replace {
                *current = Some((x, value.clone()));
            }
        }
        Acc::Pick(current) => {
            if op == Op::Last || current.is_none() {
                *current = Some(value.clone());
            }
        }
        Acc::Count(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, op: Op, split: bool, input: &str) -> OutputField {
        OutputField {
            name: name.into(),
            operation: op,
            split_ab: split,
            input: input.into(),
            report_missing: false,
        }
    }

    #[test]
    fn operations_fold_as_documented() {
        let agg = Aggregation::new(
            &[
                field("Bytes", Op::Sum, true, ""),
                field("numFlowLogs", Op::Count, false, ""),
                field("TimeFlowStartMs", Op::Min, false, ""),
                field("TimeFlowEndMs", Op::Max, false, ""),
                field("AgentIP", Op::First, false, ""),
                field("LastAgent", Op::Last, false, "AgentIP"),
                field("Rtt", Op::Sum, false, "TimeFlowRttNs"),
            ],
            true,
        )
        .expect("valid");
        let mut accs = agg.init();
        let flows = [
            (
                r#"{"Bytes":100,"TimeFlowStartMs":5,"TimeFlowEndMs":9,"AgentIP":"a","TimeFlowRttNs":0.5}"#,
                true,
            ),
            (
                r#"{"Bytes":40,"TimeFlowStartMs":3,"TimeFlowEndMs":12,"AgentIP":"b"}"#,
                false,
            ),
            (
                r#"{"Bytes":1,"TimeFlowStartMs":7,"TimeFlowEndMs":8,"AgentIP":"c","TimeFlowRttNs":1.25}"#,
                true,
            ),
        ];
        let mut errors = Vec::new();
        for (json, ab) in flows {
            let r = Record::from_json(json).expect("json");
            agg.update(&mut accs, &r, ab, &mut |f, e| {
                errors.push((f.to_string(), e))
            });
        }
        assert!(errors.is_empty(), "{errors:?}");
        let mut out = Record::default();
        agg.write(&accs, &mut out);
        let get = |k: &str| out.get(k).cloned();
        assert_eq!(get("Bytes_AB"), Some(Value::UInt(101)));
        assert_eq!(get("Bytes_BA"), Some(Value::UInt(40)));
        assert_eq!(get("Bytes"), None);
        assert_eq!(get("numFlowLogs"), Some(Value::UInt(3)));
        assert_eq!(get("TimeFlowStartMs").and_then(|v| v.as_i64()), Some(3));
        assert_eq!(get("TimeFlowEndMs").and_then(|v| v.as_i64()), Some(12));
        assert_eq!(get("AgentIP"), Some(Value::from("a")));
        assert_eq!(get("LastAgent"), Some(Value::from("c")));
        assert_eq!(get("Rtt"), Some(Value::Float(1.75)));
    }

    #[test]
    fn missing_and_bad_inputs_are_reported() {
        let mut f = field("TimeFlowEndMs", Op::Max, false, "");
        f.report_missing = true;
        let agg = Aggregation::new(&[f, field("Bytes", Op::Sum, false, "")], false).expect("ok");
        let mut accs = agg.init();
        let r = Record::from_json(r#"{"Bytes":"lots"}"#).expect("json");
        let mut errors = Vec::new();
        agg.update(&mut accs, &r, true, &mut |f, e| {
            errors.push((f.to_string(), e))
        });
        assert_eq!(
            errors,
            vec![
                ("TimeFlowEndMs".to_string(), FoldError::Missing),
                ("Bytes".to_string(), FoldError::NotNumeric)
            ]
        );
    }

    #[test]
    fn split_needs_endpoints_and_names_are_unique() {
        assert!(Aggregation::new(&[field("Bytes", Op::Sum, true, "")], false).is_err());
        assert!(
            Aggregation::new(
                &[
                    field("Bytes", Op::Sum, false, ""),
                    field("Bytes", Op::Max, false, "")
                ],
                true
            )
            .is_err()
        );
    }
}
