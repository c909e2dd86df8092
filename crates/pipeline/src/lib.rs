//! The flowlogs pipeline: ingest -> transform -> extract -> encode -> write, configured by the
//! same `pipeline` + `parameters` document upstream flowlogs-pipeline reads, so the operator's
//! ConfigMap drives it unchanged.
//!
//! Pieces: the record model ([`record`]), the typed configuration ([`config`], the
//! `netobserv-flp-config` crate), the stages by section ([`ingest`]: gRPC, JSON lines,
//! synthetic, preset; [`transform`]; [`extract`]; [`encode`]; [`write`]: Loki, stdout, sqlite),
//! the [`registry`] of their builders by upstream type name, the graph executor ([`runtime`]),
//! and the process around it ([`service`], or [`embedded`] inside another program).

pub mod cli;
pub mod config;
pub mod conntrack_metrics;
pub mod decode;
pub mod dynamic;
pub mod embedded;
pub mod encode;
pub mod extract;
pub mod fields;
pub mod ingest;
pub mod kafka;
pub mod kubernetes;
pub mod record;
pub mod registry;
pub mod runtime;
pub mod self_metrics;
pub mod server;
pub mod service;
pub mod settings;
pub mod shard;
pub mod shutdown;
pub mod stage;
pub mod stage_metrics;
pub mod table;
pub mod transform;
pub mod workers;
pub mod write;
