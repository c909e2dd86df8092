//! `x-kubernetes-validations` rules. The fake evaluates the one rule shape this project uses,
//! the transition rule `self == oldSelf` (a field that cannot change once set); any other rule is
//! refused loudly with a 500 so that a test never passes on a rule nobody evaluated.

use crate::status::{self, Failure};
use serde_json::Value;

/// Errors of the transition rules of `schema` for an update from `old` to `new` (rules on fields
/// absent from either side do not run, as in the API server).
pub fn transition_rules(
    schema: &Value,
    new: &Value,
    old: Option<&Value>,
) -> Result<Vec<String>, Failure> {
    let mut errors = Vec::new();
    walk(schema, Some(new), old, String::new(), &mut errors)?;
    Ok(errors)
}

fn walk(
    schema: &Value,
    new: Option<&Value>,
    old: Option<&Value>,
    path: String,
    errors: &mut Vec<String>,
) -> Result<(), Failure> {
    if let Some(rules) = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for rule in rules {
            let text = rule["rule"].as_str().unwrap_or_default();
            if text.replace(' ', "") != "self==oldSelf" {
                return Err(status::internal(format!(
                    "the fake API server cannot evaluate the CEL rule `{text}` at {path}"
                )));
            }
            if let (Some(n), Some(o)) = (new, old)
                && n != o
            {
                let message = rule["message"]
                    .as_str()
                    .unwrap_or("failed rule: self == oldSelf");
                errors.push(format!(
                    "{}: Invalid value: \"{}\": {message}",
                    path.trim_start_matches('.'),
                    type_name(n)
                ));
            }
        }
    }
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (name, child) in props {
            let n = new.and_then(|v| v.get(name));
            let o = old.and_then(|v| v.get(name));
            if n.is_some() || o.is_some() {
                walk(child, n, o, format!("{path}.{name}"), errors)?;
            }
        }
    }
    // Rules under list items and map values are not evaluated (transition rules there need list
    // keys); walking them still refuses any rule shape the fake does not know.
    for nested in ["items", "additionalProperties"] {
        if let Some(child @ Value::Object(_)) = schema.get(nested) {
            walk(child, None, None, format!("{path}.{nested}"), errors)?;
        }
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}
