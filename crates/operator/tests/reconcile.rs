//! Reconcile tests against the fake API server (`crates/fake-apiserver`).
//!
//! No kube-apiserver can run here, so these tests run the reconciler with a kube `Client` over
//! HTTP to an in-process API server that enforces what a real v1.32 server does on the points
//! this operator depends on (CRD schemas, pruning, defaulting, omitempty storage, server-side
//! apply ownership, generations, status subresources, garbage collection). The tests then assert
//! on the recorded requests and on the stored objects: what was applied, with which field
//! manager, what was pruned, what status was written, and that nothing is written when nothing
//! changed.

mod common;

use common::*;
use http::Method;
use kube::runtime::controller::Action;
use netobserv_api::v1beta2::FlowCollector;
use netobserv_api::validate::Platform;
use netobserv_fake_apiserver::{FakeApiServer, Logged};
use netobserv_operator::controller::REQUEUE_BUSY;
use netobserv_operator::render::{API_PROMETHEUS_RULE, API_SERVICE_MONITOR};
use serde_json::{Value, json};

fn applies(log: &[Logged]) -> Vec<&Logged> {
    log.iter()
        .filter(|l| l.method == Method::PATCH && !l.path.ends_with("/status"))
        .collect()
}

fn status_patches(log: &[Logged]) -> Vec<&Logged> {
    log.iter()
        .filter(|l| l.method == Method::PATCH && l.path.ends_with("/status"))
        .collect()
}

fn condition<'a>(
    fc: &'a FlowCollector,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    fc.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("condition {type_} missing"))
}

#[tokio::test]
async fn first_reconcile_applies_everything_and_writes_status() {
    let apis = [API_SERVICE_MONITOR, API_PROMETHEUS_RULE];
    let fake = cluster(&apis).await;
    let created = create_collector(&fake, spec("Service"));
    let uid = created.metadata.uid.clone().expect("uid");
    let ctx = context(&fake, facts(&apis));
    let action = reconcile(&fake, &ctx).await;

    let log = fake.requests();
    let applied = applies(&log);
    assert!(applied.len() > 20, "only {} objects applied", applied.len());
    for a in &applied {
        assert_eq!(
            a.query.get("fieldManager").map(String::as_str),
            Some("netobserv-operator"),
            "{} {:?}",
            a.path,
            a.query
        );
        assert_eq!(
            a.query.get("force").map(String::as_str),
            Some("true"),
            "{} {:?}",
            a.path,
            a.query
        );
    }
    for path in [
        AGENT_DAEMONSET,
        FLP_DEPLOYMENT,
        "/api/v1/namespaces/netobserv/services/flowlogs-pipeline",
        "/api/v1/namespaces/netobserv/configmaps/flowlogs-pipeline-config",
        "/apis/apps/v1/namespaces/netobserv/deployments/netobserv-plugin",
        "/apis/monitoring.coreos.com/v1/namespaces/netobserv/servicemonitors/flowlogs-pipeline-monitor",
        "/api/v1/namespaces/netobserv-privileged",
    ] {
        assert!(fake.get(path).is_some(), "{path} was not applied");
    }
    // Owner reference to the FlowCollector on applied objects.
    let ds = fake.get(AGENT_DAEMONSET).expect("agent");
    assert_eq!(ds["metadata"]["ownerReferences"][0]["uid"], json!(uid));

    assert_eq!(status_patches(&log).len(), 1);
    let fc = stored_collector(&fake);
    assert_eq!(condition(&fc, "ConfigurationIssue").status, "False");
    // The pipeline Deployment has no ready replica yet: pending, requeue soon.
    let ready = condition(&fc, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Pending")
    );
    assert_eq!(
        condition(&fc, "WaitingFLPMonolith").reason,
        "DeploymentNotReady"
    );
    assert_eq!(condition(&fc, "WaitingFLPTransformer").reason, "Unused");
    let processor = fc
        .status
        .as_ref()
        .and_then(|s| s.components.clone())
        .and_then(|c| c.processor)
        .expect("processor");
    assert_eq!(
        (processor.desired_replicas, processor.ready_replicas),
        (Some(3), Some(0))
    );
    assert_eq!(action, Action::requeue(REQUEUE_BUSY));
}

#[tokio::test]
async fn unchanged_world_writes_no_status() {
    let fake = cluster(&[]).await;
    create_collector(&fake, spec("Service"));
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    assert!(
        status_patches(&fake.requests()).is_empty(),
        "status re-written without change"
    );
}

fn digest_of(fake: &FakeApiServer, path: &str) -> String {
    fake.get(path).expect("workload")["spec"]["template"]["metadata"]["annotations"]
        ["flows.netobserv.io/config-digest"]
        .as_str()
        .expect("digest")
        .to_string()
}

#[tokio::test]
async fn spec_change_reapplies_with_new_digest() {
    let fake = cluster(&[]).await;
    create_collector(&fake, spec("Service"));
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    let before = digest_of(&fake, FLP_DEPLOYMENT);

    update_spec(
        &fake,
        json!({"loki": {"monolithic": {"url": "http://loki.elsewhere:3100/"}}}),
    );
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    let after = digest_of(&fake, FLP_DEPLOYMENT);
    assert_ne!(before, after, "config digest must change so pods roll");
    assert!(
        applies(&fake.requests())
            .iter()
            .any(|a| a.path == FLP_DEPLOYMENT)
    );
}

#[tokio::test]
async fn model_switch_prunes_the_old_workload() {
    let fake = cluster(&[]).await;
    create_collector(&fake, spec("Direct"));
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    assert!(fake.get(FLP_DAEMONSET).is_some());

    update_spec(&fake, json!({"deploymentModel": "Kafka"}));
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    let log = fake.requests();
    assert!(
        log.iter()
            .any(|l| l.method == Method::DELETE && l.path == FLP_DAEMONSET),
        "Direct → Kafka must delete the pipeline DaemonSet"
    );
    assert!(fake.get(FLP_DAEMONSET).is_none());
    assert!(fake.get(TRANSFORMER).is_some());
    assert!(fake.get(AGENT_DAEMONSET).is_some(), "the agent stays");
    // Objects owned by someone else are never pruned.
    assert!(
        !log.iter()
            .any(|l| l.method == Method::DELETE && l.path == AGENT_DAEMONSET)
    );
    let fc = stored_collector(&fake);
    assert_eq!(condition(&fc, "WaitingFLPMonolith").reason, "Unused");
}

#[tokio::test]
async fn invalid_spec_sets_configuration_issue_and_keeps_components() {
    let fake = cluster(&[]).await;
    create_collector(&fake, spec("Service"));
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    let components_before = stored_collector(&fake).status.and_then(|s| s.components);

    update_spec(&fake, json!({"processor": {"filters": [{"query": "(("}]}}));
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    let log = fake.requests();
    assert!(
        applies(&log).is_empty(),
        "nothing is applied from an invalid spec"
    );
    assert!(
        !log.iter().any(|l| l.method == Method::DELETE),
        "nothing is pruned"
    );
    assert!(
        fake.get(FLP_DEPLOYMENT).is_some(),
        "running components are kept"
    );
    let fc = stored_collector(&fake);
    let issue = condition(&fc, "ConfigurationIssue");
    assert_eq!(
        (issue.status.as_str(), issue.reason.as_str()),
        ("True", "Error")
    );
    assert!(
        issue.message.contains("spec.processor.filters[0].query"),
        "{}",
        issue.message
    );
    assert_eq!(fc.status.and_then(|s| s.components), components_before);
}

#[tokio::test]
async fn missing_optional_api_degrades() {
    let fake = cluster(&[]).await;
    create_collector(&fake, spec("Service"));
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    let log = fake.requests();
    assert!(
        !log.iter()
            .any(|l| l.path.contains("monitoring.coreos.com")
                || l.path.contains("console.openshift.io")),
        "no request may touch an API the cluster does not serve"
    );
    // Standalone console plugin when the ConsolePlugin API is absent.
    assert!(
        fake.get("/apis/apps/v1/namespaces/netobserv/deployments/netobserv-plugin")
            .is_some()
    );
    let fc = stored_collector(&fake);
    assert_eq!(condition(&fc, "ConfigurationIssue").status, "False");
}

/// The CRD refuses any name but `cluster` (`^cluster$`), so such an object can only exist if it
/// was stored before that rule (an older CRD): seeded raw, as the API server would still hold it.
#[tokio::test]
async fn flowcollector_not_named_cluster_is_ignored_with_an_event() {
    let fake = cluster(&[]).await;
    let refused = fake.create(
        json!({"apiVersion": "flows.netobserv.io/v1beta2", "kind": "FlowCollector",
                                     "metadata": {"name": "other"}, "spec": {}}),
    );
    assert_eq!(refused.map_err(|e| e.code), Err(422), "the CRD name rule");
    let stored = fake
        .insert_raw(
            json!({"apiVersion": "flows.netobserv.io/v1beta2", "kind": "FlowCollector",
                           "metadata": {"name": "other"}, "spec": {}}),
        )
        .expect("seeded");
    let fc: FlowCollector = serde_json::from_value(stored).expect("decodes");
    let ctx = context(&fake, facts(&[]));
    fake.clear_requests();
    let action = netobserv_operator::controller::reconcile(std::sync::Arc::new(fc), ctx)
        .await
        .expect("reconciles");
    assert_eq!(action, Action::await_change());
    let log = fake.requests();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].method, Method::POST);
    assert!(log[0].path.ends_with("/events"), "{}", log[0].path);
    let body = log[0].body.clone().unwrap_or_default();
    assert_eq!(body["reason"], "IgnoredFlowCollector");
    assert_eq!(body["type"], "Warning");
}

#[tokio::test]
async fn leader_election_takes_renews_and_respects_a_live_holder() {
    use netobserv_operator::leader::{LEASE_NAME, LeaderElector};
    let fake = cluster(&[]).await;
    fake.create(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "netobserv"}}),
    )
    .expect("namespace");
    let a = LeaderElector::new(fake.client(), "netobserv", "pod-a");
    let b = LeaderElector::new(fake.client(), "netobserv", "pod-b");
    assert!(a.try_acquire_or_renew().await.expect("a creates the Lease"));
    assert!(
        !b.try_acquire_or_renew().await.expect("b asks"),
        "b must not steal a live Lease"
    );
    assert!(a.try_acquire_or_renew().await.expect("a renews"));
    let path = format!("/apis/coordination.k8s.io/v1/namespaces/netobserv/leases/{LEASE_NAME}");
    let lease = fake.get(&path).expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "pod-a");

    // a stops renewing: once the Lease is expired, b takes it over.
    let mut expired = lease.clone();
    expired["spec"]["renewTime"] = json!("2020-01-01T00:00:00.000000Z");
    fake.insert_raw(expired).expect("lease aged");
    assert!(b.try_acquire_or_renew().await.expect("b takes over"));
    let lease = fake.get(&path).expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "pod-b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert!(!a.try_acquire_or_renew().await.expect("a asks again"));
}

fn posted_events(log: Vec<Logged>) -> Vec<Value> {
    log.into_iter()
        .filter(|l| l.method == Method::POST && l.path.ends_with("/events"))
        .filter_map(|l| l.body)
        .collect()
}

#[tokio::test]
async fn pod_issues_degrade_the_component_and_emit_events() {
    let fake = cluster(&[]).await;
    create_collector(&fake, spec("Service"));
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    // A crashing agent pod, as the kubelet would report it.
    let crashing = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "agent-x", "namespace": "netobserv-privileged",
                     "labels": {"app": "netobserv-ebpf-agent"}},
        "spec": {"containers": [{"name": "netobserv-ebpf-agent", "image": "i"}]},
        "status": {"containerStatuses": [{
            "name": "netobserv-ebpf-agent", "image": "i", "imageID": "", "ready": false, "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": "cannot load BPF program"}}
        }]}
    });
    fake.insert_raw(crashing).expect("pod");
    fake.clear_requests();
    reconcile(&fake, &ctx).await;

    let fc = stored_collector(&fake);
    let agent = fc
        .status
        .as_ref()
        .and_then(|s| s.components.clone())
        .and_then(|c| c.agent)
        .expect("agent");
    assert_eq!(
        agent.state,
        Some(netobserv_api::v1beta2::ComponentState::Degraded)
    );
    assert_eq!(agent.unhealthy_pod_count, Some(1));
    assert_eq!(
        agent.pod_issues,
        "1 pod CrashLoopBackOff: cannot load BPF program"
    );
    assert_eq!(condition(&fc, "WaitingEBPFAgents").status, "True");
    let events = posted_events(fake.requests());
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "ComponentDegraded" && e["type"] == "Warning"),
        "{events:?}"
    );

    // The pod recovers: Ready again, with a ComponentRecovered event.
    fake.delete("/api/v1/namespaces/netobserv-privileged/pods/agent-x")
        .expect("pod deleted");
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    let fc = stored_collector(&fake);
    assert_eq!(condition(&fc, "WaitingEBPFAgents").status, "False");
    let recovered = posted_events(fake.requests())
        .into_iter()
        .any(|e| e["reason"] == "ComponentRecovered");
    assert!(recovered);
}

fn kafka_ca(data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "kafka-ca", "namespace": "kafka"},
           "data": {"ca.crt": data}})
}

#[tokio::test]
async fn certificates_in_other_namespaces_are_copied_and_kept() {
    let fake = cluster(&[]).await;
    let mut kafka = spec("Kafka");
    kafka["kafka"]["tls"] = json!({"enable": true, "caCert": {
        "type": "secret", "name": "kafka-ca", "namespace": "kafka", "certFile": "ca.crt"}});
    let uid = create_collector(&fake, kafka).metadata.uid.expect("uid");
    fake.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kafka"}}))
        .expect("namespace");
    fake.apply(kafka_ca("Y2E="), "kafka-admin").expect("secret");
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    for ns in ["netobserv", "netobserv-privileged"] {
        let copy = fake
            .get(&format!("/api/v1/namespaces/{ns}/secrets/kafka-ca"))
            .unwrap_or_else(|| panic!("copy in {ns}"));
        assert_eq!(copy["data"]["ca.crt"], "Y2E=");
        assert_eq!(
            copy["metadata"]["annotations"]["flows.netobserv.io/copied-from"],
            "kafka/kafka-ca"
        );
        assert_eq!(copy["metadata"]["ownerReferences"][0]["uid"], json!(uid));
    }
    let watched = |fake: &FakeApiServer| {
        fake.get(AGENT_DAEMONSET).expect("agent")["spec"]["template"]["metadata"]["annotations"]
            ["flows.netobserv.io/watched-kafka-certs-ca"]
            .as_str()
            .expect("watched digest on the agent pods")
            .to_string()
    };
    let before = watched(&fake);
    // A second pass keeps the copies (they are part of the desired set) and the digest.
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    assert!(
        !fake
            .requests()
            .iter()
            .any(|l| l.method == Method::DELETE && l.path.contains("/secrets/"))
    );
    assert!(
        fake.get("/api/v1/namespaces/netobserv-privileged/secrets/kafka-ca")
            .is_some()
    );
    assert_eq!(watched(&fake), before);
    // The CA is rotated at the source: the copy follows and the agents roll.
    fake.apply(kafka_ca("bmV3"), "kafka-admin")
        .expect("rotated");
    reconcile(&fake, &ctx).await;
    assert_ne!(watched(&fake), before);
}

#[tokio::test]
async fn openshift_console_registration_adds_the_plugin_once() {
    use netobserv_operator::render::{API_CONSOLE_PLUGIN, API_SCC};
    let fake = cluster(&[
        API_CONSOLE_PLUGIN,
        API_SCC,
        "operator.openshift.io/v1/Console",
    ])
    .await;
    create_collector(&fake, spec("Service"));
    let console_path = "/apis/operator.openshift.io/v1/consoles/cluster";
    fake.create(
        json!({"apiVersion": "operator.openshift.io/v1", "kind": "Console",
                       "metadata": {"name": "cluster"}, "spec": {"plugins": ["other-plugin"]}}),
    )
    .expect("console");
    let mut f = facts(&[API_CONSOLE_PLUGIN, API_SCC]);
    f.platform = Platform::OpenShift(None);
    let ctx = context(&fake, f);
    reconcile(&fake, &ctx).await;
    assert!(
        fake.get("/apis/console.openshift.io/v1/consoleplugins/netobserv-plugin")
            .is_some()
    );
    assert!(
        fake.get("/apis/security.openshift.io/v1/securitycontextconstraints/netobserv-ebpf-agent")
            .is_some()
    );
    let console = fake.get(console_path).expect("console");
    assert_eq!(
        console["spec"]["plugins"],
        json!(["other-plugin", "netobserv-plugin"])
    );
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    assert!(
        !fake
            .requests()
            .iter()
            .any(|l| l.method == Method::PATCH && l.path == console_path),
        "already registered: no second patch"
    );
}

/// A Kafka model without `kafka.address` passed the schema (its default is `""`) and was
/// rendered with `KAFKA_BROKERS=` empty; now the status says which field is missing and nothing
/// is applied.
#[tokio::test]
async fn kafka_model_without_an_address_is_a_configuration_issue() {
    let fake = cluster(&[]).await;
    create_collector(&fake, json!({"deploymentModel": "Kafka"}));
    let ctx = context(&fake, facts(&[]));
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    assert!(applies(&fake.requests()).is_empty(), "nothing is applied");
    let fc = stored_collector(&fake);
    let issue = condition(&fc, "ConfigurationIssue");
    assert_eq!(
        (issue.status.as_str(), issue.reason.as_str()),
        ("True", "Error")
    );
    assert!(
        issue.message.contains("spec.kafka.address"),
        "{}",
        issue.message
    );
    assert!(
        issue.message.contains("spec.kafka.topic"),
        "{}",
        issue.message
    );
}

/// `kubectl get flowmetrics` prints `.status.prometheusName`, the `Ready` reason and the
/// `CardinalityWarning` reason; the operator never wrote them, so the columns stayed empty.
#[tokio::test]
async fn flowmetric_status_fills_the_printer_columns() {
    let fake = cluster(&[]).await;
    create_collector(&fake, spec("Service"));
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    let sample: Value =
        serde_yaml::from_str(&read("config/samples/flows_v1alpha1_flowmetric.yaml"))
            .expect("sample");
    fake.create(sample.clone()).expect("sample FlowMetric");
    let mut elsewhere = sample;
    elsewhere["metadata"]["namespace"] = json!("default");
    elsewhere["spec"]["labels"] = json!(["SrcAddr"]);
    fake.create(elsewhere)
        .expect("FlowMetric in another namespace");
    reconcile(&fake, &ctx).await;

    let column = |fm: &Value, path: &str| -> String {
        // The printer columns' JSONPaths, as kubectl evaluates them.
        match path {
            "name" => fm["status"]["prometheusName"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            kind => fm["status"]["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == kind))
                .and_then(|c| c["reason"].as_str())
                .unwrap_or_default()
                .to_string(),
        }
    };
    let used = fake
        .get("/apis/flows.netobserv.io/v1alpha1/namespaces/netobserv/flowmetrics/flowmetric-cluster-external-egress-traffic")
        .expect("stored");
    assert_eq!(
        column(&used, "name"),
        "netobserv_cluster_external_egress_bytes_total"
    );
    assert_eq!(column(&used, "Ready"), "Ready");
    assert!(!column(&used, "CardinalityWarning").is_empty(), "{used}");
    let ignored = fake
        .get("/apis/flows.netobserv.io/v1alpha1/namespaces/default/flowmetrics/flowmetric-cluster-external-egress-traffic")
        .expect("stored");
    assert_eq!(column(&ignored, "Ready"), "Failure");
    assert_eq!(column(&ignored, "CardinalityWarning"), "Avoid");

    // Nothing changed: no FlowMetric status write.
    fake.clear_requests();
    reconcile(&fake, &ctx).await;
    assert!(
        !fake
            .requests()
            .iter()
            .any(|l| l.path.contains("/flowmetrics/") && l.method == Method::PATCH),
        "FlowMetric status rewritten without change"
    );
}
