//! Field mapping from v1beta2 to v1beta1 (reads made through v1beta1): what v1beta1 can express
//! of each section, with v1beta2 defaults shown for `advanced` values that are not set.

use crate::v1beta1::types as v1;
use crate::v1beta2 as v2;

/// The v1beta1 status: the v1beta2-only parts are kept in the annotation instead.
pub(super) fn down_status(status: &v2::FlowCollectorStatus) -> v1::FlowCollectorStatus {
    v1::FlowCollectorStatus {
        conditions: status.conditions.clone(),
        namespace: status.namespace.clone(),
    }
}

/// Maps the v1beta2 spec to what v1beta1 can express.
pub(super) fn down_spec(new: &v2::FlowCollectorSpec) -> v1::FlowCollectorSpec {
    v1::FlowCollectorSpec {
        namespace: new.namespace.clone(),
        agent: down_agent(&new.agent),
        processor: down_processor(&new.processor),
        loki: down_loki(&new.loki, &new.namespace),
        prometheus: down_prometheus(&new.prometheus),
        console_plugin: down_console_plugin(&new.console_plugin),
        deployment_model: match new.deployment_model {
            v2::DeploymentModel::Direct => v1::DeploymentModel::Direct,
            v2::DeploymentModel::Kafka => v1::DeploymentModel::Kafka,
            v2::DeploymentModel::Service => v1::DeploymentModel::Service,
        },
        kafka: down_kafka(&new.kafka),
        exporters: new.exporters.iter().map(down_exporter).collect(),
    }
}

fn down_agent(agent: &v2::FlowCollectorAgent) -> v1::FlowCollectorAgent {
    let ebpf = &agent.ebpf;
    let advanced = ebpf.advanced.clone().unwrap_or_default();
    v1::FlowCollectorAgent {
        kind: match agent.kind {
            v2::AgentType::Ebpf => v1::AgentType::Ebpf,
            v2::AgentType::Ipfix => v1::AgentType::Ipfix,
        },
        ipfix: agent.ipfix.clone(),
        ebpf: v1::FlowCollectorEbpf {
            image_pull_policy: ebpf.image_pull_policy,
            resources: ebpf.resources.clone(),
            sampling: ebpf.sampling,
            cache_active_timeout: ebpf.cache_active_timeout.clone(),
            cache_max_flows: ebpf.cache_max_flows,
            interfaces: ebpf.interfaces.clone(),
            exclude_interfaces: ebpf.exclude_interfaces.clone(),
            log_level: ebpf.log_level,
            privileged: ebpf.privileged,
            kafka_batch_size: i64::from(ebpf.kafka_batch_size),
            debug: v1::DebugConfig {
                env: advanced.env,
                cap_override: advanced.cap_override,
            },
            features: ebpf.features.clone(),
            metrics: v1::EbpfMetrics {
                server: down_metrics_server(&ebpf.metrics.server),
                enable: ebpf.metrics.enable,
                disable_alerts: ebpf.metrics.disable_alerts.clone(),
            },
            flow_filter: ebpf.flow_filter.clone(),
        },
    }
}

fn down_metrics_server(server: &v2::MetricsServerConfig) -> v1::MetricsServerConfig {
    v1::MetricsServerConfig {
        port: server.port,
        tls: v1::ServerTls {
            kind: match server.tls.kind {
                v2::ServerTlsType::Disabled => v1::ServerTlsType::Disabled,
                v2::ServerTlsType::Provided => v1::ServerTlsType::Provided,
                v2::ServerTlsType::Auto => v1::ServerTlsType::Auto,
            },
            provided: server.tls.provided.clone(),
            insecure_skip_verify: server.tls.insecure_skip_verify,
            provided_ca_file: server.tls.provided_ca_file.clone(),
        },
    }
}

fn down_hpa(hpa: &v2::FlowCollectorHpa) -> v1::FlowCollectorHpa {
    v1::FlowCollectorHpa {
        status: match hpa.status {
            v2::HpaStatus::Disabled => v1::HpaStatus::Disabled,
            v2::HpaStatus::Enabled => v1::HpaStatus::Enabled,
        },
        min_replicas: hpa.min_replicas,
        max_replicas: hpa.max_replicas,
        metrics: hpa.metrics.clone(),
    }
}

fn down_processor(p: &v2::FlowCollectorFlp) -> v1::FlowCollectorFlp {
    let advanced = p.advanced.clone().unwrap_or_default();
    v1::FlowCollectorFlp {
        port: advanced.port,
        health_port: advanced.health_port,
        profile_port: advanced.profile_port,
        image_pull_policy: p.image_pull_policy,
        metrics: v1::FlpMetrics {
            server: down_metrics_server(&p.metrics.server),
            include_list: p.metrics.include_list.clone(),
            disable_alerts: p.metrics.disable_alerts.clone(),
            // `ignoreTags` keeps its v1beta1 default, which stands for "no includeList".
            ..v1::FlpMetrics::default()
        },
        log_level: p.log_level,
        resources: p.resources.clone(),
        enable_kube_probes: advanced.enable_kube_probes,
        drop_unused_fields: advanced.drop_unused_fields,
        kafka_consumer_replicas: p.kafka_consumer_replicas,
        kafka_consumer_autoscaler: down_hpa(&p.kafka_consumer_autoscaler),
        kafka_consumer_queue_capacity: i64::from(p.kafka_consumer_queue_capacity),
        kafka_consumer_batch_size: i64::from(p.kafka_consumer_batch_size),
        log_types: match p.log_types {
            v2::FlpLogTypes::Flows => v1::LogTypes::Flows,
            v2::FlpLogTypes::Conversations => v1::LogTypes::Conversations,
            v2::FlpLogTypes::EndedConversations => v1::LogTypes::EndedConversations,
            v2::FlpLogTypes::All => v1::LogTypes::All,
        },
        conversation_heartbeat_interval: advanced.conversation_heartbeat_interval,
        conversation_end_timeout: advanced.conversation_end_timeout,
        conversation_terminating_timeout: advanced.conversation_terminating_timeout,
        cluster_name: p.cluster_name.clone(),
        multi_cluster_deployment: p.multi_cluster_deployment,
        add_zone: p.add_zone,
        subnet_labels: v1::SubnetLabels {
            open_shift_auto_detect: p.subnet_labels.open_shift_auto_detect,
            custom_labels: p
                .subnet_labels
                .custom_labels
                .iter()
                .map(|l| v1::SubnetLabel {
                    cidrs: l.cidrs.clone(),
                    name: l.name.clone(),
                })
                .collect(),
        },
        deduper: p.deduper.clone(),
        filters: p.filters.clone(),
        debug: v1::DebugConfig {
            env: advanced.env,
            cap_override: Vec::new(),
        },
    }
}

/// The v1beta1 (manual) connection settings that a v1beta2 Loki configuration amounts to.
struct LokiConnection {
    url: String,
    querier_url: String,
    status_url: String,
    tenant_id: String,
    auth_token: v1::LokiAuthToken,
    tls: v2::ClientTls,
    status_tls: v2::ClientTls,
}

fn loki_connection(loki: &v2::FlowCollectorLoki, spec_namespace: &str) -> LokiConnection {
    match loki.mode {
        v2::LokiMode::LokiStack => {
            let name = &loki.loki_stack.name;
            let namespace = if loki.loki_stack.namespace.is_empty() {
                spec_namespace
            } else {
                &loki.loki_stack.namespace
            };
            let gateway =
                format!("https://{name}-gateway-http.{namespace}.svc:8080/api/logs/v1/network/");
            let reference =
                |kind, name: String, cert_file: &str, cert_key: &str| v2::CertificateReference {
                    kind: Some(kind),
                    name,
                    namespace: namespace.to_string(),
                    cert_file: cert_file.to_string(),
                    cert_key: cert_key.to_string(),
                };
            LokiConnection {
                url: gateway.clone(),
                querier_url: gateway,
                status_url: format!("https://{name}-query-frontend-http.{namespace}.svc:3100/"),
                tenant_id: "network".to_string(),
                auth_token: v1::LokiAuthToken::Forward,
                tls: v2::ClientTls {
                    enable: true,
                    ca_cert: reference(
                        v2::MountableType::ConfigMap,
                        format!("{name}-gateway-ca-bundle"),
                        "service-ca.crt",
                        "",
                    ),
                    ..v2::ClientTls::default()
                },
                status_tls: v2::ClientTls {
                    enable: true,
                    ca_cert: reference(
                        v2::MountableType::ConfigMap,
                        format!("{name}-ca-bundle"),
                        "service-ca.crt",
                        "",
                    ),
                    user_cert: reference(
                        v2::MountableType::Secret,
                        format!("{name}-query-frontend-http"),
                        "tls.crt",
                        "tls.key",
                    ),
                    ..v2::ClientTls::default()
                },
            }
        }
        v2::LokiMode::Monolithic => {
            let m = &loki.monolithic;
            LokiConnection {
                url: m.url.clone(),
                querier_url: m.url.clone(),
                status_url: m.url.clone(),
                tenant_id: m.tenant_id.clone(),
                auth_token: v1::LokiAuthToken::Disabled,
                tls: m.tls.clone(),
                status_tls: v2::ClientTls::default(),
            }
        }
        v2::LokiMode::Microservices => {
            let m = &loki.microservices;
            LokiConnection {
                url: m.ingester_url.clone(),
                querier_url: m.querier_url.clone(),
                status_url: m.querier_url.clone(),
                tenant_id: m.tenant_id.clone(),
                auth_token: v1::LokiAuthToken::Disabled,
                tls: m.tls.clone(),
                status_tls: v2::ClientTls::default(),
            }
        }
        v2::LokiMode::Manual => {
            let m = &loki.manual;
            LokiConnection {
                url: m.ingester_url.clone(),
                querier_url: m.querier_url.clone(),
                status_url: m.status_url.clone(),
                tenant_id: m.tenant_id.clone(),
                auth_token: match m.auth_token {
                    v2::LokiAuthToken::Disabled => v1::LokiAuthToken::Disabled,
                    v2::LokiAuthToken::Host => v1::LokiAuthToken::Host,
                    v2::LokiAuthToken::Forward => v1::LokiAuthToken::Forward,
                },
                tls: m.tls.clone(),
                status_tls: m.status_tls.clone(),
            }
        }
    }
}

fn down_loki(loki: &v2::FlowCollectorLoki, spec_namespace: &str) -> v1::FlowCollectorLoki {
    let connection = loki_connection(loki, spec_namespace);
    let advanced = loki.advanced.clone().unwrap_or_default();
    v1::FlowCollectorLoki {
        enable: loki.enable,
        // An empty v1beta1 `querierUrl` means `url`; showing it empty keeps it following `url`.
        querier_url: if connection.querier_url == connection.url {
            String::new()
        } else {
            connection.querier_url
        },
        url: connection.url,
        status_url: connection.status_url,
        tenant_id: connection.tenant_id,
        auth_token: connection.auth_token,
        batch_wait: loki.write_batch_wait.clone(),
        batch_size: loki.write_batch_size,
        read_timeout: loki.read_timeout.clone(),
        timeout: loki.write_timeout.clone(),
        min_backoff: advanced.write_min_backoff,
        max_backoff: advanced.write_max_backoff,
        max_retries: advanced.write_max_retries,
        static_labels: advanced.static_labels,
        tls: connection.tls,
        status_tls: connection.status_tls,
    }
}

fn down_prometheus(prometheus: &v2::FlowCollectorPrometheus) -> v1::FlowCollectorPrometheus {
    let querier = &prometheus.querier;
    v1::FlowCollectorPrometheus {
        querier: v1::PrometheusQuerier {
            enable: querier.enable,
            mode: match querier.mode {
                v2::PrometheusMode::Manual => v1::PrometheusMode::Manual,
                v2::PrometheusMode::Auto => v1::PrometheusMode::Auto,
            },
            manual: v1::PrometheusQuerierManual {
                url: querier.manual.url.clone(),
                tls: querier.manual.tls.clone(),
                forward_user_token: querier.manual.forward_user_token,
            },
            timeout: querier.timeout.clone(),
        },
    }
}

fn down_console_plugin(plugin: &v2::FlowCollectorConsolePlugin) -> v1::FlowCollectorConsolePlugin {
    let advanced = plugin.advanced.clone().unwrap_or_default();
    v1::FlowCollectorConsolePlugin {
        enable: plugin.enable,
        register: advanced.register,
        replicas: plugin.replicas,
        port: advanced.port,
        image_pull_policy: plugin.image_pull_policy,
        resources: plugin.resources.clone(),
        log_level: plugin.log_level,
        autoscaler: down_hpa(&plugin.autoscaler),
        port_naming: plugin.port_naming.clone(),
        quick_filters: plugin.quick_filters.clone(),
    }
}

fn down_kafka(kafka: &v2::FlowCollectorKafka) -> v1::FlowCollectorKafka {
    v1::FlowCollectorKafka {
        address: kafka.address.clone(),
        topic: kafka.topic.clone(),
        tls: kafka.tls.clone(),
        sasl: v1::SaslConfig {
            kind: match kafka.sasl.kind {
                v2::SaslType::Disabled => v1::SaslType::Disabled,
                v2::SaslType::Plain => v1::SaslType::Plain,
                v2::SaslType::ScramSHA512 => v1::SaslType::ScramSha512,
            },
            client_id_reference: kafka.sasl.client_id_reference.clone(),
            client_secret_reference: kafka.sasl.client_secret_reference.clone(),
        },
    }
}

fn down_exporter(exporter: &v2::FlowCollectorExporter) -> v1::FlowCollectorExporter {
    v1::FlowCollectorExporter {
        kind: match exporter.kind {
            v2::ExporterType::Kafka => v1::ExporterType::Kafka,
            v2::ExporterType::Ipfix => v1::ExporterType::Ipfix,
            v2::ExporterType::OpenTelemetry => v1::ExporterType::OpenTelemetry,
        },
        kafka: exporter.kafka.as_ref().map(down_kafka).unwrap_or_default(),
        ipfix: exporter
            .ipfix
            .as_ref()
            .map(|ipfix| v1::FlowCollectorIpfixReceiver {
                target_host: ipfix.target_host.clone(),
                target_port: ipfix.target_port,
                transport: ipfix.transport,
            })
            .unwrap_or_default(),
    }
}
