//! `authCheck` modes end to end: the API answers 401 without a token or with one the API server
//! refuses, serves an authenticated user in `authenticated` mode, answers 403 naming the user
//! in `admin` mode unless the user may list namespaces, and `/role` tells admin from dev. The
//! reviews go to a stand-in for the two Kubernetes API calls (see `common/kube.rs`).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::call;

use netobserv_console::api::{AppState, router};
use netobserv_console::auth::Reviewer;
use netobserv_console::config::{AuthCheck, Config};
use std::sync::Arc;

async fn console(mode: AuthCheck, kube_port: u16, store: &std::path::Path) -> u16 {
    let config = Config::parse(&format!("store:\n  path: {}\n", store.display())).expect("config");
    let mut state = AppState::new(&config).expect("state");
    state.auth = mode;
    let kube_config = kube::Config::new(
        format!("http://127.0.0.1:{kube_port}")
            .parse()
            .expect("url"),
    );
    state.reviewer = Some(Reviewer::new(
        kube::Client::try_from(kube_config).expect("client"),
    ));
    common::serve(router(Arc::new(state))).await
}

#[tokio::test]
async fn authenticated_and_admin_modes() {
    let dir = std::env::temp_dir().join(format!("console-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = dir.join("flows.db");
    netobserv_flowstore::Store::open(&store, netobserv_flowstore::StoreOptions::default())
        .expect("store");
    let log = common::kube::Log::default();
    let kube_port = common::kube::start(log.clone()).await;

    let port = console(AuthCheck::Authenticated, kube_port, &store).await;
    let (status, body) = call(port, "/api/status", None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("bearer token is required"), "{body}");
    let (status, body) = call(port, "/api/status", Some("stolen")).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid bearer token"), "{body}");
    let (status, body) = call(port, "/api/status", Some("alice-token")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        call(port, "/role", Some("alice-token")).await,
        (200, "dev".into())
    );
    assert_eq!(
        call(port, "/role", Some("admin-token")).await,
        (200, "admin".into())
    );
    let (status, body) = call(port, "/api/loki/config/limits", Some("alice-token")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("for admins only"), "{body}");
    // The review carried the token, and the access review asked about listing namespaces.
    let seen = log.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|(p, b)| p == "tokenreviews" && b["spec"]["token"] == "alice-token")
    );
    assert!(seen.iter().any(|(p, b)| p == "subjectaccessreviews"
        && b["spec"]["user"] == "admin"
        && b["spec"]["resourceAttributes"]["resource"] == "namespaces"));
    // Verdicts are cached: the same token again costs no review.
    let before = log.lock().unwrap().len();
    let _ = call(port, "/api/status", Some("alice-token")).await;
    assert_eq!(log.lock().unwrap().len(), before);

    let port = console(AuthCheck::Admin, kube_port, &store).await;
    let (status, body) = call(port, "/api/status", Some("alice-token")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("user alice is not an admin"), "{body}");
    assert_eq!(call(port, "/api/status", Some("admin-token")).await.0, 200);

    let port = console(AuthCheck::DenyAll, kube_port, &store).await;
    let (status, body) = call(port, "/api/status", Some("admin-token")).await;
    assert_eq!(status, 403);
    assert!(body.contains("denyAll"), "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}
