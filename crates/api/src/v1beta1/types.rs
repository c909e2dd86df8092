//! The `FlowCollector` custom resource as served under `flows.netobserv.io/v1beta1`.
//!
//! This version is deprecated: the API server keeps serving it, but every object is stored as
//! v1beta2 and converted on the fly (see [`super::conversion`]). Compared with v1beta2, enum values
//! are spelled in UPPER_CASE, the Loki client has a single flat "manual" configuration, and the
//! tuning knobs that v1beta2 groups under `advanced` sit directly in each section.
//!
//! The conventions are those of [`crate::v1beta2::common`]: every struct deserialises missing
//! fields to the v1beta1 CRD defaults, and fields without a CRD default are `Option`s or are left
//! out of the JSON when empty.

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::MetricSpec;
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::v1beta2::common::mark_required;
pub use crate::v1beta2::common::{CertificateReference, ClientTls, FileReference, MountableType};
use crate::v1beta2::processor::unset_default;

/// Same pattern as upstream for the agents' cache timeouts: a number with an optional unit.
const CACHE_TIMEOUT_PATTERN: &str = r"^\d+(ns|ms|s|m)?$";

/// The tags that v1beta1 ignored by default in `spec.processor.metrics.ignoreTags`.
pub const DEFAULT_IGNORE_TAGS: [&str; 6] = [
    "egress",
    "packets",
    "nodes-flows",
    "namespaces-flows",
    "workloads-flows",
    "namespaces",
];

fn resources(request_memory: &str, request_cpu: &str, limit_memory: &str) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("memory".to_string(), Quantity(request_memory.to_string())),
            ("cpu".to_string(), Quantity(request_cpu.to_string())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity(limit_memory.to_string()),
        )])),
        ..ResourceRequirements::default()
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

// ---------------------------------------------------------------------------------------------
// Sub-types whose JSON is the same in v1beta2. Some of their enums accept a few values that only
// v1beta2 documents (agent features, metric names, alert names): a v1beta2 object read through
// v1beta1 must be accepted when it is written back unchanged.
// ---------------------------------------------------------------------------------------------

pub use crate::v1beta2::{
    AgentFeature, ClusterNetworkOperatorConfig, ConsolePluginPortConfig, EbpfAgentAlert,
    EbpfFilterAction, EbpfFilterDirection, EbpfFilterProtocol, EbpfFlowFilter, EbpfFlowFilterRule,
    EbpfTcpFlags, FlowCollectorIpfix, FlpDeduper, FlpDeduperMode, FlpFilterSet, FlpFilterTarget,
    FlpMetric, HealthRuleTemplate, ImagePullPolicy, IpfixTransport, LogLevel, OvnKubernetesConfig,
    QuickFilter,
};

// ---------------------------------------------------------------------------------------------
// Top level
// ---------------------------------------------------------------------------------------------

/// Desired state of the network-flow collection: the eBPF agents, the flow processor, the Loki
/// and Prometheus clients, the console plugin and the optional Kafka stage and exporters.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "flows.netobserv.io",
    version = "v1beta1",
    kind = "FlowCollector",
    plural = "flowcollectors",
    status = "FlowCollectorStatus",
    derive = "Default",
    derive = "PartialEq",
    served = true,
    storage = false,
    deprecated,
    doc = "Network flows collection configuration (deprecated v1beta1 API, converted to and from v1beta2).",
    printcolumn = r#"{"name":"Agent","type":"string","jsonPath":".spec.agent.type"}"#,
    printcolumn = r#"{"name":"Sampling (EBPF)","type":"string","jsonPath":".spec.agent.ebpf.sampling"}"#,
    printcolumn = r#"{"name":"Deployment Model","type":"string","jsonPath":".spec.deploymentModel"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#
)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorSpec {
    /// Namespace the NetObserv workloads run in. It cannot be changed once set; delete and
    /// recreate the resource to move them.
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "Namespace is immutable. If you need to change it, delete and recreate the resource."
    }]))]
    pub namespace: String,
    /// The flow capture agent.
    pub agent: FlowCollectorAgent,
    /// The flow processor (flowlogs-pipeline), which enriches flows and sends them on to Loki,
    /// Prometheus metrics and exporters.
    pub processor: FlowCollectorFlp,
    /// Client settings of the Loki flow store.
    pub loki: FlowCollectorLoki,
    /// Prometheus settings, used by the console plugin to query metrics.
    pub prometheus: FlowCollectorPrometheus,
    /// The OpenShift console plugin.
    pub console_plugin: FlowCollectorConsolePlugin,
    /// Whether agents send flows straight to the processor (`DIRECT`) or through Kafka (`KAFKA`).
    pub deployment_model: DeploymentModel,
    /// Kafka connection used when `deploymentModel` is `KAFKA`.
    pub kafka: FlowCollectorKafka,
    /// Additional destinations of the enriched flows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exporters: Vec<FlowCollectorExporter>,
}

impl Default for FlowCollectorSpec {
    fn default() -> Self {
        Self {
            namespace: "netobserv".to_string(),
            agent: FlowCollectorAgent::default(),
            processor: FlowCollectorFlp::default(),
            loki: FlowCollectorLoki::default(),
            prometheus: FlowCollectorPrometheus::default(),
            console_plugin: FlowCollectorConsolePlugin::default(),
            deployment_model: DeploymentModel::default(),
            kafka: FlowCollectorKafka::default(),
            exporters: Vec::new(),
        }
    }
}

/// How flows travel from the agents to the processor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DeploymentModel {
    /// Agents send flows directly to the processor.
    #[default]
    #[serde(rename = "DIRECT")]
    Direct,
    /// Agents write flows to a Kafka topic that the processor consumes.
    #[serde(rename = "KAFKA")]
    Kafka,
    /// The v1beta2 `Service` model (the processor behind a Service). v1beta1 did not have it, but
    /// accepts the value so that such an object can be written back through v1beta1.
    #[serde(rename = "SERVICE")]
    Service,
}

/// Observed state of the FlowCollector.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = status_required)]
pub struct FlowCollectorStatus {
    /// Latest observations of the state of the deployment.
    pub conditions: Vec<Condition>,
    /// Namespace the console plugin and the processor were deployed to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

fn status_required(schema: &mut schemars::Schema) {
    unset_default(schema, "conditions");
    mark_required(schema, &["conditions"]);
}

// ---------------------------------------------------------------------------------------------
// Agent
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Shared sub-types whose enums are spelled differently from v1beta2
// ---------------------------------------------------------------------------------------------

/// How a server endpoint gets its TLS certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ServerTlsType {
    /// Plain text.
    #[default]
    #[serde(rename = "DISABLED")]
    Disabled,
    /// A certificate the user provides (unsupported).
    #[serde(rename = "PROVIDED")]
    Provided,
    /// A certificate generated by OpenShift from a Service annotation.
    #[serde(rename = "AUTO")]
    Auto,
}

/// TLS of a metrics endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = server_tls_required)]
pub struct ServerTls {
    /// Where the certificate comes from.
    #[serde(rename = "type")]
    pub kind: ServerTlsType,
    /// Certificate and key when `type` is `PROVIDED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided: Option<CertificateReference>,
    /// Lets the scraper skip verifying the certificate; `providedCaFile` is then ignored.
    pub insecure_skip_verify: bool,
    /// CA file when `type` is `PROVIDED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_ca_file: Option<FileReference>,
}

fn server_tls_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["type"]);
}

/// Port and TLS of a metrics endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricsServerConfig {
    /// HTTP port of the metrics endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// TLS of the endpoint.
    pub tls: ServerTls,
}

/// Whether a HorizontalPodAutoscaler is deployed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HpaStatus {
    /// No autoscaler.
    #[default]
    #[serde(rename = "DISABLED")]
    Disabled,
    /// An autoscaler manages the replicas.
    #[serde(rename = "ENABLED")]
    Enabled,
}

/// Autoscaler of a component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorHpa {
    /// Whether the autoscaler is deployed.
    pub status: HpaStatus,
    /// Lower replica bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Upper replica bound; cannot be lower than `minReplicas`.
    pub max_replicas: i32,
    /// Metrics the autoscaler follows (autoscaling/v2 `MetricSpec`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricSpec>,
}

impl Default for FlowCollectorHpa {
    fn default() -> Self {
        Self {
            status: HpaStatus::Disabled,
            min_replicas: None,
            max_replicas: 3,
            metrics: Vec::new(),
        }
    }
}

/// SASL mechanism of a Kafka client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SaslType {
    /// No SASL authentication.
    #[default]
    #[serde(rename = "DISABLED")]
    Disabled,
    /// SASL/PLAIN.
    #[serde(rename = "PLAIN")]
    Plain,
    /// SASL/SCRAM-SHA-512.
    #[serde(rename = "SCRAM-SHA512")]
    ScramSha512,
}

/// SASL authentication of a Kafka client (unsupported).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SaslConfig {
    /// SASL mechanism, or `DISABLED`.
    #[serde(rename = "type")]
    pub kind: SaslType,
    /// File holding the client id.
    #[serde(rename = "clientIDReference")]
    pub client_id_reference: FileReference,
    /// File holding the client secret.
    pub client_secret_reference: FileReference,
}

/// Connection to a Kafka topic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = kafka_required)]
pub struct FlowCollectorKafka {
    /// Address of the Kafka bootstrap server.
    pub address: String,
    /// Topic to use; NetObserv does not create it.
    pub topic: String,
    /// TLS of the connection (the address then usually uses port 9093).
    pub tls: ClientTls,
    /// SASL authentication (unsupported).
    pub sasl: SaslConfig,
}

fn kafka_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["address", "topic"]);
}

// ---------------------------------------------------------------------------------------------
// Processor
// ---------------------------------------------------------------------------------------------

/// Metrics of the processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlpMetrics {
    /// Endpoint that Prometheus scrapes.
    pub server: MetricsServerConfig,
    /// Tags of the metrics not to generate (deprecated, superseded by `includeList`). Known tags:
    /// `egress`, `ingress`, `flows`, `bytes`, `packets`, `namespaces`, `nodes`, `workloads`,
    /// `nodes-flows`, `namespaces-flows`, `workloads-flows`.
    pub ignore_tags: Vec<String>,
    /// Metrics to generate. When set, `ignoreTags` is not used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_list: Option<Vec<FlpMetric>>,
    /// Alerts not to create (`NetObservNoFlows`, `NetObservLokiError`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable_alerts: Vec<HealthRuleTemplate>,
}

impl Default for FlpMetrics {
    fn default() -> Self {
        Self {
            server: MetricsServerConfig::default(),
            ignore_tags: DEFAULT_IGNORE_TAGS
                .iter()
                .map(|t| (*t).to_string())
                .collect(),
            include_list: None,
            disable_alerts: Vec::new(),
        }
    }
}

/// Which records the processor generates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LogTypes {
    /// Plain network flows.
    #[default]
    #[serde(rename = "FLOWS")]
    Flows,
    /// Conversation start, tick and end events.
    #[serde(rename = "CONVERSATIONS")]
    Conversations,
    /// Conversation end events only.
    #[serde(rename = "ENDED_CONVERSATIONS")]
    EndedConversations,
    /// Flows and every conversation event.
    #[serde(rename = "ALL")]
    All,
}

/// Custom and automatic labelling of subnets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SubnetLabels {
    /// Labels the machine, pod and service subnets found in the OpenShift configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_shift_auto_detect: Option<bool>,
    /// Custom subnet labels; they win over detected subnets that overlap.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_labels: Vec<SubnetLabel>,
}

/// A label given to flows whose source or destination is in one of the CIDRs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = subnet_label_required)]
pub struct SubnetLabel {
    /// CIDRs, such as `1.2.3.4/32`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<String>,
    /// The label.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
}

fn subnet_label_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["cidrs", "name"]);
}

/// The flow processor (flowlogs-pipeline).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorFlp {
    /// Host port the processor receives flows on. It must be above 1024 and not 4500, 4789 or
    /// 6081.
    #[schemars(range(min = 1025, max = 65535))]
    pub port: i32,
    /// Port of the health-check API.
    #[schemars(range(min = 1, max = 65535))]
    pub health_port: i32,
    /// Port of a Go pprof profiler; unset means no profiler.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 65535))]
    pub profile_port: Option<i32>,
    /// Pull policy of the processor image.
    pub image_pull_policy: ImagePullPolicy,
    /// Metrics generated by the processor.
    pub metrics: FlpMetrics,
    /// Log level of the processor.
    pub log_level: LogLevel,
    /// Compute resources of the processor container.
    pub resources: ResourceRequirements,
    /// Turns the Kubernetes liveness and readiness probes on.
    pub enable_kube_probes: bool,
    /// Not used anymore (deprecated).
    pub drop_unused_fields: bool,
    /// Number of processor pods consuming from Kafka.
    #[schemars(range(min = 0))]
    pub kafka_consumer_replicas: i32,
    /// Autoscaler of the Kafka-consuming processor.
    pub kafka_consumer_autoscaler: FlowCollectorHpa,
    /// Capacity of the Kafka consumer's internal queue.
    pub kafka_consumer_queue_capacity: i64,
    /// Largest batch, in bytes, that the Kafka consumer accepts.
    pub kafka_consumer_batch_size: i64,
    /// Records to generate: flows and/or conversation events.
    pub log_types: LogTypes,
    /// Time between two "tick" events of a conversation.
    pub conversation_heartbeat_interval: String,
    /// Time without flows after which a conversation ends (when no TCP FIN was seen).
    pub conversation_end_timeout: String,
    /// Time after a TCP FIN before the conversation ends.
    pub conversation_terminating_timeout: String,
    /// Cluster name added to flows; on OpenShift empty means detected.
    pub cluster_name: String,
    /// Adds the cluster name to flows, for multi-cluster setups.
    pub multi_cluster_deployment: bool,
    /// Adds the availability zones of the source and destination to flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_zone: Option<bool>,
    /// Subnet labelling.
    pub subnet_labels: SubnetLabels,
    /// De-duplication of flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deduper: Option<FlpDeduper>,
    /// Filters limiting the flows kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FlpFilterSet>,
    /// Internal settings for debugging (environment variables).
    pub debug: DebugConfig,
}

impl Default for FlowCollectorFlp {
    fn default() -> Self {
        Self {
            port: 2055,
            health_port: 8080,
            profile_port: None,
            image_pull_policy: ImagePullPolicy::default(),
            metrics: FlpMetrics::default(),
            log_level: LogLevel::default(),
            resources: resources("100Mi", "100m", "800Mi"),
            enable_kube_probes: true,
            drop_unused_fields: true,
            kafka_consumer_replicas: 3,
            kafka_consumer_autoscaler: FlowCollectorHpa::default(),
            kafka_consumer_queue_capacity: 1000,
            kafka_consumer_batch_size: 10_485_760,
            log_types: LogTypes::default(),
            conversation_heartbeat_interval: "30s".to_string(),
            conversation_end_timeout: "10s".to_string(),
            conversation_terminating_timeout: "5s".to_string(),
            cluster_name: String::new(),
            multi_cluster_deployment: false,
            add_zone: None,
            subnet_labels: SubnetLabels::default(),
            deduper: None,
            filters: Vec::new(),
            debug: DebugConfig::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loki
// ---------------------------------------------------------------------------------------------

/// How the Loki clients authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LokiAuthToken {
    /// No token.
    #[default]
    #[serde(rename = "DISABLED")]
    Disabled,
    /// The pod's service account token (deprecated).
    #[serde(rename = "HOST")]
    Host,
    /// The token of the console user, forwarded.
    #[serde(rename = "FORWARD")]
    Forward,
}

/// Client settings of the Loki flow store. They correspond to the v1beta2 `Manual` mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorLoki {
    /// Stores flows in Loki.
    pub enable: bool,
    /// Address flows are pushed to (with the Loki Operator: the gateway with the `network`
    /// tenant in the path).
    pub url: String,
    /// Address of the querier, when it differs from `url`. Empty means `url`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub querier_url: String,
    /// Address of the `/ready`, `/metrics` and `/config` endpoints, when it differs from the
    /// querier. Empty means the querier address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_url: String,
    /// Loki tenant (`X-Scope-OrgID`); `network` with the Loki Operator.
    #[serde(rename = "tenantID")]
    pub tenant_id: String,
    /// How the clients get a token; `FORWARD` with the Loki Operator.
    pub auth_token: LokiAuthToken,
    /// Longest wait before a batch is sent.
    pub batch_wait: String,
    /// Largest batch, in bytes, accumulated before sending.
    #[schemars(range(min = 1))]
    pub batch_size: i64,
    /// Time limit of a query; zero means none.
    pub read_timeout: String,
    /// Time limit of a push connection or request; zero means none.
    pub timeout: String,
    /// First backoff between push retries.
    pub min_backoff: String,
    /// Longest backoff between push retries.
    pub max_backoff: String,
    /// Number of push retries.
    #[schemars(range(min = 0))]
    pub max_retries: i32,
    /// Labels set on every flow stored.
    pub static_labels: BTreeMap<String, String>,
    /// TLS of the connection to `url` (and `querierUrl`).
    pub tls: ClientTls,
    /// TLS of the connection to `statusUrl`.
    pub status_tls: ClientTls,
}

impl Default for FlowCollectorLoki {
    fn default() -> Self {
        Self {
            enable: true,
            url: "http://loki:3100/".to_string(),
            querier_url: String::new(),
            status_url: String::new(),
            tenant_id: "netobserv".to_string(),
            auth_token: LokiAuthToken::default(),
            batch_wait: "1s".to_string(),
            batch_size: 102_400,
            read_timeout: "30s".to_string(),
            timeout: "10s".to_string(),
            min_backoff: "1s".to_string(),
            max_backoff: "5s".to_string(),
            max_retries: 2,
            static_labels: BTreeMap::from([(
                "app".to_string(),
                "netobserv-flowcollector".to_string(),
            )]),
            tls: ClientTls::default(),
            status_tls: ClientTls::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------------

/// Prometheus settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorPrometheus {
    /// How the console plugin queries Prometheus.
    pub querier: PrometheusQuerier,
}

/// How the Prometheus connection is set up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PrometheusMode {
    /// Connection parameters given in `manual`.
    Manual,
    /// Automatic (the Thanos querier of OpenShift Cluster Monitoring).
    #[default]
    Auto,
}

/// How the console plugin queries Prometheus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = querier_required)]
pub struct PrometheusQuerier {
    /// Makes the console plugin query metrics from Prometheus rather than Loki when it can.
    pub enable: bool,
    /// `Auto` or `Manual` connection setup.
    pub mode: PrometheusMode,
    /// Connection parameters of `Manual` mode.
    pub manual: PrometheusQuerierManual,
    /// Time limit of a query; zero means none.
    pub timeout: String,
}

fn querier_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["mode"]);
}

impl Default for PrometheusQuerier {
    fn default() -> Self {
        Self {
            enable: true,
            mode: PrometheusMode::Auto,
            manual: PrometheusQuerierManual::default(),
            timeout: "30s".to_string(),
        }
    }
}

/// Connection parameters of a manually configured Prometheus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PrometheusQuerierManual {
    /// Address of the Prometheus query API.
    pub url: String,
    /// TLS of the connection.
    pub tls: ClientTls,
    /// Forwards the console user's token with the queries.
    pub forward_user_token: bool,
}

impl Default for PrometheusQuerierManual {
    fn default() -> Self {
        Self {
            url: "http://prometheus:9090".to_string(),
            tls: ClientTls::default(),
            forward_user_token: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Console plugin
// ---------------------------------------------------------------------------------------------

/// The OpenShift console plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorConsolePlugin {
    /// Deploys the plugin (Loki or Prometheus must be enabled too).
    pub enable: bool,
    /// Registers the plugin with the OpenShift console operator.
    pub register: bool,
    /// Number of plugin pods.
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// Port of the plugin service (9002 is taken by metrics).
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Pull policy of the plugin image.
    pub image_pull_policy: ImagePullPolicy,
    /// Compute resources of the plugin container.
    pub resources: ResourceRequirements,
    /// Log level of the plugin backend.
    pub log_level: LogLevel,
    /// Autoscaler of the plugin Deployment.
    pub autoscaler: FlowCollectorHpa,
    /// Translation of port numbers to service names.
    pub port_naming: ConsolePluginPortConfig,
    /// Quick filter presets of the console.
    pub quick_filters: Vec<QuickFilter>,
}

fn quick_filter(name: &str, filter: &[(&str, &str)], default: bool) -> QuickFilter {
    QuickFilter {
        name: name.to_string(),
        filter: filter
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        default,
    }
}

/// The v1beta1 default quick filters (values are not quoted, unlike v1beta2's).
pub fn default_quick_filters() -> Vec<QuickFilter> {
    vec![
        quick_filter("Applications", &[("flow_layer", "app")], true),
        quick_filter("Infrastructure", &[("flow_layer", "infra")], false),
        quick_filter(
            "Pods network",
            &[("src_kind", "Pod"), ("dst_kind", "Pod")],
            true,
        ),
        quick_filter("Services network", &[("dst_kind", "Service")], false),
    ]
}

impl Default for FlowCollectorConsolePlugin {
    fn default() -> Self {
        Self {
            enable: true,
            register: true,
            replicas: 1,
            port: 9001,
            image_pull_policy: ImagePullPolicy::default(),
            resources: resources("50Mi", "100m", "100Mi"),
            log_level: LogLevel::default(),
            autoscaler: FlowCollectorHpa::default(),
            port_naming: ConsolePluginPortConfig::default(),
            quick_filters: default_quick_filters(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exporters
// ---------------------------------------------------------------------------------------------

/// Kind of exporter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ExporterType {
    /// Writes flows to a Kafka topic.
    #[default]
    #[serde(rename = "KAFKA")]
    Kafka,
    /// Sends flows to an IPFIX collector.
    #[serde(rename = "IPFIX")]
    Ipfix,
    /// An OpenTelemetry exporter of a v1beta2 object. v1beta1 cannot configure it, but accepts
    /// the value so that such an object can be written back through v1beta1.
    #[serde(rename = "OPEN_TELEMETRY")]
    OpenTelemetry,
}

/// An IPFIX collector that receives the enriched flows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = ipfix_receiver_required)]
pub struct FlowCollectorIpfixReceiver {
    /// Address of the collector.
    #[serde(default)]
    pub target_host: String,
    /// Port of the collector.
    pub target_port: i32,
    /// Transport protocol; unset means TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<IpfixTransport>,
}

fn ipfix_receiver_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["targetHost", "targetPort"]);
}

/// An additional destination of the enriched flows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = exporter_schema)]
pub struct FlowCollectorExporter {
    /// Kind of exporter.
    #[serde(rename = "type")]
    pub kind: ExporterType,
    /// Kafka destination, for `KAFKA`.
    #[serde(default)]
    pub kafka: FlowCollectorKafka,
    /// IPFIX destination, for `IPFIX`.
    #[serde(default)]
    pub ipfix: FlowCollectorIpfixReceiver,
}

/// Neither destination block has a CRD default: the API server must not add one that was not
/// written.
fn exporter_schema(schema: &mut schemars::Schema) {
    unset_default(schema, "kafka");
    unset_default(schema, "ipfix");
}
