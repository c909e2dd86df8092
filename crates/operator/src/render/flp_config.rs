//! The flowlogs-pipeline configuration (`pipeline` + `parameters`, reference
//! pipeline-console-cli.md §A), split in a static part (mounted file; its digest rolls the pods)
//! and a dynamic part (a ConfigMap the pipeline watches and hot-reloads: subnets, filters,
//! metrics), so that editing a filter or a FlowMetric does not restart the processors.

use super::Inputs;
use super::loki::LokiSettings;
use super::pod::Volumes;
use super::transport::{compression, processor_port, sasl_type};
use netobserv_api::v1beta2::{
    AgentFeature, ClientTls, DeploymentModel, ExporterType, FlpDeduperMode, FlpFilterSet,
    FlpFilterTarget, FlpLogTypes, IpfixTransport, LogLevel, LokiAuthToken, OpenTelemetryProtocol,
    SaslConfig, SaslType, SecondaryNetworkIndex, ServerTlsType,
};
use serde_json::{Map, Value, json};

/// Directory the static configuration is mounted at.
pub const CONFIG_DIR: &str = "/etc/flowlogs-pipeline";
/// File name of both configurations inside their ConfigMaps.
pub const CONFIG_FILE: &str = "config.json";
/// Projected ServiceAccount token the Loki client sends as bearer token.
pub const LOKI_TOKEN_PATH: &str = "/var/run/secrets/tokens/flowlogs-pipeline";
/// Port of the pipeline's Prometheus endpoint.
pub const PROMETHEUS_PORT: i32 = 9401;

/// A rendered configuration.
#[derive(Debug, Default)]
pub struct FlpConfig {
    /// Static part (file `config.json`).
    pub static_json: Value,
    /// Dynamic part (`{parameters: [...]}`).
    pub dynamic_json: Value,
    /// Volumes the configuration points into (certificates, tokens).
    pub volumes: Volumes,
    /// Whether a projected token must be mounted for the Loki client.
    pub needs_loki_token: bool,
}

#[derive(Default)]
struct Builder {
    pipeline: Vec<Value>,
    static_params: Vec<Value>,
    dynamic_params: Vec<Value>,
}

impl Builder {
    fn stage(&mut self, name: &str, follows: Option<&str>, param: Value, dynamic: bool) -> String {
        let mut entry = Map::new();
        entry.insert("name".into(), json!(name));
        if let Some(f) = follows {
            entry.insert("follows".into(), json!(f));
        }
        self.pipeline.push(Value::Object(entry));
        let mut p = Map::new();
        p.insert("name".into(), json!(name));
        if let Value::Object(m) = param {
            p.extend(m);
        }
        if dynamic {
            self.dynamic_params.push(Value::Object(p));
        } else {
            self.static_params.push(Value::Object(p));
        }
        name.to_string()
    }
}

/// Names of the pipeline workload's objects: the monolith (`flowlogs-pipeline`) or the Kafka
/// consumer (`flowlogs-pipeline-transformer`).
pub fn config_map_names(workload: &str) -> (String, String) {
    (
        format!("{workload}-config"),
        format!("{workload}-config-dynamic"),
    )
}

fn client_tls(volumes: &mut Volumes, prefix: &str, tls: &ClientTls) -> Value {
    if !tls.enable {
        return json!({});
    }
    let mut m = Map::new();
    m.insert("insecureSkipVerify".into(), json!(tls.insecure_skip_verify));
    if !tls.ca_cert.name.is_empty() {
        let (ca, _) = volumes.cert(&format!("{prefix}-ca"), &tls.ca_cert);
        m.insert("caCertPath".into(), json!(ca));
    }
    if !tls.user_cert.name.is_empty() {
        let (crt, key) = volumes.cert(&format!("{prefix}-user"), &tls.user_cert);
        m.insert("userCertPath".into(), json!(crt));
        m.insert("userKeyPath".into(), json!(key));
    }
    Value::Object(m)
}

fn sasl(volumes: &mut Volumes, prefix: &str, sasl: &SaslConfig) -> Option<Value> {
    if sasl.kind == SaslType::Disabled {
        return None;
    }
    let id = volumes.file(&format!("{prefix}-sasl-id"), &sasl.client_id_reference);
    let secret = volumes.file(
        &format!("{prefix}-sasl-secret"),
        &sasl.client_secret_reference,
    );
    Some(json!({"type": sasl_type(sasl.kind), "clientIDPath": id, "clientSecretPath": secret}))
}

fn insert_some(m: &mut Value, key: &str, v: Option<Value>) {
    if let (Some(v), Some(map)) = (v, m.as_object_mut()) {
        map.insert(key.to_string(), v);
    }
}

/// Loki stream labels of the configuration.
pub fn loki_labels(inputs: &Inputs<'_>) -> Vec<String> {
    let spec = inputs.spec();
    let mut labels: Vec<&str> = vec![
        "SrcK8S_Namespace",
        "SrcK8S_OwnerName",
        "SrcK8S_Type",
        "DstK8S_Namespace",
        "DstK8S_OwnerName",
        "DstK8S_Type",
        "K8S_FlowLayer",
        "FlowDirection",
    ];
    if spec.has_conntrack() {
        labels.push("_RecordType");
    }
    if spec.processor.multi_cluster_deployment {
        labels.push("K8S_ClusterName");
    }
    if spec.processor.add_zone == Some(true) {
        labels.extend(["SrcK8S_Zone", "DstK8S_Zone"]);
    }
    if spec.has_feature(AgentFeature::UdnMapping) {
        labels.push("UdnId");
    }
    let excluded = spec
        .loki
        .advanced
        .as_ref()
        .map(|a| a.exclude_labels.clone())
        .unwrap_or_default();
    labels
        .into_iter()
        .filter(|l| !excluded.iter().any(|e| e == l))
        .map(str::to_string)
        .collect()
}

fn log_level(level: LogLevel) -> String {
    serde_json::to_value(level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "info".to_string())
}

fn keep_rules(filters: &[&FlpFilterSet]) -> Vec<Value> {
    filters
        .iter()
        .filter(|f| !f.query.is_empty())
        .map(|f| {
            let mut q = json!({"type": "keep_entry_query", "keepEntryQuery": f.query});
            if f.sampling > 1 {
                insert_some(&mut q, "keepEntrySampling", Some(json!(f.sampling)));
            }
            q
        })
        .collect()
}

fn filter_stage(rules: Vec<Value>) -> Value {
    json!({"transform": {"type": "filter", "filter": {"rules": rules, "samplingField": "Sampling"}}})
}

/// Renders the configuration of the pipeline workload `workload` in `inputs`' model.
pub fn render(inputs: &Inputs<'_>, workload: &str, loki: &LokiSettings) -> FlpConfig {
    let spec = inputs.spec();
    let flp = &spec.processor;
    let advanced = flp.advanced.clone().unwrap_or_default();
    let mut volumes = Volumes::new(inputs.ns());
    let mut b = Builder::default();

    // Ingest.
    let ingest = if spec.deployment_model == DeploymentModel::Kafka {
        let kafka = &spec.kafka;
        let mut k = json!({
            "brokers": [kafka.address],
            "topic": kafka.topic,
            "groupid": "flowlogs-pipeline",
            "decoder": {"type": "protobuf"},
            "pullQueueCapacity": flp.kafka_consumer_queue_capacity,
            "pullMaxBytes": flp.kafka_consumer_batch_size,
        });
        if kafka.tls.enable {
            let tls = client_tls(&mut volumes, "kafka-cert", &kafka.tls);
            insert_some(&mut k, "tls", Some(tls));
        }
        insert_some(&mut k, "sasl", sasl(&mut volumes, "kafka", &kafka.sasl));
        b.stage(
            "kafka-read",
            None,
            json!({"ingest": {"type": "kafka", "kafka": k}}),
            false,
        )
    } else {
        let mut g = json!({"port": processor_port(spec)});
        if spec.deployment_model == DeploymentModel::Service {
            let tls = super::transport::service_tls(inputs);
            if let Some(server) = &tls.server {
                let (crt, key) = volumes.cert("flp-certs", server);
                insert_some(&mut g, "certPath", Some(json!(crt)));
                insert_some(&mut g, "keyPath", Some(json!(key)));
            }
            if let Some(ca) = &tls.client_ca {
                let path = volumes.file("flp-client-ca", ca);
                insert_some(&mut g, "clientCAPath", Some(json!(path)));
            }
        }
        b.stage(
            "grpc",
            None,
            json!({"ingest": {"type": "grpc", "grpc": g}}),
            false,
        )
    };
    let mut last = ingest;

    // Conversation tracking.
    if spec.has_conntrack() {
        let record_types: Vec<&str> = match flp.log_types {
            FlpLogTypes::Flows => vec!["flowLog"],
            FlpLogTypes::Conversations => vec!["newConnection", "heartbeat", "endConnection"],
            FlpLogTypes::EndedConversations => vec!["endConnection"],
            FlpLogTypes::All => vec!["newConnection", "heartbeat", "endConnection", "flowLog"],
        };
        let mut fields = vec![
            json!({"name": "Bytes", "operation": "sum", "splitAB": true}),
            json!({"name": "Packets", "operation": "sum", "splitAB": true}),
            json!({"name": "numFlowLogs", "operation": "count"}),
            json!({"name": "TimeFlowStartMs", "operation": "min", "input": "TimeFlowStartMs"}),
            json!({"name": "TimeFlowEndMs", "operation": "max", "input": "TimeFlowEndMs", "reportMissing": true}),
            json!({"name": "FlowDirection", "operation": "first", "input": "FlowDirection"}),
            json!({"name": "IfDirection", "operation": "first", "input": "IfDirection"}),
            json!({"name": "AgentIP", "operation": "first", "input": "AgentIP"}),
        ];
        if spec.has_feature(AgentFeature::PacketDrop) {
            fields.extend([
                json!({"name": "PktDropBytes", "operation": "sum", "splitAB": true}),
                json!({"name": "PktDropPackets", "operation": "sum", "splitAB": true}),
                json!({"name": "PktDropLatestState", "operation": "last"}),
                json!({"name": "PktDropLatestDropCause", "operation": "last"}),
            ]);
        }
        if spec.has_feature(AgentFeature::DnsTracking) {
            fields.extend([
                json!({"name": "DnsFlagsResponseCode", "operation": "last"}),
                json!({"name": "DnsLatencyMs", "operation": "max"}),
            ]);
        }
        if spec.has_feature(AgentFeature::NetworkEvents) {
            fields.push(json!({"name": "NetworkEvents", "operation": "last"}));
        }
        if spec.has_feature(AgentFeature::FlowRtt) {
            fields.push(
                json!({"name": "MaxTimeFlowRttNs", "operation": "max", "input": "TimeFlowRttNs"}),
            );
        }
        let ct = json!({
            "keyDefinition": {
                "fieldGroups": [
                    {"name": "src", "fields": ["SrcAddr", "SrcPort"]},
                    {"name": "dst", "fields": ["DstAddr", "DstPort"]},
                    {"name": "common", "fields": ["Proto"]},
                ],
                "hash": {"fieldGroupRefs": ["common"], "fieldGroupARef": "src", "fieldGroupBRef": "dst"},
            },
            "outputRecordTypes": record_types,
            "outputFields": fields,
            "scheduling": [{
                "selector": {},
                "heartbeatInterval": advanced.conversation_heartbeat_interval,
                "endConnectionTimeout": advanced.conversation_end_timeout,
                "terminatingTimeout": advanced.conversation_terminating_timeout,
            }],
            "tcpFlags": {"fieldName": "Flags", "detectEndConnection": true, "swapAB": true},
        });
        last = b.stage(
            "extract_conntrack",
            Some(&last),
            json!({"extract": {"type": "conntrack", "conntrack": ct}}),
            false,
        );
    }

    // Kubernetes enrichment.
    let add_zone = flp.add_zone == Some(true);
    let kube = |ip: &str, mac: &str, out: &str| {
        json!({"type": "add_kubernetes", "kubernetes": {
            "ipField": ip, "macField": mac, "interfacesField": "Interfaces", "udnsField": "Udns",
            "output": out, "add_zone": add_zone,
        }})
    };
    let mut rules = vec![
        kube("SrcAddr", "SrcMac", "SrcK8S"),
        kube("DstAddr", "DstMac", "DstK8S"),
    ];
    if spec.has_feature(AgentFeature::PacketTranslation) {
        rules.push(json!({"type": "add_kubernetes", "kubernetes": {"ipField": "XlatSrcAddr", "output": "XlatSrcK8S"}}));
        rules.push(json!({"type": "add_kubernetes", "kubernetes": {"ipField": "XlatDstAddr", "output": "XlatDstK8S"}}));
    }
    rules.push(json!({"type": "reinterpret_direction"}));
    rules.push(json!({"type": "decode_tcp_flags", "decode_tcp_flags": {"input": "Flags", "output": "Flags"}}));
    rules.push(json!({"type": "add_kubernetes_infra", "kubernetes_infra": {
        "namespaceNameFields": [
            {"namespace": "SrcK8S_Namespace", "name": "SrcK8S_Name"},
            {"namespace": "DstK8S_Namespace", "name": "DstK8S_Name"},
        ],
        "output": "K8S_FlowLayer",
        "infra_prefixes": [inputs.ns(), "openshift"],
        "infra_refs": [
            {"namespace": "default", "name": "kubernetes"},
            {"namespace": "default", "name": "openshift"},
        ],
    }}));
    let mut secondary: Vec<Value> = advanced
        .secondary_networks
        .iter()
        .map(|n| {
            let index: Map<String, Value> = n
                .index
                .iter()
                .map(|i| {
                    let key = match i {
                        SecondaryNetworkIndex::Mac => "mac",
                        SecondaryNetworkIndex::Ip => "ip",
                        SecondaryNetworkIndex::Interface => "interface",
                    };
                    (key.to_string(), json!({}))
                })
                .collect();
            json!({"name": n.name, "index": index})
        })
        .collect();
    if spec.has_feature(AgentFeature::UdnMapping) {
        secondary.push(json!({"name": "ovn-kubernetes", "index": {"udn": {}}}));
    }
    let mut kube_config = json!({"trackedKinds": ["ReplicaSet", "Deployment", "Gateway"]});
    if !secondary.is_empty() {
        insert_some(
            &mut kube_config,
            "secondaryNetworks",
            Some(json!(secondary)),
        );
    }
    last = b.stage(
        "enrich",
        Some(&last),
        json!({"transform": {"type": "network", "network": {
            "rules": rules,
            "directionInfo": {
                "reporterIPField": "AgentIP",
                "srcHostField": "SrcK8S_HostIP",
                "dstHostField": "DstK8S_HostIP",
                "flowDirectionField": "FlowDirection",
                "ifDirectionField": "IfDirection",
            },
            "kubeConfig": kube_config,
        }}}),
        false,
    );

    // Subnet labels (dynamic).
    let custom = &flp.subnet_labels.custom_labels;
    if !custom.is_empty() {
        let labels: Vec<Value> = custom
            .iter()
            .map(|l| json!({"name": l.name, "cidrs": l.cidrs}))
            .collect();
        last = b.stage(
            "subnets",
            Some(&last),
            json!({"transform": {"type": "network", "network": {
                "rules": [
                    {"type": "add_subnet_label", "add_subnet_label": {"input": "SrcAddr", "output": "SrcSubnetLabel"}},
                    {"type": "add_subnet_label", "add_subnet_label": {"input": "DstAddr", "output": "DstSubnetLabel"}},
                ],
                "subnetLabels": labels,
            }}}),
            true,
        );
    }

    // Global filters (dynamic).
    let by_target = |t: FlpFilterTarget| -> Vec<&FlpFilterSet> {
        flp.filters
            .iter()
            .filter(|f| f.output_target == t)
            .collect()
    };
    let mut global = keep_rules(&by_target(FlpFilterTarget::All));
    if flp.multi_cluster_deployment {
        global.push(
            json!({"type": "add_field_if_doesnt_exist", "addFieldIfDoesntExist": {
                "input": "K8S_ClusterName", "value": flp.cluster_name,
            }}),
        );
    }
    if !global.is_empty() {
        last = b.stage("filters", Some(&last), filter_stage(global), true);
    }

    // De-duplication.
    if let Some(dedup) = flp
        .deduper
        .as_ref()
        .filter(|d| d.mode != FlpDeduperMode::Disabled)
    {
        let rules = json!([
            {"type": "remove_entry_if_equal", "removeEntry": {"input": "FlowDirection", "value": 1, "castInt": true}},
            {"type": "remove_entry_if_exists", "removeEntry": {"input": "DstK8S_OwnerName"}},
        ]);
        let rule = if dedup.mode == FlpDeduperMode::Drop {
            json!({"type": "remove_entry_all_satisfied", "removeEntryAllSatisfied": rules})
        } else {
            json!({"type": "conditional_sampling", "conditionalSampling": [{"value": dedup.sampling, "rules": rules}]})
        };
        last = b.stage(
            "dedup",
            Some(&last),
            json!({"transform": {"type": "filter", "filter": {"rules": [rule]}}}),
            false,
        );
    }

    // Branch helper: an optional target filter stage, then the output stage.
    let branch_parent = |b: &mut Builder, name: &str, target: FlpFilterTarget| -> String {
        let rules = keep_rules(&by_target(target));
        if rules.is_empty() {
            last.clone()
        } else {
            b.stage(name, Some(&last), filter_stage(rules), true)
        }
    };

    // Loki.
    let mut needs_loki_token = false;
    if spec.use_loki() {
        let parent = branch_parent(&mut b, "filters-loki", FlpFilterTarget::Loki);
        let lk = &spec.loki;
        let adv = lk.advanced.clone().unwrap_or_default();
        let mut client = json!({"follow_redirects": false});
        if matches!(
            loki.auth_token,
            LokiAuthToken::Forward | LokiAuthToken::Host
        ) {
            needs_loki_token = true;
            insert_some(
                &mut client,
                "authorization",
                Some(json!({"type": "Bearer", "credentials_file": LOKI_TOKEN_PATH})),
            );
        }
        if loki.tls.enable {
            let mut tls = json!({"insecure_skip_verify": loki.tls.insecure_skip_verify});
            if !loki.tls.insecure_skip_verify && !loki.tls.ca_cert.name.is_empty() {
                let (ca, _) = volumes.cert("loki-certs-ca", &loki.tls.ca_cert);
                insert_some(&mut tls, "ca_file", Some(json!(ca)));
            }
            if !loki.tls.user_cert.name.is_empty() {
                let (crt, key) = volumes.cert("loki-certs-user", &loki.tls.user_cert);
                insert_some(&mut tls, "cert_file", Some(json!(crt)));
                insert_some(&mut tls, "key_file", Some(json!(key)));
            }
            insert_some(&mut client, "tls_config", Some(tls));
        }
        b.stage(
            "loki",
            Some(&parent),
            json!({"write": {"type": "loki", "loki": {
                "url": loki.ingester_url,
                "tenantID": loki.tenant_id,
                "batchSize": lk.write_batch_size,
                "batchWait": lk.write_batch_wait,
                "timeout": lk.write_timeout,
                "minBackoff": adv.write_min_backoff,
                "maxBackoff": adv.write_max_backoff,
                "maxRetries": adv.write_max_retries,
                "labels": loki_labels(inputs),
                "staticLabels": adv.static_labels,
                "timestampLabel": "TimeFlowEndMs",
                "timestampScale": "1ms",
                "clientConfig": client,
            }}}),
            false,
        );
    }

    // Trace logging.
    if flp.log_level == LogLevel::Trace {
        b.stage(
            "stdout",
            Some(&last),
            json!({"write": {"type": "stdout", "stdout": {"format": "json"}}}),
            false,
        );
    }

    // Prometheus metrics (dynamic, so FlowMetric edits hot-reload).
    let metric_defs = super::metrics::definitions(inputs);
    let parent = branch_parent(&mut b, "filters-prom", FlpFilterTarget::Metrics);
    b.stage(
        "prometheus",
        Some(&parent),
        json!({"encode": {"type": "prom", "prom": {"metrics": metric_defs, "prefix": "netobserv_"}}}),
        true,
    );

    // Exporters.
    if !spec.exporters.is_empty() {
        let parent = branch_parent(&mut b, "filters-exp", FlpFilterTarget::Exporters);
        for (i, exp) in spec.exporters.iter().enumerate() {
            match exp.kind {
                ExporterType::Kafka => {
                    let Some(k) = &exp.kafka else { continue };
                    let mut enc = json!({
                        "address": k.address, "topic": k.topic,
                        "compression": compression(k.compression),
                    });
                    if k.tls.enable {
                        let tls = client_tls(&mut volumes, &format!("kafka-export-{i}"), &k.tls);
                        insert_some(&mut enc, "tls", Some(tls));
                    }
                    let s = sasl(&mut volumes, &format!("kafka-export-{i}"), &k.sasl);
                    insert_some(&mut enc, "sasl", s);
                    b.stage(
                        &format!("kafka-export-{i}"),
                        Some(&parent),
                        json!({"encode": {"type": "kafka", "kafka": enc}}),
                        false,
                    );
                }
                ExporterType::Ipfix => {
                    let Some(ipfix) = &exp.ipfix else { continue };
                    let transport = match ipfix.transport.unwrap_or_default() {
                        IpfixTransport::Tcp => "tcp",
                        IpfixTransport::Udp => "udp",
                    };
                    b.stage(
                        &format!("ipfix-export-{i}"),
                        Some(&parent),
                        json!({"write": {"type": "ipfix", "ipfix": {
                            "targetHost": ipfix.target_host, "targetPort": ipfix.target_port,
                            "transport": transport, "enterpriseId": ipfix.enterprise_id,
                        }}}),
                        false,
                    );
                }
                ExporterType::OpenTelemetry => {
                    let Some(otel) = &exp.open_telemetry else {
                        continue;
                    };
                    let rules: Vec<Value> = match &otel.fields_mapping {
                        Some(m) => m
                            .iter()
                            .map(|r| json!({"input": r.input, "output": r.output, "multiplier": r.multiplier}))
                            .collect(),
                        None => default_otel_mapping(),
                    };
                    let transform = b.stage(
                        &format!("otel-export-{i}-transform"),
                        Some(&parent),
                        json!({"transform": {"type": "generic", "generic": {"policy": "replace_keys", "rules": rules}}}),
                        false,
                    );
                    let protocol = match otel.protocol.unwrap_or_default() {
                        OpenTelemetryProtocol::Http => "http",
                        OpenTelemetryProtocol::Grpc => "grpc",
                    };
                    let mut conn = json!({
                        "address": otel.target_host, "port": otel.target_port,
                        "connectionType": protocol,
                    });
                    if !otel.headers.is_empty() {
                        insert_some(&mut conn, "headers", Some(json!(otel.headers)));
                    }
                    if otel.tls.enable {
                        let tls = client_tls(&mut volumes, &format!("otel-export-{i}"), &otel.tls);
                        insert_some(&mut conn, "tls", Some(tls));
                    }
                    if otel.logs.enable {
                        b.stage(
                            &format!("otel-export-{i}-logs"),
                            Some(&transform),
                            json!({"encode": {"type": "otlplogs", "otlplogs": {"otlpConnectionInfo": conn}}}),
                            false,
                        );
                    }
                    if otel.metrics.enable {
                        b.stage(
                            &format!("otel-export-{i}-metrics"),
                            Some(&transform),
                            json!({"encode": {"type": "otlpmetrics", "otlpmetrics": {
                                "otlpConnectionInfo": conn,
                                "prefix": "netobserv_",
                                "pushTimeInterval": otel.metrics.push_time_interval,
                                "expiryTime": "2m",
                                "metrics": super::metrics::definitions(inputs),
                            }}}),
                            false,
                        );
                    }
                }
            }
        }
    }

    // Top level.
    let (_, dynamic_name) = config_map_names(workload);
    let mut metrics_settings =
        json!({"port": PROMETHEUS_PORT, "prefix": "netobserv_", "noPanic": true});
    let tls = &flp.metrics.server.tls;
    let prom_cert = match tls.kind {
        ServerTlsType::Disabled => None,
        ServerTlsType::Auto => Some(netobserv_api::v1beta2::CertificateReference {
            kind: Some(netobserv_api::v1beta2::MountableType::Secret),
            name: format!("{workload}-prom-tls"),
            namespace: String::new(),
            cert_file: "tls.crt".to_string(),
            cert_key: "tls.key".to_string(),
        }),
        ServerTlsType::Provided => tls.provided.clone(),
    };
    if let Some(cert) = prom_cert {
        let (crt, key) = volumes.cert("flowlogs-prometheus-certs", &cert);
        insert_some(
            &mut metrics_settings,
            "tls",
            Some(json!({"certPath": crt, "keyPath": key})),
        );
    }
    let mut static_json = json!({
        "log-level": log_level(flp.log_level),
        "health": {"port": advanced.health_port},
        "pipeline": b.pipeline,
        "parameters": b.static_params,
        "metricsSettings": metrics_settings,
        "dynamicParameters": {"namespace": inputs.ns(), "name": dynamic_name, "fileName": CONFIG_FILE},
    });
    if let Some(port) = advanced.profile_port {
        insert_some(&mut static_json, "profile", Some(json!({"port": port})));
    }
    FlpConfig {
        static_json,
        dynamic_json: json!({"parameters": b.dynamic_params}),
        volumes,
        needs_loki_token,
    }
}

/// Default mapping of flow fields to OpenTelemetry semantic-convention names, used when an
/// OpenTelemetry exporter has no `fieldsMapping`.
fn default_otel_mapping() -> Vec<Value> {
    [
        ("SrcAddr", "source.address"),
        ("SrcPort", "source.port"),
        ("SrcMac", "source.mac"),
        ("SrcK8S_Namespace", "source.k8s.namespace.name"),
        ("SrcK8S_Name", "source.k8s.name"),
        ("SrcK8S_OwnerName", "source.k8s.owner.name"),
        ("SrcK8S_HostName", "source.k8s.host.name"),
        ("DstAddr", "destination.address"),
        ("DstPort", "destination.port"),
        ("DstMac", "destination.mac"),
        ("DstK8S_Namespace", "destination.k8s.namespace.name"),
        ("DstK8S_Name", "destination.k8s.name"),
        ("DstK8S_OwnerName", "destination.k8s.owner.name"),
        ("DstK8S_HostName", "destination.k8s.host.name"),
        ("Proto", "protocol"),
        ("Bytes", "bytes"),
        ("Packets", "packets"),
        ("FlowDirection", "k8s.flow.direction"),
        ("K8S_FlowLayer", "k8s.layer"),
        ("TimeFlowStartMs", "timeflowstart"),
        ("TimeFlowEndMs", "timeflowend"),
    ]
    .iter()
    .map(|(i, o)| json!({"input": i, "output": o}))
    .collect()
}
