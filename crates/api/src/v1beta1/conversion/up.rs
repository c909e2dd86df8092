//! Field mapping from v1beta1 to v1beta2 (writes made through v1beta1), section by section,
//! with the defaulting that conversion itself does.

use serde_json::Value;

use super::ConversionError;
use crate::v1beta1::types as v1;
use crate::v1beta2 as v2;

/// The v1beta1 status, completed with the v1beta2-only parts kept in the annotation.
pub(super) fn up_status(
    status: &v1::FlowCollectorStatus,
    stored: Option<&v2::FlowCollectorStatus>,
) -> v2::FlowCollectorStatus {
    v2::FlowCollectorStatus {
        conditions: status.conditions.clone(),
        namespace: status.namespace.clone(),
        components: stored.and_then(|s| s.components.clone()),
        integrations: stored.and_then(|s| s.integrations.clone()),
    }
}

/// Narrows a v1beta1 64-bit integer to its 32-bit v1beta2 field, naming the field when it does
/// not fit.
fn to_i32(field: &'static str, value: i64) -> Result<i32, ConversionError> {
    i32::try_from(value).map_err(|_| ConversionError::OutOfRange { field, value })
}

/// `Some(value)` unless it equals the type's default: an `advanced` block that only holds
/// defaults is left out.
fn non_default<T: Default + PartialEq>(value: T) -> Option<T> {
    (value != T::default()).then_some(value)
}

/// Maps the v1beta1 spec field by field, with the defaulting that conversion itself does.
pub(super) fn up_spec(
    old: &v1::FlowCollectorSpec,
) -> Result<v2::FlowCollectorSpec, ConversionError> {
    Ok(v2::FlowCollectorSpec {
        namespace: old.namespace.clone(),
        deployment_model: match old.deployment_model {
            v1::DeploymentModel::Direct => v2::DeploymentModel::Direct,
            v1::DeploymentModel::Kafka => v2::DeploymentModel::Kafka,
            v1::DeploymentModel::Service => v2::DeploymentModel::Service,
        },
        agent: up_agent(&old.agent)?,
        processor: up_processor(&old.processor)?,
        loki: up_loki(&old.loki),
        prometheus: up_prometheus(&old.prometheus),
        console_plugin: up_console_plugin(&old.console_plugin),
        kafka: up_kafka(&old.kafka),
        exporters: old.exporters.iter().map(up_exporter).collect(),
        // `networkPolicy` and `execution` do not exist in v1beta1.
        ..v2::FlowCollectorSpec::default()
    })
}

fn up_agent(agent: &v1::FlowCollectorAgent) -> Result<v2::FlowCollectorAgent, ConversionError> {
    let ebpf = &agent.ebpf;
    Ok(v2::FlowCollectorAgent {
        kind: match agent.kind {
            v1::AgentType::Ebpf => v2::AgentType::Ebpf,
            v1::AgentType::Ipfix => v2::AgentType::Ipfix,
        },
        ipfix: agent.ipfix.clone(),
        ebpf: v2::FlowCollectorEbpf {
            image_pull_policy: ebpf.image_pull_policy,
            resources: ebpf.resources.clone(),
            sampling: ebpf.sampling,
            cache_active_timeout: ebpf.cache_active_timeout.clone(),
            cache_max_flows: ebpf.cache_max_flows,
            interfaces: ebpf.interfaces.clone(),
            exclude_interfaces: ebpf.exclude_interfaces.clone(),
            log_level: ebpf.log_level,
            privileged: ebpf.privileged,
            kafka_batch_size: to_i32("agent.ebpf.kafkaBatchSize", ebpf.kafka_batch_size)?,
            advanced: non_default(v2::AdvancedAgentConfig {
                env: ebpf.debug.env.clone(),
                cap_override: ebpf.debug.cap_override.clone(),
                ..v2::AdvancedAgentConfig::default()
            }),
            features: ebpf.features.clone(),
            metrics: v2::EbpfMetrics {
                server: up_metrics_server(&ebpf.metrics.server),
                enable: ebpf.metrics.enable,
                disable_alerts: ebpf.metrics.disable_alerts.clone(),
            },
            flow_filter: ebpf.flow_filter.clone(),
        },
    })
}

fn up_metrics_server(server: &v1::MetricsServerConfig) -> v2::MetricsServerConfig {
    v2::MetricsServerConfig {
        port: server.port,
        tls: v2::ServerTls {
            kind: match server.tls.kind {
                v1::ServerTlsType::Disabled => v2::ServerTlsType::Disabled,
                v1::ServerTlsType::Provided => v2::ServerTlsType::Provided,
                v1::ServerTlsType::Auto => v2::ServerTlsType::Auto,
            },
            provided: server.tls.provided.clone(),
            insecure_skip_verify: server.tls.insecure_skip_verify,
            provided_ca_file: server.tls.provided_ca_file.clone(),
        },
    }
}

fn up_hpa(hpa: &v1::FlowCollectorHpa) -> v2::FlowCollectorHpa {
    v2::FlowCollectorHpa {
        status: match hpa.status {
            v1::HpaStatus::Disabled => v2::HpaStatus::Disabled,
            v1::HpaStatus::Enabled => v2::HpaStatus::Enabled,
        },
        min_replicas: hpa.min_replicas,
        max_replicas: hpa.max_replicas,
        metrics: hpa.metrics.clone(),
    }
}

fn up_processor(p: &v1::FlowCollectorFlp) -> Result<v2::FlowCollectorFlp, ConversionError> {
    Ok(v2::FlowCollectorFlp {
        image_pull_policy: p.image_pull_policy,
        metrics: v2::FlpMetrics {
            server: up_metrics_server(&p.metrics.server),
            include_list: include_list(&p.metrics),
            disable_alerts: p.metrics.disable_alerts.clone(),
            // `additionalIncludeList` and `healthRules` do not exist in v1beta1.
            ..v2::FlpMetrics::default()
        },
        log_level: p.log_level,
        resources: p.resources.clone(),
        kafka_consumer_replicas: p.kafka_consumer_replicas,
        kafka_consumer_autoscaler: up_hpa(&p.kafka_consumer_autoscaler),
        kafka_consumer_queue_capacity: to_i32(
            "processor.kafkaConsumerQueueCapacity",
            p.kafka_consumer_queue_capacity,
        )?,
        kafka_consumer_batch_size: to_i32(
            "processor.kafkaConsumerBatchSize",
            p.kafka_consumer_batch_size,
        )?,
        log_types: match p.log_types {
            v1::LogTypes::Flows => v2::FlpLogTypes::Flows,
            v1::LogTypes::Conversations => v2::FlpLogTypes::Conversations,
            v1::LogTypes::EndedConversations => v2::FlpLogTypes::EndedConversations,
            v1::LogTypes::All => v2::FlpLogTypes::All,
        },
        cluster_name: p.cluster_name.clone(),
        multi_cluster_deployment: p.multi_cluster_deployment,
        add_zone: p.add_zone,
        subnet_labels: v2::SubnetLabels {
            open_shift_auto_detect: p.subnet_labels.open_shift_auto_detect,
            custom_labels: p
                .subnet_labels
                .custom_labels
                .iter()
                .map(|l| v2::SubnetLabel {
                    cidrs: l.cidrs.clone(),
                    name: l.name.clone(),
                })
                .collect(),
        },
        deduper: p.deduper.clone(),
        filters: p.filters.clone(),
        // `processor.debug.capOverride` has no v1beta2 counterpart (the processor never used it).
        advanced: non_default(v2::AdvancedProcessorConfig {
            env: p.debug.env.clone(),
            port: p.port,
            health_port: p.health_port,
            profile_port: p.profile_port,
            enable_kube_probes: p.enable_kube_probes,
            drop_unused_fields: p.drop_unused_fields,
            conversation_heartbeat_interval: p.conversation_heartbeat_interval.clone(),
            conversation_end_timeout: p.conversation_end_timeout.clone(),
            conversation_terminating_timeout: p.conversation_terminating_timeout.clone(),
            ..v2::AdvancedProcessorConfig::default()
        }),
        // `consumerReplicas`, `unmanagedReplicas`, `slicesConfig` and `service` do not exist in
        // v1beta1.
        ..v2::FlowCollectorFlp::default()
    })
}

/// The predefined metrics that v1beta1 `ignoreTags` selected from, in upstream's order, with
/// their tags.
fn predefined_metrics() -> Vec<(String, Vec<String>)> {
    const ROWS: [(&str, &[&str]); 12] = [
        ("egress_bytes_total", &["bytes", "egress"]),
        ("ingress_bytes_total", &["bytes", "ingress"]),
        ("egress_packets_total", &["packets", "egress"]),
        ("ingress_packets_total", &["packets", "ingress"]),
        ("sampling", &["sampling"]),
        ("flows_total", &["{group}-flows", "flows"]),
        ("rtt_seconds", &["rtt"]),
        ("drop_packets_total", &["packets", "drops"]),
        ("drop_bytes_total", &["bytes", "drop"]),
        ("dns_latency_seconds", &["dns"]),
        ("network_policy_events_total", &["network-policy"]),
        ("ipsec_flows_total", &["ipsec"]),
    ];
    let mut metrics = Vec::with_capacity(3 * ROWS.len() + 1);
    for (group, prefix) in [
        ("nodes", "node"),
        ("namespaces", "namespace"),
        ("workloads", "workload"),
    ] {
        for (suffix, tags) in ROWS {
            let mut all_tags = vec![group.to_string()];
            all_tags.extend(tags.iter().map(|t| t.replace("{group}", group)));
            metrics.push((format!("{prefix}_{suffix}"), all_tags));
        }
    }
    metrics.push((
        "node_to_node_ingress_flows_total".to_string(),
        vec!["nodes".to_string(), "ipsec".to_string()],
    ));
    metrics
}

/// v1beta2 `includeList` from the v1beta1 metrics settings: `includeList` when set, otherwise
/// the predefined metrics that carry none of the `ignoreTags`.
fn include_list(metrics: &v1::FlpMetrics) -> Option<Vec<v2::FlpMetric>> {
    if let Some(list) = &metrics.include_list {
        return Some(list.clone());
    }
    let tags = &metrics.ignore_tags;
    if tags.is_empty() || tags.iter().map(String::as_str).eq(v1::DEFAULT_IGNORE_TAGS) {
        return None;
    }
    let list = predefined_metrics()
        .into_iter()
        .filter(|(_, metric_tags)| !metric_tags.iter().any(|t| tags.contains(t)))
        // Names that v1beta2 does not know (`node_sampling`, `namespace_sampling`) are dropped.
        .filter_map(|(name, _)| serde_json::from_value(Value::String(name)).ok())
        .collect();
    Some(list)
}

fn up_auth_token(token: v1::LokiAuthToken) -> v2::LokiAuthToken {
    match token {
        v1::LokiAuthToken::Disabled => v2::LokiAuthToken::Disabled,
        v1::LokiAuthToken::Host => v2::LokiAuthToken::Host,
        v1::LokiAuthToken::Forward => v2::LokiAuthToken::Forward,
    }
}

fn up_loki(loki: &v1::FlowCollectorLoki) -> v2::FlowCollectorLoki {
    let querier_url = if loki.querier_url.is_empty() {
        loki.url.clone()
    } else {
        loki.querier_url.clone()
    };
    v2::FlowCollectorLoki {
        enable: loki.enable,
        mode: v2::LokiMode::Manual,
        manual: v2::LokiManualParams {
            ingester_url: loki.url.clone(),
            querier_url,
            status_url: loki.status_url.clone(),
            tenant_id: loki.tenant_id.clone(),
            auth_token: up_auth_token(loki.auth_token),
            tls: loki.tls.clone(),
            status_tls: loki.status_tls.clone(),
        },
        read_timeout: loki.read_timeout.clone(),
        write_timeout: loki.timeout.clone(),
        write_batch_wait: loki.batch_wait.clone(),
        write_batch_size: loki.batch_size,
        advanced: non_default(v2::AdvancedLokiConfig {
            write_min_backoff: loki.min_backoff.clone(),
            write_max_backoff: loki.max_backoff.clone(),
            write_max_retries: loki.max_retries,
            static_labels: loki.static_labels.clone(),
            ..v2::AdvancedLokiConfig::default()
        }),
        // The `lokiStack`, `monolithic` and `microservices` blocks do not exist in v1beta1.
        ..v2::FlowCollectorLoki::default()
    }
}

fn up_prometheus(prometheus: &v1::FlowCollectorPrometheus) -> v2::FlowCollectorPrometheus {
    let querier = &prometheus.querier;
    v2::FlowCollectorPrometheus {
        querier: v2::PrometheusQuerier {
            enable: querier.enable,
            mode: match querier.mode {
                v1::PrometheusMode::Manual => v2::PrometheusMode::Manual,
                v1::PrometheusMode::Auto => v2::PrometheusMode::Auto,
            },
            manual: v2::PrometheusQuerierManual {
                url: querier.manual.url.clone(),
                tls: querier.manual.tls.clone(),
                forward_user_token: querier.manual.forward_user_token,
                // `alertManager` does not exist in v1beta1.
                ..v2::PrometheusQuerierManual::default()
            },
            timeout: querier.timeout.clone(),
        },
    }
}

fn up_console_plugin(plugin: &v1::FlowCollectorConsolePlugin) -> v2::FlowCollectorConsolePlugin {
    v2::FlowCollectorConsolePlugin {
        enable: plugin.enable,
        replicas: plugin.replicas,
        image_pull_policy: plugin.image_pull_policy,
        resources: plugin.resources.clone(),
        log_level: plugin.log_level,
        autoscaler: up_hpa(&plugin.autoscaler),
        port_naming: plugin.port_naming.clone(),
        quick_filters: plugin.quick_filters.clone(),
        advanced: non_default(v2::AdvancedPluginConfig {
            register: plugin.register,
            port: plugin.port,
            ..v2::AdvancedPluginConfig::default()
        }),
        // `standalone` and `unmanagedReplicas` do not exist in v1beta1.
        ..v2::FlowCollectorConsolePlugin::default()
    }
}

fn up_kafka(kafka: &v1::FlowCollectorKafka) -> v2::FlowCollectorKafka {
    v2::FlowCollectorKafka {
        address: kafka.address.clone(),
        topic: kafka.topic.clone(),
        tls: kafka.tls.clone(),
        sasl: v2::SaslConfig {
            kind: match kafka.sasl.kind {
                v1::SaslType::Disabled => v2::SaslType::Disabled,
                v1::SaslType::Plain => v2::SaslType::Plain,
                v1::SaslType::ScramSha512 => v2::SaslType::ScramSHA512,
            },
            client_id_reference: kafka.sasl.client_id_reference.clone(),
            client_secret_reference: kafka.sasl.client_secret_reference.clone(),
        },
        // `compression` does not exist in v1beta1.
        ..v2::FlowCollectorKafka::default()
    }
}

fn up_exporter(exporter: &v1::FlowCollectorExporter) -> v2::FlowCollectorExporter {
    let kind = match exporter.kind {
        v1::ExporterType::Kafka => v2::ExporterType::Kafka,
        v1::ExporterType::Ipfix => v2::ExporterType::Ipfix,
        v1::ExporterType::OpenTelemetry => v2::ExporterType::OpenTelemetry,
    };
    // v1beta1 always has both blocks; only the one of the type, or one that was filled in, is
    // kept.
    let kafka = (kind == v2::ExporterType::Kafka
        || exporter.kafka != v1::FlowCollectorKafka::default())
    .then(|| up_kafka(&exporter.kafka));
    let ipfix = (kind == v2::ExporterType::Ipfix
        || exporter.ipfix != v1::FlowCollectorIpfixReceiver::default())
    .then(|| v2::FlowCollectorIpfixReceiver {
        target_host: exporter.ipfix.target_host.clone(),
        target_port: exporter.ipfix.target_port,
        transport: exporter.ipfix.transport,
        // `enterpriseID` does not exist in v1beta1.
        ..v2::FlowCollectorIpfixReceiver::default()
    });
    v2::FlowCollectorExporter {
        kind,
        kafka,
        ipfix,
        open_telemetry: None,
    }
}
