//! Builders of FlowCollectors and cluster facts, and assertions on validation reports, shared by
//! every topic module.

use netobserv_api::v1beta2::FlowCollector;
use netobserv_api::validate::{
    ClusterFacts, Cni, Issue, OpenShiftVersion, Platform, Report, validate,
};
use serde_json::{Value, json};

/// A FlowCollector with the given name and spec, as the API server would hand it over.
pub(crate) fn fc_named(name: &str, spec: Value) -> FlowCollector {
    serde_json::from_value(json!({
        "apiVersion": "flows.netobserv.io/v1beta2",
        "kind": "FlowCollector",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

/// A FlowCollector named `cluster`.
pub(crate) fn fc(spec: Value) -> FlowCollector {
    fc_named("cluster", spec)
}

/// Facts of a fully known, modern OpenShift cluster: nothing about the cluster warns.
pub(crate) fn known() -> ClusterFacts {
    ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0))),
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        ..ClusterFacts::default()
    }
}

/// Known cluster facts, except for the OpenShift version.
pub(crate) fn openshift(major: u32, minor: u32, patch: u32) -> ClusterFacts {
    ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(major, minor, patch))),
        ..known()
    }
}

/// Known cluster facts, except for the node count.
pub(crate) fn with_nodes(n: Option<u32>) -> ClusterFacts {
    ClusterFacts {
        node_count: n,
        ..known()
    }
}

/// Known cluster facts, except for the CNI.
pub(crate) fn with_cni(cni: Option<Cni>) -> ClusterFacts {
    ClusterFacts { cni, ..known() }
}

/// Validates `spec` (in a FlowCollector named `cluster`) against a fully known cluster.
pub(crate) fn check(spec: Value) -> Report {
    validate(&fc(spec), &known())
}

/// The issues at exactly `path` whose message contains `phrase`.
pub(crate) fn matching<'a>(issues: &'a [Issue], path: &str, phrase: &str) -> Vec<&'a Issue> {
    issues
        .iter()
        .filter(|i| i.path == path && i.message.contains(phrase))
        .collect()
}

/// The report holds an error at `path` whose message contains `phrase`, and no such warning.
#[track_caller]
pub(crate) fn assert_error(report: &Report, path: &str, phrase: &str) {
    assert!(
        !matching(&report.errors, path, phrase).is_empty(),
        "expected an error at `{path}` containing {phrase:?}, got {report:#?}"
    );
    assert!(
        matching(&report.warnings, path, phrase).is_empty(),
        "`{path}` ({phrase:?}) must be an error, not a warning: {report:#?}"
    );
}

/// The report holds a warning at `path` whose message contains `phrase`, and no such error.
#[track_caller]
pub(crate) fn assert_warning(report: &Report, path: &str, phrase: &str) {
    assert!(
        !matching(&report.warnings, path, phrase).is_empty(),
        "expected a warning at `{path}` containing {phrase:?}, got {report:#?}"
    );
    assert!(
        matching(&report.errors, path, phrase).is_empty(),
        "`{path}` ({phrase:?}) must be a warning, not an error: {report:#?}"
    );
}

/// Neither an error nor a warning at `path` whose message contains `phrase`.
#[track_caller]
pub(crate) fn assert_no_issue(report: &Report, path: &str, phrase: &str) {
    let errors = matching(&report.errors, path, phrase);
    let warnings = matching(&report.warnings, path, phrase);
    assert!(
        errors.is_empty() && warnings.is_empty(),
        "unexpected issue at `{path}` containing {phrase:?}: {report:#?}"
    );
}

/// No errors and no warnings at all.
#[track_caller]
pub(crate) fn assert_clean(report: &Report) {
    assert!(
        report.errors.is_empty() && report.warnings.is_empty(),
        "expected a clean report, got {report:#?}"
    );
}

/// Number of errors at `path` (any message).
pub(crate) fn errors_at(report: &Report, path: &str) -> usize {
    report.errors.iter().filter(|i| i.path == path).count()
}

/// An enabled eBPF flow filter with these rules.
pub(crate) fn flow_filter(rules: Value) -> Value {
    json!({"agent": {"ebpf": {"flowFilter": {"enable": true, "rules": rules}}}})
}

/// Path of the first rule of an enabled flow filter, as reported by the validation.
pub(crate) const RULE0: &str = "spec.agent.ebpf.flowFilter.rules[0]";
