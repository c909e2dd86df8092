//! How kube-apiserver treats a custom resource against a structural `openAPIV3Schema`: unknown
//! fields are pruned, `null` on non-nullable fields is dropped, defaults are applied, then the
//! object is validated (types, enums, bounds, patterns, `required`, list sizes).
//!
//! Validation uses the `jsonschema` crate on the OpenAPI node translated to JSON Schema draft 4
//! (`nullable` becomes a `null` type alternative, `x-kubernetes-int-or-string` an integer/string
//! choice). String `format`s are not checked: the API server checks a few of them and a fake that
//! checked them differently would be wrong in both directions.

use serde_json::{Map, Value};

fn nullable(schema: &Value) -> bool {
    schema.get("nullable") == Some(&Value::Bool(true))
}

fn preserves_unknown(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

/// Drops every field the schema does not specify (unless it preserves unknown fields), and `null`
/// values of non-nullable fields, recursively. At the root, `apiVersion`, `kind` and `metadata`
/// are always kept.
pub fn prune(value: &mut Value, schema: &Value) {
    prune_node(value, schema, false);
}

/// [`prune`] for a whole object: keeps the type and object metadata at the root.
pub fn prune_object(value: &mut Value, schema: &Value) {
    prune_node(value, schema, true);
}

fn prune_node(value: &mut Value, schema: &Value, root: bool) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            let keep_unknown = preserves_unknown(schema) || extra.is_some();
            map.retain(|key, child| {
                if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    return true;
                }
                let child_schema = props.and_then(|p| p.get(key)).or(extra);
                match child_schema {
                    Some(s) => !child.is_null() || nullable(s),
                    None => keep_unknown,
                }
            });
            for (key, child) in map.iter_mut() {
                if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(s) = props.and_then(|p| p.get(key)).or(extra) {
                    prune_node(child, s, false);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items.iter_mut() {
                    prune_node(item, item_schema, false);
                }
            }
        }
        _ => {}
    }
}

/// Applies defaults the way the API server does: an absent property with a `default` gets it,
/// then defaulting recurses into objects, maps and arrays (including into the defaults just
/// inserted). Defaults only apply where the parent exists.
pub fn apply_defaults(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = schema.get("properties") {
                for (name, prop) in props {
                    if !map.contains_key(name)
                        && let Some(default) = prop.get("default")
                    {
                        map.insert(name.clone(), default.clone());
                    }
                    if let Some(child) = map.get_mut(name) {
                        apply_defaults(child, prop);
                    }
                }
            }
            if let Some(extra @ Value::Object(_)) = schema.get("additionalProperties") {
                for child in map.values_mut() {
                    apply_defaults(child, extra);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

/// The OpenAPI v3 node as a JSON Schema draft 4 document.
fn to_json_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "properties" => {
                        let props = value
                            .as_object()
                            .map(|p| {
                                p.iter()
                                    .map(|(k, v)| (k.clone(), to_json_schema(v)))
                                    .collect::<Map<_, _>>()
                            })
                            .unwrap_or_default();
                        out.insert(key.clone(), Value::Object(props));
                    }
                    "items" | "additionalProperties" | "not" => {
                        out.insert(key.clone(), to_json_schema(value));
                    }
                    "allOf" | "anyOf" | "oneOf" => {
                        let alts = value
                            .as_array()
                            .map(|a| a.iter().map(to_json_schema).collect())
                            .unwrap_or_default();
                        out.insert(key.clone(), Value::Array(alts));
                    }
                    "format" | "nullable" | "default" | "description" | "example" => {}
                    k if k.starts_with("x-kubernetes-") => {}
                    _ => {
                        out.insert(key.clone(), value.clone());
                    }
                }
            }
            if nullable(schema)
                && let Some(Value::String(t)) = map.get("type")
            {
                out.insert("type".into(), serde_json::json!([t, "null"]));
                if let Some(Value::Array(values)) = out.get_mut("enum") {
                    values.push(Value::Null);
                }
            }
            if map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
                && !map.contains_key("anyOf")
            {
                out.insert(
                    "anyOf".into(),
                    serde_json::json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// JSON pointer `/spec/items/0/name` as the API server's field path `.spec.items[0].name`.
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            out.push_str(&format!("[{segment}]"));
        } else {
            out.push('.');
            out.push_str(&segment);
        }
    }
    out
}

/// Validates `value` against an OpenAPI v3 schema node. Each error starts with the field path
/// relative to the node (`.address: Required value`, `.mode: Unsupported value: ...`), in the
/// API server's words where it has fixed ones.
pub fn validate_value(schema: &Value, value: &Value) -> Vec<String> {
    let document = to_json_schema(schema);
    let validator = match jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(false)
        .build(&document)
    {
        Ok(v) => v,
        Err(e) => return vec![format!(": Invalid value: the schema does not compile: {e}")],
    };
    validator
        .iter_errors(value)
        .map(|e| {
            let at = field_path(e.instance_path().as_str());
            match e.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    let name = property
                        .as_str()
                        .map_or_else(|| property.to_string(), str::to_string);
                    format!("{at}.{name}: Required value")
                }
                jsonschema::error::ValidationErrorKind::Enum { options } => {
                    format!(
                        "{at}: Unsupported value: {}: supported values: {options}",
                        e.instance()
                    )
                }
                _ => format!("{at}: Invalid value: {e}"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_errors_name_the_field() {
        let schema = json!({"type": "object", "required": ["address"],
                            "properties": {"address": {"type": "string", "default": ""}}});
        assert_eq!(
            validate_value(&schema, &json!({})),
            vec![".address: Required value".to_string()]
        );
        assert!(validate_value(&schema, &json!({"address": ""})).is_empty());
    }

    #[test]
    fn nullable_and_int_or_string() {
        let schema = json!({"type": "object", "properties": {
            "n": {"type": "string", "nullable": true},
            "p": {"x-kubernetes-int-or-string": true}
        }});
        assert!(validate_value(&schema, &json!({"n": null, "p": 80})).is_empty());
        assert!(validate_value(&schema, &json!({"p": "http"})).is_empty());
        assert!(!validate_value(&schema, &json!({"p": true})).is_empty());
    }

    #[test]
    fn prune_drops_unknown_and_null_and_keeps_preserved() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "map": {"type": "object", "additionalProperties": {"type": "string"}}
        }});
        let mut v = json!({"a": null, "b": 1, "free": {"x": 1}, "map": {"k": "v"}});
        prune(&mut v, &schema);
        assert_eq!(v, json!({"free": {"x": 1}, "map": {"k": "v"}}));
    }

    #[test]
    fn defaults_apply_only_under_existing_parents() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string", "default": "x"}}},
            "c": {"type": "object", "default": {}, "properties": {"d": {"type": "integer", "default": 3}}}
        }});
        let mut v = json!({});
        apply_defaults(&mut v, &schema);
        assert_eq!(v, json!({"c": {"d": 3}}));
        let mut v = json!({"a": {}});
        apply_defaults(&mut v, &schema);
        assert_eq!(v, json!({"a": {"b": "x"}, "c": {"d": 3}}));
    }

    #[test]
    fn field_paths_read_like_the_api_server() {
        assert_eq!(
            field_path("/spec/exporters/0/kafka"),
            ".spec.exporters[0].kafka"
        );
        assert_eq!(field_path(""), "");
    }
}
