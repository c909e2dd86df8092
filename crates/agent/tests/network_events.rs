//! NetworkEvents: cookie decoding against a real `ovsdb-server` holding OVN Northbound rows like
//! the ones OVN-Kubernetes writes, the hook programs through the verifier, and the agent end to
//! end with the events map filled from user space exactly as the `psample_sample_packet` hook
//! fills it (this kernel has no psample, no kprobes and refuses fentry, so the hook cannot fire).
//! Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_agent::config::{AttachMode, Config};
use netobserv_agent::netevents::collector::{
    COLLECTOR_SET_ID, CollectorConfig, CollectorError, OWNER, Registration, SampleCollector,
};
use netobserv_agent::netevents::kernel::{FENTRY, KPROBE, Offsets, verify_programs};
use netobserv_agent::netevents::{Cookie, Decoded, Decoder, DecoderConfig};
use netobserv_agent::{Agent, btf::Btf};
use netobserv_agent_common::FlowId;
use netobserv_agent_common::netevents::NetworkEventsMetrics;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/ovn-nb-sampling.ovsschema"
);
/// The Open vSwitch database schema with `Flow_Sample_Collector_Set.local_group_id` (see
/// `tests/data/README.md`).
const OVS_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/vswitch-sampling.ovsschema"
);

/// A real `ovsdb-server` serving a fresh database (OVN Northbound, or the local Open vSwitch
/// one) on a temporary unix socket; killed and removed on drop, even when a test fails.
struct OvsdbServer {
    child: Child,
    dir: PathBuf,
    sock: PathBuf,
    db_name: &'static str,
}

impl OvsdbServer {
    /// An OVN Northbound database.
    fn start() -> Self {
        Self::start_with(SCHEMA, "OVN_Northbound")
    }

    /// An Open vSwitch database (`Open_vSwitch`) from `schema`.
    fn start_ovs(schema: &str) -> Self {
        Self::start_with(schema, "Open_vSwitch")
    }

    fn start_with(schema: &str, db_name: &'static str) -> Self {
        for tool in ["ovsdb-tool", "ovsdb-server", "ovsdb-client"] {
            let ok = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(
                ok,
                "{tool} is missing: run scripts/prerequisites.sh (openvswitch-common)"
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "netobserv-ovsdb-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("db");
        let sock = dir.join("db.sock");
        run(&["ovsdb-tool", "create", db.to_str().unwrap(), schema]);
        let child = Command::new("ovsdb-server")
            .arg(&db)
            .arg(format!("--remote=punix:{}", sock.display()))
            .arg(format!("--unixctl={}", dir.join("ctl").display()))
            .arg("--no-chdir")
            .arg(format!("--log-file={}", dir.join("ovsdb.log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ovsdb-server");
        let server = Self {
            child,
            dir,
            sock,
            db_name,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.sock.exists() {
            assert!(Instant::now() < deadline, "ovsdb-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Runs one transaction with the stock client (independent of the agent's own client).
    fn transact(&self, ops: serde_json::Value) -> serde_json::Value {
        let mut txn = vec![serde_json::json!(self.db_name)];
        txn.extend(ops.as_array().unwrap().iter().cloned());
        let out = run(&[
            "ovsdb-client",
            "transact",
            &format!("unix:{}", self.sock.display()),
            &serde_json::Value::Array(txn).to_string(),
        ]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for r in v.as_array().unwrap() {
            assert!(r.get("error").is_none(), "transaction failed: {v}");
        }
        v
    }
}

impl Drop for OvsdbServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn map(pairs: &[(&str, &str)]) -> serde_json::Value {
    serde_json::json!([
        "map",
        pairs
            .iter()
            .map(|(k, v)| serde_json::json!([k, v]))
            .collect::<Vec<_>>()
    ])
}

/// Sample `metadata` (= observation point ids) of the rows below.
const NETPOL_ALLOW_EST: u32 = 1001;
const NS_DEFAULT_DENY: u32 = 1002;
const ANP_PASS: u32 = 1003;
const EF_ALLOW: u32 = 1004;
const EF_DROP: u32 = 1005;
const UNREFERENCED: u32 = 1006;

/// Inserts what OVN-Kubernetes creates for: a NetworkPolicy allowing ingress (sampled on
/// established traffic), the namespace default-deny ACL that NetworkPolicy isolation adds (a
/// drop, sampled on new traffic), an AdminNetworkPolicy rule with action Pass, and an
/// EgressFirewall with an allow and a deny rule. ACLs hang off a port group (ACLs are not a
/// root table), samples off the ACLs; one sample is referenced by no ACL.
fn populate(db: &OvsdbServer) {
    let controller = "default-network-controller";
    let acl = |action: &str,
               direction: &str,
               prio: u32,
               tier: u32,
               sample_col: &str,
               sample: &str,
               ids: serde_json::Value| {
        serde_json::json!({
            "op": "insert", "table": "ACL", "uuid-name": format!("acl_{sample}"),
            "row": {
                "action": action, "direction": direction, "priority": prio, "tier": tier,
                "match": "outport == @a1234", "log": false,
                sample_col: ["named-uuid", sample],
                "external_ids": ids,
            }
        })
    };
    let sample = |name: &str, metadata: u32| {
        serde_json::json!({"op": "insert", "table": "Sample", "uuid-name": name,
                           "row": {"metadata": metadata}})
    };
    let ops = serde_json::json!([
        sample("s_np", NETPOL_ALLOW_EST),
        sample("s_deny", NS_DEFAULT_DENY),
        sample("s_anp", ANP_PASS),
        sample("s_efa", EF_ALLOW),
        sample("s_efd", EF_DROP),
        acl("allow-related", "to-lport", 1001, 2, "sample_est", "s_np", map(&[
            ("k8s.ovn.org/owner-controller", controller),
            ("k8s.ovn.org/owner-type", "NetworkPolicy"),
            ("k8s.ovn.org/name", "shop:allow-frontend"),
            ("direction", "Ingress"),
            ("gress-index", "0"),
            ("ip-block-index", "-1"),
            ("port-policy-protocol", "TCP"),
            ("k8s.ovn.org/id", "default-network-controller:NetworkPolicy:shop:allow-frontend:Ingress:0:TCP:-1"),
        ])),
        acl("drop", "to-lport", 1000, 2, "sample_new", "s_deny", map(&[
            ("k8s.ovn.org/owner-controller", controller),
            ("k8s.ovn.org/owner-type", "NetpolNamespace"),
            ("k8s.ovn.org/name", "shop"),
            ("direction", "Ingress"),
            ("type", "defaultDeny"),
            ("k8s.ovn.org/id", "default-network-controller:NetpolNamespace:shop:Ingress:defaultDeny"),
        ])),
        acl("pass", "to-lport", 29800, 1, "sample_new", "s_anp", map(&[
            ("k8s.ovn.org/owner-controller", controller),
            ("k8s.ovn.org/owner-type", "AdminNetworkPolicy"),
            ("k8s.ovn.org/name", "pass-monitoring"),
            ("direction", "Ingress"),
            ("gress-index", "0"),
            ("port-policy-protocol", "None"),
            ("k8s.ovn.org/id", "default-network-controller:AdminNetworkPolicy:pass-monitoring:Ingress:0:None"),
        ])),
        acl("allow", "to-lport", 10000, 2, "sample_new", "s_efa", map(&[
            ("k8s.ovn.org/owner-controller", controller),
            ("k8s.ovn.org/owner-type", "EgressFirewall"),
            ("k8s.ovn.org/name", "billing"),
            ("rule-index", "0"),
            ("k8s.ovn.org/id", "default-network-controller:EgressFirewall:billing:0"),
        ])),
        acl("drop", "to-lport", 9999, 2, "sample_new", "s_efd", map(&[
            ("k8s.ovn.org/owner-controller", controller),
            ("k8s.ovn.org/owner-type", "EgressFirewall"),
            ("k8s.ovn.org/name", "billing"),
            ("rule-index", "1"),
            ("k8s.ovn.org/id", "default-network-controller:EgressFirewall:billing:1"),
        ])),
        {"op": "insert", "table": "Port_Group", "row": {
            "name": "a1234",
            "acls": ["set", [
                ["named-uuid", "acl_s_np"], ["named-uuid", "acl_s_deny"],
                ["named-uuid", "acl_s_anp"], ["named-uuid", "acl_s_efa"],
                ["named-uuid", "acl_s_efd"]
            ]],
            "external_ids": map(&[("name", "shop_allow-frontend")]),
        }},
        // A sample that only a `sample_new` column references (Sample is not a root table:
        // a row lives only while an ACL points at it), so looking it up as an *established*
        // sample finds no ACL.
        sample("s_unref", UNREFERENCED),
        acl("drop", "from-lport", 1, 0, "sample_new", "s_unref", map(&[
            ("k8s.ovn.org/owner-controller", controller),
            ("k8s.ovn.org/owner-type", "NetpolNode"),
            ("k8s.ovn.org/name", "node1"),
        ])),
        {"op": "insert", "table": "Port_Group", "row": {
            "name": "other",
            "acls": ["set", [["named-uuid", "acl_s_unref"]]],
        }},
    ]);
    db.transact(ops);
}

fn cookie(app: u8, point: u32) -> [u8; 8] {
    Cookie {
        obs_domain_id: (u32::from(app) << 24) | 0x0000_0005,
        obs_point_id: point,
    }
    .to_bytes()
}

fn acl_map(d: &Decoded) -> HashMap<String, String> {
    match d {
        Decoded::Acl(_) => d.to_map(),
        Decoded::Message(m) => panic!("expected an ACL event, got message {m}"),
    }
}

fn expect(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every field of each OVN-Kubernetes actor decoded through the agent's own OVSDB client, and
/// the injected drop causes; cookies that resolve to nothing become messages.
#[tokio::test]
async fn cookies_decode_through_a_real_ovsdb_server() {
    let db = OvsdbServer::start();
    populate(&db);
    let decoder = Decoder::new(DecoderConfig {
        nb_socket: db.sock.clone(),
        ..DecoderConfig::default()
    });

    let np = decoder.decode(cookie(3, NETPOL_ALLOW_EST)).await;
    assert_eq!(
        acl_map(&np),
        expect(&[
            ("Feature", "acl"),
            ("Type", "NetworkPolicy"),
            ("Namespace", "shop"),
            ("Name", "allow-frontend"),
            // OVN's `allow-related` is shown as the verdict `allow`.
            ("Action", "allow"),
            ("Direction", "Ingress"),
        ])
    );

    let deny = decoder.decode(cookie(2, NS_DEFAULT_DENY)).await;
    assert_eq!(
        acl_map(&deny),
        expect(&[
            ("Feature", "acl"),
            ("Type", "NetpolNamespace"),
            ("Namespace", "shop"),
            ("Action", "drop"),
            ("Direction", "Ingress"),
        ])
    );
    let Decoded::Acl(deny_acl) = &deny else {
        unreachable!()
    };
    assert_eq!(
        deny_acl.drop_cause(),
        Some((1 << 24) + 8),
        "NetpolNamespace"
    );

    let anp = decoder.decode(cookie(2, ANP_PASS)).await;
    assert_eq!(
        acl_map(&anp),
        expect(&[
            ("Feature", "acl"),
            ("Type", "AdminNetworkPolicy"),
            ("Name", "pass-monitoring"),
            ("Action", "pass"),
            ("Direction", "Ingress"),
        ])
    );

    let ef_allow = decoder.decode(cookie(2, EF_ALLOW)).await;
    assert_eq!(
        acl_map(&ef_allow),
        expect(&[
            ("Feature", "acl"),
            ("Type", "EgressFirewall"),
            ("Namespace", "billing"),
            ("Action", "allow"),
            ("Direction", "Egress"),
        ])
    );
    let ef_drop = decoder.decode(cookie(2, EF_DROP)).await;
    assert_eq!(acl_map(&ef_drop)["Action"], "drop");
    let Decoded::Acl(ef_drop_acl) = &ef_drop else {
        unreachable!()
    };
    assert_eq!(
        ef_drop_acl.drop_cause(),
        Some((1 << 24) + 3),
        "EgressFirewall"
    );

    // No Sample with this metadata.
    match decoder.decode(cookie(2, 424_242)).await {
        Decoded::Message(m) => assert!(m.contains("no Sample row"), "{m}"),
        other => panic!("{other:?}"),
    }
    // The sample exists but no ACL uses it for established traffic.
    match decoder.decode(cookie(3, UNREFERENCED)).await {
        Decoded::Message(m) => assert!(m.contains("found 0"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Drop sampling (app 1) is not an ACL event.
    match decoder.decode(cookie(1, 7)).await {
        Decoded::Message(m) => assert!(m.contains("drop sampling"), "{m}"),
        other => panic!("{other:?}"),
    }

    // Cached: answers keep coming once the database is gone.
    let cached = decoder.cached();
    assert!(cached >= 5, "{cached} cookies cached");
    drop(db);
    assert_eq!(decoder.decode(cookie(3, NETPOL_ALLOW_EST)).await, np);
    // An uncached cookie with the database gone: a message, not an error.
    match decoder.decode(cookie(2, 5555)).await {
        Decoded::Message(m) => assert!(m.contains("unresolved"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// Offsets the hook needs on kernels with psample ≥ 6.11 (x86-64 layout of `psample_group` and
/// `psample_metadata`), with the `sk_buff` ones from this kernel's BTF. This kernel has no
/// psample, so its BTF cannot supply the first three.
fn verifier_offsets() -> Offsets {
    let btf = Btf::from_sys_fs().expect("kernel BTF");
    Offsets {
        group_num: 24,
        user_cookie: 40,
        user_cookie_len: 48,
        skb_head: btf.member_offset("sk_buff", "head").unwrap(),
        skb_data: btf.member_offset("sk_buff", "data").unwrap(),
        skb_network_header: btf.member_offset("sk_buff", "network_header").unwrap(),
        skb_len: btf.member_offset("sk_buff", "len").unwrap(),
    }
}

/// The kprobe program passes the kernel verifier (this kernel loads BPF_PROG_TYPE_KPROBE
/// programs even though it cannot attach kprobes); the fentry one cannot even be loaded here
/// (no `psample_sample_packet` in BTF, and fentry is refused under lockdown) and says why.
#[test]
fn hook_programs_through_the_verifier() {
    require_root();
    let cfg = Config {
        network_events: netobserv_agent::config::NetworkEventsConfig {
            enable: true,
            ..Default::default()
        },
        ..Config::default()
    };
    let results = verify_programs(&cfg, &verifier_offsets());
    let get = |m| {
        results
            .iter()
            .find(|(method, _)| *method == m)
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    if let Err(e) = get(KPROBE) {
        panic!("the kprobe program was rejected: {e}");
    }
    let fentry = get(FENTRY);
    assert!(fentry.is_err(), "fentry cannot load on this kernel");
    eprintln!("fentry load on this kernel: {}", fentry.unwrap_err());
}

fn ping_key(pair: &NetPair) -> FlowId {
    FlowId {
        src_ip: v4_mapped(pair.ip_a),
        dst_ip: v4_mapped(pair.ip_b),
        transport_protocol: 1,
        icmp_type: 8,
        ..FlowId::default()
    }
}

/// The agent with NetworkEvents on, on a kernel where the hook cannot attach: it keeps running,
/// `/status` and the metrics say why the hook is off; events written into the kernel map as the
/// hook writes them are merged into the flow at eviction, decoded through the OVSDB server, and
/// the ACL drop is injected as a packet drop.
#[tokio::test]
async fn agent_merges_and_decodes_network_events() {
    require_root();
    let db = OvsdbServer::start();
    populate(&db);
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = Config {
        target_host: "127.0.0.1".into(),
        target_port: collector.port,
        tc_attach_mode: AttachMode::Tcx,
        interfaces: vec![netobserv_agent::config::NameMatcher::Exact(
            pair.veth_a.clone(),
        )],
        cache_active_timeout: Duration::from_secs(60),
        metrics_enable: true,
        metrics_server_address: "127.0.0.1".into(),
        metrics_server_port: 0,
        netns: Some(pair.path_a()),
        ..Config::default()
    };
    cfg.network_events.enable = true;
    cfg.network_events.nb_socket = db.sock.clone();
    // Hermetic: never touch the host's Open vSwitch (the collector set has tests of its own).
    cfg.network_events.register_ovs_collector = false;
    let agent = Agent::start(cfg)
        .await
        .expect("agent starts without the hook");

    let status = agent.metrics().status();
    let hook = status
        .hooks
        .iter()
        .find(|h| h.hook == "NetworkEvents")
        .unwrap();
    assert!(!hook.active, "{hook:?}");
    let reason = hook.reason.clone().unwrap_or_default();
    assert!(reason.contains("psample"), "{reason}");
    let methods: Vec<&str> = hook.methods_off.iter().map(|m| m.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "fentry/psample_sample_packet",
            "kprobe/psample_sample_packet"
        ],
        "{hook:?}"
    );
    let text = agent.metrics().encode();
    assert!(
        text.contains("ebpf_agent_hook_active{hook=\"NetworkEvents\",mode=\"kprobe\"} 0"),
        "{text}"
    );
    assert!(
        text.contains(
            "ebpf_agent_hook_method_off{hook=\"NetworkEvents\",method=\"fentry/psample_sample_packet\""
        ),
        "{text}"
    );
    // The same over HTTP, as an operator reads it.
    let addr = agent.metrics_addr().expect("metrics server");
    let json = tokio::task::spawn_blocking(move || http_get(addr, "/status"))
        .await
        .unwrap();
    let body = &json[json.find("\r\n\r\n").expect("HTTP body") + 4..];
    let status: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_else(|e| {
        // A chunked body: take the JSON object between the first '{' and the last '}'.
        let (a, b) = (body.find('{').unwrap(), body.rfind('}').unwrap());
        serde_json::from_str(&body[a..=b]).unwrap_or_else(|_| panic!("{e}: {body}"))
    });
    let row = status["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hook"] == "NetworkEvents")
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(row["active"], false, "{row}");
    assert!(row["reason"].as_str().unwrap().contains("psample"), "{row}");
    assert_eq!(row["methods_off"][1]["mode"], "kprobe", "{row}");

    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.attached().is_empty() {
        assert!(Instant::now() < deadline, "classifiers not attached");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ns_run(&pair.ns_a, &["ping", "-c", "3", "-i", "0.05", pair.ip_b]);

    // What the hook would write for 2 samples of the default-deny ACL (98 B each) and one of
    // the ANP pass rule on the echo-request flow, seen on CPU 0.
    let id = agent.network_events_map_id().expect("events map");
    let data = aya::maps::MapData::from_id(id).unwrap();
    let mut events: aya::maps::PerCpuHashMap<_, FlowId, NetworkEventsMetrics> =
        aya::maps::PerCpuHashMap::try_from(aya::maps::Map::PerCpuHashMap(data)).unwrap();
    let ncpus = aya::util::nr_cpus().unwrap();
    let mut values = vec![NetworkEventsMetrics::default(); ncpus];
    values[0] = NetworkEventsMetrics {
        start_mono_time_ts: 1,
        end_mono_time_ts: 2,
        network_events: [
            cookie(2, NS_DEFAULT_DENY),
            cookie(2, ANP_PASS),
            [0; 8],
            [0; 8],
        ],
        packets: [2, 1, 0, 0],
        bytes: [196, 98, 0, 0],
        eth_protocol: 0x0800,
        network_events_idx: 2,
        ..Default::default()
    };
    events
        .insert(
            ping_key(&pair),
            aya::maps::PerCpuValues::try_from(values).unwrap(),
            0,
        )
        .unwrap();

    agent.evict_now().await;
    collector.wait_for(1, 10).await;
    let records = collector.snapshot();
    let key = ping_key(&pair);
    let r = records
        .iter()
        .find(|r| {
            r.transport.as_ref().map(|t| t.protocol) == Some(1)
                && r.icmp_type == 8
                && r.network
                    .as_ref()
                    .and_then(|n| n.src_addr.as_ref()?.to_addr())
                    == Some(pair.ip_a.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no echo-request record for {key:?} in {records:?}"));
    assert_eq!(r.packets, 3, "the TC record and the events merged into one");
    let maps: Vec<HashMap<String, String>> = r
        .network_events_metadata
        .iter()
        .map(|e| e.events.clone())
        .collect();
    assert_eq!(
        maps,
        vec![
            expect(&[
                ("Feature", "acl"),
                ("Type", "NetpolNamespace"),
                ("Namespace", "shop"),
                ("Action", "drop"),
                ("Direction", "Ingress"),
            ]),
            expect(&[
                ("Feature", "acl"),
                ("Type", "AdminNetworkPolicy"),
                ("Name", "pass-monitoring"),
                ("Action", "pass"),
                ("Direction", "Ingress"),
            ]),
        ]
    );
    assert_eq!(r.pkt_drop_latest_drop_cause, (1 << 24) + 8);
    assert_eq!((r.pkt_drop_packets, r.pkt_drop_bytes), (2, 196));
    agent.shutdown().await.unwrap();
    drop(db);
}

// ---------------------------------------------------------------------------------------------
// The OVS Flow_Sample_Collector_Set registration, against a real Open vSwitch database.

impl OvsdbServer {
    /// Bridges as `ovs-vsctl add-br` leaves them: `Bridge` rows referenced from the root
    /// `Open_vSwitch` row (a bridge nobody references would be garbage-collected). Returns
    /// name → `_uuid`.
    fn add_bridges(&self, names: &[&str]) -> HashMap<String, String> {
        let mut ops: Vec<serde_json::Value> = names
            .iter()
            .map(|n| {
                serde_json::json!({"op": "insert", "table": "Bridge",
                                   "uuid-name": format!("br_{}", n.replace('-', "_")),
                                   "row": {"name": n}})
            })
            .collect();
        let refs: Vec<serde_json::Value> = names
            .iter()
            .map(|n| serde_json::json!(["named-uuid", format!("br_{}", n.replace('-', "_"))]))
            .collect();
        ops.push(serde_json::json!({"op": "insert", "table": "Open_vSwitch",
                                    "row": {"bridges": ["set", refs]}}));
        let res = self.transact(serde_json::Value::Array(ops));
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    n.to_string(),
                    res[i]["uuid"][1].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Adds one bridge to a database that already has its root row (`ovs-vsctl add-br` on a
    /// running node).
    fn add_bridge_later(&self, name: &str) {
        self.transact(serde_json::json!([
            {"op": "insert", "table": "Bridge", "uuid-name": "newbr", "row": {"name": name}},
            {"op": "mutate", "table": "Open_vSwitch", "where": [],
             "mutations": [["bridges", "insert", ["set", [["named-uuid", "newbr"]]]]]}
        ]));
    }

    /// Every `Flow_Sample_Collector_Set` row, read with the stock `ovsdb-client`.
    fn collector_sets(&self) -> Vec<serde_json::Value> {
        let res = self.transact(serde_json::json!([
            {"op": "select", "table": "Flow_Sample_Collector_Set", "where": []}
        ]));
        res[0]["rows"].as_array().unwrap().clone()
    }

    /// Inserts a collector set as another tool would.
    fn add_collector_set(&self, bridge_uuid: &str, id: u32, owner: &str, group: u32) {
        self.transact(serde_json::json!([
            {"op": "insert", "table": "Flow_Sample_Collector_Set", "row": {
                "id": id, "bridge": ["uuid", bridge_uuid], "local_group_id": group,
                "external_ids": map(&[("owner", owner)]),
            }}
        ]));
    }
}

fn collector(db: &OvsdbServer) -> SampleCollector {
    SampleCollector::new(CollectorConfig::new(db.sock.clone(), 10))
}

/// Registration inserts exactly upstream's row (id 42 on br-int, psample group 10, owned by the
/// agent, no IPFIX), and only on br-int; registering again (an agent restart that skipped the
/// clean shutdown) finds its own row and changes nothing; unregistering removes it, and only it.
#[tokio::test]
async fn collector_set_is_registered_once_and_removed() {
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    let bridges = db.add_bridges(&["br-int", "br-ex"]);
    assert!(db.collector_sets().is_empty());

    let mut c = collector(&db);
    let first = c.register().await.expect("register");
    let Registration::Created { uuid } = &first else {
        panic!("{first:?}")
    };
    let rows = db.collector_sets();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["_uuid"], serde_json::json!(["uuid", uuid]));
    assert_eq!(row["id"], 42);
    assert_eq!(
        row["bridge"],
        serde_json::json!(["uuid", bridges["br-int"]])
    );
    assert_eq!(row["local_group_id"], 10);
    assert_eq!(row["external_ids"], map(&[("owner", "netobservAgent")]));
    assert_eq!(row["ipfix"], serde_json::json!(["set", []]));

    // A second registration by the same owner (a restarted agent: new connection) is a no-op.
    let again = collector(&db).register().await.expect("register again");
    assert_eq!(
        again,
        Registration::AlreadyRegistered { uuid: uuid.clone() }
    );
    assert_eq!(db.collector_sets(), rows);

    // Somebody else's set with the same id on another bridge is not ours to remove.
    db.add_collector_set(&bridges["br-ex"], COLLECTOR_SET_ID, "ovnkube-observ", 7);
    assert_eq!(c.unregister().await.expect("unregister"), 1);
    let left = db.collector_sets();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["external_ids"], map(&[("owner", "ovnkube-observ")]));
    // Already gone: nothing more to delete, and not an error.
    assert_eq!(c.unregister().await.expect("unregister twice"), 0);
}

/// Two agents' registrations racing on the same database: however they interleave, both
/// succeed and exactly one row exists (the insert is guarded by a `wait` on the row's absence,
/// and the loser finds the winner's row, which is its own owner's).
#[tokio::test]
async fn racing_registrations_leave_one_row() {
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    db.add_bridges(&["br-int"]);
    for _ in 0..5 {
        let (mut a, mut b) = (collector(&db), collector(&db));
        let (ra, rb) = tokio::join!(a.register(), b.register());
        let (ra, rb) = (ra.expect("a"), rb.expect("b"));
        assert_eq!(ra.uuid(), rb.uuid());
        assert!(
            matches!(ra, Registration::Created { .. })
                != matches!(rb, Registration::Created { .. }),
            "exactly one inserted: {ra:?} {rb:?}"
        );
        assert_eq!(db.collector_sets().len(), 1);
        assert_eq!(a.unregister().await.unwrap(), 1);
    }
}

/// A set with id 42 on br-int registered by another owner, or by us with another psample
/// group, is refused with an error naming the owner and group, and left exactly as it was.
#[tokio::test]
async fn foreign_collector_set_is_refused_and_untouched() {
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    let bridges = db.add_bridges(&["br-int"]);
    db.add_collector_set(&bridges["br-int"], COLLECTOR_SET_ID, "ovnkube-observ", 10);
    let before = db.collector_sets();

    let mut c = collector(&db);
    let e = c.register().await.unwrap_err();
    assert!(matches!(e, CollectorError::Foreign { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("owner ovnkube-observ") && msg.contains("id 42 on br-int"),
        "{msg}"
    );
    assert_eq!(e.kind(), "CollectorSetOwnedByOther");
    // Our unregister only ever matches our own owner.
    assert_eq!(c.unregister().await.unwrap(), 0);
    assert_eq!(db.collector_sets(), before);

    // Same owner, another psample group (e.g. the group id changed while a stale row stayed).
    let db2 = OvsdbServer::start_ovs(OVS_SCHEMA);
    let bridges2 = db2.add_bridges(&["br-int"]);
    db2.add_collector_set(&bridges2["br-int"], COLLECTOR_SET_ID, OWNER, 11);
    let before2 = db2.collector_sets();
    let e = collector(&db2).register().await.unwrap_err();
    assert!(
        e.to_string().contains("local_group_id 11") && e.to_string().contains("local_group_id 10"),
        "{e}"
    );
    assert_eq!(db2.collector_sets(), before2);
}

/// Without br-int (OVN-Kubernetes not running on the node) nothing is written and the error
/// says which bridge is missing where.
#[tokio::test]
async fn missing_br_int_is_reported() {
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    db.add_bridges(&["br-ex"]);
    let e = collector(&db).register().await.unwrap_err();
    assert!(matches!(e, CollectorError::NoBridge { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("no bridge br-int") && msg.contains(db.sock.to_str().unwrap()),
        "{msg}"
    );
    assert!(db.collector_sets().is_empty());
}

/// The real OVS 3.1 schema (Debian bookworm) predates `local_group_id`: the error says that
/// Open vSwitch is too old to sample into psample, instead of a bare OVSDB syntax error.
#[tokio::test]
async fn ovs_without_local_group_id_is_reported() {
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(OVS_SCHEMA).unwrap()).unwrap();
    schema["tables"]["Flow_Sample_Collector_Set"]["columns"]
        .as_object_mut()
        .unwrap()
        .remove("local_group_id")
        .expect("the vendored schema has local_group_id");
    let path = std::env::temp_dir().join(format!(
        "netobserv-vswitch-no-local-group-{}.ovsschema",
        std::process::id()
    ));
    std::fs::write(&path, schema.to_string()).unwrap();
    let db = OvsdbServer::start_ovs(path.to_str().unwrap());
    let _ = std::fs::remove_file(&path);
    db.add_bridges(&["br-int"]);
    let e = collector(&db).register().await.unwrap_err();
    assert!(matches!(e, CollectorError::OvsTooOld(_)), "{e:?}");
    assert!(e.to_string().contains("3.4"), "{e}");
    assert!(db.collector_sets().is_empty());
}

fn collector_status(agent: &Agent) -> netobserv_agent::metrics::OvsCollectorStatus {
    agent
        .metrics()
        .status()
        .ovs_sample_collector
        .expect("ovs_sample_collector in /status")
}

/// The agent registers the set at start and removes it at shutdown; when registration fails
/// (another owner's set, no br-int, no database, opt-out) it starts anyway, and `/status`, the
/// `errors` metric and the registration gauge say why.
#[tokio::test]
async fn agent_registers_the_collector_set_and_survives_failures() {
    require_root();
    let pair = NetPair::new();
    let collector_srv = TestCollector::start(0).await;
    let base = {
        let mut cfg = Config {
            target_host: "127.0.0.1".into(),
            target_port: collector_srv.port,
            tc_attach_mode: AttachMode::Tcx,
            interfaces: vec![netobserv_agent::config::NameMatcher::Exact(
                pair.veth_a.clone(),
            )],
            metrics_enable: true,
            metrics_server_address: "127.0.0.1".into(),
            metrics_server_port: 0,
            netns: Some(pair.path_a()),
            ..Config::default()
        };
        cfg.network_events.enable = true;
        cfg.network_events.nb_socket = "/nonexistent/ovnnb_db.sock".into();
        cfg
    };
    let with_ovs = |sock: PathBuf| {
        let mut cfg = base.clone();
        cfg.network_events.ovs_socket = sock;
        cfg
    };

    // 1. Registered at start (visible over HTTP too), removed at shutdown.
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    let bridges = db.add_bridges(&["br-int"]);
    let agent = Agent::start(with_ovs(db.sock.clone()))
        .await
        .expect("start");
    let st = collector_status(&agent);
    assert_eq!(
        (st.state.as_str(), st.registered),
        ("registered", true),
        "{st:?}"
    );
    assert_eq!((st.set_id, st.local_group_id), (42, 10));
    assert_eq!(db.collector_sets().len(), 1);
    let text = agent.metrics().encode();
    assert!(
        text.contains("ebpf_agent_network_events_ovs_collector_registered 1"),
        "{text}"
    );
    let addr = agent.metrics_addr().expect("metrics server");
    let http = tokio::task::spawn_blocking(move || http_get(addr, "/status"))
        .await
        .unwrap();
    assert!(
        http.contains("\"ovs_sample_collector\":{\"state\":\"registered\",\"registered\":true"),
        "{http}"
    );
    let metrics = agent.metrics();
    agent.shutdown().await.unwrap();
    assert!(db.collector_sets().is_empty(), "removed at shutdown");
    assert_eq!(
        metrics.status().ovs_sample_collector.unwrap().state,
        "unregistered"
    );
    assert!(
        metrics
            .encode()
            .contains("ebpf_agent_network_events_ovs_collector_registered 0")
    );

    // 2. Another owner's set: the agent runs, says why, and leaves the row alone at shutdown.
    db.add_collector_set(&bridges["br-int"], COLLECTOR_SET_ID, "ovnkube-observ", 10);
    let before = db.collector_sets();
    let agent = Agent::start(with_ovs(db.sock.clone()))
        .await
        .expect("start");
    let st = collector_status(&agent);
    assert_eq!(
        (st.state.as_str(), st.registered),
        ("error", false),
        "{st:?}"
    );
    assert!(
        st.reason
            .as_deref()
            .unwrap()
            .contains("owner ovnkube-observ"),
        "{st:?}"
    );
    let text = agent.metrics().encode();
    assert!(
        text.contains(
            "ebpf_agent_errors_total{component=\"ovs_collector\",error=\"CollectorSetOwnedByOther\",severity=\"high\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("ebpf_agent_network_events_ovs_collector_registered 0"),
        "{text}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.attached().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the agent still attaches its hooks"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    agent.shutdown().await.unwrap();
    assert_eq!(db.collector_sets(), before);
    drop(db);

    // 3. No br-int at start (OVN-Kubernetes not up yet at node boot): reported, retried, and
    //    registered once br-int appears; put back when it vanishes; removed at shutdown.
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    db.add_bridges(&["br-ex"]);
    let mut cfg = with_ovs(db.sock.clone());
    cfg.network_events.ovs_check_interval = Duration::from_millis(200);
    let agent = Agent::start(cfg).await.expect("start");
    let st = collector_status(&agent);
    assert_eq!(st.state, "error");
    assert!(
        st.reason.as_deref().unwrap().contains("no bridge br-int"),
        "{st:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(db.collector_sets().is_empty());
    assert_eq!(collector_status(&agent).state, "error", "still failing");
    db.add_bridge_later("br-int");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !collector_status(&agent).registered {
        assert!(
            Instant::now() < deadline,
            "not retried: {:?}",
            collector_status(&agent)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(collector_status(&agent).state, "registered");
    let rows = db.collector_sets();
    assert_eq!(rows.len(), 1);
    // Later checks find the row in place and change nothing.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(collector_status(&agent).state, "registered");
    assert_eq!(db.collector_sets(), rows);
    // The row vanishes (OVS database reset, a stray `ovs-vsctl destroy`): it is put back.
    db.transact(serde_json::json!([
        {"op": "delete", "table": "Flow_Sample_Collector_Set", "where": []}
    ]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while collector_status(&agent).state != "re_registered" {
        assert!(
            Instant::now() < deadline,
            "not put back: {:?}",
            collector_status(&agent)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(collector_status(&agent).registered);
    let rows = db.collector_sets();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["external_ids"], map(&[("owner", OWNER)]));
    let text = agent.metrics().encode();
    assert!(
        text.contains(
            "ebpf_agent_errors_total{component=\"ovs_collector\",error=\"BridgeNotFound\",severity=\"high\"}"
        ),
        "{text}"
    );
    agent.shutdown().await.unwrap();
    assert!(db.collector_sets().is_empty());

    // 4. No Open vSwitch database at all.
    let agent = Agent::start(with_ovs("/nonexistent/openvswitch/db.sock".into()))
        .await
        .expect("start");
    let st = collector_status(&agent);
    assert_eq!(st.state, "error");
    let reason = st.reason.unwrap();
    assert!(
        reason.contains("unreachable") && reason.contains("/nonexistent/openvswitch/db.sock"),
        "{reason}"
    );
    agent.shutdown().await.unwrap();

    // 5. Opted out: the database is not touched.
    let mut cfg = with_ovs(db.sock.clone());
    cfg.network_events.register_ovs_collector = false;
    let agent = Agent::start(cfg).await.expect("start");
    let st = collector_status(&agent);
    assert_eq!((st.state.as_str(), st.registered), ("disabled", false));
    agent.shutdown().await.unwrap();
    assert!(db.collector_sets().is_empty());
}
