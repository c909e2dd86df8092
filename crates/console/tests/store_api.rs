//! Every route on a flow store alone (local mode's and the CLI's case): records with
//! network-event, translation and drop filters, CSV export, topology with groups, overview
//! panels, autocompletion of namespaces and names, status.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use netobserv_console::api::{AppState, router};
use netobserv_console::client::{Client, ClientSettings, encode};
use netobserv_console::config::Config;
use netobserv_flowstore::synth::{self, Shape};
use netobserv_flowstore::{FlowRow, Store, StoreOptions};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const START: i64 = 1_700_000_000_000;

async fn get(port: u16, path: &str) -> String {
    let client = Client::new(
        "console",
        ClientSettings {
            timeout: Duration::from_secs(10),
            ..ClientSettings::default()
        },
    )
    .expect("client");
    let body = client
        .get(&format!("http://127.0.0.1:{port}{path}"), None)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    String::from_utf8_lossy(&body).into_owned()
}

async fn json(port: u16, path: &str) -> Value {
    serde_json::from_str(&get(port, path).await).expect("JSON")
}

fn lines(v: &Value) -> Vec<Value> {
    v["result"]
        .as_array()
        .expect("streams")
        .iter()
        .flat_map(|s| {
            let labels = s["stream"].clone();
            s["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(move |p| {
                    let mut rec: Value =
                        serde_json::from_str(p[1].as_str().expect("line")).expect("line JSON");
                    for (k, v) in labels.as_object().expect("labels") {
                        rec[k] = v.clone();
                    }
                    rec
                })
        })
        .collect()
}

/// A synthetic flow record, as the store was fed it.
type Record = serde_json::Map<String, Value>;

/// How many of `records` match `pred`: what a filtered query must return.
fn count(records: &[Record], pred: &dyn Fn(&Record) -> bool) -> usize {
    records.iter().filter(|r| pred(r)).count()
}

/// A fresh store at `path` holding five minutes of synthetic flows from `START`; returns the
/// records written.
fn seed_store(path: &std::path::Path) -> Vec<Record> {
    let _ = std::fs::remove_file(path);
    let records = synth::flows(3000, 9, START, 300_000, Shape::default());
    {
        let mut store = Store::open(path, StoreOptions::default()).expect("store");
        let rows: Vec<FlowRow> = records.iter().map(FlowRow::from_json).collect();
        store.insert(&rows).expect("insert");
    }
    records
}

/// Records: network events, translation, drops, and the developer perspective's namespace
/// filter each return exactly the matching flows.
async fn check_records(port: u16, range: &str, records: &[Record]) {
    let v = json(
        port,
        &format!(
            "/api/loki/flow/records?{range}&limit=5000&filters={}",
            encode(r#"network_events="deny-egress""#)
        ),
    )
    .await;
    let got = lines(&v);
    assert_eq!(
        got.len(),
        count(records, &|r| r.contains_key("NetworkEvents"))
    );
    assert!(
        got.iter()
            .all(|r| r["NetworkEvents"][0]["Action"] == "drop")
    );
    let v = json(
        port,
        &format!(
            "/api/loki/flow/records?{range}&limit=5000&filters={}",
            encode("xlat_dst_port=8080&ZoneId=1")
        ),
    )
    .await;
    assert_eq!(
        lines(&v).len(),
        count(records, &|r| r.get("XlatDstPort")
            == Some(&Value::from(8080))
            && r.get("ZoneId") == Some(&Value::from(1)))
    );
    let v = json(
        port,
        &format!("/api/loki/flow/records?{range}&limit=5000&packetLoss=hasDrops"),
    )
    .await;
    assert_eq!(
        lines(&v).len(),
        count(records, &|r| r.contains_key("PktDropPackets"))
    );
    assert_eq!(v["stats"]["dataSources"], serde_json::json!(["store"]));
    assert!(
        v["stats"]["queries"][0]
            .as_str()
            .unwrap_or("")
            .contains("coalesce(PktDropPackets, 0) >= 1")
    );
    // Developer perspective: one namespace, either end.
    let v = json(
        port,
        &format!("/api/loki/flow/records?{range}&limit=5000&namespace=ns-4"),
    )
    .await;
    assert_eq!(
        lines(&v).len(),
        count(records, &|r| r.get("SrcK8S_Namespace")
            == Some(&Value::from("ns-4"))
            || r.get("DstK8S_Namespace") == Some(&Value::from("ns-4")))
    );
}

/// CSV export: a header line and `limit` rows of the chosen columns.
async fn check_csv_export(port: u16, range: &str) {
    let csv = get(
        port,
        &format!("/api/loki/export?{range}&limit=10&columns=SrcK8S_Namespace,Bytes"),
    )
    .await;
    assert_eq!(csv.lines().count(), 11);
    assert_eq!(csv.lines().next(), Some("SrcK8S_Namespace,Bytes"));
}

/// The bytes a namespace topology must total: every flow counted once (ingress, inner-node
/// and unknown-direction flows, plus egress flows towards no workload or a Service).
fn deduplicated_bytes(records: &[Record]) -> f64 {
    records
        .iter()
        .filter(|r| {
            let dir = r.get("FlowDirection").and_then(Value::as_i64);
            let ty = r.get("DstK8S_Type").and_then(Value::as_str).unwrap_or("");
            matches!(dir, None | Some(0) | Some(2))
                || (dir == Some(1) && matches!(ty, "" | "Service"))
        })
        .map(|r| r["Bytes"].as_f64().unwrap())
        .sum()
}

/// Topology by namespace grouped by hosts carries labels of both scopes; ungrouped, its
/// totals are the de-duplicated bytes of every flow.
async fn check_topology(port: u16, range: &str, records: &[Record]) {
    let v = json(port, &format!("/api/flow/metrics?{range}&aggregateBy=namespace&groups=hosts&type=Bytes&function=sum&step=300s&limit=1000")).await;
    let series = v["result"].as_array().expect("series");
    assert_eq!(
        series.len(),
        1000,
        "more namespace x host pairs than the limit"
    );
    assert!(
        series
            .iter()
            .all(|s| s["metric"].get("SrcK8S_HostName").is_some())
    );
    let v = json(port, &format!("/api/flow/metrics?{range}&aggregateBy=namespace&type=Bytes&function=sum&step=300s&limit=1000")).await;
    let series = v["result"].as_array().expect("series");
    assert!(series.len() < 1000);
    let total: f64 = series
        .iter()
        .map(|s| {
            s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p[1].as_str().unwrap().parse::<f64>().unwrap())
                .sum::<f64>()
        })
        .sum();
    assert_eq!(
        total,
        deduplicated_bytes(records),
        "de-duplicated bytes of every flow"
    );
}

/// Overview panels: DNS response codes, drop causes and RTT percentiles.
async fn check_overview_panels(port: u16, range: &str) {
    let v = json(port, &format!("/api/flow/metrics?{range}&aggregateBy=DnsFlagsResponseCode&type=DnsLatencyMs&function=max&step=60s")).await;
    let codes: Vec<&str> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["metric"]["DnsFlagsResponseCode"].as_str())
        .collect();
    assert!(
        codes.contains(&"NoError") && codes.contains(&"NXDomain"),
        "{codes:?}"
    );
    let v = json(port, &format!("/api/flow/metrics?{range}&aggregateBy=PktDropLatestDropCause&type=PktDropPackets&function=rate&step=60s")).await;
    assert_eq!(
        v["result"][0]["metric"]["PktDropLatestDropCause"],
        "SKB_DROP_REASON_NETFILTER_DROP"
    );
    let v = json(port, &format!("/api/flow/metrics?{range}&aggregateBy=SrcK8S_Namespace&type=TimeFlowRttNs&function=p90&step=300s")).await;
    let rtt: f64 = v["result"][0]["values"][0][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.05..=5.05).contains(&rtt), "RTT in ms: {rtt}");
}

/// Autocompletion of namespaces and of workload and Service names.
async fn check_autocompletion(port: u16, range: &str) {
    let v = json(port, &format!("/api/resources/namespaces?{range}")).await;
    assert!(
        v.as_array().unwrap().iter().any(|n| n == "ns-3")
            && v.as_array().unwrap().iter().any(|n| n == "openshift-dns")
    );
    let v = json(
        port,
        &format!("/api/resources/names?{range}&kind=Deployment&namespace=ns-3"),
    )
    .await;
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !names.is_empty() && names.iter().all(|n| n.starts_with("app-3-")),
        "{names:?}"
    );
    let v = json(port, &format!("/api/resources/names?{range}&kind=Service")).await;
    assert!(
        v.as_array().unwrap().iter().any(|n| n == "dns-default"),
        "{v}"
    );
}

#[tokio::test]
async fn every_route_on_a_store() {
    let dir = std::env::temp_dir().join(format!("console-store-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("flows.db");
    let records = seed_store(&path);
    let config = Config::parse(&format!("store:\n  path: {}\n", path.display())).expect("config");
    let port = common::serve(router(Arc::new(AppState::new(&config).expect("state")))).await;
    let range = format!("startTime={}&endTime={}", START / 1000, START / 1000 + 300);

    check_records(port, &range, &records).await;
    check_csv_export(port, &range).await;
    check_topology(port, &range, &records).await;
    check_overview_panels(port, &range).await;
    check_autocompletion(port, &range).await;

    let v = json(port, "/api/status").await;
    assert_eq!(v["store"]["isReady"], true);
    assert_eq!(v["loki"]["isEnabled"], false);
    let _ = std::fs::remove_dir_all(&dir);
}
