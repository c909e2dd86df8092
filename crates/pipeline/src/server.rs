//! The HTTP endpoint Prometheus scrapes: `/metrics` renders every `prom` encoder of the pipeline
//! plus the pipeline's own counters; `/healthz` answers while the process runs.

use crate::encode::PromEncoder;
use axum::Router;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Renders the pipeline's operational counters (prefixed like upstream's).
pub type OperationalMetrics = Arc<dyn Fn() -> String + Send + Sync>;

/// What `/metrics` serves.
#[derive(Clone)]
pub struct MetricsState {
    /// The encoders whose series are exposed.
    pub encoders: Vec<Arc<Mutex<PromEncoder>>>,
    /// Extra text appended (operational metrics).
    pub operational: Option<OperationalMetrics>,
}

impl MetricsState {
    /// The full exposition text; expired series are dropped first.
    pub fn render(&self) -> String {
        let now = Instant::now();
        let mut text = String::new();
        for encoder in &self.encoders {
            if let Ok(mut encoder) = encoder.lock() {
                encoder.expire(now);
                text.push_str(&encoder.render());
            }
        }
        if let Some(operational) = &self.operational {
            text.push_str(&operational());
        }
        text
    }
}

/// A running metrics server.
pub struct MetricsServer {
    /// The bound address.
    pub local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` and serves `/metrics` and `/healthz`.
    pub async fn start(addr: SocketAddr, state: MetricsState) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let app = Router::new()
            .route(
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
            .route("/healthz", get(|| async { "ok" }));
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "metrics server stopped");
            }
        });
        Ok(Self { local_addr, task })
    }

    /// Stops the server.
    pub fn stop(self) {
        self.task.abort();
    }
}
