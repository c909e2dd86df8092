//! UDN mapping (`ENABLE_UDN_MAPPING`) against a real Open vSwitch database (`ovsdb-server` on a
//! temporary socket, schema vendored in `tests/data`): the interface → UDN map the mapper reads
//! from pod ports' `external_ids`, a flow on a mapped veth carrying its UDN in the exported
//! per-interface entry, and an unreachable database counted without harm. The agent tests are
//! root only; they fail (do not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "common/ovsdb.rs"]
mod ovsdb;

use common::*;
use netobserv_agent::Agent;
use netobserv_agent::config::{AttachMode, Config, NameMatcher, UdnConfig};
use netobserv_agent::metrics::Metrics;
use netobserv_agent::udn::UdnMapper;
use ovsdb::{OVS_SCHEMA, OvsdbServer, map};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `external_ids` of a pod port as OVN-Kubernetes writes them (`iface-id` is the logical switch
/// port, `iface-id-ver` the pod uid), with `k8s.ovn.org/network` when not on the default network.
fn pod_port_ids(lsp: &str, network: Option<&str>) -> serde_json::Value {
    let mut pairs = vec![
        ("attached_mac", "0a:58:0a:80:00:05"),
        ("iface-id", lsp),
        ("iface-id-ver", "7d1c1f0e-3c55-4a4b-9c2e-0d7a1f2b3c4d"),
        ("ip_addresses", "10.128.0.5/23"),
        ("ovn-installed", "true"),
        ("ovn-installed-ts", "1733000000000"),
        ("sandbox", "5e1f0c2a9b7d"),
    ];
    if let Some(n) = network {
        pairs.push(("k8s.ovn.org/network", n));
    }
    map(&pairs)
}

/// Adds `br-int` with one port per `(interface, external_ids)`, as `ovs-vsctl add-port` leaves
/// them: `Interface` rows are kept alive by a `Port`, itself by the bridge, itself by the root
/// row.
fn add_br_int(db: &OvsdbServer, ifaces: &[(&str, serde_json::Value)]) {
    let mut ops = Vec::new();
    let mut ports = Vec::new();
    for (i, (name, ids)) in ifaces.iter().enumerate() {
        ops.push(
            json!({"op": "insert", "table": "Interface", "uuid-name": format!("if{i}"),
                        "row": {"name": name, "external_ids": ids}}),
        );
        ops.push(
            json!({"op": "insert", "table": "Port", "uuid-name": format!("p{i}"),
                        "row": {"name": name, "interfaces": ["named-uuid", format!("if{i}")]}}),
        );
        ports.push(json!(["named-uuid", format!("p{i}")]));
    }
    ops.push(
        json!({"op": "insert", "table": "Bridge", "uuid-name": "brint",
                    "row": {"name": "br-int", "ports": ["set", ports]}}),
    );
    ops.push(json!({"op": "insert", "table": "Open_vSwitch",
                    "row": {"bridges": ["named-uuid", "brint"]}}));
    db.transact(serde_json::Value::Array(ops));
}

/// Plugs one more pod port into the existing `br-int` (a pod created later).
fn add_port_later(db: &OvsdbServer, name: &str, ids: serde_json::Value) {
    db.transact(json!([
        {"op": "insert", "table": "Interface", "uuid-name": "nif", "row": {"name": name, "external_ids": ids}},
        {"op": "insert", "table": "Port", "uuid-name": "np", "row": {"name": name, "interfaces": ["named-uuid", "nif"]}},
        {"op": "mutate", "table": "Bridge", "where": [["name", "==", "br-int"]],
         "mutations": [["ports", "insert", ["set", [["named-uuid", "np"]]]]]}
    ]));
}

fn udn_config(sock: std::path::PathBuf) -> UdnConfig {
    UdnConfig {
        enable: true,
        refresh_interval: Duration::from_millis(200),
        ovs_socket: sock,
        ..UdnConfig::default()
    }
}

/// The mapper reads pod ports only and labels them as the pipeline indexes pods: `ns/name` for a
/// namespaced UDN, the bare name for a cluster UDN, `default` otherwise; a port plugged later
/// appears at the next refresh; a database that goes away keeps the last map, counts the error
/// and never panics.
#[tokio::test]
async fn mapper_follows_the_interface_table() {
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    add_br_int(
        &db,
        &[
            ("br-int", map(&[])),
            ("ovn-k8s-mp0", map(&[("iface-id", "k8s-node-a")])),
            ("a1b2c3d4e5f6a7b", pod_port_ids("web_web-0", None)),
            (
                "c3d4e5f6a7b8c9d",
                pod_port_ids("tenant-a_app-0", Some("tenant-a_primary-udn")),
            ),
            (
                "e5f6a7b8c9d0e1f",
                pod_port_ids("blue_app-1", Some("cluster_udn_colored-enterprise")),
            ),
        ],
    );
    let metrics = Arc::new(Metrics::new("ebpf_agent_"));
    let mapper = UdnMapper::new(&udn_config(db.sock.clone()), metrics.clone());
    assert!(!mapper.state().active, "nothing read yet");
    assert_eq!(mapper.refresh().await.expect("read"), 3);
    let m = mapper.snapshot();
    assert_eq!(m.len(), 3, "{m:?}");
    assert_eq!(m["a1b2c3d4e5f6a7b"], "default");
    assert_eq!(m["c3d4e5f6a7b8c9d"], "tenant-a/primary-udn");
    assert_eq!(m["e5f6a7b8c9d0e1f"], "colored-enterprise");
    let st = mapper.state();
    assert!(st.active);
    assert_eq!((st.interfaces, st.on_udns), (3, 2));
    let row = metrics.hook_row("UDNMapping").expect("status row");
    assert!(row.active, "{row:?}");

    add_port_later(
        &db,
        "f7a8b9c0d1e2f3a",
        pod_port_ids("tenant-a_app-1", Some("tenant-a_primary-udn")),
    );
    mapper.refresh().await.expect("second read");
    assert_eq!(mapper.snapshot()["f7a8b9c0d1e2f3a"], "tenant-a/primary-udn");

    // OVSDB goes away (restart, upgrade): the last map stays, the failure is counted.
    drop(db);
    assert!(mapper.refresh().await.is_err());
    assert_eq!(mapper.snapshot().len(), 4, "last good map kept");
    let st = mapper.state();
    assert!(!st.active);
    assert!(st.reason.contains("keeping the last mapping"), "{st:?}");
    assert!(
        metrics.encode().contains(
            "ebpf_agent_errors_total{component=\"udn_mapping\",error=\"ovsdb\",severity=\"medium\"} 1"
        ),
        "{}",
        metrics.encode()
    );
}

fn agent_config(pair: &NetPair, port: u16, udn: UdnConfig) -> Config {
    Config {
        target_host: "127.0.0.1".into(),
        target_port: port,
        tc_attach_mode: AttachMode::Tcx,
        interfaces: vec![NameMatcher::Exact(pair.veth_a.clone())],
        metrics_enable: true,
        metrics_server_address: "127.0.0.1".into(),
        metrics_server_port: 0,
        netns: Some(pair.path_a()),
        udn,
        ..Config::default()
    }
}

async fn wait_attached(agent: &Agent) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.attached().is_empty() {
        assert!(Instant::now() < deadline, "no interface attached");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The row of `hook` in the agent's `/status`, fetched over HTTP.
async fn status_row(agent: &Agent, hook: &str) -> serde_json::Value {
    let addr = agent.metrics_addr().expect("metrics server");
    let http = tokio::task::spawn_blocking(move || http_get(addr, "/status"))
        .await
        .unwrap();
    let body = http.split("\r\n\r\n").nth(1).unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(body).expect("status JSON");
    doc["hooks"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["hook"] == hook).cloned())
        .unwrap_or_else(|| panic!("no {hook} row in {doc}"))
}

/// End to end: the observed veth is a pod port of a namespaced UDN in OVSDB; traffic over it
/// reaches the collector with that UDN in the interface's `DupMapEntry.udn`, and `/status` says
/// the mapping is active.
#[tokio::test]
async fn flows_carry_the_udn_of_their_interface() {
    require_root();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    add_br_int(
        &db,
        &[(
            pair.veth_a.as_str(),
            pod_port_ids("tenant-a_app-0", Some("tenant-a_primary-udn")),
        )],
    );
    let collector = TestCollector::start(0).await;
    let agent = Agent::start(agent_config(
        &pair,
        collector.port,
        udn_config(db.sock.clone()),
    ))
    .await
    .expect("agent starts");
    wait_attached(&agent).await;
    let st = agent.udn_mapping_state().expect("mapping on");
    assert!(st.active, "{st:?}");
    assert_eq!(st.on_udns, 1);
    ns_run(
        &pair.ns_a,
        &["ping", "-c", "3", "-i", "0.05", "-W", "1", pair.ip_b],
    );
    agent.evict_now().await;
    collector.wait_for(1, 10).await;
    let row = status_row(&agent, "UDNMapping").await;
    assert_eq!(row["active"], true, "{row}");
    agent.shutdown().await.unwrap();

    let records = collector.snapshot();
    let icmp: Vec<_> = records
        .iter()
        .filter(|r| r.transport.as_ref().is_some_and(|t| t.protocol == 1))
        .collect();
    assert!(!icmp.is_empty(), "no ICMP flow in {records:?}");
    for r in icmp {
        assert!(!r.dup_list.is_empty());
        for e in &r.dup_list {
            assert_eq!(e.interface, pair.veth_a);
            assert_eq!(e.udn, "tenant-a/primary-udn", "{r:?}");
        }
    }
}

/// No database at the socket: the agent starts anyway, exports flows without UDN, counts the
/// failure in `errors_total` and says why in `/status`; with the feature off, `/status` says so.
#[tokio::test]
async fn unreachable_ovsdb_is_counted_and_harmless() {
    require_root();
    let pair = NetPair::new();
    pair.disable_ipv6();
    let collector = TestCollector::start(0).await;
    let dir = std::env::temp_dir().join(format!("netobserv-udn-none-{}", std::process::id()));
    let agent = Agent::start(agent_config(
        &pair,
        collector.port,
        udn_config(dir.join("db.sock")),
    ))
    .await
    .expect("agent starts without OVSDB");
    wait_attached(&agent).await;
    ns_run(
        &pair.ns_a,
        &["ping", "-c", "2", "-i", "0.05", "-W", "1", pair.ip_b],
    );
    // A few refreshes fail meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    agent.evict_now().await;
    collector.wait_for(1, 10).await;
    let st = agent.udn_mapping_state().expect("mapping on");
    assert!(!st.active);
    assert!(st.reason.contains("OVSDB read failed"), "{st:?}");
    let row = status_row(&agent, "UDNMapping").await;
    assert_eq!(row["active"], false, "{row}");
    let text = agent.metrics().encode();
    let failures: u64 = text
        .lines()
        .find(|l| {
            l.starts_with("ebpf_agent_errors_total{component=\"udn_mapping\",error=\"ovsdb\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(failures >= 2, "first read and refreshes counted: {text}");
    agent.shutdown().await.unwrap();
    for r in collector.snapshot() {
        assert!(r.dup_list.iter().all(|e| e.udn.is_empty()), "{r:?}");
    }

    let off = Agent::start(agent_config(&pair, collector.port, UdnConfig::default()))
        .await
        .expect("agent starts");
    assert!(off.udn_mapping_state().is_none());
    let row = status_row(&off, "UDNMapping").await;
    assert_eq!(row["active"], false);
    assert_eq!(row["reason"], "disabled (ENABLE_UDN_MAPPING is false)");
    off.shutdown().await.unwrap();
}
