//! FlowCollector validation shared by the admission webhook and the operator's status.
//!
//! The CRD schema already rejects wrong types, enums and ranges; this module checks what a schema
//! cannot: relations between fields (ports vs sourcePorts, log types vs Loki), parsing of embedded
//! languages (CIDRs, port strings, the flow filter query language, health-rule thresholds), and
//! facts only the cluster knows (OpenShift version, node count, CNI). Errors make the webhook
//! reject the object and set `ConfigurationIssue=True/Error`; warnings are returned to `kubectl`
//! and shown in the same condition.

mod agent;
mod cluster;
mod processor;

use crate::v1beta2::FlowCollector;
use std::collections::BTreeSet;
use std::fmt;

pub use cluster::{Cni, OpenShiftVersion, Platform};

/// One finding, with the spec path it is about so a user knows where to look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    /// Dotted path of the offending field (`spec.agent.ebpf.flowFilter.rules[2].ports`), or empty
    /// for findings about the whole object or the cluster.
    pub path: String,
    /// What is wrong and, when it helps, what to do.
    pub message: String,
}

impl Issue {
    /// An issue about `path` (empty for the whole object).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Result of [`validate`]: errors reject the object, warnings are advice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Problems that make the configuration unusable.
    pub errors: Vec<Issue>,
    /// Settings that work but are probably not what the user wants, or that cannot be checked.
    pub warnings: Vec<Issue>,
}

impl Report {
    /// True when there is nothing to reject.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Warnings as the admission webhook returns them (one string each).
    pub fn warning_messages(&self) -> Vec<String> {
        self.warnings.iter().map(ToString::to_string).collect()
    }

    /// Errors joined the way the webhook's denial and the `ConfigurationIssue` condition show
    /// them.
    pub fn error_message(&self) -> String {
        join(&self.errors)
    }

    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Issue::new(path, message));
    }

    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Issue::new(path, message));
    }
}

/// Joins issues with "; ", as the `ConfigurationIssue` condition message does.
pub fn join(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What only the cluster knows. The webhook and the operator fill it from discovery; tests build
/// it by hand. `ClusterFacts::default()` means nothing is known, which turns the cluster-dependent
/// checks into "cannot validate" warnings instead of guesses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterFacts {
    /// Kubernetes distribution, with the OpenShift version when there is one.
    pub platform: Platform,
    /// Number of nodes, when it could be read.
    pub node_count: Option<u32>,
    /// The cluster network plugin, when it could be detected.
    pub cni: Option<Cni>,
    /// API group/version/kinds the cluster serves (`monitoring.coreos.com/v1/ServiceMonitor`),
    /// for checks that depend on optional APIs.
    pub available_apis: BTreeSet<String>,
}

/// Validates a FlowCollector against itself and the cluster it is applied to.
pub fn validate(fc: &FlowCollector, facts: &ClusterFacts) -> Report {
    let mut report = Report::default();
    if fc.metadata.name.as_deref() != Some(crate::crd::FLOWCOLLECTOR_NAME) {
        report.warn(
            "metadata.name",
            format!(
                "only the FlowCollector named `{}` is reconciled; this one is ignored",
                crate::crd::FLOWCOLLECTOR_NAME
            ),
        );
    }
    let spec = &fc.spec;
    cluster::check(spec, facts, &mut report);
    agent::check(spec, facts, &mut report);
    processor::check(spec, &mut report);
    report
}
