//! Secondary interfaces (Multus / SR-IOV style): the agent runs on the host, follows a
//! directory of named network namespaces, hooks an interface named `net1` when a namespace
//! holding one appears, names the flows after it, and lets go when the namespace is deleted,
//! without an error loop. The watched directory is private to this test (the agent's
//! `netns_dirs`), so namespaces other tests create concurrently under /run/netns do not matter.
//! Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_agent::Agent;
use netobserv_agent::config::{Config, NameMatcher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A namespace persisted as a file in a private directory (as a container runtime would), and
/// a peer namespace under /run/netns joined to it by a veth whose inner end is `net1`.
struct SecondaryNs {
    dir: PathBuf,
    file: PathBuf,
    peer: String,
}

impl SecondaryNs {
    fn dir() -> PathBuf {
        PathBuf::from(format!("/run/netobserv-test-netns-{}", std::process::id()))
    }

    fn create(name: &str) -> Self {
        let dir = Self::dir();
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let peer = format!("nsp{}{seq}", std::process::id() % 100_000);
        run(&["ip", "netns", "add", &peer]);
        std::fs::write(&file, b"").unwrap();
        run(&["unshare", &format!("--net={}", file.display()), "true"]);
        let s = Self { dir, file, peer };
        let peer_if = format!("p{}", &s.peer[3..]);
        s.exec(&[
            "ip", "link", "add", "net1", "type", "veth", "peer", "name", &peer_if, "netns", &s.peer,
        ]);
        s.exec(&["ip", "addr", "add", "10.198.0.1/24", "dev", "net1"]);
        s.exec(&["ip", "link", "set", "net1", "up"]);
        s.exec(&["ip", "link", "set", "lo", "up"]);
        ns_run(
            &s.peer,
            &["ip", "addr", "add", "10.198.0.2/24", "dev", &peer_if],
        );
        ns_run(&s.peer, &["ip", "link", "set", &peer_if, "up"]);
        s
    }

    fn exec(&self, args: &[&str]) {
        let mut v = vec![
            "nsenter".to_string(),
            format!("--net={}", self.file.display()),
        ];
        v.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        run(&refs);
    }

    /// Deletes the namespace file the way `ip netns del` does (unmount, unlink).
    fn delete(&self) {
        let _ = Command::new("umount")
            .arg(&self.file)
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_file(&self.file);
    }
}

impl Drop for SecondaryNs {
    fn drop(&mut self) {
        self.delete();
        let _ = std::fs::remove_dir(&self.dir);
        let _ = Command::new("ip")
            .args(["netns", "del", &self.peer])
            .status();
    }
}

fn metric(text: &str, prefix: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn net1_in_a_new_namespace_is_hooked_named_and_released() {
    require_root();
    let dir = SecondaryNs::dir();
    std::fs::create_dir_all(&dir).unwrap();
    let collector = TestCollector::start(0).await;
    let cfg = Config {
        target_host: "127.0.0.1".into(),
        target_port: collector.port,
        cache_active_timeout: Duration::from_millis(300),
        interfaces: vec![NameMatcher::Exact("net1".into())],
        netns_dirs: vec![dir.clone()],
        metrics_enable: true,
        metrics_server_address: "127.0.0.1".into(),
        metrics_server_port: 0,
        ..Config::default()
    };
    // On the host (no NETOBSERV_NETNS), like a privileged agent.
    let agent = Agent::start(cfg).await.expect("agent starts");
    let addr = agent.metrics_addr().unwrap();

    // The namespace appears after the agent started.
    let ns = SecondaryNs::create("pod-a");
    let key = format!("{}:net1", ns.file.display());
    wait_until("net1 attached", 15, || {
        agent.attached().iter().any(|(k, _)| *k == key)
    })
    .await;
    // /status follows right after the attach.
    let want = format!(
        "{{\"name\":\"net1\",\"mode\":\"tcx\",\"netns\":\"{}\"}}",
        ns.file.display()
    );
    wait_until("net1 in /status", 5, || {
        http_get(addr, "/status").contains(&want)
    })
    .await;

    ns.exec(&["ping", "-c", "3", "-i", "0.1", "10.198.0.2"]);
    wait_until("ICMP flows on net1", 10, || {
        collector.snapshot().iter().any(|r| {
            let n = r.network.as_ref().unwrap();
            n.src_addr.as_ref().unwrap().to_addr() == Some("10.198.0.1".parse().unwrap())
                && r.icmp_type == 8
        })
    })
    .await;
    for r in collector.snapshot() {
        let n = r.network.as_ref().unwrap();
        let src = n.src_addr.as_ref().unwrap().to_addr().unwrap().to_string();
        if src == "10.198.0.1" || src == "10.198.0.2" {
            assert_eq!(
                r.dup_list[0].interface, "net1",
                "flows carry the name inside the namespace: {r:?}"
            );
        }
    }

    // Deleting the namespace: hooks released, status updated, no error loop, and the namespace
    // really goes away (the agent holds no reference on it: the veth peer disappears).
    let before = http_get(addr, "/metrics");
    let errors_before = metric(&before, "ebpf_agent_errors_total");
    ns.delete();
    wait_until("net1 forgotten", 10, || {
        !agent.attached().iter().any(|(k, _)| *k == key)
    })
    .await;
    wait_until("net1 gone from /status", 5, || {
        !http_get(addr, "/status").contains("\"net1\"")
    })
    .await;
    let peer_if = format!("p{}", &ns.peer[3..]);
    wait_until("the namespace to be destroyed", 10, || {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.peer, "ip", "link", "show", &peer_if])
            .output()
            .unwrap();
        !out.status.success()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = http_get(addr, "/metrics");
    let errors_after = metric(&after, "ebpf_agent_errors_total");
    assert!(
        errors_after <= errors_before + 1,
        "error count grew after the namespace went: {errors_before} -> {errors_after}\n{after}"
    );
    assert!(
        metric(
            &after,
            "ebpf_agent_interface_events_total{type=\"netns_gone\"}"
        ) >= 1,
        "{after}"
    );
    // A second namespace still works after the first one went.
    let ns2 = SecondaryNs::create("pod-b");
    let key2 = format!("{}:net1", ns2.file.display());
    wait_until("net1 of the second namespace attached", 15, || {
        agent.attached().iter().any(|(k, _)| *k == key2)
    })
    .await;
    agent.shutdown().await.expect("clean shutdown");
    assert!(Path::new(&ns2.file).exists());
}
