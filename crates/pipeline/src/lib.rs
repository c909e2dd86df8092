//! The flowlogs pipeline: ingest -> transform -> extract -> encode -> write, configured by the
//! same `pipeline` + `parameters` document upstream flowlogs-pipeline reads, so the operator's
//! ConfigMap drives it unchanged.
//!
//! Pieces: the record model ([`record`]), strict configuration parsing and graph checks
//! ([`config`]), ingest ([`ingest`]: gRPC, JSON lines, synthetic) and pbflow decoding
//! ([`decode`]), per-record transforms ([`transform`]), per-batch extracts ([`extract`]), the
//! Prometheus encoder ([`encode`]), writers ([`write`]: Loki), and the runtime that connects them
//! ([`runtime`]).

pub mod cli;
pub mod config;
pub mod decode;
pub mod dynamic;
pub mod encode;
pub mod extract;
pub mod fields;
pub mod ingest;
pub mod record;
pub mod runtime;
pub mod server;
pub mod service;
pub mod settings;
pub mod shard;
pub mod stage_metrics;
pub mod table;
pub mod transform;
pub mod workers;
pub mod write;
