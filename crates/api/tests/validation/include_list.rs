//! The effective metric include list (reference §1.5 feature filtering), and the warning when
//! `includeList` and `additionalIncludeList` are both set.

use crate::support::{assert_clean, assert_no_issue, assert_warning, check, fc};
use netobserv_api::v1beta2::{FlpMetric, default_include_list};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

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

/// The effective include list of `spec`.
fn include_list(spec: Value) -> Vec<FlpMetric> {
    fc(spec).spec.effective_include_list()
}

/// Metric names, for readable comparisons.
fn names(list: &[FlpMetric]) -> Vec<&'static str> {
    list.iter().map(|m| m.as_str()).collect()
}

/// Every metric, so that only feature filtering removes any.
fn all_metrics() -> Value {
    json!(FlpMetric::ALL)
}

/// The include list of every metric, filtered by these agent features.
fn with_all(features: &[&str]) -> Vec<FlpMetric> {
    include_list(json!({
        "agent": {"ebpf": {"features": features}},
        "processor": {"metrics": {"includeList": all_metrics()}},
    }))
}

/// Names in `list` that contain `pattern`.
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
