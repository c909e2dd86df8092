//! The agent binary as a process: it detaches everything and exports what it counted on
//! SIGTERM, and, started inside a named network namespace, it recognises that namespace as its
//! own. Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_detaches_everything_on_sigterm() {
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-ebpf-agent"))
        .env("TARGET_HOST", "127.0.0.1")
        .env("TARGET_PORT", collector.port.to_string())
        .env("NETOBSERV_NETNS", pair.path_a())
        .env("INTERFACES", &pair.veth_a)
        .env("CACHE_ACTIVE_TIMEOUT", "200ms")
        .env("LOG_LEVEL", "warn")
        .spawn()
        .expect("spawn the agent binary");
    let deadline = Instant::now() + Duration::from_secs(15);
    while tcx_programs(&pair, &pair.veth_a) < 2 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("agent exited early: {status}");
        }
        assert!(Instant::now() < deadline, "agent never attached");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ns_run(&pair.ns_a, &["ping", "-c", "3", "-i", "0.01", pair.ip_b]);
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "agent did not exit on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        tcx_programs(&pair, &pair.veth_a),
        0,
        "TCX programs left after SIGTERM"
    );
    assert!(
        collector
            .snapshot()
            .iter()
            .any(|r| r.icmp_type == 8 && r.packets > 0),
        "the pings were exported"
    );
}

/// Started inside a named network namespace (`ip netns exec`) with that namespace's directory
/// watched for secondary interfaces, the agent recognises the namespace as its own: its
/// interfaces are hooked once, and no second attach of the same programs fails (the watcher
/// used to hook them again and log `cannot attach classifiers ... bpf_mprog_attach failed` at
/// every such start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_inside_a_named_namespace_it_does_not_hook_it_twice() {
    require_root();
    let pair = NetPair::new();
    let log = std::env::temp_dir().join(format!("own-netns-{}.log", std::process::id()));
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &pair.ns_a,
            env!("CARGO_BIN_EXE_netobserv-ebpf-agent"),
        ])
        // Nothing listens there: this test is about attaching, not exporting.
        .env("TARGET_HOST", "127.0.0.1")
        .env("TARGET_PORT", "9")
        .env("INTERFACES", &pair.veth_a)
        .env("NETNS_DIRS", "/run/netns")
        .env("LOG_LEVEL", "info")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn the agent binary in namespace a");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(15);
    // Waits for this agent's own word that it attached: the TCX programs on the interface may
    // also come from another test's agent running in parallel that watches `/run/netns` too.
    let ready =
        |log: &str| log.contains("own network namespace") && log.contains("classifiers attached");
    while !ready(&read_log()) || tcx_programs(&pair, &pair.veth_a) < 2 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "agent exited early: {status}
{}",
                read_log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not recognise its own namespace:
{}",
            read_log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SAFETY: sending a signal to our own child process (`ip` execs the agent in place).
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "agent did not exit on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = read_log();
    let _ = std::fs::remove_file(&log);
    assert!(!text.contains("cannot attach"), "{text}");
    assert_eq!(
        text.matches("classifiers attached").count(),
        1,
        "hooked once:\n{text}"
    );
    assert!(
        text.contains(&format!("/run/netns/{}", pair.ns_a)),
        "names the namespace:\n{text}"
    );
}
