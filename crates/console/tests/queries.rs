//! Table-driven: each route's query, for representative filters, as LogQL (Loki), PromQL
//! (Prometheus) and SQL (the store). Loki labels are the operator's defaults.
#![allow(clippy::expect_used)]

use netobserv_console::config::MetricConfig;
use netobserv_console::{logql, params, promql};
use netobserv_flowstore::sql::{self, StoreInfo};
use pretty_assertions::assert_eq;
use std::collections::HashMap;

const NOW_MS: i64 = 1_700_000_300_000;

fn labels() -> Vec<String> {
    netobserv_console::api::DEFAULT_LABELS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn p(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `/api/loki/flow/records`: filters → LogQL per group and the store's WHERE clause.
#[test]
fn records_route_queries() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("", &[r#"{app="netobserv-flowcollector"}"#], ""),
        (
            // Loki labels go to the stream selector.
            r#"SrcK8S_Namespace="netobserv"&DstK8S_Type="Pod""#,
            &[
                r#"{app="netobserv-flowcollector", SrcK8S_Namespace="netobserv", DstK8S_Type="Pod"}"#,
            ],
            "SrcK8S_Namespace = ?3 AND DstK8S_Type = ?4",
        ),
        (
            // A substring on a label is a case-insensitive regex matcher.
            "SrcK8S_OwnerName=api",
            &["{app=\"netobserv-flowcollector\", SrcK8S_OwnerName=~`(?i:.*api.*)`}"],
            r"SrcK8S_OwnerName LIKE ?3 ESCAPE '\'",
        ),
        (
            // Other fields are line filters on the JSON text.
            "SrcPort=443&Proto=tcp",
            &["{app=\"netobserv-flowcollector\"} |~ `\"SrcPort\":443[,}]` |~ `\"Proto\":6[,}]`"],
            "SrcPort = ?3 AND Proto = ?4",
        ),
        (
            // Network events: substring over the events, or an exact value of one of their fields.
            "NetworkEvents=drop",
            &["{app=\"netobserv-flowcollector\"} |~ `(?i:\"NetworkEvents\":\\[[^\\]]*drop)`"],
            r"NetworkEvents LIKE ?3 ESCAPE '\'",
        ),
        (
            r#"network_events="deny-all""#,
            &["{app=\"netobserv-flowcollector\"} |~ `\"NetworkEvents\":\\[[^\\]]*\"deny-all\"`"],
            "EXISTS (SELECT 1 FROM json_each(NetworkEvents) e, json_each(e.value) v WHERE v.value = ?3)",
        ),
        (
            // Packet translation: an address range needs `| json | ip(...)`.
            "XlatDstAddr=10.128.0.0/14&XlatDstPort=8080",
            &[
                "{app=\"netobserv-flowcollector\"} |~ `\"XlatDstPort\":8080[,}]` | json | XlatDstAddr=ip(\"10.128.0.0/14\")",
            ],
            "inet_in(XlatDstAddr, ?3, ?4) AND XlatDstPort = ?5",
        ),
        (
            r#"xlat_src_address=10.0.0.1&ZoneId=3"#,
            &[
                "{app=\"netobserv-flowcollector\"} |~ `\"XlatSrcAddr\":\"10\\.0\\.0\\.1\"` |~ `\"ZoneId\":3[,}]`",
            ],
            "XlatSrcAddr = ?3 AND ZoneId = ?4",
        ),
        (
            // Back and forth: the UI sends the swapped group; one query per group, merged.
            r#"SrcK8S_Namespace="a"&DstK8S_Namespace="b"|SrcK8S_Namespace="b"&DstK8S_Namespace="a""#,
            &[
                r#"{app="netobserv-flowcollector", SrcK8S_Namespace="a", DstK8S_Namespace="b"}"#,
                r#"{app="netobserv-flowcollector", SrcK8S_Namespace="b", DstK8S_Namespace="a"}"#,
            ],
            "((SrcK8S_Namespace = ?3 AND DstK8S_Namespace = ?4) OR (SrcK8S_Namespace = ?5 AND DstK8S_Namespace = ?6))",
        ),
        (
            // Match any: one group per filter.
            r#"SrcK8S_Namespace="a"|DnsFlagsResponseCode="NXDomain""#,
            &[
                r#"{app="netobserv-flowcollector", SrcK8S_Namespace="a"}"#,
                "{app=\"netobserv-flowcollector\"} |~ `\"DnsFlagsResponseCode\":\"NXDomain\"`",
            ],
            "((SrcK8S_Namespace = ?3) OR (DnsFlagsResponseCode = ?4))",
        ),
        (
            // Match all, with a negation, >= and a value list.
            r#"DstPort!=53&Bytes>=1000&FlowDirection=0,2"#,
            &[
                "{app=\"netobserv-flowcollector\", FlowDirection=~`0|2`} !~ `\"DstPort\":53[,}]` |~ `\"Bytes\":(?:[1-9][0-9]{4,}|[2-9][0-9]{3}|1[1-9][0-9]{2}|10[1-9][0-9]|100[1-9]|1000)[,}]`",
            ],
            "NOT coalesce(DstPort = ?3, 0) AND Bytes >= ?4 AND (FlowDirection = ?5 OR FlowDirection = ?6)",
        ),
        (
            // Empty value and a regex on a line field go through `| json`.
            r#"DnsName~^api\..*&SrcK8S_HostName="""#,
            &[
                "{app=\"netobserv-flowcollector\"} | json | DnsName=~`^api\\..*` | SrcK8S_HostName=\"\"",
            ],
            "DnsName REGEXP ?3 AND (SrcK8S_HostName IS NULL OR SrcK8S_HostName = '')",
        ),
    ];
    for (filters, want_logql, want_sql) in cases {
        let q = params::records_query(&p(&[("filters", filters), ("timeRange", "300")]), NOW_MS)
            .expect("parameters");
        assert_eq!(
            logql::record_queries(&q.selection, &labels()),
            want_logql.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "LogQL of {filters}"
        );
        let s = sql::records_sql(&q, &StoreInfo::full(30_000)).expect("sql");
        let where_ = s
            .text
            .split_once(" WHERE ")
            .and_then(|(_, w)| w.split(" ORDER BY").next())
            .unwrap_or_default()
            .trim_start_matches("TimeFlowEndMs >= ?1 AND TimeFlowEndMs < ?2 AND (_RecordType IS NULL OR _RecordType = 'flowLog')")
            .trim_start_matches(" AND ")
            .to_string();
        assert_eq!(where_, *want_sql, "SQL of {filters}");
    }
}

/// Record type and packet loss options.
#[test]
fn record_type_and_packet_loss() {
    let mut with_conntrack = labels();
    with_conntrack.push("_RecordType".into());
    let q = params::records_query(
        &p(&[("recordType", "endConnection"), ("packetLoss", "dropped")]),
        NOW_MS,
    )
    .expect("parameters");
    assert_eq!(
        logql::record_queries(&q.selection, &with_conntrack),
        vec!["{app=\"netobserv-flowcollector\", _RecordType=\"endConnection\"} !~ `\"Packets\":[1-9]` |~ `\"PktDropPackets\":[1-9]`".to_string()]
    );
    let s = sql::records_sql(&q, &StoreInfo::full(30_000)).expect("sql");
    assert!(
        s.text.contains(
            "_RecordType = ?3 AND coalesce(Packets, 0) = 0 AND coalesce(PktDropPackets, 0) >= 1"
        ),
        "{}",
        s.text
    );
}

fn operator_metrics() -> Vec<MetricConfig> {
    // As the operator renders them: names and enabled flags only (default include list).
    let enabled = [
        "netobserv_node_ingress_bytes_total",
        "netobserv_workload_ingress_bytes_total",
        "netobserv_workload_egress_bytes_total",
        "netobserv_namespace_flows_total",
        "netobserv_namespace_ingress_packets_total",
        "netobserv_namespace_drop_packets_total",
        "netobserv_namespace_rtt_seconds",
        "netobserv_namespace_dns_latency_seconds",
    ];
    let all = [
        "netobserv_namespace_ingress_bytes_total",
        "netobserv_namespace_egress_bytes_total",
        "netobserv_node_ingress_bytes_total",
        "netobserv_workload_ingress_bytes_total",
        "netobserv_workload_egress_bytes_total",
        "netobserv_namespace_flows_total",
        "netobserv_namespace_ingress_packets_total",
        "netobserv_workload_ingress_packets_total",
        "netobserv_namespace_drop_packets_total",
        "netobserv_namespace_rtt_seconds",
        "netobserv_namespace_dns_latency_seconds",
    ];
    all.iter()
        .map(|n| MetricConfig {
            name: n.to_string(),
            enabled: enabled.contains(n),
            kind: None,
            value_field: None,
            direction: None,
            labels: None,
        })
        .collect()
}

/// One `/api/flow/metrics` case: its parameters and the PromQL (or the reason Prometheus
/// cannot answer), LogQL and part of the SQL expected for them.
struct Case {
    params: &'static [(&'static str, &'static str)],
    promql: Result<Vec<&'static str>, &'static str>,
    logql: Vec<&'static str>,
    sql_contains: &'static str,
}

/// Cases Prometheus answers from the operator's metrics: topology, host filters, latency
/// percentiles and drop causes.
fn aggregation_cases() -> Vec<Case> {
    vec![
        Case {
            // Topology by namespace: the namespace metrics lack bytes (disabled), the workload ones
            // have the labels; no Any-direction metric, so ingress or egress.
            params: &[
                ("aggregateBy", "namespace"),
                ("type", "Bytes"),
                ("function", "rate"),
            ],
            promql: Ok(vec![
                "topk(50, (sum by(SrcK8S_Namespace,DstK8S_Namespace) (rate(netobserv_workload_ingress_bytes_total{}[60s]))) or (sum by(SrcK8S_Namespace,DstK8S_Namespace) (rate(netobserv_workload_egress_bytes_total{}[60s]))))",
            ]),
            logql: vec![
                "topk(50, sum by(SrcK8S_Namespace,DstK8S_Namespace) (rate({app=\"netobserv-flowcollector\", FlowDirection=~\"0|2\"} | json | unwrap Bytes | __error__=\"\" [1m])))",
                "topk(50, sum by(SrcK8S_Namespace,DstK8S_Namespace) (rate({app=\"netobserv-flowcollector\", FlowDirection=\"1\", DstK8S_Type=~\"|Service\"} | json | unwrap Bytes | __error__=\"\" [1m])))",
            ],
            sql_contains: "FROM flow_rollup WHERE Level = 2",
        },
        Case {
            // Filters become Prometheus matchers; in LogQL a non-label field is a line filter.
            params: &[
                ("aggregateBy", "host"),
                ("type", "Bytes"),
                ("filters", r#"SrcK8S_HostName="node-1""#),
            ],
            promql: Ok(vec![
                "topk(50, sum by(SrcK8S_HostName,DstK8S_HostName) (rate(netobserv_node_ingress_bytes_total{SrcK8S_HostName=\"node-1\"}[60s])))",
            ]),
            logql: vec![
                "topk(50, sum by(SrcK8S_HostName,DstK8S_HostName) (rate({app=\"netobserv-flowcollector\", FlowDirection=~\"0|2\"} |~ `\"SrcK8S_HostName\":\"node-1\"` | json | unwrap Bytes | __error__=\"\" [1m])))",
                "topk(50, sum by(SrcK8S_HostName,DstK8S_HostName) (rate({app=\"netobserv-flowcollector\", FlowDirection=\"1\", DstK8S_Type=~\"|Service\"} |~ `\"SrcK8S_HostName\":\"node-1\"` | json | unwrap Bytes | __error__=\"\" [1m])))",
            ],
            sql_contains: "FROM flow_rollup WHERE Level = 1",
        },
        Case {
            // Latency percentiles: histogram quantiles, quantile_over_time, raw values in SQL.
            params: &[
                ("aggregateBy", "namespace"),
                ("type", "DnsLatencyMs"),
                ("function", "p99"),
            ],
            promql: Ok(vec![
                "topk(50, histogram_quantile(0.99, sum by(SrcK8S_Namespace,DstK8S_Namespace,le) (rate(netobserv_namespace_dns_latency_seconds_bucket{}[60s]))) * 1000)",
            ]),
            logql: vec![
                "topk(50, quantile_over_time(0.99, {app=\"netobserv-flowcollector\"} |~ `\"DnsLatencyMs\":[1-9]` | json | unwrap DnsLatencyMs | __error__=\"\" [30s]) by (SrcK8S_Namespace,DstK8S_Namespace))",
            ],
            sql_contains: "DnsLatencyMs AS s, 1 AS n, DnsLatencyMs AS lo, DnsLatencyMs AS hi FROM flow WHERE",
        },
        Case {
            params: &[
                ("aggregateBy", "PktDropLatestDropCause"),
                ("type", "PktDropPackets"),
                ("function", "rate"),
                ("filters", r#"SrcK8S_Namespace="a""#),
            ],
            promql: Ok(vec![
                "topk(50, sum by(PktDropLatestDropCause) (rate(netobserv_namespace_drop_packets_total{SrcK8S_Namespace=\"a\"}[60s])))",
            ]),
            logql: vec![
                "topk(50, sum by(PktDropLatestDropCause) (rate({app=\"netobserv-flowcollector\", SrcK8S_Namespace=\"a\"} |~ `\"PktDropPackets\":[1-9]` | json | unwrap PktDropPackets | __error__=\"\" [1m])))",
            ],
            sql_contains: "FROM flow_rollup WHERE Level = 3",
        },
    ]
}

/// Cases around what Prometheus lacks: network-event and translation filters, owner groups,
/// labels the metrics do not carry, and disabled metrics.
fn filter_cases() -> Vec<Case> {
    vec![
        Case {
            // Network-event and translation filters exist only in Loki and the store.
            params: &[
                ("aggregateBy", "namespace"),
                ("type", "Packets"),
                ("function", "sum"),
                ("filters", "NetworkEvents=drop&XlatDstPort=8080"),
            ],
            promql: Err(
                "no Prometheus metric has Packets with labels [SrcK8S_Namespace, DstK8S_Namespace, NetworkEvents, XlatDstPort]",
            ),
            logql: vec![
                "topk(50, sum by(SrcK8S_Namespace,DstK8S_Namespace) (sum_over_time({app=\"netobserv-flowcollector\", FlowDirection=~\"0|2\"} |~ `(?i:\"NetworkEvents\":\\[[^\\]]*drop)` |~ `\"XlatDstPort\":8080[,}]` | json | unwrap Packets | __error__=\"\" [30s])))",
                "topk(50, sum by(SrcK8S_Namespace,DstK8S_Namespace) (sum_over_time({app=\"netobserv-flowcollector\", FlowDirection=\"1\", DstK8S_Type=~\"|Service\"} |~ `(?i:\"NetworkEvents\":\\[[^\\]]*drop)` |~ `\"XlatDstPort\":8080[,}]` | json | unwrap Packets | __error__=\"\" [30s])))",
            ],
            sql_contains: "Packets AS s, 1 AS n, Packets AS lo, Packets AS hi FROM flow WHERE",
        },
        Case {
            // Back and forth on owners: one PromQL per group.
            params: &[
                ("aggregateBy", "owner"),
                ("type", "Bytes"),
                ("function", "rate"),
                (
                    "filters",
                    r#"SrcK8S_OwnerName="a"&DstK8S_OwnerName="b"|SrcK8S_OwnerName="b"&DstK8S_OwnerName="a""#,
                ),
            ],
            promql: Ok(vec![
                "topk(50, (sum by(SrcK8S_OwnerName,SrcK8S_OwnerType,SrcK8S_Namespace,DstK8S_OwnerName,DstK8S_OwnerType,DstK8S_Namespace) (rate(netobserv_workload_ingress_bytes_total{SrcK8S_OwnerName=\"a\",DstK8S_OwnerName=\"b\"}[60s]))) or (sum by(SrcK8S_OwnerName,SrcK8S_OwnerType,SrcK8S_Namespace,DstK8S_OwnerName,DstK8S_OwnerType,DstK8S_Namespace) (rate(netobserv_workload_egress_bytes_total{SrcK8S_OwnerName=\"a\",DstK8S_OwnerName=\"b\"}[60s]))))",
                "topk(50, (sum by(SrcK8S_OwnerName,SrcK8S_OwnerType,SrcK8S_Namespace,DstK8S_OwnerName,DstK8S_OwnerType,DstK8S_Namespace) (rate(netobserv_workload_ingress_bytes_total{SrcK8S_OwnerName=\"b\",DstK8S_OwnerName=\"a\"}[60s]))) or (sum by(SrcK8S_OwnerName,SrcK8S_OwnerType,SrcK8S_Namespace,DstK8S_OwnerName,DstK8S_OwnerType,DstK8S_Namespace) (rate(netobserv_workload_egress_bytes_total{SrcK8S_OwnerName=\"b\",DstK8S_OwnerName=\"a\"}[60s]))))",
            ]),
            logql: vec![],
            sql_contains: "FROM flow_rollup WHERE Level = 4",
        },
        Case {
            // FlowDirection is not a label of the node metrics: Prometheus cannot answer.
            params: &[
                ("aggregateBy", "host"),
                ("type", "Bytes"),
                ("filters", r#"FlowDirection="0""#),
            ],
            promql: Err(
                "no Prometheus metric has Bytes with labels [SrcK8S_HostName, DstK8S_HostName, FlowDirection]",
            ),
            logql: vec![
                "topk(50, sum by(SrcK8S_HostName,DstK8S_HostName) (rate({app=\"netobserv-flowcollector\", FlowDirection=\"0\"} | json | unwrap Bytes | __error__=\"\" [1m])))",
            ],
            sql_contains: "FROM flow_rollup WHERE Level = 1",
        },
        Case {
            // A disabled metric is named.
            params: &[
                ("aggregateBy", "namespace"),
                ("type", "Packets"),
                ("function", "rate"),
                ("filters", "SrcK8S_OwnerName=x"),
            ],
            promql: Err("the metrics that could answer are disabled: netobserv_workload_"),
            logql: vec![],
            sql_contains: "FROM flow_rollup WHERE Level = 4",
        },
    ]
}

/// Checks one case's PromQL (against `catalog`), LogQL (when given) and SQL.
fn check_metrics_case(c: &Case, catalog: &[promql::PromMetric]) {
    let mut params_: Vec<(&str, &str)> = c.params.to_vec();
    params_.push(("timeRange", "300"));
    let q = params::metrics_query(&p(&params_), NOW_MS).expect("parameters");
    match (promql::metric_queries(&q, catalog), &c.promql) {
        (Ok(got), Ok(want)) => assert_eq!(got, *want, "PromQL of {:?}", c.params),
        (Err(got), Err(want)) => assert!(got.contains(want) || got.starts_with(want), "{got}"),
        (got, want) => panic!("{:?}: PromQL {got:?}, expected {want:?}", c.params),
    }
    if !c.logql.is_empty() {
        assert_eq!(
            logql::metric_queries(&q, &labels()).expect("logql"),
            c.logql.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "LogQL of {:?}",
            c.params
        );
    }
    let (s, _) = sql::metrics_sql(&q, &StoreInfo::full(30_000)).expect("sql");
    assert!(
        s.text.contains(c.sql_contains),
        "{:?}: {}",
        c.params,
        s.text
    );
}

/// `/api/flow/metrics`: the same query as PromQL (when a metric fits), LogQL and SQL.
#[test]
fn metrics_route_queries() {
    let catalog = promql::catalog(&operator_metrics(), &[]);
    for c in aggregation_cases().iter().chain(&filter_cases()) {
        check_metrics_case(c, &catalog);
    }
}

/// Bad parameters name the problem.
#[test]
fn bad_parameters_are_named() {
    for (pairs, needle) in [
        (vec![("filters", "SrcK8S_Namespace=\"a")], "invalid filters"),
        (vec![("filters", "Foo=1")], "unknown filter field `Foo`"),
        (
            vec![("startTime", "1700000200"), ("endTime", "1700000100")],
            "inverted",
        ),
        (
            vec![("startTime", "1600000000"), ("endTime", "1700000000")],
            "day limit",
        ),
        (vec![("startTime", "yesterday")], "startTime"),
        (vec![("endTime", "1e300")], "milliseconds?"),
        (vec![("endTime", "1700000000000")], "milliseconds?"),
        (vec![("timeRange", "1e300")], "day limit"),
        (
            vec![("startTime", "99999999999"), ("endTime", "10")],
            "inverted",
        ),
        (vec![("endTime", "-5")], "endTime"),
        (vec![("limit", "0")], "limit"),
        (vec![("recordType", "flows")], "unknown recordType `flows`"),
        (vec![("packetLoss", "some")], "unknown packetLoss"),
    ] {
        let err = params::records_query(&p(&pairs), NOW_MS).expect_err(needle);
        assert!(err.0.contains(needle), "{pairs:?}: {}", err.0);
    }
    for (pairs, needle) in [
        (vec![], "aggregateBy is required"),
        (
            vec![("aggregateBy", "planet")],
            "neither a scope nor a record field",
        ),
        (
            vec![("aggregateBy", "host"), ("type", "Volts")],
            "unknown type `Volts`",
        ),
        (
            vec![("aggregateBy", "host"), ("function", "median")],
            "unknown function",
        ),
        (
            vec![
                ("aggregateBy", "host"),
                ("step", "1s"),
                ("timeRange", "86400"),
            ],
            "use a larger step",
        ),
        (
            vec![("aggregateBy", "host"), ("rateInterval", "soon")],
            "rateInterval",
        ),
        (
            vec![("aggregateBy", "host"), ("groups", "galaxies")],
            "groups",
        ),
    ] {
        let err = params::metrics_query(&p(&pairs), NOW_MS).expect_err(needle);
        assert!(err.0.contains(needle), "{pairs:?}: {}", err.0);
    }
}
