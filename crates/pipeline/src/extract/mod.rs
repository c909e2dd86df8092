//! Extract stages: computations whose outputs are new records (aggregates, conversation
//! tracking).

pub mod aggregates;
pub mod conntrack;

pub use aggregates::Aggregates;
pub use conntrack::Conntrack;

use crate::record::Record;
use std::time::Duration;

/// An extract stage ready to run: reads a batch, emits the records it derives from it.
pub trait Extractor: Send {
    /// The records derived from `batch` (and from what came before).
    fn extract(&mut self, batch: &[Record]) -> Vec<Record>;

    /// Whether the stage wants its input by value ([`Self::extract_owned`]): a stage that passes
    /// input records on (conntrack's `flowLog`) then moves them instead of cloning each one.
    fn takes_input(&self) -> bool {
        false
    }

    /// [`Self::extract`] on a batch the stage may keep; only called when
    /// [`Self::takes_input`] is true.
    fn extract_owned(&mut self, batch: Vec<Record>) -> Vec<Record> {
        self.extract(&batch)
    }

    /// How often the stage needs [`Self::tick`] while no batch arrives, if ever: stages with
    /// timeouts (conversation ends, heartbeats) must emit records even when the input is idle.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// The records due because time passed (no input); called about every
    /// [`Self::tick_interval`] while the input is idle.
    fn tick(&mut self) -> Vec<Record> {
        Vec::new()
    }
}
