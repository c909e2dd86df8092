//! The top level of the v1beta1 `FlowCollector`: the custom resource itself, its spec, the
//! deployment model and the status. The sections it is made of live in sibling modules.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    FlowCollectorAgent, FlowCollectorConsolePlugin, FlowCollectorExporter, FlowCollectorFlp,
    FlowCollectorKafka, FlowCollectorLoki, FlowCollectorPrometheus,
};
use crate::v1beta2::common::mark_required;
use crate::v1beta2::processor::unset_default;

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
