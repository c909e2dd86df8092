//! The Loki writer's sending side: a background task that batches records with [`LokiEncoder`]
//! and pushes them, retrying with backoff on 429 / 5xx / connection errors.
//!
//! Lines are encoded on the caller's thread (a pipeline worker: the JSON serialisation is most
//! of a writer's cost, and so it is spread over the workers), then reach the task through a
//! bounded buffer, one batch per call. When Loki is down longer than the buffer can absorb, new
//! records are dropped and counted ([`LokiStats::dropped_buffer_full`]); a batch that still fails
//! after `maxRetries` is counted in [`LokiStats::dropped_after_retries`]. The pipeline itself
//! never blocks on Loki, so metrics keep flowing through a Loki outage.

use super::loki::{LokiEncoder, LokiError, LokiWrite, encode_push};
use super::loki_http::{AuthSource, HttpSettings};
use crate::config::{Write, parse_go_duration};
use crate::record::Record;
use crate::stage::{BuildError, StageContext, section};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Counters of the Loki writer.
pub type LokiStats = super::DeliveryStats;

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
    tx: Option<mpsc::UnboundedSender<Vec<Encoded>>>,
    /// Encodes lines on the caller's thread (uncontended: each worker has its own writer).
    lines: std::sync::Mutex<LokiEncoder>,
    /// Entries handed over and not yet taken by the task; bounded by `capacity`.
    buffered: Arc<AtomicUsize>,
    capacity: usize,
    stats: Arc<LokiStats>,
    /// The push task, and the runtime it runs on (to wait for its last push at close).
    task: Option<(tokio::task::JoinHandle<()>, tokio::runtime::Handle)>,
}

/// A stream label set and one entry of it.
type Encoded = (String, super::loki::proto::Entry);

impl LokiWriter {
    /// Starts the writer on the process's runtime (see [`crate::stage::runtime`]). `buffer`
    /// bounds the records waiting to be sent.
    pub fn start(config: &LokiWrite, buffer: usize) -> Result<Self, LokiError> {
        Self::start_on(config, buffer, &crate::stage::runtime())
    }

    /// [`Self::start`] with its push task on `runtime`.
    pub fn start_on(
        config: &LokiWrite,
        buffer: usize,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Self, LokiError> {
        let encoder = LokiEncoder::new(config)?;
        let lines = LokiEncoder::new(config)?;
        let duration = |field: &str, v: &Option<String>, default: Duration| match v {
            Some(t) => parse_go_duration(t).map_err(|e| LokiError::Config(format!("{field}: {e}"))),
            None => Ok(default),
        };
        let policy = Policy {
            timeout: duration("timeout", &config.timeout, Duration::from_secs(10))?,
            min_backoff: duration("minBackoff", &config.min_backoff, Duration::from_secs(1))?,
            max_backoff: duration("maxBackoff", &config.max_backoff, Duration::from_secs(1))?,
            max_retries: match config.max_retries {
                None => 10,
                Some(n) => u32::try_from(n)
                    .map_err(|_| LokiError::Config(format!("maxRetries: {n} is out of range")))?,
            },
        };
        let base = config.url.trim_end_matches('/');
        if base.is_empty() {
            return Err(LokiError::Config("`url` is required".into()));
        }
        let endpoint: hyper::Uri = format!("{base}/loki/api/v1/push")
            .parse()
            .map_err(|e| LokiError::Config(format!("url `{}`: {e}", config.url)))?;
        let tenant = config.tenant_id.clone();
        let http = HttpSettings::new(config.client_config.as_ref())
            .map_err(|e| LokiError::Config(e.to_string()))?;
        let connector = connector(&http)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let buffered = Arc::new(AtomicUsize::new(0));
        let taken = buffered.clone();
        let stats = Arc::new(LokiStats {
            sink: "loki",
            ..LokiStats::default()
        });
        let task_stats = stats.clone();
        let task = runtime.spawn(run(
            rx,
            taken,
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
        Ok(Self {
            tx: Some(tx),
            lines: std::sync::Mutex::new(lines),
            buffered,
            capacity: buffer.max(1),
            stats,
            task: Some((task, runtime.clone())),
        })
    }

    /// Queues a record; drops and counts it when the buffer is full.
    pub fn send(&self, record: Record) {
        self.send_batch(std::slice::from_ref(&record));
    }

    /// Encodes and queues records; when the buffer cannot take them all, the whole batch is
    /// dropped and counted.
    pub fn send_batch(&self, records: &[Record]) {
        let Some(tx) = &self.tx else {
            return;
        };
        if records.is_empty() {
            return;
        }
        let n = records.len();
        if self.buffered.load(Ordering::Acquire) + n > self.capacity {
            self.stats
                .dropped_buffer_full
                .fetch_add(n as u64, Ordering::Relaxed);
            return;
        }
        let now = std::time::SystemTime::now();
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let encoded: Vec<Encoded> = records.iter().map(|r| lines.encode_at(r, now)).collect();
        self.stats
            .long_label_values
            .store(lines.long_label_values(), Ordering::Relaxed);
        drop(lines);
        self.buffered.fetch_add(n, Ordering::AcqRel);
        if tx.send(encoded).is_ok() {
            self.stats.queued.fetch_add(n as u64, Ordering::Relaxed);
        } else {
            self.buffered.fetch_sub(n, Ordering::AcqRel);
            self.stats
                .dropped_buffer_full
                .fetch_add(n as u64, Ordering::Relaxed);
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

    /// Closes the buffer and waits for the task's last push (with its retries). The wait runs
    /// on a short-lived thread outside any async context, so closing works from a worker
    /// thread, a blocking task or an async caller alike.
    fn shutdown(&mut self) {
        self.tx.take();
        if let Some((task, runtime)) = self.task.take() {
            let joined = std::thread::scope(|s| {
                s.spawn(|| runtime.block_on(task))
                    .join()
                    .unwrap_or_else(|_| Ok(()))
            });
            if let Err(err) = joined {
                tracing::error!(%err, "the Loki writer task failed");
            }
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
    mut rx: mpsc::UnboundedReceiver<Vec<Encoded>>,
    buffered: Arc<AtomicUsize>,
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
                batch = rx.recv() => match batch {
                    Some(batch) => {
                        buffered.fetch_sub(batch.len(), Ordering::AcqRel);
                        let mut full = false;
                        for (labels, entry) in batch {
                            full |= encoder.push(labels, entry);
                        }
                        if full {
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

/// Records buffered per Loki writer before new ones are dropped (and counted).
pub const LOKI_BUFFER_RECORDS: usize = 100_000;

/// A Loki writer as a stage of one worker's graph.
struct LokiStage(LokiWriter);

impl super::Writer for LokiStage {
    fn write(&mut self, batch: &[Record]) -> super::Written {
        self.0.send_batch(batch);
        super::Written::default()
    }

    fn delivery(&self) -> Option<Arc<LokiStats>> {
        Some(self.0.stats())
    }
}

/// Builder of `loki`: the push task runs on the graph's runtime.
pub fn build(
    write: &Write,
    ctx: &mut StageContext<'_>,
) -> Result<Box<dyn super::Writer>, BuildError> {
    let config = section(write.loki.as_ref(), "loki")?;
    let writer = LokiWriter::start_on(config, LOKI_BUFFER_RECORDS, ctx.shared.runtime())
        .map_err(|e| BuildError::Invalid(e.to_string()))?;
    Ok(Box::new(LokiStage(writer)))
}
