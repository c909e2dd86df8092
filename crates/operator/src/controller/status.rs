//! Status computation, kept pure: from what was read back (workloads, pods, validation report) to
//! the FlowCollector status. The reconciler only patches when the result differs from the current
//! status, so an idle operator writes nothing.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use netobserv_api::v1beta2::{
    ComponentState, FlowCollectorComponentStatus, FlowCollectorComponentsStatus,
    FlowCollectorIntegrationsStatus, FlowCollectorStatus,
};
use netobserv_api::validate::Report;
use std::collections::BTreeMap;

/// What a component's workload looks like in the cluster.
#[derive(Clone, Debug, Default)]
pub enum Workload {
    /// The current configuration does not deploy this component.
    #[default]
    Unused,
    /// Desired but not found (just applied, or apply failed).
    Missing(&'static str),
    /// A DaemonSet.
    DaemonSet(Box<DaemonSet>),
    /// A Deployment.
    Deployment(Box<Deployment>),
}

/// Everything read back for one component.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The workload.
    pub workload: Workload,
    /// Its pods.
    pub pods: Vec<Pod>,
}

/// Pod problems worth reporting: CrashLoopBackOff, ImagePullError, OOMKilled.
pub fn pod_issues(pods: &[Pod]) -> (i32, String) {
    let mut by_issue: BTreeMap<&'static str, (i32, String)> = BTreeMap::new();
    for pod in pods {
        let statuses = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default();
        let mut issue: Option<(&'static str, String)> = None;
        for cs in &statuses {
            let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
            let last_term = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            let reason = waiting.and_then(|w| w.reason.clone()).unwrap_or_default();
            let message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
            if last_term.and_then(|t| t.reason.as_deref()) == Some("OOMKilled") {
                issue = Some(("OOMKilled", message));
            } else if reason == "CrashLoopBackOff" {
                let msg = last_term.and_then(|t| t.message.clone()).unwrap_or(message);
                issue = Some(("CrashLoopBackOff", msg));
            } else if matches!(
                reason.as_str(),
                "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName"
            ) {
                issue = Some(("ImagePullError", message));
            }
            if issue.is_some() {
                break;
            }
        }
        if let Some((kind, msg)) = issue {
            let entry = by_issue.entry(kind).or_default();
            entry.0 += 1;
            if entry.1.is_empty() {
                entry.1 = msg;
            }
        }
    }
    let count = by_issue.values().map(|(n, _)| n).sum();
    let text = by_issue
        .iter()
        .map(|(kind, (n, msg))| {
            let pods = if *n == 1 { "pod" } else { "pods" };
            if msg.is_empty() {
                format!("{n} {pods} {kind}")
            } else {
                format!("{n} {pods} {kind}: {msg}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    (count, text)
}

/// Status of one component.
pub fn component(observed: &Observed) -> FlowCollectorComponentStatus {
    let (desired, ready, kind) = match &observed.workload {
        Workload::Unused => {
            return FlowCollectorComponentStatus {
                state: Some(ComponentState::Unused),
                reason: "ComponentUnused".to_string(),
                ..Default::default()
            };
        }
        Workload::Missing(kind) => {
            return FlowCollectorComponentStatus {
                state: Some(ComponentState::InProgress),
                reason: format!("{kind}NotCreated"),
                message: format!("{kind} not created yet"),
                ..Default::default()
            };
        }
        Workload::DaemonSet(ds) => {
            let s = ds.status.clone().unwrap_or_default();
            (s.desired_number_scheduled, s.number_ready, "DaemonSet")
        }
        Workload::Deployment(d) => {
            let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let ready = d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            (desired, ready, "Deployment")
        }
    };
    let (unhealthy, issues) = pod_issues(&observed.pods);
    let mut status = FlowCollectorComponentStatus {
        desired_replicas: Some(desired),
        ready_replicas: Some(ready),
        unhealthy_pod_count: (unhealthy > 0).then_some(unhealthy),
        pod_issues: issues.clone(),
        ..Default::default()
    };
    if unhealthy > 0 {
        status.state = Some(ComponentState::Degraded);
        status.reason = "PodIssues".to_string();
        status.message = issues;
    } else if ready < desired {
        status.state = Some(ComponentState::InProgress);
        status.reason = format!("{kind}NotReady");
        status.message = format!("{ready} of {desired} replicas ready");
    } else {
        status.state = Some(ComponentState::Ready);
        status.reason = "Ready".to_string();
    }
    status
}

/// Observations of the three components.
#[derive(Clone, Debug, Default)]
pub struct ComponentsObserved {
    /// eBPF agent.
    pub agent: Observed,
    /// Processor (monolith or transformer).
    pub processor: Observed,
    /// Console plugin.
    pub plugin: Observed,
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        observed_generation: generation,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    }
}

fn waiting(
    type_: &str,
    c: Option<&FlowCollectorComponentStatus>,
    generation: Option<i64>,
) -> Condition {
    let state = c.and_then(|c| c.state).unwrap_or_default();
    let reason = c.map(|c| c.reason.as_str()).unwrap_or_default();
    let message = c.map(|c| c.message.as_str()).unwrap_or_default();
    match state {
        ComponentState::Ready => condition(type_, "False", "Ready", "", generation),
        ComponentState::Unused => condition(type_, "Unknown", "Unused", "", generation),
        ComponentState::Unknown => condition(type_, "Unknown", "Unknown", message, generation),
        _ => condition(
            type_,
            "True",
            if reason.is_empty() {
                "NotReady"
            } else {
                reason
            },
            message,
            generation,
        ),
    }
}

/// The new status. `transformer` says whether the processor is the Kafka transformer (it picks
/// the `WaitingFLPTransformer` condition over `WaitingFLPMonolith`). `components` is None when nothing was applied (invalid configuration): the
/// previous component statuses are then kept. Transition times are carried over from `previous`
/// for conditions that did not change, so that an unchanged world gives an identical status.
pub fn compute(
    previous: Option<&FlowCollectorStatus>,
    report: &Report,
    components: Option<FlowCollectorComponentsStatus>,
    transformer: bool,
    generation: Option<i64>,
    now: Time,
) -> FlowCollectorStatus {
    let components = components.or_else(|| previous.and_then(|p| p.components.clone()));
    let c = components.clone().unwrap_or_default();
    let mut conditions = Vec::new();
    let all = [c.agent.as_ref(), c.processor.as_ref(), c.plugin.as_ref()];
    let count = |s: ComponentState| {
        all.iter()
            .filter(|c| c.and_then(|c| c.state) == Some(s))
            .count()
    };
    let (ready, failed, pending, degraded) = (
        count(ComponentState::Ready),
        count(ComponentState::Failure),
        count(ComponentState::InProgress),
        count(ComponentState::Degraded),
    );
    let message = format!(
        "{ready} ready components, {failed} with failure, {pending} pending, {degraded} degraded"
    );
    let ready_cond = if !report.is_valid() {
        condition(
            "Ready",
            "False",
            "ConfigurationIssue",
            &report.error_message(),
            generation,
        )
    } else if failed > 0 {
        condition("Ready", "False", "Failure", &message, generation)
    } else if pending > 0 {
        condition("Ready", "False", "Pending", &message, generation)
    } else if degraded > 0 {
        condition("Ready", "True", "Ready,Degraded", &message, generation)
    } else {
        condition("Ready", "True", "Ready", &message, generation)
    };
    conditions.push(ready_cond);
    conditions.push(waiting("WaitingEBPFAgents", c.agent.as_ref(), generation));
    let unused = FlowCollectorComponentStatus {
        state: Some(ComponentState::Unused),
        ..Default::default()
    };
    let (monolith, transfo) = if transformer {
        (Some(&unused), c.processor.as_ref())
    } else {
        (c.processor.as_ref(), Some(&unused))
    };
    conditions.push(waiting("WaitingFLPMonolith", monolith, generation));
    conditions.push(waiting("WaitingFLPTransformer", transfo, generation));
    conditions.push(waiting("WaitingWebConsole", c.plugin.as_ref(), generation));
    if transformer {
        // Kafka health as seen from the pipeline consumer and the agents (which produce).
        let agent_kafka = c
            .agent
            .as_ref()
            .is_some_and(|a| a.pod_issues.to_ascii_lowercase().contains("kafka"));
        let processor_state = c.processor.as_ref().and_then(|p| p.state);
        conditions.push(match processor_state {
            Some(ComponentState::Failure | ComponentState::Degraded) => condition(
                "KafkaReady",
                "False",
                "KafkaIssue",
                c.processor
                    .as_ref()
                    .map(|p| p.message.as_str())
                    .unwrap_or_default(),
                generation,
            ),
            _ if agent_kafka => condition(
                "KafkaReady",
                "False",
                "KafkaIssue",
                c.agent
                    .as_ref()
                    .map(|a| a.pod_issues.as_str())
                    .unwrap_or_default(),
                generation,
            ),
            Some(ComponentState::Ready) => condition("KafkaReady", "True", "Ready", "", generation),
            _ => condition("KafkaReady", "False", "KafkaPending", "", generation),
        });
    }
    conditions.push(if !report.errors.is_empty() {
        condition(
            "ConfigurationIssue",
            "True",
            "Error",
            &report.error_message(),
            generation,
        )
    } else if !report.warnings.is_empty() {
        condition(
            "ConfigurationIssue",
            "True",
            "Warnings",
            &netobserv_api::validate::join(&report.warnings),
            generation,
        )
    } else {
        condition("ConfigurationIssue", "False", "Valid", "", generation)
    });
    for cond in &mut conditions {
        let same = previous.and_then(|p| {
            p.conditions.iter().find(|old| {
                old.type_ == cond.type_
                    && old.status == cond.status
                    && old.reason == cond.reason
                    && old.message == cond.message
            })
        });
        cond.last_transition_time =
            same.map_or_else(|| now.clone(), |old| old.last_transition_time.clone());
    }
    FlowCollectorStatus {
        conditions,
        namespace: previous.map(|p| p.namespace.clone()).unwrap_or_default(),
        components,
        integrations: previous.and_then(|p| p.integrations.clone()),
    }
}

/// Component statuses from the observations.
pub fn components(observed: &ComponentsObserved) -> FlowCollectorComponentsStatus {
    FlowCollectorComponentsStatus {
        agent: Some(component(&observed.agent)),
        processor: Some(component(&observed.processor)),
        plugin: Some(component(&observed.plugin)),
    }
}

/// Status of the integrations, from what discovery knows: the Prometheus Operator APIs for
/// monitoring, the LokiStack API in LokiStack mode, and one entry per exporter (their endpoints
/// are not probed, so their state stays `Unknown`).
pub fn integrations(
    spec: &netobserv_api::v1beta2::FlowCollectorSpec,
    facts: &netobserv_api::validate::ClusterFacts,
) -> FlowCollectorIntegrationsStatus {
    use crate::render::{API_LOKISTACK, API_PROMETHEUS_RULE, API_SERVICE_MONITOR};
    use netobserv_api::v1beta2::{ExporterType, LokiMode};
    let has = |api: &str| facts.available_apis.contains(api);
    let state = |state, reason: &str, message: &str| FlowCollectorComponentStatus {
        state: Some(state),
        reason: reason.to_string(),
        message: message.to_string(),
        ..Default::default()
    };
    let loki = if !spec.use_loki() {
        state(ComponentState::Unused, "LokiDisabled", "")
    } else if spec.loki.mode == LokiMode::LokiStack && !has(API_LOKISTACK) {
        state(
            ComponentState::Failure,
            "LokiStackAPIMissing",
            "loki.mode is LokiStack but the cluster does not serve lokistacks.loki.grafana.com: install the Loki Operator",
        )
    } else {
        state(ComponentState::Unknown, "NotChecked", "")
    };
    let monitoring = if has(API_SERVICE_MONITOR) && has(API_PROMETHEUS_RULE) {
        state(ComponentState::Ready, "Ready", "")
    } else {
        state(
            ComponentState::Unused,
            "PrometheusOperatorAPIMissing",
            "no ServiceMonitor/PrometheusRule API: metrics are served but not scraped or alerted on by the operator's rules",
        )
    };
    let exporters = spec
        .exporters
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (prefix, kind) = match e.kind {
                ExporterType::Kafka => ("kafka-export", "Kafka"),
                ExporterType::Ipfix => ("ipfix-export", "IPFIX"),
                ExporterType::OpenTelemetry => ("otel-export", "OpenTelemetry"),
            };
            netobserv_api::v1beta2::FlowCollectorExporterStatus {
                name: format!("{prefix}-{i}"),
                kind: kind.to_string(),
                state: Some(ComponentState::Unknown),
                reason: "NotChecked".to_string(),
                message: String::new(),
            }
        })
        .collect();
    FlowCollectorIntegrationsStatus {
        loki: Some(loki),
        monitoring: Some(monitoring),
        exporters,
    }
}

/// Whether anything is still rolling out or unhealthy (the reconciler then requeues quickly).
pub fn in_progress(status: &FlowCollectorStatus) -> bool {
    status.components.as_ref().is_some_and(|c| {
        [&c.agent, &c.processor, &c.plugin].iter().any(|x| {
            matches!(
                x.as_ref().and_then(|x| x.state),
                Some(ComponentState::InProgress | ComponentState::Degraded)
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DaemonSetStatus, DeploymentSpec, DeploymentStatus};
    use netobserv_api::validate::Issue;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": status})).expect("pod")
    }

    #[test]
    fn classifies_pod_issues() {
        let pods = vec![
            pod(
                json!({"containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": "panic: boom"}}}]}),
            ),
            pod(
                json!({"containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}]}),
            ),
            pod(
                json!({"containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true, "restartCount": 1,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}),
            ),
            pod(
                json!({"containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true, "restartCount": 0,
                "state": {"running": {}}}]}),
            ),
        ];
        let (count, text) = pod_issues(&pods);
        assert_eq!(count, 3);
        assert_eq!(
            text,
            "1 pod CrashLoopBackOff: panic: boom; 1 pod ImagePullError: not found; 1 pod OOMKilled"
        );
    }

    #[test]
    fn component_states() {
        let ds = |desired, ready| Observed {
            workload: Workload::DaemonSet(Box::new(DaemonSet {
                status: Some(DaemonSetStatus {
                    desired_number_scheduled: desired,
                    number_ready: ready,
                    ..Default::default()
                }),
                ..Default::default()
            })),
            pods: Vec::new(),
        };
        assert_eq!(component(&ds(3, 3)).state, Some(ComponentState::Ready));
        let pending = component(&ds(3, 1));
        assert_eq!(pending.state, Some(ComponentState::InProgress));
        assert_eq!(pending.reason, "DaemonSetNotReady");
        assert_eq!(
            component(&Observed::default()).state,
            Some(ComponentState::Unused)
        );
        let missing = component(&Observed {
            workload: Workload::Missing("Deployment"),
            pods: Vec::new(),
        });
        assert_eq!(missing.reason, "DeploymentNotCreated");
        let dep = Observed {
            workload: Workload::Deployment(Box::new(Deployment {
                spec: Some(DeploymentSpec {
                    replicas: Some(2),
                    ..Default::default()
                }),
                status: Some(DeploymentStatus {
                    ready_replicas: Some(2),
                    ..Default::default()
                }),
                ..Default::default()
            })),
            pods: vec![pod(
                json!({"containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
            )],
        };
        let degraded = component(&dep);
        assert_eq!(degraded.state, Some(ComponentState::Degraded));
        assert_eq!(degraded.unhealthy_pod_count, Some(1));
    }

    #[test]
    fn conditions_keep_transition_time_when_unchanged() {
        let t0 = Time(k8s_openapi::jiff::Timestamp::from_second(1000).expect("ts"));
        let t1 = Time(k8s_openapi::jiff::Timestamp::from_second(2000).expect("ts"));
        let observed = ComponentsObserved::default();
        let first = compute(
            None,
            &Report::default(),
            Some(components(&observed)),
            false,
            Some(1),
            t0.clone(),
        );
        let second = compute(
            Some(&first),
            &Report::default(),
            Some(components(&observed)),
            false,
            Some(1),
            t1.clone(),
        );
        assert_eq!(first, second, "same world, same status");
        let invalid = Report {
            errors: vec![Issue {
                path: "spec.x".to_string(),
                message: "bad".to_string(),
            }],
            warnings: Vec::new(),
        };
        let third = compute(Some(&second), &invalid, None, false, Some(2), t1.clone());
        let issue = third
            .conditions
            .iter()
            .find(|c| c.type_ == "ConfigurationIssue")
            .expect("cond");
        assert_eq!(
            (issue.status.as_str(), issue.reason.as_str()),
            ("True", "Error")
        );
        assert_eq!(issue.last_transition_time, t1);
        assert_eq!(third.components, first.components, "components kept");
        assert!(third.conditions.iter().all(|c| c.type_ != "KafkaReady"));
    }

    #[test]
    fn integrations_reflect_discovered_apis() {
        use netobserv_api::v1beta2::{FlowCollectorSpec, LokiMode};
        use netobserv_api::validate::ClusterFacts;
        let mut spec = FlowCollectorSpec::default();
        spec.loki.mode = LokiMode::LokiStack;
        let i = integrations(&spec, &ClusterFacts::default());
        assert_eq!(
            i.loki.as_ref().map(|l| l.reason.as_str()),
            Some("LokiStackAPIMissing")
        );
        assert_eq!(
            i.monitoring.as_ref().and_then(|m| m.state),
            Some(ComponentState::Unused)
        );
        let facts = ClusterFacts {
            available_apis: [
                crate::render::API_LOKISTACK,
                crate::render::API_SERVICE_MONITOR,
                crate::render::API_PROMETHEUS_RULE,
            ]
            .into_iter()
            .map(str::to_string)
            .collect(),
            ..ClusterFacts::default()
        };
        let i = integrations(&spec, &facts);
        assert_eq!(
            i.loki.as_ref().and_then(|l| l.state),
            Some(ComponentState::Unknown)
        );
        assert_eq!(
            i.monitoring.as_ref().and_then(|m| m.state),
            Some(ComponentState::Ready)
        );
    }

    #[test]
    fn kafka_ready_follows_the_transformer() {
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let with = |state| FlowCollectorComponentsStatus {
            processor: Some(FlowCollectorComponentStatus {
                state: Some(state),
                ..Default::default()
            }),
            ..Default::default()
        };
        let kafka = |s: &FlowCollectorStatus| {
            let c = s
                .conditions
                .iter()
                .find(|c| c.type_ == "KafkaReady")
                .expect("KafkaReady");
            (c.status.clone(), c.reason.clone())
        };
        let ready = compute(
            None,
            &Report::default(),
            Some(with(ComponentState::Ready)),
            true,
            None,
            now.clone(),
        );
        assert_eq!(kafka(&ready), ("True".to_string(), "Ready".to_string()));
        let pending = compute(
            None,
            &Report::default(),
            Some(with(ComponentState::InProgress)),
            true,
            None,
            now.clone(),
        );
        assert_eq!(
            kafka(&pending),
            ("False".to_string(), "KafkaPending".to_string())
        );
        let bad = compute(
            None,
            &Report::default(),
            Some(with(ComponentState::Degraded)),
            true,
            None,
            now,
        );
        assert_eq!(kafka(&bad), ("False".to_string(), "KafkaIssue".to_string()));
    }
}
