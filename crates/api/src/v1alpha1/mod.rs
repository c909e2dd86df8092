//! `flows.netobserv.io/v1alpha1`: the `FlowMetric` custom resource.

pub mod flowmetric;

pub use flowmetric::*;
