//! `spec.processor`: the flow pipeline (flowlogs-pipeline) that enriches the agents' flows, turns
//! them into metrics and writes them to Loki and the exporters; also its health rules and the
//! built-in defaults that the operator and the validation share.
//!
//! This module holds the section itself and the schema helpers other sections borrow; the parts
//! of the section live in submodules and are re-exported here, so every type keeps its
//! `v1beta2::processor::X` (and `v1beta2::X`) path.

use super::agent::{ImagePullPolicy, LogLevel};
use super::common::{FlowCollectorHpa, MetricsServerConfig};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod deployment;
mod enrichment;
mod filters;
mod health_rules;
mod metrics;

pub use deployment::*;
pub use enrichment::*;
pub use filters::*;
pub use health_rules::*;
pub use metrics::*;

/// Builds container resources with CPU and memory requests and a memory limit.
pub(crate) fn resource_requirements(
    cpu_request: &str,
    memory_request: &str,
    memory_limit: &str,
) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu_request.to_string())),
            ("memory".to_string(), Quantity(memory_request.to_string())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity(memory_limit.to_string()),
        )])),
        ..ResourceRequirements::default()
    }
}

/// Drops the `default:` that schemars derives from the struct's `Default` for `field`: upstream
/// declares no default there, so the API server must not fill it in.
pub(crate) fn unset_default(schema: &mut schemars::Schema, field: &str) {
    if let Some(prop) = schema
        .as_object_mut()
        .and_then(|obj| obj.get_mut("properties"))
        .and_then(|props| props.get_mut(field))
        .and_then(|prop| prop.as_object_mut())
    {
        prop.remove("default");
    }
}

/// Lets an integer that defaults to 0 be left out of the JSON (serde `skip_serializing_if`).
pub(crate) fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// Kind of records the processor writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FlpLogTypes {
    /// Plain network flows.
    #[default]
    Flows,
    /// Conversation events: start, periodic ticks and end. Metrics get less accurate on long
    /// conversations.
    Conversations,
    /// Only the end of each conversation. Metrics get less accurate on long conversations.
    EndedConversations,
    /// Flows plus every conversation event; the most expensive choice.
    All,
}

/// Metrics of the processor and the Prometheus rules built on them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlpMetrics {
    /// Endpoint that Prometheus scrapes (port 9401 unless set).
    pub server: MetricsServerConfig,
    /// Metrics to generate, replacing the default list. Unset means the default list, which
    /// depends on whether Loki is on. Metrics of features that are off are left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_list: Option<Vec<FlpMetric>>,
    /// Metrics added to the default list. Ignored when `includeList` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_include_list: Option<Vec<FlpMetric>>,
    /// Health rule templates not to install, including the alert-only ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable_alerts: Vec<HealthRuleTemplate>,
    /// Health rules, as alerts or recording rules. A template listed here replaces its built-in
    /// definition; templates not listed keep theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_rules: Option<Vec<FlpHealthRule>>,
}

/// Settings of the processor (flowlogs-pipeline), which receives flows from the agents, enriches
/// them, generates metrics and writes to Loki and the exporters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorFlp {
    /// Pull policy of the processor image.
    pub image_pull_policy: ImagePullPolicy,
    /// Metrics and health rules of the processor.
    pub metrics: FlpMetrics,
    /// Log verbosity of the processor. `trace` also prints every flow.
    pub log_level: LogLevel,
    /// CPU and memory requests and limits of the processor container.
    pub resources: ResourceRequirements,
    /// Deprecated: use `consumerReplicas`. Replicas of the Kafka consumer.
    #[schemars(range(min = 0))]
    pub kafka_consumer_replicas: i32,
    /// Deprecated autoscaler of the Kafka consumer; when enabled, replicas are left to it. Prefer
    /// your own autoscaler with `unmanagedReplicas`.
    pub kafka_consumer_autoscaler: FlowCollectorHpa,
    /// Replicas of the processor Deployment (`Service` and `Kafka` models). Unset falls back to
    /// `kafkaConsumerReplicas`, then 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub consumer_replicas: Option<i32>,
    /// Leaves the replica count alone, so that an autoscaler can own it.
    pub unmanaged_replicas: bool,
    /// Capacity of the Kafka consumer's internal queue. Only used with Kafka.
    pub kafka_consumer_queue_capacity: i32,
    /// Largest batch, in bytes, that the Kafka consumer accepts. Only used with Kafka.
    pub kafka_consumer_batch_size: i32,
    /// Kind of records to produce; anything but `Flows` turns on conversation tracking, which
    /// costs more and makes metrics less accurate on long conversations.
    pub log_types: FlpLogTypes,
    /// Cluster name added to flows, useful across clusters. Empty on OpenShift means it is looked
    /// up automatically.
    pub cluster_name: String,
    /// Adds the cluster name to flows, for multi-cluster setups.
    pub multi_cluster_deployment: bool,
    /// Adds source and destination availability zones to flows (needs the
    /// `topology.kubernetes.io/zone` node label).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_zone: Option<bool>,
    /// Labels for IP ranges, used to tell cluster-internal from external traffic.
    pub subnet_labels: SubnetLabels,
    /// De-duplication of flows reported by several nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deduper: Option<FlpDeduper>,
    /// Filters that keep only some flows, to reduce the volume.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FlpFilterSet>,
    /// Cluster-wide settings of FlowCollectorSlice objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slices_config: Option<SlicesConfig>,
    /// Service settings, only used in the `Service` deployment model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ProcessorServiceConfig>,
    /// Low-level knobs, for debugging and fine tuning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedProcessorConfig>,
}

impl Default for FlowCollectorFlp {
    fn default() -> Self {
        Self {
            image_pull_policy: ImagePullPolicy::IfNotPresent,
            metrics: FlpMetrics::default(),
            log_level: LogLevel::Info,
            resources: resource_requirements("100m", "100Mi", "800Mi"),
            kafka_consumer_replicas: 3,
            kafka_consumer_autoscaler: FlowCollectorHpa::default(),
            consumer_replicas: None,
            unmanaged_replicas: false,
            kafka_consumer_queue_capacity: 1000,
            kafka_consumer_batch_size: 10_485_760,
            log_types: FlpLogTypes::Flows,
            cluster_name: String::new(),
            multi_cluster_deployment: false,
            add_zone: None,
            subnet_labels: SubnetLabels::default(),
            deduper: None,
            filters: Vec::new(),
            slices_config: None,
            service: None,
            advanced: None,
        }
    }
}
