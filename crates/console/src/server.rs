//! Serving: the API on `server.port` over HTTP, or TLS when `certPath` / `keyPath` are set, and
//! `/metrics` (request counts by route and status) on `server.metricsPort`.

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route pattern.
    pub route: String,
    /// HTTP status.
    pub code: u16,
}

/// The backend's own metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    requests: Family<RequestLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("netobserv_console");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "API requests by route and status",
            requests.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            requests,
        }
    }
}

impl Metrics {
    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// Counts one request (middleware).
    pub async fn count(self, req: Request, next: Next) -> Response {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
        let resp = next.run(req).await;
        self.requests
            .get_or_create(&RequestLabels {
                route,
                code: resp.status().as_u16(),
            })
            .inc();
        resp
    }
}

/// The metrics router.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move { m.encode() }
        }),
    )
}

/// CORS answers when `server.corsOrigin` is set: preflight `OPTIONS` requests get 204 with
/// the allowed origin, methods, headers and max age; other answers carry the allowed origin.
#[derive(Clone, Debug, Default)]
pub struct Cors {
    origin: Option<String>,
    methods: String,
    headers: String,
    max_age: Option<String>,
}

impl Cors {
    /// From the `server` section.
    pub fn new(server: &crate::config::Server) -> Self {
        Self {
            origin: server.cors_origin.clone().filter(|o| !o.is_empty()),
            methods: server
                .cors_methods
                .clone()
                .unwrap_or_else(|| "GET, OPTIONS".into()),
            headers: server
                .cors_headers
                .clone()
                .unwrap_or_else(|| "Authorization, Content-Type".into()),
            max_age: server.cors_max_age.clone(),
        }
    }

    /// The middleware.
    pub async fn apply(self, req: Request, next: Next) -> Response {
        use axum::http::{HeaderValue, Method, StatusCode, header};
        use axum::response::IntoResponse;
        let Some(origin) = self
            .origin
            .as_deref()
            .and_then(|o| HeaderValue::from_str(o).ok())
        else {
            return next.run(req).await;
        };
        let mut resp = if req.method() == Method::OPTIONS {
            StatusCode::NO_CONTENT.into_response()
        } else {
            next.run(req).await
        };
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Ok(v) = HeaderValue::from_str(&self.methods) {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.headers) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(v) = self
            .max_age
            .as_deref()
            .and_then(|m| HeaderValue::from_str(m).ok())
        {
            h.insert(header::ACCESS_CONTROL_MAX_AGE, v);
        }
        resp
    }
}

/// Why serving cannot start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ServeError(pub String);

/// A TLS configuration from PEM files.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| ServeError(format!("cannot read {}: {e}", p.display())))
    };
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| ServeError(format!("certificate {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError(format!(
            "certificate {}: no PEM certificate in it",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| ServeError(format!("key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError(format!("certificate and key do not form a pair: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on `listener`, over TLS when `tls` is given, until the process stops.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<()> {
    let Some(tls) = tls else {
        return axum::serve(listener, router).await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let stream = match acceptor.accept(stream).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(router);
            if let Err(e) =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
