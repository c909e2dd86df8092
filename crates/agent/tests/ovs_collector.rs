//! NetworkEvents: the OVS `Flow_Sample_Collector_Set` the agent registers so that OVS delivers
//! OVN's samples to its psample group, against a real Open vSwitch database (`ovsdb-server`):
//! the row it writes, races, foreign rows, missing bridges or database, and the agent's
//! retries, status and metrics around it. Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "common/ovsdb.rs"]
mod ovsdb;

use common::*;
use netobserv_agent::Agent;
use netobserv_agent::config::{AttachMode, Config};
use netobserv_agent::netevents::collector::{
    COLLECTOR_SET_ID, CollectorConfig, CollectorError, OWNER, Registration, SampleCollector,
};
use ovsdb::{OVS_SCHEMA, OvsdbServer, map};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    let bridges = registered_at_start_removed_at_shutdown(&base, &db).await;
    another_owners_set_is_left_alone(&base, &db, &bridges["br-int"]).await;
    drop(db);
    let db = late_br_int_is_retried_put_back_and_removed(&base).await;
    no_database_is_reported(&base).await;
    opting_out_leaves_the_database_alone(&base, &db).await;
}

/// `base` with the Open vSwitch database at `sock`.
fn with_ovs(base: &Config, sock: PathBuf) -> Config {
    let mut cfg = base.clone();
    cfg.network_events.ovs_socket = sock;
    cfg
}

/// Registered at start (visible over HTTP too), removed at shutdown.
async fn registered_at_start_removed_at_shutdown(
    base: &Config,
    db: &OvsdbServer,
) -> HashMap<String, String> {
    let bridges = db.add_bridges(&["br-int"]);
    let agent = Agent::start(with_ovs(base, db.sock.clone()))
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
    bridges
}

/// Another owner's set: the agent runs, says why, and leaves the row alone at shutdown.
async fn another_owners_set_is_left_alone(base: &Config, db: &OvsdbServer, br_int: &str) {
    db.add_collector_set(br_int, COLLECTOR_SET_ID, "ovnkube-observ", 10);
    let before = db.collector_sets();
    let agent = Agent::start(with_ovs(base, db.sock.clone()))
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
}

/// No br-int at start (OVN-Kubernetes not up yet at node boot): reported, retried, and
/// registered once br-int appears; put back when it vanishes; removed at shutdown.
async fn late_br_int_is_retried_put_back_and_removed(base: &Config) -> OvsdbServer {
    let db = OvsdbServer::start_ovs(OVS_SCHEMA);
    db.add_bridges(&["br-ex"]);
    let mut cfg = with_ovs(base, db.sock.clone());
    cfg.network_events.ovs_check_interval = Duration::from_millis(200);
    let agent = Agent::start(cfg).await.expect("start");
    let st = collector_status(&agent);
    assert_eq!(st.state, "error");
    assert!(
        st.reason.as_deref().unwrap().contains("no bridge br-int"),
        "{st:?}"
    );
    // Retried (the failure counted again at a later check), and still failing meanwhile.
    let bridge_errors = || {
        let text = agent.metrics().encode();
        text.lines()
            .find(|l| l.contains("error=\"BridgeNotFound\""))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while bridge_errors() < 2 {
        assert!(
            Instant::now() < deadline,
            "never retried: {:?}",
            collector_status(&agent)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    db
}

/// No Open vSwitch database at all.
async fn no_database_is_reported(base: &Config) {
    let agent = Agent::start(with_ovs(base, "/nonexistent/openvswitch/db.sock".into()))
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
}

/// Opted out: the database is not touched.
async fn opting_out_leaves_the_database_alone(base: &Config, db: &OvsdbServer) {
    let mut cfg = with_ovs(base, db.sock.clone());
    cfg.network_events.register_ovs_collector = false;
    let agent = Agent::start(cfg).await.expect("start");
    let st = collector_status(&agent);
    assert_eq!((st.state.as_str(), st.registered), ("disabled", false));
    agent.shutdown().await.unwrap();
    assert!(db.collector_sets().is_empty());
}
