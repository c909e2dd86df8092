//! Ingest stages: gRPC from the agents (`pbflow.Collector/Send`), a Kafka consumer group
//! (`kafka`), JSON lines from stdin or a file (upstream `stdin` / `file`), the built-in `synthetic` load source, and the preset
//! ingester an embedding program feeds (the agent's `EXPORT=direct-flp`).
//!
//! An ingest is built from its parameters ([`Ingester`]), then started on the worker queues
//! ([`Ingester::start`]), which gives the running source ([`RunningIngest`]).

pub mod grpc;
pub mod kafka;
mod lines;
pub mod preset;
pub mod synthetic;

pub use grpc::GrpcStats;
pub use lines::{LineStats, LinesIngester, build_file, build_stdin, read_json_lines};

use crate::shard::Shards;
use crate::shutdown::Shutdown;
use crate::stage::BuildError;
use futures::future::BoxFuture;
use std::sync::Arc;

/// An ingest stage ready to start.
pub trait Ingester: Send {
    /// Whether it runs until asked to stop (a service) rather than to the end of its input.
    fn is_service(&self) -> bool {
        true
    }

    /// Batches each worker queue holds before the source waits.
    fn queue_batches(&self) -> usize {
        100
    }

    /// Starts feeding `shards` (inside the runtime).
    fn start(
        self: Box<Self>,
        shards: Shards,
    ) -> BoxFuture<'static, Result<Box<dyn RunningIngest>, BuildError>>;
}

/// A started ingest.
pub trait RunningIngest: Send {
    /// Its counters.
    fn stats(&self) -> Arc<GrpcStats>;

    /// Waits for the end of the input (lines) or for `shutdown` (services), then stops, which
    /// closes the worker queues. Line sources return what they read.
    fn finish(
        self: Box<Self>,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<Option<LineStats>, String>>;

    /// Stops at once.
    fn abort(self: Box<Self>) -> BoxFuture<'static, ()>;
}
