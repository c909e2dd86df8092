//! `flows.netobserv.io/v1beta2`: the stored FlowCollector version.

pub mod agent;
pub mod common;
pub mod console;
pub mod effective;
pub mod exporters;
pub mod flowcollector;
pub mod loki;
pub mod processor;
pub mod status;

pub use agent::*;
pub use common::*;
pub use console::*;
pub use exporters::*;
pub use flowcollector::*;
pub use loki::*;
pub use processor::*;
pub use status::*;
