//! Extract stages: per-batch computations whose outputs are new records (aggregates so far).

pub mod aggregates;

pub use aggregates::Aggregates;

use crate::record::Record;

/// An extract stage ready to run: reads a batch, emits the records it derives from it.
pub trait Extractor: Send {
    /// The records derived from `batch` (and from what came before).
    fn extract(&mut self, batch: &[Record]) -> Vec<Record>;
}
