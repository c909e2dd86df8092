//! `status` of the FlowCollector: conditions and a per-component health summary that the operator
//! writes and that `kubectl get flowcollector` shows.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of the FlowCollector, written by the operator only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorStatus {
    /// Latest observations: the aggregate `Ready`, one `Waiting<Component>` per component,
    /// `ConfigurationIssue` and, when relevant, `KafkaReady`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Deprecated: namespace the pipeline and console plugin were deployed in. Annotations now
    /// record it; still read as a fallback for objects written by older operators.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Health of each workload that the operator deploys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<FlowCollectorComponentsStatus>,
    /// Health of the external systems that NetObserv talks to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrations: Option<FlowCollectorIntegrationsStatus>,
}

/// Summary health of a component or integration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ComponentState {
    /// Deployed and every replica is ready.
    Ready,
    /// Being created or rolled out.
    InProgress,
    /// Could not be deployed or is not working.
    Failure,
    /// Working, but with a problem such as unhealthy pods or an invalid setting.
    Degraded,
    /// Not (yet) known.
    #[default]
    Unknown,
    /// Not needed by the current configuration.
    Unused,
}

/// Health of one component or integration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorComponentStatus {
    /// Summary state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ComponentState>,
    /// Short machine-readable cause of the state.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable detail of the state.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Number of replicas the workload should have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i32>,
    /// Number of replicas that are ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Number of pods found crash-looping, failing to pull their image or OOM-killed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_pod_count: Option<i32>,
    /// Summary of the pod problems, so they show without inspecting each pod.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod_issues: String,
}

/// Health of the workloads that the operator deploys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorComponentsStatus {
    /// The eBPF agent DaemonSet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<FlowCollectorComponentStatus>,
    /// The flowlogs-pipeline workloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processor: Option<FlowCollectorComponentStatus>,
    /// The console plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<FlowCollectorComponentStatus>,
}

/// Health of the external systems that NetObserv uses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorIntegrationsStatus {
    /// The Loki flow store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loki: Option<FlowCollectorComponentStatus>,
    /// Prometheus monitoring (metrics, alerts, dashboards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<FlowCollectorComponentStatus>,
    /// One entry per configured exporter.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exporters: Vec<FlowCollectorExporterStatus>,
}

/// Health of one exporter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorExporterStatus {
    /// Name of the exporter's pipeline stage, such as `kafka-export-0`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Exporter type (`Kafka`, `IPFIX` or `OpenTelemetry`).
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Summary state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<ComponentState>,
    /// Short machine-readable cause of the state.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable detail of the state.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}
