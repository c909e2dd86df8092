//! Ingest stages: gRPC from the agents (`pbflow.Collector/Send`), and JSON lines from stdin or a
//! file (upstream `stdin` / `file`), and the built-in `synthetic` load source.

pub mod grpc;
mod lines;
pub mod synthetic;

pub use lines::{LineStats, read_json_lines};
