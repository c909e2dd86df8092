//! `spec.agent` in v1beta1: the agent kind and the eBPF agent settings, whose tuning knobs sit
//! directly in the section instead of under v1beta2's `advanced`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    AgentFeature, EbpfAgentAlert, EbpfFlowFilter, FlowCollectorIpfix, ImagePullPolicy, LogLevel,
    MetricsServerConfig, resources,
};

/// Same pattern as upstream for the agents' cache timeouts: a number with an optional unit.
const CACHE_TIMEOUT_PATTERN: &str = r"^\d+(ns|ms|s|m)?$";

/// Lets `privileged: false` be left out of the JSON, as the v1beta1 CRD has no default for it.
fn is_false(value: &bool) -> bool {
    !*value
}

/// Kind of flow capture agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AgentType {
    /// The NetObserv eBPF agent.
    #[default]
    #[serde(rename = "EBPF")]
    Ebpf,
    /// The removed IPFIX collector; the eBPF agent is deployed anyway.
    #[serde(rename = "IPFIX")]
    Ipfix,
}

/// The flow capture agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorAgent {
    /// Agent kind (deprecated): only `EBPF` is still deployed, `IPFIX` is ignored.
    #[serde(rename = "type")]
    pub kind: AgentType,
    /// Settings of the deprecated IPFIX reporter.
    pub ipfix: FlowCollectorIpfix,
    /// Settings of the eBPF agent.
    pub ebpf: FlowCollectorEbpf,
}

/// Settings of the eBPF agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorEbpf {
    /// Pull policy of the agent image.
    pub image_pull_policy: ImagePullPolicy,
    /// Compute resources of the agent container.
    pub resources: ResourceRequirements,
    /// One flow out of `sampling` is kept; 0 or 1 keep every flow.
    #[schemars(range(min = 0))]
    pub sampling: i32,
    /// Longest time the agent aggregates flows before sending them.
    #[schemars(pattern(CACHE_TIMEOUT_PATTERN))]
    pub cache_active_timeout: String,
    /// Number of flows in an aggregate that triggers a send.
    #[schemars(range(min = 1))]
    pub cache_max_flows: i32,
    /// Interfaces to capture from; empty means all but `excludeInterfaces`. `/regex/` entries
    /// are regular expressions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    /// Interfaces never captured from. `/regex/` entries are regular expressions.
    pub exclude_interfaces: Vec<String>,
    /// Log level of the agent.
    pub log_level: LogLevel,
    /// Runs the agent as a privileged container instead of with granular capabilities.
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// Largest Kafka request, in bytes, when the agents write to Kafka.
    pub kafka_batch_size: i64,
    /// Internal settings for debugging and fine tuning (environment, capabilities).
    pub debug: DebugConfig,
    /// Optional agent features to turn on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<AgentFeature>,
    /// Metrics of the agent itself.
    pub metrics: EbpfMetrics,
    /// Filtering of flows in the kernel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_filter: Option<EbpfFlowFilter>,
}

impl Default for FlowCollectorEbpf {
    fn default() -> Self {
        Self {
            image_pull_policy: ImagePullPolicy::default(),
            resources: resources("50Mi", "100m", "800Mi"),
            sampling: 50,
            cache_active_timeout: "5s".to_string(),
            cache_max_flows: 100_000,
            interfaces: Vec::new(),
            exclude_interfaces: vec!["lo".to_string()],
            log_level: LogLevel::default(),
            privileged: false,
            kafka_batch_size: 1_048_576,
            debug: DebugConfig::default(),
            features: Vec::new(),
            metrics: EbpfMetrics::default(),
            flow_filter: None,
        }
    }
}

/// Internal settings for debugging, at the user's own risk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct DebugConfig {
    /// Extra environment variables of the component (for example `GOGC`, `GOMAXPROCS`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Linux capabilities to use instead of the defaults (BPF, PERFMON, NET_ADMIN) when not
    /// privileged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_override: Vec<String>,
}

/// Metrics of the eBPF agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct EbpfMetrics {
    /// Endpoint that Prometheus scrapes.
    pub server: MetricsServerConfig,
    /// Turns agent metrics on or off; unset means on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Alerts not to create.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable_alerts: Vec<EbpfAgentAlert>,
}
