//! A real `ovsdb-server` for the NetworkEvents tests (`network_events.rs`, `ovs_collector.rs`):
//! an OVN Northbound database for cookie decoding, an Open vSwitch one for the sample collector
//! set registration.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::common::run;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The OVN Northbound database schema with `Sample` rows (see `tests/data/README.md`).
pub const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/ovn-nb-sampling.ovsschema"
);
/// The Open vSwitch database schema with `Flow_Sample_Collector_Set.local_group_id` (see
/// `tests/data/README.md`).
pub const OVS_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/vswitch-sampling.ovsschema"
);

/// A real `ovsdb-server` serving a fresh database (OVN Northbound, or the local Open vSwitch
/// one) on a temporary unix socket; killed and removed on drop, even when a test fails.
pub struct OvsdbServer {
    child: Child,
    dir: PathBuf,
    /// The database's unix socket.
    pub sock: PathBuf,
    db_name: &'static str,
}

impl OvsdbServer {
    /// An OVN Northbound database.
    pub fn start() -> Self {
        Self::start_with(SCHEMA, "OVN_Northbound")
    }

    /// An Open vSwitch database (`Open_vSwitch`) from `schema`.
    pub fn start_ovs(schema: &str) -> Self {
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
        // Ready once it accepts a connection: the socket file exists from `bind`, a moment
        // before `listen`, and a client in between is refused.
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&server.sock).is_err() {
            assert!(Instant::now() < deadline, "ovsdb-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Runs one transaction with the stock client (independent of the agent's own client).
    pub fn transact(&self, ops: serde_json::Value) -> serde_json::Value {
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

/// An OVSDB `map` of string pairs.
pub fn map(pairs: &[(&str, &str)]) -> serde_json::Value {
    serde_json::json!([
        "map",
        pairs
            .iter()
            .map(|(k, v)| serde_json::json!([k, v]))
            .collect::<Vec<_>>()
    ])
}

impl OvsdbServer {
    /// Bridges as `ovs-vsctl add-br` leaves them: `Bridge` rows referenced from the root
    /// `Open_vSwitch` row (a bridge nobody references would be garbage-collected). Returns
    /// name → `_uuid`.
    pub fn add_bridges(&self, names: &[&str]) -> HashMap<String, String> {
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
    pub fn add_bridge_later(&self, name: &str) {
        self.transact(serde_json::json!([
            {"op": "insert", "table": "Bridge", "uuid-name": "newbr", "row": {"name": name}},
            {"op": "mutate", "table": "Open_vSwitch", "where": [],
             "mutations": [["bridges", "insert", ["set", [["named-uuid", "newbr"]]]]]}
        ]));
    }

    /// Every `Flow_Sample_Collector_Set` row, read with the stock `ovsdb-client`.
    pub fn collector_sets(&self) -> Vec<serde_json::Value> {
        let res = self.transact(serde_json::json!([
            {"op": "select", "table": "Flow_Sample_Collector_Set", "where": []}
        ]));
        res[0]["rows"].as_array().unwrap().clone()
    }

    /// Inserts a collector set as another tool would.
    pub fn add_collector_set(&self, bridge_uuid: &str, id: u32, owner: &str, group: u32) {
        self.transact(serde_json::json!([
            {"op": "insert", "table": "Flow_Sample_Collector_Set", "row": {
                "id": id, "bridge": ["uuid", bridge_uuid], "local_group_id": group,
                "external_ids": map(&[("owner", owner)]),
            }}
        ]));
    }
}
