//! The pipeline's HTTP endpoints.
//!
//! * Metrics (`metricsSettings`): `/metrics` renders every `prom` encoder plus the operational
//!   counters, over HTTP or HTTPS (`metricsSettings.tls`). What it renders can be added after the
//!   server started, because the server comes up before the stage graph is complete (the graph
//!   may wait for the API server, and Prometheus should see the pipeline meanwhile).
//! * Health (`health`, `--health.*`): `/live` answers while the process runs; `/ready` answers
//!   200 only once the pipeline processes flows (dynamic stages read, Kubernetes caches synced),
//!   503 with the reason before. These are the paths the operator's probes use; `/healthz` and
//!   `/readyz` are aliases.

use crate::encode::PromEncoder;
use crate::settings::TlsFiles;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// Renders part of the exposition text (operational metrics, or encoders).
pub type OperationalMetrics = Arc<dyn Fn() -> String + Send + Sync>;

/// What `/metrics` serves; cheap to clone, shared with whoever adds sources later.
#[derive(Clone, Default)]
pub struct MetricsState {
    sources: Arc<RwLock<Vec<OperationalMetrics>>>,
}

impl MetricsState {
    /// Adds a source of exposition text.
    pub fn add(&self, source: OperationalMetrics) {
        if let Ok(mut sources) = self.sources.write() {
            sources.push(source);
        }
    }

    /// Adds `prom` encoders; expired series are dropped before each rendering.
    pub fn add_encoders(&self, encoders: Vec<Arc<Mutex<PromEncoder>>>) {
        self.add(Arc::new(move || {
            let now = Instant::now();
            let mut text = String::new();
            for encoder in &encoders {
                if let Ok(mut encoder) = encoder.lock() {
                    encoder.expire(now);
                    text.push_str(&encoder.render());
                }
            }
            text
        }));
    }

    /// The full exposition text.
    pub fn render(&self) -> String {
        let sources = match self.sources.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let mut text = String::new();
        for source in sources {
            text.push_str(&source());
        }
        text
    }
}

/// Liveness and readiness, as the health endpoint reports them.
#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    reason: Mutex<String>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            ready: AtomicBool::new(false),
            reason: Mutex::new("starting".into()),
        }
    }
}

impl Health {
    /// Whether `/ready` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Not ready, because of `reason` (shown by `/ready`).
    pub fn not_ready(&self, reason: impl Into<String>) {
        if let Ok(mut r) = self.reason.lock() {
            *r = reason.into();
        }
        self.ready.store(false, Ordering::Release);
    }

    /// Ready.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    fn reason(&self) -> String {
        self.reason
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

/// Why a server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS files are unusable.
    #[error("TLS: {0}")]
    Tls(String),
}

/// A running HTTP(S) server.
pub struct Server {
    /// The bound address (useful with port 0).
    pub local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops the server.
    pub fn stop(self) {
        self.task.abort();
    }
}

fn health_routes(health: Arc<Health>) -> Router {
    let ready = move || {
        let health = health.clone();
        async move {
            if health.is_ready() {
                (StatusCode::OK, "ok".to_string())
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {}", health.reason()),
                )
            }
        }
    };
    Router::new()
        .route("/live", get(|| async { "ok" }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/ready", get(ready.clone()))
        .route("/readyz", get(ready))
}

fn metrics_routes(state: MetricsState) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let state = state.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    state.render(),
                )
            }
        }),
    )
}

/// Serves `/metrics` on `addr` (HTTPS when `tls` is given); also `/live` and `/ready` so that
/// a single port can serve both when the health server is off.
pub async fn start_metrics(
    addr: SocketAddr,
    tls: Option<&TlsFiles>,
    state: MetricsState,
    health: Arc<Health>,
) -> Result<Server, ServeError> {
    start(
        addr,
        tls,
        metrics_routes(state).merge(health_routes(health)),
    )
    .await
}

/// Serves `/live`, `/ready` (and `/healthz`, `/readyz`) on `addr`.
pub async fn start_health(addr: SocketAddr, health: Arc<Health>) -> Result<Server, ServeError> {
    start(addr, None, health_routes(health)).await
}

/// Serves `/metrics` only (a `prom` encoder with its own `port`).
pub async fn start_encoder(
    addr: SocketAddr,
    tls: Option<&TlsFiles>,
    state: MetricsState,
) -> Result<Server, ServeError> {
    start(addr, tls, metrics_routes(state)).await
}

async fn start(
    addr: SocketAddr,
    tls: Option<&TlsFiles>,
    app: Router,
) -> Result<Server, ServeError> {
    let acceptor = tls.map(tls_acceptor).transpose()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let task = match acceptor {
        None => tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, %local_addr, "HTTP server stopped");
            }
        }),
        Some(acceptor) => tokio::spawn(serve_tls(listener, acceptor, app)),
    };
    Ok(Server { local_addr, task })
}

/// Accepts TLS connections and serves `app` on each (HTTP/1.1).
async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Router,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(err) => {
                tracing::warn!(%err, "metrics server: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(s) => s,
                Err(err) => {
                    tracing::debug!(%err, %peer, "metrics server: TLS handshake failed");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let io = hyper_util::rt::TokioIo::new(tls);
            if let Err(err) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(%err, %peer, "metrics server: connection ended with an error");
            }
        });
    }
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert_path)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", files.cert_path)))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "{}: no certificate",
            files.cert_path
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_path)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", files.key_path)))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
