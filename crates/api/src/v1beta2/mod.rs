//! `flows.netobserv.io/v1beta2`: the stored FlowCollector version.

pub mod common;

pub use common::*;
