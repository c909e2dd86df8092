//! What kube-apiserver checks when a CustomResourceDefinition is created or updated: the schema of
//! every version must be *structural*, and every `default` must be pruned and valid against its
//! own sub-schema.
//!
//! The rules follow the Kubernetes documentation ("Specifying a structural schema", "Defaulting")
//! and what a real v1.32 API server answered for this project's CRD (reference `operator.md` §9):
//! a `default: {}` on an object with `required` fields is refused with
//! `...properties[kafka].default.address: Required value`, because the server validates the
//! default as written, without applying the nested defaults first.

use crate::schema;
use serde_json::Value;

/// Keywords a structural schema must not use at all.
const FORBIDDEN: &[&str] = &[
    "$ref",
    "$schema",
    "$defs",
    "definitions",
    "id",
    "patternProperties",
    "dependencies",
    "additionalItems",
];

/// Keywords that may not appear inside `allOf` / `anyOf` / `oneOf` / `not`.
const NOT_IN_JUNCTORS: &[&str] = &[
    "description",
    "type",
    "default",
    "additionalProperties",
    "nullable",
];

/// Checks a whole CRD (as JSON) and returns every error, phrased with the field paths the API
/// server uses. An empty list means the API server would accept it.
pub fn check_crd(crd: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let spec = &crd["spec"];
    check_names(crd, &mut errors);
    if crd.get("spec").and_then(|s| s.get("preserveUnknownFields")) == Some(&Value::Bool(true)) {
        errors.push(
            "spec.preserveUnknownFields: Invalid value: true: must be false in order to use defaults in the schema"
                .to_string(),
        );
    }
    let Some(versions) = spec["versions"].as_array() else {
        errors.push("spec.versions: Required value".to_string());
        return errors;
    };
    let storage = versions
        .iter()
        .filter(|v| v["storage"] == Value::Bool(true))
        .count();
    if storage != 1 {
        errors.push(format!(
            "spec.versions: Invalid value: must have exactly one version marked as storage version, found {storage}"
        ));
    }
    for (i, version) in versions.iter().enumerate() {
        let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
        match version.pointer("/schema/openAPIV3Schema") {
            Some(schema) => check_root(schema, &path, &mut errors),
            None => errors.push(format!("{path}: Required value: schemas are required")),
        }
    }
    match spec.pointer("/conversion/strategy").and_then(Value::as_str) {
        None | Some("None") => {}
        Some("Webhook") => {
            if spec.pointer("/conversion/webhook/clientConfig").is_none() {
                errors.push(
                    "spec.conversion.webhook.clientConfig: Required value: required when strategy is set to Webhook"
                        .to_string(),
                );
            }
        }
        Some(other) => errors.push(format!(
            "spec.conversion.strategy: Unsupported value: \"{other}\": supported values: \"None\", \"Webhook\""
        )),
    }
    errors
}

fn check_names(crd: &Value, errors: &mut Vec<String>) {
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    if plural.is_empty() || group.is_empty() {
        errors.push("spec.names.plural, spec.group: Required value".to_string());
    } else if name != format!("{plural}.{group}") {
        errors.push(format!(
            "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
        ));
    }
    if plural.chars().any(|c| c.is_ascii_uppercase()) {
        errors.push(format!(
            "spec.names.plural: Invalid value: \"{plural}\": must be lowercase"
        ));
    }
    if crd["spec"]["names"]["kind"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        errors.push("spec.names.kind: Required value".to_string());
    }
}

fn check_root(schema: &Value, path: &str, errors: &mut Vec<String>) {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        errors.push(format!(
            "{path}.type: Required value: must be object at the root"
        ));
    }
    if let Some(meta) = schema.pointer("/properties/metadata") {
        check_metadata(meta, &format!("{path}.properties[metadata]"), errors);
    }
    check_node(schema, path, false, errors);
}

/// Only `name` and `generateName` may be restricted under `metadata`.
fn check_metadata(meta: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(obj) = meta.as_object() else { return };
    for (key, value) in obj {
        match key.as_str() {
            "type" if value == "object" => {}
            "properties" => {
                for field in value.as_object().into_iter().flat_map(|p| p.keys()) {
                    if field != "name" && field != "generateName" {
                        errors.push(format!(
                            "{path}.properties[{field}]: Forbidden: must not be specified (only name and generateName may be restricted)"
                        ));
                    }
                }
            }
            "description" => {}
            other => errors.push(format!(
                "{path}.{other}: Forbidden: must not be specified (metadata only allows restrictions on name and generateName)"
            )),
        }
    }
}

fn int_or_string(node: &serde_json::Map<String, Value>) -> bool {
    node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
}

fn preserves_unknown(node: &serde_json::Map<String, Value>) -> bool {
    node.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

/// Checks one schema node and recurses; `in_junctor` is true under allOf/anyOf/oneOf/not.
fn check_node(node: &Value, path: &str, in_junctor: bool, errors: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        errors.push(format!("{path}: Invalid value: a schema must be an object"));
        return;
    };
    for keyword in FORBIDDEN {
        if obj.contains_key(*keyword) {
            errors.push(format!(
                "{path}.{keyword}: Forbidden: {keyword} is not supported"
            ));
        }
    }
    if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
        errors.push(format!(
            "{path}.uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        ));
    }
    if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
        errors.push(format!(
            "{path}.additionalProperties: Forbidden: additionalProperties cannot be set to false"
        ));
    }
    check_type(obj, path, in_junctor, errors);
    check_extensions(obj, path, errors);
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, child) in props {
            check_node(
                child,
                &format!("{path}.properties[{name}]"),
                in_junctor,
                errors,
            );
        }
    }
    match obj.get("additionalProperties") {
        Some(child @ Value::Object(_)) => {
            check_node(
                child,
                &format!("{path}.additionalProperties"),
                in_junctor,
                errors,
            );
        }
        Some(Value::Bool(true)) | Some(Value::Bool(false)) | None => {}
        Some(_) => errors.push(format!(
            "{path}.additionalProperties: Invalid value: must be a schema or a boolean"
        )),
    }
    match obj.get("items") {
        Some(child @ Value::Object(_)) => {
            check_node(child, &format!("{path}.items"), in_junctor, errors);
        }
        Some(Value::Array(_)) => errors.push(format!(
            "{path}.items: Forbidden: items must be a schema object and not an array"
        )),
        Some(_) => errors.push(format!("{path}.items: Invalid value: must be a schema")),
        None => {}
    }
    check_junctors(obj, path, errors);
    if let Some(default) = obj.get("default") {
        check_default(node, default, path, errors);
    }
    if let Some(Value::Array(values)) = obj.get("enum") {
        let mut typed = node.clone();
        if let Some(t) = typed.as_object_mut() {
            t.remove("enum");
            t.remove("default");
        }
        for value in values {
            for e in schema::validate_value(&typed, value) {
                errors.push(format!("{path}.enum: Invalid value: {value}: {e}"));
            }
        }
    }
}

fn check_type(
    obj: &serde_json::Map<String, Value>,
    path: &str,
    in_junctor: bool,
    errors: &mut Vec<String>,
) {
    if in_junctor {
        for keyword in NOT_IN_JUNCTORS {
            if obj.contains_key(*keyword) && !(*keyword == "type" && int_or_string(obj)) {
                errors.push(format!(
                    "{path}.{keyword}: Forbidden: must be empty to be structural (inside allOf, anyOf, oneOf or not)"
                ));
            }
        }
        return;
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("object" | "array" | "string" | "integer" | "number" | "boolean") => {}
        Some(other) => errors.push(format!(
            "{path}.type: Unsupported value: \"{other}\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\""
        )),
        None if int_or_string(obj) || preserves_unknown(obj) => {}
        None => errors.push(format!("{path}.type: Required value: must not be empty for specified object fields")),
    }
    if obj.contains_key("properties")
        && matches!(obj.get("additionalProperties"), Some(Value::Object(_)))
    {
        errors.push(format!(
            "{path}.additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
        ));
    }
    if obj.get("nullable") == Some(&Value::Bool(true))
        && !obj.contains_key("type")
        && !int_or_string(obj)
        && !preserves_unknown(obj)
    {
        errors.push(format!(
            "{path}.nullable: Forbidden: nullable requires a type"
        ));
    }
    if obj.get("type").and_then(Value::as_str) == Some("array") && !obj.contains_key("items") {
        errors.push(format!("{path}.items: Required value: must be specified"));
    }
    if int_or_string(obj) && obj.contains_key("type") {
        errors.push(format!(
            "{path}.type: Invalid value: must be empty if x-kubernetes-int-or-string is true"
        ));
    }
}

fn check_extensions(obj: &serde_json::Map<String, Value>, path: &str, errors: &mut Vec<String>) {
    let kind = obj.get("type").and_then(Value::as_str);
    if obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errors.push(format!(
            "{path}.x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"
        ));
    }
    if obj.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) {
        if kind != Some("object") {
            errors.push(format!(
                "{path}.type: Invalid value: must be object if x-kubernetes-embedded-resource is true"
            ));
        }
        if !obj.contains_key("properties") && !preserves_unknown(obj) {
            errors.push(format!(
                "{path}.properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"
            ));
        }
    }
    if let Some(list_type) = obj.get("x-kubernetes-list-type") {
        check_list_type(obj, list_type, kind, path, errors);
    } else if obj.contains_key("x-kubernetes-list-map-keys") {
        errors.push(format!(
            "{path}.x-kubernetes-list-map-keys: Forbidden: must not be specified if x-kubernetes-list-type is not map"
        ));
    }
    if let Some(map_type) = obj.get("x-kubernetes-map-type") {
        if kind != Some("object") {
            errors.push(format!(
                "{path}.x-kubernetes-map-type: Invalid value: must only be used if type is object"
            ));
        }
        if !matches!(map_type.as_str(), Some("granular" | "atomic")) {
            errors.push(format!(
                "{path}.x-kubernetes-map-type: Unsupported value: {map_type}: supported values: \"atomic\", \"granular\""
            ));
        }
    }
    if let Some(rules) = obj.get("x-kubernetes-validations") {
        let ok = rules.as_array().is_some_and(|r| {
            r.iter()
                .all(|rule| rule["rule"].as_str().is_some_and(|s| !s.trim().is_empty()))
        });
        if !ok {
            errors.push(format!(
                "{path}.x-kubernetes-validations: Invalid value: every item needs a non-empty rule"
            ));
        }
    }
}

fn check_list_type(
    obj: &serde_json::Map<String, Value>,
    list_type: &Value,
    kind: Option<&str>,
    path: &str,
    errors: &mut Vec<String>,
) {
    if kind != Some("array") {
        errors.push(format!(
            "{path}.x-kubernetes-list-type: Invalid value: must only be used if type is array"
        ));
    }
    let items = obj.get("items").and_then(Value::as_object);
    match list_type.as_str() {
        Some("atomic") => {}
        Some("set") => {
            let scalar = items
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str)
                .is_some_and(|t| !matches!(t, "object" | "array"));
            if !scalar {
                errors.push(format!(
                    "{path}.items.type: Invalid value: must be a scalar type if x-kubernetes-list-type is set"
                ));
            }
        }
        Some("map") => {
            let keys = obj
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if keys.is_empty() {
                errors.push(format!(
                    "{path}.x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
                ));
            }
            let item_props = items.and_then(|i| i.get("properties"));
            let required = items
                .and_then(|i| i.get("required"))
                .and_then(Value::as_array);
            for key in keys.iter().filter_map(Value::as_str) {
                let prop = item_props.and_then(|p| p.get(key));
                if prop.is_none() {
                    errors.push(format!(
                        "{path}.x-kubernetes-list-map-keys: Invalid value: \"{key}\": entries must all be names of item properties"
                    ));
                    continue;
                }
                let is_required = required.is_some_and(|r| r.iter().any(|x| x == key));
                let has_default = prop.is_some_and(|p| p.get("default").is_some());
                if !is_required && !has_default {
                    errors.push(format!(
                        "{path}.items.properties[{key}]: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property"
                    ));
                }
            }
        }
        _ => errors.push(format!(
            "{path}.x-kubernetes-list-type: Unsupported value: {list_type}: supported values: \"atomic\", \"map\", \"set\""
        )),
    }
}

/// Every field inside a junctor must also be specified outside of it.
fn check_junctors(obj: &serde_json::Map<String, Value>, path: &str, errors: &mut Vec<String>) {
    let outside: Vec<&String> = obj
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    let int_or_string_pattern = int_or_string(obj);
    for junctor in ["allOf", "anyOf", "oneOf"] {
        let Some(Value::Array(alternatives)) = obj.get(junctor) else {
            continue;
        };
        for (i, alternative) in alternatives.iter().enumerate() {
            let alt_path = format!("{path}.{junctor}[{i}]");
            if int_or_string_pattern {
                let t = alternative.get("type").and_then(Value::as_str);
                if !matches!(t, Some("integer" | "string")) {
                    errors.push(format!(
                        "{alt_path}.type: Forbidden: only integer and string alternatives are allowed with x-kubernetes-int-or-string"
                    ));
                }
                continue;
            }
            check_node(alternative, &alt_path, true, errors);
            for field in alternative
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|p| p.keys())
            {
                if !outside.contains(&field) {
                    errors.push(format!(
                        "{alt_path}.properties[{field}]: Forbidden: must be specified outside of the junctor too"
                    ));
                }
            }
        }
    }
    if let Some(not) = obj.get("not") {
        check_node(not, &format!("{path}.not"), true, errors);
    }
}

/// A default must be pruned (no field the schema would drop) and valid against its own node,
/// as written: nested defaults are *not* applied before this check.
fn check_default(node: &Value, default: &Value, path: &str, errors: &mut Vec<String>) {
    let mut pruned = default.clone();
    schema::prune(&mut pruned, node);
    if &pruned != default {
        errors.push(format!(
            "{path}.default: Invalid value: {default}: must not have unknown fields"
        ));
        return;
    }
    for e in schema::validate_value(node, default) {
        errors.push(format!("{path}.default{e}"));
    }
}
