//! Local mode with a kubeconfig: the addresses of the flows get Kubernetes metadata from the
//! cluster it names. The cluster is the workspace's strict fake API server (kube-apiserver's
//! wire contract: lists, watches, the status subresource; no kube-apiserver can run here) seeded
//! as a cluster fills up — a namespace, then a pod created through the API and its IP written
//! through the status subresource, as the kubelet does — whose IP is the far end of a veth pair
//! this test creates. UDP sent to that end must be stored (read by `sqlite3`) with the pod's
//! name, namespace and kind. A kubeconfig whose cluster does not answer is refused with
//! `--kubeconfig` and only noted when found by itself. Root only; fails (does not skip)
//! otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use netobserv_fake_apiserver::FakeApiServer;
use serde_json::json;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_addr() -> String {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string()
}

/// A cluster with pod `web-1` in namespace `shop` at `ip`.
fn cluster(rt: &tokio::runtime::Runtime, ip: &str) -> FakeApiServer {
    let fake = rt
        .block_on(FakeApiServer::start())
        .expect("fake API server");
    rt.block_on(async {
        let client = fake.client();
        let post = PostParams::default();
        Api::<Namespace>::all(client.clone())
            .create(
                &post,
                &serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap(),
            )
            .await
            .expect("namespace");
        let pods = Api::<Pod>::namespaced(client, "shop");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "shop"},
            "spec": {"nodeName": "node-a", "containers": [{"name": "web", "image": "web:1"}]}
        }))
        .unwrap();
        pods.create(&post, &pod).await.expect("pod");
        pods.patch_status(
            "web-1",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"hostIP": "172.18.0.2", "podIP": ip, "podIPs": [{"ip": ip}]}}),
            ),
        )
        .await
        .expect("pod status");
    });
    fake
}

#[test]
fn flows_to_a_pod_get_its_kubernetes_metadata() {
    require_root();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let peer = pair.ip_b.to_string();
    let fake = cluster(&rt, &peer);
    let dir = std::env::temp_dir().join(format!("netobserv-local-k8s-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).unwrap();
    let store = dir.join("flows.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-local"))
        .args(["--netns", &pair.path_a().display().to_string()])
        .args(["--interfaces", &pair.veth_a])
        .args(["--cache-active-timeout", "300ms"])
        .args(["--store", &store.display().to_string()])
        .args(["--console-address", "127.0.0.1:0"])
        .args(["--metrics-address", &free_addr()])
        .args(["--kubeconfig", &kubeconfig.display().to_string()])
        .args(["--duration", "30s"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_attached(
        &pair,
        Duration::from_secs(30),
        || child.try_wait().unwrap().is_none(),
        String::new,
    );
    udp_a_to_b(&pair, 9999, 5, 200);
    let query = format!(
        "SELECT DISTINCT DstK8S_Name || ' ' || DstK8S_Namespace || ' ' || DstK8S_Type || ' ' || DstK8S_HostName \
         FROM flow WHERE DstAddr = '{peer}' AND DstPort = 9999"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut found = String::new();
    while Instant::now() < deadline {
        found = sql(&store, &query);
        if !found.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        found,
        "web-1 shop Pod node-a",
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("Kubernetes metadata from {}", fake.url())),
        "{stdout}"
    );
    assert!(out.status.success(), "{stdout}");

    // A cluster that does not answer: refused when asked for, noted when found.
    drop(fake);
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_netobserv-local"));
        c.args(["--netns", &pair.path_a().display().to_string()])
            .args(["--interfaces", &pair.veth_a])
            .args(["--store", &store.display().to_string()])
            .args(["--console-address", "127.0.0.1:0"])
            .args(["--metrics-address", &free_addr()])
            .args(["--duration", "1s"])
            .args(extra);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run")
    };
    let k = kubeconfig.display().to_string();
    let refused = run(&["--kubeconfig", &k], &[]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains(&format!("--kubeconfig {k}")), "{err}");
    let noted = run(&[], &[("KUBECONFIG", &k)]);
    let said = String::from_utf8_lossy(&noted.stdout);
    assert!(noted.status.success(), "{said}");
    assert!(
        said.contains(&format!("no Kubernetes metadata: kubeconfig {k}")),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
