//! `copy` against the strict fake API server's `pods/exec` (crates/fake-apiserver: the
//! WebSocket remote-command protocol kube-apiserver speaks, with its checks: the pod exists,
//! runs, the container is the pod's). No kubelet runs here, so the fake's per-pod handler
//! stands in for the container runtime: it runs this crate's real binary, `export-output`, on a
//! directory of real capture files, and `copy` must bring back the same bytes.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use kubectl_netobserv::cluster::{self, ClusterError};
use kubectl_netobserv::render::{COLLECTOR, COLLECTOR_OUTPUT};
use netobserv_fake_apiserver::{ExecOutput, FakeApiServer};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const NS: &str = "cap";

/// The fake with the namespace and a collector pod in `phase`.
async fn cluster_with_collector(phase: &str) -> FakeApiServer {
    common::cluster_with_collector(NS, phase).await
}

/// Runs the real binary for the collector container, `--dir=/output` pointing at `dir`.
fn kubelet(dir: PathBuf) -> impl Fn(&netobserv_fake_apiserver::ExecRequest) -> ExecOutput {
    move |req| {
        let args: Vec<String> = req
            .command
            .iter()
            .skip(1)
            .map(|a| {
                a.replace(
                    &format!("={COLLECTOR_OUTPUT}"),
                    &format!("={}", dir.display()),
                )
            })
            .collect();
        assert_eq!(req.command[0], "/kubectl-netobserv", "the image's binary");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-netobserv"))
            .args(&args)
            .output()
            .expect("runs");
        ExecOutput {
            stdout: out.stdout,
            stderr: out.stderr,
            exit_code: out.status.code().unwrap_or(1),
        }
    }
}

/// Every file below `dir` by relative path, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("below").display().to_string();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netobserv-copy-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_brings_back_the_collectors_files_byte_for_byte() {
    let fake = cluster_with_collector("Running").await;
    let remote = temp("remote");
    std::fs::create_dir_all(remote.join("flow")).unwrap();
    std::fs::create_dir_all(remote.join("pcap")).unwrap();
    std::fs::write(
        remote.join("flow/2026-12-05T06_00_00Z.json"),
        b"{\"Bytes\":66}\n",
    )
    .unwrap();
    // A binary file larger than one WebSocket frame of the fake (32 KiB) and not a multiple
    // of tar's 512-byte blocks.
    let pcap: Vec<u8> = (0..200_003u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(remote.join("pcap/2026-12-05T06_00_00Z.pcapng"), &pcap).unwrap();
    fake.on_exec(NS, COLLECTOR, kubelet(remote.clone()));

    let local = temp("local");
    let written = cluster::copy(&fake.client(), NS, &local.join("output"))
        .await
        .expect("copies");
    assert_eq!(files(&local.join("output")), files(&remote));
    let mut names: Vec<String> = written
        .iter()
        .map(|p| {
            p.strip_prefix(local.join("output"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "flow/2026-12-05T06_00_00Z.json",
            "pcap/2026-12-05T06_00_00Z.pcapng"
        ]
    );
    let _ = std::fs::remove_dir_all(&remote);
    let _ = std::fs::remove_dir_all(&local);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_reports_why_it_got_nothing() {
    // The collector has written nothing: the export fails in the pod, its stderr comes home.
    let fake = cluster_with_collector("Running").await;
    fake.on_exec(
        NS,
        COLLECTOR,
        kubelet(PathBuf::from("/nonexistent/netobserv-output")),
    );
    let local = temp("nothing");
    let err = cluster::copy(&fake.client(), NS, &local)
        .await
        .expect_err("nothing to copy");
    let text = err.to_string();
    assert!(matches!(err, ClusterError::Copy(_)), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    assert!(files(&local).is_empty());

    // A pod that does not run cannot be exec'd into: refused before any stream.
    let pending = cluster_with_collector("Pending").await;
    let err = cluster::copy(&pending.client(), NS, &local)
        .await
        .expect_err("pod not running");
    assert!(matches!(err, ClusterError::Api { .. }), "{err}");

    // No capture in that namespace at all.
    let err = cluster::copy(&pending.client(), "elsewhere", &local)
        .await
        .expect_err("no pod");
    assert!(
        err.to_string().contains("exec into pod elsewhere/"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&local);
}

#[test]
fn unpacking_never_writes_outside_the_destination() {
    let mut header = tar::Header::new_old();
    let name = b"../escaped";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(3);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut stream = Vec::new();
    {
        let mut b = tar::Builder::new(&mut stream);
        b.append(&header, &b"bad"[..]).unwrap();
        b.finish().unwrap();
    }
    let root = temp("escape");
    let dest = root.join("output");
    let written = kubectl_netobserv::transfer::unpack(stream.as_slice(), &dest).expect("unpacks");
    assert!(written.is_empty(), "{written:?}");
    assert!(!root.join("escaped").exists());
    let _ = std::fs::remove_dir_all(&root);
}
