//! FlowCollector validation (reference §1.9): one test per error or warning rule, each with a
//! FlowCollector that trips it and a closely related one that does not; plus OpenShift version
//! parsing and the effective metric include list (§1.5 feature filtering).
#![allow(clippy::unwrap_used)]

use netobserv_api::v1beta2::{
    AgentFeature, FlowCollector, FlpHealthRule, FlpMetric, HealthRuleGroupBy, HealthRuleMode,
    HealthRuleTemplate, HealthRuleThresholds, HealthRuleVariant, default_include_list,
};
use netobserv_api::validate::{
    ClusterFacts, Cni, Issue, OpenShiftVersion, Platform, Report, validate,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A FlowCollector with the given name and spec, as the API server would hand it over.
fn fc_named(name: &str, spec: Value) -> FlowCollector {
    serde_json::from_value(json!({
        "apiVersion": "flows.netobserv.io/v1beta2",
        "kind": "FlowCollector",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

/// A FlowCollector named `cluster`.
fn fc(spec: Value) -> FlowCollector {
    fc_named("cluster", spec)
}

/// Facts of a fully known, modern OpenShift cluster: nothing about the cluster warns.
fn known() -> ClusterFacts {
    ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0))),
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        ..ClusterFacts::default()
    }
}

fn openshift(major: u32, minor: u32, patch: u32) -> ClusterFacts {
    ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(major, minor, patch))),
        ..known()
    }
}

fn with_nodes(n: Option<u32>) -> ClusterFacts {
    ClusterFacts {
        node_count: n,
        ..known()
    }
}

fn with_cni(cni: Option<Cni>) -> ClusterFacts {
    ClusterFacts { cni, ..known() }
}

/// Validates `spec` (in a FlowCollector named `cluster`) against a fully known cluster.
fn check(spec: Value) -> Report {
    validate(&fc(spec), &known())
}

fn matching<'a>(issues: &'a [Issue], path: &str, phrase: &str) -> Vec<&'a Issue> {
    issues
        .iter()
        .filter(|i| i.path == path && i.message.contains(phrase))
        .collect()
}

/// The report holds an error at `path` whose message contains `phrase`, and no such warning.
#[track_caller]
fn assert_error(report: &Report, path: &str, phrase: &str) {
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
fn assert_warning(report: &Report, path: &str, phrase: &str) {
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
fn assert_no_issue(report: &Report, path: &str, phrase: &str) {
    let errors = matching(&report.errors, path, phrase);
    let warnings = matching(&report.warnings, path, phrase);
    assert!(
        errors.is_empty() && warnings.is_empty(),
        "unexpected issue at `{path}` containing {phrase:?}: {report:#?}"
    );
}

/// No errors and no warnings at all.
#[track_caller]
fn assert_clean(report: &Report) {
    assert!(
        report.errors.is_empty() && report.warnings.is_empty(),
        "expected a clean report, got {report:#?}"
    );
}

/// Number of errors at `path` (any message).
fn errors_at(report: &Report, path: &str) -> usize {
    report.errors.iter().filter(|i| i.path == path).count()
}

/// An enabled eBPF flow filter with these rules.
fn flow_filter(rules: Value) -> Value {
    json!({"agent": {"ebpf": {"flowFilter": {"enable": true, "rules": rules}}}})
}

const RULE0: &str = "spec.agent.ebpf.flowFilter.rules[0]";

/// An enabled flow filter with one rule whose `field` is `value`.
fn one_rule_with(field: &str, value: Value) -> Value {
    let mut rule = serde_json::Map::new();
    rule.insert(field.to_string(), value);
    flow_filter(json!([rule]))
}

/// A spec with one configured health rule.
fn health_rule(rule: Value, features: &[&str]) -> Value {
    json!({
        "agent": {"ebpf": {"features": features}},
        "processor": {"metrics": {"healthRules": [rule]}},
    })
}

const VARIANT0: &str = "spec.processor.metrics.healthRules[0].variants[0]";

/// A PacketDropsByDevice (no feature needed, any metrics) rule with one Node variant.
fn device_rule_variant(variant: Value) -> Value {
    let mut v = json!({"groupBy": "Node"});
    for (k, val) in variant.as_object().unwrap() {
        v[k] = val.clone();
    }
    health_rule(
        json!({"template": "PacketDropsByDevice", "variants": [v]}),
        &[],
    )
}

fn feature_name(feature: AgentFeature) -> String {
    serde_json::to_value(feature)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Baseline
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Errors: eBPF flow filter
// ---------------------------------------------------------------------------------------------

#[test]
fn flow_filter_duplicate_cidr_and_peer_cidr_is_an_error() {
    let report = check(flow_filter(json!([
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16"},
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16", "action": "Reject"},
    ])));
    assert_error(
        &report,
        "spec.agent.ebpf.flowFilter.rules[1]",
        "rules[0] already has cidr `10.0.0.0/8` and peerCIDR `192.168.0.0/16`",
    );
    assert_eq!(report.errors.len(), 1, "{report:#?}");

    // Same cidr, different peerCIDR: allowed.
    let report = check(flow_filter(json!([
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16"},
        {"cidr": "10.0.0.0/8", "peerCIDR": "172.16.0.0/12"},
    ])));
    assert_no_issue(
        &report,
        "spec.agent.ebpf.flowFilter.rules[1]",
        "already has",
    );
    assert_clean(&report);
}

#[test]
fn flow_filter_duplicates_are_not_checked_when_filter_is_disabled() {
    let rules = json!([
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16"},
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16"},
    ]);
    for enable in [json!(false), Value::Null] {
        let mut filter = json!({"rules": rules});
        if !enable.is_null() {
            filter["enable"] = enable.clone();
        }
        let report = check(json!({"agent": {"ebpf": {"flowFilter": filter}}}));
        assert_no_issue(
            &report,
            "spec.agent.ebpf.flowFilter.rules[1]",
            "already has",
        );
        assert_clean(&report);
    }
}

#[test]
fn flow_filter_invalid_cidr_is_an_error() {
    for bad in [
        "10.0.0.0/33",
        "not-a-cidr",
        "10.0.0.0",
        "300.0.0.0/8",
        "fd00::/129",
    ] {
        let report = check(one_rule_with("cidr", json!(bad)));
        assert_error(&report, &format!("{RULE0}.cidr"), "is not a CIDR");
        assert_error(&report, &format!("{RULE0}.cidr"), bad);
    }
    for good in ["10.0.0.0/8", "0.0.0.0/0", "fd00::/64", "10.1.2.3/8"] {
        let report = check(one_rule_with("cidr", json!(good)));
        assert_no_issue(&report, &format!("{RULE0}.cidr"), "");
        assert_clean(&report);
    }
}

#[test]
fn flow_filter_invalid_peer_cidr_is_an_error() {
    for bad in ["192.168.0.0/40", "peer", "192.168.0.1"] {
        let report = check(one_rule_with("peerCIDR", json!(bad)));
        assert_error(&report, &format!("{RULE0}.peerCIDR"), "is not a CIDR");
    }
    for good in ["192.168.0.0/16", "::/0"] {
        let report = check(one_rule_with("peerCIDR", json!(good)));
        assert_no_issue(&report, &format!("{RULE0}.peerCIDR"), "");
        assert_clean(&report);
    }
}

#[test]
fn flow_filter_invalid_peer_ip_is_an_error() {
    for bad in ["10.0.0.300", "10.0.0.0/8", "host"] {
        let report = check(one_rule_with("peerIP", json!(bad)));
        assert_error(&report, &format!("{RULE0}.peerIP"), "is not an IP address");
    }
    for good in ["10.0.0.1", "fd00::1"] {
        let report = check(one_rule_with("peerIP", json!(good)));
        assert_no_issue(&report, &format!("{RULE0}.peerIP"), "");
        assert_clean(&report);
    }
}

/// Checks a bad and a good port value in `ports`, `sourcePorts` and `destPorts`.
#[track_caller]
fn check_port_forms(bad: &[(Value, &str)], good: &[Value]) {
    for field in ["ports", "sourcePorts", "destPorts"] {
        let path = format!("{RULE0}.{field}");
        for (value, phrase) in bad {
            let report = check(one_rule_with(field, value.clone()));
            assert_error(&report, &path, phrase);
            assert_eq!(errors_at(&report, &path), 1, "{value}: {report:#?}");
        }
        for value in good {
            let report = check(one_rule_with(field, value.clone()));
            assert_no_issue(&report, &path, "");
            assert_clean(&report);
        }
    }
}

#[test]
fn flow_filter_port_range_must_start_below_its_end() {
    check_port_forms(
        &[
            (json!("100-80"), "must start below its end"),
            (json!("80-80"), "must start below its end"),
        ],
        &[json!("80-100"), json!("1-65535")],
    );
}

#[test]
fn flow_filter_port_range_with_non_number_is_an_error() {
    check_port_forms(
        &[
            (json!("80-abc"), "end of range `80-abc`"),
            (json!("abc-80"), "start of range `abc-80`"),
            (json!("80-"), "end of range"),
            (json!("80-70000"), "end of range"),
            (json!("0-80"), "port 0"),
        ],
        &[json!("80-100")],
    );
}

#[test]
fn flow_filter_port_pair_must_list_exactly_two_ports() {
    check_port_forms(
        &[
            (json!("80,443,8080"), "exactly two ports"),
            (json!("80,abc"), "second port of `80,abc`"),
            (json!("0,443"), "first port of `0,443`"),
        ],
        &[json!("80,443")],
    );
}

#[test]
fn flow_filter_port_zero_string_is_an_error() {
    check_port_forms(
        &[(json!("0"), "port 0"), (json!("http"), "is not a port")],
        &[json!("443"), json!("")],
    );
}

#[test]
fn flow_filter_port_int_zero_means_unset() {
    check_port_forms(&[], &[json!(0)]);
    // 0 is unset, so it does not conflict with sourcePorts.
    let report = check(flow_filter(json!([{"ports": 0, "sourcePorts": 80}])));
    assert_clean(&report);
}

#[test]
fn flow_filter_port_int_out_of_range_is_an_error() {
    check_port_forms(
        &[
            (json!(70000), "70000 is not a port"),
            (json!(-1), "-1 is not a port"),
        ],
        &[json!(443), json!(65535), json!(1)],
    );
}

#[test]
fn flow_filter_port_valid_forms_pass() {
    check_port_forms(
        &[],
        &[json!("80-100"), json!("80,443"), json!(443), json!("443")],
    );
}

#[test]
fn flow_filter_ports_with_source_ports_is_an_error() {
    let path = format!("{RULE0}.ports");
    let report = check(flow_filter(
        json!([{"ports": 80, "sourcePorts": "1000-2000"}]),
    ));
    assert_error(&report, &path, "ports and sourcePorts cannot be combined");
    assert_no_issue(&report, &path, "destPorts");

    // sourcePorts with destPorts is fine, and so is ports alone.
    for rule in [
        json!({"sourcePorts": "1000-2000", "destPorts": 80}),
        json!({"ports": 80}),
    ] {
        let report = check(flow_filter(json!([rule])));
        assert_no_issue(&report, &path, "cannot be combined");
        assert_clean(&report);
    }
}

#[test]
fn flow_filter_ports_with_dest_ports_is_an_error() {
    let path = format!("{RULE0}.ports");
    let report = check(flow_filter(json!([{"ports": "80,443", "destPorts": 8080}])));
    assert_error(&report, &path, "ports and destPorts cannot be combined");
    assert_no_issue(&report, &path, "sourcePorts");

    let report = check(flow_filter(
        json!([{"ports": "80,443", "sourcePorts": 8080, "destPorts": 9090}]),
    ));
    assert_error(&report, &path, "ports and destPorts cannot be combined");
    assert_error(&report, &path, "ports and sourcePorts cannot be combined");

    let report = check(flow_filter(json!([{"destPorts": 8080}])));
    assert_clean(&report);
}

#[test]
fn flow_filter_deprecated_inline_rule_is_validated_too() {
    let base = "spec.agent.ebpf.flowFilter";
    let report = check(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true,
        "cidr": "10.0.0.0/99",
        "peerCIDR": "peer",
        "peerIP": "nope",
        "ports": "0",
        "sourcePorts": 53,
    }}}}));
    assert_error(&report, &format!("{base}.cidr"), "is not a CIDR");
    assert_error(&report, &format!("{base}.peerCIDR"), "is not a CIDR");
    assert_error(&report, &format!("{base}.peerIP"), "is not an IP address");
    assert_error(&report, &format!("{base}.ports"), "port 0");
    assert_error(
        &report,
        &format!("{base}.ports"),
        "ports and sourcePorts cannot be combined",
    );

    // Also validated alongside `rules`.
    let report = check(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true,
        "cidr": "bad",
        "rules": [{"cidr": "10.0.0.0/8"}],
    }}}}));
    assert_error(&report, &format!("{base}.cidr"), "is not a CIDR");

    // A valid inline rule passes.
    let report = check(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true,
        "cidr": "10.0.0.0/8",
        "ports": "80-8080",
        "peerIP": "10.0.0.1",
    }}}}));
    assert_clean(&report);
}

// ---------------------------------------------------------------------------------------------
// Errors and warnings: processor log types
// ---------------------------------------------------------------------------------------------

const LOG_TYPES: &str = "spec.processor.logTypes";

#[test]
fn log_types_other_than_flows_without_loki_is_an_error() {
    for log_types in ["Conversations", "EndedConversations", "All"] {
        let report = check(json!({
            "deploymentModel": "Kafka",
            "kafka": {"address": "kafka:9092", "topic": "flows"},
            "loki": {"enable": false},
            "processor": {"logTypes": log_types},
        }));
        assert_error(&report, LOG_TYPES, "needs Loki");
    }
    // Flows without Loki is fine; conversations with Loki too.
    let report = check(json!({"loki": {"enable": false}, "processor": {"logTypes": "Flows"}}));
    assert_no_issue(&report, LOG_TYPES, "needs Loki");
    assert_clean(&report);
    let report = check(
        json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}, "processor": {"logTypes": "Conversations"}}),
    );
    assert_no_issue(&report, LOG_TYPES, "needs Loki");
    assert_clean(&report);
}

#[test]
fn log_types_other_than_flows_with_service_model_is_an_error() {
    for log_types in ["Conversations", "EndedConversations", "All"] {
        let report = check(json!({
            "deploymentModel": "Service",
            "processor": {"logTypes": log_types},
        }));
        assert_error(&report, LOG_TYPES, "Service model");
    }
    for model in ["Direct", "Kafka"] {
        let report = check(json!({
            "deploymentModel": model,
            "kafka": {"address": "kafka:9092", "topic": "flows"},
            "processor": {"logTypes": "Conversations"},
        }));
        assert_no_issue(&report, LOG_TYPES, "Service model");
        assert_clean(&report);
    }
}

#[test]
fn log_types_all_warns_about_resources() {
    let report = check(
        json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}, "processor": {"logTypes": "All"}}),
    );
    assert_warning(&report, LOG_TYPES, "much larger resource footprint");
    assert!(report.errors.is_empty(), "{report:#?}");
    assert_eq!(report.warnings.len(), 1, "{report:#?}");

    for log_types in ["Conversations", "EndedConversations", "Flows"] {
        let report = check(
            json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}, "processor": {"logTypes": log_types}}),
        );
        assert_no_issue(&report, LOG_TYPES, "resource footprint");
        assert_clean(&report);
    }
}

// ---------------------------------------------------------------------------------------------
// Errors: processor filters
// ---------------------------------------------------------------------------------------------

#[test]
fn processor_filter_query_that_does_not_parse_is_an_error() {
    let valid = r#"SrcK8S_Namespace="netobserv" and DstPort>=1024"#;
    for bad in [
        r#"SrcK8S_Namespace="netobserv" and"#,
        "SrcPort > 1.5",
        "'single'",
        "(Proto=6",
    ] {
        let parser_message = flowdsl::parse(bad).unwrap_err().to_string();
        let report = check(json!({"processor": {"filters": [
            {"query": valid},
            {"query": bad, "outputTarget": "Loki"},
        ]}}));
        let path = "spec.processor.filters[1].query";
        assert_error(&report, path, &parser_message);
        assert_error(&report, path, "cannot parse");
        assert_no_issue(&report, "spec.processor.filters[0].query", "");
        assert_eq!(report.errors.len(), 1, "{report:#?}");
    }

    assert!(flowdsl::parse(valid).is_ok());
    let report = check(json!({"processor": {"filters": [{"query": valid, "sampling": 1}]}}));
    assert_no_issue(&report, "spec.processor.filters[0].query", "");
    assert_clean(&report);
}

// ---------------------------------------------------------------------------------------------
// Errors: health rules
// ---------------------------------------------------------------------------------------------

#[test]
fn health_rule_unsupported_group_by_is_an_error() {
    let unsupported = [
        ("PacketDropsByDevice", "Workload", &[][..]),
        ("IPsecErrors", "Workload", &["IPSec"][..]),
        ("IPsecErrors", "Namespace", &["IPSec"][..]),
        ("Ingress5xxErrors", "Node", &[][..]),
        ("Ingress5xxErrors", "Workload", &[][..]),
        ("IngressHTTPLatencyTrend", "Node", &[][..]),
        ("IngressHTTPLatencyTrend", "Workload", &[][..]),
    ];
    for (template, group_by, features) in unsupported {
        let report = check(health_rule(
            json!({"template": template, "variants": [
                {"groupBy": group_by, "thresholds": {"warning": "10"}},
            ]}),
            features,
        ));
        assert_error(
            &report,
            &format!("{VARIANT0}.groupBy"),
            &format!("health rule {template} cannot be grouped by {group_by}"),
        );
    }

    let supported = [
        ("PacketDropsByDevice", "Node", &[][..]),
        ("PacketDropsByDevice", "Namespace", &[][..]),
        ("PacketDropsByDevice", "", &[][..]),
        ("IPsecErrors", "Node", &["IPSec"][..]),
        ("IPsecErrors", "", &["IPSec"][..]),
        ("Ingress5xxErrors", "Namespace", &[][..]),
        ("IngressHTTPLatencyTrend", "", &[][..]),
        ("PacketDropsByKernel", "Workload", &["PacketDrop"][..]),
        ("DNSErrors", "Node", &["DNSTracking"][..]),
    ];
    for (template, group_by, features) in supported {
        let report = check(health_rule(
            json!({"template": template, "variants": [
                {"groupBy": group_by, "thresholds": {"warning": "10"}},
            ]}),
            features,
        ));
        assert_no_issue(&report, &format!("{VARIANT0}.groupBy"), "");
        assert!(
            report.errors.is_empty(),
            "{template}/{group_by}: {report:#?}"
        );
    }
}

#[test]
fn health_rule_without_threshold_is_an_error() {
    let report = check(device_rule_variant(json!({"thresholds": {}})));
    assert_error(
        &report,
        &format!("{VARIANT0}.thresholds"),
        "set at least one",
    );

    for level in ["critical", "warning", "info"] {
        let report = check(device_rule_variant(json!({"thresholds": {level: "10"}})));
        assert_no_issue(&report, &format!("{VARIANT0}.thresholds"), "at least one");
        assert_clean(&report);
    }
}

#[test]
fn health_rule_non_float_threshold_is_an_error() {
    for (level, raw) in [("warning", "abc"), ("info", "10%"), ("critical", "1,5")] {
        let report = check(device_rule_variant(json!({"thresholds": {level: raw}})));
        assert_error(
            &report,
            &format!("{VARIANT0}.thresholds.{level}"),
            &format!("`{raw}` is not a number"),
        );
    }
    for raw in ["10", "2.5", "0.001", "1e2"] {
        let report = check(device_rule_variant(json!({"thresholds": {"warning": raw}})));
        assert_no_issue(&report, &format!("{VARIANT0}.thresholds.warning"), "");
        assert_clean(&report);
    }
}

#[test]
fn health_rule_negative_threshold_is_an_error() {
    for level in ["critical", "warning", "info"] {
        let report = check(device_rule_variant(json!({"thresholds": {level: "-1"}})));
        assert_error(
            &report,
            &format!("{VARIANT0}.thresholds.{level}"),
            "must be a positive number",
        );
    }
    let report = check(device_rule_variant(json!({"thresholds": {"warning": "0"}})));
    assert_no_issue(&report, &format!("{VARIANT0}.thresholds.warning"), "");
    assert_clean(&report);
}

#[test]
fn health_rule_lower_severity_above_higher_severity_is_an_error() {
    let report = check(device_rule_variant(
        json!({"thresholds": {"info": "20", "warning": "10"}}),
    ));
    assert_error(
        &report,
        &format!("{VARIANT0}.thresholds.info"),
        "above the warning threshold",
    );

    let report = check(device_rule_variant(
        json!({"thresholds": {"warning": "50", "critical": "30"}}),
    ));
    assert_error(
        &report,
        &format!("{VARIANT0}.thresholds.warning"),
        "above the critical threshold",
    );

    // info above critical with warning unset is still out of order.
    let report = check(device_rule_variant(
        json!({"thresholds": {"info": "50", "critical": "30"}}),
    ));
    assert_error(
        &report,
        &format!("{VARIANT0}.thresholds.info"),
        "above the critical threshold",
    );

    for thresholds in [
        json!({"info": "5", "warning": "10"}),
        json!({"info": "5", "warning": "10", "critical": "20"}),
        json!({"info": "10", "warning": "10"}),
    ] {
        let report = check(device_rule_variant(json!({"thresholds": thresholds})));
        assert_no_issue(&report, &format!("{VARIANT0}.thresholds.info"), "");
        assert_no_issue(&report, &format!("{VARIANT0}.thresholds.warning"), "");
        assert_clean(&report);
    }
}

#[test]
fn health_rule_bad_low_volume_threshold_is_an_error() {
    for raw in ["lots", "-3", "NaN"] {
        let report = check(device_rule_variant(
            json!({"thresholds": {"warning": "10"}, "lowVolumeThreshold": raw}),
        ));
        assert_error(
            &report,
            &format!("{VARIANT0}.lowVolumeThreshold"),
            "is not a positive number",
        );
    }
    for raw in ["5", "0.5", "0"] {
        let report = check(device_rule_variant(
            json!({"thresholds": {"warning": "10"}, "lowVolumeThreshold": raw}),
        ));
        assert_no_issue(&report, &format!("{VARIANT0}.lowVolumeThreshold"), "");
        assert_clean(&report);
    }
}

fn variant(mode: Option<HealthRuleMode>) -> HealthRuleVariant {
    HealthRuleVariant {
        thresholds: HealthRuleThresholds {
            warning: "10".to_string(),
            ..HealthRuleThresholds::default()
        },
        group_by: HealthRuleGroupBy::Global,
        mode,
        ..HealthRuleVariant::default()
    }
}

/// A FlowCollector with one health rule, built in Rust: the CRD enum forbids alert-only
/// templates in `healthRules`, but the type does not.
fn with_rule(rule: FlpHealthRule) -> FlowCollector {
    let mut fc = fc(json!({}));
    fc.spec.processor.metrics.health_rules = Some(vec![rule]);
    fc
}

#[test]
fn health_rule_recording_mode_on_alert_only_template_is_an_error() {
    for template in [
        HealthRuleTemplate::NetObservNoFlows,
        HealthRuleTemplate::NetObservLokiError,
    ] {
        // Recording set on the variant.
        let report = validate(
            &with_rule(FlpHealthRule {
                template,
                mode: HealthRuleMode::Alert,
                variants: vec![variant(Some(HealthRuleMode::Recording))],
            }),
            &known(),
        );
        assert_error(
            &report,
            &format!("{VARIANT0}.mode"),
            &format!("{} is an alert-only template", template.as_str()),
        );

        // Recording set on the rule.
        let report = validate(
            &with_rule(FlpHealthRule {
                template,
                mode: HealthRuleMode::Recording,
                variants: vec![variant(None)],
            }),
            &known(),
        );
        assert_error(
            &report,
            "spec.processor.metrics.healthRules[0].mode",
            &format!("{} is an alert-only template", template.as_str()),
        );
        assert_eq!(report.errors.len(), 1, "{report:#?}");

        // Alert mode is what these templates are.
        for mode in [None, Some(HealthRuleMode::Alert)] {
            let report = validate(
                &with_rule(FlpHealthRule {
                    template,
                    mode: HealthRuleMode::Alert,
                    variants: vec![variant(mode)],
                }),
                &known(),
            );
            assert_no_issue(&report, &format!("{VARIANT0}.mode"), "");
            assert!(report.errors.is_empty(), "{report:#?}");
        }
    }

    // Recording on a template that has a recording form is fine.
    let report = validate(
        &with_rule(FlpHealthRule {
            template: HealthRuleTemplate::PacketDropsByDevice,
            mode: HealthRuleMode::Recording,
            variants: vec![variant(Some(HealthRuleMode::Recording))],
        }),
        &known(),
    );
    assert_no_issue(&report, &format!("{VARIANT0}.mode"), "");
    assert_clean(&report);
}

// ---------------------------------------------------------------------------------------------
// Errors: processor service TLS
// ---------------------------------------------------------------------------------------------

const PROVIDED: &str = "spec.processor.service.providedCertificates";

fn provided_tls(certs: Option<Value>) -> Value {
    let mut service = json!({"tlsType": "Provided"});
    if let Some(certs) = certs {
        service["providedCertificates"] = certs;
    }
    json!({"deploymentModel": "Service", "processor": {"service": service}})
}

fn ca_file() -> Value {
    json!({"type": "configmap", "name": "flp-ca", "file": "ca.crt"})
}

fn server_cert() -> Value {
    json!({"type": "secret", "name": "flp-cert", "certFile": "tls.crt", "certKey": "tls.key"})
}

#[test]
fn service_tls_provided_without_provided_certificates_is_an_error() {
    let report = check(provided_tls(None));
    assert_error(
        &report,
        PROVIDED,
        "required when spec.processor.service.tlsType is Provided",
    );

    let report = check(provided_tls(Some(
        json!({"caFile": ca_file(), "serverCert": server_cert()}),
    )));
    assert_no_issue(&report, PROVIDED, "");
    assert_clean(&report);

    // Other TLS types need no certificates.
    for tls_type in ["Disabled", "Auto", "Auto-mTLS"] {
        let report = check(json!({"processor": {"service": {"tlsType": tls_type}}}));
        assert_no_issue(&report, PROVIDED, "");
        assert_clean(&report);
    }
}

#[test]
fn service_tls_provided_without_ca_file_is_an_error() {
    let report = check(provided_tls(Some(json!({"serverCert": server_cert()}))));
    assert_error(&report, &format!("{PROVIDED}.caFile"), "required when");
    assert_no_issue(&report, &format!("{PROVIDED}.serverCert"), "");
    assert_eq!(report.errors.len(), 1, "{report:#?}");

    let report = check(provided_tls(Some(json!({}))));
    assert_error(&report, &format!("{PROVIDED}.caFile"), "required when");
    assert_error(&report, &format!("{PROVIDED}.serverCert"), "required when");
}

#[test]
fn service_tls_provided_without_server_cert_is_an_error() {
    let report = check(provided_tls(Some(json!({"caFile": ca_file()}))));
    assert_error(&report, &format!("{PROVIDED}.serverCert"), "required when");
    assert_no_issue(&report, &format!("{PROVIDED}.caFile"), "");
    assert_eq!(report.errors.len(), 1, "{report:#?}");

    let report = check(provided_tls(Some(
        json!({"caFile": ca_file(), "serverCert": server_cert(), "clientCert": server_cert()}),
    )));
    assert_clean(&report);
}

#[test]
fn service_tls_is_only_checked_in_service_model() {
    for model in ["Direct", "Kafka"] {
        let mut spec = provided_tls(None);
        spec["deploymentModel"] = json!(model);
        spec["kafka"] = json!({"address": "kafka:9092", "topic": "flows"});
        let report = check(spec);
        assert_no_issue(&report, PROVIDED, "");
        assert!(report.errors.is_empty(), "{model}: {report:#?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Warnings: cluster facts
// ---------------------------------------------------------------------------------------------

#[test]
fn direct_model_with_15_or_more_nodes_warns() {
    let direct = fc(json!({"deploymentModel": "Direct"}));
    for n in [15, 16, 500] {
        let report = validate(&direct, &with_nodes(Some(n)));
        assert_warning(
            &report,
            "spec.deploymentModel",
            &format!("with {n} nodes (>= 15)"),
        );
        assert!(report.errors.is_empty(), "{report:#?}");
    }
    for n in [1, 14] {
        let report = validate(&direct, &with_nodes(Some(n)));
        assert_no_issue(&report, "spec.deploymentModel", "");
        assert_clean(&report);
    }
    // Other models do not care about the node count.
    for model in ["Service", "Kafka"] {
        let report = validate(
            &fc(
                json!({"deploymentModel": model, "kafka": {"address": "kafka:9092", "topic": "flows"}}),
            ),
            &with_nodes(Some(100)),
        );
        assert_clean(&report);
    }
}

#[test]
fn direct_model_with_unknown_node_count_warns() {
    let report = validate(&fc(json!({"deploymentModel": "Direct"})), &with_nodes(None));
    assert_warning(&report, "spec.deploymentModel", "node count is not known");
    assert_warning(&report, "spec.deploymentModel", "unknown environment");

    let report = validate(
        &fc(json!({"deploymentModel": "Direct"})),
        &with_nodes(Some(3)),
    );
    assert_no_issue(&report, "spec.deploymentModel", "");
}

#[test]
fn network_policy_enabled_on_openshift_sdn_warns() {
    let facts = with_cni(Some(Cni::OpenShiftSdn));
    let report = validate(&fc(json!({"networkPolicy": {"enable": true}})), &facts);
    assert_warning(&report, "spec.networkPolicy.enable", "OpenShiftSDN");
    assert_warning(&report, "spec.networkPolicy.enable", "ignored");

    for spec in [json!({"networkPolicy": {"enable": false}}), json!({})] {
        let report = validate(&fc(spec), &facts);
        assert_no_issue(&report, "spec.networkPolicy.enable", "");
        assert_clean(&report);
    }
    // On OVN-Kubernetes, enabling them is the tested setup.
    let report = check(json!({"networkPolicy": {"enable": true}}));
    assert_clean(&report);
}

#[test]
fn network_policy_enabled_on_unknown_cni_warns() {
    for cni in [Cni::Unknown, Cni::Other("calico".to_string())] {
        let facts = with_cni(Some(cni));
        let report = validate(&fc(json!({"networkPolicy": {"enable": true}})), &facts);
        assert_warning(&report, "spec.networkPolicy.enable", "unrecognised CNI");

        for spec in [json!({"networkPolicy": {"enable": false}}), json!({})] {
            let report = validate(&fc(spec), &facts);
            assert_no_issue(&report, "spec.networkPolicy.enable", "");
            assert_clean(&report);
        }
    }
}

#[test]
fn undetected_cni_warns() {
    for spec in [json!({}), json!({"networkPolicy": {"enable": true}})] {
        let report = validate(&fc(spec), &with_cni(None));
        assert_warning(
            &report,
            "spec.networkPolicy.enable",
            "CNI could not be detected",
        );
        assert!(report.errors.is_empty(), "{report:#?}");
    }
    let report = validate(&fc(json!({})), &with_cni(Some(Cni::Kindnet)));
    assert_no_issue(&report, "spec.networkPolicy.enable", "");
    assert_clean(&report);
}

const FEATURE_MINIMUMS: [(AgentFeature, OpenShiftVersion); 4] = [
    (AgentFeature::PacketDrop, OpenShiftVersion::new(4, 14, 0)),
    (AgentFeature::UdnMapping, OpenShiftVersion::new(4, 18, 0)),
    (AgentFeature::NetworkEvents, OpenShiftVersion::new(4, 19, 0)),
    (AgentFeature::EbpfManager, OpenShiftVersion::new(4, 19, 0)),
];

/// A privileged agent with one feature, so that only the version check can warn.
fn privileged_with(feature: AgentFeature) -> FlowCollector {
    fc(json!({"agent": {"ebpf": {"privileged": true, "features": [feature]}}}))
}

#[test]
fn feature_below_minimum_openshift_version_warns() {
    for (feature, min) in FEATURE_MINIMUMS {
        let name = feature_name(feature);
        let report = validate(&privileged_with(feature), &openshift(4, 13, 0));
        assert_warning(
            &report,
            "spec.agent.ebpf.features",
            &format!("the {name} feature needs OpenShift {min} or later; this cluster runs 4.13.0"),
        );
        if feature != AgentFeature::EbpfManager {
            assert!(report.errors.is_empty(), "{report:#?}");
        }

        // Just below the minimum still warns; the minimum itself does not.
        let below = if min.minor == 14 {
            openshift(4, 13, 99)
        } else {
            openshift(4, min.minor - 1, 12)
        };
        let report = validate(&privileged_with(feature), &below);
        assert_warning(
            &report,
            "spec.agent.ebpf.features",
            &format!("the {name} feature needs OpenShift"),
        );
        let report = validate(&privileged_with(feature), &openshift(4, min.minor, 0));
        assert_no_issue(&report, "spec.agent.ebpf.features", "needs OpenShift");

        let report = validate(&privileged_with(feature), &openshift(4, 19, 0));
        assert_no_issue(&report, "spec.agent.ebpf.features", "needs OpenShift");
        // EbpfManager is refused (tested below).
        if !matches!(feature, AgentFeature::EbpfManager) {
            assert_clean(&report);
        }
    }
    // Features without a minimum never warn about versions.
    let report = validate(
        &fc(
            json!({"agent": {"ebpf": {"features": ["DNSTracking", "FlowRTT", "PacketTranslation", "IPSec", "TLSTracking"]}}}),
        ),
        &openshift(4, 10, 0),
    );
    assert_no_issue(&report, "spec.agent.ebpf.features", "needs OpenShift");
}

#[test]
fn feature_versions_are_not_checked_on_plain_kubernetes() {
    let facts = ClusterFacts {
        platform: Platform::Kubernetes,
        ..known()
    };
    for (feature, _) in FEATURE_MINIMUMS {
        let report = validate(&privileged_with(feature), &facts);
        assert_no_issue(&report, "spec.agent.ebpf.features", "needs OpenShift");
        assert_no_issue(&report, "spec.agent.ebpf.features", "unknown environment");
    }
}

#[test]
fn unknown_platform_warns_unknown_environment() {
    let facts = ClusterFacts {
        platform: Platform::Unknown,
        ..known()
    };
    for (feature, _) in FEATURE_MINIMUMS {
        let name = feature_name(feature);
        let report = validate(&privileged_with(feature), &facts);
        assert_warning(
            &report,
            "spec.agent.ebpf.features",
            &format!("unknown environment: cannot tell whether the {name} feature is supported"),
        );
        if feature != AgentFeature::EbpfManager {
            assert!(report.errors.is_empty(), "{report:#?}");
        }
    }
    // OpenShift whose version could not be read.
    let facts = ClusterFacts {
        platform: Platform::OpenShift(None),
        ..known()
    };
    let report = validate(&privileged_with(AgentFeature::PacketDrop), &facts);
    assert_warning(
        &report,
        "spec.agent.ebpf.features",
        "the OpenShift version could not be read",
    );
    // Known OpenShift version: no such warning.
    let report = validate(&privileged_with(AgentFeature::PacketDrop), &known());
    assert_no_issue(&report, "spec.agent.ebpf.features", "");
    assert_clean(&report);
}

// ---------------------------------------------------------------------------------------------
// Warnings: privileges
// ---------------------------------------------------------------------------------------------

const PRIVILEGED: &str = "spec.agent.ebpf.privileged";

#[test]
fn udn_mapping_or_network_events_without_privileged_warns() {
    for feature in ["UDNMapping", "NetworkEvents"] {
        let report = check(json!({"agent": {"ebpf": {"features": [feature]}}}));
        assert_warning(
            &report,
            PRIVILEGED,
            &format!("the {feature} feature needs the eBPF agent to run privileged"),
        );
        assert!(report.errors.is_empty(), "{report:#?}");

        let report = check(json!({"agent": {"ebpf": {"privileged": true, "features": [feature]}}}));
        assert_no_issue(&report, PRIVILEGED, "");
        if feature == "NetworkEvents" {
            assert_clean(&report);
        }
    }
    // EbpfManager does not stand in for privileged here.
    let report = check(json!({"agent": {"ebpf": {"features": ["UDNMapping", "EbpfManager"]}}}));
    assert_warning(&report, PRIVILEGED, "the UDNMapping feature needs");
}

#[test]
fn packet_drop_without_privileged_or_ebpf_manager_warns() {
    let report = check(json!({"agent": {"ebpf": {"features": ["PacketDrop"]}}}));
    assert_warning(
        &report,
        PRIVILEGED,
        "the PacketDrop feature needs the eBPF agent to run privileged (or the EbpfManager feature)",
    );
    assert!(report.errors.is_empty(), "{report:#?}");

    let report =
        check(json!({"agent": {"ebpf": {"privileged": true, "features": ["PacketDrop"]}}}));
    assert_clean(&report);
    // EbpfManager would stand in for privileged, but is refused itself.
    let report = check(json!({"agent": {"ebpf": {"features": ["PacketDrop", "EbpfManager"]}}}));
    assert_no_issue(&report, PRIVILEGED, "");
    assert_eq!(
        errors_at(&report, "spec.agent.ebpf.features"),
        1,
        "{report:#?}"
    );
}

/// EbpfManager cannot work with this agent (it loads its own programs; no bpfman runs here to
/// test against), so it is refused with what to do; every other feature the CRD accepts is
/// implemented and applies cleanly.
#[test]
fn ebpf_manager_is_refused_and_other_features_apply() {
    let report =
        check(json!({"agent": {"ebpf": {"privileged": true, "features": ["EbpfManager"]}}}));
    assert_eq!(
        errors_at(&report, "spec.agent.ebpf.features"),
        1,
        "{report:#?}"
    );
    assert!(
        report
            .error_message()
            .contains("remove EbpfManager from spec.agent.ebpf.features"),
        "{report:#?}"
    );
    let report = check(
        json!({"agent": {"ebpf": {"privileged": true, "features": ["PacketDrop", "DNSTracking", "FlowRTT", "NetworkEvents", "PacketTranslation", "TLSTracking", "IPSec", "UDNMapping"]}}}),
    );
    assert_clean(&report);
}

// ---------------------------------------------------------------------------------------------
// Warnings: scheduling, log levels, demo Loki
// ---------------------------------------------------------------------------------------------

#[test]
fn direct_model_with_different_agent_and_processor_scheduling_warns() {
    let path = "spec.processor.advanced.scheduling";
    let infra = json!({"nodeSelector": {"node-role.kubernetes.io/infra": ""}});
    let worker = json!({"nodeSelector": {"node-role.kubernetes.io/worker": ""}});
    let spec = |model: &str, agent: Option<&Value>, processor: Option<&Value>| {
        let mut spec =
            json!({"deploymentModel": model, "kafka": {"address": "kafka:9092", "topic": "flows"}});
        if let Some(agent) = agent {
            spec["agent"] = json!({"ebpf": {"advanced": {"scheduling": agent}}});
        }
        if let Some(processor) = processor {
            spec["processor"] = json!({"advanced": {"scheduling": processor}});
        }
        spec
    };

    for (agent, processor) in [
        (Some(&infra), Some(&worker)),
        (Some(&infra), None),
        (None, Some(&worker)),
    ] {
        let report = check(spec("Direct", agent, processor));
        assert_warning(
            &report,
            path,
            "differs from spec.agent.ebpf.advanced.scheduling",
        );
        assert!(report.errors.is_empty(), "{report:#?}");
    }

    for (agent, processor) in [(Some(&infra), Some(&infra)), (None, None)] {
        let report = check(spec("Direct", agent, processor));
        assert_no_issue(&report, path, "");
        assert_clean(&report);
    }
    // Only Direct ties agents to processors.
    for model in ["Service", "Kafka"] {
        let report = check(spec(model, Some(&infra), Some(&worker)));
        assert_no_issue(&report, path, "");
        assert_clean(&report);
    }
}

#[test]
fn debug_or_trace_log_levels_warn() {
    for level in ["debug", "trace"] {
        let report = check(json!({"agent": {"ebpf": {"logLevel": level}}}));
        assert_warning(
            &report,
            "spec.agent.ebpf.logLevel",
            &format!("the eBPF agent logs at {level} level"),
        );
        assert!(report.errors.is_empty(), "{report:#?}");
        assert_eq!(report.warnings.len(), 1, "{report:#?}");

        let report = check(json!({"processor": {"logLevel": level}}));
        assert_warning(
            &report,
            "spec.processor.logLevel",
            &format!("the processor logs at {level} level"),
        );
        assert_eq!(report.warnings.len(), 1, "{report:#?}");
    }
    for level in ["info", "warn", "error", "fatal", "panic"] {
        let report = check(json!({
            "agent": {"ebpf": {"logLevel": level}},
            "processor": {"logLevel": level},
        }));
        assert_no_issue(&report, "spec.agent.ebpf.logLevel", "");
        assert_no_issue(&report, "spec.processor.logLevel", "");
        assert_clean(&report);
    }
}

#[test]
fn install_demo_loki_warns() {
    let path = "spec.loki.monolithic.installDemoLoki";
    let report =
        check(json!({"loki": {"mode": "Monolithic", "monolithic": {"installDemoLoki": true}}}));
    assert_warning(&report, path, "no persistence");
    assert!(report.errors.is_empty(), "{report:#?}");

    for spec in [
        json!({"loki": {"mode": "Monolithic", "monolithic": {"installDemoLoki": false}}}),
        // Not used when Loki is off or in another mode.
        json!({"loki": {"enable": false, "monolithic": {"installDemoLoki": true}}}),
        json!({"loki": {"mode": "LokiStack", "monolithic": {"installDemoLoki": true}}}),
    ] {
        let report = check(spec);
        assert_no_issue(&report, path, "");
        assert_clean(&report);
    }
}

// ---------------------------------------------------------------------------------------------
// Warnings: health rules vs features and metrics, include lists, name
// ---------------------------------------------------------------------------------------------

#[test]
fn health_rule_whose_feature_is_off_warns() {
    let rules = [
        ("LatencyHighTrend", "FlowRTT", "Namespace"),
        ("DNSErrors", "DNSTracking", "Namespace"),
        ("DNSNxDomain", "DNSTracking", "Namespace"),
        ("IPsecErrors", "IPSec", "Node"),
        ("NetpolDenied", "NetworkEvents", "Namespace"),
        ("PacketDropsByKernel", "PacketDrop", "Namespace"),
    ];
    for (template, feature, group_by) in rules {
        let rule = json!({"template": template, "variants": [
            {"groupBy": group_by, "thresholds": {"info": "100"}},
        ]});
        let report = check(health_rule(rule.clone(), &[]));
        assert_warning(
            &report,
            "spec.processor.metrics.healthRules[0]",
            &format!("health rule {template} needs the {feature} agent feature, which is off"),
        );
        assert!(report.errors.is_empty(), "{report:#?}");

        let report = validate(
            &fc(json!({
                "agent": {"ebpf": {"privileged": true, "features": [feature]}},
                "processor": {"metrics": {"healthRules": [rule]}},
            })),
            &known(),
        );
        assert_no_issue(&report, "spec.processor.metrics.healthRules[0]", "");
        assert!(report.errors.is_empty(), "{report:#?}");
    }
    let report = check(health_rule(
        json!({"template": "LatencyHighTrend", "variants": [{"groupBy": "Namespace", "thresholds": {"info": "100"}}]}),
        &["FlowRTT"],
    ));
    assert_clean(&report);
}

#[test]
fn health_rule_whose_metrics_are_missing_from_include_list_warns() {
    let path = "spec.processor.metrics.includeList";
    let dns_rule = json!({"template": "DNSErrors", "variants": [
        {"groupBy": "Namespace", "thresholds": {"warning": "10"}},
    ]});
    let base_list = json!([
        "node_ingress_bytes_total",
        "node_egress_bytes_total",
        "node_ingress_packets_total",
        "workload_ingress_bytes_total",
        "workload_egress_bytes_total",
        "namespace_flows_total",
    ]);
    let spec = |list: Value| {
        json!({
            "agent": {"ebpf": {"features": ["DNSTracking"]}},
            "processor": {"metrics": {"includeList": list, "healthRules": [dns_rule]}},
        })
    };

    let report = check(spec(base_list.clone()));
    assert_warning(
        &report,
        path,
        "health rule DNSErrors/Namespace needs at least one of these metrics: namespace_dns_latency_seconds, workload_dns_latency_seconds",
    );
    // The default DNSNxDomain rule is installed too and lacks its metric the same way.
    assert_warning(&report, path, "health rule DNSNxDomain/Namespace needs");
    assert!(report.errors.is_empty(), "{report:#?}");

    // Any metric of the choice will do.
    for dns_metric in [
        "namespace_dns_latency_seconds",
        "workload_dns_latency_seconds",
    ] {
        let mut list = base_list.clone();
        list.as_array_mut().unwrap().push(json!(dns_metric));
        let report = check(spec(list));
        assert_no_issue(&report, path, "DNSErrors");
        assert_no_issue(&report, path, "DNSNxDomain");
        assert_clean(&report);
    }
    // A node metric does not serve a namespace grouping.
    let mut list = base_list.clone();
    list.as_array_mut()
        .unwrap()
        .push(json!("node_dns_latency_seconds"));
    let report = check(spec(list));
    assert_warning(&report, path, "health rule DNSErrors/Namespace needs");

    // The default list has the DNS metric.
    let report = check(json!({
        "agent": {"ebpf": {"features": ["DNSTracking"]}},
        "processor": {"metrics": {"healthRules": [dns_rule]}},
    }));
    assert_no_issue(&report, path, "");
    assert_clean(&report);

    // A metric listed but filtered out by its feature does not count: NetpolDenied is only
    // installed with NetworkEvents, so use LatencyHighTrend, whose metric needs FlowRTT.
    let report = check(json!({
        "agent": {"ebpf": {"features": ["FlowRTT"]}},
        "processor": {"metrics": {"includeList": ["namespace_rtt_seconds", "node_egress_bytes_total",
            "namespace_egress_bytes_total", "node_ingress_bytes_total", "namespace_ingress_bytes_total"]}},
    }));
    assert_no_issue(&report, path, "LatencyHighTrend");
    assert_clean(&report);
}

#[test]
fn include_list_and_additional_include_list_together_warn() {
    let path = "spec.processor.metrics.additionalIncludeList";
    let report = check(json!({"processor": {"metrics": {
        "includeList": ["node_ingress_bytes_total", "node_egress_bytes_total", "namespace_egress_bytes_total", "namespace_ingress_bytes_total"],
        "additionalIncludeList": ["node_flows_total"],
    }}}));
    assert_warning(
        &report,
        path,
        "ignored because spec.processor.metrics.includeList is set",
    );
    assert!(report.errors.is_empty(), "{report:#?}");

    for metrics in [
        json!({"includeList": ["node_ingress_bytes_total", "node_egress_bytes_total", "namespace_egress_bytes_total", "namespace_ingress_bytes_total"]}),
        json!({"additionalIncludeList": ["node_flows_total"]}),
    ] {
        let report = check(json!({"processor": {"metrics": metrics}}));
        assert_no_issue(&report, path, "");
        assert_clean(&report);
    }
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

// ---------------------------------------------------------------------------------------------
// Report plumbing
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// OpenShift version parsing
// ---------------------------------------------------------------------------------------------

#[test]
fn openshift_version_parsing() {
    let good = [
        ("4.19.3", (4, 19, 3)),
        ("4.19", (4, 19, 0)),
        ("4", (4, 0, 0)),
        ("v4.14.0-rc.1", (4, 14, 0)),
        ("4.18.0+build.5", (4, 18, 0)),
        (" 4.20.1 ", (4, 20, 1)),
        ("4.16.0-0.nightly-2024-05-01-111315", (4, 16, 0)),
    ];
    for (input, (major, minor, patch)) in good {
        let parsed: OpenShiftVersion = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            parsed,
            OpenShiftVersion::new(major, minor, patch),
            "{input}"
        );
    }
    for bad in [
        "", "v", "four.19", "4.x", "4..1", "4.19.3.1", "4.-1", "-rc.1", "4.19.a",
    ] {
        let err = bad.parse::<OpenShiftVersion>();
        assert!(err.is_err(), "{bad:?} must not parse, got {err:?}");
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("is not an OpenShift version"),
            "{bad:?}"
        );
    }
    // Ordering is numeric, not lexical.
    assert!(OpenShiftVersion::new(4, 9, 0) < OpenShiftVersion::new(4, 10, 0));
    assert!(OpenShiftVersion::new(4, 19, 0) < OpenShiftVersion::new(4, 19, 1));
    assert_eq!(OpenShiftVersion::new(4, 19, 2).to_string(), "4.19.2");
}

// ---------------------------------------------------------------------------------------------
// Effective include list (§1.5)
// ---------------------------------------------------------------------------------------------

fn include_list(spec: Value) -> Vec<FlpMetric> {
    fc(spec).spec.effective_include_list()
}

fn names(list: &[FlpMetric]) -> Vec<&'static str> {
    list.iter().map(|m| m.as_str()).collect()
}

/// Every metric, so that only feature filtering removes any.
fn all_metrics() -> Value {
    json!(FlpMetric::ALL)
}

fn with_all(features: &[&str]) -> Vec<FlpMetric> {
    include_list(json!({
        "agent": {"ebpf": {"features": features}},
        "processor": {"metrics": {"includeList": all_metrics()}},
    }))
}

fn containing(list: &[FlpMetric], pattern: &str) -> Vec<&'static str> {
    names(list)
        .into_iter()
        .filter(|n| n.contains(pattern))
        .collect()
}

#[test]
fn include_list_default_with_loki_and_no_features() {
    use FlpMetric as M;
    assert_eq!(
        include_list(json!({})),
        vec![
            M::NodeIngressBytesTotal,
            M::NodeEgressBytesTotal,
            M::NodeIngressPacketsTotal,
            M::WorkloadIngressBytesTotal,
            M::WorkloadEgressBytesTotal,
            M::NamespaceFlowsTotal,
            M::NamespaceIngressPacketsTotal,
            M::NodeToNodeIngressFlowsTotal,
        ]
    );
}

#[test]
fn include_list_default_without_loki_is_larger_and_workload_grained() {
    use FlpMetric as M;
    let everything = json!({
        "loki": {"enable": false},
        "agent": {"ebpf": {"features": ["PacketDrop", "FlowRTT", "DNSTracking", "NetworkEvents", "IPSec"]}},
        "processor": {"filters": [{"query": "Proto=6", "sampling": 10}]},
    });
    let loki_off = include_list(everything.clone());
    assert_eq!(loki_off, default_include_list(false));
    let mut loki_on_spec = everything;
    loki_on_spec["loki"] = json!({"enable": true});
    let loki_on = include_list(loki_on_spec);
    assert_eq!(loki_on, default_include_list(true));
    assert!(loki_off.len() > loki_on.len());
    for m in [
        M::WorkloadIngressPacketsTotal,
        M::WorkloadEgressPacketsTotal,
        M::WorkloadFlowsTotal,
        M::WorkloadDropPacketsTotal,
        M::WorkloadRttSeconds,
        M::WorkloadDnsLatencySeconds,
    ] {
        assert!(loki_off.contains(&m), "{m} missing without Loki");
        assert!(!loki_on.contains(&m), "{m} is not in the Loki default list");
    }

    // Without features, the Loki-off list is still filtered.
    let bare = include_list(json!({"loki": {"enable": false}}));
    assert_eq!(
        names(&bare),
        vec![
            "node_ingress_bytes_total",
            "node_egress_bytes_total",
            "node_ingress_packets_total",
            "workload_ingress_bytes_total",
            "workload_egress_bytes_total",
            "workload_ingress_packets_total",
            "workload_egress_packets_total",
            "workload_flows_total",
            "node_to_node_ingress_flows_total",
        ]
    );
}

#[test]
fn include_list_drop_metrics_need_packet_drop_or_network_events() {
    assert!(containing(&with_all(&[]), "_drop_").is_empty());
    assert!(containing(&with_all(&["FlowRTT", "DNSTracking", "IPSec"]), "_drop_").is_empty());
    for features in [&["PacketDrop"][..], &["NetworkEvents"][..]] {
        assert_eq!(
            containing(&with_all(features), "_drop_").len(),
            6,
            "{features:?}"
        );
    }
}

#[test]
fn include_list_rtt_metrics_need_flow_rtt() {
    assert!(containing(&with_all(&["PacketDrop", "DNSTracking"]), "_rtt_").is_empty());
    assert_eq!(
        containing(&with_all(&["FlowRTT"]), "_rtt_"),
        vec![
            "namespace_rtt_seconds",
            "node_rtt_seconds",
            "workload_rtt_seconds"
        ]
    );
}

#[test]
fn include_list_dns_metrics_need_dns_tracking() {
    assert!(containing(&with_all(&["FlowRTT"]), "_dns_").is_empty());
    assert_eq!(containing(&with_all(&["DNSTracking"]), "_dns_").len(), 3);
}

#[test]
fn include_list_network_policy_metrics_need_network_events() {
    assert!(containing(&with_all(&["PacketDrop"]), "_network_policy_").is_empty());
    assert_eq!(
        containing(&with_all(&["NetworkEvents"]), "_network_policy_").len(),
        3
    );
}

#[test]
fn include_list_ipsec_metrics_need_ipsec() {
    assert!(containing(&with_all(&["PacketDrop"]), "_ipsec_").is_empty());
    assert_eq!(
        containing(&with_all(&["IPSec"]), "_ipsec_"),
        vec![
            "node_ipsec_flows_total",
            "namespace_ipsec_flows_total",
            "workload_ipsec_flows_total"
        ]
    );
}

#[test]
fn include_list_workload_sampling_needs_a_filter_that_samples() {
    let sampling = |spec: Value| include_list(spec).contains(&FlpMetric::WorkloadSampling);
    // Default list includes it only when some filter samples more than 1.
    assert!(!sampling(json!({})));
    assert!(!sampling(
        json!({"processor": {"filters": [{"query": "Proto=6", "sampling": 1}]}})
    ));
    assert!(sampling(
        json!({"processor": {"filters": [{"query": "Proto=6", "sampling": 2}]}})
    ));
    assert!(!sampling(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true, "rules": [{"cidr": "10.0.0.0/8", "sampling": 1}],
    }}}})));
    assert!(sampling(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true, "rules": [{"cidr": "0.0.0.0/0"}, {"cidr": "10.0.0.0/8", "sampling": 10}],
    }}}})));
    assert!(sampling(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true, "cidr": "10.0.0.0/8", "sampling": 10,
    }}}})));
    // Same with an explicit includeList.
    assert!(!with_all(&[]).contains(&FlpMetric::WorkloadSampling));
}

#[test]
fn include_list_metrics_without_a_feature_are_always_kept() {
    let kept = with_all(&[]);
    let expected: Vec<FlpMetric> = FlpMetric::ALL
        .iter()
        .copied()
        .filter(|m| {
            let n = m.as_str();
            ![
                "_drop_",
                "_rtt_",
                "_dns_",
                "_network_policy_",
                "_ipsec_",
                "_sampling",
            ]
            .iter()
            .any(|p| n.contains(p))
        })
        .collect();
    assert_eq!(kept, expected);
    assert!(kept.contains(&FlpMetric::NodeToNodeIngressFlowsTotal));

    // Everything on: nothing is removed.
    let everything = include_list(json!({
        "agent": {"ebpf": {"features": ["PacketDrop", "FlowRTT", "DNSTracking", "NetworkEvents", "IPSec"]}},
        "processor": {"filters": [{"query": "Proto=6", "sampling": 3}], "metrics": {"includeList": all_metrics()}},
    }));
    assert_eq!(everything, FlpMetric::ALL.to_vec());
}

#[test]
fn include_list_additional_metrics_extend_the_default_unless_include_list_is_set() {
    let list = include_list(json!({"processor": {"metrics": {
        "additionalIncludeList": ["node_flows_total", "node_ingress_bytes_total", "node_rtt_seconds"],
    }}}));
    let mut expected = include_list(json!({}));
    expected.push(FlpMetric::NodeFlowsTotal);
    // node_ingress_bytes_total is already there; node_rtt_seconds needs FlowRTT.
    assert_eq!(list, expected);

    let list = include_list(json!({"processor": {"metrics": {
        "includeList": ["namespace_flows_total"],
        "additionalIncludeList": ["node_flows_total"],
    }}}));
    assert_eq!(list, vec![FlpMetric::NamespaceFlowsTotal]);
}

// ---------------------------------------------------------------------------------------------
// Kafka settings that the schema's `""` defaults let through
// ---------------------------------------------------------------------------------------------

#[test]
fn kafka_model_needs_an_address_and_a_topic() {
    let report = check(json!({"deploymentModel": "Kafka"}));
    assert_error(&report, "spec.kafka.address", "deploymentModel Kafka");
    assert_error(&report, "spec.kafka.topic", "deploymentModel Kafka");
    let report =
        check(json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": ""}}));
    assert_eq!(errors_at(&report, "spec.kafka.address"), 0);
    assert_error(&report, "spec.kafka.topic", "existing topic");
    assert_clean(&check(
        json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}}),
    ));
    // The same empty block is fine when Kafka is not used.
    assert_clean(&check(json!({"deploymentModel": "Service"})));
}

#[test]
fn kafka_exporters_need_an_address_and_a_topic() {
    let report = check(json!({"exporters": [
        {"type": "IPFIX", "ipfix": {"targetHost": "ipfix", "targetPort": 4739}},
        {"type": "Kafka", "kafka": {"address": "", "topic": "t"}},
        {"type": "Kafka"}
    ]}));
    assert_error(&report, "spec.exporters[1].kafka.address", "Kafka exporter");
    assert_eq!(errors_at(&report, "spec.exporters[1].kafka.topic"), 0);
    assert_error(&report, "spec.exporters[2].kafka", "type Kafka");
}
