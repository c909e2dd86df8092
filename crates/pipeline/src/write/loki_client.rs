//! The Loki writer's sending side: a background task that batches records with [`LokiEncoder`]
//! and pushes them, retrying with backoff on 429 / 5xx / connection errors.
//!
//! Records reach the task through a bounded buffer. When Loki is down longer than the buffer can
//! absorb, new records are dropped and counted ([`LokiStats::dropped_buffer_full`]); a batch that
//! still fails after `maxRetries` is counted in [`LokiStats::dropped_after_retries`]. The pipeline
//! itself never blocks on Loki.

use super::loki::{LokiEncoder, LokiError, LokiWrite, encode_push};
use super::loki_http::{AuthSource, HttpSettings};
use crate::config::parse_go_duration;
use crate::record::Record;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Counters of the Loki writer.
#[derive(Debug, Default)]
pub struct LokiStats {
    /// Records accepted into the buffer.
    pub queued: AtomicU64,
    /// Records pushed successfully.
    pub written: AtomicU64,
    /// Records dropped because the buffer was full.
    pub dropped_buffer_full: AtomicU64,
    /// Records dropped because their batch failed every retry.
    pub dropped_after_retries: AtomicU64,
    /// Push attempts that failed (each retry counts).
    pub failed_attempts: AtomicU64,
    /// Label values too long to be Loki labels; they stayed in the line.
    pub long_label_values: AtomicU64,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Retry and timing settings of the pushes.
#[derive(Clone, Debug)]
struct Policy {
    timeout: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    max_retries: u32,
}

/// A handle to the running writer: `send` records into it, `close` to flush and stop.
pub struct LokiWriter {
    tx: Option<mpsc::Sender<Record>>,
    stats: Arc<LokiStats>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LokiWriter {
    /// Starts the writer. `buffer` bounds the records waiting to be sent.
    pub fn start(config: &LokiWrite, buffer: usize) -> Result<Self, LokiError> {
        let encoder = LokiEncoder::new(config)?;
        let duration = |field: &str, v: &Option<String>, default: Duration| match v {
            Some(t) => parse_go_duration(t).map_err(|e| LokiError::Config(format!("{field}: {e}"))),
            None => Ok(default),
        };
        let policy = Policy {
            timeout: duration("timeout", &config.timeout, Duration::from_secs(10))?,
            min_backoff: duration("minBackoff", &config.min_backoff, Duration::from_secs(1))?,
            max_backoff: duration("maxBackoff", &config.max_backoff, Duration::from_secs(1))?,
            max_retries: config.max_retries.unwrap_or(10),
        };
        let base = config.url.trim_end_matches('/');
        if base.is_empty() {
            return Err(LokiError::Config("`url` is required".into()));
        }
        let endpoint: hyper::Uri = format!("{base}/loki/api/v1/push")
            .parse()
            .map_err(|e| LokiError::Config(format!("url `{}`: {e}", config.url)))?;
        let tenant = config.tenant_id.clone();
        let http = HttpSettings::from_value(config.client_config.as_ref())
            .map_err(|e| LokiError::Config(e.to_string()))?;
        let connector = connector(&http)?;
        let (tx, rx) = mpsc::channel(buffer.max(1));
        let stats = Arc::new(LokiStats::default());
        let task_stats = stats.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LokiError::Config(format!("cannot start the writer runtime: {e}")))?;
        let thread = std::thread::Builder::new()
            .name("loki-writer".into())
            .spawn(move || {
                runtime.block_on(run(
                    rx,
                    encoder,
                    Target {
                        connector,
                        endpoint,
                        tenant,
                        auth: http.auth,
                    },
                    policy,
                    task_stats,
                ));
            })
            .map_err(|e| LokiError::Config(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            tx: Some(tx),
            stats,
            thread: Some(thread),
        })
    }

    /// Queues a record; drops and counts it when the buffer is full.
    pub fn send(&self, record: Record) {
        let Some(tx) = &self.tx else {
            return;
        };
        match tx.try_send(record) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats
                    .dropped_buffer_full
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The writer's counters.
    pub fn stats(&self) -> Arc<LokiStats> {
        self.stats.clone()
    }

    /// Flushes what is buffered (with retries) and stops.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the Loki writer thread panicked");
        }
    }
}

impl Drop for LokiWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where and how pushes go.
struct Target {
    connector: hyper_rustls::HttpsConnector<HttpConnector>,
    endpoint: hyper::Uri,
    tenant: String,
    auth: AuthSource,
}

fn connector(
    http: &HttpSettings,
) -> Result<hyper_rustls::HttpsConnector<HttpConnector>, LokiError> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*http.tls).clone())
        .https_or_http();
    let builder = match &http.server_name {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.clone()).map_err(|e| {
                LokiError::Config(format!("clientConfig.tls_config.server_name `{name}`: {e}"))
            })?;
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    Ok(builder.enable_http1().build())
}

async fn run(
    mut rx: mpsc::Receiver<Record>,
    mut encoder: LokiEncoder,
    target: Target,
    policy: Policy,
    stats: Arc<LokiStats>,
) {
    let client: HttpsClient = Client::builder(TokioExecutor::new()).build(target.connector.clone());
    let wait = encoder.batch_wait();
    loop {
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        let mut open = true;
        loop {
            tokio::select! {
                record = rx.recv() => match record {
                    Some(record) => {
                        if encoder.add(&record) {
                            break;
                        }
                    }
                    None => {
                        open = false;
                        break;
                    }
                },
                () = &mut deadline => break,
            }
        }
        stats
            .long_label_values
            .store(encoder.long_label_values(), Ordering::Relaxed);
        let pending = encoder.pending() as u64;
        if let Some(request) = encoder.take_request() {
            match encode_push(&request) {
                Ok(body) => {
                    if push(&client, &target, body, &policy, &stats).await {
                        stats.written.fetch_add(pending, Ordering::Relaxed);
                    } else {
                        stats
                            .dropped_after_retries
                            .fetch_add(pending, Ordering::Relaxed);
                    }
                }
                Err(err) => {
                    tracing::error!(%err, "dropping a Loki batch that cannot be encoded");
                    stats
                        .dropped_after_retries
                        .fetch_add(pending, Ordering::Relaxed);
                }
            }
        }
        if !open {
            return;
        }
    }
}

/// One push with retries; true when Loki accepted it.
async fn push(
    client: &HttpsClient,
    target: &Target,
    body: Vec<u8>,
    policy: &Policy,
    stats: &LokiStats,
) -> bool {
    let body = Bytes::from(body);
    let mut backoff = policy.min_backoff;
    for attempt in 0..=policy.max_retries {
        let mut request = hyper::Request::post(target.endpoint.clone())
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy");
        if !target.tenant.is_empty() {
            request = request.header("X-Scope-OrgID", &target.tenant);
        }
        // Read per attempt: a rotated token file is picked up by the next push.
        match target.auth.header() {
            Ok(Some(value)) => request = request.header("Authorization", value),
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, attempt, "cannot read the Loki credentials"),
        }
        let request = match request.body(Full::new(body.clone())) {
            Ok(r) => r,
            Err(err) => {
                tracing::error!(%err, "cannot build the Loki push request");
                return false;
            }
        };
        let outcome = tokio::time::timeout(policy.timeout, client.request(request)).await;
        let retry = match outcome {
            Ok(Ok(response)) => {
                let status = response.status();
                // Read the body so the connection can be reused.
                let _ = response.into_body().collect().await;
                if status.is_success() {
                    return true;
                }
                tracing::warn!(%status, attempt, "Loki refused a push");
                status.as_u16() == 429 || status.is_server_error()
            }
            Ok(Err(err)) => {
                tracing::warn!(%err, attempt, "cannot reach Loki");
                true
            }
            Err(_) => {
                tracing::warn!(attempt, "Loki push timed out");
                true
            }
        };
        stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
        if !retry || attempt == policy.max_retries {
            return false;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(policy.max_backoff);
    }
    false
}
