//! Generation of the CustomResourceDefinition manifests from the Rust types.
//!
//! kube's derive gives one CRD per version. This module merges the FlowCollector versions and
//! adds what derive cannot express but upstream's CRD has: the `^cluster$` name rule, the CEL
//! immutability rule on `spec.namespace`, and compact `default:` values on nested sections. The
//! committed YAML under `config/crd/bases` is checked against this output by a test, so the two
//! never drift.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Map, Value, json};

/// Where `make manifests` writes each CRD, relative to the repository root.
pub const FLOWCOLLECTOR_CRD_PATH: &str = "config/crd/bases/flows.netobserv.io_flowcollectors.yaml";
/// Where `make manifests` writes the FlowMetric CRD, relative to the repository root.
pub const FLOWMETRIC_CRD_PATH: &str = "config/crd/bases/flows.netobserv.io_flowmetrics.yaml";

/// The FlowCollector must be a singleton; the operator only ever reconciles this name.
pub const FLOWCOLLECTOR_NAME: &str = "cluster";

/// Message of the CEL rule that freezes `spec.namespace`.
pub const NAMESPACE_IMMUTABLE_MESSAGE: &str = "spec.namespace cannot change once set: delete the FlowCollector and create it again to move NetObserv";

/// Why a CRD could not be generated. Only a programming error in the types can cause one, but
/// `make manifests` reports it instead of panicking.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// kube refused to merge the per-version CRDs (mismatched names, scope or group).
    #[error("cannot merge FlowCollector versions: {0}")]
    Merge(#[from] kube::core::crd::MergeError),
    /// The CRD did not round-trip through JSON.
    #[error("cannot (de)serialise the CRD: {0}")]
    Json(#[from] serde_json::Error),
    /// The CRD did not serialise to YAML.
    #[error("cannot write the CRD as YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// The generated schema lacks a node the post-processing expects.
    #[error("generated schema has no {0}")]
    MissingSchemaNode(&'static str),
}

/// The FlowCollector CRD: v1beta2 served and stored, v1beta1 served for older manifests.
pub fn flowcollector_crd() -> Result<CustomResourceDefinition, CrdError> {
    let merged = kube::core::crd::merge_crds(
        vec![
            crate::v1beta1::FlowCollector::crd(),
            crate::v1beta2::FlowCollector::crd(),
        ],
        "v1beta2",
    )?;
    let mut crd = serde_json::to_value(&merged)?;
    name_list_kind(&mut crd);
    let versions = crd
        .pointer_mut("/spec/versions")
        .and_then(Value::as_array_mut)
        .ok_or(CrdError::MissingSchemaNode("spec.versions"))?;
    for version in versions.iter_mut() {
        let schema = version
            .pointer_mut("/schema/openAPIV3Schema")
            .ok_or(CrdError::MissingSchemaNode("openAPIV3Schema"))?;
        restrict_name(schema)?;
        freeze_namespace(schema)?;
        compact_defaults(schema);
        integer_bounds(schema);
        if version.get("name") == Some(&json!("v1beta1")) {
            version["deprecated"] = json!(true);
            version["deprecationWarning"] = json!(
                "flows.netobserv.io/v1beta1 FlowCollector is deprecated; use flows.netobserv.io/v1beta2"
            );
        }
    }
    Ok(serde_json::from_value(crd)?)
}

/// The FlowMetric CRD (namespaced, v1alpha1).
pub fn flowmetric_crd() -> Result<CustomResourceDefinition, CrdError> {
    let mut crd = serde_json::to_value(crate::v1alpha1::FlowMetric::crd())?;
    name_list_kind(&mut crd);
    if let Some(versions) = crd
        .pointer_mut("/spec/versions")
        .and_then(Value::as_array_mut)
    {
        for version in versions {
            if let Some(schema) = version.pointer_mut("/schema/openAPIV3Schema") {
                compact_defaults(schema);
                integer_bounds(schema);
            }
        }
    }
    Ok(serde_json::from_value(crd)?)
}

/// Spells out `listKind` (`<Kind>List`) as upstream's CRDs do; the API server would default it
/// to the same value, but tools reading the manifest (OLM, `kubectl explain` offline) expect it.
fn name_list_kind(crd: &mut Value) {
    if let Some(names) = crd
        .pointer_mut("/spec/names")
        .and_then(Value::as_object_mut)
        && !names.contains_key("listKind")
        && let Some(kind) = names.get("kind").and_then(Value::as_str)
    {
        let list_kind = format!("{kind}List");
        names.insert("listKind".into(), json!(list_kind));
    }
}

/// Renders a CRD as the YAML committed under `config/crd/bases`.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, CrdError> {
    Ok(serde_yaml::to_string(crd)?)
}

/// Adds `metadata.name` pattern `^cluster$`: the API server then rejects any other name, instead of
/// the operator silently ignoring it.
fn restrict_name(schema: &mut Value) -> Result<(), CrdError> {
    let props = schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .ok_or(CrdError::MissingSchemaNode("properties"))?;
    props.insert(
        "metadata".into(),
        json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "pattern": format!("^{FLOWCOLLECTOR_NAME}$") }
            }
        }),
    );
    Ok(())
}

/// Adds the CEL rule `self == oldSelf` to `spec.namespace`: moving NetObserv to another namespace
/// in place would orphan every workload in the old one.
fn freeze_namespace(schema: &mut Value) -> Result<(), CrdError> {
    let namespace = schema
        .pointer_mut("/properties/spec/properties/namespace")
        .and_then(Value::as_object_mut)
        .ok_or(CrdError::MissingSchemaNode("spec.namespace"))?;
    namespace.insert(
        "x-kubernetes-validations".into(),
        json!([{ "rule": "self == oldSelf", "message": NAMESPACE_IMMUTABLE_MESSAGE }]),
    );
    Ok(())
}

/// Shrinks the `default:` of nested objects to what the API server cannot rebuild from the
/// property defaults underneath.
///
/// schemars writes the whole `Default` of a section as that section's default; the API server
/// applies defaults recursively, so keeping only the keys that nested defaulting would not
/// produce gives the same stored object with a CRD a fraction of the size. Keys a section marks
/// `required` always stay in its default: the API server validates every default as written and
/// refuses `default: {}` on an object with required fields (tested against the fake API server's
/// CRD checks in `tests/crd_manifest.rs`).
pub fn compact_defaults(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for key in ["properties", "additionalProperties", "items"] {
        match obj.get_mut(key) {
            Some(Value::Object(children)) if key == "properties" => {
                for child in children.values_mut() {
                    compact_defaults(child);
                }
            }
            Some(child @ Value::Object(_)) => compact_defaults(child),
            _ => {}
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(alternatives)) = obj.get_mut(key) {
            for alternative in alternatives {
                compact_defaults(alternative);
            }
        }
    }
    let Some(Value::Object(props)) = obj.get("properties") else {
        return;
    };
    let props = props.clone();
    let required: Vec<Value> = obj
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Object(default)) = obj.get_mut("default") {
        // The API server validates a default as written, without applying nested defaults
        // first: a required key must stay even when nested defaulting would rebuild it.
        default.retain(|key, value| {
            required.iter().any(|r| r == key.as_str())
                || match props.get(key) {
                    Some(prop) => rebuilt_default(prop).as_ref() != Some(value),
                    None => true,
                }
        });
    }
}

/// Writes `minimum`/`maximum` of integer fields as integers (schemars emits `0.0`), so the CRD
/// reads like any other and `kubectl explain` shows whole numbers.
fn integer_bounds(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("type") == Some(&json!("integer")) {
                for key in ["minimum", "maximum"] {
                    if let Some(bound) = map.get_mut(key)
                        && let Some(f) = bound.as_f64()
                        && f.fract() == 0.0
                        && f.abs() < 9.0e15
                    {
                        *bound = json!(f as i64);
                    }
                }
            }
            for child in map.values_mut() {
                integer_bounds(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// What the API server writes for an absent property: its default with nested defaults applied.
fn rebuilt_default(prop: &Value) -> Option<Value> {
    let mut value = prop.get("default")?.clone();
    apply_schema_defaults(&mut value, prop);
    Some(value)
}

/// Applies a structural schema's defaults to `value` the way the API server does on create and
/// read: absent properties with a `default:` get it, then defaulting recurses into objects, maps
/// and arrays (including into the defaults just inserted).
pub fn apply_schema_defaults(value: &mut Value, schema: &Value) {
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
                        apply_schema_defaults(child, prop);
                    }
                }
            }
            if let Some(extra @ Value::Object(_)) = schema.get("additionalProperties") {
                let known: Map<String, Value> = schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (name, child) in map.iter_mut() {
                    if !known.contains_key(name) {
                        apply_schema_defaults(child, extra);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_schema_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

/// The `openAPIV3Schema` of one version of a CRD, for tests and tools that validate objects
/// without an API server.
pub fn version_schema(crd: &CustomResourceDefinition, version: &str) -> Option<Value> {
    let crd = serde_json::to_value(crd).ok()?;
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name") == Some(&json!(version)))?
        .pointer("/schema/openAPIV3Schema")
        .cloned()
}
