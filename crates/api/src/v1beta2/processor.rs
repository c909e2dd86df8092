//! `spec.processor`: the flow pipeline (flowlogs-pipeline) that enriches the agents' flows, turns
//! them into metrics and writes them to Loki and the exporters; also its health rules and the
//! built-in defaults that the operator and the validation share.

use super::agent::{ImagePullPolicy, LogLevel};
use super::common::{
    ClientServerTls, FlowCollectorHpa, MetricsServerConfig, SchedulingConfig, mark_required,
};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

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

/// What the processor does with flows it recognises as duplicates (seen on several nodes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FlpDeduperMode {
    /// Keeps every duplicate.
    #[default]
    Disabled,
    /// Drops every duplicate: cheapest, but loses details such as the peer's interfaces.
    Drop,
    /// Keeps one duplicate out of `sampling`.
    Sample,
}

/// De-duplication in the processor, which catches the duplicates that the per-node agents cannot
/// see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlpDeduper {
    /// How duplicates are handled.
    pub mode: FlpDeduperMode,
    /// With mode `Sample`, one duplicate out of this many is kept. It adds to the agent sampling.
    #[schemars(range(min = 0))]
    pub sampling: i32,
}

impl Default for FlpDeduper {
    fn default() -> Self {
        Self {
            mode: FlpDeduperMode::Disabled,
            sampling: 50,
        }
    }
}

/// Output that a processor filter applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FlpFilterTarget {
    /// Every output.
    #[default]
    #[serde(rename = "")]
    All,
    /// Only the flows written to Loki.
    Loki,
    /// Only the flows turned into metrics.
    Metrics,
    /// Only the flows sent to the exporters.
    Exporters,
}

impl FlpFilterTarget {
    fn is_all(&self) -> bool {
        *self == Self::All
    }
}

/// A processor filter: flows that the query selects are kept, the others are dropped, which cuts
/// the volume with more flexibility (namespaces, workloads) than the agent filters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlpFilterSet {
    /// Query, in the flowlogs-pipeline filter language, that selects the flows to keep.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Restricts the filter to one output; empty means all outputs.
    #[serde(skip_serializing_if = "FlpFilterTarget::is_all")]
    pub output_target: FlpFilterTarget,
    /// Keeps one matching flow out of this many; 0 or unset keeps them all.
    #[serde(skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0))]
    pub sampling: i32,
}

/// Labels for IP ranges, which is how flows to and from outside the cluster are recognised.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SubnetLabels {
    /// Labels the machine, pod and service networks found in the OpenShift configuration; unset
    /// means on (only effective on OpenShift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_shift_auto_detect: Option<bool>,
    /// User-defined labels; they win over detected networks when both match. Label external
    /// ranges with an `EXT:` prefix (or not at all) so that the default quick filters work.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_labels: Vec<SubnetLabel>,
}

/// A label put on flows whose source or destination falls in some IP ranges.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = subnet_label_required)]
pub struct SubnetLabel {
    /// IP ranges in CIDR notation, such as `10.0.0.0/8`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<String>,
    /// Label value written to `SrcSubnetLabel` or `DstSubnetLabel`. Use an `EXT:` prefix for
    /// external ranges.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schemars(pattern(r"^[a-zA-Z_:-][a-zA-Z0-9_:-]*$"))]
    pub name: String,
}

fn subnet_label_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["cidrs", "name"]);
}

/// How FlowCollectorSlice objects affect what is collected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SliceCollectionMode {
    /// Every flow is collected, slices or not.
    #[default]
    AlwaysCollect,
    /// Only flows of namespaces that have a slice, or that `namespacesAllowList` names.
    AllowList,
}

/// Cluster-wide settings of FlowCollectorSlice objects, which let namespace owners scope
/// collection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = slices_config_required)]
pub struct SlicesConfig {
    /// Turns slices on; when off, FlowCollectorSlice objects are ignored.
    pub enable: bool,
    /// Whether slices restrict collection or not.
    pub collection_mode: SliceCollectionMode,
    /// Namespaces always collected in `AllowList` mode, slice or not. An entry between slashes,
    /// such as `/openshift-.*/`, is a regular expression.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces_allow_list: Vec<String>,
}

fn slices_config_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["enable"]);
}

/// TLS of the agent-to-processor connection in the `Service` deployment model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProcessorTlsType {
    /// Plain text: simpler, but less secure.
    Disabled,
    /// Certificates that the user provides in `providedCertificates`.
    Provided,
    /// Certificates set up automatically for the platform.
    #[default]
    Auto,
    /// Like `Auto`, with client certificates as well (unsupported).
    #[serde(rename = "Auto-mTLS")]
    AutoMtls,
}

/// Settings of the processor Service, used in the `Service` deployment model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = processor_service_required)]
pub struct ProcessorServiceConfig {
    /// How the agent-to-processor connection is secured.
    #[serde(rename = "tlsType")]
    pub tls_type: ProcessorTlsType,
    /// Certificates used when `tlsType` is `Provided` (the CA and server certificate are needed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_certificates: Option<ClientServerTls>,
}

fn processor_service_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["tlsType"]);
}

/// Pod field used to recognise pods on a secondary network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SecondaryNetworkIndex {
    /// The interface's MAC address.
    #[default]
    #[serde(rename = "MAC")]
    Mac,
    /// The interface's IP address.
    #[serde(rename = "IP")]
    Ip,
    /// The interface name.
    Interface,
}

/// A secondary network whose addresses the processor maps to pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = secondary_network_required)]
pub struct SecondaryNetwork {
    /// Network name as it appears in the pods' `k8s.v1.cni.cncf.io/network-status` annotation
    /// (deprecated).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Fields that together identify one pod across the cluster. Only use fields present in the
    /// `network-status` annotation; a non-unique index mislabels flows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<SecondaryNetworkIndex>,
}

fn secondary_network_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["index"]);
}

/// Low-level knobs of the processor, for debugging and fine tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AdvancedProcessorConfig {
    /// Extra environment variables of the processor (such as `GOGC` or `GOMAXPROCS`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Port that receives flows from the agents (a host port in `Direct` mode). Must be above
    /// 1024 and must not be 4500, 4789 or 6081, which the network stack uses.
    #[schemars(range(min = 1025, max = 65535))]
    pub port: i32,
    /// Port of the health check API, used by the probes.
    #[schemars(range(min = 1, max = 65535))]
    pub health_port: i32,
    /// Port of a pprof profiler; unset means no profiler.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 65535))]
    pub profile_port: Option<i32>,
    /// Adds Kubernetes liveness and startup probes to the processor pods.
    pub enable_kube_probes: bool,
    /// Deprecated and ignored.
    pub drop_unused_fields: bool,
    /// Time between two "tick" events of an ongoing conversation.
    pub conversation_heartbeat_interval: String,
    /// Time without flows after which a conversation is considered ended (TCP flows with a FIN
    /// use `conversationTerminatingTimeout` instead).
    pub conversation_end_timeout: String,
    /// Time between a TCP FIN and the end of the conversation.
    pub conversation_terminating_timeout: String,
    /// Placement of the processor pods; unset means defaults that depend on the deployment model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingConfig>,
    /// Secondary networks whose addresses are mapped to pods. Unique indexes are essential, or
    /// flows get the wrong pod.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secondary_networks: Vec<SecondaryNetwork>,
}

impl Default for AdvancedProcessorConfig {
    fn default() -> Self {
        Self {
            env: BTreeMap::new(),
            port: 2055,
            health_port: 8080,
            profile_port: None,
            enable_kube_probes: true,
            drop_unused_fields: true,
            conversation_heartbeat_interval: "30s".to_string(),
            conversation_end_timeout: "10s".to_string(),
            conversation_terminating_timeout: "5s".to_string(),
            scheduling: None,
            secondary_networks: Vec::new(),
        }
    }
}

/// Defines [`FlpMetric`] from one table, so the JSON names and [`FlpMetric::ALL`] cannot drift.
macro_rules! flp_metrics {
    ($( $(#[$attr:meta])* $variant:ident => $name:literal, )+) => {
        /// A metric the processor can generate, named as in Prometheus without the `netobserv_`
        /// prefix. More metrics mean more load on Prometheus.
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema,
        )]
        pub enum FlpMetric {
            $( $(#[$attr])* #[serde(rename = $name)] $variant, )+
        }

        impl FlpMetric {
            /// Every metric name, in declaration order.
            pub const ALL: &'static [FlpMetric] = &[$(FlpMetric::$variant,)+];

            /// Name of the metric, without the `netobserv_` prefix.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FlpMetric::$variant => $name,)+
                }
            }
        }
    };
}

flp_metrics! {
    /// Bytes sent, per source and destination namespace.
    #[default]
    NamespaceEgressBytesTotal => "namespace_egress_bytes_total",
    /// Packets sent, per source and destination namespace.
    NamespaceEgressPacketsTotal => "namespace_egress_packets_total",
    /// Bytes received, per source and destination namespace.
    NamespaceIngressBytesTotal => "namespace_ingress_bytes_total",
    /// Packets received, per source and destination namespace.
    NamespaceIngressPacketsTotal => "namespace_ingress_packets_total",
    /// Number of flows, per source and destination namespace.
    NamespaceFlowsTotal => "namespace_flows_total",
    /// Bytes sent, per source and destination node.
    NodeEgressBytesTotal => "node_egress_bytes_total",
    /// Packets sent, per source and destination node.
    NodeEgressPacketsTotal => "node_egress_packets_total",
    /// Bytes received, per source and destination node.
    NodeIngressBytesTotal => "node_ingress_bytes_total",
    /// Packets received, per source and destination node.
    NodeIngressPacketsTotal => "node_ingress_packets_total",
    /// Number of flows, per source and destination node.
    NodeFlowsTotal => "node_flows_total",
    /// Bytes sent, per source and destination workload.
    WorkloadEgressBytesTotal => "workload_egress_bytes_total",
    /// Packets sent, per source and destination workload.
    WorkloadEgressPacketsTotal => "workload_egress_packets_total",
    /// Bytes received, per source and destination workload.
    WorkloadIngressBytesTotal => "workload_ingress_bytes_total",
    /// Packets received, per source and destination workload.
    WorkloadIngressPacketsTotal => "workload_ingress_packets_total",
    /// Number of flows, per source and destination workload.
    WorkloadFlowsTotal => "workload_flows_total",
    /// Dropped bytes, per namespace (needs `PacketDrop`).
    NamespaceDropBytesTotal => "namespace_drop_bytes_total",
    /// Dropped packets, per namespace (needs `PacketDrop`).
    NamespaceDropPacketsTotal => "namespace_drop_packets_total",
    /// Dropped bytes, per node (needs `PacketDrop`).
    NodeDropBytesTotal => "node_drop_bytes_total",
    /// Dropped packets, per node (needs `PacketDrop`).
    NodeDropPacketsTotal => "node_drop_packets_total",
    /// Dropped bytes, per workload (needs `PacketDrop`).
    WorkloadDropBytesTotal => "workload_drop_bytes_total",
    /// Dropped packets, per workload (needs `PacketDrop`).
    WorkloadDropPacketsTotal => "workload_drop_packets_total",
    /// TCP round-trip time histogram, per namespace (needs `FlowRTT`).
    NamespaceRttSeconds => "namespace_rtt_seconds",
    /// TCP round-trip time histogram, per node (needs `FlowRTT`).
    NodeRttSeconds => "node_rtt_seconds",
    /// TCP round-trip time histogram, per workload (needs `FlowRTT`).
    WorkloadRttSeconds => "workload_rtt_seconds",
    /// DNS latency histogram, per namespace (needs `DNSTracking`).
    NamespaceDnsLatencySeconds => "namespace_dns_latency_seconds",
    /// DNS latency histogram, per node (needs `DNSTracking`).
    NodeDnsLatencySeconds => "node_dns_latency_seconds",
    /// DNS latency histogram, per workload (needs `DNSTracking`).
    WorkloadDnsLatencySeconds => "workload_dns_latency_seconds",
    /// Network policy events, per node (needs `NetworkEvents`).
    NodeNetworkPolicyEventsTotal => "node_network_policy_events_total",
    /// Network policy events, per namespace (needs `NetworkEvents`).
    NamespaceNetworkPolicyEventsTotal => "namespace_network_policy_events_total",
    /// Network policy events, per workload (needs `NetworkEvents`).
    WorkloadNetworkPolicyEventsTotal => "workload_network_policy_events_total",
    /// IPsec-encrypted flows, per node (needs `IPSec`).
    NodeIpsecFlowsTotal => "node_ipsec_flows_total",
    /// IPsec-encrypted flows, per namespace (needs `IPSec`).
    NamespaceIpsecFlowsTotal => "namespace_ipsec_flows_total",
    /// IPsec-encrypted flows, per workload (needs `IPSec`).
    WorkloadIpsecFlowsTotal => "workload_ipsec_flows_total",
    /// Flows received by nodes from other nodes, used by the network health views.
    NodeToNodeIngressFlowsTotal => "node_to_node_ingress_flows_total",
    /// Sampling ratio in effect, per workload; only produced when some filter samples flows.
    WorkloadSampling => "workload_sampling",
}

impl fmt::Display for FlpMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metrics generated when `includeList` is unset. Without Loki the list is longer and uses
/// workload granularity, to make up for the missing flow logs.
pub fn default_include_list(loki_enabled: bool) -> Vec<FlpMetric> {
    use FlpMetric as M;
    if loki_enabled {
        vec![
            M::NodeIngressBytesTotal,
            M::NodeEgressBytesTotal,
            M::NodeIngressPacketsTotal,
            M::NodeDropPacketsTotal,
            M::WorkloadSampling,
            M::WorkloadIngressBytesTotal,
            M::WorkloadEgressBytesTotal,
            M::NamespaceFlowsTotal,
            M::NamespaceIngressPacketsTotal,
            M::NamespaceDropPacketsTotal,
            M::NamespaceRttSeconds,
            M::NamespaceDnsLatencySeconds,
            M::NamespaceNetworkPolicyEventsTotal,
            M::NodeIpsecFlowsTotal,
            M::NodeToNodeIngressFlowsTotal,
        ]
    } else {
        vec![
            M::NodeIngressBytesTotal,
            M::NodeEgressBytesTotal,
            M::NodeIngressPacketsTotal,
            M::NodeDropPacketsTotal,
            M::WorkloadIngressBytesTotal,
            M::WorkloadEgressBytesTotal,
            M::WorkloadSampling,
            M::WorkloadIngressPacketsTotal,
            M::WorkloadEgressPacketsTotal,
            M::WorkloadFlowsTotal,
            M::WorkloadDropBytesTotal,
            M::WorkloadDropPacketsTotal,
            M::WorkloadRttSeconds,
            M::WorkloadDnsLatencySeconds,
            M::NamespaceNetworkPolicyEventsTotal,
            M::NodeIpsecFlowsTotal,
            M::NodeToNodeIngressFlowsTotal,
        ]
    }
}

/// A health rule template: a kind of Prometheus alert or recording rule that the operator can
/// install.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HealthRuleTemplate {
    /// No flows are being received (alert only).
    #[default]
    NetObservNoFlows,
    /// Flows cannot be written to Loki (alert only).
    NetObservLokiError,
    /// Share of packets dropped by the kernel (needs `PacketDrop`).
    PacketDropsByKernel,
    /// Share of packets dropped by network devices.
    PacketDropsByDevice,
    /// Share of IPsec-encrypted flows in error (needs `IPSec`).
    #[serde(rename = "IPsecErrors")]
    IpsecErrors,
    /// Share of traffic denied by network policies (needs `NetworkEvents`).
    NetpolDenied,
    /// TCP latency rising compared with a past baseline (needs `FlowRTT`).
    LatencyHighTrend,
    /// Share of DNS responses with an error (needs `DNSTracking`).
    #[serde(rename = "DNSErrors")]
    DnsErrors,
    /// Share of DNS responses saying the name does not exist (needs `DNSTracking`).
    #[serde(rename = "DNSNxDomain")]
    DnsNxDomain,
    /// Traffic leaving the cluster rising compared with a past baseline.
    ExternalEgressHighTrend,
    /// Traffic entering the cluster rising compared with a past baseline.
    ExternalIngressHighTrend,
    /// Share of HTTP 5xx answers on ingress routes.
    Ingress5xxErrors,
    /// HTTP latency of ingress routes rising compared with a past baseline.
    #[serde(rename = "IngressHTTPLatencyTrend")]
    IngressHttpLatencyTrend,
}

impl HealthRuleTemplate {
    /// Every template, in declaration order.
    pub const ALL: &'static [HealthRuleTemplate] = &[
        Self::NetObservNoFlows,
        Self::NetObservLokiError,
        Self::PacketDropsByKernel,
        Self::PacketDropsByDevice,
        Self::IpsecErrors,
        Self::NetpolDenied,
        Self::LatencyHighTrend,
        Self::DnsErrors,
        Self::DnsNxDomain,
        Self::ExternalEgressHighTrend,
        Self::ExternalIngressHighTrend,
        Self::Ingress5xxErrors,
        Self::IngressHttpLatencyTrend,
    ];

    /// Name of the template as written in the FlowCollector.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NetObservNoFlows => "NetObservNoFlows",
            Self::NetObservLokiError => "NetObservLokiError",
            Self::PacketDropsByKernel => "PacketDropsByKernel",
            Self::PacketDropsByDevice => "PacketDropsByDevice",
            Self::IpsecErrors => "IPsecErrors",
            Self::NetpolDenied => "NetpolDenied",
            Self::LatencyHighTrend => "LatencyHighTrend",
            Self::DnsErrors => "DNSErrors",
            Self::DnsNxDomain => "DNSNxDomain",
            Self::ExternalEgressHighTrend => "ExternalEgressHighTrend",
            Self::ExternalIngressHighTrend => "ExternalIngressHighTrend",
            Self::Ingress5xxErrors => "Ingress5xxErrors",
            Self::IngressHttpLatencyTrend => "IngressHTTPLatencyTrend",
        }
    }

    /// Templates that can only be alerts, never recording rules, and that `healthRules` cannot
    /// configure (only `disableAlerts` can name them).
    pub fn is_alert_only(self) -> bool {
        matches!(self, Self::NetObservNoFlows | Self::NetObservLokiError)
    }
}

impl fmt::Display for HealthRuleTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a health rule becomes a Prometheus alert or a recording rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HealthRuleMode {
    /// An alert, which notifies.
    #[default]
    Alert,
    /// A recording rule, only shown in the network health dashboard; avoids noisy alerts.
    Recording,
}

/// How a health rule variant groups its values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HealthRuleGroupBy {
    /// No grouping: one value for the whole cluster.
    #[default]
    #[serde(rename = "")]
    Global,
    /// One value per node.
    Node,
    /// One value per namespace.
    Namespace,
    /// One value per workload.
    Workload,
}

impl HealthRuleGroupBy {
    fn is_global(&self) -> bool {
        *self == Self::Global
    }
}

/// Severity thresholds of a health rule variant, as percentages written as decimal strings. An
/// empty threshold creates no rule for that severity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthRuleThresholds {
    /// Threshold of the `info` severity.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info: String,
    /// Threshold of the `warning` severity.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub warning: String,
    /// Threshold of the `critical` severity.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub critical: String,
}

/// One concrete rule of a template: thresholds, grouping and trend window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = health_rule_variant_schema)]
pub struct HealthRuleVariant {
    /// Traffic rate (bytes or packets per second) below which values are ignored, to cut noise
    /// from quiet sources. A decimal string.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub low_volume_threshold: String,
    /// Thresholds per severity; at least one is needed.
    pub thresholds: HealthRuleThresholds,
    /// Grouping of the values; empty means cluster-wide.
    #[serde(skip_serializing_if = "HealthRuleGroupBy::is_global")]
    pub group_by: HealthRuleGroupBy,
    /// For trend templates, how far back the baseline is taken (unset means one day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend_offset: Option<String>,
    /// For trend templates, the window the baseline is averaged over (unset means two hours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend_duration: Option<String>,
    /// Overrides the rule's mode for this variant only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<HealthRuleMode>,
}

fn health_rule_variant_schema(schema: &mut schemars::Schema) {
    unset_default(schema, "thresholds");
    mark_required(schema, &["thresholds"]);
}

/// A health rule: a template with its mode and variants. Listing a template here replaces its
/// built-in definition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = flp_health_rule_schema)]
pub struct FlpHealthRule {
    /// Template of the rule. The alert-only templates (`NetObservNoFlows`,
    /// `NetObservLokiError`) cannot be configured here.
    pub template: HealthRuleTemplate,
    /// Whether the variants become alerts or recording rules.
    pub mode: HealthRuleMode,
    /// Variants of the template.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<HealthRuleVariant>,
}

/// The CRD only accepts the configurable templates in `healthRules[].template`; the alert-only
/// ones are valid in `disableAlerts` alone.
fn flp_health_rule_schema(schema: &mut schemars::Schema) {
    if let Some(prop) = schema
        .as_object_mut()
        .and_then(|obj| obj.get_mut("properties"))
        .and_then(|props| props.as_object_mut())
    {
        let description = prop
            .get("template")
            .and_then(|t| t.get("description"))
            .cloned();
        let names: Vec<serde_json::Value> = HealthRuleTemplate::ALL
            .iter()
            .filter(|t| !t.is_alert_only())
            .map(|t| serde_json::Value::String(t.as_str().to_string()))
            .collect();
        let mut template = serde_json::Map::new();
        if let Some(description) = description {
            template.insert("description".to_string(), description);
        }
        template.insert("type".to_string(), "string".into());
        template.insert("enum".to_string(), serde_json::Value::Array(names));
        prop.insert("template".to_string(), serde_json::Value::Object(template));
    }
    mark_required(schema, &["template", "variants"]);
}

/// Shorthand for the defaults table below.
fn variant(
    group_by: HealthRuleGroupBy,
    info: &str,
    warning: &str,
    low_volume: &str,
    trend: bool,
) -> HealthRuleVariant {
    HealthRuleVariant {
        low_volume_threshold: low_volume.to_string(),
        thresholds: HealthRuleThresholds {
            info: info.to_string(),
            warning: warning.to_string(),
            critical: String::new(),
        },
        group_by,
        trend_offset: trend.then(|| "24h".to_string()),
        trend_duration: trend.then(|| "1h".to_string()),
        mode: None,
    }
}

/// The health rules installed when `healthRules` does not mention a template. Thresholds are
/// percentages; trend rules compare with the same hour one day earlier.
pub fn default_health_rules() -> Vec<FlpHealthRule> {
    use HealthRuleGroupBy::{Global, Namespace, Node};
    use HealthRuleMode::{Alert, Recording};
    use HealthRuleTemplate as T;
    let rule = |template, mode, variants| FlpHealthRule {
        template,
        mode,
        variants,
    };
    vec![
        rule(
            T::PacketDropsByKernel,
            Recording,
            vec![
                variant(Namespace, "10", "20", "5", false),
                variant(Node, "5", "15", "", false),
            ],
        ),
        rule(
            T::PacketDropsByDevice,
            Alert,
            vec![variant(Node, "5", "10", "", false)],
        ),
        rule(
            T::IpsecErrors,
            Alert,
            vec![
                variant(Global, "", "2", "", false),
                variant(Node, "", "2", "", false),
            ],
        ),
        rule(
            T::DnsErrors,
            Alert,
            vec![
                variant(Global, "", "5", "", false),
                variant(Namespace, "5", "10", "", false),
            ],
        ),
        rule(
            T::DnsNxDomain,
            Recording,
            vec![variant(Namespace, "10", "80", "", false)],
        ),
        rule(
            T::NetpolDenied,
            Recording,
            vec![variant(Namespace, "5", "10", "", false)],
        ),
        rule(
            T::LatencyHighTrend,
            Recording,
            vec![variant(Namespace, "100", "", "", true)],
        ),
        rule(
            T::ExternalEgressHighTrend,
            Recording,
            vec![
                variant(Node, "", "200", "", true),
                variant(Namespace, "100", "500", "", true),
            ],
        ),
        rule(
            T::ExternalIngressHighTrend,
            Recording,
            vec![
                variant(Node, "", "200", "", true),
                variant(Namespace, "100", "500", "", true),
            ],
        ),
        rule(
            T::Ingress5xxErrors,
            Recording,
            vec![variant(Namespace, "5", "10", "", false)],
        ),
        rule(
            T::IngressHttpLatencyTrend,
            Recording,
            vec![variant(Namespace, "100", "200", "", true)],
        ),
    ]
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
