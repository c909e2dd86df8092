//! `spec.exporters` in v1beta1: Kafka and IPFIX destinations of the enriched flows.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FlowCollectorKafka, IpfixTransport};
use crate::v1beta2::common::mark_required;
use crate::v1beta2::processor::unset_default;

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
