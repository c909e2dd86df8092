//! The HTTP API in process against recorded Loki answers (`tests/data/loki`, Loki's exact
//! response shapes; Loki itself cannot run on this machine, so a stand-in serves them and records
//! the queries it receives), and bad input: malformed filters, unknown fields, inverted or huge
//! time ranges, Loki's limits, Loki or Prometheus down or slow. Every refusal is a 4xx/5xx whose
//! message names the problem.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use netobserv_console::api::{AppState, router};
use netobserv_console::client::{CallError, Client, ClientSettings, encode};
use netobserv_console::config::Config;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/loki");

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<HashMap<String, String>>>>);

async fn fake_loki(
    State(seen): State<Seen>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    seen.0.lock().unwrap().push(q.clone());
    if q.get("limit")
        .and_then(|l| l.parse::<u32>().ok())
        .is_some_and(|l| l > 5000)
    {
        // Loki's own wording for its max_entries_limit_per_query.
        return (
            StatusCode::BAD_REQUEST,
            "max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)",
        )
            .into_response();
    }
    let file = if q.get("query").is_some_and(|s| s.starts_with("topk(")) {
        "query_range_matrix.json"
    } else {
        "query_range_streams.json"
    };
    std::fs::read_to_string(format!("{DATA}/{file}"))
        .expect("recorded answer")
        .into_response()
}

async fn serve(app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

async fn start_loki(seen: Seen, slow: bool) -> u16 {
    let app = axum::Router::new()
        .route("/loki/api/v1/query_range", axum::routing::get(fake_loki))
        .route(
            "/loki/api/v1/label/{name}/values",
            axum::routing::get(
                |State(seen): State<Seen>, Query(q): Query<HashMap<String, String>>| async move {
                    seen.0.lock().unwrap().push(q);
                    std::fs::read_to_string(format!("{DATA}/label_values.json")).expect("recorded")
                },
            ),
        )
        .route(
            "/config",
            axum::routing::get(|| async {
                "server:\n  http_listen_port: 3100\nlimits_config:\n  max_entries_limit_per_query: 5000\n  max_query_series: 500\n"
            }),
        )
        .route(
            "/loki/api/v1/status/buildinfo",
            axum::routing::get(|| async { r#"{"version":"3.4.2","revision":"abc","branch":"HEAD","goVersion":"go1.23"}"# }),
        )
        .route(
            "/ready",
            axum::routing::get(move || async move {
                if slow {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                "ready\n"
            }),
        )
        .with_state(seen);
    serve(app).await
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

async fn console(yaml: &str) -> u16 {
    let config = Config::parse(yaml).expect("config");
    let state = AppState::new(&config).expect("state");
    serve(router(Arc::new(state))).await
}

fn client() -> Client {
    Client::new(
        "console",
        ClientSettings {
            timeout: Duration::from_secs(10),
            ..ClientSettings::default()
        },
    )
    .expect("client")
}

async fn get(port: u16, path: &str) -> Result<String, (u16, String)> {
    match client()
        .get(&format!("http://127.0.0.1:{port}{path}"), None)
        .await
    {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(CallError::Status { status, body, .. }) => Err((status, body)),
        Err(e) => panic!("{path}: {e}"),
    }
}

async fn json(port: u16, path: &str) -> Value {
    serde_json::from_str(&get(port, path).await.expect(path)).expect("JSON")
}

async fn error(port: u16, path: &str) -> (u16, String) {
    let (status, body) = get(port, path).await.expect_err(path);
    let v: Value = serde_json::from_str(&body).expect("JSON error body");
    (status, v["message"].as_str().expect("message").to_string())
}

fn config(loki: u16, prom: u16) -> String {
    format!(
        "loki:\n  url: http://127.0.0.1:{loki}/\n  tenantID: netobserv\n  timeout: 2s\n  labels: [SrcK8S_Namespace, SrcK8S_OwnerName, SrcK8S_Type, DstK8S_Namespace, DstK8S_OwnerName, DstK8S_Type, K8S_FlowLayer, FlowDirection]\n\
         prometheus:\n  url: http://127.0.0.1:{prom}\n  timeout: 2s\n  metrics:\n  - {{name: netobserv_workload_ingress_bytes_total, enabled: true}}\n\
         frontend:\n  features: [networkEvents, packetTranslation]\n  sampling: 1\n"
    )
}

#[tokio::test]
async fn records_export_and_metrics_from_recorded_loki_answers() {
    let seen = Seen::default();
    let loki = start_loki(seen.clone(), false).await;
    let port = console(&config(loki, closed_port())).await;

    let filters = encode(r#"SrcK8S_Namespace="demo"&DstPort=8080"#);
    let v = json(
        port,
        &format!("/api/loki/flow/records?filters={filters}&startTime=1700000000&endTime=1700000200&limit=50"),
    )
    .await;
    assert_eq!(v["resultType"], "streams");
    let result = v["result"].as_array().expect("streams");
    let values: usize = result
        .iter()
        .map(|s| s["values"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(values, 3, "every recorded line comes back");
    // Newest first, labels kept as the stream, the line as Loki stored it.
    assert_eq!(result[0]["values"][0][0], "1700000100500000000");
    let line: Value =
        serde_json::from_str(result[0]["values"][0][1].as_str().expect("line")).expect("line JSON");
    assert_eq!(line["XlatDstAddr"], "10.129.0.21");
    assert_eq!(result[0]["stream"]["DstK8S_OwnerName"], "backend");
    assert_eq!(v["stats"]["dataSources"][0], "loki");
    // What Loki was asked.
    let q = seen.0.lock().unwrap()[0].clone();
    assert_eq!(
        q["query"],
        "{app=\"netobserv-flowcollector\", SrcK8S_Namespace=\"demo\"} |~ `\"DstPort\":8080[,}]`"
    );
    assert_eq!(q["start"], "1700000000000000000");
    assert_eq!(q["end"], "1700000201000000000", "endTime is inclusive");
    assert_eq!(q["limit"], "50");
    assert_eq!(q["direction"], "backward");

    // CSV export of chosen columns, network events as JSON in one quoted cell.
    let csv = get(
        port,
        "/api/loki/export?format=csv&columns=SrcK8S_Namespace,DstAddr,Bytes,FlowDirection,NetworkEvents&startTime=1700000000&endTime=1700000200",
    )
    .await
    .expect("csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "SrcK8S_Namespace,DstAddr,Bytes,FlowDirection,NetworkEvents"
    );
    assert_eq!(rows[1], "demo,172.30.12.7,4520,1,");
    assert!(
        rows[2].starts_with("demo,203.0.113.9,120,1,\"[{\"\"Action\"\":\"\"drop\"\""),
        "{}",
        rows[2]
    );
    assert_eq!(rows.len(), 4);

    // Topology from Loki: two queries (the FlowDirection de-duplication halves) summed.
    seen.0.lock().unwrap().clear();
    let v = json(
        port,
        "/api/flow/metrics?aggregateBy=namespace&type=Bytes&function=rate&dataSource=loki&startTime=1700000000&endTime=1700000100&step=30s",
    )
    .await;
    assert_eq!(v["resultType"], "matrix");
    assert_eq!(seen.0.lock().unwrap().len(), 2);
    let demo = v["result"]
        .as_array()
        .expect("series")
        .iter()
        .find(|s| s["metric"]["DstK8S_Namespace"] == "demo")
        .expect("demo to demo");
    assert_eq!(demo["values"][0], serde_json::json!([1700000070, "241"]));
    assert_eq!(v["stats"]["numQueries"], 2);

    // Autocompletion through Loki's label values (SrcK8S_Namespace is a label; so is Dst).
    let v = json(port, "/api/resources/namespaces").await;
    assert_eq!(v, serde_json::json!(["demo", "openshift-dns"]));

    // Status: Loki ready, Prometheus down with the reason.
    let v = json(port, "/api/status").await;
    assert_eq!(v["loki"]["isReady"], true);
    assert_eq!(v["prometheus"]["isReady"], false);
    assert!(
        v["prometheus"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("Prometheus at http://127.0.0.1:"),
        "{v}"
    );
    assert_eq!(v["store"]["isEnabled"], false);
    assert_eq!(get(port, "/api/loki/ready").await.expect("ready"), "ready");

    // Frontend configuration: built-in columns and filters with the configured features.
    let v = json(port, "/api/frontend-config").await;
    assert_eq!(
        v["features"],
        serde_json::json!(["networkEvents", "packetTranslation"])
    );
    assert!(
        v["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .any(|c| c["id"] == "XlatDstAddr")
    );
    assert!(
        v["filters"]
            .as_array()
            .expect("filters")
            .iter()
            .any(|f| f["id"] == "network_events")
    );
    assert_eq!(v["dataSources"], serde_json::json!(["loki", "prom"]));
    assert_eq!(get(port, "/role").await.expect("role"), "admin");
    // Admin passthroughs (authCheck none: everyone is admin).
    let limits = json(port, "/api/loki/config/limits").await;
    assert_eq!(limits["max_entries_limit_per_query"], 5000);
    assert_eq!(json(port, "/api/loki/buildinfo").await["version"], "3.4.2");
}

#[tokio::test]
async fn bad_input_and_failing_services_are_named() {
    let seen = Seen::default();
    let loki = start_loki(seen.clone(), false).await;
    let port = console(&config(loki, closed_port())).await;
    let cases: Vec<(String, u16, &str)> = vec![
        (format!("/api/loki/flow/records?filters={}", encode(r#"SrcK8S_Namespace="demo"#)), 400, "unbalanced quote"),
        (format!("/api/loki/flow/records?filters={}", encode("Planet=earth")), 400, "unknown filter field `Planet`"),
        ("/api/loki/flow/records?startTime=1700000200&endTime=1700000100".into(), 400, "inverted"),
        ("/api/loki/flow/records?startTime=1000000000&endTime=1700000100".into(), 400, "day limit"),
        ("/api/loki/flow/records?limit=6000".into(), 400, "max entries limit per query exceeded"),
        ("/api/loki/flow/records?limit=6000".into(), 400, "lower `limit`"),
        ("/api/loki/flow/records?dataSource=prom".into(), 400, "not flow records"),
        ("/api/loki/flow/records?dataSource=store".into(), 400, "no flow store is configured"),
        ("/api/loki/export?format=parquet".into(), 400, "format: `parquet` is not supported"),
        ("/api/flow/metrics?type=Bytes".into(), 400, "aggregateBy is required"),
        ("/api/flow/metrics?aggregateBy=namespace&type=DnsLatencyMs&function=rate&dataSource=loki".into(), 400, "does not apply to DnsLatencyMs"),
        // Prometheus is down: asked explicitly, 503 naming it.
        ("/api/flow/metrics?aggregateBy=namespace&dataSource=prom".into(), 503, "Prometheus at http://127.0.0.1:"),
        // Asked for labels no metric has.
        ("/api/flow/metrics?aggregateBy=host&dataSource=prom".into(), 400, "no Prometheus metric has Bytes with labels"),
        ("/api/resources/names".into(), 400, "kind is required"),
        ("/api/nothing".into(), 404, "no route /api/nothing"),
    ];
    for (path, status, needle) in cases {
        let (got_status, message) = error(port, &path).await;
        assert_eq!(got_status, status, "{path}: {message}");
        assert!(message.contains(needle), "{path}: {message}");
    }

    // Loki down.
    let port = console(&config(closed_port(), closed_port())).await;
    let (status, message) = error(port, "/api/loki/flow/records").await;
    assert_eq!(status, 503);
    assert!(
        message.starts_with("Loki at http://127.0.0.1:") && message.contains("unreachable"),
        "{message}"
    );
    // Auto mode with Prometheus down falls to Loki only when Prometheus cannot answer; here it
    // can (the metric exists), so its failure is reported.
    let (status, message) = error(port, "/api/flow/metrics?aggregateBy=namespace").await;
    assert_eq!(status, 503, "{message}");

    // Loki too slow for the configured timeout.
    let slow = start_loki(Seen::default(), true).await;
    let port = console(&config(slow, closed_port())).await;
    let (status, message) = error(port, "/api/loki/ready").await;
    assert_eq!(status, 503);
    assert!(message.contains("no answer within 2s"), "{message}");
}

#[tokio::test]
async fn cors_preflight_and_lokistack_pending() {
    let loki = start_loki(Seen::default(), false).await;
    let yaml = format!(
        "server:\n  corsOrigin: https://console.example\n  corsMaxAge: \"600\"\nloki:\n  url: http://127.0.0.1:{loki}/\n  status: pending\n"
    );
    let config = Config::parse(&yaml).expect("config");
    let cors = netobserv_console::server::Cors::new(&config.server);
    let app = router(Arc::new(AppState::new(&config).expect("state"))).layer(
        axum::middleware::from_fn(move |req, next| cors.clone().apply(req, next)),
    );
    let port = serve(app).await;

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(
            b"OPTIONS /api/loki/flow/records HTTP/1.0\r\nOrigin: https://console.example\r\n\r\n",
        )
        .await
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.0 204"), "{answer}");
    let lower = answer.to_lowercase();
    assert!(
        lower.contains("access-control-allow-origin: https://console.example"),
        "{answer}"
    );
    assert!(lower.contains("access-control-max-age: 600"), "{answer}");

    let v = json(port, "/api/status").await;
    assert_eq!(v["loki"]["isReady"], false);
    assert!(
        v["loki"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("status: pending"),
        "{v}"
    );
}
