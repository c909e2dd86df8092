//! The flowlogs-pipeline configuration (`pipeline` + `parameters`, reference
//! pipeline-console-cli.md §A), split in a static part (mounted file; its digest rolls the pods)
//! and a dynamic part (a ConfigMap the pipeline watches and hot-reloads: subnets, filters,
//! metrics), so that editing a filter or a FlowMetric does not restart the processors.
//!
//! Both parts are built as the typed model of `netobserv-flp-config`, the one the pipeline parses:
//! a stage or key the pipeline does not know cannot be rendered.

use super::Inputs;
use super::loki::LokiSettings;
use super::pod::Volumes;
use super::transport::{compression, processor_port, sasl_type};
use netobserv_api::v1beta2::{
    AgentFeature, ClientTls, DeploymentModel, ExporterType, FlowCollectorExporter, FlpDeduperMode,
    FlpFilterSet, FlpFilterTarget, FlpLogTypes, IpfixTransport, LogLevel, LokiAuthToken,
    OpenTelemetryProtocol, SaslConfig, SaslType, SecondaryNetworkIndex, ServerTlsType,
};
use netobserv_flp_config as flp;
use netobserv_flp_config::{
    Config, Encode, Extract, FilterGenericRule, FilterRule, FilterRuleKind, FilterTransform,
    Ingest, NamespacedName, NetworkRule, NetworkRuleKind, NetworkTransform, RemoveEntryRule,
    StageParams, Transform, Write,
};
use serde_json::json;

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
    pub static_config: Config,
    /// Dynamic part (`{parameters: [...]}`).
    pub dynamic_config: Config,
    /// Volumes the configuration points into (certificates, tokens).
    pub volumes: Volumes,
    /// Whether a projected token must be mounted for the Loki client.
    pub needs_loki_token: bool,
}

/// Stages in the order they are added; dynamic ones go to the dynamic document.
#[derive(Default)]
struct Builder {
    static_config: Config,
    dynamic_config: Config,
}

impl Builder {
    /// Adds stage `params` after `follows`, in the dynamic document when `dynamic`; returns its
    /// name (what the next stage follows).
    fn stage(&mut self, follows: Option<&str>, params: StageParams, dynamic: bool) -> String {
        let name = params.name.clone();
        self.static_config
            .pipeline
            .push(flp::StageRef::new(&name, follows));
        if dynamic {
            self.dynamic_config.parameters.push(params);
        } else {
            self.static_config.parameters.push(params);
        }
        name
    }
}

fn named(name: &str) -> StageParams {
    StageParams {
        name: name.to_string(),
        ..StageParams::default()
    }
}

fn transform(name: &str, t: Transform) -> StageParams {
    StageParams {
        transform: Some(t),
        ..named(name)
    }
}

fn encode(name: &str, e: Encode) -> StageParams {
    StageParams {
        encode: Some(e),
        ..named(name)
    }
}

fn write(name: &str, w: Write) -> StageParams {
    StageParams {
        write: Some(w),
        ..named(name)
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

/// A port the CRD schema bounds to 1..=65535 (0 only if a stored object bypassed it).
fn port(value: i32) -> u16 {
    u16::try_from(value).unwrap_or_default()
}

/// A sampling ratio in the pipeline's 16-bit field (upstream's `uint16`): larger ratios are
/// capped at 65535 rather than wrapped.
fn sampling_ratio(value: i32) -> u16 {
    u16::try_from(value.max(0)).unwrap_or(u16::MAX)
}

fn client_tls(volumes: &mut Volumes, prefix: &str, tls: &ClientTls) -> flp::ClientTls {
    let mut out = flp::ClientTls {
        insecure_skip_verify: tls.insecure_skip_verify,
        ..flp::ClientTls::default()
    };
    if !tls.ca_cert.name.is_empty() {
        let (ca, _) = volumes.cert(&format!("{prefix}-ca"), &tls.ca_cert);
        out.ca_cert_path = ca;
    }
    if !tls.user_cert.name.is_empty() {
        let (crt, key) = volumes.cert(&format!("{prefix}-user"), &tls.user_cert);
        out.user_cert_path = crt;
        out.user_key_path = key;
    }
    out
}

/// TLS settings when enabled.
fn enabled_tls(volumes: &mut Volumes, prefix: &str, tls: &ClientTls) -> Option<flp::ClientTls> {
    tls.enable.then(|| client_tls(volumes, prefix, tls))
}

fn sasl(volumes: &mut Volumes, prefix: &str, sasl: &SaslConfig) -> Option<flp::Sasl> {
    if sasl.kind == SaslType::Disabled {
        return None;
    }
    let client_id_path = volumes.file(&format!("{prefix}-sasl-id"), &sasl.client_id_reference);
    let client_secret_path = volumes.file(
        &format!("{prefix}-sasl-secret"),
        &sasl.client_secret_reference,
    );
    let kind = match sasl_type(sasl.kind) {
        "scramSHA512" => flp::SaslKind::ScramSha512,
        _ => flp::SaslKind::Plain,
    };
    Some(flp::Sasl {
        kind,
        client_id_path,
        client_secret_path,
    })
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

fn keep_rules(filters: &[&FlpFilterSet]) -> Vec<FilterRule> {
    filters
        .iter()
        .filter(|f| !f.query.is_empty())
        .map(|f| FilterRule {
            kind: FilterRuleKind::KeepEntryQuery,
            keep_entry_query: f.query.clone(),
            keep_entry_sampling: (f.sampling > 1).then(|| sampling_ratio(f.sampling)),
            ..FilterRule::default()
        })
        .collect()
}

fn filter_stage(rules: Vec<FilterRule>) -> Transform {
    Transform::filter(FilterTransform {
        rules,
        sampling_field: "Sampling".into(),
    })
}

/// The ingest stage of the deployment model.
fn ingest(inputs: &Inputs<'_>, volumes: &mut Volumes, b: &mut Builder) -> String {
    let spec = inputs.spec();
    let flp_spec = &spec.processor;
    if spec.deployment_model == DeploymentModel::Kafka {
        let kafka = &spec.kafka;
        let k = flp::IngestKafka {
            brokers: vec![kafka.address.clone()],
            topic: kafka.topic.clone(),
            group_id: "flowlogs-pipeline".into(),
            decoder: Some(flp::Decoder {
                kind: flp::DecoderKind::Protobuf,
            }),
            pull_queue_capacity: Some(i64::from(flp_spec.kafka_consumer_queue_capacity)),
            pull_max_bytes: Some(i64::from(flp_spec.kafka_consumer_batch_size)),
            tls: enabled_tls(volumes, "kafka-cert", &kafka.tls),
            sasl: sasl(volumes, "kafka", &kafka.sasl),
            ..flp::IngestKafka::default()
        };
        let params = StageParams {
            ingest: Some(Ingest::kafka(k)),
            ..named("kafka-read")
        };
        return b.stage(None, params, false);
    }
    let mut g = flp::IngestGrpc {
        port: Some(port(processor_port(spec))),
        ..flp::IngestGrpc::default()
    };
    if spec.deployment_model == DeploymentModel::Service {
        let tls = super::transport::service_tls(inputs);
        if let Some(server) = &tls.server {
            let (crt, key) = volumes.cert("flp-certs", server);
            g.cert_path = crt;
            g.key_path = key;
        }
        if let Some(ca) = &tls.client_ca {
            g.client_ca_path = volumes.file("flp-client-ca", ca);
        }
    }
    let params = StageParams {
        ingest: Some(Ingest::grpc(g)),
        ..named("grpc")
    };
    b.stage(None, params, false)
}

/// Conversation tracking, when `logTypes` asks for conversations.
fn conntrack(inputs: &Inputs<'_>) -> flp::ConntrackConfig {
    use flp::{ConnectionOperation as Op, ConnectionRecordType as T};
    let spec = inputs.spec();
    let flp_spec = &spec.processor;
    let advanced = flp_spec.advanced.clone().unwrap_or_default();
    let output_record_types = match flp_spec.log_types {
        FlpLogTypes::Flows => vec![T::FlowLog],
        FlpLogTypes::Conversations => vec![T::NewConnection, T::Heartbeat, T::EndConnection],
        FlpLogTypes::EndedConversations => vec![T::EndConnection],
        FlpLogTypes::All => vec![T::NewConnection, T::Heartbeat, T::EndConnection, T::FlowLog],
    };
    let field = |name: &str, operation: Op, split_ab: bool, input: &str| flp::OutputField {
        name: name.to_string(),
        operation,
        split_ab,
        input: input.to_string(),
        report_missing: false,
    };
    let mut fields = vec![
        field("Bytes", Op::Sum, true, ""),
        field("Packets", Op::Sum, true, ""),
        field("numFlowLogs", Op::Count, false, ""),
        field("TimeFlowStartMs", Op::Min, false, "TimeFlowStartMs"),
        flp::OutputField {
            report_missing: true,
            ..field("TimeFlowEndMs", Op::Max, false, "TimeFlowEndMs")
        },
        field("FlowDirection", Op::First, false, "FlowDirection"),
        field("IfDirection", Op::First, false, "IfDirection"),
        field("AgentIP", Op::First, false, "AgentIP"),
    ];
    if spec.has_feature(AgentFeature::PacketDrop) {
        fields.extend([
            field("PktDropBytes", Op::Sum, true, ""),
            field("PktDropPackets", Op::Sum, true, ""),
            field("PktDropLatestState", Op::Last, false, ""),
            field("PktDropLatestDropCause", Op::Last, false, ""),
        ]);
    }
    if spec.has_feature(AgentFeature::DnsTracking) {
        fields.extend([
            field("DnsFlagsResponseCode", Op::Last, false, ""),
            field("DnsLatencyMs", Op::Max, false, ""),
        ]);
    }
    if spec.has_feature(AgentFeature::NetworkEvents) {
        fields.push(field("NetworkEvents", Op::Last, false, ""));
    }
    if spec.has_feature(AgentFeature::FlowRtt) {
        fields.push(field("MaxTimeFlowRttNs", Op::Max, false, "TimeFlowRttNs"));
    }
    let group = |name: &str, fields: &[&str]| flp::FieldGroup {
        name: name.to_string(),
        fields: fields.iter().map(|f| f.to_string()).collect(),
    };
    flp::ConntrackConfig {
        key_definition: flp::KeyDefinition {
            field_groups: vec![
                group("src", &["SrcAddr", "SrcPort"]),
                group("dst", &["DstAddr", "DstPort"]),
                group("common", &["Proto"]),
            ],
            hash: flp::ConnectionHash {
                field_group_refs: vec!["common".into()],
                field_group_a_ref: "src".into(),
                field_group_b_ref: "dst".into(),
            },
        },
        output_record_types,
        output_fields: fields,
        scheduling: vec![flp::ConnectionScheduling {
            selector: Default::default(),
            heartbeat_interval: advanced.conversation_heartbeat_interval,
            end_connection_timeout: advanced.conversation_end_timeout,
            terminating_timeout: advanced.conversation_terminating_timeout,
        }],
        max_connections_tracked: None,
        tcp_flags: Some(flp::ConntrackTcpFlags {
            field_name: "Flags".into(),
            detect_end_connection: true,
            swap_ab: true,
        }),
    }
}

/// The `enrich` stage: Kubernetes metadata, direction, TCP flags, flow layer.
fn enrich(inputs: &Inputs<'_>) -> NetworkTransform {
    let spec = inputs.spec();
    let flp_spec = &spec.processor;
    let advanced = flp_spec.advanced.clone().unwrap_or_default();
    let add_zone = flp_spec.add_zone == Some(true);
    let kube = |ip: &str, mac: &str, out: &str| {
        NetworkRule::kubernetes(flp::KubernetesRule {
            ip_field: ip.into(),
            mac_field: mac.into(),
            interfaces_field: "Interfaces".into(),
            udns_field: "Udns".into(),
            output: out.into(),
            add_zone: Some(add_zone),
            ..flp::KubernetesRule::default()
        })
    };
    let xlat = |ip: &str, out: &str| {
        NetworkRule::kubernetes(flp::KubernetesRule {
            ip_field: ip.into(),
            output: out.into(),
            ..flp::KubernetesRule::default()
        })
    };
    let mut rules = vec![
        kube("SrcAddr", "SrcMac", "SrcK8S"),
        kube("DstAddr", "DstMac", "DstK8S"),
    ];
    if spec.has_feature(AgentFeature::PacketTranslation) {
        rules.push(xlat("XlatSrcAddr", "XlatSrcK8S"));
        rules.push(xlat("XlatDstAddr", "XlatDstK8S"));
    }
    rules.push(NetworkRule::of(NetworkRuleKind::ReinterpretDirection));
    rules.push(NetworkRule::tcp_flags("Flags", "Flags"));
    rules.push(NetworkRule {
        kind: NetworkRuleKind::AddKubernetesInfra,
        kubernetes_infra: Some(flp::KubernetesInfraRule {
            namespace_name_fields: vec![
                NamespacedName::new("SrcK8S_Namespace", "SrcK8S_Name"),
                NamespacedName::new("DstK8S_Namespace", "DstK8S_Name"),
            ],
            output: "K8S_FlowLayer".into(),
            infra_prefixes: vec![inputs.ns().to_string(), "openshift".into()],
            infra_refs: vec![
                NamespacedName::new("default", "kubernetes"),
                NamespacedName::new("default", "openshift"),
            ],
        }),
        ..NetworkRule::default()
    });
    let mut secondary_networks: Vec<flp::SecondaryNetworkConfig> = advanced
        .secondary_networks
        .iter()
        .map(|n| flp::SecondaryNetworkConfig {
            name: n.name.clone(),
            index: n
                .index
                .iter()
                .map(|i| {
                    let key = match i {
                        SecondaryNetworkIndex::Mac => flp::SecondaryIndex::Mac,
                        SecondaryNetworkIndex::Ip => flp::SecondaryIndex::Ip,
                        SecondaryNetworkIndex::Interface => flp::SecondaryIndex::Interface,
                    };
                    (key, json!({}))
                })
                .collect(),
        })
        .collect();
    if spec.has_feature(AgentFeature::UdnMapping) {
        secondary_networks.push(flp::SecondaryNetworkConfig {
            name: "ovn-kubernetes".into(),
            index: [(flp::SecondaryIndex::Udn, json!({}))].into(),
        });
    }
    NetworkTransform {
        rules,
        direction_info: Some(flp::DirectionInfo {
            reporter_ip_field: "AgentIP".into(),
            src_host_field: "SrcK8S_HostIP".into(),
            dst_host_field: "DstK8S_HostIP".into(),
            flow_direction_field: "FlowDirection".into(),
            if_direction_field: "IfDirection".into(),
        }),
        kube_config: Some(flp::KubeConfig {
            tracked_kinds: vec!["ReplicaSet".into(), "Deployment".into(), "Gateway".into()],
            secondary_networks,
            ..flp::KubeConfig::default()
        }),
        ..NetworkTransform::default()
    }
}

/// The de-duplication rule: drop (or sample) the egress copy of flows seen on both ends.
fn dedup(mode: FlpDeduperMode, sampling: u16) -> FilterRule {
    let entry = |kind, input: &str, value: Option<serde_json::Value>, cast_int| RemoveEntryRule {
        kind,
        remove_entry: FilterGenericRule {
            input: input.into(),
            value,
            cast_int,
        },
    };
    let rules = vec![
        entry(
            FilterRuleKind::RemoveEntryIfEqual,
            "FlowDirection",
            Some(json!(1)),
            true,
        ),
        entry(
            FilterRuleKind::RemoveEntryIfExists,
            "DstK8S_OwnerName",
            None,
            false,
        ),
    ];
    if mode == FlpDeduperMode::Drop {
        FilterRule {
            kind: FilterRuleKind::RemoveEntryAllSatisfied,
            remove_entry_all_satisfied: rules,
            ..FilterRule::default()
        }
    } else {
        FilterRule {
            kind: FilterRuleKind::ConditionalSampling,
            conditional_sampling: vec![flp::SamplingCondition {
                value: sampling,
                rules,
            }],
            ..FilterRule::default()
        }
    }
}

/// The Loki writer's parameters.
fn loki_write(
    inputs: &Inputs<'_>,
    loki: &LokiSettings,
    volumes: &mut Volumes,
) -> (flp::LokiWrite, bool) {
    let lk = &inputs.spec().loki;
    let adv = lk.advanced.clone().unwrap_or_default();
    let mut client = flp::ClientConfig {
        follow_redirects: Some(false),
        ..flp::ClientConfig::default()
    };
    let needs_token = matches!(
        loki.auth_token,
        LokiAuthToken::Forward | LokiAuthToken::Host
    );
    if needs_token {
        client.authorization = Some(flp::Authorization {
            kind: Some("Bearer".into()),
            credentials_file: Some(LOKI_TOKEN_PATH.into()),
            ..flp::Authorization::default()
        });
    }
    if loki.tls.enable {
        let mut tls = flp::TlsConfig {
            insecure_skip_verify: loki.tls.insecure_skip_verify,
            ..flp::TlsConfig::default()
        };
        if !loki.tls.insecure_skip_verify && !loki.tls.ca_cert.name.is_empty() {
            let (ca, _) = volumes.cert("loki-certs-ca", &loki.tls.ca_cert);
            tls.ca_file = Some(ca);
        }
        if !loki.tls.user_cert.name.is_empty() {
            let (crt, key) = volumes.cert("loki-certs-user", &loki.tls.user_cert);
            tls.cert_file = Some(crt);
            tls.key_file = Some(key);
        }
        client.tls_config = Some(tls);
    }
    let write = flp::LokiWrite {
        url: loki.ingester_url.clone(),
        tenant_id: loki.tenant_id.clone(),
        batch_size: Some(lk.write_batch_size),
        batch_wait: Some(lk.write_batch_wait.clone()),
        timeout: Some(lk.write_timeout.clone()),
        min_backoff: Some(adv.write_min_backoff.clone()),
        max_backoff: Some(adv.write_max_backoff.clone()),
        max_retries: Some(i64::from(adv.write_max_retries)),
        labels: loki_labels(inputs),
        static_labels: adv.static_labels.clone(),
        timestamp_label: Some("TimeFlowEndMs".into()),
        timestamp_scale: Some("1ms".into()),
        client_config: Some(client),
        ..flp::LokiWrite::default()
    };
    (write, needs_token)
}

/// Renders the configuration of the pipeline workload `workload` in `inputs`' model.
pub fn render(inputs: &Inputs<'_>, workload: &str, loki: &LokiSettings) -> FlpConfig {
    let spec = inputs.spec();
    let flp_spec = &spec.processor;
    let advanced = flp_spec.advanced.clone().unwrap_or_default();
    let mut volumes = Volumes::new(inputs.ns());
    let mut b = Builder::default();

    let mut last = ingest(inputs, &mut volumes, &mut b);
    if spec.has_conntrack() {
        let params = StageParams {
            extract: Some(Extract::conntrack(conntrack(inputs))),
            ..named("extract_conntrack")
        };
        last = b.stage(Some(&last), params, false);
    }
    last = b.stage(
        Some(&last),
        transform("enrich", Transform::network(enrich(inputs))),
        false,
    );

    // Subnet labels (dynamic).
    let custom = &flp_spec.subnet_labels.custom_labels;
    if !custom.is_empty() {
        let network = NetworkTransform {
            rules: vec![
                NetworkRule::subnet_label("SrcAddr", "SrcSubnetLabel"),
                NetworkRule::subnet_label("DstAddr", "DstSubnetLabel"),
            ],
            subnet_labels: custom
                .iter()
                .map(|l| flp::SubnetLabel {
                    name: l.name.clone(),
                    cidrs: l.cidrs.clone(),
                })
                .collect(),
            ..NetworkTransform::default()
        };
        last = b.stage(
            Some(&last),
            transform("subnets", Transform::network(network)),
            true,
        );
    }

    // Global filters (dynamic).
    let by_target = |t: FlpFilterTarget| -> Vec<&FlpFilterSet> {
        flp_spec
            .filters
            .iter()
            .filter(|f| f.output_target == t)
            .collect()
    };
    let mut global = keep_rules(&by_target(FlpFilterTarget::All));
    if flp_spec.multi_cluster_deployment {
        global.push(FilterRule {
            kind: FilterRuleKind::AddFieldIfDoesntExist,
            add_field_if_doesnt_exist: Some(FilterGenericRule {
                input: "K8S_ClusterName".into(),
                value: Some(json!(flp_spec.cluster_name)),
                cast_int: false,
            }),
            ..FilterRule::default()
        });
    }
    if !global.is_empty() {
        last = b.stage(
            Some(&last),
            transform("filters", filter_stage(global)),
            true,
        );
    }

    // De-duplication.
    if let Some(d) = flp_spec
        .deduper
        .as_ref()
        .filter(|d| d.mode != FlpDeduperMode::Disabled)
    {
        let filter = Transform::filter(FilterTransform {
            rules: vec![dedup(d.mode, sampling_ratio(d.sampling))],
            ..FilterTransform::default()
        });
        last = b.stage(Some(&last), transform("dedup", filter), false);
    }

    // Branch helper: an optional target filter stage, then the output stage.
    let branch_parent = |b: &mut Builder, name: &str, target: FlpFilterTarget| -> String {
        let rules = keep_rules(&by_target(target));
        if rules.is_empty() {
            last.clone()
        } else {
            b.stage(Some(&last), transform(name, filter_stage(rules)), true)
        }
    };

    // Loki.
    let mut needs_loki_token = false;
    if spec.use_loki() {
        let parent = branch_parent(&mut b, "filters-loki", FlpFilterTarget::Loki);
        let (loki_write, needs_token) = loki_write(inputs, loki, &mut volumes);
        needs_loki_token = needs_token;
        b.stage(Some(&parent), write("loki", Write::loki(loki_write)), false);
    }

    // Trace logging.
    if flp_spec.log_level == LogLevel::Trace {
        b.stage(
            Some(&last),
            write("stdout", Write::stdout(flp::StdoutFormat::Json)),
            false,
        );
    }

    // Prometheus metrics (dynamic, so FlowMetric edits hot-reload).
    let parent = branch_parent(&mut b, "filters-prom", FlpFilterTarget::Metrics);
    let prom = flp::PromEncode {
        metrics: super::metrics::definitions(inputs),
        prefix: "netobserv_".into(),
        ..flp::PromEncode::default()
    };
    b.stage(
        Some(&parent),
        encode("prometheus", Encode::prom(prom)),
        true,
    );

    // Exporters.
    if !spec.exporters.is_empty() {
        let parent = branch_parent(&mut b, "filters-exp", FlpFilterTarget::Exporters);
        for (i, exp) in spec.exporters.iter().enumerate() {
            exporter(inputs, &mut b, &mut volumes, &parent, i, exp);
        }
    }

    // Top level.
    let (_, dynamic_name) = config_map_names(workload);
    let tls = &flp_spec.metrics.server.tls;
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
    let metrics_tls = prom_cert.map(|cert| {
        let (cert_path, key_path) = volumes.cert("flowlogs-prometheus-certs", &cert);
        flp::ServerTls {
            cert_path,
            key_path,
        }
    });
    let Builder {
        mut static_config,
        dynamic_config,
    } = b;
    static_config.log_level = Some(log_level(flp_spec.log_level));
    static_config.health = Some(flp::HealthSettings {
        port: Some(port(advanced.health_port)),
        ..flp::HealthSettings::default()
    });
    static_config.metrics_settings = Some(flp::MetricsSettings {
        port: Some(port(PROMETHEUS_PORT)),
        prefix: Some("netobserv_".into()),
        no_panic: true,
        tls: metrics_tls,
        ..flp::MetricsSettings::default()
    });
    static_config.dynamic_parameters = Some(flp::DynamicParameters {
        namespace: inputs.ns().to_string(),
        name: dynamic_name,
        file_name: CONFIG_FILE.into(),
        ..flp::DynamicParameters::default()
    });
    static_config.profile = advanced.profile_port.map(|p| flp::ProfileSettings {
        port: Some(port(p)),
    });
    FlpConfig {
        static_config,
        dynamic_config,
        volumes,
        needs_loki_token,
    }
}

/// The stages of exporter `i` after `parent`.
fn exporter(
    inputs: &Inputs<'_>,
    b: &mut Builder,
    volumes: &mut Volumes,
    parent: &str,
    i: usize,
    exp: &FlowCollectorExporter,
) {
    match exp.kind {
        ExporterType::Kafka => {
            let Some(k) = &exp.kafka else { return };
            let prefix = format!("kafka-export-{i}");
            let kafka = flp::EncodeKafka {
                address: k.address.clone(),
                topic: k.topic.clone(),
                compression: Some(compression(k.compression)),
                tls: enabled_tls(volumes, &prefix, &k.tls),
                sasl: sasl(volumes, &prefix, &k.sasl),
                ..flp::EncodeKafka::default()
            };
            let e = Encode {
                kind: flp::EncodeKind::Kafka,
                kafka: Some(kafka),
                ..Encode::default()
            };
            b.stage(Some(parent), encode(&prefix, e), false);
        }
        ExporterType::Ipfix => {
            let Some(ipfix) = &exp.ipfix else { return };
            let transport = match ipfix.transport.unwrap_or_default() {
                IpfixTransport::Tcp => "tcp",
                IpfixTransport::Udp => "udp",
            };
            let w = Write {
                kind: flp::WriteKind::Ipfix,
                ipfix: Some(flp::IpfixWrite {
                    target_host: ipfix.target_host.clone(),
                    target_port: port(ipfix.target_port),
                    transport: transport.into(),
                    enterprise_id: i64::from(ipfix.enterprise_id),
                    tpl_send_interval: None,
                }),
                ..Write::default()
            };
            b.stage(Some(parent), write(&format!("ipfix-export-{i}"), w), false);
        }
        ExporterType::OpenTelemetry => {
            let Some(otel) = &exp.open_telemetry else {
                return;
            };
            let rules: Vec<flp::GenericRule> = match &otel.fields_mapping {
                Some(m) => m
                    .iter()
                    .map(|r| flp::GenericRule {
                        input: r.input.clone(),
                        output: r.output.clone(),
                        multiplier: Some(r.multiplier.into()),
                    })
                    .collect(),
                None => default_otel_mapping(),
            };
            let generic = Transform::generic(flp::GenericTransform {
                policy: flp::GenericPolicy::ReplaceKeys,
                rules,
            });
            let transform_stage = b.stage(
                Some(parent),
                transform(&format!("otel-export-{i}-transform"), generic),
                false,
            );
            let connection_type = match otel.protocol.unwrap_or_default() {
                OpenTelemetryProtocol::Http => flp::OtlpProtocol::Http,
                OpenTelemetryProtocol::Grpc => flp::OtlpProtocol::Grpc,
            };
            let conn = flp::OtlpConnection {
                address: otel.target_host.clone(),
                port: port(otel.target_port),
                connection_type,
                headers: otel.headers.clone(),
                tls: enabled_tls(volumes, &format!("otel-export-{i}"), &otel.tls),
            };
            if otel.logs.enable {
                let e = Encode {
                    kind: flp::EncodeKind::Otlplogs,
                    otlplogs: Some(flp::EncodeOtlpLogs {
                        otlp_connection_info: conn.clone(),
                    }),
                    ..Encode::default()
                };
                let name = format!("otel-export-{i}-logs");
                b.stage(Some(&transform_stage), encode(&name, e), false);
            }
            if otel.metrics.enable {
                let e = Encode {
                    kind: flp::EncodeKind::Otlpmetrics,
                    otlpmetrics: Some(flp::EncodeOtlpMetrics {
                        otlp_connection_info: conn,
                        prefix: "netobserv_".into(),
                        push_time_interval: Some(otel.metrics.push_time_interval.clone()),
                        expiry_time: Some("2m".into()),
                        metrics: super::metrics::definitions(inputs),
                    }),
                    ..Encode::default()
                };
                let name = format!("otel-export-{i}-metrics");
                b.stage(Some(&transform_stage), encode(&name, e), false);
            }
        }
    }
}

/// Default mapping of flow fields to OpenTelemetry semantic-convention names, used when an
/// OpenTelemetry exporter has no `fieldsMapping`.
fn default_otel_mapping() -> Vec<flp::GenericRule> {
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
    .map(|(input, output)| flp::GenericRule {
        input: (*input).to_string(),
        output: (*output).to_string(),
        multiplier: None,
    })
    .collect()
}
