//! A cluster for the operator tests: the fake API server (`crates/fake-apiserver`, as strict as
//! kube-apiserver where it matters) with this project's CRDs installed from `config/crd/bases`
//! exactly as `kubectl apply` would send them, and permissive CRDs for the optional APIs a test
//! says the cluster serves (their real schemas are not vendored; objects of those kinds are kept
//! as written).

#![allow(dead_code)]

use kube::runtime::controller::Action;
use netobserv_api::v1beta2::FlowCollector;
use netobserv_api::validate::{ClusterFacts, Cni, Platform};
use netobserv_fake_apiserver::FakeApiServer;
use netobserv_operator::Images;
use netobserv_operator::controller::{self, Context};
use netobserv_operator::metrics::Metrics;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

/// Path of the FlowCollector `cluster` (stored version).
pub const FC_PATH: &str = "/apis/flows.netobserv.io/v1beta2/flowcollectors/cluster";
/// The pipeline Deployment in the Service model.
pub const FLP_DEPLOYMENT: &str = "/apis/apps/v1/namespaces/netobserv/deployments/flowlogs-pipeline";
/// The pipeline DaemonSet in the Direct model.
pub const FLP_DAEMONSET: &str = "/apis/apps/v1/namespaces/netobserv/daemonsets/flowlogs-pipeline";
/// The agent DaemonSet.
pub const AGENT_DAEMONSET: &str =
    "/apis/apps/v1/namespaces/netobserv-privileged/daemonsets/netobserv-ebpf-agent";
/// The Kafka consumer.
pub const TRANSFORMER: &str =
    "/apis/apps/v1/namespaces/netobserv/deployments/flowlogs-pipeline-transformer";

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the repository as text.
pub fn read(path: &str) -> String {
    let p = repo().join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A permissive CRD for an optional API key `group/version/Kind`.
pub fn optional_crd(api: &str, namespaced: bool) -> Value {
    let mut parts = api.rsplitn(3, '/');
    let kind = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    let group = parts.next().unwrap_or_default();
    let plural = match kind {
        "SecurityContextConstraints" => "securitycontextconstraints".to_string(),
        "Console" => "consoles".to_string(),
        k => format!("{}s", k.to_lowercase()),
    };
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {"group": group, "scope": if namespaced { "Namespaced" } else { "Cluster" },
                 "names": {"plural": plural, "kind": kind},
                 "versions": [{"name": version, "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })
}

/// Whether the kind behind an optional API key is namespaced.
fn namespaced(api: &str) -> bool {
    !matches!(
        api.rsplit('/').next(),
        Some("ConsolePlugin" | "SecurityContextConstraints" | "Console")
    )
}

/// A fake cluster with the FlowCollector and FlowMetric CRDs as committed, and the optional APIs
/// in `apis`.
pub async fn cluster(apis: &[&str]) -> FakeApiServer {
    let fake = FakeApiServer::start()
        .await
        .expect("fake API server starts");
    for crd in [
        "config/crd/bases/flows.netobserv.io_flowcollectors.yaml",
        "config/crd/bases/flows.netobserv.io_flowmetrics.yaml",
    ] {
        fake.create_yaml(&read(crd))
            .unwrap_or_else(|e| panic!("the API server refuses {crd}: {e}"));
    }
    for api in apis {
        fake.create(optional_crd(api, namespaced(api)))
            .unwrap_or_else(|e| panic!("optional CRD {api}: {e}"));
    }
    if apis.contains(&netobserv_operator::render::API_SCC) {
        // Every OpenShift cluster has it: the console reads dashboards from there.
        fake.create(serde_json::json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "openshift-config-managed"},
        }))
        .expect("namespace openshift-config-managed");
    }
    fake
}

/// Cluster facts for plain Kubernetes with the given optional APIs.
pub fn facts(apis: &[&str]) -> ClusterFacts {
    ClusterFacts {
        platform: Platform::Kubernetes,
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        available_apis: apis.iter().map(|s| (*s).to_string()).collect(),
    }
}

/// Creates the FlowCollector `cluster` with `spec` through the API server's checks.
pub fn create_collector(fake: &FakeApiServer, spec: Value) -> FlowCollector {
    let obj = json!({"apiVersion": "flows.netobserv.io/v1beta2", "kind": "FlowCollector",
                     "metadata": {"name": "cluster"}, "spec": spec});
    let stored = fake
        .create(obj)
        .unwrap_or_else(|e| panic!("FlowCollector refused: {e}"));
    serde_json::from_value(stored).expect("FlowCollector decodes")
}

/// A Service-model (or other) spec with Kafka settings filled in.
pub fn spec(model: &str) -> Value {
    json!({"deploymentModel": model, "kafka": {"address": "kafka:9092", "topic": "flows"}})
}

/// The stored FlowCollector, decoded.
pub fn stored_collector(fake: &FakeApiServer) -> FlowCollector {
    serde_json::from_value(fake.get(FC_PATH).expect("FlowCollector stored")).expect("decodes")
}

/// Changes the spec of the stored FlowCollector as a user would (the given fields are merged in,
/// through the API server's checks).
pub fn update_spec(fake: &FakeApiServer, spec: Value) {
    let mut fc = fake.get(FC_PATH).expect("stored");
    fc["spec"] = spec;
    fake.apply(fc, "test-user").expect("spec accepted");
}

/// A reconcile context against the fake.
pub fn context(fake: &FakeApiServer, facts: ClusterFacts) -> Arc<Context> {
    Arc::new(Context::new(
        fake.client(),
        Arc::new(Metrics::default()),
        facts,
        Images::for_tests(),
    ))
}

/// One reconcile of the stored `cluster`, as the controller would run it.
pub async fn reconcile(fake: &FakeApiServer, ctx: &Arc<Context>) -> Action {
    controller::reconcile(Arc::new(stored_collector(fake)), ctx.clone())
        .await
        .expect("reconcile succeeds")
}
