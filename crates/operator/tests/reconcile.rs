//! Reconcile tests against a scripted API server.
//!
//! No kube-apiserver can run here, so these tests check the wire contract instead: the client is
//! a kube `Client` over a `tower-test` mock, and a small in-memory fake answers the requests the
//! reconciler makes (server-side apply PATCHes, label-selected LISTs, GETs, DELETEs, status
//! patches, Events) the way the real API server would for these verbs. The tests then assert on
//! the recorded requests and on the stored objects: what was applied, with which field manager,
//! what was pruned, what status was written, and that nothing is written when nothing changed.

use http::{Method, Request, Response};
use kube::Client;
use kube::client::Body;
use kube::runtime::controller::Action;
use netobserv_api::v1beta2::{DeploymentModel, FlowCollector};
use netobserv_api::validate::{ClusterFacts, Cni, Platform};
use netobserv_operator::Images;
use netobserv_operator::controller::{self, Context, REQUEUE_BUSY};
use netobserv_operator::metrics::Metrics;
use netobserv_operator::render::{API_PROMETHEUS_RULE, API_SERVICE_MONITOR};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One request as the fake API server saw it.
#[derive(Clone, Debug)]
struct Logged {
    method: Method,
    path: String,
    query: String,
    body: Option<Value>,
}

/// Store key: (api prefix, namespace, plural, name).
type Key = (String, Option<String>, String, String);

#[derive(Default)]
struct State {
    store: BTreeMap<Key, Value>,
    log: Vec<Logged>,
    next_uid: u64,
}

enum Target {
    Collection(String, Option<String>, String),
    Object(Key, bool),
}

fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (prefix, rest) = match *segs.first()? {
        "api" => (segs[..2].join("/"), &segs[2..]),
        "apis" => (segs[..3].join("/"), &segs[3..]),
        _ => return None,
    };
    let s = |x: &str| x.to_string();
    Some(match rest {
        [plural] => Target::Collection(prefix, None, s(plural)),
        ["namespaces", ns, plural] => Target::Collection(prefix, Some(s(ns)), s(plural)),
        ["namespaces", ns, plural, name] => {
            Target::Object((prefix, Some(s(ns)), s(plural), s(name)), false)
        }
        ["namespaces", ns, plural, name, "status"] => {
            Target::Object((prefix, Some(s(ns)), s(plural), s(name)), true)
        }
        [plural, name] => Target::Object((prefix, None, s(plural), s(name)), false),
        [plural, name, "status"] => Target::Object((prefix, None, s(plural), s(name)), true),
        _ => return None,
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            v.replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/")
        })
    })
}

fn labels_match(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap_or((term, ""));
        let got = obj["metadata"]["labels"][k].as_str();
        if term.contains('=') {
            got == Some(v)
        } else {
            got.is_some()
        }
    })
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "not found", "reason": "NotFound", "code": 404}),
    )
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

impl State {
    fn handle(
        &mut self,
        method: &Method,
        path: &str,
        query: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.log.push(Logged {
            method: method.clone(),
            path: path.to_string(),
            query: query.to_string(),
            body: body.clone(),
        });
        let Some(target) = parse(path) else {
            return not_found();
        };
        match (method.as_str(), target) {
            ("GET", Target::Collection(prefix, ns, plural)) => {
                let selector = query_param(query, "labelSelector").unwrap_or_default();
                let items: Vec<Value> = self
                    .store
                    .iter()
                    .filter(|((p, n, pl, _), v)| {
                        *p == prefix
                            && *pl == plural
                            && (ns.is_none() || *n == ns)
                            && labels_match(v, &selector)
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
                )
            }
            ("POST", Target::Collection(prefix, ns, plural)) => {
                let mut obj = body.unwrap_or(Value::Null);
                let name = obj["metadata"]["name"]
                    .as_str()
                    .unwrap_or("generated")
                    .to_string();
                let key = (prefix, ns, plural, name);
                if self.store.contains_key(&key) && !key.2.ends_with("events") {
                    return (
                        409,
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "already exists", "reason": "AlreadyExists", "code": 409}),
                    );
                }
                self.next_uid += 1;
                obj["metadata"]["uid"] = json!(format!("uid-{}", self.next_uid));
                obj["metadata"]["resourceVersion"] = json!(self.next_uid.to_string());
                self.store.insert(key, obj.clone());
                (201, obj)
            }
            ("GET", Target::Object(key, _)) => match self.store.get(&key) {
                Some(v) => (200, v.clone()),
                None => not_found(),
            },
            ("PATCH", Target::Object(key, status)) => {
                let patch = body.unwrap_or(Value::Null);
                if status {
                    let Some(obj) = self.store.get_mut(&key) else {
                        return not_found();
                    };
                    merge(obj, &patch);
                    return (200, obj.clone());
                }
                // Server-side apply: the applied configuration replaces what this manager set;
                // server-owned fields (uid, status) are kept.
                let previous = self.store.get(&key).cloned();
                let mut obj = patch;
                let uid = previous
                    .as_ref()
                    .and_then(|p| p["metadata"]["uid"].as_str().map(str::to_string))
                    .unwrap_or_else(|| {
                        self.next_uid += 1;
                        format!("uid-{}", self.next_uid)
                    });
                obj["metadata"]["uid"] = json!(uid);
                if let Some(st) = previous.as_ref().and_then(|p| p.get("status")) {
                    obj["status"] = st.clone();
                }
                self.store.insert(key, obj.clone());
                (if previous.is_some() { 200 } else { 201 }, obj)
            }
            ("PUT", Target::Object(key, _)) => {
                // Replace with optimistic concurrency on resourceVersion.
                let mut obj = body.unwrap_or(Value::Null);
                let current = self.store.get(&key).cloned();
                let current_rv = current.as_ref().and_then(|c| {
                    c["metadata"]["resourceVersion"]
                        .as_str()
                        .map(str::to_string)
                });
                if current.is_none() {
                    return not_found();
                }
                if obj["metadata"]["resourceVersion"]
                    .as_str()
                    .map(str::to_string)
                    != current_rv
                {
                    return (
                        409,
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": "conflict", "reason": "Conflict", "code": 409}),
                    );
                }
                self.next_uid += 1;
                obj["metadata"]["resourceVersion"] = json!(self.next_uid.to_string());
                self.store.insert(key, obj.clone());
                (200, obj)
            }
            ("DELETE", Target::Object(key, _)) => match self.store.remove(&key) {
                Some(v) => (200, v),
                None => not_found(),
            },
            _ => not_found(),
        }
    }
}

/// A fake API server behind a kube Client.
struct Fake {
    state: Arc<Mutex<State>>,
    client: Client,
}

impl Fake {
    fn new() -> Self {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let method = req.method().clone();
                let path = req.uri().path().to_string();
                let query = req.uri().query().unwrap_or_default().to_string();
                let bytes = req.into_body().collect_bytes().await.expect("body");
                let body =
                    (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).expect("json body"));
                let (code, value) = shared
                    .lock()
                    .expect("lock")
                    .handle(&method, &path, &query, body);
                let resp = Response::builder()
                    .status(code)
                    .body(Body::from(serde_json::to_vec(&value).expect("json")))
                    .expect("response");
                send.send_response(resp);
            }
        });
        let client = Client::new(service, "default");
        Self { state, client }
    }

    fn put_flowcollector(&self, fc: &FlowCollector) {
        let value = serde_json::to_value(fc).expect("json");
        let name = fc.metadata.name.clone().expect("name");
        self.state.lock().expect("lock").store.insert(
            (
                "apis/flows.netobserv.io/v1beta2".into(),
                None,
                "flowcollectors".into(),
                name,
            ),
            value,
        );
    }

    fn get_flowcollector(&self, name: &str) -> FlowCollector {
        let state = self.state.lock().expect("lock");
        let v = state
            .store
            .get(&(
                "apis/flows.netobserv.io/v1beta2".into(),
                None,
                "flowcollectors".into(),
                name.into(),
            ))
            .expect("stored FlowCollector");
        serde_json::from_value(v.clone()).expect("FlowCollector")
    }

    fn log(&self) -> Vec<Logged> {
        self.state.lock().expect("lock").log.clone()
    }

    fn clear_log(&self) {
        self.state.lock().expect("lock").log.clear();
    }

    fn has(&self, path: &str) -> bool {
        matches!(parse(path), Some(Target::Object(key, _)) if self.state.lock().expect("lock").store.contains_key(&key))
    }

    fn stored(&self, path: &str) -> Option<Value> {
        match parse(path) {
            Some(Target::Object(key, _)) => {
                self.state.lock().expect("lock").store.get(&key).cloned()
            }
            _ => None,
        }
    }

    fn context(&self, facts: ClusterFacts) -> Arc<Context> {
        Arc::new(Context::new(
            self.client.clone(),
            Arc::new(Metrics::default()),
            facts,
            Images::for_tests(),
        ))
    }
}

fn facts(apis: &[&str]) -> ClusterFacts {
    ClusterFacts {
        platform: Platform::Kubernetes,
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        available_apis: apis.iter().map(|s| (*s).to_string()).collect(),
    }
}

fn collector(name: &str, model: DeploymentModel) -> FlowCollector {
    let mut fc = FlowCollector::new(name, Default::default());
    fc.metadata.uid = Some(format!("fc-{name}"));
    fc.metadata.generation = Some(1);
    fc.spec.deployment_model = model;
    fc.spec.kafka.address = "kafka:9092".to_string();
    fc.spec.kafka.topic = "flows".to_string();
    fc
}

async fn run(fake: &Fake, ctx: &Arc<Context>, name: &str) -> Action {
    let fc = fake.get_flowcollector(name);
    controller::reconcile(Arc::new(fc), ctx.clone())
        .await
        .expect("reconcile succeeds")
}

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

const FLP_DEPLOYMENT: &str = "/apis/apps/v1/namespaces/netobserv/deployments/flowlogs-pipeline";
const FLP_DAEMONSET: &str = "/apis/apps/v1/namespaces/netobserv/daemonsets/flowlogs-pipeline";
const AGENT_DAEMONSET: &str =
    "/apis/apps/v1/namespaces/netobserv-privileged/daemonsets/netobserv-ebpf-agent";
const TRANSFORMER: &str =
    "/apis/apps/v1/namespaces/netobserv/deployments/flowlogs-pipeline-transformer";

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
    let fake = Fake::new();
    fake.put_flowcollector(&collector("cluster", DeploymentModel::Service));
    let ctx = fake.context(facts(&[API_SERVICE_MONITOR, API_PROMETHEUS_RULE]));
    let action = run(&fake, &ctx, "cluster").await;

    let log = fake.log();
    let applied = applies(&log);
    assert!(applied.len() > 20, "only {} objects applied", applied.len());
    for a in &applied {
        assert!(
            a.query.contains("fieldManager=netobserv-operator"),
            "{} {}",
            a.path,
            a.query
        );
        assert!(a.query.contains("force=true"), "{} {}", a.path, a.query);
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
        assert!(fake.has(path), "{path} was not applied");
    }
    // Owner reference to the FlowCollector on applied objects.
    let ds = fake.stored(AGENT_DAEMONSET).expect("agent");
    assert_eq!(ds["metadata"]["ownerReferences"][0]["uid"], "fc-cluster");

    assert_eq!(status_patches(&log).len(), 1);
    let fc = fake.get_flowcollector("cluster");
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
    let fake = Fake::new();
    fake.put_flowcollector(&collector("cluster", DeploymentModel::Service));
    let ctx = fake.context(facts(&[]));
    run(&fake, &ctx, "cluster").await;
    fake.clear_log();
    run(&fake, &ctx, "cluster").await;
    assert!(
        status_patches(&fake.log()).is_empty(),
        "status re-written without change"
    );
}

fn digest_of(fake: &Fake, path: &str) -> String {
    fake.stored(path).expect("workload")["spec"]["template"]["metadata"]["annotations"]
        ["flows.netobserv.io/config-digest"]
        .as_str()
        .expect("digest")
        .to_string()
}

#[tokio::test]
async fn spec_change_reapplies_with_new_digest() {
    let fake = Fake::new();
    fake.put_flowcollector(&collector("cluster", DeploymentModel::Service));
    let ctx = fake.context(facts(&[]));
    run(&fake, &ctx, "cluster").await;
    let before = digest_of(&fake, FLP_DEPLOYMENT);

    let mut fc = fake.get_flowcollector("cluster");
    fc.spec.loki.monolithic.url = "http://loki.elsewhere:3100/".to_string();
    fc.metadata.generation = Some(2);
    fake.put_flowcollector(&fc);
    fake.clear_log();
    run(&fake, &ctx, "cluster").await;
    let after = digest_of(&fake, FLP_DEPLOYMENT);
    assert_ne!(before, after, "config digest must change so pods roll");
    assert!(
        applies(&fake.log())
            .iter()
            .any(|a| a.path == FLP_DEPLOYMENT)
    );
}

#[tokio::test]
async fn model_switch_prunes_the_old_workload() {
    let fake = Fake::new();
    fake.put_flowcollector(&collector("cluster", DeploymentModel::Direct));
    let ctx = fake.context(facts(&[]));
    run(&fake, &ctx, "cluster").await;
    assert!(fake.has(FLP_DAEMONSET));

    let mut fc = fake.get_flowcollector("cluster");
    fc.spec.deployment_model = DeploymentModel::Kafka;
    fake.put_flowcollector(&fc);
    fake.clear_log();
    run(&fake, &ctx, "cluster").await;
    let log = fake.log();
    assert!(
        log.iter()
            .any(|l| l.method == Method::DELETE && l.path == FLP_DAEMONSET),
        "Direct → Kafka must delete the pipeline DaemonSet"
    );
    assert!(!fake.has(FLP_DAEMONSET));
    assert!(fake.has(TRANSFORMER));
    assert!(fake.has(AGENT_DAEMONSET), "the agent stays");
    // Objects owned by someone else are never pruned.
    assert!(
        !log.iter()
            .any(|l| l.method == Method::DELETE && l.path == AGENT_DAEMONSET)
    );
    let fc = fake.get_flowcollector("cluster");
    assert_eq!(condition(&fc, "WaitingFLPMonolith").reason, "Unused");
}

#[tokio::test]
async fn invalid_spec_sets_configuration_issue_and_keeps_components() {
    let fake = Fake::new();
    fake.put_flowcollector(&collector("cluster", DeploymentModel::Service));
    let ctx = fake.context(facts(&[]));
    run(&fake, &ctx, "cluster").await;
    let components_before = fake
        .get_flowcollector("cluster")
        .status
        .and_then(|s| s.components);

    let mut fc = fake.get_flowcollector("cluster");
    fc.spec
        .processor
        .filters
        .push(netobserv_api::v1beta2::FlpFilterSet {
            query: "((".to_string(),
            ..Default::default()
        });
    fake.put_flowcollector(&fc);
    fake.clear_log();
    run(&fake, &ctx, "cluster").await;
    let log = fake.log();
    assert!(
        applies(&log).is_empty(),
        "nothing is applied from an invalid spec"
    );
    assert!(
        !log.iter().any(|l| l.method == Method::DELETE),
        "nothing is pruned"
    );
    assert!(fake.has(FLP_DEPLOYMENT), "running components are kept");
    let fc = fake.get_flowcollector("cluster");
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
    let fake = Fake::new();
    fake.put_flowcollector(&collector("cluster", DeploymentModel::Service));
    let ctx = fake.context(facts(&[]));
    run(&fake, &ctx, "cluster").await;
    let log = fake.log();
    assert!(
        !log.iter()
            .any(|l| l.path.contains("monitoring.coreos.com")
                || l.path.contains("console.openshift.io")),
        "no request may touch an API the cluster does not serve"
    );
    // Standalone console plugin when the ConsolePlugin API is absent.
    assert!(fake.has("/apis/apps/v1/namespaces/netobserv/deployments/netobserv-plugin"));
    let fc = fake.get_flowcollector("cluster");
    assert_eq!(condition(&fc, "ConfigurationIssue").status, "False");
}

#[tokio::test]
async fn flowcollector_not_named_cluster_is_ignored_with_an_event() {
    let fake = Fake::new();
    fake.put_flowcollector(&collector("other", DeploymentModel::Service));
    let ctx = fake.context(facts(&[]));
    let action = run(&fake, &ctx, "other").await;
    assert_eq!(action, Action::await_change());
    let log = fake.log();
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
    let fake = Fake::new();
    let a = LeaderElector::new(fake.client.clone(), "netobserv", "pod-a");
    let b = LeaderElector::new(fake.client.clone(), "netobserv", "pod-b");
    assert!(a.try_acquire_or_renew().await.expect("a creates the Lease"));
    assert!(
        !b.try_acquire_or_renew().await.expect("b asks"),
        "b must not steal a live Lease"
    );
    assert!(a.try_acquire_or_renew().await.expect("a renews"));
    let path = format!("/apis/coordination.k8s.io/v1/namespaces/netobserv/leases/{LEASE_NAME}");
    let lease = fake.stored(&path).expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "pod-a");

    // a stops renewing: once the Lease is expired, b takes it over.
    {
        let mut state = fake.state.lock().expect("lock");
        let Some(Target::Object(key, _)) = parse(&path) else {
            panic!("lease path")
        };
        let stored = state.store.get_mut(&key).expect("lease");
        stored["spec"]["renewTime"] = json!("2020-01-01T00:00:00.000000Z");
    }
    assert!(b.try_acquire_or_renew().await.expect("b takes over"));
    let lease = fake.stored(&path).expect("lease");
    assert_eq!(lease["spec"]["holderIdentity"], "pod-b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert!(!a.try_acquire_or_renew().await.expect("a asks again"));
}

#[tokio::test]
async fn pod_issues_degrade_the_component_and_emit_events() {
    let fake = Fake::new();
    fake.put_flowcollector(&collector("cluster", DeploymentModel::Service));
    let crashing = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "agent-x", "namespace": "netobserv-privileged",
                     "labels": {"app": "netobserv-ebpf-agent"}},
        "status": {"containerStatuses": [{
            "name": "netobserv-ebpf-agent", "image": "i", "imageID": "", "ready": false, "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": "cannot load BPF program"}}
        }]}
    });
    let pod_key = (
        "api/v1".to_string(),
        Some("netobserv-privileged".to_string()),
        "pods".to_string(),
        "agent-x".to_string(),
    );
    fake.state
        .lock()
        .expect("lock")
        .store
        .insert(pod_key.clone(), crashing);
    let ctx = fake.context(facts(&[]));
    run(&fake, &ctx, "cluster").await;

    let fc = fake.get_flowcollector("cluster");
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
    let events: Vec<Value> = fake
        .log()
        .into_iter()
        .filter(|l| l.method == Method::POST && l.path.ends_with("/events"))
        .filter_map(|l| l.body)
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "ComponentDegraded" && e["type"] == "Warning"),
        "{events:?}"
    );

    // The pod recovers: Ready again, with a ComponentRecovered event.
    fake.state.lock().expect("lock").store.remove(&pod_key);
    fake.clear_log();
    run(&fake, &ctx, "cluster").await;
    let fc = fake.get_flowcollector("cluster");
    assert_eq!(condition(&fc, "WaitingEBPFAgents").status, "False");
    let recovered = fake
        .log()
        .into_iter()
        .filter(|l| l.method == Method::POST && l.path.ends_with("/events"))
        .filter_map(|l| l.body)
        .any(|e| e["reason"] == "ComponentRecovered");
    assert!(recovered);
}

#[tokio::test]
async fn certificates_in_other_namespaces_are_copied_and_kept() {
    let fake = Fake::new();
    let mut fc = collector("cluster", DeploymentModel::Kafka);
    fc.spec.kafka.tls.enable = true;
    fc.spec.kafka.tls.ca_cert = netobserv_api::v1beta2::CertificateReference {
        kind: Some(netobserv_api::v1beta2::MountableType::Secret),
        name: "kafka-ca".to_string(),
        namespace: "kafka".to_string(),
        cert_file: "ca.crt".to_string(),
        cert_key: String::new(),
    };
    fake.put_flowcollector(&fc);
    fake.state.lock().expect("lock").store.insert(
        (
            "api/v1".into(),
            Some("kafka".into()),
            "secrets".into(),
            "kafka-ca".into(),
        ),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "kafka-ca", "namespace": "kafka"},
               "data": {"ca.crt": "Y2E="}}),
    );
    let ctx = fake.context(facts(&[]));
    run(&fake, &ctx, "cluster").await;
    for ns in ["netobserv", "netobserv-privileged"] {
        let copy = fake
            .stored(&format!("/api/v1/namespaces/{ns}/secrets/kafka-ca"))
            .unwrap_or_else(|| panic!("copy in {ns}"));
        assert_eq!(copy["data"]["ca.crt"], "Y2E=");
        assert_eq!(
            copy["metadata"]["annotations"]["flows.netobserv.io/copied-from"],
            "kafka/kafka-ca"
        );
        assert_eq!(copy["metadata"]["ownerReferences"][0]["uid"], "fc-cluster");
    }
    let watched = |fake: &Fake| {
        fake.stored(AGENT_DAEMONSET).expect("agent")["spec"]["template"]["metadata"]["annotations"]
            ["flows.netobserv.io/watched-kafka-certs-ca"]
            .as_str()
            .expect("watched digest on the agent pods")
            .to_string()
    };
    let before = watched(&fake);
    // A second pass keeps the copies (they are part of the desired set) and the digest.
    fake.clear_log();
    run(&fake, &ctx, "cluster").await;
    assert!(
        !fake
            .log()
            .iter()
            .any(|l| l.method == Method::DELETE && l.path.contains("/secrets/"))
    );
    assert!(fake.has("/api/v1/namespaces/netobserv-privileged/secrets/kafka-ca"));
    assert_eq!(watched(&fake), before);
    // The CA is rotated at the source: the copy follows and the agents roll.
    fake.state.lock().expect("lock").store.insert(
        (
            "api/v1".into(),
            Some("kafka".into()),
            "secrets".into(),
            "kafka-ca".into(),
        ),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "kafka-ca", "namespace": "kafka"},
               "data": {"ca.crt": "bmV3"}}),
    );
    run(&fake, &ctx, "cluster").await;
    assert_ne!(watched(&fake), before);
}

#[tokio::test]
async fn openshift_console_registration_adds_the_plugin_once() {
    use netobserv_operator::render::{API_CONSOLE_PLUGIN, API_SCC};
    let fake = Fake::new();
    fake.put_flowcollector(&collector("cluster", DeploymentModel::Service));
    let console_path = "/apis/operator.openshift.io/v1/consoles/cluster";
    fake.state.lock().expect("lock").store.insert(
        (
            "apis/operator.openshift.io/v1".into(),
            None,
            "consoles".into(),
            "cluster".into(),
        ),
        json!({"apiVersion": "operator.openshift.io/v1", "kind": "Console",
               "metadata": {"name": "cluster"}, "spec": {"plugins": ["other-plugin"]}}),
    );
    let mut f = facts(&[API_CONSOLE_PLUGIN, API_SCC]);
    f.platform = Platform::OpenShift(None);
    let ctx = fake.context(f);
    run(&fake, &ctx, "cluster").await;
    assert!(fake.has("/apis/console.openshift.io/v1/consoleplugins/netobserv-plugin"));
    assert!(
        fake.has("/apis/security.openshift.io/v1/securitycontextconstraints/netobserv-ebpf-agent")
    );
    let console = fake.stored(console_path).expect("console");
    assert_eq!(
        console["spec"]["plugins"],
        json!(["other-plugin", "netobserv-plugin"])
    );
    fake.clear_log();
    run(&fake, &ctx, "cluster").await;
    assert!(
        !fake
            .log()
            .iter()
            .any(|l| l.method == Method::PATCH && l.path == console_path),
        "already registered: no second patch"
    );
}
