//! The three-way merge of a v1beta1 write into the v1beta2 object held by the annotation: fields
//! the client changed take the client's value, all others keep the stored one.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::ConversionError;
use super::down::down_spec;
use super::up::up_spec;
use crate::v1beta2 as v2;

/// Rebuilds the v1beta2 spec from the annotation's `stored` spec and the up-conversion of the
/// v1beta1 spec the client sent (`edited`).
pub(super) fn restore_spec(
    stored: &v2::FlowCollectorSpec,
    edited: v2::FlowCollectorSpec,
) -> Result<v2::FlowCollectorSpec, ConversionError> {
    // What `edited` would be if the client had changed nothing.
    let base = up_spec(&down_spec(stored))?;
    if base == edited {
        return Ok(stored.clone());
    }
    let to_json = |spec: &v2::FlowCollectorSpec| {
        serde_json::to_value(spec).map_err(ConversionError::Serialize)
    };
    let mut merged = to_json(stored)?;
    merge_value(&mut merged, &to_json(&base)?, &to_json(&edited)?);
    let mut spec: v2::FlowCollectorSpec =
        serde_json::from_value(merged).map_err(ConversionError::Merge)?;
    // v1beta1 Loki settings are the `Manual` mode: once edited, they only take effect in it.
    if edited.loki.manual != base.loki.manual && stored.loki.mode != v2::LokiMode::Manual {
        spec.loki.mode = v2::LokiMode::Manual;
        spec.loki.manual = edited.loki.manual;
    }
    Ok(spec)
}

/// Applies to `target` the changes that turn `base` into `edited`.
fn merge_value(target: &mut Value, base: &Value, edited: &Value) {
    if base == edited {
        return;
    }
    match (target, edited) {
        (Value::Object(target), Value::Object(edited)) => {
            let empty = Map::new();
            merge_object(target, base.as_object().unwrap_or(&empty), edited);
        }
        (Value::Array(target), Value::Array(edited)) => match base {
            Value::Array(base) if base.len() == target.len() => {
                merge_array(target, base, edited);
            }
            _ => target.clone_from(edited),
        },
        (target, edited) => target.clone_from(edited),
    }
}

/// Object case of [`merge_value`], key by key over the keys of `base` and `edited`.
fn merge_object(
    target: &mut Map<String, Value>,
    base: &Map<String, Value>,
    edited: &Map<String, Value>,
) {
    let keys: BTreeSet<&String> = base.keys().chain(edited.keys()).collect();
    for key in keys {
        match (base.get(key), edited.get(key)) {
            (b, e) if b == e => {}
            (b, Some(e)) => match target.get_mut(key) {
                Some(t) => merge_value(t, b.unwrap_or(&Value::Null), e),
                None => {
                    target.insert(key.clone(), e.clone());
                }
            },
            (Some(b), None) => {
                // Left out of `edited`: back to its default. Only the fields that came from
                // v1beta1 are removed from an object; the rest of it stays.
                let keep = match target.get_mut(key) {
                    Some(t @ Value::Object(_)) if b.is_object() => {
                        merge_value(t, b, &Value::Object(Map::new()));
                        t.as_object().is_some_and(|o| !o.is_empty())
                    }
                    _ => false,
                };
                if !keep {
                    target.remove(key);
                }
            }
            (None, None) => {}
        }
    }
}

/// Merges lists item by item. `target` and `base` have the same length and the same order (the
/// conversions keep both), so `base[i]` is what `target[i]` looked like to the client. Items the
/// client kept (even if moved) keep their stored value; items changed in place are merged; new
/// items are taken as sent.
fn merge_array(target: &mut Vec<Value>, base: &[Value], edited: &[Value]) {
    let mut used = vec![false; base.len()];
    let mut out: Vec<Option<Value>> = vec![None; edited.len()];
    for (i, item) in edited.iter().enumerate() {
        let found = if i < base.len() && !used[i] && base[i] == *item {
            Some(i)
        } else {
            (0..base.len()).find(|&j| !used[j] && base[j] == *item)
        };
        if let Some(j) = found {
            used[j] = true;
            out[i] = Some(target[j].clone());
        }
    }
    let same_length = base.len() == edited.len();
    let merged = edited
        .iter()
        .zip(out)
        .enumerate()
        .map(|(i, (item, kept))| match kept {
            Some(value) => value,
            None if same_length && !used[i] => {
                let mut value = target[i].clone();
                merge_value(&mut value, &base[i], item);
                value
            }
            None => item.clone(),
        })
        .collect();
    *target = merged;
}
