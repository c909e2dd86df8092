//! The node agent: loads and attaches the eBPF programs, evicts flows from kernel maps and exports
//! them as `pbflow` records over gRPC, with Prometheus metrics and a `/status` page.
//! [`udn`] tags flows' interfaces with their OVN-Kubernetes user-defined network.
//!
//! One module per hook feature ([`rtt`], [`drops`], [`dns`], [`xlat`], [`netevents::kernel`],
//! [`flowcache`], [`overflow`]), each with its settings before load, its attach (with fallbacks)
//! and the drain of its map, mirroring one kernel module per feature in `crates/agent-ebpf`.
//! [`hooks`] holds what they share and imports none of them; [`tracer`] loads the object and
//! calls each feature; [`flowmaps`] holds their maps for eviction. Packet capture
//! (`ENABLE_PCA=true`, [`capture`]) is the agent's other mode: its classifiers replace the flow
//! classifiers and packets go to a `pbpacket` collector instead of flows.

pub mod agent;
mod attacher;
pub mod btf;
pub mod capture;
pub mod classifiers;
pub mod config;
pub mod conntrack;
pub mod convert;
pub mod dns;
pub mod drops;
pub mod error;
mod evict;
pub mod exporter;
pub mod filter;
pub mod flowcache;
pub mod flowmaps;
pub mod hooks;
pub mod ifaces;
pub mod ipsec;
pub mod kcounters;
pub mod losses;
pub mod mapmem;
pub mod metrics;
pub mod netevents;
pub mod netns;
pub mod nswatch;
mod object;
pub mod overflow;
pub(crate) mod quic;
pub mod rtt;
mod status;
mod sys;
pub(crate) mod tls;
pub mod tracer;
pub mod udn;
pub mod xlat;

pub use agent::{Agent, AgentError};
pub use config::Config;

/// Locks `m`, taking the data of a poisoned lock as it is (a panicking holder leaves nothing
/// half-written that the agent's users of these locks could trip on).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
