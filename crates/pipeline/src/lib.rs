//! The flowlogs pipeline: ingest -> transform -> extract -> encode -> write, configured by the
//! same `pipeline` + `parameters` document upstream flowlogs-pipeline reads, so the operator's
//! ConfigMap drives it unchanged.
//!
//! What exists so far: the record model ([`record`]), the configuration model with strict
//! parsing and graph checks ([`config`]), and the per-record transforms ([`transform`]). Ingest
//! (gRPC), the Loki writer and the Prometheus encoder come next.

pub mod config;
pub mod decode;
pub mod dynamic;
pub mod encode;
pub mod fields;
pub mod ingest;
pub mod record;
pub mod runtime;
pub mod server;
pub mod table;
pub mod transform;
pub mod write;
