//! `EXPORT=direct-flp`: the agent binary runs the flowlogs pipeline of `FLP_CONFIG` in its own
//! process (no gRPC hop) and the pipeline's writer (`stdout`, JSON lines) prints the records,
//! enriched by the pipeline's `network` transform (subnets, subnet labels, TCP flag names).
//! Packet and byte counts of ICMP and TCP, in both directions, are checked against nftables
//! counters on the same veth; the test waits for the evidence with a deadline. Root only; fails
//! (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ETH_HLEN: u64 = 14;

/// Upstream's shape: the first stage follows `preset-ingester`, the agent's own flows.
const FLP_CONFIG: &str = r#"{
  "pipeline": [
    {"name": "enrich", "follows": "preset-ingester"},
    {"name": "out", "follows": "enrich"}
  ],
  "parameters": [
    {"name": "enrich", "transform": {"type": "network", "network": {
      "rules": [
        {"type": "add_subnet", "add_subnet": {"input": "SrcAddr", "output": "SrcSubnet", "subnet_mask": "/24"}},
        {"type": "add_subnet_label", "add_subnet_label": {"input": "DstAddr", "output": "DstSubnetLabel"}},
        {"type": "decode_tcp_flags", "decode_tcp_flags": {"input": "Flags", "output": "FlagNames"}}
      ],
      "subnetLabels": [{"name": "peer-b", "cidrs": ["10.199.0.2/32"]}, {"name": "peer-a", "cidrs": ["10.199.0.1/32"]}]
    }}},
    {"name": "out", "write": {"type": "stdout", "stdout": {"format": "json"}}}
  ]
}"#;

struct AgentProcess {
    child: Child,
    records: Arc<Mutex<Vec<serde_json::Value>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl AgentProcess {
    fn start(pair: &NetPair) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-ebpf-agent"))
            .env("EXPORT", "direct-flp")
            .env("FLP_CONFIG", FLP_CONFIG)
            .env("NETOBSERV_NETNS", pair.path_a())
            .env("INTERFACES", &pair.veth_a)
            .env("CACHE_ACTIVE_TIMEOUT", "200ms")
            .env("LOG_LEVEL", "info")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the agent binary");
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = records.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout carries only JSON records: {e}: {line}"));
                sink.lock().unwrap().push(value);
            }
        });
        let stderr_lines = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr_lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            records,
            stderr: stderr_lines,
        }
    }

    fn records(&self) -> Vec<serde_json::Value> {
        self.records.lock().unwrap().clone()
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// SIGTERM, then the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        // SAFETY: sending a signal to our own child process.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "agent did not exit on SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (SrcAddr, DstAddr, Proto, SrcPort, DstPort, IcmpType).
type Key = (String, String, i64, i64, i64, i64);

fn key(r: &serde_json::Value) -> Key {
    let s = |f: &str| r[f].as_str().unwrap_or_default().to_string();
    let n = |f: &str| r[f].as_i64().unwrap_or(0);
    (
        s("SrcAddr"),
        s("DstAddr"),
        n("Proto"),
        n("SrcPort"),
        n("DstPort"),
        n("IcmpType"),
    )
}

/// (packets, bytes) per key, summed over the records.
fn totals(records: &[serde_json::Value]) -> HashMap<Key, (u64, u64)> {
    let mut m = HashMap::new();
    for r in records {
        let e = m.entry(key(r)).or_insert((0, 0));
        e.0 += r["Packets"].as_u64().unwrap_or(0);
        e.1 += r["Bytes"].as_u64().unwrap_or(0);
    }
    m
}

#[test]
fn the_in_process_pipeline_writes_enriched_records_matching_nftables() {
    require_root();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let mut agent = AgentProcess::start(&pair);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tcx_programs(&pair, &pair.veth_a) < 2 {
        if let Some(status) = agent.child.try_wait().unwrap() {
            panic!("agent exited early: {status}\n{}", agent.log());
        }
        assert!(
            Instant::now() < deadline,
            "agent never attached:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (a, b) = (pair.ip_a, pair.ip_b);
    let nft = NftCounters::new(&pair.ns_a);
    let out = format!("oifname \"{}\" ip saddr {a} ip daddr {b}", pair.veth_a);
    let inn = format!("iifname \"{}\" ip saddr {b} ip daddr {a}", pair.veth_a);
    nft.add("icmp_out", "post", &format!("{out} icmp type echo-request"));
    nft.add("icmp_in", "pre", &format!("{inn} icmp type echo-reply"));
    nft.add("tcp_out", "post", &format!("{out} tcp dport 5201"));
    nft.add("tcp_in", "pre", &format!("{inn} tcp sport 5201"));

    ns_run(
        &pair.ns_a,
        &["ping", "-c", "5", "-i", "0.01", "-s", "300", b],
    );
    assert!(
        nc_tcp_transfer(&pair, "head -c 200000 /dev/zero", b, 5201, 5201),
        "TCP client failed"
    );
    let expected = |name: &str| {
        let (np, nb) = nft.get(name);
        assert!(np > 0, "nft counter {name} saw nothing");
        (np, nb + ETH_HLEN * np)
    };
    let icmp_out = expected("icmp_out");
    let icmp_in = expected("icmp_in");
    let tcp_out = expected("tcp_out");
    let tcp_in = expected("tcp_in");
    let icmp_out_key: Key = (a.into(), b.into(), 1, 0, 0, 8);
    let icmp_in_key: Key = (b.into(), a.into(), 1, 0, 0, 0);
    // The evictions every 200 ms bring the flows to the pipeline: wait until the writer
    // printed every counted packet, at most 20 s.
    let tcp_keys = |t: &HashMap<Key, (u64, u64)>| {
        let port = t
            .keys()
            .find(|k| k.2 == 6 && k.4 == 5201 && k.0 == a)
            .map(|k| k.3)?;
        Some((
            (a.to_string(), b.to_string(), 6, port, 5201, 0),
            (b.to_string(), a.to_string(), 6, 5201, port, 0),
        ))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let t = loop {
        let t = totals(&agent.records());
        let complete = t.get(&icmp_out_key) == Some(&icmp_out)
            && t.get(&icmp_in_key) == Some(&icmp_in)
            && tcp_keys(&t)
                .is_some_and(|(o, i)| t.get(&o) == Some(&tcp_out) && t.get(&i) == Some(&tcp_in));
        if complete || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        t.get(&icmp_out_key),
        Some(&icmp_out),
        "ICMP out vs nft: {t:?}"
    );
    assert_eq!(t.get(&icmp_in_key), Some(&icmp_in), "ICMP in vs nft: {t:?}");
    let (tcp_out_key, tcp_in_key) = tcp_keys(&t).expect("a TCP flow to 5201");
    assert_eq!(t.get(&tcp_out_key), Some(&tcp_out), "TCP out vs nft: {t:?}");
    assert_eq!(t.get(&tcp_in_key), Some(&tcp_in), "TCP in vs nft: {t:?}");

    // Enriched by the in-process pipeline, with the agent's fields decoded as upstream does.
    let records = agent.records();
    let echo = records
        .iter()
        .find(|r| key(r) == icmp_out_key)
        .expect("an echo request record");
    assert_eq!(echo["SrcSubnet"], "10.199.0.0/24", "{echo}");
    assert_eq!(echo["DstSubnetLabel"], "peer-b", "{echo}");
    assert_eq!(echo["Interfaces"][0], pair.veth_a.as_str(), "{echo}");
    assert!(
        echo["TimeFlowStartMs"].as_i64().is_some_and(|t| t > 0),
        "{echo}"
    );
    let reply = records
        .iter()
        .find(|r| key(r) == icmp_in_key)
        .expect("an echo reply record");
    assert_eq!(reply["DstSubnetLabel"], "peer-a", "{reply}");
    let syn = records
        .iter()
        .find(|r| key(r) == tcp_out_key)
        .expect("a TCP record");
    let flags: Vec<&str> = syn["FlagNames"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f.as_str()).collect())
        .unwrap_or_default();
    assert!(flags.contains(&"SYN"), "{syn}");

    let status = agent.stop();
    assert!(status.success(), "exit status {status}\n{}", agent.log());
    assert_eq!(
        tcx_programs(&pair, &pair.veth_a),
        0,
        "TCX programs left after SIGTERM"
    );
    let log = agent.log();
    assert!(
        log.contains("exporting to the in-process pipeline"),
        "{log}"
    );
    assert!(log.contains("in-process pipeline stopped"), "{log}");
}

/// A `FLP_CONFIG` the pipeline cannot run stops the agent at start with the reason, before any
/// hook is attached.
#[test]
fn a_bad_flp_config_is_refused_at_start() {
    require_root();
    let pair = NetPair::new();
    let out = Command::new(env!("CARGO_BIN_EXE_netobserv-ebpf-agent"))
        .env("EXPORT", "direct-flp")
        // A standalone pipeline's ingest: the embedded one is fed by the agent.
        .env(
            "FLP_CONFIG",
            r#"{"pipeline":[{"name":"in"},{"name":"out","follows":"in"}],"parameters":[{"name":"in","ingest":{"type":"grpc","grpc":{"port":2055}}},{"name":"out","write":{"type":"stdout"}}]}"#,
        )
        .env("NETOBSERV_NETNS", pair.path_a())
        .env("INTERFACES", &pair.veth_a)
        .env("LOG_LEVEL", "info")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("FLP_CONFIG"), "{stderr}");
    assert!(stderr.contains("preset-ingester"), "{stderr}");
    assert_eq!(tcx_programs(&pair, &pair.veth_a), 0);
}
