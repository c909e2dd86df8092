//! Golden tests of the pure rendering: every sample FlowCollector in `config/samples` (the
//! v1beta1 one converted first, as the conversion webhook would), in each deployment model, is
//! rendered and serialised to YAML under `tests/golden/`. A change in rendering shows as a
//! unified diff; `UPDATE_GOLDEN=1 cargo test -p netobserv-operator --test golden` rewrites the
//! files after a deliberate change.

use netobserv_api::v1alpha1::FlowMetric;
use netobserv_api::v1beta1;
use netobserv_api::v1beta2::{DeploymentModel, FlowCollector};
use netobserv_api::validate::{ClusterFacts, Cni, OpenShiftVersion, Platform};
use netobserv_operator::Images;
use netobserv_operator::render::{
    self, API_CONSOLE_PLUGIN, API_PROMETHEUS_RULE, API_SCC, API_SERVICE_MONITOR,
};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_yaml(path: &str) -> serde_json::Value {
    let p = repo().join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Loads a sample, converting v1beta1 to v1beta2, and gives it a fixed uid so that owner
/// references show in the golden files.
fn sample(name: &str) -> FlowCollector {
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

fn flow_metrics() -> Vec<FlowMetric> {
    let raw = read_yaml("config/samples/flows_v1alpha1_flowmetric.yaml");
    vec![serde_json::from_value(raw).expect("FlowMetric sample parses")]
}

fn kubernetes() -> ClusterFacts {
    ClusterFacts {
        platform: Platform::Kubernetes,
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        available_apis: [API_SERVICE_MONITOR, API_PROMETHEUS_RULE]
            .into_iter()
            .map(str::to_string)
            .collect(),
    }
}

fn openshift() -> ClusterFacts {
    ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0))),
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        available_apis: [
            API_SERVICE_MONITOR,
            API_PROMETHEUS_RULE,
            API_CONSOLE_PLUGIN,
            API_SCC,
        ]
        .into_iter()
        .map(str::to_string)
        .collect(),
    }
}

fn render_yaml(fc: &FlowCollector, facts: &ClusterFacts) -> String {
    let rendered =
        render::render_all(fc, facts, &Images::for_tests(), &flow_metrics()).expect("renders");
    let mut out = String::new();
    for obj in rendered.objects {
        let value = obj.to_value().expect("serialises");
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&value).expect("yaml"));
    }
    if !rendered.copies.is_empty() {
        out.push_str("# Copied by the reconciler (referenced from another namespace):\n");
        for c in rendered.copies {
            out.push_str(&format!(
                "# - {} {}/{} -> {}\n",
                c.key().kind.kind(),
                c.source_namespace,
                c.name,
                c.target_namespace
            ));
        }
    }
    out
}

fn check(file: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("writes golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, actual);
        panic!(
            "rendering differs from {file} (UPDATE_GOLDEN=1 to accept):\n{}",
            diff.unified_diff()
                .context_radius(3)
                .header("golden", "rendered")
        );
    }
}

const SAMPLES: &[&str] = &[
    "flows_v1beta1_flowcollector.yaml",
    "flows_v1beta2_flowcollector.yaml",
    "flows_v1beta2_flowcollector_full.yaml",
    "flows_v1beta2_flowcollector_network_events.yaml",
    "flows_v1beta2_flowcollector_packet_translation.yaml",
    "flows_v1beta2_flowcollector_secondary_interfaces.yaml",
];

fn model_name(m: DeploymentModel) -> &'static str {
    match m {
        DeploymentModel::Service => "service",
        DeploymentModel::Direct => "direct",
        DeploymentModel::Kafka => "kafka",
    }
}

fn golden_for(sample_name: &str) {
    let base = sample_name
        .trim_start_matches("flows_")
        .trim_end_matches(".yaml");
    for model in [
        DeploymentModel::Service,
        DeploymentModel::Direct,
        DeploymentModel::Kafka,
    ] {
        let mut fc = sample(sample_name);
        fc.spec.deployment_model = model;
        if model == DeploymentModel::Kafka && fc.spec.kafka.address.is_empty() {
            fc.spec.kafka.address = "kafka-cluster-kafka-bootstrap.netobserv:9092".to_string();
            fc.spec.kafka.topic = "network-flows".to_string();
        }
        check(
            &format!("{base}__{}.yaml", model_name(model)),
            &render_yaml(&fc, &kubernetes()),
        );
    }
    let fc = sample(sample_name);
    check(
        &format!("{base}__as-is__openshift.yaml"),
        &render_yaml(&fc, &openshift()),
    );
}

#[test]
fn golden_v1beta1() {
    golden_for(SAMPLES[0]);
}

#[test]
fn golden_minimal() {
    golden_for(SAMPLES[1]);
}

#[test]
fn golden_full() {
    golden_for(SAMPLES[2]);
}

#[test]
fn golden_network_events() {
    golden_for(SAMPLES[3]);
}

#[test]
fn golden_packet_translation() {
    golden_for(SAMPLES[4]);
}

#[test]
fn golden_secondary_interfaces() {
    golden_for(SAMPLES[5]);
}

/// Golden files that no test writes any more would hide stale expectations.
#[test]
fn no_stray_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut expected = Vec::new();
    for s in SAMPLES {
        let base = s.trim_start_matches("flows_").trim_end_matches(".yaml");
        for m in ["service", "direct", "kafka"] {
            expected.push(format!("{base}__{m}.yaml"));
        }
        expected.push(format!("{base}__as-is__openshift.yaml"));
    }
    for entry in std::fs::read_dir(dir).expect("golden dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        assert!(expected.contains(&name), "stray golden file {name}");
    }
}
