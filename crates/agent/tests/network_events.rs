//! NetworkEvents: cookie decoding against a real `ovsdb-server` holding OVN Northbound rows like
//! the ones OVN-Kubernetes writes, the hook programs through the verifier, and the agent end to
//! end with the events map filled from user space exactly as the `psample_sample_packet` hook
//! fills it (this kernel has no psample, no kprobes and refuses fentry, so the hook cannot fire).
//! Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "common/ovsdb.rs"]
mod ovsdb;

use common::*;
use netobserv_agent::config::{AttachMode, Config};
use netobserv_agent::netevents::kernel::{FENTRY, KPROBE, Offsets, verify_programs};
use netobserv_agent::netevents::{Cookie, Decoded, Decoder, DecoderConfig};
use netobserv_agent::{Agent, btf::Btf};
use netobserv_agent_common::FlowId;
use netobserv_agent_common::netevents::NetworkEventsMetrics;
use ovsdb::{OvsdbServer, map};
use std::collections::HashMap;
use std::time::{Duration, Instant};

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

/// The agent reports the NetworkEvents hook off, with why (no psample here) and why each
/// method is off, in `/status` (also over HTTP, as an operator reads it) and the metrics.
async fn hook_is_reported_off(agent: &Agent) {
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

    hook_is_reported_off(&agent).await;

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
