//! The three sources agree on the same flows. A real pipeline (the `netobserv-pipeline` library,
//! fed JSON lines through its stdin ingest path) writes known flows to
//! * a flow store file through its `sqlite` writer,
//! * Loki through its Loki writer — a stand-in here, since Loki cannot run on this machine: it
//!   decodes the pushes as Loki does (snappy + protobuf) and answers `query_range` with the
//!   streams whose labels equal the selector's `="..."` matchers and whose entries fall in the
//!   time range (it evaluates no line filter, so the test filters on labels only),
//! * a real Prometheus (Debian `prometheus`, started here on loopback) scraping the pipeline's
//!   `netobserv_*` metrics every second.
//!
//! The console then answers the same questions from each: records from Loki and from the store
//! are the same records; per-namespace byte totals from the store equal the flows sent, and
//! Prometheus' (which extrapolates `increase` over its scrapes) are within 20 % with the same
//! ranking.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use netobserv_console::api::{AppState, router};
use netobserv_console::client::{Client, ClientSettings, encode};
use netobserv_console::config::Config;
use netobserv_pipeline::config::Config as PipelineConfig;
use netobserv_pipeline::ingest::read_json_lines;
use netobserv_pipeline::runtime::Pipeline;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Kills a child process when the test ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Entries = Arc<Mutex<Vec<(BTreeMap<String, String>, i64, String)>>>;

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    text.trim_matches(|c| c == '{' || c == '}')
        .split(", ")
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// The Loki stand-in: stores pushes, answers `query_range` by label equality and time range.
async fn fake_loki(entries: Entries) -> u16 {
    use axum::body::Bytes;
    use axum::extract::Query;
    use std::collections::HashMap;
    let push = entries.clone();
    let app = axum::Router::new()
        .route(
            "/loki/api/v1/push",
            axum::routing::post(move |body: Bytes| {
                let push = push.clone();
                async move {
                    let Ok(req) = netobserv_pipeline::write::loki::decode_push(&body) else {
                        return axum::http::StatusCode::BAD_REQUEST;
                    };
                    let mut all = push.lock().unwrap();
                    for s in req.streams {
                        let labels = parse_labels(&s.labels);
                        for e in s.entries {
                            let ts = e.timestamp.map_or(0, |t| t.seconds * 1_000_000_000 + i64::from(t.nanos));
                            all.push((labels.clone(), ts, e.line));
                        }
                    }
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        )
        .route(
            "/loki/api/v1/query_range",
            axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
                let entries = entries.clone();
                async move {
                    let query = q.get("query").cloned().unwrap_or_default();
                    let selector = query
                        .split_once('{')
                        .and_then(|(_, r)| r.split_once('}'))
                        .map(|(s, _)| s)
                        .unwrap_or_default();
                    let wanted: Vec<(String, String)> = selector
                        .split(", ")
                        .filter(|m| !m.contains("=~") && !m.contains("!="))
                        .filter_map(|m| m.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                        .collect();
                    let start: i64 = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
                    let end: i64 = q.get("end").and_then(|s| s.parse().ok()).unwrap_or(i64::MAX);
                    let mut streams: BTreeMap<BTreeMap<String, String>, Vec<Value>> = BTreeMap::new();
                    for (labels, ts, line) in entries.lock().unwrap().iter() {
                        let matches = wanted.iter().all(|(k, v)| labels.get(k).map(String::as_str).unwrap_or("") == v);
                        if matches && *ts >= start && *ts < end {
                            streams.entry(labels.clone()).or_default().push(json!([ts.to_string(), line]));
                        }
                    }
                    let result: Vec<Value> = streams
                        .into_iter()
                        .map(|(l, v)| json!({"stream": l, "values": v}))
                        .collect();
                    axum::Json(json!({"status": "success", "data": {"resultType": "streams", "result": result}}))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

const PAIRS: &[(&str, &str, u64)] = &[
    ("ns-a", "ns-b", 100_000),
    ("ns-a", "ns-c", 10_000),
    ("ns-b", "ns-c", 1_000),
];

fn flow(src_ns: &str, dst_ns: &str, bytes: u64, port: u64, end_ms: i64) -> Value {
    json!({
        "TimeFlowStartMs": end_ms - 500, "TimeFlowEndMs": end_ms, "Etype": 2048,
        "SrcAddr": format!("10.128.0.{}", port % 250), "DstAddr": "10.129.0.7",
        "SrcPort": port, "DstPort": 8080, "Proto": 6, "Bytes": bytes, "Packets": 1 + bytes / 1500,
        "FlowDirection": 0, "Interfaces": ["eth0"], "IfDirections": [0],
        "SrcK8S_Namespace": src_ns, "DstK8S_Namespace": dst_ns, "SrcK8S_Type": "Pod",
        "DstK8S_Type": "Pod", "K8S_FlowLayer": "app",
    })
}

async fn console_get(port: u16, path: &str) -> Value {
    let client = Client::new(
        "console",
        ClientSettings {
            timeout: Duration::from_secs(20),
            ..ClientSettings::default()
        },
    )
    .expect("client");
    let body = client
        .get(&format!("http://127.0.0.1:{port}{path}"), None)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&body).expect("JSON")
}

/// An instant PromQL query (HTTP/1.0 over a plain socket).
fn promql(port: u16, query: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /api/v1/query?query={} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
        encode(query)
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (_, body) = response.split_once("\r\n\r\n")?;
    let v: Value = serde_json::from_str(body).ok()?;
    v.pointer("/data/result/0/value/1")?.as_str()?.parse().ok()
}

fn records_of(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for stream in v["result"].as_array().expect("streams") {
        for pair in stream["values"].as_array().expect("values") {
            let mut rec: Map<String, Value> =
                serde_json::from_str(pair[1].as_str().expect("line")).expect("line JSON");
            for (k, val) in stream["stream"].as_object().expect("labels") {
                if k == "app" {
                    continue;
                }
                let s = val.as_str().unwrap_or_default();
                let typed = if k == "FlowDirection" {
                    json!(s.parse::<i64>().unwrap_or(-1))
                } else {
                    json!(s)
                };
                rec.insert(k.clone(), typed);
            }
            // The store derives the CLI's singular `Interface` column from `Interfaces`.
            rec.remove("Interface");
            out.insert(Value::Object(rec).to_string());
        }
    }
    out
}

fn totals(v: &Value) -> BTreeMap<(String, String), f64> {
    v["result"]
        .as_array()
        .expect("matrix")
        .iter()
        .map(|s| {
            let key = (
                s["metric"]["SrcK8S_Namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                s["metric"]["DstK8S_Namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
            let total = s["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|p| {
                    p[1].as_str()
                        .and_then(|x| x.parse::<f64>().ok())
                        .unwrap_or(0.0)
                })
                .sum();
            (key, total)
        })
        .collect()
}

/// The pipeline as the operator shapes it: metrics with the namespace labels, Loki with the
/// namespaces and FlowDirection as labels, plus the store.
fn pipeline_config(loki_port: u16, store_path: &std::path::Path) -> PipelineConfig {
    PipelineConfig::parse(&format!(
        r#"
pipeline:
  - {{name: ingest}}
  - {{name: prometheus, follows: ingest}}
  - {{name: loki, follows: ingest}}
  - {{name: store, follows: ingest}}
parameters:
  - {{name: ingest, ingest: {{type: stdin}}}}
  - name: prometheus
    encode:
      type: prom
      prom:
        prefix: netobserv_
        metrics:
          - name: namespace_ingress_bytes_total
            type: counter
            valueKey: Bytes
            filters: [{{key: FlowDirection, value: "1", type: not_equal}}]
            labels: [SrcK8S_Namespace, DstK8S_Namespace, K8S_FlowLayer, SrcSubnetLabel, DstSubnetLabel]
          - name: namespace_flows_total
            type: counter
            labels: [SrcK8S_Namespace, DstK8S_Namespace, K8S_FlowLayer, SrcSubnetLabel, DstSubnetLabel]
  - name: loki
    write:
      type: loki
      loki:
        url: http://127.0.0.1:{loki_port}/
        batchWait: 100ms
        labels: [SrcK8S_Namespace, DstK8S_Namespace, FlowDirection]
        staticLabels: {{app: netobserv-flowcollector}}
        timestampLabel: TimeFlowEndMs
        timestampScale: 1ms
  - name: store
    write:
      type: sqlite
      sqlite: {{path: "{}", flushInterval: 100ms}}
"#,
        store_path.display()
    ))
    .expect("pipeline configuration")
}

/// Serves the pipeline's Prometheus encoders on `/metrics` so a real Prometheus can scrape
/// them; returns the port.
fn serve_pipeline_metrics(runtime: &tokio::runtime::Runtime, pipeline: &Pipeline) -> u16 {
    let encoders: Vec<_> = pipeline
        .prom_encoders()
        .iter()
        .map(|(_, e)| e.clone())
        .collect();
    runtime.block_on(async move {
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let encoders = encoders.clone();
                async move {
                    encoders
                        .iter()
                        .map(|e| e.lock().map(|e| e.render()).unwrap_or_default())
                        .collect::<String>()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        port
    })
}

/// Feeds records to the pipeline through its stdin ingest path (JSON lines).
fn feed(pipeline: &mut Pipeline, records: &[Value]) {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    read_json_lines(text.as_bytes(), 1000, |b| pipeline.process(b)).expect("lines");
}

/// Starts Prometheus on loopback, scraping the pipeline every second; returns its guard and
/// port.
fn start_prometheus(dir: &std::path::Path, metrics_port: u16) -> (Guard, u16) {
    let prom_port = free_port();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!("global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: pipeline\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"),
    )
    .expect("prometheus config");
    let prometheus = Guard(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    (prometheus, prom_port)
}

/// Warm-up: one tiny flow per namespace pair, an hour old, so every series exists before
/// the flows counted later (Prometheus' increase() needs a sample before the change). Waits
/// until Prometheus has scraped all three series.
fn warm_up(pipeline: &mut Pipeline, prom_port: u16) {
    let hour_ago = now_ms() - 3_600_000;
    let warm: Vec<Value> = PAIRS
        .iter()
        .enumerate()
        .map(|(i, (s, d, _))| flow(s, d, 1, 100 + i as u64, hour_ago))
        .collect();
    feed(pipeline, &warm);
    let deadline = Instant::now() + Duration::from_secs(60);
    while promql(
        prom_port,
        "min(count_over_time(netobserv_namespace_ingress_bytes_total[1m]))",
    )
    .unwrap_or(0.0)
        < 3.0
    {
        assert!(Instant::now() < deadline, "Prometheus scrapes the pipeline");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The flows under test: three per pair, one of them carrying network events and a
/// translation.
fn flows_to_send() -> Vec<Value> {
    let mut sent = Vec::new();
    for (i, (s, d, bytes)) in PAIRS.iter().enumerate() {
        for k in 0..3u64 {
            let mut f = flow(s, d, *bytes + k, 40_000 + 10 * i as u64 + k, now_ms());
            if k == 0 {
                f["NetworkEvents"] = json!([{"Action": "allow", "Type": "NetworkPolicy", "Name": "allow-all", "Namespace": d, "Direction": "Ingress", "Feature": "acl"}]);
                f["XlatDstAddr"] = json!("10.129.0.99");
                f["XlatDstPort"] = json!(8443);
                f["ZoneId"] = json!(1);
            }
            sent.push(f);
        }
    }
    sent
}

/// Waits until every sent flow (plus the warm-up) has reached Prometheus, Loki and the store.
fn wait_for_all_sources(
    prom_port: u16,
    entries: &Entries,
    store_path: &std::path::Path,
    sent: &[Value],
) {
    let want_bytes: f64 = sent
        .iter()
        .map(|f| f["Bytes"].as_f64().unwrap_or(0.0))
        .sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let in_prom =
            promql(prom_port, "sum(netobserv_namespace_ingress_bytes_total)").unwrap_or(0.0);
        let in_loki = entries.lock().unwrap().len();
        let in_store = netobserv_flowstore::Reader::open(store_path)
            .and_then(|r| r.count())
            .unwrap_or(0);
        if in_prom == want_bytes + 3.0 && in_loki == 12 && in_store == 12 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "flows reach Prometheus ({in_prom}), Loki ({in_loki}) and the store ({in_store})"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The console's `loki:` section, kept apart so the second console can be configured without
/// it.
fn loki_section(loki_port: u16) -> String {
    format!(
        "loki:\n  url: http://127.0.0.1:{loki_port}/\n  labels: [SrcK8S_Namespace, DstK8S_Namespace, FlowDirection]\n  timeout: 10s\n"
    )
}

/// The console configuration over all three sources.
fn console_config(loki_port: u16, prom_port: u16, store_path: &std::path::Path) -> String {
    format!(
        "{}prometheus:\n  url: http://127.0.0.1:{prom_port}\n  timeout: 10s\n  metrics:\n  - {{name: netobserv_namespace_ingress_bytes_total, enabled: true}}\n  - {{name: netobserv_namespace_flows_total, enabled: true}}\n\
         store:\n  path: {}\n",
        loki_section(loki_port),
        store_path.display()
    )
}

/// Serves the console's router for `state` on loopback; returns the port.
fn serve_console(runtime: &tokio::runtime::Runtime, state: AppState) -> u16 {
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router(Arc::new(state))).await;
        });
        port
    })
}

/// The console's query window over the sent flows: the `startTime`/`endTime` query string and
/// a step covering it in one point.
struct Window {
    range: String,
    step: i64,
}

/// A running console and the runtime it is queried from.
struct Console<'a> {
    runtime: &'a tokio::runtime::Runtime,
    port: u16,
}

impl Console<'_> {
    /// GETs `path` from the console, as JSON.
    fn get(&self, path: &str) -> Value {
        self.runtime.block_on(console_get(self.port, path))
    }

    /// The per-namespace `ty` sums from data source `ds` over the window, in one step.
    fn metrics(&self, window: &Window, ds: &str, ty: &str) -> Value {
        let (step, range) = (window.step, &window.range);
        self.get(&format!("/api/flow/metrics?dataSource={ds}&aggregateBy=namespace&type={ty}&function=sum&step={step}s&{range}"))
    }
}

/// Records: Loki and the store give the same records.
fn check_records_agree(console: &Console, window: &Window) {
    let range = &window.range;
    let filters = encode(r#"SrcK8S_Namespace="ns-a""#);
    let from_loki = console.get(&format!(
        "/api/loki/flow/records?dataSource=loki&filters={filters}&{range}&limit=100"
    ));
    let from_store = console.get(&format!(
        "/api/loki/flow/records?dataSource=store&filters={filters}&{range}&limit=100"
    ));
    let (loki_set, store_set) = (records_of(&from_loki), records_of(&from_store));
    assert_eq!(loki_set.len(), 6, "ns-a sent six flows: {loki_set:#?}");
    assert_eq!(
        loki_set, store_set,
        "Loki and the store hold the same records"
    );
    assert!(
        store_set
            .iter()
            .any(|r| r.contains("\"XlatDstAddr\":\"10.129.0.99\"") && r.contains("allow-all"))
    );
    assert_eq!(from_loki["stats"]["dataSources"], json!(["loki"]));
    assert_eq!(from_store["stats"]["dataSources"], json!(["store"]));
}

/// Namespace pairs ordered by decreasing total.
fn rank(t: &BTreeMap<(String, String), f64>) -> Vec<(String, String)> {
    let mut v: Vec<_> = t.iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(a.1));
    v.into_iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
}

/// Topology: bytes per namespace pair over the range, one step. The store's totals are exact;
/// Prometheus' are within 20 % with the same ranking, and come from `increase`.
fn check_byte_totals_agree(console: &Console, window: &Window) {
    let want: BTreeMap<(String, String), f64> = PAIRS
        .iter()
        .map(|(s, d, b)| ((s.to_string(), d.to_string()), (3 * b + 3) as f64))
        .collect();
    let store = console.metrics(window, "store", "Bytes");
    assert_eq!(
        totals(&store),
        want,
        "the store's totals are the bytes sent"
    );
    let prom = console.metrics(window, "prom", "Bytes");
    let prom_totals = totals(&prom);
    eprintln!(
        "bytes per pair: sent {want:?}, store {:?}, Prometheus {prom_totals:?}",
        totals(&store)
    );
    assert_eq!(
        prom_totals.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{prom}"
    );
    for (k, w) in &want {
        let got = prom_totals[k];
        assert!(
            (got - w).abs() <= 0.2 * w,
            "{k:?}: Prometheus {got} vs {w} sent"
        );
    }
    assert_eq!(rank(&prom_totals), rank(&want));
    assert!(
        prom["stats"]["queries"][0]
            .as_str()
            .unwrap_or("")
            .contains("increase(netobserv_namespace_ingress_bytes_total"),
        "{prom}"
    );
}

/// Flow counts agree exactly (each pair has three flows; the warm-up is outside the range
/// for the store, and Prometheus' increase ignores it).
fn check_flow_counts_agree(console: &Console, window: &Window) {
    let store_flows = totals(&console.metrics(window, "store", "Flows"));
    assert!(store_flows.values().all(|v| *v == 3.0), "{store_flows:?}");
    let prom_flows = totals(&console.metrics(window, "prom", "Flows"));
    assert!(
        prom_flows.values().all(|v| (v - 3.0).abs() <= 0.6),
        "{prom_flows:?}"
    );
}

/// Without Loki, what Prometheus cannot answer (a translation filter) goes to the store.
fn check_store_answers_without_loki(
    runtime: &tokio::runtime::Runtime,
    console_config: &str,
    loki_port: u16,
    window: &Window,
) {
    let state = AppState::new(
        &Config::parse(&console_config.replace(&loki_section(loki_port), ""))
            .expect("config without Loki"),
    )
    .expect("state");
    let second = Console {
        runtime,
        port: serve_console(runtime, state),
    };
    let (step, range) = (window.step, &window.range);
    let xlat = second.get(&format!(
        "/api/flow/metrics?aggregateBy=namespace&type=Bytes&function=sum&step={step}s&{range}&filters={}",
        encode("XlatDstPort=8443")
    ));
    assert_eq!(xlat["stats"]["dataSources"], json!(["store"]));
    let want_xlat: BTreeMap<(String, String), f64> = PAIRS
        .iter()
        .map(|(s, d, b)| ((s.to_string(), d.to_string()), *b as f64))
        .collect();
    assert_eq!(totals(&xlat), want_xlat, "only the translated flows");
}

#[test]
fn loki_prometheus_and_store_agree_on_the_same_flows() {
    assert!(
        Command::new("prometheus").arg("--version").output().is_ok(),
        "Debian `prometheus` is required (scripts/prerequisites.sh installs it)"
    );
    let dir = std::env::temp_dir().join(format!("console-agreement-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store_path = dir.join("flows.db");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let entries: Entries = Arc::default();
    let loki_port = runtime.block_on(fake_loki(entries.clone()));

    let config = pipeline_config(loki_port, &store_path);
    let mut pipeline =
        Pipeline::build(&config, || Box::new(std::io::sink())).expect("pipeline builds");
    let metrics_port = serve_pipeline_metrics(&runtime, &pipeline);
    let (_prometheus, prom_port) = start_prometheus(&dir, metrics_port);

    warm_up(&mut pipeline, prom_port);
    let t0 = now_ms();
    let sent = flows_to_send();
    feed(&mut pipeline, &sent);
    wait_for_all_sources(prom_port, &entries, &store_path, &sent);
    // A few more scrapes after the change.
    std::thread::sleep(Duration::from_secs(4));
    let t1 = now_ms();

    let console_config = console_config(loki_port, prom_port, &store_path);
    let state =
        AppState::new(&Config::parse(&console_config).expect("console config")).expect("state");
    let console = Console {
        runtime: &runtime,
        port: serve_console(&runtime, state),
    };
    let start_s = t0 / 1000 - 5;
    let end_s = t1 / 1000 + 1;
    let window = Window {
        range: format!("startTime={start_s}&endTime={end_s}"),
        step: end_s - start_s + 1,
    };

    check_records_agree(&console, &window);
    check_byte_totals_agree(&console, &window);
    check_flow_counts_agree(&console, &window);
    // `auto` picks Prometheus for what it can answer, and the store for what it cannot.
    let auto = console.metrics(&window, "auto", "Bytes");
    assert_eq!(auto["stats"]["dataSources"], json!(["prom"]));
    check_store_answers_without_loki(&runtime, &console_config, loki_port, &window);
    drop(pipeline);
    let _ = std::fs::remove_dir_all(&dir);
}
