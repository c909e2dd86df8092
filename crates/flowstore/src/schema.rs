//! The store's tables: `flow` (one row per record, one column per catalogued field, the CLI's
//! capture-file table extended), `flow_rollup` (per time bucket sums that overview and topology
//! read instead of raw flows) and `store_meta` (schema version and rollup bucket size).

use crate::fields::{EXTRA_COLUMN, FIELDS};

/// Version written to `store_meta`; a newer file is refused by the writer (read-only opening
/// still works from the columns it finds).
pub const SCHEMA_VERSION: i64 = 1;

/// One rollup level: the fields it groups by. Levels are narrow so that their rows per bucket
/// stay few (hosts, or namespaces, or owners — not their cross product); a query is answered by
/// the first level holding every field it filters or groups on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RollupLevel {
    /// Value of the `Level` column.
    pub id: i64,
    /// Name, for documentation and logs.
    pub name: &'static str,
    /// Fields kept (the others are NULL in this level's rows).
    pub dims: &'static [&'static str],
}

/// Rollup levels, smallest first. Every level keeps the fields of the console's default quick
/// filters (flow layer, source and destination kinds) and of the FlowDirection de-duplication.
pub const ROLLUP_LEVELS: &[RollupLevel] = &[
    RollupLevel {
        id: 1,
        name: "host",
        dims: &[
            "K8S_ClusterName",
            "_RecordType",
            "FlowDirection",
            "DstK8S_Type",
            "SrcK8S_Zone",
            "DstK8S_Zone",
            "SrcK8S_HostName",
            "DstK8S_HostName",
        ],
    },
    RollupLevel {
        id: 2,
        name: "namespace",
        dims: &[
            "K8S_ClusterName",
            "_RecordType",
            "FlowDirection",
            "DstK8S_Type",
            "SrcK8S_Namespace",
            "DstK8S_Namespace",
            "K8S_FlowLayer",
            "SrcSubnetLabel",
            "DstSubnetLabel",
        ],
    },
    RollupLevel {
        id: 3,
        name: "overview",
        dims: &[
            "K8S_ClusterName",
            "_RecordType",
            "FlowDirection",
            "DstK8S_Type",
            "SrcK8S_Namespace",
            "DstK8S_Namespace",
            "K8S_FlowLayer",
            "Proto",
            "PktDropLatestState",
            "PktDropLatestDropCause",
            "DnsFlagsResponseCode",
        ],
    },
    RollupLevel {
        id: 4,
        name: "owner",
        dims: &[
            "K8S_ClusterName",
            "_RecordType",
            "FlowDirection",
            "DstK8S_Type",
            "SrcK8S_Namespace",
            "DstK8S_Namespace",
            "K8S_FlowLayer",
            "SrcSubnetLabel",
            "DstSubnetLabel",
            "SrcK8S_OwnerName",
            "DstK8S_OwnerName",
            "SrcK8S_OwnerType",
            "DstK8S_OwnerType",
            "SrcK8S_Type",
            "SrcK8S_Zone",
            "DstK8S_Zone",
        ],
    },
    // Every peer: the topology's resource and process scopes, and local mode (where addresses
    // and processes are the resources). Its rows per bucket are the distinct peer pairs, far
    // fewer than flows on a host (a scan of new 5-tuples between two hosts is one row).
    RollupLevel {
        id: 5,
        name: "peer",
        dims: &[
            "K8S_ClusterName",
            "_RecordType",
            "FlowDirection",
            "DstK8S_Type",
            "K8S_FlowLayer",
            "SrcSubnetLabel",
            "DstSubnetLabel",
            "Proto",
            "SrcK8S_Type",
            "SrcK8S_Name",
            "DstK8S_Name",
            "SrcK8S_OwnerName",
            "DstK8S_OwnerName",
            "SrcK8S_OwnerType",
            "DstK8S_OwnerType",
            "SrcK8S_Namespace",
            "DstK8S_Namespace",
            "SrcK8S_HostName",
            "DstK8S_HostName",
            "SrcAddr",
            "DstAddr",
            "SrcProcessName",
            "DstProcessName",
        ],
    },
];

/// The id of the `peer` level, maintained only when asked for ([`crate::StoreOptions`]).
pub const PEER_LEVEL: i64 = 5;

/// The levels of a file whose `store_meta` names none (written before the `peer` level).
pub const LEGACY_LEVELS: &[i64] = &[1, 2, 3, 4];

/// Every field some rollup level groups by: the dimension columns of `flow_rollup`.
pub const ROLLUP_DIMS: &[&str] = &[
    "K8S_ClusterName",
    "_RecordType",
    "FlowDirection",
    "DstK8S_Type",
    "SrcK8S_Zone",
    "DstK8S_Zone",
    "SrcK8S_HostName",
    "DstK8S_HostName",
    "SrcK8S_Namespace",
    "DstK8S_Namespace",
    "K8S_FlowLayer",
    "SrcSubnetLabel",
    "DstSubnetLabel",
    "Proto",
    "PktDropLatestState",
    "PktDropLatestDropCause",
    "DnsFlagsResponseCode",
    "SrcK8S_OwnerName",
    "DstK8S_OwnerName",
    "SrcK8S_OwnerType",
    "DstK8S_OwnerType",
    "SrcK8S_Type",
    "SrcK8S_Name",
    "DstK8S_Name",
    "SrcAddr",
    "DstAddr",
    "SrcProcessName",
    "DstProcessName",
];

/// The first rollup level among `available` (the file's) holding every field in `needed`.
pub fn rollup_level<'a>(
    needed: impl Iterator<Item = &'a str> + Clone,
    available: &[i64],
) -> Option<&'static RollupLevel> {
    ROLLUP_LEVELS
        .iter()
        .filter(|l| available.contains(&l.id))
        .find(|l| needed.clone().all(|f| l.dims.contains(&f)))
}

/// Every level's id: what a new file maintains.
pub fn all_levels() -> Vec<i64> {
    ROLLUP_LEVELS.iter().map(|l| l.id).collect()
}

/// The sums each rollup row keeps.
pub const ROLLUP_MEASURES: &[&str] = &[
    "Flows",
    "Bytes",
    "Packets",
    "PktDropBytes",
    "PktDropPackets",
    "DropFlows",
    "DnsFlows",
    "DnsLatencySum",
    "DnsLatencyCount",
    "DnsLatencyMin",
    "DnsLatencyMax",
    "RttSum",
    "RttCount",
    "RttMin",
    "RttMax",
];

/// Indexes on `flow`: only the time range every query has. Filtered flow-table pages walk it
/// newest first until the page is full; aggregated panels read the rollups. Each extra index cost
/// about 10 % of the ingest rate (measured by the bench), so none is added for other filters.
pub const INDEXES: &[(&str, &str)] = &[("flow_time", "TimeFlowEndMs")];

/// `CREATE TABLE flow (...)` with every catalogued field and the `Extra` column.
pub fn create_flow_table() -> String {
    let mut sql = String::from("CREATE TABLE IF NOT EXISTS flow (\n");
    for f in FIELDS {
        sql.push_str(&format!("  {} {},\n", f.name, f.kind.sql_type()));
    }
    sql.push_str(&format!("  {EXTRA_COLUMN} TEXT\n)"));
    sql
}

/// `CREATE TABLE flow_rollup (...)`.
pub fn create_rollup_table() -> String {
    let mut sql = String::from(
        "CREATE TABLE IF NOT EXISTS flow_rollup (\n  Level INTEGER NOT NULL,\n  Bucket INTEGER NOT NULL,\n  DimKey INTEGER NOT NULL,\n",
    );
    for d in ROLLUP_DIMS {
        let ty = crate::fields::field(d).map_or("TEXT", |f| f.kind.sql_type());
        sql.push_str(&format!("  {d} {ty},\n"));
    }
    for m in ROLLUP_MEASURES {
        sql.push_str(&format!("  {m} INTEGER,\n"));
    }
    sql.push_str("  PRIMARY KEY (Level, Bucket, DimKey)\n) WITHOUT ROWID");
    sql
}

/// The whole schema, as statements a fresh file runs (also what `docs`/tests feed to `sqlite3`).
pub fn ddl() -> String {
    let mut out = vec![create_flow_table()];
    for (name, cols) in INDEXES {
        out.push(format!("CREATE INDEX IF NOT EXISTS {name} ON flow({cols})"));
    }
    out.push(create_rollup_table());
    out.push(
        "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)".into(),
    );
    out.join(";\n") + ";\n"
}

#[cfg(test)]
mod tests {
    #[test]
    fn ddl_runs_on_an_empty_database() {
        let db = rusqlite::Connection::open_in_memory().expect("opens");
        db.execute_batch(&super::ddl())
            .expect("schema is valid SQL");
        let n: i64 = db
            .query_row("SELECT count(*) FROM pragma_table_info('flow')", [], |r| {
                r.get(0)
            })
            .expect("columns");
        assert_eq!(n as usize, crate::fields::FIELDS.len() + 1);
    }
}

#[cfg(test)]
mod level_tests {
    use super::*;

    #[test]
    fn every_level_dim_is_a_rollup_column_and_a_field() {
        for l in ROLLUP_LEVELS {
            for d in l.dims {
                assert!(ROLLUP_DIMS.contains(d), "{d}");
                assert!(crate::fields::field(d).is_some(), "{d}");
            }
        }
        for d in ROLLUP_DIMS {
            assert!(
                ROLLUP_LEVELS.iter().any(|l| l.dims.contains(d)),
                "{d} unused"
            );
        }
        let all = all_levels();
        assert_eq!(
            rollup_level(["SrcK8S_HostName"].into_iter(), &all).map(|l| l.name),
            Some("host")
        );
        assert_eq!(
            rollup_level(["SrcK8S_Namespace"].into_iter(), &all).map(|l| l.name),
            Some("namespace")
        );
        assert_eq!(
            rollup_level(["SrcK8S_OwnerName", "Proto"].into_iter(), &all).map(|l| l.name),
            Some("peer")
        );
        // A file written before the peer level answers those from raw flows.
        assert_eq!(
            rollup_level(["SrcK8S_OwnerName", "Proto"].into_iter(), LEGACY_LEVELS),
            None
        );
        assert_eq!(
            rollup_level(["SrcAddr", "DstProcessName"].into_iter(), &all).map(|l| l.name),
            Some("peer")
        );
        assert_eq!(rollup_level(["SrcPort"].into_iter(), &all), None);
    }
}
