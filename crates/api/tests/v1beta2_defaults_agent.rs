//! Defaults of the top-level FlowCollector spec, `spec.agent` and FlowMetric, as an empty (or
//! minimal) manifest deserialises, plus serde round trips.
#![allow(clippy::unwrap_used)]

use kube::CustomResourceExt;
use netobserv_api::v1alpha1::{
    Chart, ChartUnit, FlowDirection, FlowMetric, FlowMetricSpec, MatchType, MetricType,
};
use netobserv_api::v1beta2::{
    AgentFeature, AgentType, DeploymentModel, EbpfFilterAction, EbpfTcpFlags, ExecutionMode,
    FlowCollector, FlowCollectorSpec, ImagePullPolicy, LogLevel,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn empty_spec() -> FlowCollectorSpec {
    serde_json::from_value(json!({})).unwrap()
}

#[test]
fn empty_spec_yields_documented_defaults() {
    let spec = empty_spec();
    let ebpf = &spec.agent.ebpf;
    let checks: Vec<(&str, Value, Value)> = vec![
        ("namespace", json!(spec.namespace), json!("netobserv")),
        (
            "deploymentModel",
            json!(spec.deployment_model),
            json!("Service"),
        ),
        ("agent.type", json!(spec.agent.kind), json!("eBPF")),
        (
            "execution.mode",
            json!(spec.execution.mode),
            json!("Running"),
        ),
        (
            "ebpf.imagePullPolicy",
            json!(ebpf.image_pull_policy),
            json!("IfNotPresent"),
        ),
        ("ebpf.sampling", json!(ebpf.sampling), json!(50)),
        (
            "ebpf.cacheActiveTimeout",
            json!(ebpf.cache_active_timeout),
            json!("15s"),
        ),
        (
            "ebpf.cacheMaxFlows",
            json!(ebpf.cache_max_flows),
            json!(120_000),
        ),
        (
            "ebpf.excludeInterfaces",
            json!(ebpf.exclude_interfaces),
            json!(["lo"]),
        ),
        ("ebpf.interfaces", json!(ebpf.interfaces), json!([])),
        ("ebpf.logLevel", json!(ebpf.log_level), json!("info")),
        ("ebpf.privileged", json!(ebpf.privileged), json!(false)),
        (
            "ebpf.kafkaBatchSize",
            json!(ebpf.kafka_batch_size),
            json!(1_048_576),
        ),
        (
            "ebpf.resources",
            json!(ebpf.resources),
            json!({"requests": {"cpu": "100m", "memory": "50Mi"}, "limits": {"memory": "800Mi"}}),
        ),
        ("ebpf.features", json!(ebpf.features), json!([])),
        (
            "ebpf.metrics.enable",
            json!(ebpf.metrics.enable),
            json!(null),
        ),
        ("ebpf.flowFilter", json!(ebpf.flow_filter), json!(null)),
        (
            "ipfix.sampling",
            json!(spec.agent.ipfix.sampling),
            json!(400),
        ),
        (
            "ipfix.cacheActiveTimeout",
            json!(spec.agent.ipfix.cache_active_timeout),
            json!("20s"),
        ),
        (
            "ipfix.ovnKubernetes.daemonSetName",
            json!(spec.agent.ipfix.ovn_kubernetes.daemon_set_name),
            json!("ovnkube-node"),
        ),
        (
            "networkPolicy.enable",
            json!(spec.network_policy.enable),
            json!(null),
        ),
        ("exporters", json!(spec.exporters), json!([])),
    ];
    for (path, got, want) in checks {
        assert_eq!(got, want, "default of {path}");
    }
    assert_eq!(spec, FlowCollectorSpec::default());
}

#[test]
fn shared_enums_use_upstream_spelling() {
    let cases: Vec<(Value, Value)> = vec![
        (json!(LogLevel::Trace), json!("trace")),
        (json!(LogLevel::Panic), json!("panic")),
        (json!(ImagePullPolicy::Never), json!("Never")),
        (json!(AgentType::Ipfix), json!("IPFIX")),
        (json!(AgentFeature::DnsTracking), json!("DNSTracking")),
        (json!(AgentFeature::FlowRtt), json!("FlowRTT")),
        (json!(AgentFeature::UdnMapping), json!("UDNMapping")),
        (json!(AgentFeature::IpSec), json!("IPSec")),
        (json!(AgentFeature::TlsTracking), json!("TLSTracking")),
        (json!(EbpfTcpFlags::SynAck), json!("SYN-ACK")),
        (json!(EbpfTcpFlags::RstAck), json!("RST-ACK")),
        (json!(ExecutionMode::Unset), json!("")),
        (json!(DeploymentModel::Kafka), json!("Kafka")),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
}

#[test]
fn flow_filter_accepts_inline_rule_and_rules() {
    let spec: FlowCollectorSpec = serde_json::from_value(json!({
        "agent": {"ebpf": {"flowFilter": {
            "enable": true,
            "cidr": "10.0.0.0/8",
            "action": "Reject",
            "ports": "80-100",
            "rules": [
                {"action": "Accept", "cidr": "0.0.0.0/0"},
                {"tcpFlags": "SYN-ACK", "destPorts": 443, "peerIP": "10.1.1.1", "sampling": 1}
            ]
        }}}
    }))
    .unwrap();
    let filter = spec.agent.ebpf.flow_filter.clone().unwrap();
    assert_eq!(filter.enable, Some(true));
    assert_eq!(filter.rule.cidr, "10.0.0.0/8");
    assert_eq!(filter.rule.action, Some(EbpfFilterAction::Reject));
    assert_eq!(filter.rules.len(), 2);
    assert_eq!(filter.rules[1].tcp_flags, Some(EbpfTcpFlags::SynAck));
    assert_eq!(filter.rules[1].peer_ip, "10.1.1.1");
    assert_eq!(filter.rules[1].sampling, Some(1));
    let back = serde_json::to_value(&spec).unwrap();
    assert_eq!(
        back["agent"]["ebpf"]["flowFilter"]["cidr"],
        json!("10.0.0.0/8")
    );
    assert_eq!(
        back["agent"]["ebpf"]["flowFilter"]["ports"],
        json!("80-100")
    );
    assert_eq!(
        back["agent"]["ebpf"]["flowFilter"]["rules"][1]["destPorts"],
        json!(443)
    );
}

#[test]
fn flowcollector_round_trips() {
    let mut fc = FlowCollector::new("cluster", empty_spec());
    fc.spec.deployment_model = DeploymentModel::Kafka;
    fc.spec.agent.ebpf.features = vec![AgentFeature::PacketDrop, AgentFeature::TlsTracking];
    fc.spec.agent.ebpf.exclude_interfaces = Vec::new();
    fc.spec.agent.ebpf.sampling = 1;
    fc.spec.network_policy.enable = Some(false);
    let value = serde_json::to_value(&fc).unwrap();
    assert_eq!(value["apiVersion"], json!("flows.netobserv.io/v1beta2"));
    // An explicit empty list must survive, or it would turn back into the `["lo"]` default.
    assert_eq!(
        value["spec"]["agent"]["ebpf"]["excludeInterfaces"],
        json!([])
    );
    let back: FlowCollector = serde_json::from_value(value).unwrap();
    assert_eq!(back, fc);
    // A full serialisation of the defaults reads back unchanged too.
    let defaults = serde_json::to_value(empty_spec()).unwrap();
    let reread: FlowCollectorSpec = serde_json::from_value(defaults).unwrap();
    assert_eq!(reread, empty_spec());
}

#[test]
fn crds_have_expected_shape() {
    let crd = serde_json::to_value(FlowCollector::crd()).unwrap();
    assert_eq!(crd["spec"]["scope"], json!("Cluster"));
    let version = &crd["spec"]["versions"][0];
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "Agent",
            "Processor",
            "Plugin",
            "Sampling",
            "Deployment Model",
            "Status",
            "Warnings"
        ]
    );
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert_eq!(spec["namespace"]["default"], json!("netobserv"));
    let ebpf = &spec["agent"]["properties"]["ebpf"]["properties"];
    assert_eq!(ebpf["sampling"]["default"], json!(50));
    assert_eq!(ebpf["sampling"]["minimum"].as_f64(), Some(0.0));
    assert_eq!(
        ebpf["cacheActiveTimeout"]["pattern"],
        json!(r"^\d+(ns|ms|s|m)?$")
    );
    assert!(ebpf["interfaces"].get("default").is_none());
    let features = ebpf["features"]["items"]["enum"].as_array().unwrap();
    assert_eq!(features.len(), 9);
    let rules = &ebpf["flowFilter"]["properties"]["rules"];
    assert_eq!(rules["minItems"].as_u64(), Some(1));
    assert_eq!(rules["maxItems"].as_u64(), Some(16));

    let crd = serde_json::to_value(FlowMetric::crd()).unwrap();
    assert_eq!(crd["spec"]["scope"], json!("Namespaced"));
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["required"], json!(["type"]));
    assert!(spec["properties"]["type"].get("default").is_none());
}

#[test]
fn flowmetric_counter_gets_defaults() {
    let spec: FlowMetricSpec = serde_json::from_value(json!({
        "type": "Counter",
        "filters": [{"field": "SrcK8S_Namespace", "value": "foo"}],
        "charts": [{"title": "T", "type": "Line", "queries": [{"promQL": "sum(rate($METRIC[2m]))", "legend": ""}]}]
    }))
    .unwrap();
    assert_eq!(spec.kind, MetricType::Counter);
    assert_eq!(spec.direction, FlowDirection::Any);
    assert_eq!(spec.metric_name, "");
    assert_eq!(spec.filters[0].match_type, MatchType::Equal);
    assert_eq!(spec.charts[0].dashboard_name, "Main");
    assert_eq!(spec.charts[0].unit, ChartUnit::None);
    assert_eq!(spec.charts[0].queries[0].top, 7);
    assert_eq!(Chart::default().dashboard_name, "Main");

    let metric = FlowMetric::new("m", spec.clone());
    let value = serde_json::to_value(&metric).unwrap();
    assert_eq!(value["apiVersion"], json!("flows.netobserv.io/v1alpha1"));
    assert!(value["spec"]["charts"][0].get("unit").is_none());
    let back: FlowMetric = serde_json::from_value(value).unwrap();
    assert_eq!(back.spec, spec);

    let gauge: FlowMetricSpec = serde_json::from_value(json!({"type": "Gauge"})).unwrap();
    assert_eq!(gauge.kind, MetricType::Gauge);
}

#[test]
#[ignore = "prints the CRDs for manual review"]
fn dump_crds() {
    println!("{}", serde_yaml::to_string(&FlowCollector::crd()).unwrap());
    println!(
        "---\n{}",
        serde_yaml::to_string(&FlowMetric::crd()).unwrap()
    );
}
