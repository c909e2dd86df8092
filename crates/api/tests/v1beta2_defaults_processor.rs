//! Defaults of `spec.processor`, `spec.loki`, `spec.kafka`, `spec.exporters`,
//! `spec.consolePlugin` and `spec.prometheus` as an empty manifest deserialises; the built-in
//! quick filters, health rules and metric lists; serde round trips; and the CRD schema details
//! (required fields, defaults that must not exist) of those sections.
#![allow(clippy::unwrap_used)]

use kube::CustomResourceExt;
use netobserv_api::v1beta2::{
    AdvancedLokiConfig, AdvancedPluginConfig, AdvancedProcessorConfig, FlowCollector,
    FlowCollectorConsolePlugin, FlowCollectorExporter, FlowCollectorFlp,
    FlowCollectorIpfixReceiver, FlowCollectorKafka, FlowCollectorLoki, FlowCollectorOpenTelemetry,
    FlowCollectorPrometheus, FlpDeduper, FlpHealthRule, FlpMetric, HealthRuleGroupBy,
    HealthRuleMode, HealthRuleTemplate, ProcessorServiceConfig, SlicesConfig, default_health_rules,
    default_include_list, default_quick_filters,
};
use pretty_assertions::assert_eq;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;

/// Checks that `{}` deserialises to `T::default()` and that both carry the expected value at each
/// JSON pointer (`null` means the field is absent).
fn check_defaults<T>(rows: &[(&str, Value)])
where
    T: Default + Serialize + DeserializeOwned + PartialEq + Debug,
{
    let from_empty: T = serde_json::from_value(json!({})).unwrap();
    assert_eq!(from_empty, T::default(), "{{}} must deserialise to Default");
    let from_empty = serde_json::to_value(&from_empty).unwrap();
    let from_default = serde_json::to_value(T::default()).unwrap();
    for (pointer, expected) in rows {
        for (origin, doc) in [("from {}", &from_empty), ("Default", &from_default)] {
            let actual = doc.pointer(pointer).cloned().unwrap_or(Value::Null);
            assert_eq!(
                &actual,
                expected,
                "{} at {pointer} ({origin})",
                std::any::type_name::<T>()
            );
        }
    }
}

#[test]
fn processor_defaults() {
    check_defaults::<FlowCollectorFlp>(&[
        ("/imagePullPolicy", json!("IfNotPresent")),
        ("/logLevel", json!("info")),
        (
            "/resources",
            json!({"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"memory": "800Mi"}}),
        ),
        ("/consumerReplicas", Value::Null),
        ("/unmanagedReplicas", json!(false)),
        ("/kafkaConsumerReplicas", json!(3)),
        ("/kafkaConsumerAutoscaler/status", json!("Disabled")),
        ("/kafkaConsumerAutoscaler/maxReplicas", json!(3)),
        ("/kafkaConsumerQueueCapacity", json!(1000)),
        ("/kafkaConsumerBatchSize", json!(10_485_760)),
        ("/logTypes", json!("Flows")),
        ("/clusterName", json!("")),
        ("/multiClusterDeployment", json!(false)),
        ("/addZone", Value::Null),
        ("/subnetLabels", json!({})),
        ("/deduper", Value::Null),
        ("/filters", Value::Null),
        ("/slicesConfig", Value::Null),
        ("/service", Value::Null),
        ("/advanced", Value::Null),
        ("/metrics/server/port", Value::Null),
        ("/metrics/server/tls/type", json!("Disabled")),
        ("/metrics/includeList", Value::Null),
        ("/metrics/additionalIncludeList", Value::Null),
        ("/metrics/disableAlerts", Value::Null),
        ("/metrics/healthRules", Value::Null),
    ]);
}

#[test]
fn processor_sub_block_defaults() {
    check_defaults::<AdvancedProcessorConfig>(&[
        ("/env", Value::Null),
        ("/port", json!(2055)),
        ("/healthPort", json!(8080)),
        ("/profilePort", Value::Null),
        ("/enableKubeProbes", json!(true)),
        ("/dropUnusedFields", json!(true)),
        ("/conversationHeartbeatInterval", json!("30s")),
        ("/conversationEndTimeout", json!("10s")),
        ("/conversationTerminatingTimeout", json!("5s")),
        ("/scheduling", Value::Null),
        ("/secondaryNetworks", Value::Null),
    ]);
    check_defaults::<FlpDeduper>(&[("/mode", json!("Disabled")), ("/sampling", json!(50))]);
    check_defaults::<SlicesConfig>(&[
        ("/enable", json!(false)),
        ("/collectionMode", json!("AlwaysCollect")),
        ("/namespacesAllowList", Value::Null),
    ]);
    check_defaults::<ProcessorServiceConfig>(&[
        ("/tlsType", json!("Auto")),
        ("/providedCertificates", Value::Null),
    ]);
}

#[test]
fn loki_defaults() {
    check_defaults::<FlowCollectorLoki>(&[
        ("/enable", json!(true)),
        ("/mode", json!("Monolithic")),
        ("/manual/ingesterUrl", json!("http://loki:3100/")),
        ("/manual/querierUrl", json!("http://loki:3100/")),
        ("/manual/statusUrl", Value::Null),
        ("/manual/tenantID", json!("netobserv")),
        ("/manual/authToken", json!("Disabled")),
        ("/manual/tls/enable", json!(false)),
        ("/manual/statusTls/enable", json!(false)),
        (
            "/microservices/ingesterUrl",
            json!("http://loki-distributor:3100/"),
        ),
        (
            "/microservices/querierUrl",
            json!("http://loki-query-frontend:3100/"),
        ),
        ("/microservices/tenantID", json!("netobserv")),
        ("/monolithic/installDemoLoki", json!(false)),
        ("/monolithic/url", json!("http://loki:3100/")),
        ("/monolithic/tenantID", json!("netobserv")),
        ("/lokiStack/name", json!("loki")),
        ("/lokiStack/namespace", Value::Null),
        ("/readTimeout", json!("30s")),
        ("/writeTimeout", json!("10s")),
        ("/writeBatchWait", json!("1s")),
        ("/writeBatchSize", json!(10_485_760)),
        ("/advanced", Value::Null),
    ]);
    check_defaults::<AdvancedLokiConfig>(&[
        ("/writeMinBackoff", json!("1s")),
        ("/writeMaxBackoff", json!("5s")),
        ("/writeMaxRetries", json!(2)),
        ("/staticLabels", json!({"app": "netobserv-flowcollector"})),
        ("/excludeLabels", Value::Null),
    ]);
}

#[test]
fn kafka_and_exporter_defaults() {
    check_defaults::<FlowCollectorKafka>(&[
        ("/address", json!("")),
        ("/topic", json!("")),
        ("/tls/enable", json!(false)),
        ("/tls/insecureSkipVerify", json!(false)),
        ("/sasl/type", json!("Disabled")),
        ("/compression", json!("lz4")),
    ]);
    check_defaults::<FlowCollectorIpfixReceiver>(&[
        ("/targetHost", json!("")),
        ("/targetPort", json!(4739)),
        ("/transport", Value::Null),
        ("/enterpriseID", json!(2)),
    ]);
    check_defaults::<FlowCollectorOpenTelemetry>(&[
        ("/targetHost", json!("")),
        ("/targetPort", json!(4317)),
        ("/protocol", Value::Null),
        ("/headers", Value::Null),
        ("/tls/enable", json!(false)),
        ("/fieldsMapping", Value::Null),
        ("/logs/enable", json!(true)),
        ("/metrics/enable", json!(true)),
        ("/metrics/pushTimeInterval", json!("20s")),
    ]);
    check_defaults::<FlowCollectorExporter>(&[
        ("/kafka", Value::Null),
        ("/ipfix", Value::Null),
        ("/openTelemetry", Value::Null),
    ]);
}

#[test]
fn console_and_prometheus_defaults() {
    check_defaults::<FlowCollectorConsolePlugin>(&[
        ("/enable", json!(true)),
        ("/standalone", Value::Null),
        ("/replicas", json!(1)),
        ("/unmanagedReplicas", json!(false)),
        ("/imagePullPolicy", json!("IfNotPresent")),
        (
            "/resources",
            json!({"requests": {"cpu": "100m", "memory": "50Mi"}, "limits": {"memory": "100Mi"}}),
        ),
        ("/logLevel", json!("info")),
        ("/autoscaler/status", json!("Disabled")),
        ("/autoscaler/maxReplicas", json!(3)),
        ("/portNaming", json!({"enable": true})),
        ("/quickFilters/0/name", json!("Applications")),
        ("/quickFilters/5/name", json!("External egress")),
        ("/quickFilters/6", Value::Null),
        ("/advanced", Value::Null),
    ]);
    check_defaults::<AdvancedPluginConfig>(&[
        ("/env", Value::Null),
        ("/args", Value::Null),
        ("/register", json!(true)),
        ("/port", json!(9001)),
        ("/scheduling", Value::Null),
    ]);
    check_defaults::<FlowCollectorPrometheus>(&[
        ("/querier/enable", json!(true)),
        ("/querier/mode", json!("Auto")),
        ("/querier/manual/url", json!("http://prometheus:9090")),
        ("/querier/manual/forwardUserToken", json!(false)),
        ("/querier/manual/tls/enable", json!(false)),
        ("/querier/manual/alertManager", Value::Null),
        ("/querier/timeout", json!("30s")),
    ]);
}

#[test]
fn default_quick_filters_match_reference() {
    let expected = json!([
        {"name": "Applications", "filter": {"flow_layer": "\"app\""}, "default": true},
        {"name": "Infrastructure", "filter": {"flow_layer": "\"infra\""}, "default": false},
        {"name": "Pods network", "filter": {"src_kind": "\"Pod\"", "dst_kind": "\"Pod\""}, "default": true},
        {"name": "Services network", "filter": {"dst_kind": "\"Service\""}, "default": false},
        {"name": "External ingress", "filter": {"src_subnet_label": "\"\",EXT:"}, "default": false},
        {"name": "External egress", "filter": {"dst_subnet_label": "\"\",EXT:"}, "default": false},
    ]);
    assert_eq!(
        serde_json::to_value(default_quick_filters()).unwrap(),
        expected
    );
    assert_eq!(
        FlowCollectorConsolePlugin::default().quick_filters,
        default_quick_filters()
    );
}

#[test]
fn default_health_rules_match_reference() {
    use HealthRuleGroupBy::{Global, Namespace, Node};
    use HealthRuleMode::{Alert, Recording};
    use HealthRuleTemplate as T;
    type Row = (
        HealthRuleTemplate,
        HealthRuleMode,
        Vec<(HealthRuleGroupBy, &'static str, &'static str, &'static str)>,
    );
    // (template, mode, [(groupBy, info, warning, lowVolumeThreshold)]), from the reference table.
    let table: Vec<Row> = vec![
        (
            T::PacketDropsByKernel,
            Recording,
            vec![(Namespace, "10", "20", "5"), (Node, "5", "15", "")],
        ),
        (T::PacketDropsByDevice, Alert, vec![(Node, "5", "10", "")]),
        (
            T::IpsecErrors,
            Alert,
            vec![(Global, "", "2", ""), (Node, "", "2", "")],
        ),
        (
            T::DnsErrors,
            Alert,
            vec![(Global, "", "5", ""), (Namespace, "5", "10", "")],
        ),
        (T::DnsNxDomain, Recording, vec![(Namespace, "10", "80", "")]),
        (T::NetpolDenied, Recording, vec![(Namespace, "5", "10", "")]),
        (
            T::LatencyHighTrend,
            Recording,
            vec![(Namespace, "100", "", "")],
        ),
        (
            T::ExternalEgressHighTrend,
            Recording,
            vec![(Node, "", "200", ""), (Namespace, "100", "500", "")],
        ),
        (
            T::ExternalIngressHighTrend,
            Recording,
            vec![(Node, "", "200", ""), (Namespace, "100", "500", "")],
        ),
        (
            T::Ingress5xxErrors,
            Recording,
            vec![(Namespace, "5", "10", "")],
        ),
        (
            T::IngressHttpLatencyTrend,
            Recording,
            vec![(Namespace, "100", "200", "")],
        ),
    ];
    let rules = default_health_rules();
    assert_eq!(rules.len(), table.len());
    for (rule, (template, mode, variants)) in rules.iter().zip(&table) {
        assert_eq!(rule.template, *template);
        assert_eq!(rule.mode, *mode, "{template}");
        assert_eq!(rule.variants.len(), variants.len(), "{template}");
        let trend = template.as_str().contains("Trend");
        for (v, (group_by, info, warning, low)) in rule.variants.iter().zip(variants) {
            assert_eq!(v.group_by, *group_by, "{template}");
            assert_eq!(v.thresholds.info, *info, "{template} info");
            assert_eq!(v.thresholds.warning, *warning, "{template} warning");
            assert_eq!(v.thresholds.critical, "", "{template} critical");
            assert_eq!(v.low_volume_threshold, *low, "{template} lowVolume");
            assert_eq!(v.mode, None, "{template}");
            let (offset, duration) = if trend {
                (Some("24h"), Some("1h"))
            } else {
                (None, None)
            };
            assert_eq!(v.trend_offset.as_deref(), offset, "{template}");
            assert_eq!(v.trend_duration.as_deref(), duration, "{template}");
        }
        // Defaults never use the alert-only templates, and every threshold parses.
        assert!(!rule.template.is_alert_only());
        for v in &rule.variants {
            for t in [&v.thresholds.info, &v.thresholds.warning] {
                assert!(t.is_empty() || t.parse::<f64>().is_ok());
            }
        }
    }
    // The defaults serialise to what a user would write in `healthRules`.
    let json = serde_json::to_value(&rules[0]).unwrap();
    assert_eq!(
        json,
        json!({
            "template": "PacketDropsByKernel",
            "mode": "Recording",
            "variants": [
                {"lowVolumeThreshold": "5", "thresholds": {"info": "10", "warning": "20"}, "groupBy": "Namespace"},
                {"thresholds": {"info": "5", "warning": "15"}, "groupBy": "Node"},
            ],
        })
    );
}

#[test]
fn default_include_lists() {
    let names = |loki| -> Vec<&str> {
        default_include_list(loki)
            .into_iter()
            .map(FlpMetric::as_str)
            .collect()
    };
    assert_eq!(
        names(true),
        vec![
            "node_ingress_bytes_total",
            "node_egress_bytes_total",
            "node_ingress_packets_total",
            "node_drop_packets_total",
            "workload_sampling",
            "workload_ingress_bytes_total",
            "workload_egress_bytes_total",
            "namespace_flows_total",
            "namespace_ingress_packets_total",
            "namespace_drop_packets_total",
            "namespace_rtt_seconds",
            "namespace_dns_latency_seconds",
            "namespace_network_policy_events_total",
            "node_ipsec_flows_total",
            "node_to_node_ingress_flows_total",
        ]
    );
    assert_eq!(
        names(false),
        vec![
            "node_ingress_bytes_total",
            "node_egress_bytes_total",
            "node_ingress_packets_total",
            "node_drop_packets_total",
            "workload_ingress_bytes_total",
            "workload_egress_bytes_total",
            "workload_sampling",
            "workload_ingress_packets_total",
            "workload_egress_packets_total",
            "workload_flows_total",
            "workload_drop_bytes_total",
            "workload_drop_packets_total",
            "workload_rtt_seconds",
            "workload_dns_latency_seconds",
            "namespace_network_policy_events_total",
            "node_ipsec_flows_total",
            "node_to_node_ingress_flows_total",
        ]
    );
}

#[test]
fn metric_and_template_names_match_serde() {
    // 34 upstream names plus `workload_sampling`, which the default lists use.
    assert_eq!(FlpMetric::ALL.len(), 35);
    for m in FlpMetric::ALL {
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
        let back: FlpMetric = serde_json::from_value(json!(m.as_str())).unwrap();
        assert_eq!(back, *m);
    }
    assert_eq!(HealthRuleTemplate::ALL.len(), 13);
    for t in HealthRuleTemplate::ALL {
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
    }
}

/// Round trip of a manifest that sets every field of the sections, so renames and skips are
/// checked both ways.
#[test]
fn round_trip_full_sections() {
    let processor = json!({
        "imagePullPolicy": "Always",
        "metrics": {
            "server": {"port": 9999, "tls": {"type": "Auto", "insecureSkipVerify": false}},
            "includeList": ["node_ingress_bytes_total", "workload_ipsec_flows_total"],
            "additionalIncludeList": ["node_to_node_ingress_flows_total"],
            "disableAlerts": ["NetObservNoFlows", "IPsecErrors"],
            "healthRules": [{
                "template": "IngressHTTPLatencyTrend",
                "mode": "Alert",
                "variants": [{
                    "lowVolumeThreshold": "1.5",
                    "thresholds": {"info": "1", "warning": "2", "critical": "3"},
                    "groupBy": "Namespace",
                    "trendOffset": "2h",
                    "trendDuration": "30m",
                    "mode": "Recording",
                }],
            }],
        },
        "logLevel": "debug",
        "resources": {"limits": {"memory": "1Gi"}},
        "kafkaConsumerReplicas": 5,
        "kafkaConsumerAutoscaler": {"status": "Enabled", "minReplicas": 1, "maxReplicas": 4},
        "consumerReplicas": 2,
        "unmanagedReplicas": true,
        "kafkaConsumerQueueCapacity": 500,
        "kafkaConsumerBatchSize": 1024,
        "logTypes": "EndedConversations",
        "clusterName": "east",
        "multiClusterDeployment": true,
        "addZone": true,
        "subnetLabels": {
            "openShiftAutoDetect": false,
            "customLabels": [{"cidrs": ["1.2.3.4/32"], "name": "EXT:web"}],
        },
        "deduper": {"mode": "Sample", "sampling": 10},
        "filters": [
            {"query": "SrcK8S_Namespace=\"a\"", "outputTarget": "Loki", "sampling": 5},
            {"query": "true"},
        ],
        "slicesConfig": {"enable": true, "collectionMode": "AllowList", "namespacesAllowList": ["/openshift-.*/"]},
        "service": {"tlsType": "Auto-mTLS", "providedCertificates": {"caFile": {"type": "secret", "name": "ca", "namespace": "", "file": "ca.crt"}}},
        "advanced": {
            "env": {"GOGC": "200"},
            "port": 3000,
            "healthPort": 8081,
            "profilePort": 6060,
            "enableKubeProbes": false,
            "dropUnusedFields": false,
            "conversationHeartbeatInterval": "1m",
            "conversationEndTimeout": "20s",
            "conversationTerminatingTimeout": "3s",
            "scheduling": {"nodeSelector": {"a": "b"}},
            "secondaryNetworks": [{"name": "net1", "index": ["MAC", "IP", "Interface"]}],
        },
    });
    round_trip::<FlowCollectorFlp>(processor);

    let loki = json!({
        "enable": false,
        "mode": "LokiStack",
        "manual": {
            "ingesterUrl": "https://i/", "querierUrl": "https://q/", "statusUrl": "https://s/",
            "tenantID": "t", "authToken": "Forward",
            "tls": {"enable": true, "insecureSkipVerify": true, "caCert": {"namespace": ""}, "userCert": {"namespace": ""}},
            "statusTls": {"enable": false, "insecureSkipVerify": false, "caCert": {"namespace": ""}, "userCert": {"namespace": ""}},
        },
        "microservices": {"ingesterUrl": "http://d/", "querierUrl": "http://f/", "tenantID": "x",
            "tls": {"enable": false, "insecureSkipVerify": false, "caCert": {"namespace": ""}, "userCert": {"namespace": ""}}},
        "monolithic": {"installDemoLoki": true, "url": "http://m/", "tenantID": "y",
            "tls": {"enable": false, "insecureSkipVerify": false, "caCert": {"namespace": ""}, "userCert": {"namespace": ""}}},
        "lokiStack": {"name": "ls", "namespace": "logs"},
        "readTimeout": "1m", "writeTimeout": "2s", "writeBatchWait": "3s", "writeBatchSize": 100,
        "advanced": {"writeMinBackoff": "2s", "writeMaxBackoff": "9s", "writeMaxRetries": 0,
            "staticLabels": {"x": "y"}, "excludeLabels": ["SrcK8S_Namespace"]},
    });
    round_trip::<FlowCollectorLoki>(loki);

    let tls = json!({"enable": false, "insecureSkipVerify": false, "caCert": {"namespace": ""}, "userCert": {"namespace": ""}});
    let kafka = json!({
        "address": "kafka:9092", "topic": "flows", "tls": tls,
        "sasl": {"type": "Plain", "clientIDReference": {"namespace": ""}, "clientSecretReference": {"namespace": ""}},
        "compression": "zstd",
    });
    round_trip::<FlowCollectorKafka>(kafka.clone());
    round_trip::<Vec<FlowCollectorExporter>>(json!([
        {"type": "Kafka", "kafka": kafka},
        {"type": "IPFIX", "ipfix": {"targetHost": "h", "targetPort": 1, "transport": "UDP", "enterpriseID": 7}},
        {"type": "OpenTelemetry", "openTelemetry": {
            "targetHost": "otel", "targetPort": 4318, "protocol": "http", "headers": {"k": "v"},
            "tls": tls,
            "fieldsMapping": [{"input": "Bytes", "output": "bytes", "multiplier": 8}, {"input": "A"}],
            "logs": {"enable": false},
            "metrics": {"enable": false, "pushTimeInterval": "1m"},
        }},
    ]));

    round_trip::<FlowCollectorConsolePlugin>(json!({
        "enable": false, "standalone": true, "replicas": 0, "unmanagedReplicas": true,
        "imagePullPolicy": "Never", "resources": {}, "logLevel": "error",
        "autoscaler": {"status": "Disabled", "maxReplicas": 3},
        "portNaming": {"enable": false, "portNames": {"3100": "loki"}},
        "quickFilters": [],
        "advanced": {"env": {"A": "b"}, "args": ["-x"], "register": false, "port": 9003,
            "scheduling": {"priorityClassName": "high"}},
    }));
    round_trip::<FlowCollectorPrometheus>(json!({
        "querier": {"enable": false, "mode": "Manual", "timeout": "5s",
            "manual": {"url": "https://p:9091", "tls": tls, "forwardUserToken": true,
                "alertManager": {"url": "https://am:9093", "tls": tls}}},
    }));

    // Defaults survive a trip through JSON.
    round_trip::<FlowCollectorFlp>(serde_json::to_value(FlowCollectorFlp::default()).unwrap());
    round_trip::<FlowCollectorLoki>(serde_json::to_value(FlowCollectorLoki::default()).unwrap());
    round_trip::<FlowCollectorConsolePlugin>(
        serde_json::to_value(FlowCollectorConsolePlugin::default()).unwrap(),
    );
    round_trip::<Vec<FlpHealthRule>>(serde_json::to_value(default_health_rules()).unwrap());
}

fn round_trip<T: Serialize + DeserializeOwned>(input: Value) {
    let typed: T = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), input);
}

#[test]
fn unknown_enum_values_are_rejected() {
    let bad = json!({"logTypes": "Sometimes"});
    assert!(serde_json::from_value::<FlowCollectorFlp>(bad).is_err());
    let bad = json!({"compression": "brotli"});
    assert!(serde_json::from_value::<FlowCollectorKafka>(bad).is_err());
}

/// Schema details of these sections in the generated CRD: required fields, fields that must
/// carry no default, and the enum of `healthRules[].template`.
#[test]
fn crd_schema_of_sections() {
    let crd = serde_json::to_value(FlowCollector::crd()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    let required = |schema: &Value| -> Vec<String> {
        let mut list: Vec<String> = schema["required"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        list.sort();
        list
    };

    let processor = &spec["processor"]["properties"];
    let rule = &processor["metrics"]["properties"]["healthRules"]["items"];
    assert_eq!(required(rule), vec!["template", "variants"]);
    let template = &rule["properties"]["template"];
    assert!(template.get("default").is_none());
    assert_eq!(template["enum"].as_array().unwrap().len(), 11);
    assert!(
        !template["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("NetObservNoFlows"))
    );
    assert_eq!(rule["properties"]["mode"]["default"], json!("Alert"));
    let variant = &rule["properties"]["variants"]["items"];
    assert_eq!(required(variant), vec!["thresholds"]);
    assert!(variant["properties"]["thresholds"].get("default").is_none());
    let group_by = variant["properties"]["groupBy"]["enum"].as_array().unwrap();
    assert!(group_by.contains(&json!("")));
    let disable = &processor["metrics"]["properties"]["disableAlerts"]["items"]["enum"];
    assert_eq!(disable.as_array().unwrap().len(), 13);
    let include = &processor["metrics"]["properties"]["includeList"]["items"]["enum"];
    assert_eq!(include.as_array().unwrap().len(), 35);

    assert_eq!(processor["kafkaConsumerReplicas"]["default"], json!(3));
    assert_eq!(
        processor["kafkaConsumerReplicas"]["minimum"].as_f64(),
        Some(0.0)
    );
    assert!(processor["consumerReplicas"].get("default").is_none());
    assert_eq!(processor["logTypes"]["default"], json!("Flows"));
    let advanced = &processor["advanced"];
    assert!(advanced.get("default").is_none());
    assert_eq!(
        advanced["properties"]["port"]["minimum"].as_f64(),
        Some(1025.0)
    );
    assert_eq!(
        advanced["properties"]["port"]["maximum"].as_f64(),
        Some(65535.0)
    );
    assert_eq!(
        advanced["properties"]["profilePort"]["minimum"].as_f64(),
        Some(0.0)
    );
    assert_eq!(
        required(&advanced["properties"]["secondaryNetworks"]["items"]),
        // `name` is deprecated and optional (operator.md §1.5): manifests without it must apply.
        vec!["index"]
    );
    let label = &processor["subnetLabels"]["properties"]["customLabels"]["items"];
    assert_eq!(required(label), vec!["cidrs", "name"]);
    assert_eq!(
        label["properties"]["name"]["pattern"],
        json!("^[a-zA-Z_:-][a-zA-Z0-9_:-]*$")
    );
    assert_eq!(required(&processor["slicesConfig"]), vec!["enable"]);
    assert_eq!(required(&processor["service"]), vec!["tlsType"]);
    assert_eq!(
        processor["service"]["properties"]["tlsType"]["enum"],
        json!(["Disabled", "Provided", "Auto", "Auto-mTLS"])
    );

    assert_eq!(required(&spec["loki"]), vec!["mode"]);
    assert_eq!(
        required(&spec["loki"]["properties"]["lokiStack"]),
        vec!["name"]
    );
    assert_eq!(
        spec["loki"]["properties"]["writeBatchSize"]["minimum"].as_f64(),
        Some(1.0)
    );
    assert_eq!(required(&spec["kafka"]), vec!["address", "topic"]);
    let exporter = &spec["exporters"]["items"];
    assert_eq!(required(exporter), vec!["type"]);
    assert!(exporter["properties"]["type"].get("default").is_none());
    assert_eq!(
        required(&exporter["properties"]["ipfix"]),
        vec!["enterpriseID", "targetHost", "targetPort"]
    );
    assert_eq!(
        required(&exporter["properties"]["openTelemetry"]),
        vec!["targetHost", "targetPort"]
    );
    assert_eq!(
        required(&spec["prometheus"]["properties"]["querier"]),
        vec!["mode"]
    );
    let quick = &spec["consolePlugin"]["properties"]["quickFilters"];
    assert_eq!(required(&quick["items"]), vec!["filter", "name"]);
    assert_eq!(quick["default"].as_array().unwrap().len(), 6);
}
