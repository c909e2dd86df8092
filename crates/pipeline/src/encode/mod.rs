//! Encoders: turn records into another representation: `prom` (metrics for `/metrics`), and
//! `otlplogs` / `otlpmetrics` (records and metrics pushed to an OpenTelemetry receiver).

pub mod kafka;
pub mod otlp;
pub mod prom;

pub use prom::PromEncoder;

use crate::record::Record;
use std::sync::{Arc, Mutex};

/// An encode stage ready to run: reads each batch (a stage after it gets the same batch).
pub trait Encoder: Send {
    /// Encodes a batch.
    fn encode(&mut self, batch: &[Record]);

    /// The Prometheus encoder the `/metrics` endpoint renders, for encoders that expose one. A
    /// reload keeps this handle and swaps what it holds, so the endpoint follows.
    fn exposition(&self) -> Option<Arc<Mutex<PromEncoder>>> {
        None
    }

    /// The background delivery counters, for encoders that send somewhere (OTLP).
    fn delivery(&self) -> Option<Arc<crate::write::DeliveryStats>> {
        None
    }
}
