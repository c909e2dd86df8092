//! What `netobserv-pipeline` does once its arguments are read: start the health and metrics
//! endpoints, start the ingest, complete and build the stage graph, run it on the workers, and
//! drain on SIGTERM (or at the end of the input in `stdin` / `file` mode).
//!
//! Order matters in a cluster. The endpoints and the gRPC ingest come up first, so the pod is
//! live and Prometheus sees it at once. The stage graph may need the API server (the dynamic
//! ConfigMap, the Kubernetes caches): while it is unreachable the process keeps retrying with
//! backoff, logs one WARN per attempt naming the address and the error, and `/ready` answers 503
//! with the reason. Flows sent meanwhile are **held** in the bounded worker queues; once those are
//! full the agents' calls wait (back-pressure) and, past the deadline, are refused and counted.
//! No flow is written without the enrichment the configuration asks for.

use crate::cli::Args;
use crate::config::Config;
use crate::dynamic::{self, DynamicSource};
use crate::ingest::grpc::{DEFAULT_QUEUE_WAIT, GrpcIngest, GrpcStats, GrpcTls};
use crate::ingest::read_json_lines;
use crate::ingest::synthetic::{SyntheticConfig, SyntheticSource};
use crate::runtime::{BuildContext, Pipeline};
use crate::server::{self, Health, MetricsState, Server};
use crate::settings::{HealthSettings, MetricsSettings, parse_listen};
use crate::shard::Shards;
use crate::workers::{Summary, Worker, WorkerReports};
use std::io::BufReader;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often the dynamic configuration is re-read.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// First and longest delay between two attempts to reach the API server.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Why the process stops with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// An endpoint or the runtime cannot start.
    #[error("{0}")]
    Start(String),
    /// Reading the input failed.
    #[error("reading input: {0}")]
    Input(String),
}

/// Where records come from.
enum Source {
    Grpc {
        addr: SocketAddr,
        tls: Option<GrpcTls>,
        buffer: usize,
    },
    Synthetic(SyntheticConfig),
    Lines(Option<String>),
}

impl Source {
    fn from_ingest(stage: &str, ingest: &serde_json::Value) -> Result<Self, RunError> {
        let kind = ingest
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        match kind {
            "grpc" => {
                let port = ingest
                    .pointer("/grpc/port")
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| {
                        RunError::Config(format!(
                            "stage `{stage}`: grpc ingest needs `grpc.port` (0 picks a free port)"
                        ))
                    })?;
                let text = |key: &str| {
                    ingest
                        .pointer(&format!("/grpc/{key}"))
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                let host = text("address");
                let addr = parse_listen("grpc.address", &format!("{host}:{port}"))
                    .map_err(|e| RunError::Config(format!("stage `{stage}`: {e}")))?;
                let tls = match (text("certPath"), text("keyPath")) {
                    (cert, key) if cert.is_empty() && key.is_empty() => None,
                    (cert, key) if cert.is_empty() || key.is_empty() => {
                        return Err(RunError::Config(format!(
                            "stage `{stage}`: grpc ingest TLS needs both `certPath` and `keyPath`"
                        )));
                    }
                    (cert_path, key_path) => Some(GrpcTls {
                        cert_path,
                        key_path,
                        client_ca_path: text("clientCAPath"),
                    }),
                };
                let buffer = ingest
                    .pointer("/grpc/bufferLength")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(100)
                    .max(1) as usize;
                Ok(Source::Grpc { addr, tls, buffer })
            }
            "synthetic" => SyntheticConfig::from_ingest(ingest)
                .map(Source::Synthetic)
                .map_err(|e| RunError::Config(format!("stage `{stage}`: {e}"))),
            "stdin" => Ok(Source::Lines(None)),
            "file" => ingest
                .pointer("/file/filename")
                .and_then(|f| f.as_str())
                .map(|f| Source::Lines(Some(f.to_string())))
                .ok_or_else(|| {
                    RunError::Config(format!(
                        "stage `{stage}`: file ingest needs `file.filename`"
                    ))
                }),
            other => Err(RunError::Config(format!(
                "stage `{stage}`: ingest type `{other}` is not supported by this pipeline yet"
            ))),
        }
    }

    fn is_service(&self) -> bool {
        !matches!(self, Source::Lines(_))
    }
}

/// Runs the pipeline `config` describes until SIGTERM, Ctrl-C or the end of the input.
pub fn run(args: &Args, mut config: Config) -> Result<(), RunError> {
    let metrics =
        MetricsSettings::from_config(&config, args).map_err(|e| RunError::Config(e.to_string()))?;
    let health_settings =
        HealthSettings::from_config(&config, args).map_err(|e| RunError::Config(e.to_string()))?;
    // The graph is only complete once the dynamic stages are merged in; the ingest is known now.
    let root = config
        .pipeline
        .iter()
        .find(|s| s.follows.is_none())
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            RunError::Config("the `pipeline` has no ingest stage (one without `follows`)".into())
        })?;
    let ingest = config
        .parameters
        .iter()
        .find(|p| p.name == root)
        .and_then(|p| p.ingest.clone())
        .ok_or_else(|| {
            RunError::Config(format!(
                "the ingest stage `{root}` has no `ingest` parameters"
            ))
        })?;
    crate::runtime::check_supported(&config).map_err(|e| RunError::Config(e.to_string()))?;
    let source = Source::from_ingest(&root, &ingest)?;
    let dynamic_source = match &args.dynamic_file {
        Some(path) => Some(DynamicSource::File(path.into())),
        None => config
            .dynamic_parameters
            .as_ref()
            .and_then(DynamicSource::from_parameters),
    };
    let workers = usize::from(args.workers.max(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("pipeline-io")
        .enable_all()
        .build()
        .map_err(|e| RunError::Start(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async move {
        let shutdown = Shutdown::listen();
        let health = Arc::new(Health::default());
        let state = MetricsState::default();
        // In stdin / file mode the endpoints only run when asked for: a one-shot run must not
        // fail because the default metrics port is taken.
        let explicit = config.metrics_settings.is_some() || args.metrics_address.is_some();
        let servers = start_servers(
            &metrics,
            &health_settings,
            &state,
            &health,
            source.is_service() || explicit,
        )
        .await?;
        let buffer = match &source {
            Source::Grpc { buffer, .. } => *buffer,
            _ => 100,
        };
        let (senders, queues): (Vec<_>, Vec<_>) =
            (0..workers).map(|_| tokio::sync::mpsc::channel(buffer)).unzip();
        let shards = Shards::new(senders);
        // Weak copies of the senders for the queue gauge; the queues still close at the end.
        let gauge = shards.gauge();
        let running = start_ingest(&source, &root, shards, args).await?;
        let stats = running.stats();
        let prefix = metrics.prefix.clone();
        let stage = root.clone();
        let synthetic = matches!(source, Source::Synthetic(_));
        state.add(Arc::new(move || {
            let mut t = stats.render(&prefix, &stage);
            if synthetic {
                t.push_str(&format!(
                    "# HELP {prefix}ingest_synthetic_flows_processed Flows the synthetic source generated.\n# TYPE {prefix}ingest_synthetic_flows_processed counter\n{prefix}ingest_synthetic_flows_processed {}\n",
                    stats.flows.load(Ordering::Relaxed)
                ));
            }
            t.push_str(&format!(
                "# HELP {prefix}stage_in_queue_size Batches waiting in the worker queues.\n# TYPE {prefix}stage_in_queue_size gauge\n{prefix}stage_in_queue_size{{stage=\"{stage}\"}} {}\n",
                gauge.queued()
            ));
            t
        }));
        // Complete the graph with its dynamic stages, waiting for the API server if need be.
        let mut dynamic_text = None;
        if let Some(source) = &dynamic_source {
            let Some(text) = read_dynamic(source, &health, &shutdown).await? else {
                return stop_before_start(running, servers).await;
            };
            let parsed = Config::parse(&text)
                .map_err(|e| RunError::Config(format!("dynamic configuration: {e}")))?;
            dynamic::merge(&mut config, parsed);
            dynamic_text = Some(text);
        }
        let context = BuildContext::default();
        // Building starts threads and small runtimes of its own (watchers, Loki writers):
        // off the async workers.
        let build_context = context.clone();
        let pipelines = tokio::task::spawn_blocking(move || {
            (0..workers)
                .map(|_| {
                    Pipeline::build_in(&config, &build_context, || {
                        Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()))
                    })
                    .map_err(|e| RunError::Config(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| RunError::Start(format!("building the pipeline: {e}")))??;
        let reports = WorkerReports::of(&pipelines.iter().collect::<Vec<_>>());
        let stage_metrics = pipelines
            .first()
            .map(Pipeline::stage_metrics)
            .unwrap_or_default();
        let prefix = metrics.prefix.clone();
        let for_metrics = reports.clone();
        state.add(Arc::new(move || {
            let mut t = for_metrics.render_encoders();
            t.push_str(&stage_metrics.render(&prefix));
            t.push_str(&for_metrics.render_loki(&prefix));
            t
        }));
        // Hot reload of the dynamic stages, to every worker.
        let (change_txs, change_rxs): (Vec<_>, Vec<_>) =
            (0..workers).map(|_| std::sync::mpsc::channel::<String>()).unzip();
        if let (Some(source), Some(current)) = (dynamic_source, dynamic_text) {
            dynamic::spawn_broadcast_poller(source, current, RELOAD_INTERVAL, change_txs)
                .map_err(|e| RunError::Start(format!("cannot start the dynamic configuration poller: {e}")))?;
        }
        // Enrichment caches: flows wait in the queues until the first listing.
        if !wait_synced(&context, &health, &shutdown).await {
            tracing::warn!(
                "stopping before the Kubernetes caches synced; the flows held are processed without enrichment"
            );
        }
        health.set_ready();
        let handles: Vec<_> = pipelines
            .into_iter()
            .zip(queues)
            .zip(change_rxs)
            .enumerate()
            .map(|(i, ((pipeline, queue), changes))| {
                std::thread::Builder::new()
                    .name(format!("pipeline-worker-{i}"))
                    .spawn(move || {
                        Worker {
                            pipeline,
                            queue,
                            changes,
                        }
                        .run(i)
                    })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| RunError::Start(format!("cannot start a worker thread: {e}")))?;
        let stats = running.stats();
        let input = running.finish(&shutdown).await?;
        let joined = tokio::task::spawn_blocking(move || {
            handles
                .into_iter()
                .map(|h| h.join())
                .collect::<Result<Vec<Pipeline>, _>>()
        })
        .await
        .map_err(|e| RunError::Start(format!("workers: {e}")))?
        .map_err(|_| RunError::Start("a pipeline worker panicked".into()))?;
        if let Some(path) = &args.metrics_out {
            let text = WorkerReports::of(&joined.iter().collect::<Vec<_>>()).render_encoders();
            std::fs::write(path, text).map_err(|e| RunError::Start(format!("cannot write {path}: {e}")))?;
        }
        servers.stop();
        let summary = Summary::finish(joined);
        let p = summary.pipeline;
        match input {
            Some(lines) => tracing::info!(
                "{} records read, {} undecodable lines, {} filtered out, {} written, {} write errors, {} sent to Loki, {} dropped for Loki",
                lines.records, lines.decode_errors, p.filtered, summary.written(), p.write_errors, summary.loki_written, summary.loki_dropped
            ),
            None => tracing::info!(
                "{} flows ingested, {} refused, {} filtered out, {} written, {} write errors, {} sent to Loki, {} dropped for Loki",
                p.ingested,
                stats.refused_flows.load(Ordering::Relaxed),
                p.filtered,
                summary.written(),
                p.write_errors,
                summary.loki_written,
                summary.loki_dropped
            ),
        }
        Ok(())
    });
    // A reader blocked on stdin (interrupted run) must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

/// The running endpoints.
struct Servers(Vec<Server>);

impl Servers {
    fn stop(self) {
        for s in self.0 {
            s.stop();
        }
    }
}

async fn start_servers(
    metrics: &MetricsSettings,
    health_settings: &HealthSettings,
    state: &MetricsState,
    health: &Arc<Health>,
    serve_metrics: bool,
) -> Result<Servers, RunError> {
    let mut servers = Vec::new();
    if let Some(addr) = health_settings.addr {
        let s = server::start_health(addr, health.clone())
            .await
            .map_err(|e| RunError::Start(format!("health server: {e}")))?;
        tracing::info!(address = %s.local_addr, "health endpoint on /live and /ready");
        servers.push(s);
    }
    if serve_metrics && !metrics.disabled {
        match server::start_metrics(
            metrics.addr,
            metrics.tls.as_ref(),
            state.clone(),
            health.clone(),
        )
        .await
        {
            Ok(s) => {
                tracing::info!(
                    address = %s.local_addr,
                    tls = metrics.tls.is_some(),
                    "metrics on /metrics"
                );
                servers.push(s);
            }
            Err(e) if metrics.no_panic => {
                tracing::error!(error = %e, "metrics server not started (metricsSettings.noPanic)");
            }
            Err(e) => return Err(RunError::Start(format!("metrics server: {e}"))),
        }
    }
    Ok(Servers(servers))
}

/// Reads the dynamic configuration, retrying with backoff until it answers or the process is
/// asked to stop (`None`). Without any cluster configuration it fails at once.
async fn read_dynamic(
    source: &DynamicSource,
    health: &Health,
    shutdown: &Shutdown,
) -> Result<Option<String>, RunError> {
    let mut delay = RETRY_FIRST;
    let mut attempt = 1u32;
    loop {
        let s = source.clone();
        let result = tokio::task::spawn_blocking(move || dynamic::read(&s)).await;
        match result {
            Ok(Ok(text)) => return Ok(Some(text)),
            Ok(Err(err @ dynamic::DynamicError::NoCluster { .. })) => {
                return Err(RunError::Config(err.to_string()));
            }
            Ok(Err(err)) => {
                tracing::warn!(
                    attempt,
                    retry_in = ?delay,
                    error = %err,
                    "dynamic configuration not available yet; flows are held until it is"
                );
                health.not_ready(format!("waiting for the dynamic configuration: {err}"));
            }
            Err(err) => {
                tracing::error!(%err, "the dynamic configuration reader failed");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.wait() => return Ok(None),
        }
        delay = (delay * 2).min(RETRY_MAX);
        attempt += 1;
    }
}

/// Waits for the Kubernetes caches' first listing; false when asked to stop first.
async fn wait_synced(context: &BuildContext, health: &Health, shutdown: &Shutdown) -> bool {
    loop {
        match context.pending_sync() {
            None => return true,
            Some(reason) => health.not_ready(reason),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            () = shutdown.wait() => return false,
        }
    }
}

async fn stop_before_start(running: Running, servers: Servers) -> Result<(), RunError> {
    tracing::info!("stopping before the pipeline started");
    running.abort().await;
    servers.stop();
    Ok(())
}

/// The running ingest.
enum Running {
    Grpc(GrpcIngest),
    Synthetic(Arc<GrpcStats>, tokio::task::JoinHandle<()>),
    Lines(
        Arc<GrpcStats>,
        tokio::task::JoinHandle<std::io::Result<crate::ingest::LineStats>>,
    ),
}

impl Running {
    fn stats(&self) -> Arc<GrpcStats> {
        match self {
            Running::Grpc(g) => g.stats.clone(),
            Running::Synthetic(s, _) | Running::Lines(s, _) => s.clone(),
        }
    }

    /// Waits for the end of the input (lines) or for SIGTERM (services), then stops the
    /// ingest, which closes the worker queues.
    async fn finish(
        self,
        shutdown: &Shutdown,
    ) -> Result<Option<crate::ingest::LineStats>, RunError> {
        match self {
            Running::Grpc(g) => {
                shutdown.wait().await;
                g.stop().await;
                Ok(None)
            }
            Running::Synthetic(_, task) => {
                shutdown.wait().await;
                task.abort();
                let _ = task.await;
                Ok(None)
            }
            Running::Lines(_, task) => tokio::select! {
                result = task => match result {
                    Ok(Ok(stats)) => Ok(Some(stats)),
                    Ok(Err(e)) => Err(RunError::Input(e.to_string())),
                    Err(e) => Err(RunError::Input(e.to_string())),
                },
                () = shutdown.wait() => Err(RunError::Input(
                    "interrupted by a signal before the end of the input".into(),
                )),
            },
        }
    }

    async fn abort(self) {
        match self {
            Running::Grpc(g) => g.stop().await,
            Running::Synthetic(_, task) => {
                task.abort();
                let _ = task.await;
            }
            Running::Lines(_, task) => task.abort(),
        }
    }
}

async fn start_ingest(
    source: &Source,
    stage: &str,
    shards: Shards,
    args: &Args,
) -> Result<Running, RunError> {
    match source {
        Source::Grpc { addr, tls, .. } => {
            let ingest = GrpcIngest::start_sharded(*addr, shards, DEFAULT_QUEUE_WAIT, tls.as_ref())
                .await
                .map_err(|e| {
                    RunError::Start(format!("stage `{stage}`: cannot listen on {addr}: {e}"))
                })?;
            tracing::info!(
                "gRPC ingest listening on {}, {} worker(s), TLS {}",
                ingest.local_addr,
                args.workers,
                if tls.is_some() { "on" } else { "off" }
            );
            Ok(Running::Grpc(ingest))
        }
        Source::Synthetic(config) => {
            tracing::info!(
                "synthetic ingest: {} connections, {} flows/min in batches of {}",
                config.connections,
                config.flow_logs_per_min,
                config.batch_max_len
            );
            let (stats, task) = synthetic(config.clone(), shards);
            Ok(Running::Synthetic(stats, task))
        }
        Source::Lines(file) => {
            let stats = Arc::new(GrpcStats::default());
            let counters = stats.clone();
            let file = file.clone();
            let batch_len = 1000;
            let task = tokio::task::spawn_blocking(move || {
                let send = |batch: Vec<crate::record::Record>| {
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    counters
                        .flows
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if shards.blocking_send_records(batch).is_err() {
                        tracing::error!("the pipeline workers stopped before the end of the input");
                    }
                };
                match file {
                    None => read_json_lines(std::io::stdin().lock(), batch_len, send),
                    Some(path) => {
                        let f = std::fs::File::open(&path).map_err(|e| {
                            std::io::Error::new(e.kind(), format!("cannot open {path}: {e}"))
                        })?;
                        read_json_lines(BufReader::new(f), batch_len, send)
                    }
                }
            });
            Ok(Running::Lines(stats, task))
        }
    }
}

/// Emits synthetic batches at the configured rate. A full queue delays the source (it counts as
/// back-pressure, not loss: synthetic records have no sender to lose them for).
fn synthetic(
    config: SyntheticConfig,
    shards: Shards,
) -> (Arc<GrpcStats>, tokio::task::JoinHandle<()>) {
    let stats = Arc::new(GrpcStats::default());
    let counters = stats.clone();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let task = tokio::spawn(async move {
        let mut source = SyntheticSource::new(config, seed);
        let mut tick = tokio::time::interval(source.config().batch_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let batch = source.next_batch();
            let n = batch.len() as u64;
            if shards.send_records(batch).await.is_err() {
                return;
            }
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.flows.fetch_add(n, Ordering::Relaxed);
        }
    });
    (stats, task)
}

/// SIGTERM / Ctrl-C, seen by every part of the run that waits on it (one signal listener for the
/// whole process, so a signal arriving between two waits is not missed).
#[derive(Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    /// Starts listening (inside the runtime).
    pub fn listen() -> Self {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            signal().await;
            let _ = tx.send(true);
        });
        Self(rx)
    }

    /// Resolves once the signal came (at once if it already did).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(%err, "cannot watch SIGTERM; stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
