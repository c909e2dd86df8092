//! The FlowCollector samples, and every deployment model of each rendered by the operator.

use netobserv_api::v1alpha1::FlowMetric;
use netobserv_api::v1beta1;
use netobserv_api::v1beta2::{DeploymentModel, FlowCollector};
use netobserv_api::validate::{ClusterFacts, Cni, OpenShiftVersion, Platform};
use netobserv_operator::render::{
    self, API_CONSOLE_PLUGIN, API_PROMETHEUS_RULE, API_SCC, API_SERVICE_MONITOR,
};
use serde_json::Value as Json;
use std::path::PathBuf;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn read_yaml(path: &str) -> Json {
    let p = repo().join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A sample, converted to v1beta2 when it is a v1beta1 one (as the conversion webhook does).
pub(crate) fn sample(name: &str) -> FlowCollector {
    let raw = read_yaml(&format!("config/samples/{name}"));
    let mut fc: FlowCollector = if raw["apiVersion"] == "flows.netobserv.io/v1beta1" {
        let old: v1beta1::FlowCollector = serde_json::from_value(raw).expect("v1beta1 parses");
        v1beta1::to_v1beta2(&old).expect("converts")
    } else {
        serde_json::from_value(raw).expect("v1beta2 parses")
    };
    fc.metadata.uid = Some("00000000-0000-0000-0000-000000000001".to_string());
    fc
}

pub(crate) fn flow_metrics() -> Vec<FlowMetric> {
    let raw = read_yaml("config/samples/flows_v1alpha1_flowmetric.yaml");
    vec![serde_json::from_value(raw).expect("FlowMetric sample parses")]
}

pub(crate) fn facts(openshift: bool) -> ClusterFacts {
    let mut apis = vec![API_SERVICE_MONITOR, API_PROMETHEUS_RULE];
    if openshift {
        apis.extend([API_CONSOLE_PLUGIN, API_SCC]);
    }
    ClusterFacts {
        platform: if openshift {
            Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0)))
        } else {
            Platform::Kubernetes
        },
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        available_apis: apis.into_iter().map(str::to_string).collect(),
    }
}

/// The variants the golden tests render: each model on Kubernetes, the sample as-is on
/// OpenShift.
pub(crate) fn variants(name: &str) -> Vec<(String, Vec<Json>)> {
    let mut out = Vec::new();
    for (model, label) in [
        (Some(DeploymentModel::Service), "service"),
        (Some(DeploymentModel::Direct), "direct"),
        (Some(DeploymentModel::Kafka), "kafka"),
        (None, "as-is-openshift"),
    ] {
        let mut fc = sample(name);
        if let Some(model) = model {
            fc.spec.deployment_model = model;
            if model == DeploymentModel::Kafka && fc.spec.kafka.address.is_empty() {
                fc.spec.kafka.address = "kafka-cluster-kafka-bootstrap.netobserv:9092".into();
                fc.spec.kafka.topic = "network-flows".into();
            }
        }
        let rendered = render::render_all(
            &fc,
            &facts(model.is_none()),
            &netobserv_operator::Images::for_tests(),
            &flow_metrics(),
        )
        .expect("renders");
        let objects = rendered
            .objects
            .iter()
            .map(|o| o.to_value().expect("serialises"))
            .collect();
        out.push((format!("{name} / {label}"), objects));
    }
    out
}
