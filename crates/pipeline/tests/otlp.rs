//! The OpenTelemetry exporters against receivers speaking OTLP: a tonic gRPC server
//! implementing the collector's `LogsService` / `MetricsService` and an HTTP server taking
//! `POST /v1/logs` and `/v1/metrics`, both decoding with the official OTLP protobuf definitions
//! (`opentelemetry-proto`). No OpenTelemetry Collector installs here; these are its wire
//! contracts. Every flow field is checked in the received log records (typed), metrics as
//! cumulative sums, gauges and histograms with their labels, the FlowCollector's headers and
//! TLS, an unreachable receiver, and the operator-rendered stages run by the pipeline binary.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use netobserv_pipeline::config::{Config, Encode};
use netobserv_pipeline::encode::Encoder;
use netobserv_pipeline::record::Record;
use netobserv_pipeline::registry::{Built, Registry};
use netobserv_pipeline::stage::{BuildContext, StageContext};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests as received, each with its `x-tenant` header.
type Log<T> = Arc<Mutex<Vec<(T, Option<String>)>>>;

/// What a receiver got.
#[derive(Clone, Default)]
struct Received {
    logs: Log<ExportLogsServiceRequest>,
    metrics: Log<ExportMetricsServiceRequest>,
}

#[tonic::async_trait]
impl LogsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let tenant = request
            .metadata()
            .get("x-tenant")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        self.logs
            .lock()
            .unwrap()
            .push((request.into_inner(), tenant));
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let tenant = request
            .metadata()
            .get("x-tenant")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        self.metrics
            .lock()
            .unwrap()
            .push((request.into_inner(), tenant));
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// A gRPC receiver on loopback (TLS with `tls`: certificate and key PEM).
fn grpc_receiver(
    runtime: &tokio::runtime::Runtime,
    tls: Option<(String, String)>,
) -> (u16, Received) {
    let received = Received::default();
    let r = received.clone();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(async move {
        let mut server = tonic::transport::Server::builder();
        if let Some((cert, key)) = tls {
            server = server
                .tls_config(
                    tonic::transport::ServerTlsConfig::new()
                        .identity(tonic::transport::Identity::from_pem(cert, key)),
                )
                .unwrap();
        }
        server
            .add_service(LogsServiceServer::new(r.clone()))
            .add_service(MetricsServiceServer::new(r))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    (port, received)
}

/// An OTLP/HTTP receiver on loopback.
fn http_receiver(runtime: &tokio::runtime::Runtime) -> (u16, Received) {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    use prost::Message;
    let received = Received::default();
    let (logs, metrics) = (received.logs.clone(), received.metrics.clone());
    let tenant = |h: &HeaderMap| {
        h.get("x-tenant")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let protobuf = |h: &HeaderMap| {
        h.get("content-type")
            .is_some_and(|v| v == "application/x-protobuf")
    };
    let app = axum::Router::new()
        .route(
            "/v1/logs",
            axum::routing::post(move |h: HeaderMap, body: Bytes| async move {
                assert!(protobuf(&h), "{h:?}");
                let req = ExportLogsServiceRequest::decode(body).unwrap();
                logs.lock().unwrap().push((req, tenant(&h)));
                ""
            }),
        )
        .route(
            "/v1/metrics",
            axum::routing::post(move |h: HeaderMap, body: Bytes| async move {
                assert!(protobuf(&h), "{h:?}");
                let req = ExportMetricsServiceRequest::decode(body).unwrap();
                metrics.lock().unwrap().push((req, tenant(&h)));
                ""
            }),
        );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, received)
}

fn flows() -> Vec<Record> {
    [
        r#"{"SrcAddr":"10.128.0.7","DstAddr":"10.129.0.9","SrcPort":43210,"DstPort":8080,"Proto":6,
            "Bytes":123456,"Packets":89,"TimeFlowEndMs":1764914405456,"Interfaces":["eth0","br-ex"],
            "SrcK8S_Namespace":"shop","DstK8S_Namespace":"db","TimeFlowRttNs":250000.5,"Duplicate":false}"#,
        r#"{"SrcAddr":"10.128.0.7","DstAddr":"10.129.0.10","SrcPort":43211,"DstPort":8080,"Proto":6,
            "Bytes":1000,"Packets":2,"TimeFlowEndMs":1764914406000,"Interfaces":["eth0"],
            "SrcK8S_Namespace":"shop","DstK8S_Namespace":"db"}"#,
    ]
    .iter()
    .map(|t| Record::from_json(t).unwrap())
    .collect()
}

/// Builds the encode stage of a one-stage YAML document.
fn encoder(yaml: &str, shared: &BuildContext) -> Box<dyn Encoder> {
    let params: Encode = serde_yaml::from_str(yaml).expect("encode params");
    let config: Config = serde_yaml::from_str(&format!(
        "pipeline: [{{name: in}}, {{name: out, follows: in}}]\nparameters:\n- {{name: in, ingest: {{type: stdin}}}}\n- name: out\n  encode: {}\n",
        serde_json::to_string(&params).unwrap()
    ))
    .expect("config");
    let out = config.parameters.iter().find(|p| p.name == "out").unwrap();
    let mut ctx = StageContext {
        name: "out",
        shared,
        stdout: &mut || Box::new(std::io::sink()),
    };
    match Registry::standard().build(out, &mut ctx) {
        Ok(Built::Encode(e)) => e,
        Ok(_) => panic!("not an encoder"),
        Err(e) => panic!("{e}"),
    }
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Any> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string(s: &str) -> Any {
    Any::StringValue(s.to_string())
}

/// The log records of `received` match `flows()` field by field.
fn assert_logs(received: &Received, tenant: &str) {
    let logs = received.logs.lock().unwrap();
    let (req, got_tenant) = &logs[0];
    assert_eq!(
        got_tenant.as_deref(),
        Some(tenant),
        "the FlowCollector's header"
    );
    let resource = &req.resource_logs[0];
    let res_attrs = &resource.resource.as_ref().unwrap().attributes;
    assert_eq!(
        attr(res_attrs, "service.name"),
        Some(&string("netobserv-flowlogs-pipeline"))
    );
    let records = &resource.scope_logs[0].log_records;
    assert_eq!(records.len(), 2);
    let first = &records[0];
    assert_eq!(
        first.time_unix_nano, 1_764_914_405_456_000_000,
        "the flow's end"
    );
    assert_eq!(first.severity_text, "INFO");
    let a = &first.attributes;
    assert_eq!(attr(a, "SrcAddr"), Some(&string("10.128.0.7")));
    assert_eq!(
        attr(a, "SrcPort"),
        Some(&Any::IntValue(43210)),
        "numbers stay numbers"
    );
    assert_eq!(attr(a, "Bytes"), Some(&Any::IntValue(123_456)));
    assert_eq!(attr(a, "TimeFlowRttNs"), Some(&Any::DoubleValue(250_000.5)));
    assert_eq!(attr(a, "Duplicate"), Some(&Any::BoolValue(false)));
    assert_eq!(attr(a, "SrcK8S_Namespace"), Some(&string("shop")));
    match attr(a, "Interfaces") {
        Some(Any::ArrayValue(list)) => {
            let names: Vec<_> = list.values.iter().filter_map(|v| v.value.clone()).collect();
            assert_eq!(names, vec![string("eth0"), string("br-ex")]);
        }
        other => panic!("Interfaces: {other:?}"),
    }
    let Some(Any::StringValue(body)) = first.body.as_ref().and_then(|b| b.value.as_ref()) else {
        panic!("body")
    };
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["DstAddr"], "10.129.0.9");
    assert_eq!(
        attr(&records[1].attributes, "DstAddr"),
        Some(&string("10.129.0.10"))
    );
}

const LOGS_GRPC: &str = "{type: otlplogs, otlplogs: {otlpConnectionInfo: {address: 127.0.0.1, port: PORT, connectionType: grpc, headers: {X-Tenant: team-a}}}}";

#[test]
fn logs_over_grpc_carry_every_field_typed() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (port, received) = grpc_receiver(&runtime, None);
    let shared = BuildContext::new(runtime.handle().clone());
    let mut stage = encoder(&LOGS_GRPC.replace("PORT", &port.to_string()), &shared);
    stage.encode(&flows());
    eventually("the receiver got the logs", || {
        !received.logs.lock().unwrap().is_empty()
    });
    assert_logs(&received, "team-a");
    let stats = stage.delivery().expect("counters");
    eventually("2 records sent", || {
        stats.written.load(Ordering::Relaxed) == 2
    });
}

#[test]
fn logs_over_grpc_with_tls_verify_the_receiver() {
    let pki = common::pod::pki("localhost");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (port, received) =
        grpc_receiver(&runtime, Some((pki.cert_pem.clone(), pki.key_pem.clone())));
    let dir = std::env::temp_dir().join(format!("netobserv-otlp-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let shared = BuildContext::new(runtime.handle().clone());
    let yaml = format!(
        "{{type: otlplogs, otlplogs: {{otlpConnectionInfo: {{address: localhost, port: {port}, connectionType: grpc, headers: {{x-tenant: t}}, tls: {{caCertPath: '{}'}}}}}}}}",
        ca.display()
    );
    let mut stage = encoder(&yaml, &shared);
    stage.encode(&flows());
    eventually("the receiver got the logs over TLS", || {
        !received.logs.lock().unwrap().is_empty()
    });
    assert_logs(&received, "t");

    // A receiver whose certificate the configured CA did not sign is refused: counted.
    let other = common::pod::pki("localhost");
    std::fs::write(&ca, &other.ca_pem).unwrap();
    let mut untrusted = encoder(&yaml, &shared);
    untrusted.encode(&flows());
    let stats = untrusted.delivery().unwrap();
    eventually("the refused export counted", || {
        stats.dropped_after_retries.load(Ordering::Relaxed) == 2
    });
    assert_eq!(received.logs.lock().unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

const METRICS: &str = "metrics:
  - {name: flows_total, type: counter, labels: [SrcK8S_Namespace, DstK8S_Namespace]}
  - {name: bytes_total, type: counter, valueKey: Bytes, labels: [DstAddr]}
  - {name: last_bytes, type: gauge, valueKey: Bytes, labels: [Proto]}
  - {name: rtt_seconds, type: histogram, valueKey: Bytes, labels: [], buckets: [100, 10000]}";

fn metrics_yaml(port: u16, protocol: &str) -> String {
    let metrics = METRICS.replace('\n', "\n    ");
    format!(
        "type: otlpmetrics\notlpmetrics:\n  otlpConnectionInfo: {{address: 127.0.0.1, port: {port}, connectionType: {protocol}, headers: {{x-tenant: m}}}}\n  prefix: netobserv_\n  pushTimeInterval: 200ms\n  {metrics}\n"
    )
}

/// The latest pushed value of each (metric, attributes) in `received`.
fn latest(received: &Received) -> Vec<(String, Data)> {
    let metrics = received.metrics.lock().unwrap();
    let Some((req, tenant)) = metrics.last() else {
        return Vec::new();
    };
    assert_eq!(tenant.as_deref(), Some("m"));
    req.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .filter_map(|m| m.data.clone().map(|d| (m.name.clone(), d)))
        .collect()
}

fn check_metrics(received: &Received, times: u64) {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as N;
    let got = latest(received);
    let find = |name: &str| got.iter().find(|(n, _)| n == name).map(|(_, d)| d.clone());
    let Some(Data::Sum(flows)) = find("netobserv_flows_total") else {
        panic!("flows_total: {got:?}")
    };
    assert!(flows.is_monotonic);
    assert_eq!(flows.aggregation_temporality, 2, "cumulative");
    let p = &flows.data_points[0];
    assert_eq!(
        attr(&p.attributes, "SrcK8S_Namespace"),
        Some(&string("shop"))
    );
    assert_eq!(attr(&p.attributes, "DstK8S_Namespace"), Some(&string("db")));
    assert_eq!(p.value, Some(N::AsDouble((2 * times) as f64)));
    let Some(Data::Sum(bytes)) = find("netobserv_bytes_total") else {
        panic!("bytes")
    };
    let by_dst: Vec<(Option<Any>, Option<N>)> = bytes
        .data_points
        .iter()
        .map(|p| (attr(&p.attributes, "DstAddr").cloned(), p.value))
        .collect();
    assert_eq!(
        by_dst,
        vec![
            (
                Some(string("10.129.0.10")),
                Some(N::AsDouble((1000 * times) as f64))
            ),
            (
                Some(string("10.129.0.9")),
                Some(N::AsDouble((123_456 * times) as f64))
            ),
        ]
    );
    let Some(Data::Gauge(gauge)) = find("netobserv_last_bytes") else {
        panic!("gauge")
    };
    assert_eq!(
        gauge.data_points[0].value,
        Some(N::AsDouble(1000.0)),
        "the last flow's"
    );
    let Some(Data::Histogram(h)) = find("netobserv_rtt_seconds") else {
        panic!("histogram")
    };
    let p = &h.data_points[0];
    assert_eq!(p.explicit_bounds, vec![100.0, 10_000.0]);
    assert_eq!(
        p.bucket_counts,
        vec![0, times, times],
        "1000 ≤ 10000 < 123456"
    );
    assert_eq!(
        (p.count, p.sum),
        (2 * times, Some((124_456 * times) as f64))
    );
}

#[test]
fn metrics_are_pushed_as_cumulative_otlp_metrics_over_grpc_and_http() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let shared = BuildContext::new(runtime.handle().clone());
    for (protocol, (port, received)) in [
        ("grpc", grpc_receiver(&runtime, None)),
        ("http", http_receiver(&runtime)),
    ] {
        let mut stage = encoder(&metrics_yaml(port, protocol), &shared);
        stage.encode(&flows());
        eventually(&format!("{protocol}: a push with the first flows"), || {
            latest(&received).len() == 4
        });
        check_metrics(&received, 1);
        stage.encode(&flows());
        eventually(&format!("{protocol}: the counters grow"), || {
            std::panic::catch_unwind(|| check_metrics(&received, 2)).is_ok()
        });
    }
}

#[test]
fn logs_over_http_and_an_unreachable_receiver() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let shared = BuildContext::new(runtime.handle().clone());
    let (port, received) = http_receiver(&runtime);
    let http = LOGS_GRPC
        .replace("PORT", &port.to_string())
        .replace("grpc", "http");
    let mut stage = encoder(&http, &shared);
    stage.encode(&flows());
    eventually("the HTTP receiver got the logs", || {
        !received.logs.lock().unwrap().is_empty()
    });
    assert_logs(&received, "team-a");

    // Nobody listens: no call waits, every record is counted as sent or dropped.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut stage = encoder(&LOGS_GRPC.replace("PORT", &closed.to_string()), &shared);
    let mut slowest = Duration::ZERO;
    for _ in 0..1000 {
        let t = Instant::now();
        stage.encode(&flows());
        slowest = slowest.max(t.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "an encode call took {slowest:?}"
    );
    let stats = stage.delivery().unwrap();
    eventually("every record accounted for", || {
        let dropped = stats.dropped_buffer_full.load(Ordering::Relaxed)
            + stats.dropped_after_retries.load(Ordering::Relaxed);
        stats.written.load(Ordering::Relaxed) == 0 && dropped == 2000
    });
    assert!(
        stats.dropped_buffer_full.load(Ordering::Relaxed) > 0,
        "the queue overflowed"
    );
}

/// The whole path a user configures: a FlowCollector with an OpenTelemetry exporter (gRPC,
/// logs and metrics, a header), rendered by the operator; the pipeline binary runs the rendered
/// `otel-export-0-*` stages as they are (field mapping transform, logs, metrics; only the
/// ingest is stdin instead of the agents' gRPC) and the receiver gets both, with
/// OpenTelemetry's field names.
#[test]
fn a_flowcollector_opentelemetry_exporter_reaches_the_receiver_through_the_binary() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (port, received) = grpc_receiver(&runtime, None);
    let params = common::exporters::rendered_stages(
        serde_json::json!([{
            "type": "OpenTelemetry",
            "openTelemetry": {"targetHost": "127.0.0.1", "targetPort": port, "protocol": "grpc",
                              "headers": {"x-tenant": "m"}, "metrics": {"pushTimeInterval": "1s"}},
        }]),
        "otel-export-0",
    );
    assert_eq!(params.len(), 3, "transform, logs, metrics: {params:?}");
    let mut parameters = vec![serde_json::json!({"name": "in", "ingest": {"type": "stdin"}})];
    parameters.extend(params);
    let config = serde_json::json!({
        "pipeline": [
            {"name": "in"},
            {"name": "otel-export-0-transform", "follows": "in"},
            {"name": "otel-export-0-logs", "follows": "otel-export-0-transform"},
            {"name": "otel-export-0-metrics", "follows": "otel-export-0-transform"},
        ],
        "parameters": parameters,
    });
    let stderr = common::exporters::Run::start(&config, &flows(), "otlp-e2e").finish();
    let logs = received.logs.lock().unwrap();
    assert_eq!(logs.len(), 1, "one batch of logs");
    let records = &logs[0].0.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(records.len(), 2);
    let a = &records[0].attributes;
    assert_eq!(
        attr(a, "source.address"),
        Some(&string("10.128.0.7")),
        "{a:?}"
    );
    assert_eq!(attr(a, "destination.port"), Some(&Any::IntValue(8080)));
    assert_eq!(attr(a, "source.k8s.namespace.name"), Some(&string("shop")));
    assert_eq!(attr(a, "SrcAddr"), None, "the mapping replaces the keys");
    drop(logs);
    let metrics = received.metrics.lock().unwrap();
    assert!(!metrics.is_empty(), "the last push at exit: {stderr}");
    let (req, tenant) = metrics.last().unwrap();
    assert_eq!(tenant.as_deref(), Some("m"));
    let names: Vec<&str> = req.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("netobserv_")),
        "{names:?}"
    );
    assert!(!names.is_empty());
    assert!(stderr.contains("dropped by exporters"), "{stderr}");
}
