//! `ingest` stages: where records come from.

use crate::common::{ClientTls, Sasl, needs};
use serde::{Deserialize, Serialize};

/// The ingest types upstream has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestKind {
    /// The agents' `pbflow.Collector/Send`.
    #[default]
    Grpc,
    /// A Kafka topic (what the agents or another pipeline produce).
    Kafka,
    /// IPFIX / NetFlow.
    Ipfix,
    /// Deprecated name of `ipfix`.
    Collector,
    /// Built-in load generator.
    Synthetic,
    /// JSON lines on standard input.
    Stdin,
    /// JSON lines from a file.
    File,
    /// A file read again and again.
    FileLoop,
    /// A file read in chunks.
    FileChunks,
}

impl IngestKind {
    /// The upstream type name.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestKind::Grpc => "grpc",
            IngestKind::Kafka => "kafka",
            IngestKind::Ipfix => "ipfix",
            IngestKind::Collector => "collector",
            IngestKind::Synthetic => "synthetic",
            IngestKind::Stdin => "stdin",
            IngestKind::File => "file",
            IngestKind::FileLoop => "file_loop",
            IngestKind::FileChunks => "file_chunks",
        }
    }
}

/// An ingest stage: its `type` and the sub-object that type reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingest {
    /// Which ingester runs.
    #[serde(rename = "type")]
    pub kind: IngestKind,
    /// For `grpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<IngestGrpc>,
    /// For `kafka`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<IngestKafka>,
    /// For `ipfix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipfix: Option<IngestIpfix>,
    /// For `collector` (the deprecated spelling of `ipfix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<IngestIpfix>,
    /// For `synthetic` (absent: defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<IngestSynthetic>,
    /// For `file`, `file_loop` and `file_chunks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<IngestFile>,
    /// For `stdin` (nothing to set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<IngestStdin>,
}

impl Ingest {
    /// A `grpc` ingest.
    pub fn grpc(grpc: IngestGrpc) -> Self {
        Self {
            kind: IngestKind::Grpc,
            grpc: Some(grpc),
            ..Self::default()
        }
    }

    /// A `kafka` ingest.
    pub fn kafka(kafka: IngestKafka) -> Self {
        Self {
            kind: IngestKind::Kafka,
            kafka: Some(kafka),
            ..Self::default()
        }
    }

    /// Checks that the sub-object `type` needs is there.
    pub fn check(&self) -> Result<(), String> {
        let kind = self.kind.as_str();
        match self.kind {
            IngestKind::Grpc => needs("ingest", kind, self.grpc.as_ref()).map(|_| ()),
            IngestKind::Kafka => needs("ingest", kind, self.kafka.as_ref()).map(|_| ()),
            IngestKind::File | IngestKind::FileLoop | IngestKind::FileChunks => match &self.file {
                Some(f) if !f.filename.is_empty() => Ok(()),
                _ => Err(format!("ingest type {kind} needs `file.filename`")),
            },
            IngestKind::Ipfix
            | IngestKind::Collector
            | IngestKind::Synthetic
            | IngestKind::Stdin => Ok(()),
        }
    }
}

/// `grpc`: the agents' collector endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestGrpc {
    /// Listen address (empty: all interfaces).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Listen port (0 picks a free one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Batches the ingest may hold before the agents wait (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_length: Option<usize>,
    /// PEM server certificate (TLS).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_path: String,
    /// PEM server key (TLS).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_path: String,
    /// PEM CA client certificates must chain to (mutual TLS).
    #[serde(
        rename = "clientCAPath",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub client_ca_path: String,
}

/// Decoders of the Kafka ingest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecoderKind {
    /// One JSON record per message.
    #[default]
    Json,
    /// One `pbflow.Record` per message.
    Protobuf,
}

/// `decoder` of the Kafka ingest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decoder {
    /// The message format.
    #[serde(rename = "type")]
    pub kind: DecoderKind,
}

/// `kafka`: a consumer group on a topic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestKafka {
    /// Broker addresses.
    #[serde(default)]
    pub brokers: Vec<String>,
    /// The topic.
    #[serde(default)]
    pub topic: String,
    /// Consumer group.
    #[serde(rename = "groupid", default)]
    pub group_id: String,
    /// Balancing strategies (range, roundRobin, rackAffinity).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_balancers: Vec<String>,
    /// `FirstOffset` (default) or `LastOffset`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub start_offset: String,
    /// How often input is processed, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_read_timeout: Option<i64>,
    /// Message format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder: Option<Decoder>,
    /// Records per batch handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_max_len: Option<i64>,
    /// Capacity of the queue of pulled messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_queue_capacity: Option<i64>,
    /// Most bytes pulled at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_max_bytes: Option<i64>,
    /// Offset commit interval in milliseconds (0: synchronous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_interval: Option<i64>,
    /// TLS towards the brokers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    /// SASL authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl: Option<Sasl>,
}

/// `ipfix` (or `collector`): an IPFIX / NetFlow receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestIpfix {
    /// Listen address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_name: String,
    /// IPFIX / NetFlow v9 port (0: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// NetFlow v5 port (0: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_legacy: Option<u16>,
    /// Records per batch handed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_max_len: Option<i64>,
    /// Decoding workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<i64>,
    /// Listening sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockets: Option<i64>,
    /// Enterprise-specific field mappings, kept as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mapping: Vec<serde_json::Value>,
}

/// `synthetic`: the built-in load source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestSynthetic {
    /// Distinct conversations cycled through (upstream default 100).
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Records per emitted batch (upstream default 10).
    #[serde(default = "default_batch")]
    pub batch_max_len: usize,
    /// Records per minute (upstream default 2000).
    #[serde(default = "default_rate")]
    pub flow_logs_per_min: u64,
}

fn default_connections() -> usize {
    100
}
fn default_batch() -> usize {
    10
}
fn default_rate() -> u64 {
    2000
}

impl Default for IngestSynthetic {
    fn default() -> Self {
        Self {
            connections: default_connections(),
            batch_max_len: default_batch(),
            flow_logs_per_min: default_rate(),
        }
    }
}

/// `file`: JSON lines from a file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestFile {
    /// The file.
    #[serde(default)]
    pub filename: String,
    /// Read it again at the end (`file_loop`).
    #[serde(rename = "loop", default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<bool>,
    /// Lines per chunk (`file_chunks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<i64>,
}

/// `stdin`: nothing to configure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestStdin {}
