//! `make run` (local mode, first version) end to end, confined to network namespaces this test
//! creates: `scripts/run-local.sh` starts the real agent and pipeline binaries, traffic is sent
//! inside the namespace, and the enriched flow shows up as a row of the printed table. Root only;
//! fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The pipeline binary next to the agent's, built if this test runs without the rest of the
/// workspace.
fn bin_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_netobserv-ebpf-agent"))
        .parent()
        .expect("binary dir")
        .to_path_buf();
    if !dir.join("netobserv-pipeline").exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "netobserv-pipeline",
                "--bin",
                "netobserv-pipeline",
            ])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cannot build the pipeline binary");
    }
    dir
}

#[test]
fn make_run_prints_the_flows_of_the_observed_namespace() {
    require_root();
    let pair = NetPair::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let child = Command::new("bash")
        .arg(root.join("scripts/run-local.sh"))
        .current_dir(&root)
        .env("BIN_DIR", bin_dir())
        .env("NETOBSERV_NETNS", pair.path_a())
        .env("INTERFACES", &pair.veth_a)
        .env("CACHE_ACTIVE_TIMEOUT", "500ms")
        // The run's length bounds the test; the pings go as soon as the agent is attached.
        .env("RUN_DURATION", "12")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run-local.sh starts");
    let mut child = child;
    let deadline = Instant::now() + Duration::from_secs(12);
    while tcx_programs(&pair, &pair.veth_a) < 2 {
        if let Some(status) = child.try_wait().expect("run-local.sh state") {
            panic!("run-local.sh ended before the agent attached: {status}");
        }
        assert!(Instant::now() < deadline, "the agent never attached");
        std::thread::sleep(Duration::from_millis(50));
    }
    ns_run(&pair.ns_a, &["ping", "-c", "4", "-i", "0.1", pair.ip_b]);
    let output = child.wait_with_output().expect("run-local.sh ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {}: {stderr}", output.status);
    assert!(
        stdout.starts_with("TIME(UTC)"),
        "no table header:\n{stdout}\n{stderr}"
    );
    // The pings may straddle two eviction periods: add up the rows of that flow.
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.contains(" ICMP ")
                && l.contains(pair.ip_a)
                && l.contains(&format!("{}(out)", pair.veth_a))
        })
        .collect();
    assert!(
        !rows.is_empty(),
        "no ICMP row from {}:\n{stdout}\n{stderr}",
        pair.ip_a
    );
    let (mut bytes, mut packets) = (0u64, 0u64);
    for row in &rows {
        // TIME IFACE(DIR) PROTO SOURCE DESTINATION BYTES PKTS ...
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(columns[3], pair.ip_a, "{row}");
        assert_eq!(columns[4], pair.ip_b, "{row}");
        bytes += columns[5].parse::<u64>().expect("bytes column");
        packets += columns[6].parse::<u64>().expect("packets column");
    }
    assert_eq!(packets, 4, "4 echo requests: {rows:#?}");
    assert_eq!(bytes, 4 * 98, "4 x 98-byte frames: {rows:#?}");
    let row = rows[0];
    assert!(
        row.contains("src=private dst=private"),
        "subnet labels: {row}"
    );
}
