//! OpenTelemetry exporters: `otlplogs` (each flow as a log record) and `otlpmetrics` (the
//! `prom` metric definitions pushed as OTLP metrics), over gRPC or HTTP (protobuf), with the
//! FlowCollector's headers and TLS.
//!
//! As the other exporters, sending never happens on the pipeline worker: requests are built
//! there and handed to a background task through a bounded queue; what the queue cannot take,
//! and what the receiver refuses or never gets, is dropped and counted (the
//! `netobserv_exporter_*` metrics), so a slow or absent receiver costs the Loki and metrics
//! branches nothing.

pub mod attributes;
pub mod logs;
pub mod metrics;

use crate::config::{ClientConfig, OtlpConnection, OtlpProtocol, TlsConfig};
use crate::stage::BuildError;
use crate::write::DeliveryStats;
use crate::write::background::{BackgroundSender, Counted};
use crate::write::loki_http::HttpSettings;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Requests queued per exporter stage before new ones are dropped (and counted).
pub const QUEUE_REQUESTS: usize = 256;
/// How long one export may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// One export: the request and how many records (or data points) it carries.
pub enum Export {
    /// Log records.
    Logs(ExportLogsServiceRequest, u64),
    /// Metric data points.
    Metrics(ExportMetricsServiceRequest, u64),
}

/// Where and how to send, checked.
#[derive(Clone)]
pub struct Target {
    /// `http://host:port` or `https://host:port`.
    pub base: String,
    /// gRPC or HTTP.
    pub protocol: OtlpProtocol,
    /// Headers of every request (names lower-cased).
    pub headers: Vec<(String, String)>,
    /// TLS settings (used for `https`).
    pub http: Arc<HttpSettings>,
}

impl Target {
    /// From the stage's connection parameters.
    pub fn from_params(c: &OtlpConnection) -> Result<Self, BuildError> {
        if c.address.is_empty() || c.port == 0 {
            return Err(BuildError::Invalid(
                "otlp: address and port are required".into(),
            ));
        }
        let tls = c.tls.as_ref();
        let client_config = ClientConfig {
            tls_config: tls.map(|t| TlsConfig {
                ca_file: non_empty(&t.ca_cert_path),
                cert_file: non_empty(&t.user_cert_path),
                key_file: non_empty(&t.user_key_path),
                insecure_skip_verify: t.insecure_skip_verify,
                ..TlsConfig::default()
            }),
            ..ClientConfig::default()
        };
        let http = HttpSettings::new(Some(&client_config))
            .map_err(|e| BuildError::Invalid(format!("otlp tls: {e}")))?;
        let host = if c.address.contains(':') && !c.address.starts_with('[') {
            format!("[{}]", c.address)
        } else {
            c.address.clone()
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
            let name = k.to_ascii_lowercase();
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(v).is_err()
            {
                return Err(BuildError::Invalid(format!(
                    "otlp: header `{k}` is not a valid HTTP header"
                )));
            }
            headers.push((name, v.clone()));
        }
        Ok(Self {
            base: format!("{scheme}://{host}:{}", c.port),
            protocol: c.connection_type,
            headers,
            http: Arc::new(http),
        })
    }
}

/// Now, in nanoseconds since the Unix epoch (OTLP's time unit).
fn now_nanos() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    )
    .unwrap_or(u64::MAX)
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The queue into one exporter's sending task.
pub struct Sender(BackgroundSender<Export>);

impl Counted for Export {
    fn items(&self) -> u64 {
        match self {
            Export::Logs(_, n) | Export::Metrics(_, n) => *n,
        }
    }
}

impl Sender {
    /// Starts the task on `runtime`.
    pub fn start(target: Target, runtime: &tokio::runtime::Handle) -> Self {
        Self(BackgroundSender::start(
            "otlp",
            QUEUE_REQUESTS,
            runtime,
            move |rx, stats| run(target, rx, stats),
        ))
    }

    /// Queues an export, or counts its items as dropped when the queue is full.
    pub fn send(&self, export: Export) {
        self.0.send(export);
    }

    /// The delivery counters.
    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.0.stats()
    }
}

type HttpsConnector = hyper_rustls::HttpsConnector<HttpConnector>;

fn connector(target: &Target, h2: bool) -> HttpsConnector {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*target.http.tls).clone())
        .https_or_http();
    if h2 {
        builder.enable_http2().build()
    } else {
        builder.enable_http1().build()
    }
}

/// Sends queued exports until the stage goes, counting outcomes.
async fn run(target: Target, mut rx: mpsc::Receiver<Export>, stats: Arc<DeliveryStats>) {
    let mut client = Transport::new(&target);
    while let Some(export) = rx.recv().await {
        let n = export.items();
        let result = match &mut client {
            Ok(c) => tokio::time::timeout(TIMEOUT, c.send(&target, export))
                .await
                .unwrap_or_else(|_| Err("timed out".to_string())),
            Err(e) => Err(e.clone()),
        };
        match result {
            Ok(()) => {
                stats.written.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => {
                tracing::warn!(%err, target = %target.base, "OTLP export failed");
                stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                stats.dropped_after_retries.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

/// A connection to the receiver, gRPC or HTTP.
enum Transport {
    Grpc {
        logs: LogsServiceClient<tonic::transport::Channel>,
        metrics: MetricsServiceClient<tonic::transport::Channel>,
    },
    Http(Client<HttpsConnector, Full<Bytes>>),
}

impl Transport {
    fn new(target: &Target) -> Result<Self, String> {
        match target.protocol {
            OtlpProtocol::Grpc => {
                // tonic refuses `https` endpoints unless it does TLS itself; ours is in the
                // connector (the same rustls settings as the HTTP transport), so tonic gets the
                // `http` form and the connector is told the real scheme.
                let tls = target.base.starts_with("https://");
                let plain = target.base.replacen("https://", "http://", 1);
                let inner = connector(target, true);
                let connect = tower::service_fn(move |uri: http::Uri| {
                    let uri = if tls { with_scheme(uri, "https") } else { uri };
                    tower::ServiceExt::oneshot(inner.clone(), uri)
                });
                let channel = tonic::transport::Endpoint::from_shared(plain)
                    .map_err(|e| format!("endpoint {}: {e}", target.base))?
                    .connect_timeout(TIMEOUT)
                    .connect_with_connector_lazy(connect);
                Ok(Transport::Grpc {
                    logs: LogsServiceClient::new(channel.clone()),
                    metrics: MetricsServiceClient::new(channel),
                })
            }
            OtlpProtocol::Http => Ok(Transport::Http(
                Client::builder(TokioExecutor::new()).build(connector(target, false)),
            )),
        }
    }

    async fn send(&mut self, target: &Target, export: Export) -> Result<(), String> {
        match self {
            Transport::Grpc { logs, metrics } => match export {
                Export::Logs(req, _) => logs
                    .export(with_headers(req, &target.headers))
                    .await
                    .map(|_| ())
                    .map_err(|s| format!("{}: {}", s.code(), s.message())),
                Export::Metrics(req, _) => metrics
                    .export(with_headers(req, &target.headers))
                    .await
                    .map(|_| ())
                    .map_err(|s| format!("{}: {}", s.code(), s.message())),
            },
            Transport::Http(client) => {
                let (path, body) = match export {
                    Export::Logs(req, _) => ("/v1/logs", req.encode_to_vec()),
                    Export::Metrics(req, _) => ("/v1/metrics", req.encode_to_vec()),
                };
                post(client, target, path, body).await
            }
        }
    }
}

/// `uri` with another scheme (same authority and path).
fn with_scheme(uri: http::Uri, scheme: &str) -> http::Uri {
    let mut parts = uri.into_parts();
    parts.scheme = scheme.parse().ok();
    http::Uri::from_parts(parts).unwrap_or_default()
}

fn with_headers<T>(message: T, headers: &[(String, String)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (k, v) in headers {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
            tonic::metadata::MetadataValue::try_from(v.as_str()),
        ) {
            request.metadata_mut().insert(key, value);
        }
    }
    request
}

/// OTLP/HTTP: a protobuf body POSTed to `/v1/logs` or `/v1/metrics`.
async fn post(
    client: &Client<HttpsConnector, Full<Bytes>>,
    target: &Target,
    path: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    let mut request = hyper::Request::post(format!("{}{path}", target.base))
        .header("content-type", "application/x-protobuf");
    for (k, v) in &target.headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let _ = response.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}
