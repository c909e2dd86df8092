//! Checks that depend on the cluster: deployment model vs node count, network policies vs CNI,
//! features vs OpenShift version.

use super::{ClusterFacts, Report};
use crate::v1beta2::{AgentFeature, DeploymentModel, FlowCollectorSpec};
use std::fmt;
use std::str::FromStr;

/// Node count from which the Direct model (one processor per node) costs more than it saves.
pub const DIRECT_MODEL_MAX_NODES: u32 = 15;

/// Which Kubernetes distribution the operator runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Platform {
    /// Discovery has not run or failed.
    #[default]
    Unknown,
    /// Plain Kubernetes (no OpenShift APIs).
    Kubernetes,
    /// OpenShift, with its version when ClusterVersion could be read.
    OpenShift(Option<OpenShiftVersion>),
}

/// Cluster network plugin, as named by the OpenShift network config (or detected otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cni {
    /// OVN-Kubernetes: network policies are supported and tested.
    OvnKubernetes,
    /// OpenShift SDN: the operator cannot deploy network policies there.
    OpenShiftSdn,
    /// kind's network plugin.
    Kindnet,
    /// Detected, but not one NetObserv knows.
    Other(String),
    /// Detection ran and found nothing.
    Unknown,
}

/// An `x.y.z` OpenShift version, ordered numerically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OpenShiftVersion {
    /// Major version (4).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl OpenShiftVersion {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for OpenShiftVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Error for a version string that is not `x[.y[.z]]` with optional pre-release suffix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an OpenShift version (expected x.y.z)")]
pub struct VersionParseError(String);

impl FromStr for OpenShiftVersion {
    type Err = VersionParseError;

    /// Parses `4.19.3`, `4.19` or `4.19.0-rc.2` (the pre-release part is ignored, as the feature
    /// gates only look at x.y.z).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let core = s.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.');
        let mut next = |required: bool| -> Result<u32, VersionParseError> {
            match parts.next() {
                Some(p) => p.parse().map_err(|_| VersionParseError(s.to_string())),
                None if required => Err(VersionParseError(s.to_string())),
                None => Ok(0),
            }
        };
        let version = Self::new(next(true)?, next(false)?, next(false)?);
        if parts.next().is_some() {
            return Err(VersionParseError(s.to_string()));
        }
        Ok(version)
    }
}

/// Minimum OpenShift version of each agent feature that needs one (reference §1.9).
pub const FEATURE_MIN_OPENSHIFT: &[(AgentFeature, OpenShiftVersion)] = &[
    (AgentFeature::PacketDrop, OpenShiftVersion::new(4, 14, 0)),
    (AgentFeature::UdnMapping, OpenShiftVersion::new(4, 18, 0)),
    (AgentFeature::NetworkEvents, OpenShiftVersion::new(4, 19, 0)),
    (AgentFeature::EbpfManager, OpenShiftVersion::new(4, 19, 0)),
];

pub(super) fn check(spec: &FlowCollectorSpec, facts: &ClusterFacts, report: &mut Report) {
    check_deployment_model(spec, facts, report);
    check_network_policy(spec, facts, report);
    check_feature_versions(spec, facts, report);
}

fn check_deployment_model(spec: &FlowCollectorSpec, facts: &ClusterFacts, report: &mut Report) {
    if spec.deployment_model != DeploymentModel::Direct {
        return;
    }
    match facts.node_count {
        None => report.warn(
            "spec.deploymentModel",
            "unknown environment: the node count is not known, so the Direct deployment model cannot be checked",
        ),
        Some(n) if n >= DIRECT_MODEL_MAX_NODES => report.warn(
            "spec.deploymentModel",
            format!(
                "the Direct model runs one processor per node; with {n} nodes (>= {DIRECT_MODEL_MAX_NODES}) it uses far more memory and bandwidth than needed: use Service or Kafka"
            ),
        ),
        Some(_) => {}
    }
}

fn check_network_policy(spec: &FlowCollectorSpec, facts: &ClusterFacts, report: &mut Report) {
    let path = "spec.networkPolicy.enable";
    let explicitly_on = spec.network_policy.enable == Some(true);
    match &facts.cni {
        None => report.warn(
            path,
            "unknown environment: the CNI could not be detected, so network policy support cannot be checked",
        ),
        Some(Cni::OpenShiftSdn) if explicitly_on => report.warn(
            path,
            "OpenShiftSDN does not support the network policies NetObserv deploys; the setting is ignored (set it to false to silence this warning)",
        ),
        Some(Cni::Unknown) | Some(Cni::Other(_)) if explicitly_on => report.warn(
            path,
            "network policies are enabled on an unrecognised CNI where they have not been tested (set it to false to silence this warning)",
        ),
        Some(_) => {}
    }
}

fn check_feature_versions(spec: &FlowCollectorSpec, facts: &ClusterFacts, report: &mut Report) {
    let features = &spec.agent.ebpf.features;
    for (feature, min) in FEATURE_MIN_OPENSHIFT {
        if !features.contains(feature) {
            continue;
        }
        let name = feature_name(*feature);
        match &facts.platform {
            Platform::Kubernetes => {}
            Platform::Unknown => report.warn(
                "spec.agent.ebpf.features",
                format!("unknown environment: cannot tell whether the {name} feature is supported"),
            ),
            Platform::OpenShift(None) => report.warn(
                "spec.agent.ebpf.features",
                format!("the OpenShift version could not be read: cannot tell whether the {name} feature (OpenShift {min} or later) is supported"),
            ),
            Platform::OpenShift(Some(actual)) if actual < min => report.warn(
                "spec.agent.ebpf.features",
                format!("the {name} feature needs OpenShift {min} or later; this cluster runs {actual}"),
            ),
            Platform::OpenShift(Some(_)) => {}
        }
    }
}

/// The feature's name as written in the CRD.
pub(super) fn feature_name(feature: AgentFeature) -> String {
    serde_json::to_value(feature)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{feature:?}"))
}
