//! Helpers shared by the CLI's integration tests.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, missing_docs)]

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kubectl_netobserv::render::COLLECTOR;
use netobserv_fake_apiserver::FakeApiServer;
use serde_json::json;

/// The strict fake API server with namespace `ns` and a collector pod in `phase` (its status
/// written through the status subresource, as the kubelet does).
pub async fn cluster_with_collector(ns: &str, phase: &str) -> FakeApiServer {
    let fake = FakeApiServer::start().await.expect("fake API server");
    fake.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .expect("namespace");
    fake.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": COLLECTOR, "namespace": ns},
        "spec": {"containers": [{"name": COLLECTOR, "image": "cli:v1"}]},
    }))
    .expect("pod");
    let pods: Api<Pod> = Api::namespaced(fake.client(), ns);
    pods.patch_status(
        COLLECTOR,
        &PatchParams::apply("kubelet").force(),
        &Patch::Apply(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": COLLECTOR},
            "status": {"phase": phase},
        })),
    )
    .await
    .expect("pod status");
    fake
}

/// The flows / packets table drawn into ratatui's `TestBackend` (200 x 12), one string per
/// line without its trailing blanks.
pub fn screen(app: &kubectl_netobserv::tui::App) -> Vec<String> {
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 12)).expect("terminal");
    terminal
        .draw(|f| kubectl_netobserv::tui::draw(f, app))
        .expect("draws");
    let buffer = terminal.backend().buffer().clone();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
}
