//! Every sample under `config/samples` deserialises into the Rust types, survives a serialise /
//! deserialise round trip, validates with exactly the findings listed here for a known cluster,
//! and (for the v1beta1 one) converts to v1beta2 first, as the conversion webhook would.

use netobserv_api::v1alpha1::FlowMetric;
use netobserv_api::v1beta1;
use netobserv_api::v1beta2::FlowCollector;
use netobserv_api::validate::{self, ClusterFacts, Cni, OpenShiftVersion, Platform, Report};
use serde_json::Value;
use std::path::PathBuf;

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/samples")
}

fn read(name: &str) -> Value {
    let path = samples_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A cluster where every fact is known and recent, so that only the sample's own choices show.
fn known_cluster() -> ClusterFacts {
    ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0))),
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        ..ClusterFacts::default()
    }
}

/// Parses a v1beta2 FlowCollector and checks that serialising it loses nothing.
fn v1beta2(name: &str) -> FlowCollector {
    let raw = read(name);
    assert_eq!(raw["apiVersion"], "flows.netobserv.io/v1beta2", "{name}");
    let fc: FlowCollector = serde_json::from_value(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: FlowCollector =
        serde_json::from_value(serde_json::to_value(&fc).expect("serialises")).expect("re-parses");
    assert_eq!(fc, again, "{name} does not round-trip");
    assert_eq!(fc.metadata.name.as_deref(), Some("cluster"), "{name}");
    fc
}

/// Asserts the report has no errors and exactly the warnings whose paths are listed.
fn assert_findings(name: &str, report: &Report, warning_paths: &[&str]) {
    assert!(
        report.errors.is_empty(),
        "{name}: unexpected errors {:#?}",
        report.errors
    );
    let mut got: Vec<&str> = report.warnings.iter().map(|w| w.path.as_str()).collect();
    got.sort_unstable();
    let mut want = warning_paths.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "{name}: warnings {:#?}", report.warnings);
}

#[test]
fn minimal_sample_is_clean() {
    let name = "flows_v1beta2_flowcollector.yaml";
    let fc = v1beta2(name);
    assert_findings(name, &validate::validate(&fc, &known_cluster()), &[]);
}

#[test]
fn full_sample_exercises_every_section_without_errors() {
    let name = "flows_v1beta2_flowcollector_full.yaml";
    let fc = v1beta2(name);
    let spec = serde_json::to_value(&fc.spec).expect("serialises");
    for section in [
        "namespace",
        "deploymentModel",
        "agent",
        "processor",
        "loki",
        "prometheus",
        "consolePlugin",
        "kafka",
        "exporters",
        "networkPolicy",
        "execution",
    ] {
        assert!(spec.get(section).is_some(), "{name} lacks spec.{section}");
    }
    // The sample's explicit includeList leaves out metrics two of its health rules read; the
    // validation says so (and names them) rather than letting the rules silently match nothing.
    let report = validate::validate(&fc, &known_cluster());
    assert_findings(
        name,
        &report,
        &[
            "spec.processor.metrics.includeList",
            "spec.processor.metrics.includeList",
        ],
    );
    let messages = validate::join(&report.warnings);
    assert!(messages.contains("PacketDropsByKernel/Node"), "{messages}");
    assert!(messages.contains("DNSErrors/Workload"), "{messages}");
}

#[test]
fn network_events_sample_is_clean() {
    let name = "flows_v1beta2_flowcollector_network_events.yaml";
    let fc = v1beta2(name);
    assert_eq!(fc.spec.agent.ebpf.sampling, 1);
    assert!(fc.spec.agent.ebpf.privileged);
    assert!(
        fc.spec
            .has_feature(netobserv_api::v1beta2::AgentFeature::NetworkEvents)
    );
    assert_findings(name, &validate::validate(&fc, &known_cluster()), &[]);
    // On an OpenShift too old for the feature, the same sample warns.
    let old = ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(4, 16, 0))),
        ..known_cluster()
    };
    assert_findings(
        name,
        &validate::validate(&fc, &old),
        &["spec.agent.ebpf.features"],
    );
}

#[test]
fn packet_translation_sample_is_clean() {
    let name = "flows_v1beta2_flowcollector_packet_translation.yaml";
    let fc = v1beta2(name);
    assert!(
        fc.spec
            .has_feature(netobserv_api::v1beta2::AgentFeature::PacketTranslation)
    );
    assert_findings(name, &validate::validate(&fc, &known_cluster()), &[]);
}

#[test]
fn secondary_interfaces_sample_is_privileged_and_clean() {
    let name = "flows_v1beta2_flowcollector_secondary_interfaces.yaml";
    let fc = v1beta2(name);
    assert!(fc.spec.agent.ebpf.privileged);
    assert_findings(name, &validate::validate(&fc, &known_cluster()), &[]);
}

#[test]
fn v1beta1_sample_converts_and_validates() {
    let name = "flows_v1beta1_flowcollector.yaml";
    let raw = read(name);
    assert_eq!(raw["apiVersion"], "flows.netobserv.io/v1beta1");
    let old: v1beta1::FlowCollector =
        serde_json::from_value(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    let new = v1beta1::to_v1beta2(&old).expect("converts");
    assert_eq!(new.spec.agent.kind, netobserv_api::v1beta2::AgentType::Ebpf);
    assert!(new.spec.agent.ebpf.privileged);
    let back = v1beta1::from_v1beta2(&new).expect("converts back");
    let again = v1beta1::to_v1beta2(&back).expect("converts again");
    assert_eq!(new, again, "{name} does not round-trip through v1beta1");
    assert_findings(name, &validate::validate(&new, &known_cluster()), &[]);
}

#[test]
fn flowmetric_sample_parses_and_round_trips() {
    let name = "flows_v1alpha1_flowmetric.yaml";
    let raw = read(name);
    let fm: FlowMetric = serde_json::from_value(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: FlowMetric =
        serde_json::from_value(serde_json::to_value(&fm).expect("serialises")).expect("re-parses");
    assert_eq!(fm, again);
    assert_eq!(fm.metadata.namespace.as_deref(), Some("netobserv"));
}

#[test]
fn every_sample_file_is_covered() {
    let mut files: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("samples dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "flows_v1alpha1_flowmetric.yaml",
            "flows_v1beta1_flowcollector.yaml",
            "flows_v1beta2_flowcollector.yaml",
            "flows_v1beta2_flowcollector_full.yaml",
            "flows_v1beta2_flowcollector_network_events.yaml",
            "flows_v1beta2_flowcollector_packet_translation.yaml",
            "flows_v1beta2_flowcollector_secondary_interfaces.yaml",
        ],
        "a sample was added or removed: give it a test here"
    );
}
