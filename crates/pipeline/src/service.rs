//! What a pipeline run does once its configuration is read: start the health and metrics
//! endpoints, start the ingest, complete and build the stage graph, run it on the workers, and
//! drain on the stop signal (or at the end of the input in `stdin` / `file` mode). The binary
//! ([`run`]) and a program embedding the pipeline ([`crate::embedded`]) share it ([`serve`]).
//!
//! Order matters in a cluster. The endpoints and the gRPC ingest come up first, so the pod is
//! live and Prometheus sees it at once. The stage graph may need the API server (the dynamic
//! ConfigMap, the Kubernetes caches): while it is unreachable the process keeps retrying with
//! backoff, logs one WARN per attempt naming the address and the error, and `/ready` answers 503
//! with the reason. Flows sent meanwhile are **held** in the bounded worker queues; once those are
//! full the agents' calls wait (back-pressure) and, past the deadline, are refused and counted.
//! No flow is written without the enrichment the configuration asks for.

use crate::cli::Args;
use crate::config::{Config, IngestKind, PRESET_INGESTER};
use crate::dynamic::{self, DynamicSource};
use crate::ingest::{Ingester, LineStats, RunningIngest};
use crate::registry::Registry;
use crate::runtime::Pipeline;
use crate::self_metrics::SelfMetrics;
use crate::server::{self, Health, MetricsState, Server};
use crate::settings::{HealthSettings, MetricsSettings};
use crate::shard::Shards;
use crate::stage::{BuildContext, StageContext};
use crate::workers::{Summary, Worker, WorkerReports};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use crate::shutdown::{Shutdown, ShutdownTrigger};

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

/// Where records come from: the ingest stage, built.
pub struct Source {
    /// The ingest stage's name.
    pub stage: String,
    /// The ingest, not started yet.
    pub ingester: Box<dyn Ingester>,
    /// Whether it is the synthetic load source (it has a metric of its own).
    pub synthetic: bool,
}

impl Source {
    /// The ingest stage of `config`, built through `registry`.
    pub fn from_config(
        config: &Config,
        registry: &Registry,
        context: &BuildContext,
    ) -> Result<Self, RunError> {
        let stage = config
            .pipeline
            .iter()
            .find(|s| s.follows.is_none())
            .map(|s| s.name.clone())
            .ok_or_else(|| {
                if config
                    .pipeline
                    .iter()
                    .any(|s| s.follows.as_deref() == Some(PRESET_INGESTER))
                {
                    RunError::Config(format!(
                        "the first stages follow `{PRESET_INGESTER}`, the ingest of a pipeline \
                         embedded in the agent (EXPORT=direct-flp); run standalone, the pipeline \
                         needs an ingest stage (one without `follows`)"
                    ))
                } else {
                    RunError::Config(
                        "the `pipeline` has no ingest stage (one without `follows`)".into(),
                    )
                }
            })?;
        let ingest = config
            .stage(&stage)
            .and_then(|p| p.ingest.as_ref())
            .ok_or_else(|| {
                RunError::Config(format!(
                    "the ingest stage `{stage}` has no `ingest` parameters"
                ))
            })?;
        let mut stdout = || -> Box<dyn std::io::Write + Send> { Box::new(std::io::sink()) };
        let mut ctx = StageContext {
            name: &stage,
            shared: context,
            stdout: &mut stdout,
        };
        let ingester = registry
            .build_ingest(ingest, &mut ctx)
            .map_err(|e| RunError::Config(format!("stage `{stage}`: {e}")))?;
        Ok(Self {
            synthetic: ingest.kind == IngestKind::Synthetic,
            stage,
            ingester,
        })
    }
}

/// Where `stdout` writers write: a new handle for each worker's writer.
pub type StdoutMaker = Arc<dyn Fn() -> Box<dyn std::io::Write + Send> + Send + Sync>;

/// Process-level settings of a run.
pub struct RunOptions {
    /// Worker threads running the stage graph.
    pub workers: usize,
    /// Where the dynamic stages come from.
    pub dynamic: Option<DynamicSource>,
    /// Where the metrics endpoint listens.
    pub metrics: MetricsSettings,
    /// Where the health endpoint listens.
    pub health: HealthSettings,
    /// Serve metrics even for a one-shot (stdin / file) run.
    pub metrics_explicit: bool,
    /// Write the encoders' exposition to this file at the end.
    pub metrics_out: Option<String>,
    /// Where `stdout` writers write.
    pub stdout: StdoutMaker,
    /// Told once the stage graph is built (before the Kubernetes caches are waited for).
    pub on_built: Option<tokio::sync::oneshot::Sender<()>>,
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The workers' counters, taken after the writers flushed.
    pub summary: Summary,
    /// What a line source read (stdin / file).
    pub input: Option<LineStats>,
    /// Flows the ingest refused (queues full until the deadline).
    pub refused: u64,
}

/// Standard output, buffered per writer.
pub fn process_stdout() -> StdoutMaker {
    Arc::new(|| {
        Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout(),
        ))
    })
}

/// Runs the pipeline `config` describes until SIGTERM, Ctrl-C or the end of the input: one
/// tokio runtime for everything asynchronous, plus the worker threads.
pub fn run(args: &Args, config: Config) -> Result<(), RunError> {
    let metrics =
        MetricsSettings::from_config(&config, args).map_err(|e| RunError::Config(e.to_string()))?;
    let health =
        HealthSettings::from_config(&config, args).map_err(|e| RunError::Config(e.to_string()))?;
    let registry = Registry::standard();
    registry
        .check_supported(&config)
        .map_err(|(stage, e)| RunError::Config(format!("stage `{stage}`: {e}")))?;
    let dynamic = match &args.dynamic_file {
        Some(path) => Some(DynamicSource::File(path.into())),
        None => config
            .dynamic_parameters
            .as_ref()
            .and_then(DynamicSource::from_parameters),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("pipeline-io")
        .enable_all()
        .build()
        .map_err(|e| RunError::Start(format!("cannot start the async runtime: {e}")))?;
    let options = RunOptions {
        workers: usize::from(args.workers.max(1)),
        dynamic,
        metrics,
        health,
        metrics_explicit: config.metrics_settings.is_some() || args.metrics_address.is_some(),
        metrics_out: args.metrics_out.clone(),
        stdout: process_stdout(),
        on_built: None,
    };
    let result = runtime.block_on(async move {
        let context = BuildContext::new(tokio::runtime::Handle::current());
        let source = Source::from_config(&config, &registry, &context)?;
        let outcome = serve(config, source, options, Shutdown::listen(), context).await?;
        log_outcome(&outcome);
        Ok(())
    });
    // A reader blocked on stdin (interrupted run) must not keep the process alive.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

fn log_outcome(outcome: &Outcome) {
    let summary = &outcome.summary;
    let p = summary.pipeline;
    match outcome.input {
        Some(lines) => tracing::info!(
            "{} records read, {} undecodable lines, {} filtered out, {} written, {} write errors, {} sent to Loki, {} dropped for Loki, {} exported, {} dropped by exporters",
            lines.records,
            lines.decode_errors,
            p.filtered,
            summary.written(),
            p.write_errors,
            summary.loki_written,
            summary.loki_dropped,
            summary.exported,
            summary.export_dropped
        ),
        None => tracing::info!(
            "{} flows ingested, {} refused, {} filtered out, {} written, {} write errors, {} sent to Loki, {} dropped for Loki, {} exported, {} dropped by exporters",
            p.ingested,
            outcome.refused,
            p.filtered,
            summary.written(),
            p.write_errors,
            summary.loki_written,
            summary.loki_dropped,
            summary.exported,
            summary.export_dropped
        ),
    }
}

/// Runs `config` fed by `source` until `shutdown` (or the end of the input), inside the
/// runtime. Background tasks (Loki pushes, Kubernetes watchers, the dynamic poller) run on
/// `context`'s runtime; the stage graph runs on `options.workers` threads.
pub async fn serve(
    mut config: Config,
    source: Source,
    options: RunOptions,
    shutdown: Shutdown,
    context: BuildContext,
) -> Result<Outcome, RunError> {
    let health = Arc::new(Health::default());
    let state = MetricsState::default();
    let self_metrics = SelfMetrics::new(&options.metrics.prefix);
    // In stdin / file mode the endpoints only run when asked for: a one-shot run must not fail
    // because the default metrics port is taken.
    let service = source.ingester.is_service();
    let servers = start_servers(
        &options.metrics,
        &options.health,
        &state,
        &health,
        service || options.metrics_explicit,
    )
    .await?;
    let workers = options.workers.max(1);
    let buffer = source.ingester.queue_batches();
    let (senders, queues): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| tokio::sync::mpsc::channel(buffer))
        .unzip();
    let shards = Shards::new(senders);
    // Weak copies of the senders for the queue gauge; the queues still close at the end.
    let gauge = shards.gauge();
    let running = source
        .ingester
        .start(shards)
        .await
        .map_err(|e| RunError::Start(format!("stage `{}`: {e}", source.stage)))?;
    self_metrics.add_ingest(&source.stage, running.stats(), gauge, source.synthetic);
    let rendered = self_metrics.clone();
    state.add(Arc::new(move || rendered.render()));
    // Complete the graph with its dynamic stages, waiting for the API server if need be.
    let mut dynamic_text = None;
    if let Some(dynamic_source) = &options.dynamic {
        let Some(text) = read_dynamic(dynamic_source, &health, &shutdown).await? else {
            return stop_before_start(running, servers).await;
        };
        let parsed = Config::parse(&text)
            .map_err(|e| RunError::Config(format!("dynamic configuration: {e}")))?;
        dynamic::merge(&mut config, parsed);
        dynamic_text = Some(text);
    }
    // Building waits for client configurations and opens files: off the async workers.
    let build_context = context.clone();
    let stdout = options.stdout.clone();
    let pipelines = tokio::task::spawn_blocking(move || {
        (0..workers)
            .map(|_| {
                Pipeline::build_in(&config, &build_context, || stdout())
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
    self_metrics.add_graph(stage_metrics, reports.clone());
    self_metrics.add_conntrack(context.conntrack().clone());
    if let Some(built) = options.on_built {
        let _ = built.send(());
    }
    state.add(Arc::new(move || reports.render_encoders()));
    // Hot reload of the dynamic stages, to every worker.
    let (change_txs, change_rxs): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| std::sync::mpsc::channel::<String>())
        .unzip();
    let poller = match (options.dynamic, dynamic_text) {
        (Some(source), Some(current)) => Some(dynamic::spawn_poller(
            source,
            current,
            RELOAD_INTERVAL,
            change_txs,
            context.runtime(),
        )),
        _ => None,
    };
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
    let input = running.finish(shutdown).await.map_err(RunError::Input)?;
    if let Some(poller) = poller {
        poller.abort();
    }
    let metrics_out = options.metrics_out;
    let summary = tokio::task::spawn_blocking(move || {
        let joined = handles
            .into_iter()
            .map(|h| h.join())
            .collect::<Result<Vec<Pipeline>, _>>()
            .map_err(|_| RunError::Start("a pipeline worker panicked".into()))?;
        if let Some(path) = &metrics_out {
            let text = WorkerReports::of(&joined.iter().collect::<Vec<_>>()).render_encoders();
            std::fs::write(path, text)
                .map_err(|e| RunError::Start(format!("cannot write {path}: {e}")))?;
        }
        Ok::<_, RunError>(Summary::finish(joined))
    })
    .await
    .map_err(|e| RunError::Start(format!("workers: {e}")))??;
    servers.stop();
    Ok(Outcome {
        summary,
        input,
        refused: stats.refused_flows.load(Ordering::Relaxed),
    })
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

/// Reads the dynamic configuration, retrying with backoff until it answers or the run is asked
/// to stop (`None`). Without any cluster configuration it fails at once.
async fn read_dynamic(
    source: &DynamicSource,
    health: &Health,
    shutdown: &Shutdown,
) -> Result<Option<String>, RunError> {
    let mut delay = RETRY_FIRST;
    let mut attempt = 1u32;
    loop {
        match dynamic::read_async(source).await {
            Ok(text) => return Ok(Some(text)),
            Err(err @ dynamic::DynamicError::NoCluster { .. }) => {
                return Err(RunError::Config(err.to_string()));
            }
            Err(err) => {
                tracing::warn!(
                    attempt,
                    retry_in = ?delay,
                    error = %err,
                    "dynamic configuration not available yet; flows are held until it is"
                );
                health.not_ready(format!("waiting for the dynamic configuration: {err}"));
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

async fn stop_before_start(
    running: Box<dyn RunningIngest>,
    servers: Servers,
) -> Result<Outcome, RunError> {
    tracing::info!("stopping before the pipeline started");
    running.abort().await;
    servers.stop();
    Ok(Outcome::default())
}
