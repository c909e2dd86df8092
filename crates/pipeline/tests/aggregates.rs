//! The `aggregates` extract stage and the `agg_histogram` metric type that consumes it, through
//! the runtime (ingest batches → aggregates → prom encoder and a JSON writer).

mod common;
use common::*;
use netobserv_pipeline::config::Config;
use netobserv_pipeline::extract::Aggregates;
use netobserv_pipeline::record::{Record, Value};
use netobserv_pipeline::runtime::Pipeline;
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
pipeline:
  - {name: ingest}
  - {name: agg, follows: ingest}
  - {name: prom, follows: agg}
  - {name: out, follows: agg}
parameters:
  - {name: ingest, ingest: {type: stdin}}
  - name: agg
    extract:
      type: aggregates
      aggregates:
        rules:
          - {name: rtt_by_ns, groupByKeys: [DstK8S_Namespace], operationType: raw_values, operationKey: TimeFlowRttMs}
          - {name: bytes_by_ns, groupByKeys: [DstK8S_Namespace], operationType: sum, operationKey: Bytes}
  - name: prom
    encode:
      type: prom
      prom:
        prefix: netobserv_
        metrics:
          - name: rtt_seconds
            type: agg_histogram
            valueKey: recent_raw_values
            valueScale: 1000
            buckets: [0.005, 0.05, 0.5]
            labels: [DstK8S_Namespace]
            filters: [{key: name, value: rtt_by_ns}]
          - name: namespace_bytes_total
            type: counter
            valueKey: recent_op_value
            labels: [DstK8S_Namespace]
            filters: [{key: name, value: bytes_by_ns}]
  - {name: out, write: {type: stdout, stdout: {format: json}}}
"#;

fn rec(ns: &str, rtt_ms: f64, bytes: u64) -> Record {
    Record::from_json(&format!(
        r#"{{"DstK8S_Namespace":"{ns}","TimeFlowRttMs":{rtt_ms},"Bytes":{bytes}}}"#
    ))
    .expect("json")
}

#[test]
fn raw_values_feed_an_agg_histogram_and_sums_feed_a_counter() {
    let config = Config::parse(CONFIG).expect("config");
    let out = Shared::default();
    let sink = out.clone();
    let mut pipeline = Pipeline::build(&config, move || Box::new(sink.clone())).expect("builds");
    pipeline.process(vec![
        rec("a", 2.0, 100),
        rec("a", 30.0, 50),
        rec("b", 400.0, 10),
    ]);
    pipeline.process(vec![rec("a", 1.0, 5)]);
    // A record without the group-by key is skipped, not grouped under "".
    pipeline.process(vec![Record::from_json(r#"{"Bytes":1}"#).expect("json")]);

    let (_, encoder) = &pipeline.prom_encoders()[0];
    let text = encoder.lock().expect("lock").render();
    // Namespace a: 2 ms, 30 ms, then 1 ms -> two values <= 5 ms, one <= 50 ms.
    for line in [
        r#"netobserv_rtt_seconds_bucket{DstK8S_Namespace="a",le="0.005"} 2"#,
        r#"netobserv_rtt_seconds_bucket{DstK8S_Namespace="a",le="0.05"} 3"#,
        r#"netobserv_rtt_seconds_count{DstK8S_Namespace="a"} 3"#,
        r#"netobserv_rtt_seconds_bucket{DstK8S_Namespace="b",le="0.5"} 1"#,
        r#"netobserv_rtt_seconds_count{DstK8S_Namespace="b"} 1"#,
        // Counters add each batch's recent sum exactly once: 150 + 5 (+ 0 for the idle batch).
        r#"netobserv_namespace_bytes_total{DstK8S_Namespace="a"} 155"#,
        r#"netobserv_namespace_bytes_total{DstK8S_Namespace="b"} 10"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in\n{text}");
    }
    assert!(text.contains("# TYPE netobserv_rtt_seconds histogram"));

    let written = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
    let first: serde_json::Value =
        serde_json::from_str(written.lines().next().expect("a line")).expect("json");
    assert_eq!(first["name"], "rtt_by_ns");
    assert_eq!(first["operation_type"], "raw_values");
    assert_eq!(first["by"], "DstK8S_Namespace");
    assert_eq!(first["aggregate"], "a");
    assert_eq!(first["DstK8S_Namespace"], "a");
    assert_eq!(first["recent_raw_values"], serde_json::json!([2.0, 30.0]));
    assert_eq!(first["recent_count"], 2);
}

#[test]
fn operations_and_expiry() {
    let mut agg = Aggregates::new(&serde_json::json!({
        "defaultExpiryTime": "10s",
        "rules": [
            {"name": "min", "groupByKeys": ["K"], "operationType": "min", "operationKey": "V"},
            {"name": "max", "groupByKeys": ["K"], "operationType": "max", "operationKey": "V"},
            {"name": "avg", "groupByKeys": ["K"], "operationType": "avg", "operationKey": "V"},
            {"name": "count", "groupByKeys": ["K"], "operationType": "count"},
            {"name": "short", "groupByKeys": ["K"], "operationType": "sum", "operationKey": "V", "expiryTime": "1s"}
        ]
    }))
    .expect("builds");
    let r =
        |k: &str, v: f64| Record::from_json(&format!(r#"{{"K":"{k}","V":{v}}}"#)).expect("json");
    let t0 = Instant::now();
    let out = agg.extract_at(&[r("x", 4.0), r("x", -2.0), r("x", 10.0)], t0);
    let field = |name: &str, key: &str| -> Value {
        out.iter()
            .find(|o| o.get("name") == Some(&Value::from(name)))
            .and_then(|o| o.get(key).cloned())
            .expect("present")
    };
    assert_eq!(field("min", "total_value").as_f64(), Some(-2.0));
    assert_eq!(field("max", "total_value").as_f64(), Some(10.0));
    assert_eq!(field("avg", "total_value").as_f64(), Some(4.0));
    assert_eq!(field("count", "total_value").as_f64(), Some(3.0));
    assert_eq!(field("count", "recent_count").as_f64(), Some(3.0));
    // Two seconds later with no update, only the 1s rule's group is gone.
    let later = agg.extract_at(&[], t0 + Duration::from_secs(2));
    assert_eq!(later.len(), 4);
    assert!(
        later
            .iter()
            .all(|o| o.get("recent_count") == Some(&Value::UInt(0)))
    );
    assert_eq!(agg.extract_at(&[], t0 + Duration::from_secs(11)).len(), 0);
    assert_eq!(agg.groups(), 0);

    let err =
        Aggregates::new(&serde_json::json!({"rules": [{"name": "s", "operationType": "sum"}]}))
            .err()
            .expect("refused");
    assert!(err.to_string().contains("operationKey"), "{err}");
    assert!(Aggregates::new(&serde_json::json!({"rules": [{"name": "s", "operationType": "median", "operationKey": "V"}]})).is_err());
}
