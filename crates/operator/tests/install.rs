//! The README's install steps, followed literally against the fake API server (as strict as
//! kube-apiserver on CRD schemas, pruning and webhooks): `kubectl apply --server-side -k
//! config/default` on a cluster without cert-manager, then the README's FlowCollector. On a real
//! cluster the old `config/default` registered `failurePolicy: Fail` webhooks with no endpoint,
//! which refused every FlowCollector create.
//!
//! `kubectl kustomize` renders the manifests exactly as `kubectl apply -k` would; each document
//! is then server-side applied with kubectl's field manager, in kustomize's order.

mod common;

use common::read;
use netobserv_fake_apiserver::{Failure, FakeApiServer};
use serde_json::Value;
use std::process::Command;

fn kustomize(dir: &str) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(common::repo().join(dir))
        .output()
        .expect("kubectl runs (scripts/prerequisites.sh installs it)");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).expect("YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn apply_all(fake: &FakeApiServer, docs: &[Value]) -> Result<(), (String, Failure)> {
    for doc in docs {
        fake.apply(doc.clone(), "kubectl").map_err(|e| {
            (
                format!(
                    "{} {}",
                    doc["kind"].as_str().unwrap_or_default(),
                    doc["metadata"]["name"]
                ),
                e,
            )
        })?;
    }
    Ok(())
}

/// Every field of `sent` is still in `stored`: nothing was pruned as unknown.
fn pruned_fields(sent: &Value, stored: &Value, path: &str, out: &mut Vec<String>) {
    match (sent, stored) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => pruned_fields(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                pruned_fields(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn config_default_installs_without_cert_manager_and_takes_every_sample() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    apply_all(&fake, &kustomize("config/default"))
        .unwrap_or_else(|(what, e)| panic!("config/default refused at {what}: {e}"));
    assert!(
        fake.list(
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration"
        )
        .is_empty(),
        "no webhook without a serving certificate"
    );
    for sample in [
        "flows_v1beta2_flowcollector.yaml",
        "flows_v1beta2_flowcollector_full.yaml",
        "flows_v1beta2_flowcollector_network_events.yaml",
        "flows_v1beta2_flowcollector_packet_translation.yaml",
        "flows_v1beta2_flowcollector_secondary_interfaces.yaml",
        "flows_v1beta1_flowcollector.yaml",
        "flows_v1alpha1_flowmetric.yaml",
    ] {
        let doc: Value =
            serde_yaml::from_str(&read(&format!("config/samples/{sample}"))).expect("sample");
        let stored = fake
            .create(doc.clone())
            .unwrap_or_else(|e| panic!("{sample} refused: {e}"));
        let mut lost = Vec::new();
        pruned_fields(&doc["spec"], &stored["spec"], "spec", &mut lost);
        assert!(
            lost.is_empty(),
            "{sample}: the API server would drop {lost:?}"
        );
        let path = if doc["kind"] == "FlowMetric" {
            "/apis/flows.netobserv.io/v1alpha1/namespaces/netobserv/flowmetrics/flowmetric-cluster-external-egress-traffic".to_string()
        } else {
            common::FC_PATH.to_string()
        };
        fake.delete(&path).expect("deleted");
    }
}

#[tokio::test]
async fn config_with_webhooks_says_what_it_needs() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    let (what, refused) =
        apply_all(&fake, &kustomize("config/with-webhooks")).expect_err("needs cert-manager");
    assert!(
        what.starts_with("Issuer") || what.starts_with("Certificate"),
        "{what}"
    );
    assert!(
        refused.message().contains("no matches for kind")
            && refused.message().contains("cert-manager.io/v1"),
        "{refused}"
    );
    let readme = read("README.md");
    assert!(readme.contains("make deploy-webhooks") && readme.contains("cert-manager"));
}
