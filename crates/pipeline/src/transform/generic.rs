//! The `generic` transform: renames and copies fields, optionally scaling numbers.

use super::Transformer;
use crate::config::{GenericPolicy, GenericTransform};
use crate::record::{Record, Value};

/// A built `generic` stage.
pub struct GenericStage {
    config: GenericTransform,
}

impl GenericStage {
    /// Builds the stage.
    pub fn new(config: GenericTransform) -> Self {
        Self { config }
    }
}

fn scaled(value: &Value, multiplier: Option<&serde_json::Number>) -> Value {
    match multiplier.and_then(serde_json::Number::as_f64) {
        Some(m) if m != 0.0 && m != 1.0 => match value {
            Value::Int(i) if m.fract() == 0.0 => Value::Int(i.saturating_mul(m as i64)),
            Value::UInt(u) if m.fract() == 0.0 && m > 0.0 => {
                Value::UInt(u.saturating_mul(m as u64))
            }
            other => other
                .as_f64()
                .map_or_else(|| other.clone(), |f| Value::Float(f * m)),
        },
        _ => value.clone(),
    }
}

impl Transformer for GenericStage {
    fn apply(&mut self, record: Record) -> Option<Record> {
        match self.config.policy {
            GenericPolicy::PreserveOriginalKeys => {
                let mut out = record;
                for rule in &self.config.rules {
                    if let Some(v) = out.get(&rule.input) {
                        let v = scaled(v, rule.multiplier.as_ref());
                        out.insert(rule.output.clone(), v);
                    }
                }
                Some(out)
            }
            GenericPolicy::ReplaceKeys => {
                let mut out = Record::with_capacity(self.config.rules.len());
                for rule in &self.config.rules {
                    if let Some(v) = record.get(&rule.input) {
                        out.insert(rule.output.clone(), scaled(v, rule.multiplier.as_ref()));
                    }
                }
                Some(out)
            }
        }
    }
}
