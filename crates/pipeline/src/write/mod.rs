//! Writers: terminal stages. Loki (encoding, HTTP client settings, and the batching, retrying
//! client), standard output, the flow store (`sqlite`), and the discarding `none` / `fake`.

pub mod background;
pub mod ipfix;
pub mod loki;
pub mod loki_client;
pub mod loki_http;
pub mod sqlite;
pub mod stdout;

use crate::config::Write;
use crate::record::Record;
use crate::stage::{BuildError, StageContext};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// What a writer did with one batch, for the run's counters. Writers that deliver in the
/// background (Loki) report through [`DeliveryStats`] instead and return zero here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Records written.
    pub ok: u64,
    /// Records that could not be written (e.g. a closed stdout).
    pub failed: u64,
}

/// Counters of a writer that delivers in the background (bounded buffer, retries).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// The writer type (`loki`, `ipfix`): Loki's counters keep their upstream metric names,
    /// the exporters' have their own.
    pub sink: &'static str,
    /// Records accepted into the buffer.
    pub queued: AtomicU64,
    /// Records delivered.
    pub written: AtomicU64,
    /// Records dropped because the buffer was full.
    pub dropped_buffer_full: AtomicU64,
    /// Records dropped because their batch failed every retry.
    pub dropped_after_retries: AtomicU64,
    /// Delivery attempts that failed (each retry counts).
    pub failed_attempts: AtomicU64,
    /// Label values too long to be Loki labels; they stayed in the line.
    pub long_label_values: AtomicU64,
}

/// A write stage ready to run.
pub trait Writer: Send {
    /// Writes (or queues) a batch.
    fn write(&mut self, batch: &[Record]) -> Written;

    /// The background delivery counters, for writers that have them.
    fn delivery(&self) -> Option<Arc<DeliveryStats>> {
        None
    }
}

/// The `none` / `fake` writers: records are counted as written and dropped.
struct Discard;

impl Writer for Discard {
    fn write(&mut self, batch: &[Record]) -> Written {
        Written {
            ok: batch.len() as u64,
            failed: 0,
        }
    }
}

/// Builder of `none` and `fake`.
pub fn build_discard(_: &Write, _: &mut StageContext<'_>) -> Result<Box<dyn Writer>, BuildError> {
    Ok(Box::new(Discard))
}
