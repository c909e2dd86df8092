//! Health rules: errors in their configuration (grouping, thresholds, mode) and warnings when
//! the agent features or metrics they need are missing.

use crate::support::{
    assert_clean, assert_error, assert_no_issue, assert_warning, check, fc, known,
};
use netobserv_api::v1beta2::{
    FlowCollector, FlpHealthRule, HealthRuleGroupBy, HealthRuleMode, HealthRuleTemplate,
    HealthRuleThresholds, HealthRuleVariant,
};
use netobserv_api::validate::validate;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

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

// ---------------------------------------------------------------------------------------------
// Errors
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

/// A variant with a warning threshold and the given mode, for the alert-only checks.
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
// Warnings: features and metrics the rules need
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
