//! gRPC ingest: the `pbflow.Collector/Send` service the agents push to.
//!
//! Back-pressure, not loss: each call's flows are decoded and handed to the pipeline's worker
//! queues ([`Shards`]), which are bounded. When they are full (the pipeline is slower than the
//! agents, or still waiting for the API server), the call **waits** for room, so the agent's
//! exporter slows down and the agent buffers and counts its own drops, as with upstream. The wait
//! has a deadline: the server's (`queue_wait`) or, when shorter, the caller's own `grpc-timeout`
//! minus a margin, so that the caller gets a clear `RESOURCE_EXHAUSTED` it can retry rather than
//! a `DEADLINE_EXCEEDED` for a batch that may have been queued. A refused call queues nothing (room
//! is reserved on every worker queue before any flow is handed over) and is counted, as are the
//! calls refused before the handler runs (malformed batches): see [`GrpcStats`].

use crate::config::Ingest;
use crate::shard::{Batch, Shards};
use crate::shutdown::Shutdown;
use crate::stage::{BuildError, StageContext, section};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::{Request, Response, Status};

/// How long a call may wait for room in the worker queues when the caller sets no shorter
/// deadline. Long on purpose: waiting is what slows the agents down instead of losing flows.
pub const DEFAULT_QUEUE_WAIT: Duration = Duration::from_secs(30);

/// Counters of the gRPC ingest, read by the operational metrics and tests.
#[derive(Debug, Default)]
pub struct GrpcStats {
    /// Calls accepted.
    pub batches: AtomicU64,
    /// Flows decoded and queued.
    pub flows: AtomicU64,
    /// Flows refused because the queues stayed full until the deadline (the agent is told).
    pub refused_flows: AtomicU64,
    /// Calls refused because the queues stayed full until the deadline.
    pub refused_batches: AtomicU64,
    /// Calls that had to wait for room in the queues (back-pressure applied).
    pub waited_batches: AtomicU64,
    /// Total time calls spent waiting for room, in microseconds.
    pub wait_us: AtomicU64,
    /// Failed calls by gRPC status code name (malformed batches, refusals, shutdown...).
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl GrpcStats {
    /// Failed calls by gRPC status code name.
    pub fn errors(&self) -> BTreeMap<&'static str, u64> {
        self.errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn count_error(&self, code: tonic::Code) {
        self.count_named(code_name(code));
    }

    /// Counts one failure under `name` (a gRPC status code name, or one of the Kafka ingest's
    /// [`KAFKA_DECODE`], [`KAFKA_BROKER`], [`KAFKA_COMMIT`]).
    pub fn count_named(&self, name: &'static str) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        *errors.entry(name).or_default() += 1;
    }
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "Canceled",
        C::Unknown => "Unknown",
        C::InvalidArgument => "InvalidArgument",
        C::DeadlineExceeded => "DeadlineExceeded",
        C::NotFound => "NotFound",
        C::AlreadyExists => "AlreadyExists",
        C::PermissionDenied => "PermissionDenied",
        C::ResourceExhausted => "ResourceExhausted",
        C::FailedPrecondition => "FailedPrecondition",
        C::Aborted => "Aborted",
        C::OutOfRange => "OutOfRange",
        C::Unimplemented => "Unimplemented",
        C::Internal => "Internal",
        C::Unavailable => "Unavailable",
        C::DataLoss => "DataLoss",
        C::Unauthenticated => "Unauthenticated",
    }
}

/// A Kafka message that does not decode (skipped).
pub const KAFKA_DECODE: &str = "KafkaDecode";
/// A poll or connection to the brokers that failed.
pub const KAFKA_BROKER: &str = "KafkaBroker";
/// An offset commit that failed (retried).
pub const KAFKA_COMMIT: &str = "KafkaCommit";

/// What kind of failure a status code means here (the `type` label of `ingest_errors`).
pub fn error_type(code: &str) -> &'static str {
    match code {
        "ResourceExhausted" => "queue_full",
        "Unavailable" => "shutting_down",
        // tonic answers a body that is not a `pbflow.Records` with Internal.
        "Internal" | "InvalidArgument" | KAFKA_DECODE => "decode",
        KAFKA_BROKER => "broker",
        KAFKA_COMMIT => "commit",
        "Canceled" | "DeadlineExceeded" => "deadline",
        "Unimplemented" => "unknown_method",
        _ => "other",
    }
}

/// The caller's deadline from its `grpc-timeout` header (`<digits><unit>`, gRPC over HTTP/2).
fn caller_timeout(metadata: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// How long a call may wait: the server's limit, or 90 % of the caller's deadline when shorter.
fn wait_limit(server: Duration, caller: Option<Duration>) -> Duration {
    match caller {
        Some(c) => server.min(c.mul_f64(0.9)),
        None => server,
    }
}

struct Collector {
    shards: Shards,
    stats: Arc<GrpcStats>,
    queue_wait: Duration,
}

#[tonic::async_trait]
impl pbflow::collector_server::Collector for Collector {
    async fn send(
        &self,
        request: Request<pbflow::Records>,
    ) -> Result<Response<pbflow::CollectorReply>, Status> {
        let limit = wait_limit(self.queue_wait, caller_timeout(request.metadata()));
        let records = request.into_inner();
        let received = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let n = records.entries.len() as u64;
        // Held as they arrived; the workers decode them.
        let batches = self.shards.split_flows(records.entries, received);
        let started = Instant::now();
        match self.shards.send(batches, started + limit).await {
            Ok(waited) => {
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats.flows.fetch_add(n, Ordering::Relaxed);
                if waited {
                    self.stats.waited_batches.fetch_add(1, Ordering::Relaxed);
                    self.stats.wait_us.fetch_add(
                        started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64,
                        Ordering::Relaxed,
                    );
                }
                Ok(Response::new(pbflow::CollectorReply {}))
            }
            Err(crate::shard::SendError::Closed) => {
                Err(Status::unavailable("the pipeline is shutting down"))
            }
            Err(crate::shard::SendError::Deadline) => {
                self.stats.refused_flows.fetch_add(n, Ordering::Relaxed);
                self.stats.refused_batches.fetch_add(1, Ordering::Relaxed);
                self.stats.wait_us.fetch_add(
                    started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64,
                    Ordering::Relaxed,
                );
                Err(Status::resource_exhausted(format!(
                    "the pipeline queues stayed full for {limit:?}; nothing of this batch was \
                     queued, retry it later"
                )))
            }
        }
    }
}

/// Counts every call answered with a non-OK status, including those tonic refuses before the
/// handler runs (a body that does not decode as `pbflow.Records`): they answer with the status
/// in the response headers ("trailers-only"), which is where this layer reads it.
#[derive(Clone)]
struct CountErrors<S> {
    inner: S,
    stats: Arc<GrpcStats>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for CountErrors<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let stats = self.stats.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            if let Some(code) = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .filter(|c| *c != 0)
            {
                stats.count_error(tonic::Code::from_i32(code));
            }
            Ok(response)
        })
    }
}

#[derive(Clone)]
struct CountErrorsLayer(Arc<GrpcStats>);

impl<S> tower::Layer<S> for CountErrorsLayer {
    type Service = CountErrors<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CountErrors {
            inner,
            stats: self.0.clone(),
        }
    }
}

/// TLS of the gRPC ingest (upstream `certPath` / `keyPath` / `clientCAPath`): the agents verify
/// the server certificate; with a client CA they must also present a certificate (mTLS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrpcTls {
    /// PEM certificate chain of the server.
    pub cert_path: String,
    /// PEM private key of the server.
    pub key_path: String,
    /// PEM CA that client certificates must chain to; empty means no client certificate needed.
    pub client_ca_path: String,
}

impl GrpcTls {
    fn server_config(&self) -> std::io::Result<tonic::transport::ServerTlsConfig> {
        let read = |path: &str| {
            std::fs::read(path).map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}")))
        };
        let identity =
            tonic::transport::Identity::from_pem(read(&self.cert_path)?, read(&self.key_path)?);
        let mut config = tonic::transport::ServerTlsConfig::new().identity(identity);
        if !self.client_ca_path.is_empty() {
            config = config.client_ca_root(tonic::transport::Certificate::from_pem(read(
                &self.client_ca_path,
            )?));
        }
        Ok(config)
    }
}

/// A running gRPC ingest.
pub struct GrpcIngest {
    /// The bound address (useful with port 0).
    pub local_addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<GrpcStats>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl GrpcIngest {
    /// Binds `addr` and serves the collector, queueing batches into `queue` (one worker;
    /// [`Batch::into_records`] decodes them). `queue_wait` is how long a call may wait for room
    /// before it is refused.
    pub async fn start(
        addr: SocketAddr,
        queue: tokio::sync::mpsc::Sender<Batch>,
        queue_wait: Duration,
    ) -> std::io::Result<Self> {
        Self::start_sharded(addr, Shards::single(queue), queue_wait, None).await
    }

    /// [`Self::start`] with TLS (and mTLS when a client CA is given).
    pub async fn start_with_tls(
        addr: SocketAddr,
        queue: tokio::sync::mpsc::Sender<Batch>,
        queue_wait: Duration,
        tls: Option<&GrpcTls>,
    ) -> std::io::Result<Self> {
        Self::start_sharded(addr, Shards::single(queue), queue_wait, tls).await
    }

    /// Binds `addr` and serves the collector, spreading each call's flows over `shards`.
    pub async fn start_sharded(
        addr: SocketAddr,
        shards: Shards,
        queue_wait: Duration,
        tls: Option<&GrpcTls>,
    ) -> std::io::Result<Self> {
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder
                .tls_config(tls.server_config()?)
                .map_err(|e| std::io::Error::other(format!("gRPC TLS: {e}")))?;
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let stats = Arc::new(GrpcStats::default());
        let service = pbflow::collector_server::CollectorServer::new(Collector {
            shards,
            stats: stats.clone(),
            queue_wait,
        })
        // Agents send up to 10k flows per call; allow large batches.
        .max_decoding_message_size(64 * 1024 * 1024);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let mut builder = builder.layer(CountErrorsLayer(stats.clone()));
        let task = tokio::spawn(async move {
            builder
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Self {
            local_addr,
            stats,
            shutdown: Some(tx),
            task,
        })
    }

    /// Stops accepting calls and waits for the server to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(%err, "gRPC ingest stopped with an error"),
            Err(err) => tracing::warn!(%err, "gRPC ingest task failed"),
        }
    }
}

/// A `grpc` ingest, built and not started yet.
pub struct GrpcIngester {
    addr: SocketAddr,
    tls: Option<GrpcTls>,
    buffer: usize,
}

/// Builder of `grpc`.
pub fn build(
    ingest: &Ingest,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn super::Ingester>, BuildError> {
    let g = section(ingest.grpc.as_ref(), "grpc")?;
    let port = g.port.ok_or_else(|| {
        BuildError::Invalid("grpc ingest needs `grpc.port` (0 picks a free port)".into())
    })?;
    let addr = crate::settings::parse_listen("grpc.address", &format!("{}:{port}", g.address))
        .map_err(|e| BuildError::Invalid(e.to_string()))?;
    let tls = match (g.cert_path.as_str(), g.key_path.as_str()) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err(BuildError::Invalid(
                "grpc ingest TLS needs both `certPath` and `keyPath`".into(),
            ));
        }
        (cert, key) => Some(GrpcTls {
            cert_path: cert.to_string(),
            key_path: key.to_string(),
            client_ca_path: g.client_ca_path.clone(),
        }),
    };
    Ok(Box::new(GrpcIngester {
        addr,
        tls,
        buffer: g.buffer_length.unwrap_or(100).max(1),
    }))
}

impl super::Ingester for GrpcIngester {
    fn queue_batches(&self) -> usize {
        self.buffer
    }

    fn start(
        self: Box<Self>,
        shards: Shards,
    ) -> BoxFuture<'static, Result<Box<dyn super::RunningIngest>, BuildError>> {
        async move {
            let workers = shards.len();
            let ingest =
                GrpcIngest::start_sharded(self.addr, shards, DEFAULT_QUEUE_WAIT, self.tls.as_ref())
                    .await
                    .map_err(|e| {
                        BuildError::Invalid(format!("cannot listen on {}: {e}", self.addr))
                    })?;
            tracing::info!(
                "gRPC ingest listening on {}, {workers} worker(s), TLS {}",
                ingest.local_addr,
                if self.tls.is_some() { "on" } else { "off" }
            );
            Ok(Box::new(ingest) as Box<dyn super::RunningIngest>)
        }
        .boxed()
    }
}

impl super::RunningIngest for GrpcIngest {
    fn stats(&self) -> Arc<GrpcStats> {
        self.stats.clone()
    }

    fn finish(
        self: Box<Self>,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<Option<super::LineStats>, String>> {
        async move {
            shutdown.wait().await;
            self.stop().await;
            Ok(None)
        }
        .boxed()
    }

    fn abort(self: Box<Self>) -> BoxFuture<'static, ()> {
        self.stop().boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_header() {
        let mut m = tonic::metadata::MetadataMap::new();
        assert_eq!(caller_timeout(&m), None);
        m.insert("grpc-timeout", "10S".parse().expect("value"));
        assert_eq!(caller_timeout(&m), Some(Duration::from_secs(10)));
        m.insert("grpc-timeout", "250m".parse().expect("value"));
        assert_eq!(caller_timeout(&m), Some(Duration::from_millis(250)));
        m.insert("grpc-timeout", "x".parse().expect("value"));
        assert_eq!(caller_timeout(&m), None);
        assert_eq!(
            wait_limit(Duration::from_secs(30), Some(Duration::from_secs(10))),
            Duration::from_secs(9)
        );
        assert_eq!(
            wait_limit(Duration::from_secs(30), None),
            Duration::from_secs(30)
        );
    }
}
