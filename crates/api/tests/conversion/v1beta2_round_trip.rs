//! (b) v1beta2 -> v1beta1 -> v1beta2: lossless round trips, and what v1beta1 shows of a v1beta2
//! object.

use std::collections::BTreeMap;
use std::path::Path;

use crate::fixtures::{condition, full_v1beta2, tls};
use crate::support::{annotation, assert_v1beta2_round_trip, down, to_json, v1beta2_from};
use netobserv_api::v1beta1;
use netobserv_api::v1beta2;
use pretty_assertions::assert_eq;
use serde::Deserialize;
use serde_json::{Value, json};

#[test]
fn v1beta2_samples_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/samples");
    let mut count = 0;
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for document in serde_yaml::Deserializer::from_str(&text) {
                let value = Value::deserialize(document).unwrap();
                if value["apiVersion"] != "flows.netobserv.io/v1beta2"
                    || value["kind"] != "FlowCollector"
                {
                    continue;
                }
                let new = v1beta2_from(value);
                assert_v1beta2_round_trip(&new, &path.display().to_string());
                count += 1;
            }
        }
    }
    // The samples are written by another part of the project; the built-in object below
    // covers every field whether or not they exist.
    for mode in ["Manual", "LokiStack", "Monolithic", "Microservices"] {
        assert_v1beta2_round_trip(&full_v1beta2(mode), &format!("full object, Loki {mode}"));
        count += 1;
    }
    assert_v1beta2_round_trip(
        &v1beta2::FlowCollector::new("cluster", v1beta2::FlowCollectorSpec::default()),
        "default object",
    );
    assert!(count >= 4);
}

#[test]
fn explicit_v1beta2_defaults_survive_round_trip() {
    // `advanced` blocks holding only defaults, an empty annotation map, `enable` values equal to
    // the defaults: all equivalent to leaving them out, and all kept as written.
    let mut new = v1beta2::FlowCollector::new("cluster", v1beta2::FlowCollectorSpec::default());
    new.spec.processor.advanced = Some(v1beta2::AdvancedProcessorConfig::default());
    new.spec.console_plugin.advanced = Some(v1beta2::AdvancedPluginConfig::default());
    new.spec.loki.advanced = Some(v1beta2::AdvancedLokiConfig::default());
    new.spec.agent.ebpf.advanced = Some(v1beta2::AdvancedAgentConfig::default());
    new.spec.processor.metrics.include_list = Some(Vec::new());
    assert_v1beta2_round_trip(&new, "explicit defaults");
}

#[test]
fn down_conversion_maps_v1beta2_fields() {
    let new = full_v1beta2("Manual");
    let old = down(&new);
    let json = to_json(&old);
    let spec = &json["spec"];
    assert_eq!(json["apiVersion"], "flows.netobserv.io/v1beta1");
    assert_eq!(spec["deploymentModel"], "SERVICE");
    assert_eq!(spec["agent"]["type"], "EBPF");
    assert_eq!(
        spec["agent"]["ebpf"]["debug"],
        json!({"env": {"GOGC": "400"}, "capOverride": ["BPF", "NET_ADMIN"]})
    );
    assert_eq!(
        spec["agent"]["ebpf"]["metrics"]["server"]["tls"]["type"],
        "PROVIDED"
    );
    assert_eq!(spec["processor"]["port"], 3333);
    assert_eq!(spec["processor"]["healthPort"], 8181);
    assert_eq!(spec["processor"]["profilePort"], 6060);
    assert_eq!(spec["processor"]["enableKubeProbes"], false);
    assert_eq!(spec["processor"]["conversationHeartbeatInterval"], "1m");
    assert_eq!(spec["processor"]["logTypes"], "ENDED_CONVERSATIONS");
    assert_eq!(
        spec["processor"]["debug"],
        json!({"env": {"GOMAXPROCS": "4"}})
    );
    assert_eq!(
        spec["processor"]["kafkaConsumerAutoscaler"]["status"],
        "ENABLED"
    );
    assert_eq!(
        spec["processor"]["metrics"]["server"]["tls"]["type"],
        "AUTO"
    );
    assert_eq!(
        spec["processor"]["metrics"]["ignoreTags"],
        json!(v1beta1::DEFAULT_IGNORE_TAGS)
    );
    assert_eq!(spec["loki"]["url"], "https://ingester:3100/");
    assert_eq!(spec["loki"]["querierUrl"], "https://querier:3100/");
    assert_eq!(spec["loki"]["statusUrl"], "https://status:3100/");
    assert_eq!(spec["loki"]["tenantID"], "tenant-m");
    assert_eq!(spec["loki"]["authToken"], "HOST");
    assert_eq!(spec["loki"]["timeout"], "15s");
    assert_eq!(spec["loki"]["batchWait"], "2s");
    assert_eq!(spec["loki"]["batchSize"], 204_800);
    assert_eq!(spec["loki"]["minBackoff"], "2s");
    assert_eq!(spec["loki"]["maxRetries"], 4);
    assert_eq!(
        spec["loki"]["staticLabels"],
        json!({"app": "netobserv", "env": "prod"})
    );
    assert_eq!(spec["consolePlugin"]["register"], false);
    assert_eq!(spec["consolePlugin"]["port"], 9011);
    assert_eq!(spec["consolePlugin"]["autoscaler"]["status"], "ENABLED");
    assert_eq!(spec["kafka"]["sasl"]["type"], "SCRAM-SHA512");
    assert_eq!(
        spec["exporters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].clone())
            .collect::<Vec<_>>(),
        vec![json!("KAFKA"), json!("IPFIX"), json!("OPEN_TELEMETRY")]
    );
    assert_eq!(spec["exporters"][0]["kafka"]["sasl"]["type"], "PLAIN");
    assert!(spec.get("networkPolicy").is_none());
    assert_eq!(
        json["status"],
        json!({
            "conditions": [condition("Ready", "True", "Ready"), condition("WaitingFLPParent", "False", "Ready")],
            "namespace": "netobserv-main"
        })
    );
    // Metadata is kept; the annotation holds the v1beta2 object without metadata.
    assert_eq!(json["metadata"]["labels"], json!({"team": "network"}));
    assert_eq!(json["metadata"]["annotations"]["owner"], "netops");
    let data: Value = serde_json::from_str(annotation(&old)).unwrap();
    assert_eq!(data["apiVersion"], "flows.netobserv.io/v1beta2");
    assert_eq!(data["kind"], "FlowCollector");
    assert_eq!(data["spec"], to_json(&new.spec));
    assert_eq!(data["status"], to_json(&new.status));
    assert!(data.get("metadata").is_none());
}

#[test]
fn down_conversion_flattens_loki_modes() {
    let loki = |mode: &str| to_json(&down(&full_v1beta2(mode)).spec.loki);

    let stack = loki("LokiStack");
    assert_eq!(
        stack["url"],
        "https://lokistack-gateway-http.loki-ns.svc:8080/api/logs/v1/network/"
    );
    assert!(
        stack.get("querierUrl").is_none(),
        "querierUrl equal to url reads back empty"
    );
    assert_eq!(
        stack["statusUrl"],
        "https://lokistack-query-frontend-http.loki-ns.svc:3100/"
    );
    assert_eq!(stack["tenantID"], "network");
    assert_eq!(stack["authToken"], "FORWARD");
    assert_eq!(
        stack["tls"],
        json!({"enable": true, "insecureSkipVerify": false,
               "caCert": {"type": "configmap", "name": "lokistack-gateway-ca-bundle", "namespace": "loki-ns", "certFile": "service-ca.crt"},
               "userCert": {"namespace": ""}})
    );
    assert_eq!(
        stack["statusTls"],
        json!({"enable": true, "insecureSkipVerify": false,
               "caCert": {"type": "configmap", "name": "lokistack-ca-bundle", "namespace": "loki-ns", "certFile": "service-ca.crt"},
               "userCert": {"type": "secret", "name": "lokistack-query-frontend-http", "namespace": "loki-ns", "certFile": "tls.crt", "certKey": "tls.key"}})
    );

    // A LokiStack without namespace is in `spec.namespace`.
    let mut new = full_v1beta2("LokiStack");
    new.spec.loki.loki_stack.namespace = String::new();
    let old = down(&new);
    assert_eq!(
        old.spec.loki.url,
        "https://lokistack-gateway-http.netobserv-main.svc:8080/api/logs/v1/network/"
    );
    assert_eq!(old.spec.loki.tls.ca_cert.namespace, "netobserv-main");

    let mono = loki("Monolithic");
    assert_eq!(mono["url"], "http://mono:3100/");
    assert!(mono.get("querierUrl").is_none());
    assert_eq!(mono["statusUrl"], "http://mono:3100/");
    assert_eq!(mono["tenantID"], "tenant-mono");
    assert_eq!(mono["authToken"], "DISABLED");
    assert_eq!(mono["tls"], tls("mono"));
    assert_eq!(mono["statusTls"], to_json(&v1beta2::ClientTls::default()));

    let micro = loki("Microservices");
    assert_eq!(micro["url"], "http://distributor:3100/");
    assert_eq!(micro["querierUrl"], "http://frontend:3100/");
    assert_eq!(micro["statusUrl"], "http://frontend:3100/");
    assert_eq!(micro["tenantID"], "tenant-ms");
    assert_eq!(micro["authToken"], "DISABLED");
    assert_eq!(micro["tls"], tls("ms"));
}

#[test]
fn down_conversion_of_null_advanced_shows_v1beta2_defaults() {
    let old = down(&v1beta2::FlowCollector::new(
        "cluster",
        v1beta2::FlowCollectorSpec::default(),
    ));
    let spec = &old.spec;
    assert_eq!(spec.processor.port, 2055);
    assert_eq!(spec.processor.health_port, 8080);
    assert_eq!(spec.processor.profile_port, None);
    assert!(spec.processor.enable_kube_probes);
    assert_eq!(spec.processor.conversation_heartbeat_interval, "30s");
    assert_eq!(spec.console_plugin.port, 9001);
    assert!(spec.console_plugin.register);
    assert_eq!(spec.loki.min_backoff, "1s");
    assert_eq!(spec.loki.max_retries, 2);
    assert_eq!(
        spec.loki.static_labels,
        BTreeMap::from([("app".to_string(), "netobserv-flowcollector".to_string())])
    );
}
