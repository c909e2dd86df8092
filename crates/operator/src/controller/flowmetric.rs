//! FlowMetric status: which metric name Prometheus shows, whether the metric is in use, and how
//! many series its labels may create. `kubectl get flowmetrics` prints these three as columns;
//! without them a user cannot tell a working metric from an ignored one.

use crate::render::metrics::metric_name;
use crate::webhook::check_flowmetric;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use netobserv_api::v1alpha1::{Cardinality, FlowMetric, FlowMetricStatus};
use tracing::warn;

/// Prefix the pipeline's Prometheus encoder puts before every metric name.
pub const METRIC_PREFIX: &str = "netobserv_";

fn condition(type_: &str, status: bool, reason: &str, message: String, now: &Time) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        last_transition_time: now.clone(),
        observed_generation: None,
    }
}

/// The status a FlowMetric should have. `namespace` is the FlowCollector's (only FlowMetrics
/// there are used) and `collector_valid` whether the FlowCollector's configuration is applied.
pub fn desired_status(
    fm: &FlowMetric,
    namespace: &str,
    collector_valid: bool,
    now: &Time,
) -> FlowMetricStatus {
    let errors = check_flowmetric(fm);
    let ready = if fm.namespace().as_deref() != Some(namespace) {
        condition(
            "Ready",
            false,
            "Failure",
            format!(
                "ignored: only FlowMetrics in namespace `{namespace}` (the FlowCollector's spec.namespace) are used"
            ),
            now,
        )
    } else if !errors.is_empty() {
        condition("Ready", false, "Failure", errors.join("; "), now)
    } else if !collector_valid {
        condition(
            "Ready",
            false,
            "Failure",
            "the FlowCollector has configuration errors, so the pipeline's metrics are not updated"
                .to_string(),
            now,
        )
    } else {
        condition(
            "Ready",
            true,
            "Ready",
            "served by the flowlogs-pipeline".to_string(),
            now,
        )
    };
    let class = fm.spec.cardinality();
    let risky: Vec<String> = fm
        .spec
        .risky_labels()
        .into_iter()
        .map(|(field, c)| format!("{field} ({c})"))
        .collect();
    let cardinality = condition(
        "CardinalityWarning",
        class != Cardinality::Fine,
        class.as_str(),
        if risky.is_empty() {
            "every label has a small, bounded set of values".to_string()
        } else {
            format!(
                "labels that multiply the number of series: {}",
                risky.join(", ")
            )
        },
        now,
    );
    let mut obs = ready;
    obs.observed_generation = fm.metadata.generation;
    let mut card = cardinality;
    card.observed_generation = fm.metadata.generation;
    FlowMetricStatus {
        conditions: vec![obs, card],
        prometheus_name: format!("{METRIC_PREFIX}{}", metric_name(fm)),
    }
}

/// Keeps the transition time of conditions whose status and reason did not change, so that an
/// unchanged FlowMetric gets no status write.
fn keep_transition_times(new: &mut FlowMetricStatus, old: Option<&FlowMetricStatus>) {
    let Some(old) = old else { return };
    for c in &mut new.conditions {
        if let Some(prev) = old.conditions.iter().find(|p| p.type_ == c.type_)
            && prev.status == c.status
            && prev.reason == c.reason
        {
            c.last_transition_time = prev.last_transition_time.clone();
        }
    }
}

/// Writes the status of every FlowMetric whose status changed.
pub async fn write_statuses(
    client: &Client,
    flow_metrics: &[FlowMetric],
    namespace: &str,
    collector_valid: bool,
) {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    for fm in flow_metrics {
        let mut status = desired_status(fm, namespace, collector_valid, &now);
        keep_transition_times(&mut status, fm.status.as_ref());
        if fm.status.as_ref() == Some(&status) {
            continue;
        }
        let Some(ns) = fm.namespace() else { continue };
        let patch = serde_json::json!({"status": status});
        if let Err(e) = Api::<FlowMetric>::namespaced(client.clone(), &ns)
            .patch_status(
                &fm.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            warn!(flowmetric = %format!("{ns}/{}", fm.name_any()), error = %e, "cannot write the FlowMetric status");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netobserv_api::v1alpha1::FlowMetricSpec;

    fn fm(ns: &str, labels: &[&str]) -> FlowMetric {
        let mut fm = FlowMetric::new(
            "bytes-by-ns",
            FlowMetricSpec {
                labels: labels.iter().map(|s| (*s).to_string()).collect(),
                ..FlowMetricSpec::default()
            },
        );
        fm.metadata.namespace = Some(ns.to_string());
        fm
    }

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn a_used_metric_is_ready_with_its_prometheus_name() {
        let s = desired_status(
            &fm("netobserv", &["SrcK8S_Namespace"]),
            "netobserv",
            true,
            &now(),
        );
        assert_eq!(s.prometheus_name, "netobserv_bytes_by_ns");
        assert_eq!(
            (
                s.conditions[0].status.as_str(),
                s.conditions[0].reason.as_str()
            ),
            ("True", "Ready")
        );
        assert_eq!(
            (
                s.conditions[1].status.as_str(),
                s.conditions[1].reason.as_str()
            ),
            ("False", "Fine")
        );
    }

    #[test]
    fn other_namespaces_and_risky_labels_are_flagged() {
        let s = desired_status(&fm("default", &["SrcAddr"]), "netobserv", true, &now());
        assert_eq!(s.conditions[0].reason, "Failure");
        assert!(
            s.conditions[0].message.contains("netobserv"),
            "{}",
            s.conditions[0].message
        );
        assert_eq!(
            (
                s.conditions[1].status.as_str(),
                s.conditions[1].reason.as_str()
            ),
            ("True", "Avoid")
        );
        assert!(s.conditions[1].message.contains("SrcAddr"));
    }
}
