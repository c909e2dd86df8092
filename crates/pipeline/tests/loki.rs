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
