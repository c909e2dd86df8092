//! (c) v1beta1 -> v1beta2 -> v1beta1: lossless round trips, and how v1beta1 fields (including
//! the deprecated `ignoreTags`) map to v1beta2.

use crate::fixtures::{condition, full_v1beta1, tls};
use crate::support::{down, to_json, wire, without_annotation};
use netobserv_api::v1beta1::{self, to_v1beta2};
use netobserv_api::v1beta2::FlpMetric;
use pretty_assertions::assert_eq;
use serde_json::json;

#[test]
fn full_v1beta1_round_trips() {
    let old = full_v1beta1();
    let new = wire(&to_v1beta2(&old).unwrap());
    assert!(
        new.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.len() == 1)
    );
    let back = down(&new);
    assert_eq!(without_annotation(&back), without_annotation(&old));
}

#[test]
fn full_v1beta1_maps_to_v1beta2_fields() {
    let new = to_v1beta2(&full_v1beta1()).unwrap();
    let json = to_json(&new);
    let spec = &json["spec"];
    assert_eq!(spec["deploymentModel"], "Kafka");
    assert_eq!(spec["agent"]["type"], "IPFIX");
    assert_eq!(
        spec["agent"]["ebpf"]["advanced"],
        json!({"env": {"GOGC": "50"}, "capOverride": ["SYS_ADMIN"]})
    );
    assert_eq!(
        spec["agent"]["ebpf"]["metrics"]["server"]["tls"]["type"],
        "Auto"
    );
    assert_eq!(
        spec["processor"]["advanced"],
        json!({
            "env": {"GOMEMLIMIT": "1GiB"},
            "port": 2056, "healthPort": 8081, "profilePort": 6061,
            "enableKubeProbes": false, "dropUnusedFields": false,
            "conversationHeartbeatInterval": "45s",
            "conversationEndTimeout": "1000ms",
            "conversationTerminatingTimeout": "3s"
        })
    );
    assert_eq!(spec["processor"]["logTypes"], "All");
    assert_eq!(
        spec["processor"]["metrics"]["server"]["tls"]["type"],
        "Provided"
    );
    assert_eq!(
        spec["processor"]["metrics"]["includeList"],
        json!([
            "namespace_flows_total",
            "node_rtt_seconds",
            "node_to_node_ingress_flows_total"
        ])
    );
    assert_eq!(
        spec["processor"]["kafkaConsumerAutoscaler"]["status"],
        "Enabled"
    );
    assert_eq!(
        spec["loki"]["manual"],
        json!({
            "ingesterUrl": "https://gateway:8080/api/logs/v1/network/",
            "querierUrl": "https://querier:8080/",
            "statusUrl": "https://frontend:3100/",
            "tenantID": "network",
            "authToken": "Forward",
            "tls": tls("loki"),
            "statusTls": tls("loki-status")
        })
    );
    assert_eq!(spec["loki"]["mode"], "Manual");
    assert_eq!(spec["loki"]["writeTimeout"], "20s");
    assert_eq!(spec["loki"]["writeBatchWait"], "3s");
    assert_eq!(spec["loki"]["writeBatchSize"], 1000);
    assert_eq!(
        spec["loki"]["advanced"],
        json!({"writeMinBackoff": "500ms", "writeMaxBackoff": "1m", "writeMaxRetries": 0, "staticLabels": {}})
    );
    assert_eq!(
        spec["consolePlugin"]["advanced"],
        json!({"register": false, "port": 9443})
    );
    assert_eq!(spec["kafka"]["sasl"]["type"], "ScramSHA512");
    assert_eq!(spec["exporters"][0]["type"], "Kafka");
    assert_eq!(spec["exporters"][0]["kafka"]["sasl"]["type"], "Plain");
    assert!(spec["exporters"][0].get("ipfix").is_none());
    assert_eq!(spec["exporters"][1]["type"], "IPFIX");
    assert_eq!(
        spec["exporters"][1]["ipfix"],
        json!({"targetHost": "ipfix", "targetPort": 4739, "transport": "TCP", "enterpriseID": 2})
    );
    assert!(spec["exporters"][1].get("kafka").is_none());
    assert_eq!(
        json["status"],
        json!({"conditions": [condition("Ready", "False", "Pending")], "namespace": "netobserv-old"})
    );
    assert_eq!(json["metadata"]["annotations"], json!({"owner": "netops"}));
}

#[test]
fn ignore_tags_become_include_list() {
    let mut old = v1beta1::FlowCollector::new("cluster", v1beta1::FlowCollectorSpec::default());
    let tags = |list: &[&str]| list.iter().map(|t| (*t).to_string()).collect::<Vec<_>>();

    // Upstream's case; `namespace_sampling` is not a v1beta2 metric and is left out.
    old.spec.processor.metrics.ignore_tags =
        tags(&["nodes", "workloads", "bytes", "ingress", "ipsec"]);
    let new = to_v1beta2(&old).unwrap();
    assert_eq!(
        new.spec.processor.metrics.include_list,
        Some(vec![
            FlpMetric::NamespaceEgressPacketsTotal,
            FlpMetric::NamespaceFlowsTotal,
            FlpMetric::NamespaceRttSeconds,
            FlpMetric::NamespaceDropPacketsTotal,
            FlpMetric::NamespaceDnsLatencySeconds,
            FlpMetric::NamespaceNetworkPolicyEventsTotal,
        ])
    );

    // The old default, and an empty list, mean the operator's default list.
    for list in [tags(&v1beta1::DEFAULT_IGNORE_TAGS), Vec::new()] {
        old.spec.processor.metrics.ignore_tags = list;
        assert_eq!(
            to_v1beta2(&old)
                .unwrap()
                .spec
                .processor
                .metrics
                .include_list,
            None
        );
    }

    // `includeList` wins over `ignoreTags`.
    old.spec.processor.metrics.ignore_tags = tags(&["nodes"]);
    old.spec.processor.metrics.include_list = Some(vec![FlpMetric::NodeFlowsTotal]);
    assert_eq!(
        to_v1beta2(&old)
            .unwrap()
            .spec
            .processor
            .metrics
            .include_list,
        Some(vec![FlpMetric::NodeFlowsTotal])
    );
}

#[test]
fn no_annotation_and_other_annotations_are_kept() {
    let mut old = full_v1beta1();
    old.metadata.annotations = None;
    let new = to_v1beta2(&old).unwrap();
    assert_eq!(new.metadata.annotations, None);
    assert_eq!(new.metadata.labels, old.metadata.labels);
    assert_eq!(new.metadata.name.as_deref(), Some("cluster"));
}
