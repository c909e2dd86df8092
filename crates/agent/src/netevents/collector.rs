//! NetworkEvents, Open vSwitch side: the `Flow_Sample_Collector_Set` row that makes OVS deliver
//! OVN's samples to psample.
//!
//! OVN-Kubernetes programs `sample()` actions on `br-int` that name collector set 42 (its default
//! observability collector set). OVS only acts on them when the local Open vSwitch database has a
//! `Flow_Sample_Collector_Set` with that id on that bridge; with `local_group_id` set (OVS ≥ 3.4)
//! the samples go to that psample group, which is where the agent's `psample_sample_packet` hook
//! listens. Without the row, OVS sends the samples nowhere and the hook sees nothing. The row
//! carries `external_ids:owner` so that the agent recognises its own row after a restart, never
//! takes over a row somebody else registered (e.g. `ovnkube-observ`), and deletes only its own.

use super::ovsdb::{
    OvsdbClient, OvsdbError, insert_op, inserted_uuid, map_value, optional_int, string_map,
    uuid_of, wait_absent_op,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// OVN-Kubernetes' default observability collector set id: the id its sampling flows use.
pub const COLLECTOR_SET_ID: u32 = 42;
/// The OVN integration bridge, where OVN's sampling flows live.
pub const BRIDGE: &str = "br-int";
/// `external_ids:owner` of the row; the same value as upstream's agent, so that a node moving
/// between the two agents sees the row as the same owner's.
pub const OWNER: &str = "netobservAgent";
/// Key of the owner in the row's `external_ids`.
pub const OWNER_KEY: &str = "owner";

const OVS_DB: &str = "Open_vSwitch";
const TABLE: &str = "Flow_Sample_Collector_Set";

/// What to register, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// Unix socket of the local Open vSwitch database.
    pub socket: PathBuf,
    /// Bridge the set belongs to ([`BRIDGE`]).
    pub bridge: String,
    /// Collector set id ([`COLLECTOR_SET_ID`]).
    pub set_id: u32,
    /// psample group the samples go to (`NETWORK_EVENTS_MONITORING_GROUP_ID`).
    pub group_id: u32,
    /// `external_ids:owner` of the row ([`OWNER`]).
    pub owner: String,
    /// Deadline of one OVSDB request.
    pub timeout: Duration,
}

impl CollectorConfig {
    /// The agent's registration: set [`COLLECTOR_SET_ID`] on [`BRIDGE`], owned by [`OWNER`],
    /// sampling into psample group `group_id`, through the database at `socket`.
    pub fn new(socket: impl Into<PathBuf>, group_id: u32) -> Self {
        Self {
            socket: socket.into(),
            bridge: BRIDGE.to_string(),
            set_id: COLLECTOR_SET_ID,
            group_id,
            owner: OWNER.to_string(),
            timeout: Duration::from_secs(2),
        }
    }
}

/// Why the collector set could not be registered or removed.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// The database could not be reached or did not answer (no socket, timeout, garbage).
    #[error("Open vSwitch database unreachable: {0}")]
    Unreachable(OvsdbError),
    /// The database answered with an error.
    #[error("the Open vSwitch database refused the request: {0}")]
    Database(String),
    /// The bridge does not exist (OVN-Kubernetes not running, or not yet, on this node).
    #[error("no bridge {bridge} in the Open vSwitch database at {socket}")]
    NoBridge {
        /// Bridge name.
        bridge: String,
        /// Database socket.
        socket: String,
    },
    /// Somebody else's set already has the id on the bridge; it is left untouched.
    #[error(
        "Flow_Sample_Collector_Set id {set_id} on {bridge} already exists with owner {owner} and \
         local_group_id {group}, not this agent's (owner {ours}, local_group_id {our_group}); \
         left untouched"
    )]
    Foreign {
        /// Collector set id.
        set_id: u32,
        /// Bridge name.
        bridge: String,
        /// The existing row's owner, `(none)` when it has none.
        owner: String,
        /// The existing row's psample group, `(none)` when unset.
        group: String,
        /// This agent's owner name.
        ours: String,
        /// This agent's psample group.
        our_group: u32,
    },
    /// The database schema predates `Flow_Sample_Collector_Set.local_group_id`, so OVS cannot
    /// sample into psample at all.
    #[error(
        "this Open vSwitch has no Flow_Sample_Collector_Set.local_group_id column (Open vSwitch \
         3.4 or later is needed to sample into psample): {0}"
    )]
    OvsTooOld(String),
}

impl CollectorError {
    /// A short, stable name for the `error` label of the `errors` metric.
    pub fn kind(&self) -> &'static str {
        match self {
            CollectorError::Unreachable(_) => "OvsdbUnreachable",
            CollectorError::Database(_) => "OvsdbError",
            CollectorError::NoBridge { .. } => "BridgeNotFound",
            CollectorError::Foreign { .. } => "CollectorSetOwnedByOther",
            CollectorError::OvsTooOld(_) => "OvsTooOld",
        }
    }
}

impl From<OvsdbError> for CollectorError {
    fn from(e: OvsdbError) -> Self {
        match e {
            OvsdbError::Server(msg) if msg.contains("local_group_id") => {
                CollectorError::OvsTooOld(msg)
            }
            OvsdbError::Server(msg) => CollectorError::Database(msg),
            other => CollectorError::Unreachable(other),
        }
    }
}

/// What a successful registration found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The row was inserted now.
    Created {
        /// Its `_uuid`.
        uuid: String,
    },
    /// This agent's row (same owner and group) was already there, e.g. after a restart that
    /// skipped the clean shutdown; it is kept as is.
    AlreadyRegistered {
        /// Its `_uuid`.
        uuid: String,
    },
}

impl Registration {
    /// The row's `_uuid`.
    pub fn uuid(&self) -> &str {
        match self {
            Registration::Created { uuid } | Registration::AlreadyRegistered { uuid } => uuid,
        }
    }
}

/// Registers and removes the agent's collector set over its own OVSDB connection.
pub struct SampleCollector {
    cfg: CollectorConfig,
    client: OvsdbClient,
}

impl SampleCollector {
    /// A registrar for `cfg` (the database is connected on first use).
    pub fn new(cfg: CollectorConfig) -> Self {
        Self {
            client: OvsdbClient::new(&cfg.socket, cfg.timeout),
            cfg,
        }
    }

    /// What this registrar registers.
    pub fn config(&self) -> &CollectorConfig {
        &self.cfg
    }

    /// Makes sure the set exists on the bridge, owned by us with our psample group: inserts it
    /// when absent, accepts our own row when present, refuses (without touching it) a row with
    /// the same id that another owner or another group registered. The insert is guarded by a
    /// `wait` on the row's absence in the same transaction, so a concurrent registration by
    /// someone else makes ours fail cleanly rather than create a duplicate.
    pub async fn register(&mut self) -> Result<Registration, CollectorError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let bridge = self.bridge_uuid().await?;
            let conditions = vec![
                json!(["id", "==", self.cfg.set_id]),
                json!(["bridge", "==", ["uuid", bridge]]),
            ];
            let rows = self
                .client
                .select(
                    OVS_DB,
                    TABLE,
                    conditions.clone(),
                    &["_uuid", "external_ids", "local_group_id"],
                )
                .await?;
            if let Some(row) = rows.first() {
                return self.check_existing(row);
            }
            let row = json!({
                "id": self.cfg.set_id,
                "bridge": ["uuid", bridge],
                "local_group_id": self.cfg.group_id,
                "external_ids": map_value(&[(OWNER_KEY, &self.cfg.owner)]),
            });
            let ops = vec![wait_absent_op(TABLE, conditions), insert_op(TABLE, row)];
            match self.client.transact(OVS_DB, ops).await {
                Ok(results) => {
                    let uuid = results
                        .get(1)
                        .and_then(inserted_uuid)
                        .ok_or_else(|| {
                            CollectorError::Unreachable(OvsdbError::Protocol(
                                "insert result has no uuid".into(),
                            ))
                        })?
                        .to_string();
                    return Ok(Registration::Created { uuid });
                }
                // The `wait` failed: a row appeared between our select and our insert. Look
                // again once, to say whose it is.
                Err(OvsdbError::Server(e)) if attempt == 1 && e.contains("timed out") => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Deletes this agent's set (same id, our owner), whatever its bridge; another owner's row
    /// with the same id is never matched. Returns how many rows went (0 when ours was already
    /// gone).
    pub async fn unregister(&mut self) -> Result<u64, CollectorError> {
        let conditions = vec![
            json!(["id", "==", self.cfg.set_id]),
            json!([
                "external_ids",
                "includes",
                map_value(&[(OWNER_KEY, &self.cfg.owner)])
            ]),
        ];
        Ok(self.client.delete(OVS_DB, TABLE, conditions).await?)
    }

    async fn bridge_uuid(&mut self) -> Result<String, CollectorError> {
        let rows = self
            .client
            .select(
                OVS_DB,
                "Bridge",
                vec![json!(["name", "==", self.cfg.bridge])],
                &["_uuid"],
            )
            .await?;
        rows.first()
            .and_then(|r| r.get("_uuid"))
            .and_then(uuid_of)
            .map(str::to_string)
            .ok_or_else(|| CollectorError::NoBridge {
                bridge: self.cfg.bridge.clone(),
                socket: self.cfg.socket.display().to_string(),
            })
    }

    fn check_existing(
        &self,
        row: &serde_json::Map<String, Value>,
    ) -> Result<Registration, CollectorError> {
        let owner = row
            .get("external_ids")
            .map(string_map)
            .and_then(|m| m.get(OWNER_KEY).cloned());
        let group = row.get("local_group_id").and_then(optional_int);
        let uuid = row
            .get("_uuid")
            .and_then(uuid_of)
            .unwrap_or_default()
            .to_string();
        if owner.as_deref() == Some(self.cfg.owner.as_str())
            && group == Some(i64::from(self.cfg.group_id))
        {
            return Ok(Registration::AlreadyRegistered { uuid });
        }
        Err(CollectorError::Foreign {
            set_id: self.cfg.set_id,
            bridge: self.cfg.bridge.clone(),
            owner: owner.unwrap_or_else(|| "(none)".into()),
            group: group.map_or_else(|| "(none)".into(), |g| g.to_string()),
            ours: self.cfg.owner.clone(),
            our_group: self.cfg.group_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_classified() {
        let old: CollectorError = OvsdbError::Server(
            "\"syntax error\" Table Flow_Sample_Collector_Set has no column named local_group_id"
                .into(),
        )
        .into();
        assert_eq!(old.kind(), "OvsTooOld");
        let other: CollectorError = OvsdbError::Server("\"constraint violation\"".into()).into();
        assert_eq!(other.kind(), "OvsdbError");
        let gone: CollectorError = OvsdbError::Closed.into();
        assert_eq!(gone.kind(), "OvsdbUnreachable");
    }

    #[test]
    fn foreign_rows_are_refused_and_ours_accepted() {
        let c = SampleCollector::new(CollectorConfig::new("/nonexistent", 10));
        let row = |owner: Option<&str>, group: Value| {
            let mut r = serde_json::Map::new();
            r.insert("_uuid".into(), json!(["uuid", "u1"]));
            r.insert(
                "external_ids".into(),
                map_value(&owner.map(|o| vec![(OWNER_KEY, o)]).unwrap_or_default()),
            );
            r.insert("local_group_id".into(), group);
            r
        };
        assert_eq!(
            c.check_existing(&row(Some(OWNER), json!(10))).ok(),
            Some(Registration::AlreadyRegistered { uuid: "u1".into() })
        );
        let e = c
            .check_existing(&row(Some("ovnkube-observ"), json!(10)))
            .unwrap_err();
        assert!(e.to_string().contains("owner ovnkube-observ"), "{e}");
        let e = c.check_existing(&row(Some(OWNER), json!(11))).unwrap_err();
        assert!(e.to_string().contains("local_group_id 11"), "{e}");
        let e = c
            .check_existing(&row(None, json!(["set", []])))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("owner (none) and local_group_id (none)"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn missing_socket_is_unreachable() {
        let mut c = SampleCollector::new(CollectorConfig::new("/nonexistent/db.sock", 10));
        let e = c.register().await.unwrap_err();
        assert_eq!(e.kind(), "OvsdbUnreachable");
        assert!(e.to_string().contains("/nonexistent/db.sock"), "{e}");
    }
}
