//! gRPC ingest: the `pbflow.Collector/Send` service the agents push to.
//!
//! Each call's records are decoded and handed to the pipeline as one batch through a bounded
//! queue. When the queue stays full (the pipeline is slower than the agents), the call fails with
//! `RESOURCE_EXHAUSTED` after a short wait instead of buffering without bound: the agent keeps the
//! batch and retries, and the refusal is counted here, so nothing is lost silently.

use crate::decode::record_from_pbflow;
use crate::record::Record;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

/// Counters of the gRPC ingest, read by the operational metrics and tests.
#[derive(Debug, Default)]
pub struct GrpcStats {
    /// Calls received.
    pub batches: AtomicU64,
    /// Flows decoded and queued.
    pub flows: AtomicU64,
    /// Flows refused because the queue stayed full (the agent is told and retries).
    pub refused_flows: AtomicU64,
}

struct Collector {
    queue: mpsc::Sender<Vec<Record>>,
    stats: Arc<GrpcStats>,
    queue_wait: Duration,
}

#[tonic::async_trait]
impl pbflow::collector_server::Collector for Collector {
    async fn send(
        &self,
        request: Request<pbflow::Records>,
    ) -> Result<Response<pbflow::CollectorReply>, Status> {
        let records = request.into_inner();
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let received = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let batch: Vec<Record> = records
            .entries
            .iter()
            .map(|flow| record_from_pbflow(flow, received))
            .collect();
        let n = batch.len() as u64;
        match tokio::time::timeout(self.queue_wait, self.queue.send(batch)).await {
            Ok(Ok(())) => {
                self.stats.flows.fetch_add(n, Ordering::Relaxed);
                Ok(Response::new(pbflow::CollectorReply {}))
            }
            Ok(Err(_)) => Err(Status::unavailable("the pipeline is shutting down")),
            Err(_) => {
                self.stats.refused_flows.fetch_add(n, Ordering::Relaxed);
                Err(Status::resource_exhausted(
                    "the pipeline queue is full; retry this batch later",
                ))
            }
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
    /// Binds `addr` and serves the collector, queueing batches into `queue`. `queue_wait` is how
    /// long a call may wait for room in the queue before it is refused.
    pub async fn start(
        addr: SocketAddr,
        queue: mpsc::Sender<Vec<Record>>,
        queue_wait: Duration,
    ) -> std::io::Result<Self> {
        Self::start_with_tls(addr, queue, queue_wait, None).await
    }

    /// [`Self::start`] with TLS (and mTLS when a client CA is given).
    pub async fn start_with_tls(
        addr: SocketAddr,
        queue: mpsc::Sender<Vec<Record>>,
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
            queue,
            stats: stats.clone(),
            queue_wait,
        })
        // Agents send up to 10k flows per call; allow large batches.
        .max_decoding_message_size(64 * 1024 * 1024);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
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
