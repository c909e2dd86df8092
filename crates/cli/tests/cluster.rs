//! Deploying and removing a capture through kube-rs against the strict fake API server
//! (crates/fake-apiserver: server-side apply with field ownership, schema checks, namespaces that
//! must exist; no kube-apiserver can run here, so this is the wire contract). `flows` applies
//! exactly the rendered objects plus the run's Lease; `cleanup`, an interrupted foreground run
//! (Ctrl-C) and the next run after a crash (an expired Lease) each delete them all.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use kubectl_netobserv::cluster::{self, ClusterError, LEASE_DURATION, Occupancy};
use kubectl_netobserv::options;
use kubectl_netobserv::render::{self, MANAGED_BY_LABEL, Plan, RUN_LABEL};
use netobserv_fake_apiserver::FakeApiServer;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

fn plan(line: &str, run_id: &str) -> Plan {
    let inv = options::parse(std::iter::once("kubectl-netobserv").chain(line.split_whitespace()))
        .expect("parses");
    let images = ("agent:v1".to_string(), "cli:v1".to_string());
    Plan::for_command(&inv.command, &inv.rules, run_id, images).expect("plan")
}

/// Waits (10 s at most) until a run in `ns` is deployed: its Lease comes last.
async fn wait_deployed(fake: &FakeApiServer, ns: &str) {
    let lease = format!("/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/netobserv-cli");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fake.get(&lease).is_none() {
        assert!(std::time::Instant::now() < deadline, "never deployed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The fake's objects that carry the CLI's label, as `kind/namespace/name` with their run.
fn deployed(fake: &FakeApiServer) -> BTreeSet<(String, String)> {
    fake.snapshot()
        .into_values()
        .filter(|o| o["metadata"]["labels"][MANAGED_BY_LABEL] == "netobserv-cli")
        .map(|o| {
            (
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap_or_default(),
                    o["metadata"]["namespace"].as_str().unwrap_or_default(),
                    o["metadata"]["name"].as_str().unwrap_or_default()
                ),
                o["metadata"]["labels"][RUN_LABEL]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn keys(objects: &[Value], run: &str) -> BTreeSet<(String, String)> {
    objects
        .iter()
        .map(|o| {
            (
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap_or_default(),
                    o["metadata"]["namespace"].as_str().unwrap_or_default(),
                    o["metadata"]["name"].as_str().unwrap_or_default()
                ),
                run.to_string(),
            )
        })
        .collect()
}

/// Whether everything `want` says is in `got` (the server adds metadata and defaults).
fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w.iter().all(|(k, v)| match g.get(k) {
            Some(gv) => contains(gv, v),
            // An empty map or list is not stored (Go's omitempty), as on a real server.
            None => {
                v.as_object().is_some_and(|m| m.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty())
            }
        }),
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(a, b)| contains(a, b))
        }
        _ => got == want,
    }
}

fn stored<'a>(snapshot: &'a [Value], want: &Value) -> Option<&'a Value> {
    snapshot.iter().find(|o| {
        o["kind"] == want["kind"]
            && o["metadata"]["name"] == want["metadata"]["name"]
            && o["metadata"]["namespace"] == want["metadata"]["namespace"]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_applies_exactly_the_rendered_objects_and_cleanup_deletes_them_all() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    let client = fake.client();
    let plan = plan(
        "flows --enable_dns --protocol=TCP --port=443 or --protocol=UDP",
        "run-a",
    );
    let objects = render::render(&plan);
    cluster::deploy(&client, &plan, &objects, SystemTime::now(), LEASE_DURATION)
        .await
        .expect("deployed");

    let mut want = keys(&objects, "run-a");
    want.insert(("Lease/netobserv-cli/netobserv-cli".into(), "run-a".into()));
    assert_eq!(
        deployed(&fake),
        want,
        "exactly the rendered objects and the Lease"
    );
    let snapshot: Vec<Value> = fake.snapshot().into_values().collect();
    for o in &objects {
        let got = stored(&snapshot, o).unwrap_or_else(|| panic!("not stored: {}", o["kind"]));
        assert!(
            contains(got, o),
            "stored {} differs from the render:\n{got:#}\nrendered:\n{o:#}",
            o["kind"]
        );
    }
    assert_eq!(
        cluster::occupancy(&client, "netobserv-cli", SystemTime::now())
            .await
            .expect("reads"),
        Occupancy::Running {
            holder: "run-a".into()
        }
    );

    // Applying again (same run) changes nothing the user sees and does not fail.
    cluster::deploy(&client, &plan, &objects, SystemTime::now(), LEASE_DURATION)
        .await
        .expect("re-applied");
    assert_eq!(deployed(&fake), want);

    let removed = cluster::cleanup(&client, "netobserv-cli")
        .await
        .expect("cleanup");
    assert_eq!(removed, want.len());
    assert_eq!(deployed(&fake), BTreeSet::new(), "nothing left");
    assert_eq!(
        cluster::occupancy(&client, "netobserv-cli", SystemTime::now())
            .await
            .expect("reads"),
        Occupancy::Free
    );
    // A second cleanup finds nothing and is not an error.
    assert_eq!(
        cluster::cleanup(&client, "netobserv-cli")
            .await
            .expect("cleanup"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_foreground_run_removes_everything() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    let client = fake.client();
    let plan = plan("packets --namespace=cap --port=80", "run-b");
    let objects = render::render(&plan);
    let (ctrl_c, interrupted) = tokio::sync::oneshot::channel::<()>();
    let run = {
        let (client, plan, objects) = (client.clone(), plan.clone(), objects.clone());
        tokio::spawn(async move {
            cluster::run_foreground(&client, &plan, &objects, async {
                let _ = interrupted.await;
            })
            .await
        })
    };
    // Wait until the run is deployed, as a person would before Ctrl-C.
    wait_deployed(&fake, "cap").await;
    assert_eq!(deployed(&fake).len(), objects.len() + 1);
    ctrl_c.send(()).expect("interrupt");
    run.await.expect("joins").expect("clean exit");
    assert_eq!(deployed(&fake), BTreeSet::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_run_is_removed_by_the_next_run_or_by_cleanup_but_a_live_one_is_not() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    let client = fake.client();
    let crashed = plan("flows --namespace=obs", "run-old");
    let old_objects = render::render(&crashed);
    // A run that deployed two minutes ago and then died: its Lease was never renewed.
    let then = SystemTime::now() - Duration::from_secs(120);
    cluster::deploy(&client, &crashed, &old_objects, then, LEASE_DURATION)
        .await
        .expect("deployed");
    assert_eq!(
        cluster::occupancy(&client, "obs", SystemTime::now())
            .await
            .expect("reads"),
        Occupancy::Leftovers {
            holder: Some("run-old".into())
        }
    );

    // The next run removes the leftovers, then deploys its own objects.
    let next = plan("flows --namespace=obs --enable_rtt", "run-new");
    let new_objects = render::render(&next);
    cluster::deploy(
        &client,
        &next,
        &new_objects,
        SystemTime::now(),
        LEASE_DURATION,
    )
    .await
    .expect("deployed over leftovers");
    let runs: BTreeSet<String> = deployed(&fake).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        runs,
        BTreeSet::from(["run-new".to_string()]),
        "nothing of the crashed run left"
    );

    // While that run is alive, a third one is refused, naming the holder and the way out.
    let third = plan("flows --namespace=obs", "run-third");
    let err = cluster::deploy(
        &client,
        &third,
        &render::render(&third),
        SystemTime::now(),
        LEASE_DURATION,
    )
    .await
    .expect_err("busy");
    assert!(
        matches!(&err, ClusterError::Busy { holder, .. } if holder == "run-new"),
        "{err}"
    );
    assert!(err.to_string().contains("cleanup --namespace=obs"), "{err}");

    // `cleanup` removes a crashed run's objects too.
    cluster::deploy(&client, &crashed, &old_objects, then, LEASE_DURATION)
        .await
        .expect_err("the live run-new still holds the namespace");
    cluster::cleanup(&client, "obs").await.expect("cleanup");
    cluster::deploy(&client, &crashed, &old_objects, then, LEASE_DURATION)
        .await
        .expect("deployed (then crashed)");
    assert!(!deployed(&fake).is_empty());
    cluster::cleanup(&client, "obs").await.expect("cleanup");
    assert_eq!(deployed(&fake), BTreeSet::new());
}

/// `--pod NS/NAME`: the pod is looked up through the API (created there, its status written
/// through the status subresource as a kubelet does); the DaemonSet then runs only on the pod's
/// node and every rule carries the pod's address. Errors name the pod and what is wrong.
#[tokio::test]
async fn pod_option_targets_the_pods_node_and_address() {
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use kube::Api;
    use kube::api::{Patch, PatchParams, PostParams};
    use kubectl_netobserv::target;
    let fake = FakeApiServer::start().await.expect("fake");
    let client = fake.client();
    let post = PostParams::default();
    Api::<Namespace>::all(client.clone())
        .create(
            &post,
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "shop"}})).unwrap(),
        )
        .await
        .expect("namespace");
    let pods = Api::<Pod>::namespaced(client.clone(), "shop");
    for name in ["web", "pending"] {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"nodeName": "worker-2", "containers": [{"name": "c", "image": "img:1"}]}
        }))
        .unwrap();
        pods.create(&post, &pod).await.expect("pod");
    }
    pods.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {"podIP": "10.128.3.7", "podIPs": [{"ip": "10.128.3.7"}]}})),
    )
    .await
    .expect("status");

    let found = target::resolve(&client, "shop/web")
        .await
        .expect("resolves");
    let mut p = plan(
        "packets --pod=shop/web --protocol=TCP --port=80 or --protocol=UDP",
        "run-pod",
    );
    target::apply(&mut p, &found).expect("applies");
    let objects = render::render(&p);
    let ds = objects
        .iter()
        .find(|o| o["kind"] == "DaemonSet")
        .expect("daemon set");
    assert_eq!(
        ds["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/hostname"],
        "worker-2"
    );
    let rules = ds["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "FLOW_FILTER_RULES")
        .and_then(|e| e["value"].as_str())
        .expect("rules");
    let rules: Value = serde_json::from_str(rules).unwrap();
    let cidrs: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["ip_cidr"].as_str())
        .collect();
    assert_eq!(cidrs, ["10.128.3.7/32", "10.128.3.7/32"]);

    // `packets --pod` alone is accepted: the pod's address is the filter.
    let mut alone = plan("packets --pod=shop/web", "run-pod");
    target::apply(&mut alone, &found).expect("applies");
    assert_eq!(alone.rules.len(), 1);

    let err = |e: target::TargetError| e.to_string();
    let msg = err(target::resolve(&client, "shop/missing").await.unwrap_err());
    assert!(
        msg.contains("--pod shop/missing") && msg.contains("not found"),
        "{msg}"
    );
    let msg = err(target::resolve(&client, "shop/pending").await.unwrap_err());
    assert!(msg.contains("has no IP yet"), "{msg}");
    let msg = err(target::resolve(&client, "web").await.unwrap_err());
    assert!(msg.contains("expected NAMESPACE/NAME"), "{msg}");
    let mut cidr = plan("flows --pod=shop/web --cidr=10.0.0.0/8", "run-pod");
    let msg = err(target::apply(&mut cidr, &found).unwrap_err());
    assert!(
        msg.contains("filter rule 1 already has --cidr=10.0.0.0/8"),
        "{msg}"
    );
    let mut node = plan("flows --pod=shop/web --node=worker-1", "run-pod");
    let msg = err(target::apply(&mut node, &found).unwrap_err());
    assert!(
        msg.contains("runs on node worker-2, not on --node worker-1"),
        "{msg}"
    );
}

/// A cut-down ServiceMonitor CRD, as the Prometheus Operator installs it.
const SERVICE_MONITOR_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_openshift_deploy_monitoring_and_the_dashboard_and_cleanup_removes_them() {
    let plain = FakeApiServer::start().await.expect("fake API server");
    assert_eq!(
        cluster::detect_monitoring(&plain.client()).await,
        render::Monitoring::default(),
        "a plain cluster has neither"
    );

    let fake = FakeApiServer::start().await.expect("fake API server");
    fake.create_yaml(SERVICE_MONITOR_CRD).expect("CRD");
    fake.create(serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "openshift-config-managed"}}))
        .expect("console namespace");
    let client = fake.client();
    let monitoring = cluster::detect_monitoring(&client).await;
    assert_eq!(
        monitoring,
        render::Monitoring {
            service_monitor: true,
            dashboard: true
        }
    );
    let mut plan = plan("metrics --namespace=mon", "run-m");
    plan.monitoring = monitoring;
    let objects = render::render(&plan);
    cluster::deploy(&client, &plan, &objects, SystemTime::now(), LEASE_DURATION)
        .await
        .expect("deployed");
    let mut want = keys(&objects, "run-m");
    want.insert(("Lease/mon/netobserv-cli".into(), "run-m".into()));
    assert_eq!(deployed(&fake), want);
    assert!(want.contains(&(
        "ConfigMap/openshift-config-managed/netobserv-on-demand-mon".into(),
        "run-m".into()
    )));
    assert!(want.contains(&(
        "ServiceMonitor/mon/netobserv-cli-metrics".into(),
        "run-m".into()
    )));
    cluster::cleanup(&client, "mon").await.expect("cleanup");
    assert_eq!(deployed(&fake), BTreeSet::new());
    assert!(
        fake.get("/api/v1/namespaces/openshift-config-managed")
            .is_some(),
        "the console's namespace stays"
    );
}

/// A foreground run on a terminal: the collector pod is rendered with `--live`, and the CLI
/// follows its log (the fake's `pods/log`, which refuses while the container has not started)
/// into the table: the `LIVE` records arrive as rows in ratatui's `TestBackend`, the progress
/// line sets the table's byte and flow counts. Ctrl-C then removes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreground_run_feeds_the_table_from_the_collector_log() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, Patch, PatchParams};
    use kubectl_netobserv::collector::Progress;
    use std::sync::Arc;
    let fake = FakeApiServer::start().await.expect("fake API server");
    let client = fake.client();
    let mut plan = plan("flows --namespace=cap", "run-t");
    plan.live = true;
    let objects = render::render(&plan);
    let collector = objects
        .iter()
        .find(|o| o["kind"] == "Pod")
        .expect("collector pod");
    assert!(
        collector["spec"]["containers"][0]["args"]
            .as_array()
            .expect("args")
            .iter()
            .any(|a| a == "--live"),
        "{collector}"
    );
    // The table's side: what the terminal thread does with the records, into a TestBackend.
    let (tx, mut rx) = tokio::sync::mpsc::channel(100);
    let progress = Arc::new(Progress::default());
    let feed = kubectl_netobserv::live::LiveFeed::new(tx, progress.clone());
    let (closed_tx, closed) = tokio::sync::oneshot::channel();
    let (rows_tx, rows) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut app = kubectl_netobserv::tui::App::new("Flows");
        while let Some(r) = rx.recv().await {
            app.push(r);
        }
        let _ = rows_tx.send(common::screen(&app));
        let _ = closed_tx.send(());
    });
    let (ctrl_c, interrupted) = tokio::sync::oneshot::channel::<()>();
    let run = {
        let (client, plan, objects) = (client.clone(), plan.clone(), objects.clone());
        tokio::spawn(async move {
            let show = cluster::Show::Table { feed, closed };
            cluster::run_foreground_with(
                &client,
                &plan,
                &objects,
                async {
                    let _ = interrupted.await;
                },
                show,
            )
            .await
        })
    };
    wait_deployed(&fake, "cap").await;
    // The kubelet starts the container, which writes its log.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "cap");
    pods.patch_status(
        render::COLLECTOR,
        &PatchParams::apply("kubelet").force(),
        &Patch::Apply(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": render::COLLECTOR},
            "status": {"phase": "Running"},
        })),
    )
    .await
    .expect("pod status");
    let log = |text: &str| fake.append_log("cap", render::COLLECTOR, render::COLLECTOR, text);
    log("collector listening addr=0.0.0.0:9999\n");
    log(
        r#"LIVE {"SrcAddr":"10.128.0.10","DstAddr":"10.128.0.20","SrcK8S_Name":"web-7d9c","SrcK8S_Namespace":"shop","SrcK8S_OwnerName":"web","SrcK8S_Type":"Pod","DstK8S_Name":"db-0","DstK8S_Namespace":"shop","DstK8S_OwnerName":"db","DstK8S_Type":"Pod","SrcPort":40000,"DstPort":5432,"Proto":6,"Bytes":1234,"Packets":3,"TimeFlowEndMs":1764914400000}"#,
    );
    log("\n");
    log("elapsed 5s, captured 2048 bytes, 1 written (0/s)\n");
    // The follower retries every 2 s until the container has started.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while progress.flows() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the progress line never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(progress.bytes(), 2048);
    ctrl_c.send(()).expect("interrupt");
    run.await.expect("joins").expect("clean exit");
    let screen = rows.await.expect("the table closed once the run ended");
    assert!(
        screen
            .iter()
            .any(|l| l.contains("web-7d9c") && l.contains("db-0")),
        "the live record is a row:\n{}",
        screen.join("\n")
    );
    assert_eq!(deployed(&fake), BTreeSet::new());
}
