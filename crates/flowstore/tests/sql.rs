//! Table-driven: representative `filters` values and the SQL the store runs for them.
#![allow(clippy::expect_used)]

use netobserv_flowstore::filter::Filters;
use netobserv_flowstore::query::{
    MetricFunction, MetricType, MetricsQuery, PacketLoss, RecordType, RecordsQuery, Selection,
    TimeRange,
};
use netobserv_flowstore::sql::{self, Param, StoreInfo, Table};
use pretty_assertions::assert_eq;

const RANGE: TimeRange = TimeRange {
    start_ms: 1_000_000,
    end_ms: 1_300_000,
};

fn selection(filters: &str) -> Selection {
    Selection {
        filters: Filters::parse(filters).expect("filters parse"),
        range: RANGE,
        record_type: RecordType::FlowLog,
        packet_loss: PacketLoss::All,
    }
}

/// The `WHERE` clause (after the time range and record type) and its parameters past the first
/// two (the range).
fn where_of(filters: &str) -> (String, Vec<Param>) {
    let q = RecordsQuery {
        selection: selection(filters),
        limit: 10,
    };
    let s = sql::records_sql(&q, &StoreInfo::full(15_000)).expect("sql");
    let start = s.text.find(" WHERE ").expect("where") + 7;
    let end = s.text.find(" ORDER BY").expect("order");
    let clause = s.text[start..end]
        .trim_start_matches("TimeFlowEndMs >= ?1 AND TimeFlowEndMs < ?2 AND (_RecordType IS NULL OR _RecordType = 'flowLog')")
        .trim_start_matches(" AND ")
        .to_string();
    let mut params = s.params;
    params.drain(..2);
    params.pop(); // limit
    (clause, params)
}

fn t(s: &str) -> Param {
    Param::Text(s.into())
}

#[test]
fn filters_become_sql() {
    use Param::Int;
    let v4 = |a: [u8; 4]| {
        let mut b = vec![0u8; 10];
        b.extend([0xff, 0xff]);
        b.extend(a);
        Param::Blob(b)
    };
    let cases: Vec<(&str, &str, Vec<Param>)> = vec![
        (
            r#"SrcK8S_Namespace="netobserv""#,
            "SrcK8S_Namespace = ?3",
            vec![t("netobserv")],
        ),
        (
            "SrcK8S_Namespace=net",
            r"SrcK8S_Namespace LIKE ?3 ESCAPE '\'",
            vec![t("%net%")],
        ),
        (
            r#"SrcK8S_Name="web-*""#,
            "SrcK8S_Name GLOB ?3",
            vec![t("web-*")],
        ),
        (
            r#"DstK8S_Namespace="""#,
            "(DstK8S_Namespace IS NULL OR DstK8S_Namespace = '')",
            vec![],
        ),
        (
            "Proto=6,udp",
            "(Proto = ?3 OR Proto = ?4)",
            vec![Int(6), Int(17)],
        ),
        (
            "DstPort!=53",
            "NOT coalesce(DstPort = ?3, 0)",
            vec![Int(53)],
        ),
        ("Bytes>=1000", "Bytes >= ?3", vec![Int(1000)]),
        ("DnsName~^api\\.", "DnsName REGEXP ?3", vec![t("^api\\.")]),
        (
            "SrcAddr=10.0.0.0/8",
            "inet_in(SrcAddr, ?3, ?4)",
            vec![v4([10, 0, 0, 0]), v4([10, 255, 255, 255])],
        ),
        ("DstAddr=10.1.2.3", "DstAddr = ?3", vec![t("10.1.2.3")]),
        // Network events: substring over the JSON text, or an exact value of any event field.
        (
            "NetworkEvents=drop",
            r"NetworkEvents LIKE ?3 ESCAPE '\'",
            vec![t("%drop%")],
        ),
        (
            r#"network_events="my-policy""#,
            "EXISTS (SELECT 1 FROM json_each(NetworkEvents) e, json_each(e.value) v WHERE v.value = ?3)",
            vec![t("my-policy")],
        ),
        // Packet translation.
        (
            "XlatDstAddr=172.30.0.10&XlatDstPort=8080&ZoneId=3",
            "XlatDstAddr = ?3 AND XlatDstPort = ?4 AND ZoneId = ?5",
            vec![t("172.30.0.10"), Int(8080), Int(3)],
        ),
        (
            r#"xlat_src_address=10.128.0.0/14"#,
            "inet_in(XlatSrcAddr, ?3, ?4)",
            vec![v4([10, 128, 0, 0]), v4([10, 131, 255, 255])],
        ),
        // Match any: one group per match.
        (
            r#"SrcK8S_Namespace="a"|DstPort=443"#,
            "((SrcK8S_Namespace = ?3) OR (DstPort = ?4))",
            vec![t("a"), Int(443)],
        ),
        // Match all: one group.
        (
            r#"SrcK8S_Namespace="a"&DstPort=443"#,
            "SrcK8S_Namespace = ?3 AND DstPort = ?4",
            vec![t("a"), Int(443)],
        ),
        // Back and forth: the frontend sends the swapped group too.
        (
            r#"SrcK8S_Namespace="a"&DstK8S_Namespace="b"|SrcK8S_Namespace="b"&DstK8S_Namespace="a""#,
            "((SrcK8S_Namespace = ?3 AND DstK8S_Namespace = ?4) OR (SrcK8S_Namespace = ?5 AND DstK8S_Namespace = ?6))",
            vec![t("a"), t("b"), t("b"), t("a")],
        ),
        // A both-ends filter id is source or destination.
        (
            r#"namespace="a""#,
            "((SrcK8S_Namespace = ?3) OR (DstK8S_Namespace = ?4))",
            vec![t("a"), t("a")],
        ),
        (
            r#"Interfaces="eth0""#,
            "EXISTS (SELECT 1 FROM json_each(Interfaces) WHERE json_each.value = ?3)",
            vec![t("eth0")],
        ),
        (
            "tcp_flags=SYN",
            r"Flags LIKE ?3 ESCAPE '\'",
            vec![t("%SYN%")],
        ),
        ("node_direction=egress", "FlowDirection = ?3", vec![Int(1)]),
        (
            // Percent-encoded values are decoded; LIKE wildcards in them are escaped.
            "DnsName=my%5Fhost",
            r"DnsName LIKE ?3 ESCAPE '\'",
            vec![t(r"%my\_host%")],
        ),
    ];
    for (filters, want, params) in cases {
        let (got, got_params) = where_of(filters);
        assert_eq!(got, want, "filters {filters}");
        assert_eq!(got_params, params, "parameters of {filters}");
    }
}

#[test]
fn bad_filters_name_the_problem() {
    for (filters, needle) in [
        ("Nope=1", "unknown filter field `Nope`"),
        ("SrcPort=http", "`SrcPort` expects a number"),
        ("SrcAddr=10.0.0", "`SrcAddr` expects an IP address"),
        ("SrcK8S_Name>=3", ">= only applies to numeric fields"),
        ("DnsName~(", "bad regex"),
        ("SrcK8S_Name=a;b", "character `;` is not allowed"),
        ("SrcK8S_Name", "has no operator"),
        ("SrcK8S_Name=", "empty value"),
        ("SrcK8S_Name<3", "expected =, !=, >=, ~ or !~"),
    ] {
        let err = Filters::parse(filters).expect_err(filters).to_string();
        assert!(err.contains(needle), "{filters}: {err}");
    }
}

fn metrics(
    filters: &str,
    t: MetricType,
    f: MetricFunction,
    labels: &[&'static str],
) -> MetricsQuery {
    MetricsQuery {
        selection: selection(filters),
        labels: labels.to_vec(),
        metric_type: t,
        function: f,
        step_s: 30,
        rate_interval_s: 60,
        limit: 50,
    }
}

#[test]
fn topology_reads_rollups_when_it_can() {
    let info = StoreInfo::full(15_000);
    let cases: Vec<(MetricsQuery, Option<&str>, &str)> = vec![
        (
            metrics(
                r#"SrcK8S_Namespace="a""#,
                MetricType::Bytes,
                MetricFunction::Rate,
                &["SrcK8S_Namespace", "DstK8S_Namespace"],
            ),
            Some("namespace"),
            "SELECT coalesce(SrcK8S_Namespace, '') || char(0) || coalesce(DstK8S_Namespace, '') AS k, (Bucket - ?4) / ?5 AS slot, Bytes AS s, Flows AS n, NULL AS lo, NULL AS hi FROM flow_rollup WHERE Level = 2 AND Bucket >= ?1 AND Bucket < ?2 AND (_RecordType IS NULL OR _RecordType = 'flowLog') AND SrcK8S_Namespace = ?3 AND (FlowDirection IS NULL OR FlowDirection IN (0, 2) OR (FlowDirection = 1 AND coalesce(DstK8S_Type, '') IN ('', 'Service'))) AND Flows > 0",
        ),
        (
            // A filter on a field the rollups lack (DnsName): raw flows.
            metrics(
                "DnsName=example",
                MetricType::DnsLatencyMs,
                MetricFunction::Avg,
                &["SrcK8S_Namespace"],
            ),
            None,
            r"SELECT coalesce(SrcK8S_Namespace, '') AS k, (TimeFlowEndMs - ?4) / ?5 AS slot, DnsLatencyMs AS s, 1 AS n, DnsLatencyMs AS lo, DnsLatencyMs AS hi FROM flow WHERE TimeFlowEndMs >= ?1 AND TimeFlowEndMs < ?2 AND (_RecordType IS NULL OR _RecordType = 'flowLog') AND DnsName LIKE ?3 ESCAPE '\' AND DnsLatencyMs > 0",
        ),
        (
            metrics(
                "",
                MetricType::TimeFlowRttNs,
                MetricFunction::Max,
                &["SrcK8S_HostName", "DstK8S_HostName"],
            ),
            Some("host"),
            "SELECT coalesce(SrcK8S_HostName, '') || char(0) || coalesce(DstK8S_HostName, '') AS k, (Bucket - ?3) / ?4 AS slot, RttSum / 1e6 AS s, RttCount AS n, RttMin / 1e6 AS lo, RttMax / 1e6 AS hi FROM flow_rollup WHERE Level = 1 AND Bucket >= ?1 AND Bucket < ?2 AND (_RecordType IS NULL OR _RecordType = 'flowLog') AND RttCount > 0",
        ),
        (
            // Percentiles need every value.
            metrics(
                "",
                MetricType::DnsLatencyMs,
                MetricFunction::P99,
                &["DnsFlagsResponseCode"],
            ),
            None,
            "SELECT coalesce(DnsFlagsResponseCode, '') AS k, (TimeFlowEndMs - ?3) / ?4 AS slot, DnsLatencyMs AS s, 1 AS n, DnsLatencyMs AS lo, DnsLatencyMs AS hi FROM flow WHERE TimeFlowEndMs >= ?1 AND TimeFlowEndMs < ?2 AND (_RecordType IS NULL OR _RecordType = 'flowLog') AND DnsLatencyMs > 0",
        ),
        (
            // Filtering on FlowDirection turns the de-duplication off.
            metrics(
                "FlowDirection=1",
                MetricType::Packets,
                MetricFunction::Sum,
                &["PktDropLatestDropCause"],
            ),
            Some("overview"),
            "SELECT coalesce(PktDropLatestDropCause, '') AS k, (Bucket - ?4) / ?5 AS slot, Packets AS s, Flows AS n, NULL AS lo, NULL AS hi FROM flow_rollup WHERE Level = 3 AND Bucket >= ?1 AND Bucket < ?2 AND (_RecordType IS NULL OR _RecordType = 'flowLog') AND FlowDirection = ?3 AND Flows > 0",
        ),
    ];
    for (q, table, want) in cases {
        let (sql, plan) = sql::metrics_sql(&q, &info).expect("sql");
        let level = match plan.table {
            Table::Rollup(l) => Some(l.name),
            Table::Flow => None,
        };
        assert_eq!(level, table, "{want}");
        assert_eq!(sql.text, want);
    }
}

#[test]
fn metric_queries_the_store_cannot_answer_are_refused() {
    let info = StoreInfo::full(15_000);
    let err = sql::metrics_sql(
        &metrics("", MetricType::DnsLatencyMs, MetricFunction::Rate, &[]),
        &info,
    )
    .expect_err("rate of a latency");
    assert!(
        err.is_client_error() && err.to_string().contains("use avg"),
        "{err}"
    );
    let cli = StoreInfo {
        columns: vec!["SrcAddr", "DstAddr", "Bytes", "Packets"],
        has_extra: false,
        has_rollup: false,
        bucket_ms: 15_000,
        rollup_levels: Vec::new(),
    };
    let err = sql::metrics_sql(
        &metrics(
            "",
            MetricType::Bytes,
            MetricFunction::Sum,
            &["SrcK8S_Namespace"],
        ),
        &cli,
    )
    .expect_err("no namespace column");
    assert!(
        err.to_string().contains("no `SrcK8S_Namespace` column"),
        "{err}"
    );
}
