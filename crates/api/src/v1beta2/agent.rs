//! `spec.agent`: the eBPF agent that captures flows on every node (and the deprecated IPFIX
//! alternative), plus enums that other sections of the spec share.

use super::common::{MetricsServerConfig, SchedulingConfig};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When the kubelet pulls a container image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ImagePullPolicy {
    /// Pull only when the image is not already on the node.
    #[default]
    IfNotPresent,
    /// Pull on every container start.
    Always,
    /// Never pull; the image must already be on the node.
    Never,
}

/// Verbosity of a component's logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything, including very fine-grained tracing.
    Trace,
    /// Debugging details.
    Debug,
    /// Normal operational messages.
    #[default]
    Info,
    /// Only warnings and errors.
    Warn,
    /// Only errors.
    Error,
    /// Only errors that stop the process.
    Fatal,
    /// Only panics.
    Panic,
}

/// Which flow agent feeds the pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AgentType {
    /// The NetObserv eBPF agent, deployed as a DaemonSet. The only implemented agent.
    #[default]
    #[serde(rename = "eBPF")]
    Ebpf,
    /// IPFIX exports of the network plugin (deprecated, not implemented).
    #[serde(rename = "IPFIX")]
    Ipfix,
}

/// Settings of the agents that observe traffic on the nodes and send flows to the processor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorAgent {
    /// Deprecated: only `eBPF` is implemented; kept so that older manifests are still accepted.
    #[serde(rename = "type")]
    pub kind: AgentType,
    /// Deprecated IPFIX settings, accepted for compatibility but not used.
    pub ipfix: FlowCollectorIpfix,
    /// Settings of the eBPF agent.
    pub ebpf: FlowCollectorEbpf,
}

/// Deprecated settings of an IPFIX-based flow reporter. Kept so that existing manifests still
/// validate; the operator does not act on them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorIpfix {
    /// How long the reporter aggregates flows before it sends them.
    #[schemars(pattern(r"^\d+(ns|ms|s|m)?$"))]
    pub cache_active_timeout: String,
    /// Number of flows that triggers a send before the timeout expires.
    #[schemars(range(min = 0))]
    pub cache_max_flows: i32,
    /// Keeps one flow out of this many. The floor of 2 protects the cluster from full capture;
    /// see `forceSampleAll`.
    #[schemars(range(min = 2))]
    pub sampling: i32,
    /// Captures every flow and ignores `sampling`. Risky for cluster stability.
    pub force_sample_all: bool,
    /// Where the OpenShift Cluster Network Operator reads its IPFIX configuration.
    pub cluster_network_operator: ClusterNetworkOperatorConfig,
    /// Where OVN-Kubernetes runs when there is no Cluster Network Operator.
    pub ovn_kubernetes: OvnKubernetesConfig,
}

impl Default for FlowCollectorIpfix {
    fn default() -> Self {
        Self {
            cache_active_timeout: "20s".to_string(),
            cache_max_flows: 400,
            sampling: 400,
            force_sample_all: false,
            cluster_network_operator: ClusterNetworkOperatorConfig::default(),
            ovn_kubernetes: OvnKubernetesConfig::default(),
        }
    }
}

/// Location of the OpenShift Cluster Network Operator configuration (deprecated IPFIX mode).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterNetworkOperatorConfig {
    /// Namespace that holds the operator's ConfigMap.
    pub namespace: String,
}

impl Default for ClusterNetworkOperatorConfig {
    fn default() -> Self {
        Self {
            namespace: "openshift-network-operator".to_string(),
        }
    }
}

/// Location of the OVN-Kubernetes pods to configure for IPFIX (deprecated IPFIX mode).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct OvnKubernetesConfig {
    /// Namespace of the OVN-Kubernetes pods.
    pub namespace: String,
    /// DaemonSet that runs the OVN-Kubernetes node pods.
    pub daemon_set_name: String,
    /// Container of those pods whose IPFIX settings are changed.
    pub container_name: String,
}

impl Default for OvnKubernetesConfig {
    fn default() -> Self {
        Self {
            namespace: "ovn-kubernetes".to_string(),
            daemon_set_name: "ovnkube-node".to_string(),
            container_name: "ovnkube-node".to_string(),
        }
    }
}

/// Optional capabilities of the eBPF agent. Each costs some CPU and memory, so all are off unless
/// listed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AgentFeature {
    /// Records packets the kernel drops, with the drop cause. Needs a privileged agent.
    #[default]
    PacketDrop,
    /// Extracts DNS query ids, latency and response codes.
    #[serde(rename = "DNSTracking")]
    DnsTracking,
    /// Measures TCP round-trip time (sRTT).
    #[serde(rename = "FlowRTT")]
    FlowRtt,
    /// Correlates flows with network events such as policy verdicts (Technology Preview; needs
    /// OVN-Kubernetes observability and a privileged agent).
    NetworkEvents,
    /// Adds address translation details, such as Service NAT, to flows.
    PacketTranslation,
    /// Loads the eBPF programs through the eBPF Manager (bpfman) instead of the agent
    /// (unsupported).
    EbpfManager,
    /// Maps interfaces to User Defined Networks. Needs a privileged agent.
    #[serde(rename = "UDNMapping")]
    UdnMapping,
    /// Tracks node-to-node flows encrypted with IPsec.
    #[serde(rename = "IPSec")]
    IpSec,
    /// Tracks TLS usage of flows (turns on the agent's TLS tracking).
    #[serde(rename = "TLSTracking")]
    TlsTracking,
}

/// Alerts on the eBPF agent's own health that can be switched off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum EbpfAgentAlert {
    /// Fires when the agent loses flows, for example because its map is full or busy.
    #[default]
    NetObservDroppedFlows,
}

/// Metrics that the eBPF agent exposes about itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct EbpfMetrics {
    /// Endpoint that Prometheus scrapes (port 9400 unless set).
    pub server: MetricsServerConfig,
    /// Set to `false` to stop collecting the agent metrics; unset means on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Agent alerts not to install.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable_alerts: Vec<EbpfAgentAlert>,
}

/// What a flow filter rule does with the flows it matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum EbpfFilterAction {
    /// Keeps the matching flows (the behaviour when unset).
    #[default]
    Accept,
    /// Drops the matching flows.
    Reject,
}

/// Transport protocol a flow filter rule matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum EbpfFilterProtocol {
    /// TCP.
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
    /// ICMP over IPv4.
    #[serde(rename = "ICMP")]
    Icmp,
    /// ICMP over IPv6.
    #[serde(rename = "ICMPv6")]
    IcmpV6,
    /// SCTP.
    #[serde(rename = "SCTP")]
    Sctp,
}

/// Traffic direction a flow filter rule matches, seen from the node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum EbpfFilterDirection {
    /// Traffic entering the node's interface.
    #[default]
    Ingress,
    /// Traffic leaving the node's interface.
    Egress,
}

/// TCP flag, or common flag pair, that a flow filter rule matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum EbpfTcpFlags {
    /// Connection opening.
    #[default]
    #[serde(rename = "SYN")]
    Syn,
    /// Answer to a connection opening.
    #[serde(rename = "SYN-ACK")]
    SynAck,
    /// Acknowledgement.
    #[serde(rename = "ACK")]
    Ack,
    /// Connection close.
    #[serde(rename = "FIN")]
    Fin,
    /// Connection reset.
    #[serde(rename = "RST")]
    Rst,
    /// Urgent data.
    #[serde(rename = "URG")]
    Urg,
    /// Explicit congestion notification echo.
    #[serde(rename = "ECE")]
    Ece,
    /// Congestion window reduced.
    #[serde(rename = "CWR")]
    Cwr,
    /// Acknowledged close.
    #[serde(rename = "FIN-ACK")]
    FinAck,
    /// Acknowledged reset.
    #[serde(rename = "RST-ACK")]
    RstAck,
}

/// One rule of the in-kernel flow filter. Every set field must match for the rule to apply; unset
/// fields match anything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct EbpfFlowFilterRule {
    /// IP range (IPv4 or IPv6 CIDR) that the flow's address must fall in.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cidr: String,
    /// Whether matching flows are kept or dropped; unset means `Accept`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<EbpfFilterAction>,
    /// Transport protocol to match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<EbpfFilterProtocol>,
    /// Direction to match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<EbpfFilterDirection>,
    /// TCP flags to match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<EbpfTcpFlags>,
    /// Source port to match: a number, a `"start-end"` range or a `"a,b"` pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ports: Option<IntOrString>,
    /// Destination port to match, in the same forms as `sourcePorts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_ports: Option<IntOrString>,
    /// Port to match on either side, in the same forms as `sourcePorts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<IntOrString>,
    /// Address of the remote end to match.
    #[serde(rename = "peerIP", skip_serializing_if = "String::is_empty")]
    pub peer_ip: String,
    /// IP range (CIDR) the remote end must fall in.
    #[serde(rename = "peerCIDR", skip_serializing_if = "String::is_empty")]
    pub peer_cidr: String,
    /// ICMP code to match, for ICMP traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<i32>,
    /// ICMP type to match, for ICMP traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i32>,
    /// When `true`, only matches flows that saw packet drops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkt_drops: Option<bool>,
    /// Sampling for the matched flows, replacing `spec.agent.ebpf.sampling` for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<u32>,
}

/// In-kernel filtering of flows, which cuts their cost before they leave the node. The fields of
/// a single rule may also sit directly at this level: that older form is deprecated and only read
/// when `rules` is empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct EbpfFlowFilter {
    /// Set to `true` to turn filtering on; nothing is filtered otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Deprecated single-rule form, written inline at this level. Only read when `rules` is
    /// empty.
    #[serde(flatten)]
    pub rule: EbpfFlowFilterRule,
    /// Filter rules. Once filtering is on, flows that match no rule are dropped, so start with a
    /// broad `Accept` rule to filter by exclusion.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1, max = 16))]
    pub rules: Vec<EbpfFlowFilterRule>,
}

/// Low-level knobs of the eBPF agent, for debugging and fine tuning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AdvancedAgentConfig {
    /// Extra environment variables of the agent (such as `GOGC` or `GOMAXPROCS`); they can
    /// override the ones the operator sets.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Placement of the agent pods; unset means they tolerate every taint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingConfig>,
    /// Linux capabilities granted instead of the default set (BPF, PERFMON, NET_ADMIN) when the
    /// agent is not privileged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_override: Vec<String>,
}

/// Settings of the eBPF agent DaemonSet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorEbpf {
    /// Pull policy of the agent image.
    pub image_pull_policy: ImagePullPolicy,
    /// CPU and memory requests and limits of the agent container.
    pub resources: ResourceRequirements,
    /// Keeps one packet out of this many; 0 or 1 keeps every packet. Higher values lower the cost
    /// and the precision.
    #[schemars(range(min = 0))]
    pub sampling: i32,
    /// How long the agent aggregates flows before sending them. Longer means less traffic and CPU
    /// but more memory and latency.
    #[schemars(pattern(r"^\d+(ns|ms|s|m)?$"))]
    pub cache_active_timeout: String,
    /// Number of aggregated flows that triggers a send before the timeout expires. Same trade-off as
    /// `cacheActiveTimeout`.
    #[schemars(range(min = 1))]
    pub cache_max_flows: i32,
    /// Interfaces to capture; empty means all of them except `excludeInterfaces`. An entry between
    /// slashes, such as `/br-/`, is a regular expression.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    /// Interfaces never captured, with the same `/regex/` convention as `interfaces`.
    pub exclude_interfaces: Vec<String>,
    /// Log verbosity of the agent.
    pub log_level: LogLevel,
    /// Runs the agent as a privileged container. Needed by some features (packet drops, network
    /// events, UDN mapping) and to see secondary interfaces; otherwise granular capabilities are
    /// used.
    pub privileged: bool,
    /// Largest request, in bytes, sent to a Kafka partition. Only used with the Kafka deployment
    /// model.
    pub kafka_batch_size: i32,
    /// Low-level knobs, for debugging and fine tuning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedAgentConfig>,
    /// Optional features to turn on; all are off by default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<AgentFeature>,
    /// Metrics of the agent itself.
    pub metrics: EbpfMetrics,
    /// In-kernel flow filtering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_filter: Option<EbpfFlowFilter>,
}

/// Default requests and limits of the eBPF agent container.
fn default_agent_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("100m".to_string())),
            ("memory".to_string(), Quantity("50Mi".to_string())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity("800Mi".to_string()),
        )])),
        ..ResourceRequirements::default()
    }
}

impl Default for FlowCollectorEbpf {
    fn default() -> Self {
        Self {
            image_pull_policy: ImagePullPolicy::IfNotPresent,
            resources: default_agent_resources(),
            sampling: 50,
            cache_active_timeout: "15s".to_string(),
            cache_max_flows: 120_000,
            interfaces: Vec::new(),
            exclude_interfaces: vec!["lo".to_string()],
            log_level: LogLevel::Info,
            privileged: false,
            kafka_batch_size: 1_048_576,
            advanced: None,
            features: Vec::new(),
            metrics: EbpfMetrics::default(),
            flow_filter: None,
        }
    }
}
