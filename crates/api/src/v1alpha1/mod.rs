//! `flows.netobserv.io/v1alpha1`: the `FlowMetric` custom resource.

pub mod cardinality;
pub mod flowmetric;

pub use cardinality::Cardinality;
pub use flowmetric::*;
