//! Users who are not cluster admins (`authCheck: authenticated`) see one namespace at a time:
//! flows and their values only with `namespace=` set to a namespace they may get pods in,
//! nothing cluster-wide (the Network Health page's Prometheus rules); admins see everything.
//! And a namespace-restricted metrics query goes to Prometheus's `devUrl` with `namespace=`
//! (Thanos's tenancy port). The reviews go to the stand-in for the Kubernetes API calls
//! (`common/kube.rs`: `alice` may get pods in `ns-1` only); Prometheus is a stand-in recording
//! the requests it receives, answering an empty matrix as Prometheus does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::call;

use axum::extract::RawQuery;
use netobserv_console::api::{AppState, router};
use netobserv_console::auth::Reviewer;
use netobserv_console::client::encode;
use netobserv_console::config::{AuthCheck, Config};
use netobserv_flowstore::synth::{self, Shape};
use netobserv_flowstore::{FlowRow, Store, StoreOptions};
use serde_json::Value;
use std::sync::{Arc, Mutex};

const START: i64 = 1_700_000_000_000;
const RANGE: &str = "startTime=1700000000&endTime=1700000300";

/// The records of a `/api/loki/flow/records` answer: each line with its stream's labels.
fn records(body: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(body).expect("json");
    let mut out = Vec::new();
    for stream in v["result"].as_array().unwrap() {
        for pair in stream["values"].as_array().unwrap() {
            let mut r: Value = serde_json::from_str(pair[1].as_str().unwrap()).unwrap();
            for (k, l) in stream["stream"].as_object().unwrap() {
                r[k] = l.clone();
            }
            out.push(r);
        }
    }
    out
}

fn touches(r: &Value, ns: &str) -> bool {
    r["SrcK8S_Namespace"] == ns || r["DstK8S_Namespace"] == ns
}

#[tokio::test]
async fn a_developer_sees_the_namespaces_it_may_and_one_at_a_time() {
    let dir = std::env::temp_dir().join(format!("console-tenancy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = dir.join("flows.db");
    let _ = std::fs::remove_file(&store);
    let flows = synth::flows(2000, 5, START, 240_000, Shape::default());
    {
        let mut s = Store::open(&store, StoreOptions::default()).expect("store");
        let rows: Vec<FlowRow> = flows.iter().map(FlowRow::from_json).collect();
        s.insert(&rows).expect("insert");
    }
    let log = common::kube::Log::default();
    let kube_port = common::kube::start(log.clone()).await;
    let config = Config::parse(&format!("store:\n  path: {}\n", store.display())).expect("config");
    let mut state = AppState::new(&config).expect("state");
    state.auth = AuthCheck::Authenticated;
    let kube_config = kube::Config::new(
        format!("http://127.0.0.1:{kube_port}")
            .parse()
            .expect("url"),
    );
    state.reviewer = Some(Reviewer::new(
        kube::Client::try_from(kube_config).expect("client"),
    ));
    let port = common::serve(router(Arc::new(state))).await;
    let alice = Some("alice-token");

    let (status, body) = call(
        port,
        &format!("/api/loki/flow/records?{RANGE}&limit=5000"),
        alice,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("user alice is not a cluster admin") && body.contains("namespace=<name>"),
        "{body}"
    );

    let (status, body) = call(
        port,
        &format!("/api/loki/flow/records?{RANGE}&limit=5000&namespace=ns-1"),
        alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let got = records(&body);
    let expected = flows
        .iter()
        .filter(|f| {
            f.get("SrcK8S_Namespace").and_then(Value::as_str) == Some("ns-1")
                || f.get("DstK8S_Namespace").and_then(Value::as_str) == Some("ns-1")
        })
        .count();
    assert!(expected > 0 && expected < flows.len());
    assert_eq!(got.len(), expected);
    let stray: Vec<&Value> = got.iter().filter(|r| !touches(r, "ns-1")).collect();
    assert!(stray.is_empty(), "{:?}", stray.first());

    for path in [
        format!("/api/loki/flow/records?{RANGE}&namespace=ns-2"),
        format!("/api/flow/metrics?{RANGE}&aggregateBy=namespace&namespace=ns-2"),
        format!("/api/loki/export?{RANGE}&namespace=ns-2"),
        format!("/api/resources/namespaces?{RANGE}&namespace=ns-2"),
    ] {
        let (status, body) = call(port, &path, alice).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.contains("user alice cannot get pods in namespace ns-2"),
            "{path}: {body}"
        );
    }
    // Values for autocompletion: only the namespaces ns-1 talks with.
    let (status, body) = call(
        port,
        &format!("/api/resources/namespaces?{RANGE}&namespace=ns-1"),
        alice,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<String> = serde_json::from_str(&body).expect("json");
    let mut peers: Vec<String> = flows
        .iter()
        .filter(|f| {
            f.get("SrcK8S_Namespace").and_then(Value::as_str) == Some("ns-1")
                || f.get("DstK8S_Namespace").and_then(Value::as_str) == Some("ns-1")
        })
        .flat_map(|f| {
            ["SrcK8S_Namespace", "DstK8S_Namespace"]
                .map(|k| f.get(k).and_then(Value::as_str).unwrap_or("").to_string())
        })
        .filter(|n| !n.is_empty())
        .collect();
    peers.sort();
    peers.dedup();
    assert_eq!(names, peers);
    let mut all: Vec<&str> = flows
        .iter()
        .flat_map(|f| {
            ["SrcK8S_Namespace", "DstK8S_Namespace"]
                .map(|k| f.get(k).and_then(Value::as_str).unwrap_or(""))
        })
        .filter(|n| !n.is_empty())
        .collect();
    all.sort();
    all.dedup();
    assert!(
        peers.len() < all.len(),
        "ns-1 talks with every namespace: the check would not tell"
    );
    // Cluster-wide pages are for admins.
    let (status, body) = call(port, "/api/prometheus/api/v1/rules", alice).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("for cluster admins"), "{body}");
    // Not about flows: open to alice.
    assert_eq!(call(port, "/api/frontend-config", alice).await.0, 200);
    assert_eq!(call(port, "/role", alice).await, (200, "dev".into()));
    // An admin needs no namespace.
    let (status, body) = call(
        port,
        &format!("/api/loki/flow/records?{RANGE}&limit=5000"),
        Some("admin-token"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(records(&body).len(), flows.len());
    // The access review asked the API server about alice's groups and that namespace's pods.
    let seen = log.lock().unwrap().clone();
    assert!(seen.iter().any(|(p, b)| p == "subjectaccessreviews"
        && b["spec"]["user"] == "alice"
        && b["spec"]["groups"][0] == "system:authenticated"
        && b["spec"]["resourceAttributes"]["verb"] == "get"
        && b["spec"]["resourceAttributes"]["resource"] == "pods"
        && b["spec"]["resourceAttributes"]["namespace"] == "ns-1"));
    // Verdicts per namespace are cached.
    let before = log.lock().unwrap().len();
    let _ = call(
        port,
        &format!("/api/loki/flow/records?{RANGE}&namespace=ns-1"),
        alice,
    )
    .await;
    assert_eq!(log.lock().unwrap().len(), before);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Requests a Prometheus stand-in received, as raw query strings.
type Queries = Arc<Mutex<Vec<String>>>;

async fn prometheus(seen: Queries) -> u16 {
    let app = axum::Router::new().route(
        "/api/v1/query_range",
        axum::routing::get(move |RawQuery(q): RawQuery| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(q.unwrap_or_default());
                axum::Json(serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": []}}))
            }
        }),
    );
    common::serve(app).await
}

#[tokio::test]
async fn namespace_restricted_metrics_go_to_the_dev_url_with_the_namespace() {
    let (main_seen, dev_seen) = (Queries::default(), Queries::default());
    let main = prometheus(main_seen.clone()).await;
    let dev = prometheus(dev_seen.clone()).await;
    let config = Config::parse(&format!(
        "prometheus:\n  url: http://127.0.0.1:{main}\n  devUrl: http://127.0.0.1:{dev}/\n  metrics:\n  - {{name: netobserv_namespace_flows_total, enabled: true}}\n"
    ))
    .expect("config");
    let port = common::serve(router(Arc::new(AppState::new(&config).expect("state")))).await;
    let query =
        format!("/api/flow/metrics?{RANGE}&aggregateBy=namespace&type=Flows&function=count");
    let (status, body) = call(port, &format!("{query}&namespace=ns-1"), None).await;
    assert_eq!(status, 200, "{body}");
    let dev_queries = dev_seen.lock().unwrap().clone();
    assert!(!dev_queries.is_empty() && main_seen.lock().unwrap().is_empty());
    for q in &dev_queries {
        assert!(
            q.ends_with(&format!("&namespace={}", encode("ns-1"))),
            "{q}"
        );
        assert!(
            q.contains("ns-1"),
            "the query itself is restricted too: {q}"
        );
    }
    let (status, body) = call(port, &query, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(!main_seen.lock().unwrap().is_empty());
    assert_eq!(dev_seen.lock().unwrap().len(), dev_queries.len());
}
