//! Export: a bounded queue of evicted batches in front of the flows' destination, which is
//! either a `pbflow.Collector/Send` client (`EXPORT=grpc`: batches split to
//! `GRPC_MESSAGE_MAX_FLOWS`, retried with exponential backoff while the collector is
//! unreachable) or the pipeline running in this process (`EXPORT=direct-flp`: records handed
//! over in chunks, waiting while its queues are full) or Kafka (`EXPORT=kafka`, see
//! [`kafka`]: retried while no broker answers, every acknowledgement awaited) or an IPFIX
//! collector (`EXPORT=ipfix+udp|tcp`, see [`ipfix`]). Every flow that has to be dropped (queue
//! full, shutdown, pipeline stopped, not delivered) is counted.

pub mod ipfix;
pub mod kafka;

use crate::convert::FlowBatch;
use crate::metrics::Metrics;
use netobserv_pipeline::ingest::preset::PresetSender;
use pbflow::collector_client::CollectorClient;
use pbflow::{Record, Records};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// One queued unit: ready records, or an eviction converted lazily by the exporter.
pub enum Batch {
    /// Records built by the caller.
    Records(Vec<Record>),
    /// An eviction in kernel form.
    Flows(FlowBatch),
}

impl Batch {
    fn len(&self) -> usize {
        match self {
            Batch::Records(r) => r.len(),
            Batch::Flows(f) => f.len(),
        }
    }

    fn next_chunk(&mut self, max: usize) -> Vec<Record> {
        match self {
            Batch::Records(r) => {
                let rest = r.split_off(r.len().min(max));
                std::mem::replace(r, rest)
            }
            Batch::Flows(f) => f.next_chunk(max),
        }
    }
}

/// Producer side of the export queue.
#[derive(Clone)]
pub struct ExportQueue {
    tx: mpsc::Sender<Batch>,
    metrics: Arc<Metrics>,
}

impl ExportQueue {
    /// Queues a batch; when the queue is full the batch is dropped and counted, never silently.
    /// Returns whether it was queued.
    pub fn push(&self, batch: Vec<Record>) -> bool {
        self.push_batch(Batch::Records(batch))
    }

    /// Queues a batch of either kind (see [`ExportQueue::push`]).
    pub fn push_batch(&self, batch: Batch) -> bool {
        if batch.len() == 0 {
            return true;
        }
        let n = batch.len() as u64;
        match self.tx.try_send(batch) {
            Ok(()) => {
                self.metrics.queue_len.inc();
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics
                    .report_loss(&crate::losses::EXPORT_QUEUE_FULL, n, None, "");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.metrics
                    .report_loss(&crate::losses::EXPORT_CLOSED, n, None, "");
                false
            }
        }
    }
}

/// Where the exporter sends flows.
pub enum Sink {
    /// A collector over gRPC.
    Grpc(CollectorClient<Channel>),
    /// The pipeline embedded in this process (`EXPORT=direct-flp`): no encoding, no network.
    InProcess(PresetSender),
    /// A Kafka topic (`EXPORT=kafka`).
    Kafka(Box<kafka::KafkaSink>),
    /// An IPFIX collector (`EXPORT=ipfix+udp|tcp`).
    Ipfix(Box<ipfix::IpfixSink>),
}

/// Exporter settings.
#[derive(Debug, Clone)]
pub struct ExporterConfig {
    /// `http://host:port` of the collector.
    pub endpoint: String,
    /// Most records per `Send`.
    pub max_flows: usize,
    /// Most batches waiting in the queue.
    pub queue_len: usize,
    /// Per-call deadline.
    pub timeout: Duration,
    /// First retry delay; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// TLS towards the collector; `None` is plaintext.
    pub tls: Option<ExporterTls>,
}

impl ExporterConfig {
    /// Sends over TLS (the endpoint becomes `https://`).
    pub fn with_tls(mut self, tls: ExporterTls) -> Self {
        self.endpoint = self.endpoint.replacen("http://", "https://", 1);
        self.tls = Some(tls);
        self
    }

    /// Settings for `host:port` with the given limits and default timings.
    pub fn new(host: &str, port: u16, max_flows: usize, queue_len: usize) -> Self {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Self {
            endpoint: format!("http://{host}:{port}"),
            tls: None,
            max_flows: max_flows.max(1),
            queue_len: queue_len.max(1),
            timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// TLS towards the collector (upstream `TARGET_TLS_CA_CERT_PATH`, `TARGET_TLS_USER_CERT_PATH`,
/// `TARGET_TLS_USER_KEY_PATH`): the CA that signed the collector's certificate, and an optional
/// client certificate for mutual TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExporterTls {
    /// PEM CA file.
    pub ca_cert_path: String,
    /// PEM client certificate, for mTLS (with `user_key_path`).
    pub user_cert_path: String,
    /// PEM client key, for mTLS.
    pub user_key_path: String,
}

/// Error building the exporter.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The endpoint or its TLS settings are unusable.
    #[error("invalid collector endpoint {endpoint}: {source}")]
    Endpoint {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: tonic::transport::Error,
    },
    /// A TLS file cannot be read.
    #[error("cannot read {path} (collector TLS): {source}")]
    TlsFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl ExporterTls {
    fn client_config(&self) -> Result<ClientTlsConfig, ExporterError> {
        let read = |path: &str| {
            std::fs::read(path).map_err(|source| ExporterError::TlsFile {
                path: path.to_string(),
                source,
            })
        };
        let mut config =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(&self.ca_cert_path)?));
        if !self.user_cert_path.is_empty() && !self.user_key_path.is_empty() {
            config = config.identity(Identity::from_pem(
                read(&self.user_cert_path)?,
                read(&self.user_key_path)?,
            ));
        }
        Ok(config)
    }
}

/// A lazily connecting channel to the collector of `cfg` (TLS when configured), shared by the
/// flow exporter and the packet exporter.
pub(crate) fn channel(cfg: &ExporterConfig) -> Result<Channel, ExporterError> {
    let endpoint_error = |source| ExporterError::Endpoint {
        endpoint: cfg.endpoint.clone(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(cfg.endpoint.clone()).map_err(endpoint_error)?;
    if let Some(tls) = &cfg.tls {
        endpoint = endpoint
            .tls_config(tls.client_config()?)
            .map_err(endpoint_error)?;
    }
    Ok(endpoint
        .connect_timeout(Duration::from_secs(2))
        .timeout(cfg.timeout)
        .connect_lazy())
}

/// Starts the exporter task. It runs until `shutdown` turns true; it then stops retrying, and
/// counts what is still queued as dropped (`reason="shutdown"`) after a last attempt each.
pub fn start(
    cfg: ExporterConfig,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> Result<(ExportQueue, tokio::task::JoinHandle<()>), ExporterError> {
    let channel = channel(&cfg)?;
    Ok(start_with(
        cfg,
        Sink::Grpc(CollectorClient::new(channel)),
        metrics,
        shutdown,
    ))
}

/// Starts the exporter task towards Kafka: `queue_len` batches wait in front of it, each sent
/// in rounds of `KAFKA_BATCH_MESSAGES` flows.
pub fn start_kafka(
    config: crate::config::kafka::KafkaConfig,
    queue_len: usize,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> (ExportQueue, tokio::task::JoinHandle<()>) {
    let mut cfg = ExporterConfig::new("kafka", 0, config.batch_messages, queue_len);
    let sink = kafka::KafkaSink::new(config);
    cfg.endpoint = sink.describe();
    start_with(cfg, Sink::Kafka(Box::new(sink)), metrics, shutdown)
}

/// Starts the exporter task towards an IPFIX collector at `host:port`: `queue_len` batches wait
/// in front of it; each is encoded in chunks of [`IN_PROCESS_CHUNK`] flows and queued for the
/// writer's sending task (which counts what it cannot deliver).
pub fn start_ipfix(
    host: &str,
    port: u16,
    transport: netobserv_pipeline::write::ipfix::Transport,
    queue_len: usize,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> (ExportQueue, tokio::task::JoinHandle<()>) {
    let sink = ipfix::IpfixSink::start(host, port, transport, metrics.clone());
    let mut cfg = ExporterConfig::new(host, port, IN_PROCESS_CHUNK, queue_len);
    cfg.endpoint = format!("ipfix+{transport:?}://{}", sink.describe()).to_lowercase();
    start_with(cfg, Sink::Ipfix(Box::new(sink)), metrics, shutdown)
}

/// Flows converted and handed to the in-process pipeline at a time. An eviction holds up to
/// `CACHE_MAX_FLOWS` (100k by default) flows; converting them all before the pipeline takes the
/// first would hold every record and every pipeline row of the eviction at once, which is most
/// of local mode's peak memory. Chunks keep that to a few thousand of each.
pub const IN_PROCESS_CHUNK: usize = 2048;

/// Starts the exporter task towards the pipeline in this process: `queue_len` batches wait in
/// front of it (then they are dropped and counted); each is converted and handed over in chunks
/// of [`IN_PROCESS_CHUNK`] flows, each waiting for room in the pipeline's queues.
pub fn start_in_process(
    sender: PresetSender,
    queue_len: usize,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> (ExportQueue, tokio::task::JoinHandle<()>) {
    let mut cfg = ExporterConfig::new("in-process", 0, IN_PROCESS_CHUNK, queue_len);
    cfg.endpoint = "in-process pipeline".into();
    start_with(cfg, Sink::InProcess(sender), metrics, shutdown)
}

fn start_with(
    cfg: ExporterConfig,
    sink: Sink,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> (ExportQueue, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(cfg.queue_len);
    let queue = ExportQueue {
        tx,
        metrics: metrics.clone(),
    };
    let task = tokio::spawn(run(cfg, sink, rx, metrics, shutdown));
    (queue, task)
}

async fn run(
    cfg: ExporterConfig,
    mut client: Sink,
    mut rx: mpsc::Receiver<Batch>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return drain(&cfg, &mut client, &mut rx, &metrics).await;
        }
        let batch = tokio::select! {
            b = rx.recv() => b,
            res = shutdown.changed() => {
                if res.is_err() {
                    // The agent is gone: behave as on shutdown.
                    return drain(&cfg, &mut client, &mut rx, &metrics).await;
                }
                continue;
            }
        };
        let Some(batch) = batch else {
            // Every queue handle is gone: nothing more comes.
            return drain(&cfg, &mut client, &mut rx, &metrics).await;
        };
        metrics.queue_len.dec();
        send_batch(&cfg, &mut client, batch, &metrics, Some(&mut shutdown)).await;
        release_memory();
    }
}

/// The stop: whatever was queued before it gets one attempt each (then counts as dropped), and
/// a Kafka producer sends what it holds before the agent goes.
async fn drain(
    cfg: &ExporterConfig,
    sink: &mut Sink,
    rx: &mut mpsc::Receiver<Batch>,
    metrics: &Metrics,
) {
    rx.close();
    while let Some(b) = rx.recv().await {
        metrics.queue_len.dec();
        send_batch(cfg, sink, b, metrics, None).await;
    }
    match sink {
        Sink::Kafka(kafka) => kafka.close().await,
        Sink::Ipfix(ipfix) => ipfix.close().await,
        Sink::Grpc(_) | Sink::InProcess(_) => {}
    }
}

/// Hands the pages freed by a sent batch back to the kernel, so that the agent's resident memory
/// follows the current batch rather than the largest one seen.
fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Sends one evicted batch in chunks of at most `max_flows`, retrying each chunk until it is
/// accepted, or until shutdown when a shutdown receiver is given (otherwise a single attempt).
async fn send_batch(
    cfg: &ExporterConfig,
    sink: &mut Sink,
    mut batch: Batch,
    metrics: &Metrics,
    mut shutdown: Option<&mut watch::Receiver<bool>>,
) {
    let client = match sink {
        Sink::Grpc(client) => client,
        Sink::InProcess(sender) => return hand_over(sender, batch, cfg.max_flows, metrics).await,
        Sink::Kafka(kafka) => return send_kafka(cfg, kafka, batch, metrics, shutdown).await,
        Sink::Ipfix(ipfix) => {
            loop {
                let chunk = batch.next_chunk(cfg.max_flows);
                if chunk.is_empty() {
                    break;
                }
                ipfix.send(&chunk);
            }
            metrics.exported_batches.inc();
            return;
        }
    };
    loop {
        let chunk = Records {
            entries: batch.next_chunk(cfg.max_flows),
        };
        if chunk.entries.is_empty() {
            break;
        }
        let n = chunk.entries.len() as u64;
        let mut backoff = cfg.min_backoff;
        loop {
            match client.send(chunk.clone()).await {
                Ok(_) => {
                    metrics.exported_batches.inc();
                    metrics.exported_flows.inc_by(n);
                    break;
                }
                Err(status) => {
                    metrics.export_errors.inc();
                    tracing::debug!(error = %status, "sending flows to the collector");
                    if !retry_later(&mut shutdown, &mut backoff, cfg.max_backoff).await {
                        metrics.report_loss(&crate::losses::EXPORT_SHUTDOWN, n, None, "");
                        break;
                    }
                }
            }
        }
    }
}

/// Waits `backoff` (doubled for next time, up to `max`) before a retry, or less when the agent
/// starts stopping. False when there is no retry: a single attempt was asked (no shutdown
/// receiver) or the agent is stopping.
async fn retry_later(
    shutdown: &mut Option<&mut watch::Receiver<bool>>,
    backoff: &mut Duration,
    max: Duration,
) -> bool {
    let Some(sd) = shutdown.as_deref_mut().filter(|sd| !*sd.borrow()) else {
        return false;
    };
    tokio::select! {
        _ = tokio::time::sleep(*backoff) => {}
        _ = sd.changed() => {}
    }
    *backoff = (*backoff * 2).min(max);
    true
}

/// Sends one evicted batch to Kafka in rounds of at most `max_flows`. While no broker answers a
/// round is retried (with backoff, until shutdown when a shutdown receiver is given), so the
/// export queue in front fills and counts its drops; flows the brokers never acknowledge are
/// counted as `exporter/send_failed`.
async fn send_kafka(
    cfg: &ExporterConfig,
    sink: &mut kafka::KafkaSink,
    mut batch: Batch,
    metrics: &Metrics,
    mut shutdown: Option<&mut watch::Receiver<bool>>,
) {
    loop {
        let chunk = batch.next_chunk(cfg.max_flows);
        if chunk.is_empty() {
            return;
        }
        let n = chunk.len() as u64;
        let mut backoff = cfg.min_backoff;
        loop {
            match sink.send(&chunk).await {
                Ok(lost) => {
                    metrics.exported_batches.inc();
                    metrics.exported_flows.inc_by(n - lost);
                    if lost > 0 {
                        metrics.export_errors.inc();
                        metrics.report_loss(&crate::losses::EXPORT_SEND_FAILED, lost, None, "");
                    }
                    break;
                }
                Err(err) => {
                    metrics.export_errors.inc();
                    tracing::debug!(%err, "sending flows to Kafka");
                    if !retry_later(&mut shutdown, &mut backoff, cfg.max_backoff).await {
                        metrics.report_loss(&crate::losses::EXPORT_SHUTDOWN, n, None, "");
                        break;
                    }
                }
            }
        }
    }
}

/// Hands a batch to the pipeline in this process, `chunk` flows at a time. It waits while the
/// pipeline's queues are full (its back-pressure reaches the export queue, which drops and counts
/// beyond its length), and only fails once the pipeline stopped: the flows not handed over are
/// then counted as lost.
async fn hand_over(sender: &PresetSender, mut batch: Batch, chunk: usize, metrics: &Metrics) {
    let total = batch.len() as u64;
    let mut handed = 0u64;
    loop {
        let records = batch.next_chunk(chunk);
        let n = records.len() as u64;
        if n == 0 {
            return;
        }
        match sender.send(records).await {
            Ok(()) => {
                handed += n;
                metrics.exported_batches.inc();
                metrics.exported_flows.inc_by(n);
            }
            Err(err) => {
                let rest = total.saturating_sub(handed).max(n);
                metrics.export_errors.inc();
                tracing::warn!(?err, flows = rest, "the in-process pipeline refused flows");
                metrics.report_loss(&crate::losses::EXPORT_CLOSED, rest, None, "");
                return;
            }
        }
    }
}
