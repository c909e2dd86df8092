//! Conversion between FlowCollector v1beta1 and v1beta2: mapping and defaulting of a minimal
//! v1beta1 manifest, lossless round trips both ways, edits made through v1beta1, and corrupt
//! conversion data.
#![allow(clippy::unwrap_used)]
#![recursion_limit = "512"]

use std::collections::BTreeMap;
use std::path::Path;

use kube::CustomResourceExt;
use netobserv_api::v1beta1::{
    self, CONVERSION_DATA_ANNOTATION, ConversionError, from_v1beta2, to_v1beta2,
};
use netobserv_api::v1beta2::{self, FlpMetric};
use pretty_assertions::assert_eq;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

/// JSON of an object, without the conversion-data annotation (and without an annotation map
/// left empty by its removal).
fn without_annotation<T: Serialize>(value: &T) -> Value {
    let mut json = to_json(value);
    if let Some(metadata) = json.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
    {
        annotations.remove(CONVERSION_DATA_ANNOTATION);
        if annotations.is_empty() {
            metadata.remove("annotations");
        }
    }
    json
}

/// Sends an object "over the wire", as the API server and clients do between conversions.
fn wire<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

/// v1beta2 -> v1beta1 (checked against the v1beta1 CRD schema) -> wire.
fn down(new: &v1beta2::FlowCollector) -> v1beta1::FlowCollector {
    let old = from_v1beta2(new).unwrap();
    assert_valid_v1beta1(&old);
    wire(&old)
}

/// The v1beta1 object validates against the v1beta1 CRD schema, so that a client can send it
/// back unchanged.
fn assert_valid_v1beta1(old: &v1beta1::FlowCollector) {
    let crd = to_json(&v1beta1::FlowCollector::crd());
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let validator = jsonschema::validator_for(schema).unwrap();
    let instance = to_json(old);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "v1beta1 schema errors: {errors:#?}");
}

fn annotation(old: &v1beta1::FlowCollector) -> &str {
    old.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CONVERSION_DATA_ANNOTATION))
        .unwrap()
}

/// Asserts v1beta2 -> v1beta1 -> v1beta2 gives back the same object.
fn assert_v1beta2_round_trip(new: &v1beta2::FlowCollector, what: &str) {
    let old = down(new);
    assert!(
        old.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(CONVERSION_DATA_ANNOTATION)),
        "{what}: down-conversion must store the conversion data"
    );
    let back = to_v1beta2(&old).unwrap();
    assert!(
        back.metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(CONVERSION_DATA_ANNOTATION)),
        "{what}: the conversion data must not reach the v1beta2 object"
    );
    assert_eq!(
        without_annotation(&back),
        without_annotation(new),
        "{what}: v1beta2 -> v1beta1 -> v1beta2"
    );
}

fn v1beta2_from(value: Value) -> v1beta2::FlowCollector {
    serde_json::from_value(value).unwrap()
}

fn v1beta1_from(value: Value) -> v1beta1::FlowCollector {
    serde_json::from_value(value).unwrap()
}

fn condition(kind: &str, status: &str, reason: &str) -> Value {
    json!({
        "type": kind,
        "status": status,
        "reason": reason,
        "message": format!("{kind} is {status}"),
        "lastTransitionTime": "2025-01-02T03:04:05Z",
        "observedGeneration": 3
    })
}

fn scheduling(zone: &str) -> Value {
    json!({
        "nodeSelector": {"topology.kubernetes.io/zone": zone},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "netobserv", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}
            ]}]
        }}},
        "priorityClassName": "system-node-critical"
    })
}

fn tls(name: &str) -> Value {
    json!({
        "enable": true,
        "insecureSkipVerify": false,
        "caCert": {"type": "configmap", "name": format!("{name}-ca"), "namespace": "certs", "certFile": "ca.crt"},
        "userCert": {"type": "secret", "name": format!("{name}-user"), "namespace": "", "certFile": "tls.crt", "certKey": "tls.key"}
    })
}

/// A v1beta2 FlowCollector with (nearly) every field set to a non-default value, including the
/// fields that v1beta1 cannot express.
fn full_v1beta2(loki_mode: &str) -> v1beta2::FlowCollector {
    v1beta2_from(json!({
        "apiVersion": "flows.netobserv.io/v1beta2",
        "kind": "FlowCollector",
        "metadata": {
            "name": "cluster",
            "uid": "5a4c1f0e-0000-4000-8000-000000000001",
            "resourceVersion": "4242",
            "generation": 3,
            "labels": {"team": "network"},
            "annotations": {"owner": "netops"}
        },
        "spec": {
            "namespace": "netobserv-main",
            "deploymentModel": "Service",
            "agent": {
                "type": "eBPF",
                "ipfix": {
                    "cacheActiveTimeout": "30s", "cacheMaxFlows": 500, "sampling": 10,
                    "forceSampleAll": true,
                    "clusterNetworkOperator": {"namespace": "cno"},
                    "ovnKubernetes": {"namespace": "ovn", "daemonSetName": "ovn-ds", "containerName": "ovn-c"}
                },
                "ebpf": {
                    "imagePullPolicy": "Always",
                    "resources": {"requests": {"cpu": "200m", "memory": "100Mi"}, "limits": {"memory": "1Gi"}},
                    "sampling": 1,
                    "cacheActiveTimeout": "200ms",
                    "cacheMaxFlows": 5000,
                    "interfaces": ["eth0", "/^br-/"],
                    "excludeInterfaces": [],
                    "logLevel": "debug",
                    "privileged": true,
                    "kafkaBatchSize": 2048,
                    "advanced": {
                        "env": {"GOGC": "400"},
                        "capOverride": ["BPF", "NET_ADMIN"],
                        "scheduling": scheduling("a")
                    },
                    "features": ["PacketDrop", "DNSTracking", "FlowRTT", "NetworkEvents", "TLSTracking"],
                    "metrics": {
                        "server": {"port": 9500, "tls": {
                            "type": "Provided",
                            "provided": {"type": "secret", "name": "agent-metrics", "namespace": "", "certFile": "tls.crt", "certKey": "tls.key"},
                            "insecureSkipVerify": true,
                            "providedCaFile": {"type": "configmap", "name": "agent-ca", "namespace": "", "file": "ca.crt"}
                        }},
                        "enable": false,
                        "disableAlerts": ["NetObservDroppedFlows"]
                    },
                    "flowFilter": {
                        "enable": true,
                        "cidr": "10.0.0.0/8",
                        "action": "Accept",
                        "rules": [
                            {"action": "Reject", "cidr": "10.1.0.0/16", "protocol": "TCP", "direction": "Ingress",
                             "tcpFlags": "SYN-ACK", "sourcePorts": 443, "destPorts": "8000-8080", "ports": "80,443",
                             "peerIP": "10.1.2.3", "peerCIDR": "10.1.2.0/24", "pktDrops": true, "sampling": 10},
                            {"action": "Accept", "cidr": "0.0.0.0/0", "protocol": "ICMP", "icmpType": 8, "icmpCode": 0}
                        ]
                    }
                }
            },
            "processor": {
                "imagePullPolicy": "Never",
                "metrics": {
                    "server": {"port": 9600, "tls": {"type": "Auto", "insecureSkipVerify": false}},
                    "includeList": ["node_ingress_bytes_total", "namespace_network_policy_events_total", "workload_sampling"],
                    "additionalIncludeList": ["node_flows_total"],
                    "disableAlerts": ["NetObservLokiError", "PacketDropsByKernel"],
                    "healthRules": [
                        {"template": "DNSErrors", "mode": "Recording", "variants": [
                            {"thresholds": {"warning": "20"}, "groupBy": "Namespace"}
                        ]}
                    ]
                },
                "logLevel": "warn",
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
                "kafkaConsumerReplicas": 5,
                "kafkaConsumerAutoscaler": {
                    "status": "Enabled", "minReplicas": 2, "maxReplicas": 9,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
                },
                "consumerReplicas": 4,
                "unmanagedReplicas": true,
                "kafkaConsumerQueueCapacity": 2000,
                "kafkaConsumerBatchSize": 1024,
                "logTypes": "EndedConversations",
                "clusterName": "east",
                "multiClusterDeployment": true,
                "addZone": true,
                "subnetLabels": {
                    "openShiftAutoDetect": false,
                    "customLabels": [{"cidrs": ["192.168.0.0/16"], "name": "EXT:lab"}]
                },
                "deduper": {"mode": "Sample", "sampling": 20},
                "filters": [
                    {"query": "SrcK8S_Namespace = \"a\"", "outputTarget": "Loki", "sampling": 5},
                    {"query": "DstPort = 53"}
                ],
                "slicesConfig": {"enable": true, "collectionMode": "AllowList", "namespacesAllowList": ["/openshift-.*/"]},
                "service": {"tlsType": "Provided", "providedCertificates": {
                    "serverCert": {"type": "secret", "name": "flp", "namespace": "", "certFile": "tls.crt", "certKey": "tls.key"},
                    "caFile": {"type": "configmap", "name": "flp-ca", "namespace": "", "file": "ca.crt"}
                }},
                "advanced": {
                    "env": {"GOMAXPROCS": "4"},
                    "port": 3333,
                    "healthPort": 8181,
                    "profilePort": 6060,
                    "enableKubeProbes": false,
                    "dropUnusedFields": false,
                    "conversationHeartbeatInterval": "1m",
                    "conversationEndTimeout": "20s",
                    "conversationTerminatingTimeout": "7s",
                    "scheduling": scheduling("b"),
                    "secondaryNetworks": [{"name": "ns/net1", "index": ["MAC", "IP"]}]
                }
            },
            "loki": {
                "enable": true,
                "mode": loki_mode,
                "manual": {
                    "ingesterUrl": "https://ingester:3100/", "querierUrl": "https://querier:3100/",
                    "statusUrl": "https://status:3100/", "tenantID": "tenant-m", "authToken": "Host",
                    "tls": tls("manual"), "statusTls": tls("status")
                },
                "microservices": {
                    "ingesterUrl": "http://distributor:3100/", "querierUrl": "http://frontend:3100/",
                    "tenantID": "tenant-ms", "tls": tls("ms")
                },
                "monolithic": {"installDemoLoki": true, "url": "http://mono:3100/", "tenantID": "tenant-mono", "tls": tls("mono")},
                "lokiStack": {"name": "lokistack", "namespace": "loki-ns"},
                "readTimeout": "40s",
                "writeTimeout": "15s",
                "writeBatchWait": "2s",
                "writeBatchSize": 204800,
                "advanced": {
                    "writeMinBackoff": "2s", "writeMaxBackoff": "10s", "writeMaxRetries": 4,
                    "staticLabels": {"app": "netobserv", "env": "prod"},
                    "excludeLabels": ["SrcK8S_Namespace"]
                }
            },
            "prometheus": {"querier": {
                "enable": false, "mode": "Manual",
                "manual": {
                    "url": "https://thanos:9091", "tls": tls("prom"), "forwardUserToken": true,
                    "alertManager": {"url": "https://alertmanager:9093", "tls": tls("am")}
                },
                "timeout": "45s"
            }},
            "consolePlugin": {
                "enable": true,
                "standalone": true,
                "replicas": 2,
                "unmanagedReplicas": true,
                "imagePullPolicy": "Always",
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                "logLevel": "trace",
                "autoscaler": {"status": "Enabled", "minReplicas": 1, "maxReplicas": 4, "metrics": []},
                "portNaming": {"enable": false, "portNames": {"3100": "loki"}},
                "quickFilters": [
                    {"name": "Mine", "filter": {"src_namespace": "\"mine\""}, "default": true},
                    {"name": "Others", "filter": {"dst_kind": "Service"}, "default": false}
                ],
                "advanced": {
                    "env": {"TZ": "UTC"}, "args": ["-loglevel", "debug"],
                    "register": false, "port": 9011, "scheduling": scheduling("c")
                }
            },
            "kafka": {
                "address": "kafka:9093", "topic": "flows", "tls": tls("kafka"),
                "sasl": {"type": "ScramSHA512",
                         "clientIDReference": {"type": "secret", "name": "sasl", "namespace": "", "file": "id"},
                         "clientSecretReference": {"type": "secret", "name": "sasl", "namespace": "", "file": "secret"}},
                "compression": "zstd"
            },
            "exporters": [
                {"type": "Kafka", "kafka": {"address": "export:9092", "topic": "enriched", "sasl": {"type": "Plain"}, "compression": "gzip"}},
                {"type": "IPFIX", "ipfix": {"targetHost": "collector", "targetPort": 4740, "transport": "UDP", "enterpriseID": 99}},
                {"type": "OpenTelemetry", "openTelemetry": {
                    "targetHost": "otel", "targetPort": 4318, "protocol": "http",
                    "headers": {"x-tenant": "net"}, "tls": tls("otel"),
                    "fieldsMapping": [{"input": "Bytes", "output": "bytes", "multiplier": 8}],
                    "logs": {"enable": false}, "metrics": {"enable": true, "pushTimeInterval": "30s"}
                }}
            ],
            "networkPolicy": {"enable": true, "additionalNamespaces": ["openshift-console"]},
            "execution": {"mode": "OnHold"}
        },
        "status": {
            "conditions": [condition("Ready", "True", "Ready"), condition("WaitingFLPParent", "False", "Ready")],
            "namespace": "netobserv-main",
            "components": {"agent": {"state": "Ready", "desiredReplicas": 3, "readyReplicas": 3}},
            "integrations": {"loki": {"state": "Degraded", "reason": "LokiError", "message": "push failed"}}
        }
    }))
}

/// A v1beta1 FlowCollector with every field set, most to non-default values.
fn full_v1beta1() -> v1beta1::FlowCollector {
    v1beta1_from(json!({
        "apiVersion": "flows.netobserv.io/v1beta1",
        "kind": "FlowCollector",
        "metadata": {"name": "cluster", "labels": {"team": "network"}, "annotations": {"owner": "netops"}},
        "spec": {
            "namespace": "netobserv-old",
            "agent": {
                "type": "IPFIX",
                "ipfix": {
                    "cacheActiveTimeout": "10s", "cacheMaxFlows": 300, "sampling": 3, "forceSampleAll": true,
                    "clusterNetworkOperator": {"namespace": "cno"},
                    "ovnKubernetes": {"namespace": "ovn", "daemonSetName": "ds", "containerName": "c"}
                },
                "ebpf": {
                    "imagePullPolicy": "Never",
                    "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}, "limits": {"memory": "20Mi"}},
                    "sampling": 0,
                    "cacheActiveTimeout": "1m",
                    "cacheMaxFlows": 1,
                    "interfaces": ["ens3"],
                    "excludeInterfaces": ["lo", "/^veth/"],
                    "logLevel": "trace",
                    "privileged": true,
                    "kafkaBatchSize": 4096,
                    "debug": {"env": {"GOGC": "50"}, "capOverride": ["SYS_ADMIN"]},
                    "features": ["PacketDrop", "IPSec", "UDNMapping", "EbpfManager", "PacketTranslation"],
                    "metrics": {
                        "server": {"port": 9402, "tls": {"type": "AUTO", "insecureSkipVerify": true}},
                        "enable": true,
                        "disableAlerts": ["NetObservDroppedFlows"]
                    },
                    "flowFilter": {
                        "enable": false, "cidr": "1.2.3.0/24", "action": "Reject", "protocol": "UDP",
                        "rules": [{"cidr": "0.0.0.0/0", "action": "Accept", "direction": "Egress", "tcpFlags": "RST"}]
                    }
                }
            },
            "processor": {
                "port": 2056,
                "healthPort": 8081,
                "profilePort": 6061,
                "imagePullPolicy": "Always",
                "metrics": {
                    "server": {"port": 9403, "tls": {
                        "type": "PROVIDED",
                        "provided": {"type": "secret", "name": "flp-metrics", "namespace": "ns1", "certFile": "tls.crt", "certKey": "tls.key"},
                        "insecureSkipVerify": false,
                        "providedCaFile": {"type": "configmap", "name": "ca", "namespace": "", "file": "ca.crt"}
                    }},
                    "ignoreTags": ["egress", "packets", "nodes-flows", "namespaces-flows", "workloads-flows", "namespaces"],
                    "includeList": ["namespace_flows_total", "node_rtt_seconds", "node_to_node_ingress_flows_total"],
                    "disableAlerts": ["NetObservNoFlows", "NetObservLokiError"]
                },
                "logLevel": "error",
                "resources": {"requests": {"cpu": "300m", "memory": "300Mi"}, "limits": {"memory": "900Mi"}},
                "enableKubeProbes": false,
                "dropUnusedFields": false,
                "kafkaConsumerReplicas": 0,
                "kafkaConsumerAutoscaler": {"status": "ENABLED", "minReplicas": 1, "maxReplicas": 6, "metrics": [
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}}
                ]},
                "kafkaConsumerQueueCapacity": 500,
                "kafkaConsumerBatchSize": 2048,
                "logTypes": "ALL",
                "conversationHeartbeatInterval": "45s",
                "conversationEndTimeout": "1000ms",
                "conversationTerminatingTimeout": "3s",
                "clusterName": "west",
                "multiClusterDeployment": true,
                "addZone": false,
                "subnetLabels": {"openShiftAutoDetect": true, "customLabels": [{"cidrs": ["10.0.0.0/8", "fd00::/8"], "name": "internal"}]},
                "deduper": {"mode": "Drop", "sampling": 0},
                "filters": [{"query": "Proto = 6", "outputTarget": "Metrics", "sampling": 2}],
                "debug": {"env": {"GOMEMLIMIT": "1GiB"}}
            },
            "loki": {
                "enable": false,
                "url": "https://gateway:8080/api/logs/v1/network/",
                "querierUrl": "https://querier:8080/",
                "statusUrl": "https://frontend:3100/",
                "tenantID": "network",
                "authToken": "FORWARD",
                "batchWait": "3s",
                "batchSize": 1000,
                "readTimeout": "1m",
                "timeout": "20s",
                "minBackoff": "500ms",
                "maxBackoff": "1m",
                "maxRetries": 0,
                "staticLabels": {},
                "tls": tls("loki"),
                "statusTls": tls("loki-status")
            },
            "prometheus": {"querier": {
                "enable": false, "mode": "Manual",
                "manual": {"url": "https://prom:9091", "tls": tls("prom"), "forwardUserToken": true},
                "timeout": "5s"
            }},
            "consolePlugin": {
                "enable": false,
                "register": false,
                "replicas": 3,
                "port": 9443,
                "imagePullPolicy": "Never",
                "resources": {"requests": {"cpu": "5m"}},
                "logLevel": "fatal",
                "autoscaler": {"status": "ENABLED", "maxReplicas": 5, "metrics": []},
                "portNaming": {"enable": true, "portNames": {"8443": "https-alt"}},
                "quickFilters": [{"name": "Only apps", "filter": {"flow_layer": "app"}, "default": true}]
            },
            "deploymentModel": "KAFKA",
            "kafka": {
                "address": "kafka:9092", "topic": "netobserv", "tls": tls("kafka"),
                "sasl": {"type": "SCRAM-SHA512",
                         "clientIDReference": {"type": "secret", "name": "s", "namespace": "", "file": "id"},
                         "clientSecretReference": {"type": "configmap", "name": "s", "namespace": "", "file": "pw"}}
            },
            "exporters": [
                {"type": "KAFKA", "kafka": {"address": "k2:9092", "topic": "t2", "tls": tls("k2"), "sasl": {"type": "PLAIN"}},
                 "ipfix": {"targetHost": "", "targetPort": 0}},
                {"type": "IPFIX", "kafka": {"address": "", "topic": ""}, "ipfix": {"targetHost": "ipfix", "targetPort": 4739, "transport": "TCP"}}
            ]
        },
        "status": {
            "conditions": [condition("Ready", "False", "Pending")],
            "namespace": "netobserv-old"
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// (a) The minimal v1beta1 manifest of the project documents
// ---------------------------------------------------------------------------------------------

const MINIMAL_V1BETA1: &str = "\
apiVersion: flows.netobserv.io/v1beta1
kind: FlowCollector
metadata:
  name: cluster
spec:
  agent:
    type: EBPF
    ebpf:
      privileged: true
";

/// The v1beta1 manifest gets the v1beta1 CRD defaults; converted, it is the v1beta2 default
/// FlowCollector except where the v1beta1 defaults differ from the v1beta2 ones:
/// - `deploymentModel`: v1beta1 `DIRECT` -> `Direct` (v1beta2 default `Service`);
/// - `agent.ebpf.cacheActiveTimeout`: `5s` (v1beta2 default `15s`);
/// - `agent.ebpf.cacheMaxFlows`: `100000` (v1beta2 default `120000`);
/// - `loki.mode`: `Manual` (v1beta2 default `Monolithic`), with `loki.manual` made of the v1beta1
///   Loki defaults: `ingesterUrl` = `url` = `http://loki:3100/`, `querierUrl` = `url` (empty
///   v1beta1 `querierUrl`), `tenantID: netobserv`, `authToken: DISABLED` -> `Disabled`, which
///   happen to equal the v1beta2 `manual` defaults;
/// - `loki.writeBatchSize`: v1beta1 `batchSize` `102400` (v1beta2 default `10485760`);
/// - `consolePlugin.quickFilters`: the four v1beta1 presets with unquoted values (v1beta2 has six
///   presets with quoted, exact-match values).
///
/// Every other v1beta1 default maps to the v1beta2 default: `processor.metrics.ignoreTags` (the
/// old default) gives no `includeList`; the ports, probes, conversation timeouts, backoffs,
/// retries, static labels and `register` are the v1beta2 `advanced` defaults, so no `advanced`
/// block is written; enums are respelled (`EBPF` -> `eBPF`, `FLOWS` -> `Flows`, `DISABLED` ->
/// `Disabled`).
#[test]
fn minimal_v1beta1_manifest_converts_to_expected_v1beta2() {
    let old: v1beta1::FlowCollector = serde_yaml::from_str(MINIMAL_V1BETA1).unwrap();
    assert_eq!(old.spec.agent.kind, v1beta1::AgentType::Ebpf);
    assert!(old.spec.agent.ebpf.privileged);
    assert_eq!(old.spec.deployment_model, v1beta1::DeploymentModel::Direct);

    let new = to_v1beta2(&old).unwrap();

    let mut expected =
        v1beta2::FlowCollector::new("cluster", v1beta2::FlowCollectorSpec::default());
    let spec = &mut expected.spec;
    spec.agent.kind = v1beta2::AgentType::Ebpf;
    spec.agent.ebpf.privileged = true;
    spec.deployment_model = v1beta2::DeploymentModel::Direct;
    spec.agent.ebpf.cache_active_timeout = "5s".to_string();
    spec.agent.ebpf.cache_max_flows = 100_000;
    spec.loki.mode = v1beta2::LokiMode::Manual;
    spec.loki.write_batch_size = 102_400;
    spec.console_plugin.quick_filters = v1beta1::default_quick_filters();
    assert_eq!(to_json(&new), to_json(&expected));

    // The values that differ from the v1beta2 defaults, spelled out.
    let json = to_json(&new);
    assert_eq!(json["apiVersion"], "flows.netobserv.io/v1beta2");
    assert_eq!(json["metadata"], json!({"name": "cluster"}));
    assert_eq!(json["spec"]["agent"]["type"], "eBPF");
    assert_eq!(json["spec"]["agent"]["ebpf"]["privileged"], true);
    assert_eq!(json["spec"]["deploymentModel"], "Direct");
    assert_eq!(json["spec"]["agent"]["ebpf"]["cacheActiveTimeout"], "5s");
    assert_eq!(json["spec"]["agent"]["ebpf"]["cacheMaxFlows"], 100_000);
    assert_eq!(json["spec"]["loki"]["mode"], "Manual");
    assert_eq!(
        json["spec"]["loki"]["manual"],
        json!({
            "ingesterUrl": "http://loki:3100/",
            "querierUrl": "http://loki:3100/",
            "tenantID": "netobserv",
            "authToken": "Disabled",
            "tls": to_json(&v1beta2::ClientTls::default()),
            "statusTls": to_json(&v1beta2::ClientTls::default()),
        })
    );
    assert_eq!(json["spec"]["loki"]["writeBatchSize"], 102_400);
    assert_eq!(
        json["spec"]["consolePlugin"]["quickFilters"],
        json!([
            {"name": "Applications", "filter": {"flow_layer": "app"}, "default": true},
            {"name": "Infrastructure", "filter": {"flow_layer": "infra"}, "default": false},
            {"name": "Pods network", "filter": {"dst_kind": "Pod", "src_kind": "Pod"}, "default": true},
            {"name": "Services network", "filter": {"dst_kind": "Service"}, "default": false},
        ])
    );
    assert_eq!(json["spec"]["processor"]["logTypes"], "Flows");
    assert!(
        json["spec"]["processor"]["metrics"]
            .get("includeList")
            .is_none()
    );
    for section in ["processor", "loki", "consolePlugin"] {
        assert!(json["spec"][section].get("advanced").is_none(), "{section}");
    }
    assert!(json["spec"]["agent"]["ebpf"].get("advanced").is_none());
    assert!(json.get("status").is_none());
}

/// The project's v1beta1 sample converts and comes back unchanged.
#[test]
fn v1beta1_sample_converts() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/samples/flows_v1beta1_flowcollector.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let old: v1beta1::FlowCollector = serde_yaml::from_str(&text).unwrap();
    let new = to_v1beta2(&old).unwrap();
    assert_eq!(new.spec.deployment_model, v1beta2::DeploymentModel::Direct);
    assert_eq!(new.spec.loki.mode, v1beta2::LokiMode::Manual);
    assert_eq!(
        new.spec.loki.manual.ingester_url,
        "http://loki.netobserv.svc.cluster.local.:3100/"
    );
    assert_eq!(
        new.spec.loki.manual.querier_url,
        new.spec.loki.manual.ingester_url
    );
    let back = down(&wire(&new));
    assert_eq!(without_annotation(&back), without_annotation(&wire(&old)));
}

// ---------------------------------------------------------------------------------------------
// (b) v1beta2 -> v1beta1 -> v1beta2
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// (c) v1beta1 -> v1beta2 -> v1beta1
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// (d) Edits made through v1beta1
// ---------------------------------------------------------------------------------------------

/// v1beta2 -> v1beta1, edit, -> v1beta2.
fn edit_through_v1beta1(
    new: &v1beta2::FlowCollector,
    edit: impl FnOnce(&mut v1beta1::FlowCollector),
) -> v1beta2::FlowCollector {
    let mut old = down(new);
    edit(&mut old);
    let back = to_v1beta2(&wire(&old)).unwrap();
    assert!(
        back.metadata
            .annotations
            .as_ref()
            .is_none_or(|a| !a.contains_key(CONVERSION_DATA_ANNOTATION))
    );
    back
}

#[test]
fn edits_of_mapped_fields_win_and_the_rest_is_kept() {
    let stored = full_v1beta2("Manual");
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.agent.ebpf.sampling = 400;
        old.spec.processor.port = 2999;
        old.spec.console_plugin.register = true;
        old.spec.loki.max_retries = 9;
        old.spec.agent.ebpf.debug.cap_override.clear();
        old.spec.processor.metrics.include_list = None;
        old.spec.deployment_model = v1beta1::DeploymentModel::Kafka;
    });
    let mut expected = stored.clone();
    expected.spec.agent.ebpf.sampling = 400;
    expected.spec.processor.advanced.as_mut().unwrap().port = 2999;
    expected
        .spec
        .console_plugin
        .advanced
        .as_mut()
        .unwrap()
        .register = true;
    expected
        .spec
        .loki
        .advanced
        .as_mut()
        .unwrap()
        .write_max_retries = 9;
    expected
        .spec
        .agent
        .ebpf
        .advanced
        .as_mut()
        .unwrap()
        .cap_override
        .clear();
    expected.spec.processor.metrics.include_list = None;
    expected.spec.deployment_model = v1beta2::DeploymentModel::Kafka;
    // Scheduling, secondary networks, plugin env/args, network policy, OpenTelemetry... stay.
    assert_eq!(without_annotation(&back), without_annotation(&expected));
}

#[test]
fn edit_into_a_null_advanced_block_keeps_other_fields() {
    // Stored: processor.advanced only holds scheduling; the client changes the port.
    let mut stored = full_v1beta2("Monolithic");
    let advanced = stored.spec.processor.advanced.as_mut().unwrap();
    let scheduling = advanced.scheduling.clone();
    *advanced = v1beta2::AdvancedProcessorConfig {
        scheduling: scheduling.clone(),
        ..Default::default()
    };
    let back = edit_through_v1beta1(&stored, |old| old.spec.processor.port = 3000);
    let mut expected = stored.clone();
    expected.spec.processor.advanced.as_mut().unwrap().port = 3000;
    assert_eq!(without_annotation(&back), without_annotation(&expected));

    // And back to the default: the block keeps its scheduling.
    let back2 = edit_through_v1beta1(&back, |old| old.spec.processor.port = 2055);
    let mut expected2 = back.clone();
    expected2.spec.processor.advanced.as_mut().unwrap().port = 2055;
    assert_eq!(without_annotation(&back2), without_annotation(&expected2));
    assert_eq!(
        back2.spec.processor.advanced.unwrap().scheduling,
        scheduling
    );
}

#[test]
fn loki_edit_in_manual_mode_wins() {
    // Upstream restored `loki.manual` from the annotation and dropped this edit.
    let stored = full_v1beta2("Manual");
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.loki.url = "https://new-ingester:3100/".to_string();
        old.spec.loki.tenant_id = "other".to_string();
    });
    let mut expected = stored.clone();
    expected.spec.loki.manual.ingester_url = "https://new-ingester:3100/".to_string();
    expected.spec.loki.manual.tenant_id = "other".to_string();
    assert_eq!(without_annotation(&back), without_annotation(&expected));
}

#[test]
fn loki_querier_url_follows_url_when_it_did() {
    let mut stored = full_v1beta2("Manual");
    stored.spec.loki.manual.querier_url = stored.spec.loki.manual.ingester_url.clone();
    let back = edit_through_v1beta1(&stored, |old| {
        assert!(old.spec.loki.querier_url.is_empty());
        old.spec.loki.url = "https://moved:3100/".to_string();
    });
    assert_eq!(back.spec.loki.manual.ingester_url, "https://moved:3100/");
    assert_eq!(back.spec.loki.manual.querier_url, "https://moved:3100/");
}

#[test]
fn loki_edit_in_other_modes_switches_to_manual() {
    let stored = full_v1beta2("LokiStack");
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.loki.tenant_id = "custom".to_string();
    });
    assert_eq!(back.spec.loki.mode, v1beta2::LokiMode::Manual);
    let manual = &back.spec.loki.manual;
    assert_eq!(manual.tenant_id, "custom");
    assert_eq!(
        manual.ingester_url,
        "https://lokistack-gateway-http.loki-ns.svc:8080/api/logs/v1/network/"
    );
    assert_eq!(manual.querier_url, manual.ingester_url);
    assert_eq!(
        manual.status_url,
        "https://lokistack-query-frontend-http.loki-ns.svc:3100/"
    );
    assert_eq!(manual.auth_token, v1beta2::LokiAuthToken::Forward);
    // The other mode blocks are kept, so switching back loses nothing.
    assert_eq!(back.spec.loki.loki_stack, stored.spec.loki.loki_stack);
    assert_eq!(back.spec.loki.monolithic, stored.spec.loki.monolithic);
    assert_eq!(back.spec.loki.microservices, stored.spec.loki.microservices);
    assert_eq!(back.spec.loki.advanced, stored.spec.loki.advanced);

    // A non-connection Loki edit keeps the mode.
    let back = edit_through_v1beta1(&stored, |old| old.spec.loki.batch_size = 1);
    assert_eq!(back.spec.loki.mode, v1beta2::LokiMode::LokiStack);
    assert_eq!(back.spec.loki.write_batch_size, 1);
    assert_eq!(back.spec.loki.manual, stored.spec.loki.manual);
}

#[test]
fn exporter_edits_keep_v1beta2_only_settings() {
    let stored = full_v1beta2("Manual");

    // Edit the Kafka exporter in place: its compression and the OpenTelemetry block stay.
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.exporters[0].kafka.address = "other:9092".to_string();
    });
    let mut expected = stored.clone();
    expected.spec.exporters[0].kafka.as_mut().unwrap().address = "other:9092".to_string();
    assert_eq!(without_annotation(&back), without_annotation(&expected));

    // Remove the first exporter: the others keep what v1beta1 cannot show.
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.exporters.remove(0);
    });
    assert_eq!(back.spec.exporters, stored.spec.exporters[1..].to_vec());

    // Add one: it is taken as sent, with v1beta2 defaults for the rest.
    let back = edit_through_v1beta1(&stored, |old| {
        old.spec.exporters.push(v1beta1::FlowCollectorExporter {
            kind: v1beta1::ExporterType::Ipfix,
            ipfix: v1beta1::FlowCollectorIpfixReceiver {
                target_host: "new".to_string(),
                target_port: 2055,
                transport: None,
            },
            ..Default::default()
        });
    });
    assert_eq!(back.spec.exporters[..3], stored.spec.exporters[..]);
    assert_eq!(
        to_json(&back.spec.exporters[3]),
        json!({"type": "IPFIX", "ipfix": {"targetHost": "new", "targetPort": 2055, "enterpriseID": 2}})
    );
}

#[test]
fn status_and_metadata_carry_over() {
    let stored = full_v1beta2("Manual");
    let back = edit_through_v1beta1(&stored, |old| {
        old.status.as_mut().unwrap().namespace = "moved".to_string();
        old.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert("new".to_string(), "label".to_string());
    });
    let status = back.status.unwrap();
    assert_eq!(status.namespace, "moved");
    // Components and integrations only exist in v1beta2: restored from the annotation.
    assert_eq!(
        status.components,
        stored.status.as_ref().unwrap().components
    );
    assert_eq!(
        status.integrations,
        stored.status.as_ref().unwrap().integrations
    );
    assert_eq!(
        back.metadata.labels.unwrap().get("new").map(String::as_str),
        Some("label")
    );
    assert_eq!(back.metadata.uid, stored.metadata.uid);
    assert_eq!(
        back.metadata.annotations,
        Some(BTreeMap::from([(
            "owner".to_string(),
            "netops".to_string()
        )]))
    );
}

// ---------------------------------------------------------------------------------------------
// (e) Corrupt or foreign conversion data
// ---------------------------------------------------------------------------------------------

/// A corrupt annotation fails the conversion, with an error naming the annotation: ignoring it
/// would silently reset every v1beta2-only setting (Loki mode, scheduling, network policy...).
#[test]
fn corrupt_annotation_is_an_error() {
    for corrupt in [
        "not json",
        "{\"spec\": ",
        "[1, 2]",
        "{}",
        "{\"spec\": {\"deploymentModel\": \"Teleport\"}}",
        "{\"spec\": {\"loki\": {\"writeBatchSize\": \"big\"}}}",
    ] {
        let mut old = down(&full_v1beta2("Manual"));
        old.metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(CONVERSION_DATA_ANNOTATION.to_string(), corrupt.to_string());
        let err = to_v1beta2(&old).unwrap_err();
        assert!(
            matches!(err, ConversionError::InvalidConversionData(_)),
            "{corrupt}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(CONVERSION_DATA_ANNOTATION), "{message}");
        assert!(message.contains("remove it"), "{message}");
    }
}

#[test]
fn removing_the_annotation_uses_the_v1beta1_values() {
    let stored = full_v1beta2("LokiStack");
    let mut old = down(&stored);
    old.metadata
        .annotations
        .as_mut()
        .unwrap()
        .remove(CONVERSION_DATA_ANNOTATION);
    let new = to_v1beta2(&old).unwrap();
    assert_eq!(new.spec.loki.mode, v1beta2::LokiMode::Manual);
    assert_eq!(
        new.spec.loki.manual.ingester_url,
        "https://lokistack-gateway-http.loki-ns.svc:8080/api/logs/v1/network/"
    );
    // Without the annotation, what v1beta1 cannot express gets its v1beta2 default.
    assert_eq!(
        new.spec.network_policy,
        v1beta2::FlowCollectorNetworkPolicy::default()
    );
    assert_eq!(
        new.spec.agent.ebpf.sampling,
        stored.spec.agent.ebpf.sampling
    );
}

/// The upstream (Go) operator wrote the same layout, with `null` for empty lists and maps.
#[test]
fn upstream_style_annotation_is_read() {
    let stored = full_v1beta2("LokiStack");
    let mut old = down(&stored);
    let mut data: Value = serde_json::from_str(annotation(&old)).unwrap();
    data["spec"]["agent"]["ebpf"]["interfaces"] = Value::Null;
    data["spec"]["processor"]["filters"][1]["outputTarget"] = Value::Null;
    data["spec"]["consolePlugin"]["advanced"]["args"] = Value::Null;
    data["metadata"] = json!({"name": "ignored"});
    let mut expected = stored.clone();
    expected.spec.agent.ebpf.interfaces.clear();
    expected
        .spec
        .console_plugin
        .advanced
        .as_mut()
        .unwrap()
        .args
        .clear();
    old.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(CONVERSION_DATA_ANNOTATION.to_string(), data.to_string());
    // The v1beta1 object still shows the interfaces: they count as a client edit.
    old.spec.agent.ebpf.interfaces.clear();
    let back = to_v1beta2(&old).unwrap();
    assert_eq!(without_annotation(&back), without_annotation(&expected));
}
