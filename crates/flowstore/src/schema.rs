//! The store's tables: `flow` (one row per record, one column per catalogued field, the CLI's
//! capture-file table extended), `flow_rollup` (per time bucket sums that overview and topology
//! read instead of raw flows) and `store_meta` (schema version and rollup bucket size).

use crate::fields::{EXTRA_COLUMN, FIELDS};

/// Version written to `store_meta`; a newer file is refused by the writer (read-only opening
/// still works from the columns it finds).
pub const SCHEMA_VERSION: i64 = 1;

/// Fields the rollups group by. A query whose filters and aggregation only name these fields can
/// be answered from `flow_rollup`.
pub const ROLLUP_DIMS: &[&str] = &[
    "K8S_ClusterName",
    "SrcK8S_Zone",
    "DstK8S_Zone",
    "SrcK8S_HostName",
    "DstK8S_HostName",
    "SrcK8S_Namespace",
    "DstK8S_Namespace",
    "SrcK8S_OwnerName",
    "DstK8S_OwnerName",
    "SrcK8S_OwnerType",
    "DstK8S_OwnerType",
    "SrcK8S_Type",
    "DstK8S_Type",
    "SrcK8S_Name",
    "DstK8S_Name",
    "SrcK8S_NetworkName",
    "DstK8S_NetworkName",
    "SrcSubnetLabel",
    "DstSubnetLabel",
    "SrcAddr",
    "DstAddr",
    "K8S_FlowLayer",
    "FlowDirection",
    "_RecordType",
    "Proto",
    "PktDropLatestState",
    "PktDropLatestDropCause",
    "DnsFlagsResponseCode",
];

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

/// Indexes on `flow`: the time range every query has, and the namespace filters people use most
/// (each index costs ingest time, measured by the bench).
pub const INDEXES: &[(&str, &str)] = &[
    ("flow_time", "TimeFlowEndMs"),
    ("flow_src_ns", "SrcK8S_Namespace, TimeFlowEndMs"),
    ("flow_dst_ns", "DstK8S_Namespace, TimeFlowEndMs"),
];

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
        "CREATE TABLE IF NOT EXISTS flow_rollup (\n  Bucket INTEGER NOT NULL,\n  DimKey INTEGER NOT NULL,\n",
    );
    for d in ROLLUP_DIMS {
        let ty = crate::fields::field(d).map_or("TEXT", |f| f.kind.sql_type());
        sql.push_str(&format!("  {d} {ty},\n"));
    }
    for m in ROLLUP_MEASURES {
        sql.push_str(&format!("  {m} INTEGER,\n"));
    }
    sql.push_str("  PRIMARY KEY (Bucket, DimKey)\n) WITHOUT ROWID");
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
