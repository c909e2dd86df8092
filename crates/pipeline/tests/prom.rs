//! The `prom` encoder on flow records: NetObserv's metric shapes (counters by direction,
//! histograms with scale, flattened network events), filters, expiry and the series bound.

use netobserv_pipeline::config::PromEncode;
use netobserv_pipeline::encode::PromEncoder;
use netobserv_pipeline::record::Record;
use std::time::{Duration, Instant};

fn encoder(yaml: &str) -> PromEncoder {
    let config: PromEncode = serde_yaml::from_str(yaml).expect("prom config");
    PromEncoder::new(&config).expect("builds")
}

fn record(json: &str) -> Record {
    Record::from_json(json).expect("record")
}

const NETOBSERV_METRICS: &str = r#"
prefix: netobserv_
metrics:
  - name: namespace_ingress_bytes_total
    type: counter
    help: Bytes received, per namespace
    valueKey: Bytes
    filters: [{key: FlowDirection, value: "1", type: not_equal}]
    labels: [SrcK8S_Namespace, DstK8S_Namespace]
  - name: namespace_flows_total
    type: counter
    labels: [SrcK8S_Namespace]
  - name: namespace_rtt_seconds
    type: histogram
    valueKey: TimeFlowRttNs
    valueScale: 1000000000
    filters: [{key: TimeFlowRttNs, type: presence}]
    labels: [DstK8S_Namespace]
    buckets: [0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 1]
  - name: namespace_network_policy_events_total
    type: counter
    flatten: [NetworkEvents]
    filters: [{key: "NetworkEvents>Feature", value: acl}]
    labels: [SrcK8S_Namespace, "NetworkEvents>Type", "NetworkEvents>Action"]
    remap: {"NetworkEvents>Type": type, "NetworkEvents>Action": action}
  - name: node_sampling
    type: gauge
    valueKey: Sampling
"#;

#[test]
fn netobserv_metric_shapes_render_as_prometheus_text() {
    let mut enc = encoder(NETOBSERV_METRICS);
    enc.encode(&record(r#"{"SrcK8S_Namespace":"a","DstK8S_Namespace":"b","Bytes":100,"FlowDirection":0,"TimeFlowRttNs":15000000,"Sampling":50}"#));
    enc.encode(&record(r#"{"SrcK8S_Namespace":"a","DstK8S_Namespace":"b","Bytes":50,"FlowDirection":2,"TimeFlowRttNs":200000000,"Sampling":1}"#));
    // Egress: not counted as ingress bytes.
    enc.encode(&record(
        r#"{"SrcK8S_Namespace":"a","DstK8S_Namespace":"b","Bytes":7,"FlowDirection":1}"#,
    ));
    enc.encode(&record(r#"{"SrcK8S_Namespace":"a","NetworkEvents":[{"Feature":"acl","Type":"NetworkPolicy","Action":"drop"},{"Feature":"acl","Type":"AdminNetworkPolicy","Action":"pass"},{"Feature":"other"}]}"#));
    let text = enc.render();
    let expect = [
        "# HELP netobserv_namespace_ingress_bytes_total Bytes received, per namespace",
        "# TYPE netobserv_namespace_ingress_bytes_total counter",
        r#"netobserv_namespace_ingress_bytes_total{SrcK8S_Namespace="a",DstK8S_Namespace="b"} 150"#,
        r#"netobserv_namespace_flows_total{SrcK8S_Namespace="a"} 4"#,
        r#"netobserv_namespace_rtt_seconds_bucket{DstK8S_Namespace="b",le="0.01"} 0"#,
        r#"netobserv_namespace_rtt_seconds_bucket{DstK8S_Namespace="b",le="0.02"} 1"#,
        r#"netobserv_namespace_rtt_seconds_bucket{DstK8S_Namespace="b",le="0.25"} 2"#,
        r#"netobserv_namespace_rtt_seconds_bucket{DstK8S_Namespace="b",le="+Inf"} 2"#,
        r#"netobserv_namespace_rtt_seconds_count{DstK8S_Namespace="b"} 2"#,
        r#"netobserv_namespace_network_policy_events_total{SrcK8S_Namespace="a",type="NetworkPolicy",action="drop"} 1"#,
        r#"netobserv_namespace_network_policy_events_total{SrcK8S_Namespace="a",type="AdminNetworkPolicy",action="pass"} 1"#,
        "# TYPE node_sampling gauge",
    ];
    for line in expect {
        let line = line.replace("node_sampling", "netobserv_node_sampling");
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    let sum: f64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"netobserv_namespace_rtt_seconds_sum{DstK8S_Namespace="b"} "#)
        })
        .and_then(|v| v.parse().ok())
        .expect("rtt sum line");
    assert!((sum - 0.215).abs() < 1e-9, "rtt sum {sum}");
    // The gauge keeps the last value.
    assert!(
        text.lines().any(|l| l == "netobserv_node_sampling 1"),
        "{text}"
    );
    // Value errors: two records without Sampling (gauge), and the events record, which passes the
    // ingress filter (no FlowDirection is "not 1") but has no Bytes.
    assert_eq!(enc.stats().value_errors, 3);
}

#[test]
fn regex_and_absence_filters() {
    let mut enc = encoder(
        "metrics:\n- {name: m, type: counter, labels: [DstK8S_Namespace], filters: [{key: DstK8S_Namespace, value: '^openshift-', type: not_match_regex}, {key: DnsId, type: absence}]}",
    );
    enc.encode(&record(r#"{"DstK8S_Namespace":"openshift-dns"}"#));
    enc.encode(&record(r#"{"DstK8S_Namespace":"shop"}"#));
    enc.encode(&record(r#"{"DstK8S_Namespace":"shop","DnsId":3}"#));
    let text = enc.render();
    assert!(text.contains(r#"m{DstK8S_Namespace="shop"} 1"#), "{text}");
    assert!(!text.contains("openshift-dns"), "{text}");
}

#[test]
fn series_expire_and_the_bound_counts_drops() {
    let mut enc =
        encoder("expiryTime: 1m\nmaxMetrics: 2\nmetrics:\n- {name: m, type: counter, labels: [K]}");
    let t0 = Instant::now();
    for k in ["a", "b", "c"] {
        enc.encode_at(&record(&format!(r#"{{"K":"{k}"}}"#)), t0);
    }
    assert_eq!(enc.series_count(), 2);
    assert_eq!(enc.stats().dropped_series, 1);
    enc.encode_at(&record(r#"{"K":"a"}"#), t0 + Duration::from_secs(40));
    enc.expire(t0 + Duration::from_secs(70));
    let text = enc.render();
    assert!(text.contains(r#"m{K="a"} 2"#), "{text}");
    assert!(!text.contains(r#"K="b""#), "{text}");
    assert_eq!(enc.stats().expired_series, 1);
    // Room again after expiry.
    enc.encode_at(&record(r#"{"K":"c"}"#), t0 + Duration::from_secs(71));
    assert!(enc.render().contains(r#"m{K="c"} 1"#));
}

#[test]
fn bad_definitions_are_refused() {
    for yaml in [
        "metrics:\n- {name: m, type: agg_histogram}",
        "metrics:\n- {name: m, type: counter, filters: [{key: K, value: '(', type: match_regex}]}",
        "expiryTime: soon\nmetrics: []",
        "metrics:\n- {name: '', type: counter}",
    ] {
        let config: PromEncode = serde_yaml::from_str(yaml).expect("parses");
        assert!(PromEncoder::new(&config).is_err(), "accepted: {yaml}");
    }
    let err = serde_yaml::from_str::<PromEncode>("metrics:\n- {name: m, type: summary}")
        .expect_err("enum");
    assert!(err.to_string().contains("summary"));
}

#[test]
fn label_values_are_escaped() {
    let mut enc = encoder("metrics:\n- {name: m, type: counter, labels: [K]}");
    enc.encode(&record(r#"{"K":"a\"b\\c\nd"}"#));
    assert!(
        enc.render().contains(r#"m{K="a\"b\\c\nd"} 1"#),
        "{}",
        enc.render()
    );
}
