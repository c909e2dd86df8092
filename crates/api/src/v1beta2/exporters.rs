//! `spec.kafka` (the broker between agents and processor in the `Kafka` deployment model) and
//! `spec.exporters` (extra destinations of the enriched flows: Kafka, IPFIX, OpenTelemetry).

use super::common::{ClientTls, SaslConfig, mark_required};
use super::processor::{is_zero, unset_default};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Compression of the messages written to Kafka.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KafkaCompression {
    /// No compression.
    None,
    /// gzip: small messages, more CPU.
    Gzip,
    /// Snappy: fast, moderate ratio.
    Snappy,
    /// LZ4: fast, good ratio.
    #[default]
    Lz4,
    /// Zstandard: best ratio for its CPU cost.
    Zstd,
}

/// Connection to a Kafka topic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = kafka_required)]
pub struct FlowCollectorKafka {
    /// Address of the Kafka bootstrap server(s). With TLS, use the TLS port (often 9093).
    pub address: String,
    /// Topic to use. It must exist: NetObserv does not create it.
    pub topic: String,
    /// TLS of the connection; mutual TLS is recommended.
    pub tls: ClientTls,
    /// SASL authentication (unsupported).
    pub sasl: SaslConfig,
    /// Compression of the messages produced.
    pub compression: KafkaCompression,
}

fn kafka_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["address", "topic"]);
}

/// Kind of destination of an exporter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ExporterType {
    /// A Kafka topic.
    #[default]
    Kafka,
    /// An IPFIX collector.
    #[serde(rename = "IPFIX")]
    Ipfix,
    /// An OpenTelemetry (OTLP) receiver, for logs and metrics.
    OpenTelemetry,
}

/// Transport of the IPFIX connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum IpfixTransport {
    /// TCP (the behaviour when unset).
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    /// UDP.
    #[serde(rename = "UDP")]
    Udp,
}

/// An IPFIX collector that receives the enriched flows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = ipfix_required)]
pub struct FlowCollectorIpfixReceiver {
    /// Address of the collector.
    pub target_host: String,
    /// Port of the collector.
    pub target_port: i32,
    /// Transport protocol; unset means TCP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<IpfixTransport>,
    /// Private Enterprise Number under which the non-standard fields (Kubernetes names, RTT and
    /// so on) are sent. NetObserv has no assigned number, so it is configurable.
    #[serde(rename = "enterpriseID")]
    pub enterprise_id: i32,
}

impl Default for FlowCollectorIpfixReceiver {
    fn default() -> Self {
        Self {
            target_host: String::new(),
            target_port: 4739,
            transport: None,
            enterprise_id: 2,
        }
    }
}

fn ipfix_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["targetHost", "targetPort", "enterpriseID"]);
}

/// Protocol of the OpenTelemetry connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OpenTelemetryProtocol {
    /// OTLP over HTTP.
    Http,
    /// OTLP over gRPC (the behaviour when unset).
    #[default]
    Grpc,
}

/// Renames (and optionally scales) one flow field in the OpenTelemetry output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct GenericTransformRule {
    /// Name of the flow field.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub input: String,
    /// Name written in the output.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// Factor the value is multiplied by, such as to change units.
    #[serde(skip_serializing_if = "is_zero")]
    pub multiplier: i32,
}

/// Sending flows as OpenTelemetry logs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorOpenTelemetryLogs {
    /// Sends flows as logs.
    pub enable: bool,
}

impl Default for FlowCollectorOpenTelemetryLogs {
    fn default() -> Self {
        Self { enable: true }
    }
}

/// Sending flow metrics over OpenTelemetry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorOpenTelemetryMetrics {
    /// Sends metrics.
    pub enable: bool,
    /// How often metrics are pushed.
    pub push_time_interval: String,
}

impl Default for FlowCollectorOpenTelemetryMetrics {
    fn default() -> Self {
        Self {
            enable: true,
            push_time_interval: "20s".to_string(),
        }
    }
}

/// An OpenTelemetry receiver that gets the enriched flows as logs and/or metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = open_telemetry_required)]
pub struct FlowCollectorOpenTelemetry {
    /// Address of the receiver.
    pub target_host: String,
    /// Port of the receiver.
    pub target_port: i32,
    /// Protocol; unset means gRPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<OpenTelemetryProtocol>,
    /// Headers added to every message.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// TLS of the connection.
    pub tls: ClientTls,
    /// Field names of the output. Unset means NetObserv's proposed format; there is no standard
    /// for enriched network flows, so any mapping can be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields_mapping: Option<Vec<GenericTransformRule>>,
    /// Sending flows as logs.
    pub logs: FlowCollectorOpenTelemetryLogs,
    /// Sending metrics.
    pub metrics: FlowCollectorOpenTelemetryMetrics,
}

impl Default for FlowCollectorOpenTelemetry {
    fn default() -> Self {
        Self {
            target_host: String::new(),
            target_port: 4317,
            protocol: None,
            headers: BTreeMap::new(),
            tls: ClientTls::default(),
            fields_mapping: None,
            logs: FlowCollectorOpenTelemetryLogs::default(),
            metrics: FlowCollectorOpenTelemetryMetrics::default(),
        }
    }
}

fn open_telemetry_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["targetHost", "targetPort"]);
}

/// An extra destination of the enriched flows. Only the block matching `type` is read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = exporter_schema)]
pub struct FlowCollectorExporter {
    /// Kind of destination.
    #[serde(rename = "type")]
    pub kind: ExporterType,
    /// Kafka topic, for type `Kafka`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<FlowCollectorKafka>,
    /// IPFIX collector, for type `IPFIX`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipfix: Option<FlowCollectorIpfixReceiver>,
    /// OpenTelemetry receiver, for type `OpenTelemetry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_telemetry: Option<FlowCollectorOpenTelemetry>,
}

/// `type` has no default upstream: the user must choose it.
fn exporter_schema(schema: &mut schemars::Schema) {
    unset_default(schema, "type");
    mark_required(schema, &["type"]);
}
