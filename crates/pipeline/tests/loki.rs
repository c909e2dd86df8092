//! Loki push encoding with NetObserv's writer settings: streams by label set, label fields
//! removed from lines, timestamps from `TimeFlowEndMs` in milliseconds, batch thresholds, and
//! the snappy + protobuf wire format decoded back as Loki would.

use netobserv_pipeline::record::Record;
use netobserv_pipeline::write::loki::{
    LokiEncoder, LokiWrite, decode_push, encode_push, sanitize_label,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NETOBSERV: &str = r#"
url: http://loki:3100/
tenantID: netobserv
batchWait: 1s
batchSize: 10485760
labels: [SrcK8S_Namespace, SrcK8S_OwnerName, SrcK8S_Type, DstK8S_Namespace, DstK8S_OwnerName, DstK8S_Type, K8S_FlowLayer, FlowDirection]
staticLabels: {app: netobserv-flowcollector}
timestampLabel: TimeFlowEndMs
timestampScale: 1ms
"#;

fn encoder(yaml: &str) -> LokiEncoder {
    let config: LokiWrite = serde_yaml::from_str(yaml).expect("config");
    LokiEncoder::new(&config).expect("builds")
}

fn record(json: &str) -> Record {
    Record::from_json(json).expect("record")
}

#[test]
fn records_become_streams_with_label_free_lines() {
    let mut enc = encoder(NETOBSERV);
    let full = enc.add(&record(r#"{"SrcK8S_Namespace":"shop","DstK8S_Namespace":"db","K8S_FlowLayer":"app","FlowDirection":0,"Bytes":100,"TimeFlowEndMs":1732200000123}"#));
    assert!(!full);
    enc.add(&record(r#"{"SrcK8S_Namespace":"shop","DstK8S_Namespace":"db","K8S_FlowLayer":"app","FlowDirection":0,"Bytes":7,"TimeFlowEndMs":1732200000500}"#));
    enc.add(&record(r#"{"SrcK8S_Namespace":"","DstK8S_Namespace":"db","K8S_FlowLayer":"infra","FlowDirection":1,"Bytes":1,"TimeFlowEndMs":1732200001000}"#));
    assert_eq!(enc.pending(), 3);
    let request = enc.take_request().expect("a batch");
    assert_eq!(enc.pending(), 0);
    let body = encode_push(&request).expect("compresses");
    let decoded = decode_push(&body).expect("Loki can decode it");
    assert_eq!(decoded, request);
    let labels: Vec<&str> = decoded.streams.iter().map(|s| s.labels.as_str()).collect();
    assert_eq!(
        labels,
        [
            r#"{DstK8S_Namespace="db", FlowDirection="0", K8S_FlowLayer="app", SrcK8S_Namespace="shop", app="netobserv-flowcollector"}"#,
            // An empty label value is left out rather than sent as "".
            r#"{DstK8S_Namespace="db", FlowDirection="1", K8S_FlowLayer="infra", app="netobserv-flowcollector"}"#,
        ]
    );
    let first = &decoded.streams[0].entries[0];
    assert_eq!(first.line, r#"{"Bytes":100,"TimeFlowEndMs":1732200000123}"#);
    let ts = first.timestamp.expect("timestamp");
    assert_eq!((ts.seconds, ts.nanos), (1_732_200_000, 123_000_000));
    assert_eq!(decoded.streams[0].entries.len(), 2);
}

#[test]
fn missing_timestamp_uses_now_and_batch_size_triggers_a_send() {
    let mut enc = encoder("batchSize: 60\nlabels: [K]");
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert!(!enc.add_at(&record(r#"{"K":"a","Bytes":1,"Pad":"xxxxxxxxxx"}"#), now));
    assert!(enc.add_at(
        &record(r#"{"K":"a","Bytes":2,"Pad":"xxxxxxxxxxxxxxxxxxxxxx"}"#),
        now
    ));
    let request = enc.take_request().expect("batch");
    let ts = request.streams[0].entries[0].timestamp.expect("ts");
    assert_eq!(ts.seconds, 1_700_000_000);
    assert!(enc.take_request().is_none());
    let _ = SystemTime::now();
}

#[test]
fn label_names_are_sanitised_and_bad_settings_refused() {
    assert_eq!(sanitize_label("k8s.io/app-name"), "k8s_io_app_name");
    let mut enc = encoder("labels: [\"k8s.io/app\"]");
    enc.add(&record(r#"{"k8s.io/app":"web","Bytes":1}"#));
    let request = enc.take_request().expect("batch");
    assert_eq!(request.streams[0].labels, r#"{k8s_io_app="web"}"#);
    assert_eq!(request.streams[0].entries[0].line, r#"{"Bytes":1}"#);
    for yaml in [
        "timestampScale: 0s",
        "format: printf",
        "batchWait: later",
        "staticLabels: {\"bad-name\": x}",
    ] {
        let config: LokiWrite = serde_yaml::from_str(yaml).expect("parses");
        assert!(LokiEncoder::new(&config).is_err(), "accepted {yaml}");
    }
    assert!(decode_push(b"definitely not snappy").is_err());
}

/// A value too long to be a Loki label (Loki would reject the whole push) is not a label; it
/// stays in the line instead of disappearing, and is counted.
#[test]
fn a_label_value_too_long_stays_in_the_line_and_is_counted() {
    let mut enc = encoder(NETOBSERV);
    let long = "x".repeat(1500);
    enc.add(&record(&format!(
        r#"{{"SrcK8S_Namespace":"shop","SrcK8S_OwnerName":"{long}","Bytes":5,"TimeFlowEndMs":1732200000123}}"#
    )));
    let request = enc.take_request().expect("a batch");
    let stream = &request.streams[0];
    assert_eq!(
        stream.labels,
        r#"{SrcK8S_Namespace="shop", app="netobserv-flowcollector"}"#
    );
    let line: serde_json::Value = serde_json::from_str(&stream.entries[0].line).expect("json");
    assert_eq!(line["SrcK8S_OwnerName"], long.as_str(), "kept in the line");
    assert!(
        line.get("SrcK8S_Namespace").is_none(),
        "labels are not repeated"
    );
    assert_eq!(enc.long_label_values(), 1);
}

/// `reorder: true` writes the line's keys in alphabetical order, as upstream's option does;
/// without it they keep the record's order.
#[test]
fn reorder_sorts_the_line_keys() {
    let json = r#"{"TimeFlowEndMs":1732200000123,"Bytes":5,"AgentIP":"10.0.0.1","SrcK8S_Namespace":"shop"}"#;
    let mut plain = encoder(NETOBSERV);
    plain.add(&record(json));
    let line = plain.take_request().expect("batch").streams[0].entries[0]
        .line
        .clone();
    assert_eq!(
        line,
        r#"{"TimeFlowEndMs":1732200000123,"Bytes":5,"AgentIP":"10.0.0.1"}"#
    );
    let mut sorted = encoder(&format!("{NETOBSERV}reorder: true\n"));
    sorted.add(&record(json));
    let line = sorted.take_request().expect("batch").streams[0].entries[0]
        .line
        .clone();
    assert_eq!(
        line,
        r#"{"AgentIP":"10.0.0.1","Bytes":5,"TimeFlowEndMs":1732200000123}"#
    );
}
