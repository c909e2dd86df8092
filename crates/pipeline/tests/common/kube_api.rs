//! A Kubernetes API server stand-in, for the parts of the API the pipeline uses: `/version`,
//! list + watch of Pods, Nodes, Services and ReplicaSets (metadata only), and GET of one
//! ConfigMap. No kube-apiserver can run here, so this follows the wire contract as a real one
//! enforces it, and refuses what a real one refuses:
//!
//! * every request needs `Authorization: Bearer <token>` (401 `Status` otherwise);
//! * only GET (405 otherwise); unknown paths are 404 `Status` objects, as the server sends them;
//! * a list answers a `...List` with `metadata.resourceVersion`, honours `limit` with a
//!   `continue` token, and refuses `watch` parameters it does not understand;
//! * a watch needs `watch=true` and a `resourceVersion` (the one the list returned, or later);
//!   it streams newline-delimited `WatchEvent`s, then closes after `timeoutSeconds`, as the real
//!   server does;
//! * ReplicaSets are answered as `PartialObjectMetadataList` only when the client asks for it in
//!   `Accept` (as kube's metadata watcher does), as full `ReplicaSetList` otherwise.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The objects served, by collection path.
#[derive(Clone, Default)]
pub struct Cluster {
    /// `/api/v1/pods` etc. → items.
    pub lists: HashMap<&'static str, Vec<Json>>,
    /// `namespace/name` → ConfigMap object.
    pub config_maps: HashMap<String, Json>,
}

/// The paths the pipeline lists and watches, with their list kinds.
pub const COLLECTIONS: [(&str, &str); 4] = [
    ("/api/v1/pods", "PodList"),
    ("/api/v1/nodes", "NodeList"),
    ("/api/v1/services", "ServiceList"),
    ("/apis/apps/v1/replicasets", "ReplicaSetList"),
];

/// Requests seen, for tests that check what the client asked.
pub type Log = Arc<Mutex<Vec<String>>>;

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code})
            .to_string(),
        ))
        .unwrap_or_default()
}

fn ok_json(v: &Json) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(v.to_string()))
        .unwrap_or_default()
}

fn query(request: &Request<Body>) -> HashMap<String, String> {
    request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.replace("%2C", ",").replace("%3D", "="))
        })
        .collect()
}

/// Resource version of the listings (every object is at it or below).
const LIST_VERSION: u64 = 100;

fn handle(cluster: &Cluster, token: &str, log: &Log, request: Request<Body>) -> Response<Body> {
    let path = request.uri().path().to_string();
    if let Ok(mut l) = log.lock() {
        l.push(format!(
            "{} {}",
            request.method(),
            request.uri().path_and_query().map_or("", |p| p.as_str())
        ));
    }
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {token}") {
        return status(401, "Unauthorized", "Unauthorized");
    }
    if request.method() != axum::http::Method::GET {
        return status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method",
        );
    }
    if path == "/version" {
        return ok_json(
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0",
            "gitCommit": "0", "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
        );
    }
    if let Some((namespace, name)) = path
        .strip_prefix("/api/v1/namespaces/")
        .and_then(|rest| rest.split_once("/configmaps/"))
    {
        return match cluster.config_maps.get(&format!("{namespace}/{name}")) {
            Some(cm) => ok_json(cm),
            None => status(404, "NotFound", &format!("configmaps \"{name}\" not found")),
        };
    }
    let Some((collection, list_kind)) = COLLECTIONS.iter().find(|(p, _)| *p == path) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    let q = query(&request);
    let known = [
        "watch",
        "resourceVersion",
        "resourceVersionMatch",
        "allowWatchBookmarks",
        "timeoutSeconds",
        "limit",
        "continue",
        "labelSelector",
        "fieldSelector",
        "sendInitialEvents",
    ];
    if let Some(bad) = q.keys().find(|k| !known.contains(&k.as_str())) {
        return status(400, "BadRequest", &format!("unknown query parameter {bad}"));
    }
    let accept = request
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let metadata_only = accept.contains("as=PartialObjectMetadataList");
    let items: Vec<Json> = cluster
        .lists
        .get(collection)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            if metadata_only {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"]})
            } else {
                item
            }
        })
        .collect();
    if q.get("watch").map(String::as_str) == Some("true") {
        let Some(version) = q.get("resourceVersion").and_then(|v| v.parse::<u64>().ok()) else {
            return status(
                400,
                "BadRequest",
                "a watch needs the resourceVersion of a list",
            );
        };
        if version > LIST_VERSION {
            return status(
                504,
                "Timeout",
                "Too large resource version: the server has not seen it",
            );
        }
        let timeout = q
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(1800);
        // Nothing changes in this cluster: the stream stays open until the timeout.
        let events = futures::stream::once(async move {
            tokio::time::sleep(std::time::Duration::from_secs(timeout)).await;
            Ok::<_, std::io::Error>(String::new())
        });
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(events))
            .unwrap_or_default();
    }
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let start: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let page: Vec<Json> = items.iter().skip(start).take(limit).cloned().collect();
    let next = start + page.len();
    let mut metadata = json!({"resourceVersion": LIST_VERSION.to_string()});
    if next < items.len() {
        metadata["continue"] = json!(next.to_string());
    }
    let (kind, api_version) = if metadata_only {
        ("PartialObjectMetadataList", "meta.k8s.io/v1")
    } else if *collection == "/apis/apps/v1/replicasets" {
        (*list_kind, "apps/v1")
    } else {
        (*list_kind, "v1")
    };
    ok_json(&json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": page}))
}

/// Serves `cluster` on `listener` (inside the current runtime) until the runtime stops.
pub fn serve(listener: tokio::net::TcpListener, cluster: Cluster, token: &str) -> Log {
    let log: Log = Arc::default();
    let token = token.to_string();
    let seen = log.clone();
    let app = axum::Router::new().fallback(move |request: Request<Body>| {
        let response = handle(&cluster, &token, &seen, request);
        std::future::ready(response)
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    log
}

/// A kubeconfig for a stand-in at `addr` with `token`.
pub fn kubeconfig(addr: std::net::SocketAddr, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster: {{server: 'http://{addr}'}}\nusers:\n- name: pipeline\n  user: {{token: {token}}}\ncontexts:\n- name: c\n  context: {{cluster: stand-in, user: pipeline}}\ncurrent-context: c\n"
    )
}

/// A small cluster: node `node-a` (10.0.0.1, zone `z1`), Deployment `web` → ReplicaSet
/// `web-5c8b` → Pod `web-5c8b-x7k2p` (10.128.0.17 on node-a) in namespace `shop`, Service `api`
/// (172.30.0.10) in `shop`.
pub fn small_cluster() -> Cluster {
    let mut lists: HashMap<&'static str, Vec<Json>> = HashMap::new();
    lists.insert(
        "/api/v1/nodes",
        vec![json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-a", "uid": "n1", "resourceVersion": "10",
                "labels": {"topology.kubernetes.io/zone": "z1"}},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
                {"type": "Hostname", "address": "node-a"}]}})],
    );
    lists.insert(
        "/api/v1/pods",
        vec![json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-5c8b-x7k2p", "namespace": "shop", "uid": "p1",
                "resourceVersion": "11",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-5c8b", "uid": "rs1", "controller": true}]},
            "spec": {"nodeName": "node-a", "containers": [{"name": "web", "image": "web"}]},
            "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.128.0.17",
                "podIPs": [{"ip": "10.128.0.17"}]}})],
    );
    lists.insert(
        "/api/v1/services",
        vec![json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "api", "namespace": "shop", "uid": "s1", "resourceVersion": "12"},
            "spec": {"clusterIP": "172.30.0.10", "clusterIPs": ["172.30.0.10"],
                "ports": [{"port": 443}]}})],
    );
    lists.insert(
        "/apis/apps/v1/replicasets",
        vec![json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-5c8b", "namespace": "shop", "uid": "rs1",
                "resourceVersion": "13",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": "web", "uid": "d1", "controller": true}]},
            "spec": {"selector": {"matchLabels": {"app": "web"}}}})],
    );
    Cluster {
        lists,
        config_maps: HashMap::new(),
    }
}

/// Checks `status` is an HTTP status the real server would send for a refused request.
pub fn is_refusal(code: StatusCode) -> bool {
    code.is_client_error()
}
