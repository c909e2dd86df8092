//! The `FlowCollector` custom resource as served under `flows.netobserv.io/v1beta1`.
//!
//! This version is deprecated: the API server keeps serving it, but every object is stored as
//! v1beta2 and converted on the fly (see [`super::conversion`]). Compared with v1beta2, enum values
//! are spelled in UPPER_CASE, the Loki client has a single flat "manual" configuration, and the
//! tuning knobs that v1beta2 groups under `advanced` sit directly in each section.
//!
//! The conventions are those of [`crate::v1beta2::common`]: every struct deserialises missing
//! fields to the v1beta1 CRD defaults, and fields without a CRD default are `Option`s or are left
//! out of the JSON when empty.
//!
//! One submodule per spec section (the same layout as [`crate::v1beta2`]); everything is
//! re-exported here, so the public paths are `v1beta1::types::X` (and `v1beta1::X`) whatever file
//! a type lives in.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub use crate::v1beta2::common::{CertificateReference, ClientTls, FileReference, MountableType};

mod agent;
mod common;
mod console;
mod exporters;
mod flowcollector;
mod loki;
mod processor;
mod prometheus;

pub use agent::*;
pub use common::*;
pub use console::*;
pub use exporters::*;
pub use flowcollector::*;
pub use loki::*;
pub use processor::*;
pub use prometheus::*;

/// The tags that v1beta1 ignored by default in `spec.processor.metrics.ignoreTags`.
pub const DEFAULT_IGNORE_TAGS: [&str; 6] = [
    "egress",
    "packets",
    "nodes-flows",
    "namespaces-flows",
    "workloads-flows",
    "namespaces",
];

/// Container resources in the v1beta1 default layout (memory and CPU requests, memory limit),
/// shared by the agent, processor and console plugin defaults so they are spelled one way.
fn resources(request_memory: &str, request_cpu: &str, limit_memory: &str) -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("memory".to_string(), Quantity(request_memory.to_string())),
            ("cpu".to_string(), Quantity(request_cpu.to_string())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity(limit_memory.to_string()),
        )])),
        ..ResourceRequirements::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Sub-types whose JSON is the same in v1beta2. Some of their enums accept a few values that only
// v1beta2 documents (agent features, metric names, alert names): a v1beta2 object read through
// v1beta1 must be accepted when it is written back unchanged.
// ---------------------------------------------------------------------------------------------

pub use crate::v1beta2::{
    AgentFeature, ClusterNetworkOperatorConfig, ConsolePluginPortConfig, EbpfAgentAlert,
    EbpfFilterAction, EbpfFilterDirection, EbpfFilterProtocol, EbpfFlowFilter, EbpfFlowFilterRule,
    EbpfTcpFlags, FlowCollectorIpfix, FlpDeduper, FlpDeduperMode, FlpFilterSet, FlpFilterTarget,
    FlpMetric, HealthRuleTemplate, ImagePullPolicy, IpfixTransport, LogLevel, OvnKubernetesConfig,
    QuickFilter,
};
