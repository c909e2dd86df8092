//! Extract stages: per-batch computations whose outputs are new records (aggregates so far).

pub mod aggregates;

pub use aggregates::Aggregates;
