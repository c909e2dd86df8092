//! A reconcile that changes nothing must write nothing. On a real API server (v1.32) a
//! NetworkPolicy rendered with `ingress: []` was stored without it, so every server-side apply of
//! the same desired object was a change that bumped `metadata.generation` and woke the
//! controller's watch: 253 reconciles in 30 s. The fake API server stores built-in objects the
//! same way (Go `omitempty`), so this test catches any rendered field the server would not keep.
//!
//! Every v1beta2 sample FlowCollector, in every deployment model, on plain Kubernetes and on
//! OpenShift, is reconciled twice: the second pass may not change any stored object.

mod common;

use common::*;
use netobserv_api::validate::{OpenShiftVersion, Platform};
use netobserv_operator::render::{
    API_CONSOLE_PLUGIN, API_PROMETHEUS_RULE, API_SCC, API_SERVICE_MONITOR,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SAMPLES: &[&str] = &[
    "flows_v1beta2_flowcollector.yaml",
    "flows_v1beta2_flowcollector_full.yaml",
    "flows_v1beta2_flowcollector_network_events.yaml",
    "flows_v1beta2_flowcollector_packet_translation.yaml",
    "flows_v1beta2_flowcollector_secondary_interfaces.yaml",
];

fn sample_spec(name: &str, model: &str) -> Value {
    let doc: Value =
        serde_yaml::from_str(&read(&format!("config/samples/{name}"))).expect("sample parses");
    let mut spec = doc["spec"].clone();
    spec["deploymentModel"] = json!(model);
    if spec["kafka"]["address"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        spec["kafka"] = json!({"address": "kafka:9092", "topic": "flows"});
    }
    spec
}

/// What changed between two snapshots, ignoring the FlowCollector (its status is written) and
/// Events.
fn changes(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, new) in after {
        if key.contains("/flowcollectors/") || key.contains("/events/") {
            continue;
        }
        match before.get(key) {
            None => out.push(format!("{key}: created")),
            Some(old)
                if old["metadata"]["resourceVersion"] != new["metadata"]["resourceVersion"] =>
            {
                out.push(format!(
                    "{key}: rewritten (generation {} -> {})\n  before: {}\n  after:  {}",
                    old["metadata"]["generation"], new["metadata"]["generation"], old, new
                ));
            }
            Some(_) => {}
        }
    }
    for key in before.keys().filter(|k| !after.contains_key(*k)) {
        out.push(format!("{key}: deleted"));
    }
    out
}

async fn second_pass_changes(spec: Value, openshift: bool) -> Vec<String> {
    let mut apis = vec![API_SERVICE_MONITOR, API_PROMETHEUS_RULE];
    if openshift {
        apis.extend([API_CONSOLE_PLUGIN, API_SCC]);
    }
    let fake = cluster(&apis).await;
    create_collector(&fake, spec);
    let mut f = facts(&apis);
    if openshift {
        f.platform = Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0)));
    }
    let ctx = context(&fake, f);
    reconcile(&fake, &ctx).await;
    let before = fake.snapshot();
    reconcile(&fake, &ctx).await;
    changes(&before, &fake.snapshot())
}

#[tokio::test]
async fn a_second_reconcile_changes_no_object() {
    let mut failures = Vec::new();
    for sample in SAMPLES {
        for model in ["Direct", "Service", "Kafka"] {
            for openshift in [false, true] {
                let changed = second_pass_changes(sample_spec(sample, model), openshift).await;
                if !changed.is_empty() {
                    failures.push(format!(
                        "{sample} {model} openshift={openshift}:\n{}",
                        changed.join("\n")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
