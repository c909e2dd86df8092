//! Conversion helpers (down-conversion checked against the v1beta1 schema, the wire) and the
//! JSON comparisons the tests make, ignoring the conversion-data annotation.

use kube::CustomResourceExt;
use netobserv_api::v1beta1::{self, CONVERSION_DATA_ANNOTATION, from_v1beta2, to_v1beta2};
use netobserv_api::v1beta2;
use pretty_assertions::assert_eq;
use serde::Serialize;
use serde_json::Value;

/// JSON of any serialisable value.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// JSON of an object, without the conversion-data annotation (and without an annotation map
/// left empty by its removal).
pub(crate) fn without_annotation<T: Serialize>(value: &T) -> Value {
    let mut json = to_json(value);
    if let Some(metadata) = json.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
    {
        annotations.remove(CONVERSION_DATA_ANNOTATION);
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    }
    json
}

/// Sends an object "over the wire", as the API server and clients do between conversions.
pub(crate) fn wire<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

/// v1beta2 -> v1beta1 (checked against the v1beta1 CRD schema) -> wire.
pub(crate) fn down(new: &v1beta2::FlowCollector) -> v1beta1::FlowCollector {
    let old = from_v1beta2(new).unwrap();
    assert_valid_v1beta1(&old);
    wire(&old)
}

/// The v1beta1 object validates against the v1beta1 CRD schema, so that a client can send it
/// back unchanged.
pub(crate) fn assert_valid_v1beta1(old: &v1beta1::FlowCollector) {
    let crd = to_json(&v1beta1::FlowCollector::crd());
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let validator = jsonschema::validator_for(schema).unwrap();
    let instance = to_json(old);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "v1beta1 schema errors: {errors:#?}");
}

/// The conversion-data annotation of a down-converted object.
pub(crate) fn annotation(old: &v1beta1::FlowCollector) -> &str {
    old.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CONVERSION_DATA_ANNOTATION))
        .unwrap()
}

/// Asserts v1beta2 -> v1beta1 -> v1beta2 gives back the same object.
pub(crate) fn assert_v1beta2_round_trip(new: &v1beta2::FlowCollector, what: &str) {
    let old = down(new);
    assert!(
        old.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(CONVERSION_DATA_ANNOTATION)),
        "{what}: down-conversion must store the conversion data"
    );
    let back = to_v1beta2(&old).unwrap();
    assert!(
        back.metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(CONVERSION_DATA_ANNOTATION)),
        "{what}: the conversion data must not reach the v1beta2 object"
    );
    assert_eq!(
        without_annotation(&back),
        without_annotation(new),
        "{what}: v1beta2 -> v1beta1 -> v1beta2"
    );
}

/// Parses a v1beta2 FlowCollector written as JSON.
pub(crate) fn v1beta2_from(value: Value) -> v1beta2::FlowCollector {
    serde_json::from_value(value).unwrap()
}

/// Parses a v1beta1 FlowCollector written as JSON.
pub(crate) fn v1beta1_from(value: Value) -> v1beta1::FlowCollector {
    serde_json::from_value(value).unwrap()
}
