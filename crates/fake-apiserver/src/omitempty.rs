//! The form in which the API server stores a built-in object: Go's `omitempty` drops empty lists,
//! empty maps and empty strings of optional fields, and `null`s; empty structs (`podSelector: {}`,
//! `emptyDir: {}`) stay. A real v1.32 server stored a NetworkPolicy applied with `ingress: []`
//! without `ingress`, and every later apply of the same object counted as a change (reference
//! `operator.md` §9).
//!
//! Lists and maps are told from structs by the kind's OpenAPI schema (k8s-openapi): a map has
//! `additionalProperties`, a struct `properties`. A few non-pointer booleans and integers are also
//! `omitempty` in Go; they are named below.

use serde_json::Value;

/// Go fields that are plain (non-pointer) `bool` / `int32` with `omitempty`, so `false` / `0`
/// disappear on write.
const OMITTED_ZERO_SCALARS: &[&str] = &[
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "readOnly",
    "hostPort",
    "stdin",
    "tty",
];

fn is_map_schema(schema: &Value) -> bool {
    schema
        .get("additionalProperties")
        .is_some_and(Value::is_object)
        && schema.get("properties").is_none()
}

fn required(schema: &Value, key: &str) -> bool {
    schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|x| x == key))
}

/// Whether `value` would vanish on write as the field `key` of `parent`.
fn omitted(parent: &Value, key: &str, value: &Value, field: Option<&Value>) -> bool {
    if value.is_null() {
        return true;
    }
    if required(parent, key) {
        return false;
    }
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty() && field.is_some_and(is_map_schema),
        Value::String(s) => s.is_empty() && field.is_some(),
        Value::Bool(false) => OMITTED_ZERO_SCALARS.contains(&key),
        Value::Number(n) => n.as_i64() == Some(0) && OMITTED_ZERO_SCALARS.contains(&key),
        _ => false,
    }
}

/// Rewrites `value` in the form the API server stores it, following `schema`.
pub fn normalise(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            map.retain(|key, child| {
                let field = props.and_then(|p| p.get(key));
                !omitted(schema, key, child, field)
            });
            for (key, child) in map.iter_mut() {
                if let Some(field) = props.and_then(|p| p.get(key)).or(extra) {
                    normalise(child, field);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    normalise(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn network_policy_loses_empty_ingress_and_keeps_empty_selector() {
        let schema = crate::kinds::builtin()
            .into_iter()
            .find(|k| k.kind == "NetworkPolicy")
            .map(|k| match k.schema {
                crate::kinds::Schema::Builtin(f) => f().clone(),
                crate::kinds::Schema::Custom(_) => Value::Null,
            })
            .expect("NetworkPolicy is built in");
        let mut np = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "x", "labels": {}},
            "spec": {"podSelector": {}, "ingress": [], "egress": [{"to": [{"namespaceSelector": {}}]}],
                     "policyTypes": ["Ingress", "Egress"]}
        });
        normalise(&mut np, &schema);
        assert_eq!(
            np["spec"],
            json!({"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {}}]}],
                   "policyTypes": ["Ingress", "Egress"]})
        );
        assert!(np["metadata"].get("labels").is_none(), "{np}");
    }
}
