//! Whole-report behaviour: a default FlowCollector is clean, the name `cluster` is expected, and
//! errors and warnings are rendered with their paths.

use crate::support::{
    RULE0, assert_clean, assert_no_issue, assert_warning, check, fc, fc_named, flow_filter, known,
};
use netobserv_api::validate::{ClusterFacts, validate};
use pretty_assertions::assert_eq;
use serde_json::json;

#[test]
fn baseline_default_flowcollector_on_known_cluster_is_clean() {
    let report = check(json!({}));
    assert!(report.errors.is_empty(), "{report:#?}");
    assert!(report.warnings.is_empty(), "{report:#?}");
    assert!(report.is_valid());
    assert_eq!(report.error_message(), "");
}

#[test]
fn baseline_on_unknown_cluster_only_warns() {
    let report = validate(&fc(json!({})), &ClusterFacts::default());
    assert!(report.errors.is_empty(), "{report:#?}");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.message.contains("unknown environment")),
        "{report:#?}"
    );
}

#[test]
fn flowcollector_not_named_cluster_warns() {
    let report = validate(&fc_named("my-collector", json!({})), &known());
    assert_warning(
        &report,
        "metadata.name",
        "only the FlowCollector named `cluster` is reconciled",
    );
    assert!(report.errors.is_empty(), "{report:#?}");
    assert_eq!(report.warnings.len(), 1, "{report:#?}");

    let report = validate(&fc_named("cluster", json!({})), &known());
    assert_no_issue(&report, "metadata.name", "");
    assert_clean(&report);
}

#[test]
fn report_joins_errors_and_prefixes_paths() {
    let report = check(flow_filter(json!([{"cidr": "bad", "peerIP": "bad"}])));
    assert!(!report.is_valid());
    assert_eq!(
        report.error_message(),
        format!(
            "{RULE0}.cidr: `bad` is not a CIDR (expected e.g. 10.0.0.0/8 or fd00::/64); {RULE0}.peerIP: `bad` is not an IP address"
        )
    );
    let report = validate(&fc_named("x", json!({})), &known());
    assert_eq!(
        report.warning_messages(),
        vec![
            "metadata.name: only the FlowCollector named `cluster` is reconciled; this one is ignored"
                .to_string()
        ]
    );
}
