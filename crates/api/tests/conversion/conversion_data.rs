//! (e) Corrupt or foreign conversion data: a corrupt annotation is an error, a removed one falls
//! back to the v1beta1 values, and the upstream operator's layout is read.

use crate::fixtures::full_v1beta2;
use crate::support::{annotation, down, without_annotation};
use netobserv_api::v1beta1::{CONVERSION_DATA_ANNOTATION, ConversionError, to_v1beta2};
use netobserv_api::v1beta2;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

/// A corrupt annotation fails the conversion, with an error naming the annotation: ignoring it
/// would silently reset every v1beta2-only setting (Loki mode, scheduling, network policy...).
#[test]
fn corrupt_annotation_is_an_error() {
    for corrupt in [
        "not json",
        "{\"spec\": ",
        "[1, 2]",
        "{}",
        "{\"spec\": {\"deploymentModel\": \"Teleport\"}}",
        "{\"spec\": {\"loki\": {\"writeBatchSize\": \"big\"}}}",
    ] {
        let mut old = down(&full_v1beta2("Manual"));
        old.metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(CONVERSION_DATA_ANNOTATION.to_string(), corrupt.to_string());
        let err = to_v1beta2(&old).unwrap_err();
        assert!(
            matches!(err, ConversionError::InvalidConversionData(_)),
            "{corrupt}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(CONVERSION_DATA_ANNOTATION), "{message}");
        assert!(message.contains("remove it"), "{message}");
    }
}

#[test]
fn removing_the_annotation_uses_the_v1beta1_values() {
    let stored = full_v1beta2("LokiStack");
    let mut old = down(&stored);
    old.metadata
        .annotations
        .as_mut()
        .unwrap()
        .remove(CONVERSION_DATA_ANNOTATION);
    let new = to_v1beta2(&old).unwrap();
    assert_eq!(new.spec.loki.mode, v1beta2::LokiMode::Manual);
    assert_eq!(
        new.spec.loki.manual.ingester_url,
        "https://lokistack-gateway-http.loki-ns.svc:8080/api/logs/v1/network/"
    );
    // Without the annotation, what v1beta1 cannot express gets its v1beta2 default.
    assert_eq!(
        new.spec.network_policy,
        v1beta2::FlowCollectorNetworkPolicy::default()
    );
    assert_eq!(
        new.spec.agent.ebpf.sampling,
        stored.spec.agent.ebpf.sampling
    );
}

/// The upstream (Go) operator wrote the same layout, with `null` for empty lists and maps.
#[test]
fn upstream_style_annotation_is_read() {
    let stored = full_v1beta2("LokiStack");
    let mut old = down(&stored);
    let mut data: Value = serde_json::from_str(annotation(&old)).unwrap();
    data["spec"]["agent"]["ebpf"]["interfaces"] = Value::Null;
    data["spec"]["processor"]["filters"][1]["outputTarget"] = Value::Null;
    data["spec"]["consolePlugin"]["advanced"]["args"] = Value::Null;
    data["metadata"] = json!({"name": "ignored"});
    let mut expected = stored.clone();
    expected.spec.agent.ebpf.interfaces.clear();
    expected
        .spec
        .console_plugin
        .advanced
        .as_mut()
        .unwrap()
        .args
        .clear();
    old.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(CONVERSION_DATA_ANNOTATION.to_string(), data.to_string());
    // The v1beta1 object still shows the interfaces: they count as a client edit.
    old.spec.agent.ebpf.interfaces.clear();
    let back = to_v1beta2(&old).unwrap();
    assert_eq!(without_annotation(&back), without_annotation(&expected));
}
