//! The node agent: loads and attaches the eBPF programs, evicts flows from kernel maps and exports
//! them as `pbflow` records over gRPC, with Prometheus metrics and a `/status` page.

pub mod agent;
pub mod btf;
pub mod config;
pub mod conntrack;
pub mod convert;
mod evict;
pub mod exporter;
pub mod filter;
pub mod flowcache;
pub mod flowmaps;
pub mod ifaces;
mod load;
pub mod losses;
pub mod mapmem;
pub mod metrics;
pub mod netevents;
pub mod netns;
pub mod nswatch;
pub mod overflow;
mod sys;
pub mod tracer;
pub mod xlat;

pub use agent::{Agent, AgentError};
pub use config::Config;
