//! The whole controller (watches, mapping of children to the FlowCollector, requeues) running
//! against the fake API server, whose LIST + WATCH behave as a real one's: what a user sees of an
//! idle operator, of a deletion, and of FlowCollectors the typed client cannot decode.

mod common;

use common::*;
use netobserv_fake_apiserver::FakeApiServer;
use netobserv_operator::controller::{self, Context, Requeue};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Requeue period the tests run with (the operator's own are 30 s busy and 5 min idle).
const PERIOD: Duration = Duration::from_secs(1);

struct Running {
    ctx: Arc<Context>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn reconciles(&self) -> u64 {
        self.ctx.metrics.reconciles.get()
    }

    fn failures(&self) -> u64 {
        let mut text = String::new();
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("f", "failures", self.ctx.metrics.failures.clone());
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text.lines()
            .filter(|l| l.starts_with("f_total"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
            .sum()
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

fn start(fake: &FakeApiServer) -> Running {
    let mut ctx = Context::new(
        fake.client(),
        Arc::new(netobserv_operator::metrics::Metrics::default()),
        facts(&[]),
        netobserv_operator::Images::for_tests(),
    );
    ctx.requeue = Requeue {
        busy: PERIOD,
        idle: PERIOD,
    };
    let ctx = Arc::new(ctx);
    let (stop, mut rx) = watch::channel(false);
    let task = tokio::spawn(controller::run(ctx.clone(), async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    Running { ctx, stop, task }
}

async fn eventually(what: &str, within: Duration, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < within,
            "{what} not seen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn readme_sample() -> Value {
    let doc: Value = serde_yaml::from_str(&read("config/samples/flows_v1beta2_flowcollector.yaml"))
        .expect("sample");
    assert_eq!(
        doc["spec"]["networkPolicy"]["enable"],
        json!(true),
        "the sample the README installs"
    );
    doc["spec"].clone()
}

/// On a real server, children mapped to `cluster` in their own namespace gave three concurrent
/// reconciles per requeue, and the NetworkPolicy hot loop 253 in 30 s. Idle, the operator must
/// reconcile at most once per requeue period and write nothing.
#[tokio::test]
async fn an_idle_operator_reconciles_once_per_requeue_period_and_writes_nothing() {
    let fake = cluster(&[]).await;
    create_collector(&fake, readme_sample());
    let running = start(&fake);
    eventually("the agent DaemonSet", Duration::from_secs(20), || {
        fake.get(AGENT_DAEMONSET).is_some()
    })
    .await;
    tokio::time::sleep(3 * PERIOD).await;

    let window = 5 * PERIOD;
    let (count, before) = (running.reconciles(), fake.snapshot());
    tokio::time::sleep(window).await;
    let (count_after, after) = (running.reconciles(), fake.snapshot());
    let reconciles = count_after - count;
    let allowed = (window.as_secs_f64() / PERIOD.as_secs_f64()).ceil() as u64 + 1;
    assert!(
        reconciles <= allowed,
        "{reconciles} reconciles in {window:?} with a {PERIOD:?} requeue period (at most {allowed})"
    );
    assert!(
        reconciles >= 1,
        "requeues stopped: {reconciles} reconciles in {window:?}"
    );
    let rewritten: Vec<&String> = after
        .iter()
        .filter(|(k, v)| {
            !k.contains("/events/")
                && before.get(*k).map(|b| &b["metadata"]["resourceVersion"])
                    != Some(&v["metadata"]["resourceVersion"])
        })
        .map(|(k, _)| k)
        .collect();
    assert!(
        rewritten.is_empty(),
        "an idle operator rewrote {rewritten:?}"
    );
    assert_eq!(running.failures(), 0);
    running.stop().await;
}

/// Deleting the FlowCollector garbage-collects every child; the watch events that follow must not
/// turn into failed reconciles of an object that no longer exists.
#[tokio::test]
async fn deleting_the_flowcollector_removes_its_children_without_failures() {
    let fake = cluster(&[]).await;
    let uid = create_collector(&fake, readme_sample())
        .metadata
        .uid
        .expect("uid");
    let running = start(&fake);
    eventually("the agent DaemonSet", Duration::from_secs(20), || {
        fake.get(AGENT_DAEMONSET).is_some()
    })
    .await;
    fake.delete(FC_PATH).expect("deleted");
    tokio::time::sleep(3 * PERIOD).await;
    let left: Vec<String> = fake
        .snapshot()
        .into_iter()
        .filter(|(_, v)| {
            v["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == json!(uid)))
        })
        .map(|(k, _)| k)
        .collect();
    assert!(
        left.is_empty(),
        "children left after the owner's deletion: {left:?}"
    );
    assert_eq!(
        running.failures(),
        0,
        "a reconcile failed after the deletion"
    );
    running.stop().await;
}

fn condition(fc: &Value, kind: &str) -> Value {
    fc["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Without a conversion webhook (`kubectl apply -f config/crd/bases`), a FlowCollector written
/// as v1beta1 keeps `agent.type: EBPF` when served as v1beta2. The typed LIST used to fail on it
/// and blind the operator; now it is reconciled from its converted form, with a warning.
#[tokio::test]
async fn a_flowcollector_stored_in_v1beta1_form_is_converted_and_flagged() {
    let fake = cluster(&[]).await;
    let mut old: Value =
        serde_yaml::from_str(&read("config/samples/flows_v1beta1_flowcollector.yaml"))
            .expect("sample");
    old["spec"]["agent"]["type"] = json!("EBPF");
    fake.create(old).expect("created through v1beta1");
    let served = fake.get(FC_PATH).expect("served as v1beta2");
    assert_eq!(
        served["spec"]["agent"]["type"], "EBPF",
        "the fake converts nothing, like a real server"
    );

    let running = start(&fake);
    eventually("the agent DaemonSet", Duration::from_secs(20), || {
        fake.get(AGENT_DAEMONSET).is_some()
    })
    .await;
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let issue = condition(&fake.get(FC_PATH).unwrap_or_default(), "ConfigurationIssue");
            if issue["message"].as_str().is_some_and(|m| {
                m.contains("stored in the v1beta1 form")
                    && m.contains("re-apply it as flows.netobserv.io/v1beta2")
            }) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "no warning in the status: {}",
        fake.get(FC_PATH).unwrap_or_default()["status"]
    );
    assert_eq!(running.failures(), 0);
    running.stop().await;
}

/// An object that is neither valid v1beta2 nor v1beta1 is reported by name and field (status,
/// Event) and the controller keeps running.
#[tokio::test]
async fn an_undecodable_flowcollector_is_reported_and_the_controller_goes_on() {
    let fake = cluster(&[]).await;
    fake.insert_raw(
        json!({"apiVersion": "flows.netobserv.io/v1beta2", "kind": "FlowCollector",
                           "metadata": {"name": "cluster"},
                           "spec": {"agent": {"ebpf": {"sampling": "many"}}}}),
    )
    .expect("seeded");
    let running = start(&fake);
    eventually("the error in the status", Duration::from_secs(20), || {
        let issue = condition(&fake.get(FC_PATH).unwrap_or_default(), "ConfigurationIssue");
        issue["status"] == "True"
            && issue["message"]
                .as_str()
                .is_some_and(|m| m.contains("spec.agent.ebpf.sampling"))
    })
    .await;
    let events = fake.list("events.k8s.io/v1", "Event");
    assert!(
        events.iter().any(|e| e["reason"] == "InvalidFlowCollector"
            && e["note"]
                .as_str()
                .is_some_and(|n| n.contains("spec.agent.ebpf.sampling"))),
        "{events:?}"
    );
    // Fixed by the user: reconciled normally.
    let mut fc = fake.get(FC_PATH).expect("stored");
    fc["spec"] = json!({"deploymentModel": "Direct"});
    fake.insert_raw(fc).expect("fixed");
    eventually("the agent DaemonSet", Duration::from_secs(20), || {
        fake.get(AGENT_DAEMONSET).is_some()
    })
    .await;
    running.stop().await;
}

/// A running controller answers pruning, workload status and FlowMetric lookups from its watch
/// caches: an idle reconcile sends no LIST (it used to list 16 kinds cluster-wide, Secrets
/// included, every time).
#[tokio::test]
async fn an_idle_reconcile_lists_nothing() {
    let fake = cluster(&[]).await;
    create_collector(&fake, readme_sample());
    let running = start(&fake);
    eventually("the agent DaemonSet", Duration::from_secs(20), || {
        fake.get(AGENT_DAEMONSET).is_some()
    })
    .await;
    tokio::time::sleep(3 * PERIOD).await;
    fake.clear_requests();
    let before = running.reconciles();
    eventually("a requeued reconcile", Duration::from_secs(10), || {
        running.reconciles() >= before + 2
    })
    .await;
    let lists: Vec<String> = fake
        .requests()
        .iter()
        .filter(|l| l.is_list())
        .map(|l| format!("{} ?{:?}", l.path, l.query))
        .collect();
    assert!(lists.is_empty(), "an idle reconcile listed: {lists:#?}");
    running.stop().await;
}
