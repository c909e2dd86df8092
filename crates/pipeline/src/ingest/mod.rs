//! Ingest stages: gRPC from the agents (`pbflow.Collector/Send`), and JSON lines from stdin or a
//! file (upstream `stdin` / `file`).

pub mod grpc;
mod lines;

pub use lines::{LineStats, read_json_lines};
