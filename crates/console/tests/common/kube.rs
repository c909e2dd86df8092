//! A stand-in for the two Kubernetes API calls the console's auth checks make, on their exact
//! wire contract (no kube-apiserver can run here): `POST
//! /apis/authentication.k8s.io/v1/tokenreviews` and `POST
//! /apis/authorization.k8s.io/v1/subjectaccessreviews`. Token `alice-token` is user `alice`,
//! `admin-token` is user `admin`; only `admin` may list namespaces, and `alice` may get pods in
//! namespace `ns-1` only. Any other token is refused as the API server refuses one
//! (`authenticated: false` with an error).

use axum::Json;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Requests received, as (path, body).
pub type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// Starts the stand-in; returns its port.
pub async fn start(log: Log) -> u16 {
    let l1 = log.clone();
    let app = axum::Router::new()
        .route(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            axum::routing::post(move |Json(body): Json<Value>| {
                let log = l1.clone();
                async move {
                    log.lock().unwrap().push(("tokenreviews".into(), body.clone()));
                    let token = body.pointer("/spec/token").and_then(Value::as_str).unwrap_or("");
                    let status = match token {
                        "alice-token" => json!({"authenticated": true, "user": {"username": "alice", "uid": "1", "groups": ["system:authenticated"]}}),
                        "admin-token" => json!({"authenticated": true, "user": {"username": "admin", "uid": "2", "groups": ["system:masters", "system:authenticated"]}}),
                        _ => json!({"authenticated": false, "error": "[invalid bearer token, token lookup failed]"}),
                    };
                    Json(json!({
                        "kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                        "metadata": {"creationTimestamp": null},
                        "spec": body.get("spec").cloned().unwrap_or(json!({})),
                        "status": status,
                    }))
                }
            }),
        )
        .route(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            axum::routing::post(move |Json(body): Json<Value>| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push(("subjectaccessreviews".into(), body.clone()));
                    let user = body.pointer("/spec/user").and_then(Value::as_str).unwrap_or("");
                    let wants = body.pointer("/spec/resourceAttributes").cloned().unwrap_or(json!({}));
                    let admin = user == "admin" && wants["verb"] == "list" && wants["resource"] == "namespaces";
                    // alice may look at namespace ns-1 (get its pods) and nothing else.
                    let alice_ns1 = user == "alice" && wants["verb"] == "get" && wants["resource"] == "pods" && wants["namespace"] == "ns-1";
                    let allowed = admin || alice_ns1;
                    Json(json!({
                        "kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                        "metadata": {"creationTimestamp": null},
                        "spec": body.get("spec").cloned().unwrap_or(json!({})),
                        "status": {"allowed": allowed},
                    }))
                }
            }),
        );
    super::serve(app).await
}

/// A kubeconfig pointing at the stand-in.
pub fn kubeconfig(port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\nusers:\n- name: fake\n  user: {{}}\n"
    )
}
