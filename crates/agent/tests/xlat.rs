//! PacketTranslation end to end: a Kubernetes-like ClusterIP (10.96.0.10:80) DNAT-ed by nftables
//! to a backend (10.199.0.2:8080) in the server namespace, in conntrack zone 7; the agent
//! observes that namespace and the exported flow to the service carries the backend in its Xlat
//! fields; the same for a ping to a translated address (ICMP). Also: which kernel methods this kernel accepts (verifier load) and the kernel-map
//! path fed from user space. Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_agent::config::{Config, NameMatcher};
use netobserv_agent::convert::{Clock, Enrichment, FlowBatch};
use netobserv_agent::hooks::HookState;
use netobserv_agent::tracer::Tracer;
use netobserv_agent::{Agent, xlat};
use netobserv_agent_common::{FlowId, XlatMetrics};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERVICE: &str = "10.96.0.10";
const ZONE: u32 = 7;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Namespace `b` becomes a "node" with a ClusterIP service: every connection is in conntrack
/// zone 7, and 10.96.0.10:80 is DNAT-ed to the local backend 10.199.0.2:8080. Namespace `a`
/// routes the service range through `b`.
fn service_setup(pair: &NetPair) {
    nft(
        &pair.ns_b,
        &format!(
            "table ip netobserv_xlat {{\n\
             chain raw_pre {{ type filter hook prerouting priority -300; ct zone set {ZONE}; }}\n\
             chain raw_out {{ type filter hook output priority -300; ct zone set {ZONE}; }}\n\
             chain nat_pre {{ type nat hook prerouting priority -100; \
                ip daddr {SERVICE} tcp dport 80 dnat to {}:8080; }}\n}}\n",
            pair.ip_b
        ),
    );
    ns_run(
        &pair.ns_a,
        &["ip", "route", "add", "10.96.0.0/16", "via", pair.ip_b],
    );
}

fn config(pair: &NetPair, port: u16) -> Config {
    Config {
        target_host: "127.0.0.1".into(),
        target_port: port,
        cache_active_timeout: Duration::from_millis(300),
        netns: Some(PathBuf::from(format!("/run/netns/{}", pair.ns_b))),
        interfaces: vec![NameMatcher::Exact(pair.veth_b.clone())],
        enable_pkt_translation: true,
        metrics_enable: true,
        metrics_server_address: "127.0.0.1".into(),
        metrics_server_port: 0,
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_to_a_cluster_ip_carries_the_backend_in_xlat() {
    require_root();
    let pair = NetPair::new();
    service_setup(&pair);
    let collector = TestCollector::start(0).await;
    let agent = Agent::start(config(&pair, collector.port))
        .await
        .expect("agent starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !agent.attached().iter().any(|(n, _)| *n == pair.veth_b) {
        assert!(Instant::now() < deadline, "{} never attached", pair.veth_b);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Whatever method this kernel allows, /status says which and why the others are off.
    let addr = agent.metrics_addr().expect("metrics server");
    let status = http_get(addr, "/status");
    let body = &status[status.find("\r\n\r\n").unwrap() + 4..];
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    let row = doc["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hook"] == "PacketTranslation")
        .expect("PacketTranslation row")
        .clone();
    assert_eq!(row["active"], true, "{row}");
    let mode = row["mode"].as_str().unwrap().to_string();
    let off: Vec<&str> = row["methods_off"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(off.len(), 2, "two methods not in use: {row}");
    eprintln!("PacketTranslation on this kernel: {row}");
    let metrics = http_get(addr, "/metrics");
    assert!(
        metrics.contains(&format!(
            "ebpf_agent_hook_active{{hook=\"PacketTranslation\",mode=\"{mode}\"}} 1"
        )),
        "{metrics}"
    );

    // A backend on 8080 and a client connecting to the service address.
    assert!(
        nc_tcp_transfer(&pair, "echo hello", SERVICE, 80, 8080),
        "client could not reach the service"
    );

    // The client → service flow (as seen on the node's interface, before DNAT).
    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        let found = collector.snapshot().into_iter().find(|r| {
            let n = r.network.as_ref().unwrap();
            let t = r.transport.as_ref().unwrap();
            n.dst_addr.as_ref().unwrap().to_addr() == Some(ip(SERVICE))
                && t.dst_port == 80
                && r.xlat.is_some()
        });
        if let Some(r) = found {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no flow to {SERVICE}:80 with Xlat: {:#?}",
            collector.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let net = record.network.as_ref().unwrap();
    let tr = record.transport.as_ref().unwrap();
    assert_eq!(
        net.src_addr.as_ref().unwrap().to_addr(),
        Some(ip(pair.ip_a))
    );
    assert_eq!(tr.protocol, 6);
    assert_eq!(record.dup_list[0].interface, pair.veth_b);
    let x = record.xlat.as_ref().unwrap();
    assert_eq!(x.src_addr.as_ref().unwrap().to_addr(), Some(ip(pair.ip_a)));
    assert_eq!(x.dst_addr.as_ref().unwrap().to_addr(), Some(ip(pair.ip_b)));
    assert_eq!(x.src_port, tr.src_port, "no SNAT: same client port");
    assert_eq!(x.dst_port, 8080);
    assert_eq!(x.zone_id, ZONE);
    // Flows that were not translated carry no Xlat.
    for r in collector.snapshot() {
        let t = r.transport.as_ref().unwrap();
        if t.dst_port != 80 && t.src_port != 80 {
            assert!(r.xlat.is_none(), "untranslated flow with Xlat: {r:?}");
        }
    }
    if mode == "conntrack" {
        let metrics = http_get(addr, "/metrics");
        assert!(
            metrics.contains("ebpf_agent_xlat_conntrack_events_total{kind=\"learnt\"} 1"),
            "one translated connection learnt: {metrics}"
        );
    }
    agent.shutdown().await.expect("clean shutdown");
}

/// A ping to an address DNAT-ed (any protocol) to the server's own address, in zone 7: the
/// echo-request flow, keyed by ICMP type and code like every ICMP flow, carries the server in
/// its Xlat fields, without ports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_to_a_translated_address_carries_xlat() {
    require_root();
    const ALIAS: &str = "10.96.0.11";
    let pair = NetPair::new();
    nft(
        &pair.ns_b,
        &format!(
            "table ip netobserv_xlat_icmp {{\n\
             chain raw_pre {{ type filter hook prerouting priority -300; ct zone set {ZONE}; }}\n\
             chain raw_out {{ type filter hook output priority -300; ct zone set {ZONE}; }}\n\
             chain nat_pre {{ type nat hook prerouting priority -100; \
                ip daddr {ALIAS} dnat to {}; }}\n}}\n",
            pair.ip_b
        ),
    );
    ns_run(
        &pair.ns_a,
        &["ip", "route", "add", "10.96.0.0/16", "via", pair.ip_b],
    );
    let collector = TestCollector::start(0).await;
    let agent = Agent::start(config(&pair, collector.port))
        .await
        .expect("agent starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !agent.attached().iter().any(|(n, _)| *n == pair.veth_b) {
        assert!(Instant::now() < deadline, "{} never attached", pair.veth_b);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ns_run(&pair.ns_a, &["ping", "-c", "3", "-i", "0.05", ALIAS]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let record = loop {
        let found = collector.snapshot().into_iter().find(|r| {
            let n = r.network.as_ref().unwrap();
            n.dst_addr.as_ref().unwrap().to_addr() == Some(ip(ALIAS))
                && r.transport.as_ref().unwrap().protocol == 1
                && r.xlat.is_some()
        });
        if let Some(r) = found {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no ICMP flow to {ALIAS} with Xlat: {:#?}",
            collector.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record.icmp_type, 8, "the echo request flow");
    assert_eq!(record.packets, 3);
    let x = record.xlat.as_ref().unwrap();
    assert_eq!(x.src_addr.as_ref().unwrap().to_addr(), Some(ip(pair.ip_a)));
    assert_eq!(x.dst_addr.as_ref().unwrap().to_addr(), Some(ip(pair.ip_b)));
    assert_eq!((x.src_port, x.dst_port, x.zone_id), (0, 0, ZONE));
    agent.shutdown().await.expect("clean shutdown");
}

#[test]
fn kernel_programs_verifier_load_or_report_why_not() {
    require_root();
    // Filter rules (one with its own sampling) and sampling on: the hook's filter and sampling
    // paths are live code for the verifier (with them off, read-only globals prune them).
    let cfg = Config {
        enable_pkt_translation: true,
        cache_max_flows: 64,
        sampling: 50,
        flow_filter_rules: netobserv_agent::filter::parse_rules(
            r#"[{"ip_cidr": "10.96.0.0/16", "action": "Accept", "sample": 10}, {"ip_cidr": "0.0.0.0/0", "action": "Reject", "protocol": "ICMP", "icmp_type": 8}]"#,
        )
        .expect("rules parse"),
        ..Config::default()
    };
    let (mut tracer, _maps) = Tracer::load(&cfg).expect("object loads");
    let results = tracer.verify_xlat_programs();
    assert_eq!(results.len(), 2);
    for (m, r) in &results {
        eprintln!("verifier load of {}: {r:?}", m.name);
    }
    // The active method is consistent with what the kernel accepts: a kernel method can only be
    // active if its program loads, and when none loads the conntrack fallback is in use.
    let loads = |mode: &str| results.iter().any(|(m, r)| m.mode == mode && r.is_ok());
    match &tracer.xlat.state {
        HookState::Active(mode) if *mode == "conntrack" => {}
        HookState::Active(mode) => assert!(loads(mode), "{mode} active but does not load"),
        HookState::Off(why) => panic!("PacketTranslation off: {why}"),
    }
    // Loading a kprobe program needs no kprobe PMU (only attaching does): the verifier must
    // accept the hook's code wherever BPF runs.
    let kprobe = results.iter().find(|(m, _)| m.mode == "kprobe").unwrap();
    assert!(kprobe.1.is_ok(), "kprobe variant refused: {:?}", kprobe.1);
    for (m, r) in &results {
        if let Err(e) = r {
            // Refusals are the kernel's (type unsupported / lockdown), never the verifier
            // rejecting the code: a verifier error would carry its log.
            assert!(
                !e.contains("invalid mem access") && !e.contains("R1 "),
                "{}: verifier rejected the program: {e}",
                m.name
            );
        }
    }
}

#[test]
fn kernel_map_entries_fed_from_user_space_reach_the_record() {
    require_root();
    let cfg = Config {
        enable_pkt_translation: true,
        cache_max_flows: 64,
        ..Config::default()
    };
    let (_tracer, mut maps) = Tracer::load(&cfg).expect("object loads");
    let id = FlowId {
        src_ip: v4_mapped("10.199.0.1"),
        dst_ip: v4_mapped(SERVICE),
        src_port: 41000,
        dst_port: 80,
        transport_protocol: 6,
        ..FlowId::default()
    };
    let x = XlatMetrics {
        start_mono_time_ts: 1,
        end_mono_time_ts: 2,
        saddr: v4_mapped("10.199.0.1"),
        daddr: v4_mapped("10.199.0.2"),
        sport: 41000,
        dport: 8080,
        zone_id: 3,
        eth_protocol: 0x0800,
    };
    maps.inject_xlat(&id, x).expect("map write");
    let drained = maps.drain_xlat([id].iter());
    assert_eq!(drained, vec![(id, x)]);
    assert!(
        maps.drain_xlat([id].iter()).is_empty(),
        "drained entries are gone"
    );
    // Only the hook saw this flow: it becomes a partial record carrying Xlat.
    let mut enrich = HashMap::new();
    enrich.insert(
        id,
        Enrichment {
            xlat: Some(x),
            ..Enrichment::default()
        },
    );
    let mut batch = FlowBatch::new(
        Vec::new(),
        enrich,
        Clock::now(),
        Arc::new(HashMap::new()),
        pbflow::Ip::from_addr(ip("192.0.2.1")),
    );
    let records = batch.next_chunk(10);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    let px = r.xlat.as_ref().expect("Xlat set");
    assert_eq!(
        px.dst_addr.as_ref().unwrap().to_addr(),
        Some(ip("10.199.0.2"))
    );
    assert_eq!((px.src_port, px.dst_port, px.zone_id), (41000, 8080, 3));
    assert_eq!(
        r.network
            .as_ref()
            .unwrap()
            .dst_addr
            .as_ref()
            .unwrap()
            .to_addr(),
        Some(ip(SERVICE))
    );
    // The method list is what /status reports.
    assert_eq!(xlat::XLAT_METHODS.len(), 3);
}
