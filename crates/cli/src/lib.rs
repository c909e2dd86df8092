//! `kubectl-netobserv` (also installed as `oc-netobserv`): on-demand flow, packet and metric
//! capture. The command line ([`options`]), the objects it deploys ([`render`]), the collector
//! that receives and writes the capture ([`collector`]), and the cluster side ([`cluster`]).

pub mod cluster;
pub mod collector;
pub mod live;
pub mod metrics;
pub mod options;
pub mod render;
pub mod subnets;
pub mod target;
pub mod transfer;
pub mod tui;
