//! The NetObserv operator: turns the `cluster` FlowCollector into the agent, pipeline and console
//! workloads, and reports their health back in the FlowCollector status.
//!
//! The crate is split the kube-rs `controller-rs` way so that most of it is testable without a
//! cluster:
//! - [`render`] holds pure functions from `(FlowCollector, ClusterFacts, Images, FlowMetrics)` to
//!   the full desired object set; golden tests pin their output;
//! - [`controller`] applies that set with server-side apply, prunes what is no longer desired and
//!   writes the status;
//! - [`images`] reads the operand images from the `RELATED_IMAGE_*` environment;
//! - [`webhook`] serves the FlowCollector/FlowMetric validation and the v1beta1 ↔ v1beta2
//!   conversion over HTTPS;
//! - [`leader`] holds the Lease-based leader election, [`metrics`] the operator's own metrics.

pub mod controller;
pub mod error;
pub mod images;
pub mod leader;
pub mod metrics;
pub mod render;
pub mod webhook;

pub use error::Error;
pub use images::Images;
