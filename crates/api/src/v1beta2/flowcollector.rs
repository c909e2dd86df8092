//! The `FlowCollector` custom resource: the single, cluster-wide object (named `cluster`) that
//! describes how NetObserv collects, enriches, stores and exports network flows.

use super::agent::FlowCollectorAgent;
use super::console::{FlowCollectorConsolePlugin, FlowCollectorPrometheus};
use super::exporters::{FlowCollectorExporter, FlowCollectorKafka};
use super::loki::FlowCollectorLoki;
use super::processor::FlowCollectorFlp;
use super::status::FlowCollectorStatus;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of NetObserv: which agents run, how flows reach the processor, and where the
/// enriched flows and metrics go.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "flows.netobserv.io",
    version = "v1beta2",
    kind = "FlowCollector",
    plural = "flowcollectors",
    status = "FlowCollectorStatus",
    derive = "Default",
    derive = "PartialEq",
    doc = "Cluster-wide configuration of NetObserv network flow collection. Only the object named `cluster` is reconciled.",
    printcolumn = r#"{"name":"Agent","type":"string","jsonPath":".status.components.agent.state"}"#,
    printcolumn = r#"{"name":"Processor","type":"string","jsonPath":".status.components.processor.state"}"#,
    printcolumn = r#"{"name":"Plugin","type":"string","jsonPath":".status.components.plugin.state"}"#,
    printcolumn = r#"{"name":"Sampling","type":"string","jsonPath":".spec.agent.ebpf.sampling"}"#,
    printcolumn = r#"{"name":"Deployment Model","type":"string","jsonPath":".spec.deploymentModel"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Warnings","type":"string","jsonPath":".status.conditions[?(@.type==\"ConfigurationIssue\")].message"}"#
)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorSpec {
    /// Namespace the NetObserv workloads run in; the agents use `<namespace>-privileged`. It
    /// cannot be changed once set: delete and recreate the resource instead.
    pub namespace: String,
    /// How flows travel from the agents to the processor.
    pub deployment_model: DeploymentModel,
    /// Settings of the flow agents on the nodes.
    pub agent: FlowCollectorAgent,
    /// Settings of the processor (flowlogs-pipeline) that enriches flows, derives metrics and
    /// forwards flows to Loki and the exporters.
    pub processor: FlowCollectorFlp,
    /// Settings of the Loki client used to store and query flows.
    pub loki: FlowCollectorLoki,
    /// Settings of the Prometheus querier used by the console plugin.
    pub prometheus: FlowCollectorPrometheus,
    /// Settings of the console plugin that shows flows and metrics.
    pub console_plugin: FlowCollectorConsolePlugin,
    /// Kafka broker between agents and processor; only used with the `Kafka` deployment model.
    pub kafka: FlowCollectorKafka,
    /// Extra destinations the enriched flows are sent to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exporters: Vec<FlowCollectorExporter>,
    /// Network policies that isolate the NetObserv namespaces.
    pub network_policy: FlowCollectorNetworkPolicy,
    /// Whether the collection runs or is paused.
    pub execution: FlowCollectorExecution,
}

impl Default for FlowCollectorSpec {
    fn default() -> Self {
        Self {
            namespace: "netobserv".to_string(),
            deployment_model: DeploymentModel::Service,
            agent: FlowCollectorAgent::default(),
            processor: FlowCollectorFlp::default(),
            loki: FlowCollectorLoki::default(),
            prometheus: FlowCollectorPrometheus::default(),
            console_plugin: FlowCollectorConsolePlugin::default(),
            kafka: FlowCollectorKafka::default(),
            exporters: Vec::new(),
            network_policy: FlowCollectorNetworkPolicy::default(),
            execution: FlowCollectorExecution::default(),
        }
    }
}

/// How flows travel from the agents to the processor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DeploymentModel {
    /// The processor is a scalable Deployment behind a Service; agents connect to it over gRPC,
    /// with TLS.
    #[default]
    Service,
    /// The processor is a host-network DaemonSet and each agent sends to the one on its node.
    /// Only suited to small clusters.
    Direct,
    /// Agents write to Kafka and a processor Deployment consumes the topic; scales and buffers
    /// best.
    Kafka,
}

/// Network policies that the operator deploys around the NetObserv namespaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorNetworkPolicy {
    /// Deploys the policies. Unset means on when the network plugin is a known, tested one and off
    /// otherwise; without them, create your own policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Extra namespaces allowed to talk to the NetObserv namespaces, in both directions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additional_namespaces: Vec<String>,
}

/// Whether the flow collection runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ExecutionMode {
    /// Not set; treated as `Running`.
    #[serde(rename = "")]
    Unset,
    /// Everything is deployed.
    #[default]
    Running,
    /// Paused: the operator removes its workloads and services (except the static console plugin)
    /// but keeps the configuration, so that collection costs nothing until resumed.
    OnHold,
}

/// Execution of the flow collection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorExecution {
    /// `Running`, or `OnHold` to pause collection without losing the configuration.
    pub mode: ExecutionMode,
}
