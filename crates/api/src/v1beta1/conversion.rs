//! Conversion between the deprecated v1beta1 `FlowCollector` and the stored v1beta2 one.
//!
//! v1beta2 is the hub. [`from_v1beta2`] serves v1beta1 reads: it maps every field that v1beta1
//! can express and stores the whole v1beta2 object (spec and status, without metadata) as JSON in
//! the [`CONVERSION_DATA_ANNOTATION`] annotation. [`to_v1beta2`] serves v1beta1 writes: it maps
//! the v1beta1 fields back and, when the annotation is there, merges them into the v1beta2 object
//! it holds, then drops the annotation.
//!
//! The merge is three-way. The v1beta1 object that the annotation's content converts to is
//! what the client was shown; every v1beta2 field whose v1beta1 counterpart still shows that value
//! keeps the annotation's exact value (v1beta2-only fields, explicit defaults, `advanced` blocks),
//! and every field the client changed takes the client's value. So a read-modify-write through
//! v1beta1 loses nothing, and an edit made through v1beta1 is never overridden by the annotation.
//!
//! Differences from the upstream (Go) conversion, all made to keep data:
//! - every v1beta2-only field is restored from the annotation, not only the Loki mode blocks and
//!   the `scheduling` blocks (upstream lost `networkPolicy`, exporters' `openTelemetry`,
//!   `processor.advanced.env`/`secondaryNetworks`, `consolePlugin.advanced.env`/`args` and
//!   sometimes `agent.ebpf.advanced.capOverride`);
//! - v1beta1 Loki settings that the client edited win over the annotation; if the stored mode was
//!   not `Manual`, the mode becomes `Manual` with the connection settings the client sees;
//! - v1beta1 `processor.debug.env` maps to `processor.advanced.env` (upstream dropped it), and
//!   `agent.ebpf.debug.capOverride` alone keeps `agent.ebpf.advanced` (upstream lost it);
//! - on the way down, `advanced` values missing in v1beta2 are shown with their v1beta2 defaults
//!   rather than left out; `profilePort` is only set when it is set;
//! - a `LokiStack` without namespace is looked up in `spec.namespace`, as the operator does,
//!   instead of producing a host with an empty namespace segment; a `Monolithic` or
//!   `Microservices` Loki shows `authToken: DISABLED` instead of an invalid empty value;
//! - v1beta1 enums accept the values down-conversion may produce (`SERVICE`, `OPEN_TELEMETRY`,
//!   v1beta2 metric, alert and feature names), so such objects can be written back;
//! - `ignoreTags` turned into an `includeList` keeps only names that v1beta2 knows
//!   (`node_sampling` and `namespace_sampling` are not metrics v1beta2 can generate);
//! - durations are compared with the v1beta2 defaults as written (`1000ms` is kept as is).
//!
//! Without annotation, v1beta1 data that v1beta2 cannot hold is normalised rather than kept:
//! `ignoreTags` becomes the equivalent `includeList` (and reads back as the v1beta1 default),
//! `processor.debug.capOverride` (never used by the processor) is dropped, and a `querierUrl`
//! equal to `url` reads back empty, which means the same.
//!
//! A corrupt annotation (not JSON, or not a v1beta2 FlowCollector) makes [`to_v1beta2`] fail
//! with [`ConversionError::InvalidConversionData`] rather than silently reset the v1beta2-only
//! settings; removing the annotation from the v1beta1 object makes the write go through.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::types as v1;
use crate::v1beta2 as v2;

/// Annotation of a v1beta1 object that holds, as JSON, the v1beta2 object it was converted from.
pub const CONVERSION_DATA_ANNOTATION: &str = "flows.netobserv.io/conversion-data";

const V1BETA2_API_VERSION: &str = "flows.netobserv.io/v1beta2";

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    /// The conversion-data annotation is not the JSON of a v1beta2 FlowCollector.
    #[error(
        "annotation {CONVERSION_DATA_ANNOTATION} does not hold a valid v1beta2 FlowCollector \
         ({0}); fix it or remove it from the object"
    )]
    InvalidConversionData(#[source] serde_json::Error),
    /// A v1beta1 integer is too large for the 32-bit v1beta2 field it maps to.
    #[error("spec.{field} = {value} is out of range: v1beta2 only accepts 32-bit integers")]
    OutOfRange {
        /// Path of the field, under `spec`.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// The v1beta2 object could not be serialised into the annotation.
    #[error("cannot serialise the v1beta2 FlowCollector: {0}")]
    Serialize(#[source] serde_json::Error),
    /// Merging the v1beta1 values into the annotation's object gave an invalid v1beta2 spec.
    #[error("cannot merge the v1beta1 fields into the v1beta2 FlowCollector: {0}")]
    Merge(#[source] serde_json::Error),
}

/// Content of the conversion-data annotation: the v1beta2 object without its metadata (the same
/// layout as the upstream operator's, so annotations it wrote can be read).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConversionDataOut<'a> {
    api_version: &'a str,
    kind: &'a str,
    spec: &'a v2::FlowCollectorSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a v2::FlowCollectorStatus>,
}

#[derive(Deserialize)]
struct ConversionDataIn {
    spec: v2::FlowCollectorSpec,
    #[serde(default)]
    status: Option<v2::FlowCollectorStatus>,
}

/// Converts a v1beta1 FlowCollector (a create, update or patch sent as v1beta1) to v1beta2.
///
/// Without the conversion-data annotation, every v1beta1 field is mapped and the v1beta2-only
/// fields get their defaults. With it, the v1beta2 object it holds is restored and the v1beta1
/// fields the client changed are applied on top; the annotation itself is removed.
pub fn to_v1beta2(old: &v1::FlowCollector) -> Result<v2::FlowCollector, ConversionError> {
    let mut metadata = old.metadata.clone();
    let raw = metadata
        .annotations
        .as_mut()
        .and_then(|annotations| annotations.remove(CONVERSION_DATA_ANNOTATION));
    if metadata
        .annotations
        .as_ref()
        .is_some_and(BTreeMap::is_empty)
    {
        metadata.annotations = None;
    }
    let edited = up_spec(&old.spec)?;
    let (spec, stored_status) = match raw {
        None => (edited, None),
        Some(raw) => {
            let data = parse_conversion_data(&raw)?;
            (restore_spec(&data.spec, edited)?, data.status)
        }
    };
    let status = old
        .status
        .as_ref()
        .map(|status| up_status(status, stored_status.as_ref()));
    Ok(v2::FlowCollector {
        metadata,
        spec,
        status,
    })
}

/// Converts a v1beta2 FlowCollector to v1beta1 (a read as v1beta1). The whole v1beta2 object is
/// kept in the conversion-data annotation, replacing any previous value.
pub fn from_v1beta2(new: &v2::FlowCollector) -> Result<v1::FlowCollector, ConversionError> {
    let data = ConversionDataOut {
        api_version: V1BETA2_API_VERSION,
        kind: "FlowCollector",
        spec: &new.spec,
        status: new.status.as_ref(),
    };
    let json = serde_json::to_string(&data).map_err(ConversionError::Serialize)?;
    let mut metadata = new.metadata.clone();
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(CONVERSION_DATA_ANNOTATION.to_string(), json);
    Ok(v1::FlowCollector {
        metadata,
        spec: down_spec(&new.spec),
        status: new.status.as_ref().map(down_status),
    })
}

// ---------------------------------------------------------------------------------------------
// Annotation handling
// ---------------------------------------------------------------------------------------------

fn parse_conversion_data(raw: &str) -> Result<ConversionDataIn, ConversionError> {
    let mut value: Value =
        serde_json::from_str(raw).map_err(ConversionError::InvalidConversionData)?;
    // The Go operator writes `null` for empty lists and maps; they mean "not set".
    strip_nulls(&mut value);
    serde_json::from_value(value).map_err(ConversionError::InvalidConversionData)
}

fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Rebuilds the v1beta2 spec from the annotation's `stored` spec and the up-conversion of the
/// v1beta1 spec the client sent (`edited`).
fn restore_spec(
    stored: &v2::FlowCollectorSpec,
    edited: v2::FlowCollectorSpec,
) -> Result<v2::FlowCollectorSpec, ConversionError> {
    // What `edited` would be if the client had changed nothing.
    let base = up_spec(&down_spec(stored))?;
    if base == edited {
        return Ok(stored.clone());
    }
    let to_json = |spec: &v2::FlowCollectorSpec| {
        serde_json::to_value(spec).map_err(ConversionError::Serialize)
    };
    let mut merged = to_json(stored)?;
    merge_value(&mut merged, &to_json(&base)?, &to_json(&edited)?);
    let mut spec: v2::FlowCollectorSpec =
        serde_json::from_value(merged).map_err(ConversionError::Merge)?;
    // v1beta1 Loki settings are the `Manual` mode: once edited, they only take effect in it.
    if edited.loki.manual != base.loki.manual && stored.loki.mode != v2::LokiMode::Manual {
        spec.loki.mode = v2::LokiMode::Manual;
        spec.loki.manual = edited.loki.manual;
    }
    Ok(spec)
}

/// Applies to `target` the changes that turn `base` into `edited`.
fn merge_value(target: &mut Value, base: &Value, edited: &Value) {
    if base == edited {
        return;
    }
    match (target, edited) {
        (Value::Object(target), Value::Object(edited)) => {
            let empty = Map::new();
            merge_object(target, base.as_object().unwrap_or(&empty), edited);
        }
        (Value::Array(target), Value::Array(edited)) => match base {
            Value::Array(base) if base.len() == target.len() => {
                merge_array(target, base, edited);
            }
            _ => target.clone_from(edited),
        },
        (target, edited) => target.clone_from(edited),
    }
}

fn merge_object(
    target: &mut Map<String, Value>,
    base: &Map<String, Value>,
    edited: &Map<String, Value>,
) {
    let keys: BTreeSet<&String> = base.keys().chain(edited.keys()).collect();
    for key in keys {
        match (base.get(key), edited.get(key)) {
            (b, e) if b == e => {}
            (b, Some(e)) => match target.get_mut(key) {
                Some(t) => merge_value(t, b.unwrap_or(&Value::Null), e),
                None => {
                    target.insert(key.clone(), e.clone());
                }
            },
            (Some(b), None) => {
                // Left out of `edited`: back to its default. Only the fields that came from
                // v1beta1 are removed from an object; the rest of it stays.
                let keep = match target.get_mut(key) {
                    Some(t @ Value::Object(_)) if b.is_object() => {
                        merge_value(t, b, &Value::Object(Map::new()));
                        t.as_object().is_some_and(|o| !o.is_empty())
                    }
                    _ => false,
                };
                if !keep {
                    target.remove(key);
                }
            }
            (None, None) => {}
        }
    }
}

/// Merges lists item by item. `target` and `base` have the same length and the same order (the
/// conversions keep both), so `base[i]` is what `target[i]` looked like to the client. Items the
/// client kept (even if moved) keep their stored value; items changed in place are merged; new
/// items are taken as sent.
fn merge_array(target: &mut Vec<Value>, base: &[Value], edited: &[Value]) {
    let mut used = vec![false; base.len()];
    let mut out: Vec<Option<Value>> = vec![None; edited.len()];
    for (i, item) in edited.iter().enumerate() {
        let found = if i < base.len() && !used[i] && base[i] == *item {
            Some(i)
        } else {
            (0..base.len()).find(|&j| !used[j] && base[j] == *item)
        };
        if let Some(j) = found {
            used[j] = true;
            out[i] = Some(target[j].clone());
        }
    }
    let same_length = base.len() == edited.len();
    let merged = edited
        .iter()
        .zip(out)
        .enumerate()
        .map(|(i, (item, kept))| match kept {
            Some(value) => value,
            None if same_length && !used[i] => {
                let mut value = target[i].clone();
                merge_value(&mut value, &base[i], item);
                value
            }
            None => item.clone(),
        })
        .collect();
    *target = merged;
}

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

fn up_status(
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

fn down_status(status: &v2::FlowCollectorStatus) -> v1::FlowCollectorStatus {
    v1::FlowCollectorStatus {
        conditions: status.conditions.clone(),
        namespace: status.namespace.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Field mapping, v1beta1 -> v1beta2
// ---------------------------------------------------------------------------------------------

fn to_i32(field: &'static str, value: i64) -> Result<i32, ConversionError> {
    i32::try_from(value).map_err(|_| ConversionError::OutOfRange { field, value })
}

/// `Some(value)` unless it equals the type's default: an `advanced` block that only holds
/// defaults is left out.
fn non_default<T: Default + PartialEq>(value: T) -> Option<T> {
    (value != T::default()).then_some(value)
}

/// Maps the v1beta1 spec field by field, with the defaulting that conversion itself does.
fn up_spec(old: &v1::FlowCollectorSpec) -> Result<v2::FlowCollectorSpec, ConversionError> {
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

// ---------------------------------------------------------------------------------------------
// Field mapping, v1beta2 -> v1beta1
// ---------------------------------------------------------------------------------------------

/// Maps the v1beta2 spec to what v1beta1 can express.
fn down_spec(new: &v2::FlowCollectorSpec) -> v1::FlowCollectorSpec {
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
