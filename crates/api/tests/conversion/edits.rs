//! (d) Edits made through v1beta1: the client's changes win, everything v1beta1 cannot show is
//! kept from the conversion data.

use std::collections::BTreeMap;

use crate::fixtures::full_v1beta2;
use crate::support::{down, to_json, wire, without_annotation};
use netobserv_api::v1beta1::{self, CONVERSION_DATA_ANNOTATION, to_v1beta2};
use netobserv_api::v1beta2;
use pretty_assertions::assert_eq;
use serde_json::json;

/// v1beta2 -> v1beta1, edit, -> v1beta2.
fn edit_through_v1beta1(
    new: &v1beta2::FlowCollector,
    edit: impl FnOnce(&mut v1beta1::FlowCollector),
) -> v1beta2::FlowCollector {
    let mut old = down(new);
    edit(&mut old);
    let back = to_v1beta2(&wire(&old)).unwrap();
    assert!(
        back.metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(CONVERSION_DATA_ANNOTATION))
    );
    back
}

#[test]
fn edits_of_mapped_fields_win_and_the_rest_is_kept() {
    let stored = full_v1beta2("Manual");
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.agent.ebpf.sampling = 400;
        old.spec.processor.port = 2999;
        old.spec.console_plugin.register = true;
        old.spec.loki.max_retries = 9;
        old.spec.agent.ebpf.debug.cap_override.clear();
        old.spec.processor.metrics.include_list = None;
        old.spec.deployment_model = v1beta1::DeploymentModel::Kafka;
    });
    let mut expected = stored.clone();
    expected.spec.agent.ebpf.sampling = 400;
    expected.spec.processor.advanced.as_mut().unwrap().port = 2999;
    expected
        .spec
        .console_plugin
        .advanced
        .as_mut()
        .unwrap()
        .register = true;
    expected
        .spec
        .loki
        .advanced
        .as_mut()
        .unwrap()
        .write_max_retries = 9;
    expected
        .spec
        .agent
        .ebpf
        .advanced
        .as_mut()
        .unwrap()
        .cap_override
        .clear();
    expected.spec.processor.metrics.include_list = None;
    expected.spec.deployment_model = v1beta2::DeploymentModel::Kafka;
    // Scheduling, secondary networks, plugin env/args, network policy, OpenTelemetry... stay.
    assert_eq!(without_annotation(&back), without_annotation(&expected));
}

#[test]
fn edit_into_a_null_advanced_block_keeps_other_fields() {
    // Stored: processor.advanced only holds scheduling; the client changes the port.
    let mut stored = full_v1beta2("Monolithic");
    let advanced = stored.spec.processor.advanced.as_mut().unwrap();
    let scheduling = advanced.scheduling.clone();
    *advanced = v1beta2::AdvancedProcessorConfig {
        scheduling: scheduling.clone(),
        ..Default::default()
    };
    let back = edit_through_v1beta1(&stored, |old| old.spec.processor.port = 3000);
    let mut expected = stored.clone();
    expected.spec.processor.advanced.as_mut().unwrap().port = 3000;
    assert_eq!(without_annotation(&back), without_annotation(&expected));

    // And back to the default: the block keeps its scheduling.
    let back2 = edit_through_v1beta1(&back, |old| old.spec.processor.port = 2055);
    let mut expected2 = back.clone();
    expected2.spec.processor.advanced.as_mut().unwrap().port = 2055;
    assert_eq!(without_annotation(&back2), without_annotation(&expected2));
    assert_eq!(
        back2.spec.processor.advanced.unwrap().scheduling,
        scheduling
    );
}

#[test]
fn loki_edit_in_manual_mode_wins() {
    // Upstream restored `loki.manual` from the annotation and dropped this edit.
    let stored = full_v1beta2("Manual");
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.loki.url = "https://new-ingester:3100/".to_string();
        old.spec.loki.tenant_id = "other".to_string();
    });
    let mut expected = stored.clone();
    expected.spec.loki.manual.ingester_url = "https://new-ingester:3100/".to_string();
    expected.spec.loki.manual.tenant_id = "other".to_string();
    assert_eq!(without_annotation(&back), without_annotation(&expected));
}

#[test]
fn loki_querier_url_follows_url_when_it_did() {
    let mut stored = full_v1beta2("Manual");
    stored.spec.loki.manual.querier_url = stored.spec.loki.manual.ingester_url.clone();
    let back = edit_through_v1beta1(&stored, |old| {
        assert!(old.spec.loki.querier_url.is_empty());
        old.spec.loki.url = "https://moved:3100/".to_string();
    });
    assert_eq!(back.spec.loki.manual.ingester_url, "https://moved:3100/");
    assert_eq!(back.spec.loki.manual.querier_url, "https://moved:3100/");
}

#[test]
fn loki_edit_in_other_modes_switches_to_manual() {
    let stored = full_v1beta2("LokiStack");
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.loki.tenant_id = "custom".to_string();
    });
    assert_eq!(back.spec.loki.mode, v1beta2::LokiMode::Manual);
    let manual = &back.spec.loki.manual;
    assert_eq!(manual.tenant_id, "custom");
    assert_eq!(
        manual.ingester_url,
        "https://lokistack-gateway-http.loki-ns.svc:8080/api/logs/v1/network/"
    );
    assert_eq!(manual.querier_url, manual.ingester_url);
    assert_eq!(
        manual.status_url,
        "https://lokistack-query-frontend-http.loki-ns.svc:3100/"
    );
    assert_eq!(manual.auth_token, v1beta2::LokiAuthToken::Forward);
    // The other mode blocks are kept, so switching back loses nothing.
    assert_eq!(back.spec.loki.loki_stack, stored.spec.loki.loki_stack);
    assert_eq!(back.spec.loki.monolithic, stored.spec.loki.monolithic);
    assert_eq!(back.spec.loki.microservices, stored.spec.loki.microservices);
    assert_eq!(back.spec.loki.advanced, stored.spec.loki.advanced);

    // A non-connection Loki edit keeps the mode.
    let back = edit_through_v1beta1(&stored, |old| old.spec.loki.batch_size = 1);
    assert_eq!(back.spec.loki.mode, v1beta2::LokiMode::LokiStack);
    assert_eq!(back.spec.loki.write_batch_size, 1);
    assert_eq!(back.spec.loki.manual, stored.spec.loki.manual);
}

#[test]
fn exporter_edits_keep_v1beta2_only_settings() {
    let stored = full_v1beta2("Manual");

    // Edit the Kafka exporter in place: its compression and the OpenTelemetry block stay.
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.exporters[0].kafka.address = "other:9092".to_string();
    });
    let mut expected = stored.clone();
    expected.spec.exporters[0].kafka.as_mut().unwrap().address = "other:9092".to_string();
    assert_eq!(without_annotation(&back), without_annotation(&expected));

    // Remove the first exporter: the others keep what v1beta1 cannot show.
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.exporters.remove(0);
    });
    assert_eq!(back.spec.exporters, stored.spec.exporters[1..].to_vec());

    // Add one: it is taken as sent, with v1beta2 defaults for the rest.
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.exporters.push(v1beta1::FlowCollectorExporter {
            kind: v1beta1::ExporterType::Ipfix,
            ipfix: v1beta1::FlowCollectorIpfixReceiver {
                target_host: "new".to_string(),
                target_port: 2055,
                transport: None,
            },
            ..Default::default()
        });
    });
    assert_eq!(back.spec.exporters[..3], stored.spec.exporters[..]);
    assert_eq!(
        to_json(&back.spec.exporters[3]),
        json!({"type": "IPFIX", "ipfix": {"targetHost": "new", "targetPort": 2055, "enterpriseID": 2}})
    );
}

#[test]
fn status_and_metadata_carry_over() {
    let stored = full_v1beta2("Manual");
    let back = edit_through_v1beta1(&stored, |old| {
        old.status.as_mut().unwrap().namespace = "moved".to_string();
        old.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("new".to_string(), "label".to_string());
    });
    let status = back.status.unwrap();
    assert_eq!(status.namespace, "moved");
    // Components and integrations only exist in v1beta2: restored from the annotation.
    assert_eq!(
        status.components,
        stored.status.as_ref().unwrap().components
    );
    assert_eq!(
        status.integrations,
        stored.status.as_ref().unwrap().integrations
    );
    assert_eq!(
        back.metadata.labels.unwrap().get("new").map(String::as_str),
        Some("label")
    );
    assert_eq!(back.metadata.uid, stored.metadata.uid);
    assert_eq!(
        back.metadata.annotations,
        Some(BTreeMap::from([(
            "owner".to_string(),
            "netops".to_string()
        )]))
    );
}
