//! The small cluster the pipeline's binary tests enrich from, served by the strict fake API
//! server (`netobserv-fake-apiserver`) with a bearer token, as a pod's service account reaches a
//! real one: node `node-a` (10.0.0.1, zone `z1`), Deployment `web` → ReplicaSet `web-5c8b` → Pod
//! `web-5c8b-x7k2p` (10.128.0.17 on node-a) in namespace `shop`, Service `api` (172.30.0.10) in
//! `shop`, plus the ConfigMaps a test adds (the operator's dynamic pipeline configuration).
//!
//! Objects go through the server's checks (`create`), with owner references naming the real
//! uids (the fake collects orphans as a cluster's garbage collector does); only the status a
//! kubelet or controller would write is stored as such.

use netobserv_fake_apiserver::{FakeApiServer, Options};
use serde_json::{Value as Json, json};
use std::net::SocketAddr;

/// The service account token the tests' kubeconfigs carry.
pub const TOKEN: &str = "t0ken";

/// A kubeconfig for the server a test starts later at `addr`.
pub fn kubeconfig(addr: SocketAddr) -> String {
    netobserv_fake_apiserver::kubeconfig(&format!("http://{addr}"), Some(TOKEN))
}

/// Starts the fake at `addr` (inside a tokio runtime) holding the small cluster and
/// `config_maps`.
pub async fn serve(addr: SocketAddr, config_maps: Vec<Json>) -> FakeApiServer {
    let server = FakeApiServer::start_with(Options {
        addr: Some(addr),
        bearer_token: Some(TOKEN.to_string()),
    })
    .await
    .expect("the fake API server starts");
    seed(&server, config_maps);
    server
}

fn uid(created: &Json) -> String {
    created["metadata"]["uid"]
        .as_str()
        .expect("the server sets a uid")
        .to_string()
}

fn create(server: &FakeApiServer, obj: Json) -> Json {
    let what = format!("{} {}", obj["kind"], obj["metadata"]["name"]);
    server
        .create(obj)
        .unwrap_or_else(|e| panic!("{what} refused: {e}"))
}

/// The object with `status` set, as its controller (kubelet, endpoints) would.
fn with_status(server: &FakeApiServer, created: Json, status: Json) {
    let mut obj = created;
    obj["status"] = status;
    server.insert_raw(obj).expect("status stored");
}

fn seed(server: &FakeApiServer, config_maps: Vec<Json>) {
    for ns in ["shop", "netobserv"] {
        create(
            server,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    let node = create(
        server,
        json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-a", "labels": {"topology.kubernetes.io/zone": "z1"}}}),
    );
    with_status(
        server,
        node,
        json!({"addresses": [{"type": "InternalIP", "address": "10.0.0.1"},
            {"type": "Hostname", "address": "node-a"}]}),
    );
    let template = json!({"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "web"}]}});
    let deployment = create(
        server,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}}),
    );
    let replica_set = create(
        server,
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-5c8b", "namespace": "shop", "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": "web", "uid": uid(&deployment), "controller": true}]},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template}}),
    );
    let pod = create(
        server,
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-5c8b-x7k2p", "namespace": "shop", "labels": {"app": "web"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web-5c8b", "uid": uid(&replica_set), "controller": true}]},
            "spec": {"nodeName": "node-a", "containers": [{"name": "web", "image": "web"}]}}),
    );
    with_status(
        server,
        pod,
        json!({"phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.128.0.17",
            "podIPs": [{"ip": "10.128.0.17"}]}),
    );
    create(
        server,
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {"clusterIP": "172.30.0.10", "clusterIPs": ["172.30.0.10"],
                "ports": [{"port": 443}]}}),
    );
    for mut cm in config_maps {
        // The rendered ConfigMaps are owned by the FlowCollector, which is not installed here:
        // the fake (as a cluster's garbage collector) would delete them as orphans.
        if let Some(meta) = cm["metadata"].as_object_mut() {
            meta.remove("ownerReferences");
        }
        create(server, cm);
    }
}
