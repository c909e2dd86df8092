//! IPsec tracking (`ENABLE_IPSEC_TRACKING`) end to end: an ESP transport-mode association
//! between two namespaces (`ip xfrm` states and policies, AES-CBC + HMAC-SHA256), the agent
//! observing one end, its `/status` row and metrics, and the hook programs through the verifier.
//!
//! What each kernel allows decides the branch, never whether the test runs:
//! - where a method attaches (fentry/fexit or kprobe/kretprobe), the ESP flow the observed end
//!   receives must carry `ipsec_encrypted = 1` and return code 0;
//! - where neither attaches (this build machine: lockdown refuses fentry, no kprobes), the row
//!   must say so for both methods and the metrics must show them off, and the records carry no
//!   IPsec result;
//! - a kernel without ESP (`CONFIG_INET_ESP`; this build machine, which cannot load modules)
//!   refuses the states with "Requested type not found": the traffic part cannot run there, and
//!   the test says so in its output; everything else is still checked.
//!
//! Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_agent::Agent;
use netobserv_agent::config::{Config, NameMatcher};
use netobserv_agent::convert::{Clock, Enrichment, FlowBatch};
use netobserv_agent::hooks::HookState;
use netobserv_agent::tracer::Tracer;
use netobserv_agent_common::{AdditionalMetrics, FlowId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ENC_KEY: &str = "0x0123456789abcdef0123456789abcdef";
const AUTH_KEY: &str = "0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Adds the two ESP states (a → b with SPI 0x101, b → a with 0x102) and the policies of the end
/// whose address is `local`. Returns the kernel's refusal when it has no ESP.
fn esp_end(ns: &str, pair: &NetPair, local: &str) -> Result<(), String> {
    for (src, dst, spi) in [
        (pair.ip_a, pair.ip_b, "0x101"),
        (pair.ip_b, pair.ip_a, "0x102"),
    ] {
        let out = Command::new("ip")
            .args([
                "-n", ns, "xfrm", "state", "add", "src", src, "dst", dst, "proto", "esp",
            ])
            .args(["spi", spi, "reqid", "1", "mode", "transport"])
            .args([
                "enc",
                "cbc(aes)",
                ENC_KEY,
                "auth-trunc",
                "hmac(sha256)",
                AUTH_KEY,
                "128",
            ])
            .output()
            .expect("ip runs");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
    }
    let peer = if local == pair.ip_a {
        pair.ip_b
    } else {
        pair.ip_a
    };
    for (src, dst, dir) in [(local, peer, "out"), (peer, local, "in")] {
        run(&[
            "ip",
            "-n",
            ns,
            "xfrm",
            "policy",
            "add",
            "src",
            src,
            "dst",
            dst,
            "dir",
            dir,
            "tmpl",
            "src",
            src,
            "dst",
            dst,
            "proto",
            "esp",
            "reqid",
            "1",
            "mode",
            "transport",
        ]);
    }
    Ok(())
}

fn config(pair: &NetPair, port: u16) -> Config {
    Config {
        target_host: "127.0.0.1".into(),
        target_port: port,
        cache_active_timeout: Duration::from_millis(300),
        netns: Some(PathBuf::from(format!("/run/netns/{}", pair.ns_b))),
        interfaces: vec![NameMatcher::Exact(pair.veth_b.clone())],
        enable_ipsec_tracking: true,
        metrics_enable: true,
        metrics_server_address: "127.0.0.1".into(),
        metrics_server_port: 0,
        ..Config::default()
    }
}

fn status_row(addr: std::net::SocketAddr, hook: &str) -> serde_json::Value {
    let status = http_get(addr, "/status");
    let body = &status[status.find("\r\n\r\n").unwrap() + 4..];
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    doc["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hook"] == hook)
        .unwrap_or_else(|| panic!("no {hook} row: {doc}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn esp_traffic_status_and_records() {
    require_root();
    let pair = NetPair::new();
    let esp =
        esp_end(&pair.ns_a, &pair, pair.ip_a).and_then(|()| esp_end(&pair.ns_b, &pair, pair.ip_b));
    if let Err(why) = &esp {
        assert!(
            why.contains("Requested type not found"),
            "the kernel refused the ESP states for another reason: {why}"
        );
        eprintln!("this kernel has no ESP ({why}): the traffic part cannot run here");
    }
    let collector = TestCollector::start(0).await;
    let agent = Agent::start(config(&pair, collector.port))
        .await
        .expect("agent starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !agent.attached().iter().any(|(n, _)| *n == pair.veth_b) {
        assert!(Instant::now() < deadline, "{} never attached", pair.veth_b);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let addr = agent.metrics_addr().expect("metrics server");
    let row = status_row(addr, "IPsec");
    eprintln!("IPsec on this kernel: {row}");
    let off: Vec<&str> = row["methods_off"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    let metrics = http_get(addr, "/metrics");
    let active = row["active"] == true;
    if active {
        let mode = row["mode"].as_str().unwrap();
        assert!(["fentry", "kprobe"].contains(&mode), "{row}");
        assert!(
            metrics.contains(&format!(
                "ebpf_agent_hook_active{{hook=\"IPsec\",mode=\"{mode}\"}} 1"
            )),
            "{metrics}"
        );
    } else {
        // Both methods tried, each with the kernel's reason, and shown off in the metrics.
        assert_eq!(
            off,
            [
                "fentry+fexit/xfrm_input,xfrm_output",
                "kprobe+kretprobe/xfrm_input,xfrm_output"
            ],
            "{row}"
        );
        let reason = row["reason"].as_str().unwrap();
        assert!(
            reason.contains("fentry") && reason.contains("kprobe"),
            "{row}"
        );
        for mode in ["fentry+fexit", "kprobe+kretprobe"] {
            assert!(
                metrics.contains(&format!(
                    "ebpf_agent_hook_active{{hook=\"IPsec\",mode=\"{mode}\"}} 0"
                )),
                "{metrics}"
            );
        }
    }

    // Traffic: pings from a to b, ESP on the wire when the kernel has it.
    ns_run(&pair.ns_a, &["ping", "-c", "3", "-i", "0.05", pair.ip_b]);
    let want_proto = if esp.is_ok() { 50 } else { 1 };
    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        let found = collector.snapshot().into_iter().find(|r| {
            r.transport.as_ref().unwrap().protocol == want_proto
                && r.network
                    .as_ref()
                    .unwrap()
                    .dst_addr
                    .as_ref()
                    .unwrap()
                    .to_addr()
                    == Some(pair.ip_b.parse().unwrap())
        });
        if let Some(r) = found {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no protocol {want_proto} flow to {}: {:#?}",
            pair.ip_b,
            collector.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record.packets, 3, "{record:?}");
    if active && esp.is_ok() {
        // xfrm_input decrypted what the interface received.
        assert_eq!(record.ipsec_encrypted, 1, "{record:?}");
        assert_eq!(record.ipsec_encrypted_ret, 0, "{record:?}");
    } else {
        assert_eq!(
            (record.ipsec_encrypted, record.ipsec_encrypted_ret),
            (0, 0),
            "an IPsec result without an IPsec hook: {record:?}"
        );
    }
    agent.shutdown().await.expect("clean shutdown");
}

/// Both methods' programs through the verifier, whichever the kernel lets attach: a method may
/// be refused by the kernel (program type or lockdown), never by the verifier on its code; the
/// kprobe variant loads everywhere (attaching is what needs kprobes).
#[test]
fn ipsec_programs_pass_the_verifier_or_the_kernel_says_why() {
    require_root();
    let cfg = Config {
        enable_ipsec_tracking: true,
        cache_max_flows: 64,
        ..Config::default()
    };
    let (mut tracer, _maps) = Tracer::load(&cfg).expect("object loads");
    if let HookState::Active(mode) = &tracer.ipsec.state {
        eprintln!("IPsec active via {mode}; not reloading its programs");
        return;
    }
    let results = tracer.verify_ipsec_programs();
    assert_eq!(results.len(), 2);
    let mut loaded = 0;
    for (m, r) in &results {
        eprintln!("verifier load of {}: {r:?}", m.name);
        match r {
            Ok(()) => loaded += 1,
            Err(e) => assert!(
                !e.contains("invalid mem access")
                    && !e.contains("R1 ")
                    && !e.contains("unreachable insn")
                    && !e.contains("Verifier output"),
                "{}: the verifier rejected the program: {e}",
                m.name
            ),
        }
    }
    eprintln!("{loaded} of 2 IPsec methods pass the verifier on this kernel");
    // Loading a kprobe program needs no kprobe PMU (only attaching does): the verifier must
    // accept the shared bodies wherever BPF runs.
    let kprobe = results.iter().find(|(m, _)| m.mode == "kprobe").unwrap();
    assert!(kprobe.1.is_ok(), "kprobe variant refused: {:?}", kprobe.1);
}

/// The user-space half on any kernel: IPsec results written into `additional_flow_metrics` as
/// the return hooks write them (FlowRTT on, whose tp_btf hook attaches here, so the shared map
/// is drained) come out of the drain and into the records' `ipsec_encrypted` /
/// `ipsec_encrypted_ret`; an RTT-only entry carries no IPsec result.
#[test]
fn ipsec_results_in_the_shared_map_reach_the_records() {
    require_root();
    let cfg = Config {
        enable_rtt: true,
        enable_ipsec_tracking: true,
        cache_max_flows: 64,
        ..Config::default()
    };
    let (tracer, mut maps) = Tracer::load(&cfg).expect("object loads");
    if !tracer.rtt.is_active() && !tracer.ipsec.is_active() {
        panic!("neither FlowRTT nor IPsec attached: {:?}", tracer.rtt);
    }
    let flow = |sport: u16| FlowId {
        src_ip: v4_mapped("10.199.0.1"),
        dst_ip: v4_mapped("10.199.0.2"),
        src_port: sport,
        dst_port: 4500,
        transport_protocol: 17,
        ..FlowId::default()
    };
    let ok = AdditionalMetrics {
        start_mono_time_ts: 1,
        end_mono_time_ts: 2,
        eth_protocol: 0x0800,
        ipsec_encrypted: 1,
        ..AdditionalMetrics::default()
    };
    let failed = AdditionalMetrics {
        ipsec_encrypted: 0,
        ipsec_encrypted_ret: -22,
        ..ok
    };
    let rtt_only = AdditionalMetrics {
        ipsec_encrypted: 0,
        flow_rtt: 1_500_000,
        ..ok
    };
    for (sport, v) in [(1, ok), (2, failed), (3, rtt_only)] {
        maps.inject_additional(&flow(sport), v).expect("map write");
    }
    // The attached RTT hook also records whatever TCP the host carries meanwhile.
    let mut drained: Vec<_> = maps
        .drain_additional()
        .into_iter()
        .filter(|(id, _)| id.src_ip == flow(1).src_ip)
        .collect();
    drained.sort_by_key(|(id, _)| id.src_port);
    assert_eq!(
        drained,
        vec![(flow(1), ok), (flow(2), failed), (flow(3), rtt_only)]
    );
    let enrich: HashMap<_, _> = drained
        .into_iter()
        .map(|(id, a)| {
            let e = Enrichment {
                rtt: Some(a),
                ..Enrichment::default()
            };
            (id, e)
        })
        .collect();
    let mut batch = FlowBatch::new(
        Vec::new(),
        enrich,
        Clock::now(),
        Arc::new(HashMap::new()),
        pbflow::Ip::from_addr("192.0.2.1".parse().unwrap()),
    );
    let mut records = batch.next_chunk(10);
    records.sort_by_key(|r| r.transport.as_ref().unwrap().src_port);
    let got: Vec<(u32, i32)> = records
        .iter()
        .map(|r| (r.ipsec_encrypted, r.ipsec_encrypted_ret))
        .collect();
    assert_eq!(got, [(1, 0), (0, -22), (0, 0)]);
    assert_eq!(
        records[2].time_flow_rtt.as_ref().unwrap().nanos,
        1_500_000,
        "the RTT entry keeps its RTT"
    );
}
