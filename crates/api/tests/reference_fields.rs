//! The FlowCollector field list of `shared/reference/operator.md` §1.2–§1.8 and §1.11, written
//! out by hand from the reference (not from our types), and checked three ways against the code:
//! every path exists in the generated CRD schema, the CRD's `default:` values applied to an empty
//! spec give the reference default (the API server's view), and the Rust `Default` gives the same
//! (the operator's view).

use netobserv_api::crd;
use netobserv_api::v1beta2::FlowCollectorSpec;
use serde_json::{Value, json};

/// `(path under spec, reference default)`. `[]` steps into array items, `{}` into map values.
/// `None` means the reference gives no default for the field.
type ReferenceField = (&'static str, Option<Value>);

/// Every FlowCollector field of the reference, one table per section in the reference's order,
/// so that each table can be checked against its section alone.
fn reference_fields() -> Vec<ReferenceField> {
    [
        top_level_fields(),
        agent_fields(),
        processor_fields(),
        loki_fields(),
        kafka_and_exporter_fields(),
        console_plugin_and_prometheus_fields(),
    ]
    .concat()
}

/// §1.3: the top level of the spec.
fn top_level_fields() -> Vec<ReferenceField> {
    vec![
        ("namespace", Some(json!("netobserv"))),
        ("deploymentModel", Some(json!("Service"))),
        ("networkPolicy.enable", None),
        ("networkPolicy.additionalNamespaces", None),
        ("execution.mode", Some(json!("Running"))),
    ]
}

/// §1.4: the agents (IPFIX and eBPF).
fn agent_fields() -> Vec<ReferenceField> {
    vec![
        ("agent.type", Some(json!("eBPF"))),
        ("agent.ipfix.cacheActiveTimeout", Some(json!("20s"))),
        ("agent.ipfix.cacheMaxFlows", Some(json!(400))),
        ("agent.ipfix.sampling", Some(json!(400))),
        ("agent.ipfix.forceSampleAll", Some(json!(false))),
        (
            "agent.ipfix.clusterNetworkOperator.namespace",
            Some(json!("openshift-network-operator")),
        ),
        (
            "agent.ipfix.ovnKubernetes.namespace",
            Some(json!("ovn-kubernetes")),
        ),
        (
            "agent.ipfix.ovnKubernetes.daemonSetName",
            Some(json!("ovnkube-node")),
        ),
        (
            "agent.ipfix.ovnKubernetes.containerName",
            Some(json!("ovnkube-node")),
        ),
        ("agent.ebpf.imagePullPolicy", Some(json!("IfNotPresent"))),
        (
            "agent.ebpf.resources",
            Some(
                json!({"requests": {"cpu": "100m", "memory": "50Mi"}, "limits": {"memory": "800Mi"}}),
            ),
        ),
        ("agent.ebpf.sampling", Some(json!(50))),
        ("agent.ebpf.cacheActiveTimeout", Some(json!("15s"))),
        ("agent.ebpf.cacheMaxFlows", Some(json!(120000))),
        ("agent.ebpf.interfaces", None),
        ("agent.ebpf.excludeInterfaces", Some(json!(["lo"]))),
        ("agent.ebpf.logLevel", Some(json!("info"))),
        ("agent.ebpf.privileged", Some(json!(false))),
        ("agent.ebpf.kafkaBatchSize", Some(json!(1048576))),
        ("agent.ebpf.features", None),
        ("agent.ebpf.metrics.enable", None),
        ("agent.ebpf.metrics.server.port", None),
        (
            "agent.ebpf.metrics.server.tls.type",
            Some(json!("Disabled")),
        ),
        ("agent.ebpf.metrics.server.tls.provided.type", None),
        ("agent.ebpf.metrics.server.tls.provided.name", None),
        ("agent.ebpf.metrics.server.tls.provided.namespace", None),
        ("agent.ebpf.metrics.server.tls.provided.certFile", None),
        ("agent.ebpf.metrics.server.tls.provided.certKey", None),
        (
            "agent.ebpf.metrics.server.tls.insecureSkipVerify",
            Some(json!(false)),
        ),
        ("agent.ebpf.metrics.server.tls.providedCaFile.type", None),
        ("agent.ebpf.metrics.server.tls.providedCaFile.name", None),
        (
            "agent.ebpf.metrics.server.tls.providedCaFile.namespace",
            None,
        ),
        ("agent.ebpf.metrics.server.tls.providedCaFile.file", None),
        ("agent.ebpf.metrics.disableAlerts", None),
        ("agent.ebpf.flowFilter.enable", None),
        ("agent.ebpf.flowFilter.cidr", None),
        ("agent.ebpf.flowFilter.action", None),
        ("agent.ebpf.flowFilter.rules", None),
        ("agent.ebpf.flowFilter.rules[].cidr", None),
        ("agent.ebpf.flowFilter.rules[].action", None),
        ("agent.ebpf.flowFilter.rules[].protocol", None),
        ("agent.ebpf.flowFilter.rules[].direction", None),
        ("agent.ebpf.flowFilter.rules[].tcpFlags", None),
        ("agent.ebpf.flowFilter.rules[].sourcePorts", None),
        ("agent.ebpf.flowFilter.rules[].destPorts", None),
        ("agent.ebpf.flowFilter.rules[].ports", None),
        ("agent.ebpf.flowFilter.rules[].peerIP", None),
        ("agent.ebpf.flowFilter.rules[].peerCIDR", None),
        ("agent.ebpf.flowFilter.rules[].icmpCode", None),
        ("agent.ebpf.flowFilter.rules[].icmpType", None),
        ("agent.ebpf.flowFilter.rules[].pktDrops", None),
        ("agent.ebpf.flowFilter.rules[].sampling", None),
        ("agent.ebpf.advanced.env", None),
        ("agent.ebpf.advanced.scheduling.tolerations", None),
        ("agent.ebpf.advanced.scheduling.nodeSelector", None),
        ("agent.ebpf.advanced.scheduling.affinity", None),
        ("agent.ebpf.advanced.scheduling.priorityClassName", None),
        ("agent.ebpf.advanced.capOverride", None),
    ]
}

/// §1.5: the processor.
fn processor_fields() -> Vec<ReferenceField> {
    vec![
        ("processor.imagePullPolicy", Some(json!("IfNotPresent"))),
        ("processor.logLevel", Some(json!("info"))),
        (
            "processor.resources",
            Some(
                json!({"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"memory": "800Mi"}}),
            ),
        ),
        ("processor.consumerReplicas", None),
        ("processor.unmanagedReplicas", Some(json!(false))),
        ("processor.kafkaConsumerReplicas", Some(json!(3))),
        (
            "processor.kafkaConsumerAutoscaler.status",
            Some(json!("Disabled")),
        ),
        ("processor.kafkaConsumerAutoscaler.minReplicas", None),
        (
            "processor.kafkaConsumerAutoscaler.maxReplicas",
            Some(json!(3)),
        ),
        ("processor.kafkaConsumerAutoscaler.metrics", None),
        ("processor.kafkaConsumerQueueCapacity", Some(json!(1000))),
        ("processor.kafkaConsumerBatchSize", Some(json!(10485760))),
        ("processor.logTypes", Some(json!("Flows"))),
        ("processor.clusterName", Some(json!(""))),
        ("processor.multiClusterDeployment", Some(json!(false))),
        ("processor.addZone", None),
        ("processor.subnetLabels.openShiftAutoDetect", None),
        ("processor.subnetLabels.customLabels[].cidrs", None),
        ("processor.subnetLabels.customLabels[].name", None),
        ("processor.deduper.mode", Some(json!("Disabled"))),
        ("processor.deduper.sampling", Some(json!(50))),
        ("processor.filters[].query", None),
        ("processor.filters[].outputTarget", None),
        ("processor.filters[].sampling", None),
        ("processor.slicesConfig.enable", Some(json!(false))),
        (
            "processor.slicesConfig.collectionMode",
            Some(json!("AlwaysCollect")),
        ),
        ("processor.slicesConfig.namespacesAllowList", None),
        ("processor.metrics.server.port", None),
        ("processor.metrics.server.tls.type", Some(json!("Disabled"))),
        ("processor.metrics.includeList", None),
        ("processor.metrics.additionalIncludeList", None),
        ("processor.metrics.disableAlerts", None),
        ("processor.metrics.healthRules", None),
        ("processor.service.tlsType", Some(json!("Auto"))),
        (
            "processor.service.providedCertificates.clientCert.name",
            None,
        ),
        (
            "processor.service.providedCertificates.serverCert.name",
            None,
        ),
        ("processor.service.providedCertificates.caFile.file", None),
        ("processor.advanced.env", None),
        ("processor.advanced.port", Some(json!(2055))),
        ("processor.advanced.healthPort", Some(json!(8080))),
        ("processor.advanced.profilePort", None),
        ("processor.advanced.enableKubeProbes", Some(json!(true))),
        ("processor.advanced.dropUnusedFields", Some(json!(true))),
        (
            "processor.advanced.conversationHeartbeatInterval",
            Some(json!("30s")),
        ),
        (
            "processor.advanced.conversationEndTimeout",
            Some(json!("10s")),
        ),
        (
            "processor.advanced.conversationTerminatingTimeout",
            Some(json!("5s")),
        ),
        ("processor.advanced.scheduling.tolerations", None),
        ("processor.advanced.secondaryNetworks[].name", None),
        ("processor.advanced.secondaryNetworks[].index", None),
    ]
}

/// §1.6: the Loki client, in every mode.
fn loki_fields() -> Vec<ReferenceField> {
    vec![
        ("loki.enable", Some(json!(true))),
        ("loki.mode", Some(json!("Monolithic"))),
        ("loki.manual.ingesterUrl", Some(json!("http://loki:3100/"))),
        ("loki.manual.querierUrl", Some(json!("http://loki:3100/"))),
        ("loki.manual.statusUrl", None),
        ("loki.manual.tenantID", Some(json!("netobserv"))),
        ("loki.manual.authToken", Some(json!("Disabled"))),
        ("loki.manual.tls.enable", Some(json!(false))),
        ("loki.manual.tls.insecureSkipVerify", Some(json!(false))),
        ("loki.manual.tls.caCert.name", None),
        ("loki.manual.tls.userCert.certKey", None),
        ("loki.manual.statusTls.enable", Some(json!(false))),
        (
            "loki.microservices.ingesterUrl",
            Some(json!("http://loki-distributor:3100/")),
        ),
        (
            "loki.microservices.querierUrl",
            Some(json!("http://loki-query-frontend:3100/")),
        ),
        ("loki.microservices.tenantID", Some(json!("netobserv"))),
        ("loki.microservices.tls.enable", Some(json!(false))),
        ("loki.monolithic.installDemoLoki", Some(json!(false))),
        ("loki.monolithic.url", Some(json!("http://loki:3100/"))),
        ("loki.monolithic.tenantID", Some(json!("netobserv"))),
        ("loki.monolithic.tls.enable", Some(json!(false))),
        ("loki.lokiStack.name", Some(json!("loki"))),
        ("loki.lokiStack.namespace", None),
        ("loki.readTimeout", Some(json!("30s"))),
        ("loki.writeTimeout", Some(json!("10s"))),
        ("loki.writeBatchWait", Some(json!("1s"))),
        ("loki.writeBatchSize", Some(json!(10485760))),
        ("loki.advanced.writeMinBackoff", Some(json!("1s"))),
        ("loki.advanced.writeMaxBackoff", Some(json!("5s"))),
        ("loki.advanced.writeMaxRetries", Some(json!(2))),
        (
            "loki.advanced.staticLabels",
            Some(json!({"app": "netobserv-flowcollector"})),
        ),
        ("loki.advanced.excludeLabels", None),
    ]
}

/// §1.7: Kafka and the exporters.
fn kafka_and_exporter_fields() -> Vec<ReferenceField> {
    vec![
        ("kafka.address", Some(json!(""))),
        ("kafka.topic", Some(json!(""))),
        ("kafka.tls.enable", Some(json!(false))),
        ("kafka.sasl.type", Some(json!("Disabled"))),
        ("kafka.sasl.clientIDReference.file", None),
        ("kafka.sasl.clientSecretReference.file", None),
        ("kafka.compression", Some(json!("lz4"))),
        // Given by the test input (see `spec_with_optional_sections`): required, no default.
        ("exporters[].type", Some(json!("Kafka"))),
        ("exporters[].kafka.address", Some(json!(""))),
        ("exporters[].kafka.topic", Some(json!(""))),
        ("exporters[].ipfix.targetHost", Some(json!(""))),
        ("exporters[].ipfix.targetPort", Some(json!(4739))),
        ("exporters[].ipfix.transport", None),
        ("exporters[].ipfix.enterpriseID", Some(json!(2))),
        ("exporters[].openTelemetry.targetHost", Some(json!(""))),
        ("exporters[].openTelemetry.targetPort", Some(json!(4317))),
        ("exporters[].openTelemetry.protocol", None),
        ("exporters[].openTelemetry.headers", None),
        ("exporters[].openTelemetry.tls.enable", Some(json!(false))),
        ("exporters[].openTelemetry.fieldsMapping[].input", None),
        ("exporters[].openTelemetry.fieldsMapping[].output", None),
        ("exporters[].openTelemetry.fieldsMapping[].multiplier", None),
        ("exporters[].openTelemetry.logs.enable", Some(json!(true))),
        (
            "exporters[].openTelemetry.metrics.enable",
            Some(json!(true)),
        ),
        (
            "exporters[].openTelemetry.metrics.pushTimeInterval",
            Some(json!("20s")),
        ),
    ]
}

/// §1.8: the console plugin and Prometheus.
fn console_plugin_and_prometheus_fields() -> Vec<ReferenceField> {
    vec![
        ("consolePlugin.enable", Some(json!(true))),
        ("consolePlugin.standalone", None),
        ("consolePlugin.replicas", Some(json!(1))),
        ("consolePlugin.unmanagedReplicas", Some(json!(false))),
        ("consolePlugin.imagePullPolicy", Some(json!("IfNotPresent"))),
        (
            "consolePlugin.resources",
            Some(
                json!({"requests": {"cpu": "100m", "memory": "50Mi"}, "limits": {"memory": "100Mi"}}),
            ),
        ),
        ("consolePlugin.logLevel", Some(json!("info"))),
        ("consolePlugin.autoscaler.status", Some(json!("Disabled"))),
        ("consolePlugin.portNaming.enable", Some(json!(true))),
        ("consolePlugin.portNaming.portNames", None),
        // The six default quick filters of §1.8 (values are console filter expressions, quoted).
        (
            "consolePlugin.quickFilters",
            Some(json!([
                {"name": "Applications", "filter": {"flow_layer": "\"app\""}, "default": true},
                {"name": "Infrastructure", "filter": {"flow_layer": "\"infra\""}, "default": false},
                {"name": "Pods network", "filter": {"src_kind": "\"Pod\"", "dst_kind": "\"Pod\""}, "default": true},
                {"name": "Services network", "filter": {"dst_kind": "\"Service\""}, "default": false},
                {"name": "External ingress", "filter": {"src_subnet_label": "\"\",EXT:"}, "default": false},
                {"name": "External egress", "filter": {"dst_subnet_label": "\"\",EXT:"}, "default": false},
            ])),
        ),
        (
            "consolePlugin.quickFilters[].name",
            Some(json!("Applications")),
        ),
        (
            "consolePlugin.quickFilters[].filter",
            Some(json!({"flow_layer": "\"app\""})),
        ),
        ("consolePlugin.quickFilters[].default", Some(json!(true))),
        ("consolePlugin.advanced.env", None),
        ("consolePlugin.advanced.args", None),
        ("consolePlugin.advanced.register", Some(json!(true))),
        ("consolePlugin.advanced.port", Some(json!(9001))),
        ("consolePlugin.advanced.scheduling.nodeSelector", None),
        ("prometheus.querier.enable", Some(json!(true))),
        ("prometheus.querier.mode", Some(json!("Auto"))),
        (
            "prometheus.querier.manual.url",
            Some(json!("http://prometheus:9090")),
        ),
        ("prometheus.querier.manual.tls.enable", Some(json!(false))),
        ("prometheus.querier.manual.forwardUserToken", None),
        ("prometheus.querier.manual.alertManager.url", None),
        (
            "prometheus.querier.manual.alertManager.tls.enable",
            Some(json!(false)),
        ),
        ("prometheus.querier.timeout", Some(json!("30s"))),
    ]
}

/// Status fields of §1.11 (no defaults: the operator writes them).
const STATUS_FIELDS: &[&str] = &[
    "conditions",
    "namespace",
    "components.agent.state",
    "components.agent.reason",
    "components.agent.message",
    "components.agent.desiredReplicas",
    "components.agent.readyReplicas",
    "components.agent.unhealthyPodCount",
    "components.agent.podIssues",
    "components.processor.state",
    "components.plugin.state",
    "integrations.loki.state",
    "integrations.monitoring.state",
    "integrations.exporters[].name",
    "integrations.exporters[].type",
    "integrations.exporters[].state",
    "integrations.exporters[].reason",
    "integrations.exporters[].message",
];

/// Finds the schema of `path` under `schema` (an object schema), stepping through `[]` items.
fn schema_at<'a>(mut schema: &'a Value, path: &str) -> Option<&'a Value> {
    for step in path.split('.') {
        let (name, items) = match step.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (step, false),
        };
        schema = schema.get("properties")?.get(name)?;
        if items {
            schema = schema.get("items")?;
        }
    }
    Some(schema)
}

/// Reads `path` in a defaulted object; array steps look at the first item.
fn value_at<'a>(mut value: &'a Value, path: &str) -> Option<&'a Value> {
    for step in path.split('.') {
        match step.strip_suffix("[]") {
            Some(name) => value = value.get(name)?.get(0)?,
            None => value = value.get(step)?,
        }
    }
    Some(value)
}

fn v1beta2_schema() -> Value {
    let crd = crd::flowcollector_crd().expect("CRD generates");
    crd::version_schema(&crd, "v1beta2").expect("v1beta2 schema")
}

/// A spec that opens every optional section (upstream pointers with no default of their own) and
/// holds one item in each array, so that the defaults of the fields inside them apply: the
/// reference lists those defaults for when the section is present.
fn spec_with_optional_sections() -> Value {
    json!({
        "processor": {"advanced": {}, "deduper": {}, "service": {}, "slicesConfig": {}},
        "loki": {"advanced": {}},
        "consolePlugin": {"advanced": {}},
        "prometheus": {"querier": {"manual": {"alertManager": {}}}},
        "exporters": [
            {"type": "Kafka", "kafka": {}, "ipfix": {}, "openTelemetry": {}},
        ],
    })
}

#[test]
fn every_reference_field_is_in_the_crd() {
    let schema = v1beta2_schema();
    let spec = schema_at(&schema, "spec").expect("spec");
    let status = schema_at(&schema, "status").expect("status");
    let missing: Vec<String> = reference_fields()
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| schema_at(spec, p).is_none())
        .map(|p| format!("spec.{p}"))
        .chain(
            STATUS_FIELDS
                .iter()
                .filter(|p| schema_at(status, p).is_none())
                .map(|p| format!("status.{p}")),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "fields missing from the CRD: {missing:#?}"
    );
}

#[test]
fn crd_defaults_on_an_empty_spec_are_the_reference_defaults() {
    let schema = v1beta2_schema();
    let spec_schema = schema_at(&schema, "spec").expect("spec");
    let mut spec = spec_with_optional_sections();
    crd::apply_schema_defaults(&mut spec, spec_schema);
    let mut wrong = Vec::new();
    for (path, expected) in reference_fields() {
        let got = value_at(&spec, path);
        let ok = matches_reference(expected.as_ref(), got);
        if !ok {
            wrong.push(format!(
                "{path}: reference {expected:?}, CRD defaulting gives {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn rust_defaults_are_the_reference_defaults() {
    let spec: FlowCollectorSpec =
        serde_json::from_value(spec_with_optional_sections()).expect("deserialises");
    let spec = serde_json::to_value(&spec).expect("serialises");
    let mut wrong = Vec::new();
    for (path, expected) in reference_fields() {
        let got = value_at(&spec, path);
        let ok = matches_reference(expected.as_ref(), got);
        if !ok {
            wrong.push(format!(
                "{path}: reference {expected:?}, Rust gives {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn crd_defaulting_and_rust_defaulting_agree_on_the_whole_spec() {
    let schema = v1beta2_schema();
    let mut from_crd = json!({});
    crd::apply_schema_defaults(&mut from_crd, schema_at(&schema, "spec").expect("spec"));
    let reparsed: FlowCollectorSpec = serde_json::from_value(from_crd.clone()).expect("parses");
    assert_eq!(
        reparsed,
        FlowCollectorSpec::default(),
        "CRD-defaulted spec: {from_crd:#}"
    );
    // And the Rust default, serialised, is what the API server would store for `spec: {}`.
    let from_rust = serde_json::to_value(FlowCollectorSpec::default()).expect("serialises");
    assert_eq!(from_rust, from_crd);
}

/// Whether a defaulted value agrees with the reference. A field the reference gives no default
/// may be absent or empty/false: both mean the same to the operator.
fn matches_reference(expected: Option<&Value>, got: Option<&Value>) -> bool {
    match (expected, got) {
        (Some(e), Some(g)) => e == g,
        (None, None) => true,
        (None, Some(g)) => is_empty_value(g),
        (Some(_), None) => false,
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

/// FlowMetric fields of reference §2.1, with their defaults.
fn flowmetric_fields() -> Vec<(&'static str, Option<Value>)> {
    vec![
        ("metricName", None),
        ("type", Some(json!("Counter"))),
        ("help", None),
        ("valueField", None),
        ("filters[].field", Some(json!("Proto"))),
        ("filters[].value", None),
        ("filters[].matchType", Some(json!("Equal"))),
        ("labels", None),
        ("flatten", None),
        ("remap", None),
        ("direction", Some(json!("Any"))),
        ("buckets", None),
        ("divider", None),
        ("charts[].dashboardName", Some(json!("Main"))),
        ("charts[].sectionName", None),
        ("charts[].title", Some(json!("t"))),
        ("charts[].unit", None),
        ("charts[].type", Some(json!("Line"))),
        (
            "charts[].queries[].promQL",
            Some(json!("sum(rate($METRIC[2m]))")),
        ),
        ("charts[].queries[].legend", Some(json!("l"))),
        ("charts[].queries[].top", Some(json!(7))),
    ]
}

#[test]
fn every_flowmetric_reference_field_is_in_the_crd_with_its_default() {
    let crd = crd::flowmetric_crd().expect("generates");
    let schema = crd::version_schema(&crd, "v1alpha1").expect("v1alpha1 schema");
    let spec_schema = schema_at(&schema, "spec").expect("spec");
    let status_schema = schema_at(&schema, "status").expect("status");
    // The required fields are given; everything else comes from CRD defaulting.
    let mut spec = json!({
        "type": "Counter",
        "filters": [{"field": "Proto"}],
        "charts": [{"title": "t", "type": "Line",
                    "queries": [{"promQL": "sum(rate($METRIC[2m]))", "legend": "l"}]}],
    });
    crd::apply_schema_defaults(&mut spec, spec_schema);
    let mut wrong = Vec::new();
    for (path, expected) in flowmetric_fields() {
        if schema_at(spec_schema, path).is_none() {
            wrong.push(format!("spec.{path} missing from the CRD"));
            continue;
        }
        let got = value_at(&spec, path);
        let ok = matches_reference(expected.as_ref(), got);
        if !ok {
            wrong.push(format!(
                "{path}: reference {expected:?}, CRD defaulting gives {got:?}"
            ));
        }
    }
    for path in ["conditions", "prometheusName"] {
        if schema_at(status_schema, path).is_none() {
            wrong.push(format!("status.{path} missing from the CRD"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
