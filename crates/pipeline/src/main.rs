//! `netobserv-pipeline --config FILE`: runs a flowlogs-pipeline configuration.
//!
//! Supported today: `grpc` ingest (the agents' `pbflow.Collector/Send`), `stdin` and `file`
//! ingest (JSON lines), `synthetic` ingest (built-in load), `network` / `filter` / `generic` transforms, the `prom` encoder (served on
//! `/metrics`) and the `stdout` / `none` writers. A configuration that uses anything else is
//! refused with the stage and type named, rather than run half-way.

use netobserv_pipeline::config::Config;
use netobserv_pipeline::dynamic::{self, DynamicSource};
use netobserv_pipeline::ingest::read_json_lines;
use netobserv_pipeline::runtime::Pipeline;
use std::io::BufReader;
use std::process::ExitCode;

/// mimalloc: records are built on the gRPC threads and freed on the pipeline thread, a pattern
/// glibc's allocator handles poorly (it was a quarter of the pipeline's CPU time in profiles).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str =
    "usage: netobserv-pipeline --config FILE [--metrics-out FILE] [--metrics-address ADDR:PORT]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("netobserv-pipeline: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut config_path, mut metrics_out, mut metrics_address, mut dynamic_file) =
        (None, None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_path = args.next(),
            "--metrics-out" => metrics_out = args.next(),
            "--metrics-address" => metrics_address = args.next(),
            "--dynamic-file" => dynamic_file = args.next(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let config_path = config_path.ok_or(USAGE)?;
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| format!("cannot read {config_path}: {e}"))?;
    let mut config = Config::parse(&text).map_err(|e| e.to_string())?;
    // The dynamic stages (filters, subnet labels, metrics) live apart; the graph is only complete
    // with them, so failing to read them is fatal at start (and only logged on later refreshes).
    let dynamic_source = match dynamic_file {
        Some(path) => Some(DynamicSource::File(path.into())),
        None => config
            .dynamic_parameters
            .as_ref()
            .and_then(DynamicSource::from_parameters),
    };
    let mut dynamic_text = None;
    if let Some(source) = &dynamic_source {
        let text = dynamic::read(source).map_err(|e| e.to_string())?;
        let parsed = Config::parse(&text).map_err(|e| format!("dynamic configuration: {e}"))?;
        dynamic::merge(&mut config, parsed);
        dynamic_text = Some(text);
    }
    let graph = config.check().map_err(|e| e.to_string())?;
    let ingest = config
        .parameters
        .iter()
        .find(|p| p.name == graph.root)
        .and_then(|p| p.ingest.clone())
        .ok_or("the ingest stage has no parameters")?;
    let batch_len = config
        .perf_settings
        .as_ref()
        .and_then(|p| p.batcher_max_len)
        .unwrap_or(1000) as usize;
    let mut pipeline =
        // Buffered: the writer flushes once per batch instead of one write(2) per record.
        Pipeline::build(&config, || {
            Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()))
        })
        .map_err(|e| e.to_string())?;
    let kind = ingest
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    let stats = match kind {
        "stdin" => read_json_lines(std::io::stdin().lock(), batch_len, |b| pipeline.process(b)),
        "file" => {
            let path = ingest
                .pointer("/file/filename")
                .and_then(|f| f.as_str())
                .ok_or("file ingest needs `file.filename`")?;
            let file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
            read_json_lines(BufReader::new(file), batch_len, |b| pipeline.process(b))
        }
        "grpc" | "synthetic" => {
            let reload = dynamic_source.zip(dynamic_text);
            return grpc::run(&ingest, pipeline, metrics_address.as_deref(), reload);
        }
        other => {
            return Err(format!(
                "stage `{}`: ingest type `{other}` is not supported by this pipeline yet",
                graph.root
            ));
        }
    }
    .map_err(|e| format!("reading input: {e}"))?;
    if let Some(path) = metrics_out {
        let mut text = String::new();
        for (_, encoder) in pipeline.prom_encoders() {
            if let Ok(encoder) = encoder.lock() {
                text.push_str(&encoder.render());
            }
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let p = pipeline.stats();
    eprintln!(
        "netobserv-pipeline: {} records read, {} undecodable lines, {} filtered out, {} written, {} write errors",
        stats.records, stats.decode_errors, p.filtered, p.written, p.write_errors
    );
    Ok(())
}

/// Long-running mode: serve the agents over gRPC (or generate `synthetic` flows) until SIGTERM /
/// Ctrl-C, then drain and exit.
mod grpc {
    use netobserv_pipeline::config::Config;
    use netobserv_pipeline::dynamic::{self, DynamicSource};
    use netobserv_pipeline::ingest::grpc::{GrpcIngest, GrpcStats, GrpcTls};
    use netobserv_pipeline::ingest::synthetic::{SyntheticConfig, SyntheticSource};
    use netobserv_pipeline::runtime::Pipeline;
    use netobserv_pipeline::server::{MetricsServer, MetricsState};
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// Default port of the pipeline's metrics endpoint, as upstream.
    const DEFAULT_METRICS_PORT: u16 = 9102;

    /// How often the dynamic configuration is re-read.
    const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

    /// Where the records come from.
    enum Source {
        Grpc { port: u16, tls: Option<GrpcTls> },
        Synthetic(SyntheticConfig),
    }

    fn source(ingest: &serde_json::Value) -> Result<Source, String> {
        if ingest.get("type").and_then(|t| t.as_str()) == Some("synthetic") {
            return SyntheticConfig::from_ingest(ingest)
                .map(Source::Synthetic)
                .map_err(|e| e.to_string());
        }
        let port = ingest
            .pointer("/grpc/port")
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("grpc ingest needs `grpc.port` (0 picks a free port)")?;
        let path = |key: &str| {
            ingest
                .pointer(&format!("/grpc/{key}"))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let tls = match (path("certPath"), path("keyPath")) {
            (cert, key) if cert.is_empty() && key.is_empty() => None,
            (cert, key) if cert.is_empty() || key.is_empty() => {
                return Err("grpc ingest TLS needs both `certPath` and `keyPath`".into());
            }
            (cert_path, key_path) => Some(GrpcTls {
                cert_path,
                key_path,
                client_ca_path: path("clientCAPath"),
            }),
        };
        Ok(Source::Grpc { port, tls })
    }

    pub fn run(
        ingest: &serde_json::Value,
        mut pipeline: Pipeline,
        metrics_address: Option<&str>,
        reload: Option<(DynamicSource, String)>,
    ) -> Result<(), String> {
        let source = source(ingest)?;
        let buffer = ingest
            .pointer("/grpc/bufferLength")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(100)
            .max(1) as usize;
        let metrics_addr: SocketAddr = metrics_address
            .unwrap_or(&format!("0.0.0.0:{DEFAULT_METRICS_PORT}"))
            .parse()
            .map_err(|e| format!("--metrics-address: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        runtime.block_on(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(buffer);
            // Weak, so the queue still closes when the ingest stops.
            let queue = tx.downgrade();
            let (ingest, stage, listening) = match source {
                Source::Grpc { port, tls } => {
                    let addr = SocketAddr::from(([0, 0, 0, 0], port));
                    let ingest =
                        GrpcIngest::start_with_tls(addr, tx, Duration::from_secs(5), tls.as_ref())
                            .await
                            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                    let listening = format!("gRPC ingest listening on {}", ingest.local_addr);
                    (Running::Grpc(ingest), "grpc", listening)
                }
                Source::Synthetic(config) => {
                    let listening = format!(
                        "synthetic ingest: {} connections, {} flows/min in batches of {}",
                        config.connections, config.flow_logs_per_min, config.batch_max_len
                    );
                    (Running::Synthetic(synthetic(config, tx)), "synthetic", listening)
                }
            };
            let stats = ingest.stats();
            let loki_stats: Vec<_> = pipeline.loki_stats().to_vec();
            let stage_metrics = pipeline.stage_metrics();
            let state = MetricsState {
                encoders: pipeline.prom_encoders().iter().map(|(_, e)| e.clone()).collect(),
                operational: Some(Arc::new(move || {
                    let mut text = format!(
                        "# TYPE netobserv_ingest_flows_processed counter\nnetobserv_ingest_flows_processed{{stage=\"{stage}\"}} {}\n# TYPE netobserv_ingest_flows_refused counter\nnetobserv_ingest_flows_refused{{stage=\"{stage}\"}} {}\n",
                        stats.flows.load(Ordering::Relaxed),
                        stats.refused_flows.load(Ordering::Relaxed)
                    );
                    if let Some(q) = queue.upgrade() {
                        text.push_str(&format!(
                            "# TYPE netobserv_stage_in_queue_size gauge\nnetobserv_stage_in_queue_size{{stage=\"{stage}\"}} {}\n",
                            q.max_capacity() - q.capacity()
                        ));
                    }
                    text.push_str(&stage_metrics.render("netobserv_"));
                    if stage == "synthetic" {
                        text.push_str(&format!(
                            "# TYPE netobserv_ingest_synthetic_flows_processed counter\nnetobserv_ingest_synthetic_flows_processed {}\n",
                            stats.flows.load(Ordering::Relaxed)
                        ));
                    }
                    if !loki_stats.is_empty() {
                        text.push_str("# TYPE netobserv_records_written counter\n# TYPE netobserv_loki_dropped_records_total counter\n");
                    }
                    for (stage, s) in &loki_stats {
                        text.push_str(&format!(
                            "netobserv_records_written{{stage=\"{stage}\"}} {}\nnetobserv_loki_dropped_records_total{{stage=\"{stage}\",reason=\"buffer_full\"}} {}\nnetobserv_loki_dropped_records_total{{stage=\"{stage}\",reason=\"retries_exhausted\"}} {}\n",
                            s.written.load(Ordering::Relaxed),
                            s.dropped_buffer_full.load(Ordering::Relaxed),
                            s.dropped_after_retries.load(Ordering::Relaxed)
                        ));
                    }
                    text
                })),
            };
            let metrics = MetricsServer::start(metrics_addr, state)
                .await
                .map_err(|e| format!("cannot serve metrics on {metrics_addr}: {e}"))?;
            eprintln!(
                "netobserv-pipeline: {listening}, metrics on http://{}/metrics",
                metrics.local_addr
            );
            let (changes_tx, changes) = std::sync::mpsc::channel::<String>();
            if let Some((source, current)) = reload {
                dynamic::spawn_poller(source, current, RELOAD_INTERVAL, changes_tx)
                    .map_err(|e| format!("cannot start the dynamic configuration poller: {e}"))?;
            }
            let worker = std::thread::spawn(move || {
                while let Some(batch) = rx.blocking_recv() {
                    // Swap in new dynamic stages between two batches, never in the middle of one.
                    while let Ok(text) = changes.try_recv() {
                        match Config::parse(&text).map_err(|e| e.to_string()).and_then(|d| {
                            pipeline.reload(&d).map_err(|e| e.to_string())
                        }) {
                            Ok(stages) => eprintln!(
                                "netobserv-pipeline: dynamic configuration reloaded: {}",
                                stages.join(", ")
                            ),
                            Err(err) => eprintln!(
                                "netobserv-pipeline: dynamic configuration refused, keeping the running stages: {err}"
                            ),
                        }
                    }
                    pipeline.process(batch);
                }
                pipeline
            });
            wait_for_shutdown().await;
            ingest.stop().await;
            let pipeline = tokio::task::spawn_blocking(move || worker.join())
                .await
                .map_err(|e| format!("worker: {e}"))?
                .map_err(|_| "the pipeline worker panicked".to_string())?;
            metrics.stop();
            let p = pipeline.stats();
            let loki: Vec<_> = pipeline.loki_stats().to_vec();
            // Dropping the pipeline flushes the Loki writers.
            drop(pipeline);
            let loki_written: u64 = loki.iter().map(|(_, s)| s.written.load(Ordering::Relaxed)).sum();
            let loki_dropped: u64 = loki
                .iter()
                .map(|(_, s)| {
                    s.dropped_buffer_full.load(Ordering::Relaxed)
                        + s.dropped_after_retries.load(Ordering::Relaxed)
                })
                .sum();
            eprintln!(
                "netobserv-pipeline: {} flows ingested, {} filtered out, {} written, {} write errors, {} sent to Loki, {} dropped for Loki",
                p.ingested, p.filtered, p.written, p.write_errors, loki_written, loki_dropped
            );
            Ok(())
        })
    }

    /// The running ingest, stopped before the pipeline drains.
    enum Running {
        Grpc(GrpcIngest),
        Synthetic((Arc<GrpcStats>, tokio::task::JoinHandle<()>)),
    }

    impl Running {
        fn stats(&self) -> Arc<GrpcStats> {
            match self {
                Running::Grpc(g) => g.stats.clone(),
                Running::Synthetic((s, _)) => s.clone(),
            }
        }

        async fn stop(self) {
            match self {
                Running::Grpc(g) => g.stop().await,
                Running::Synthetic((_, task)) => {
                    task.abort();
                    let _ = task.await;
                }
            }
        }
    }

    /// Emits synthetic batches at the configured rate. A full queue delays the source (it counts
    /// as back-pressure, not loss: synthetic records have no sender to lose them for).
    fn synthetic(
        config: SyntheticConfig,
        tx: tokio::sync::mpsc::Sender<Vec<netobserv_pipeline::record::Record>>,
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
                if tx.send(batch).await.is_err() {
                    return;
                }
                counters.batches.fetch_add(1, Ordering::Relaxed);
                counters.flows.fetch_add(n, Ordering::Relaxed);
            }
        });
        (stats, task)
    }

    async fn wait_for_shutdown() {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(err) => {
                    eprintln!("netobserv-pipeline: cannot watch SIGTERM ({err}); stop with Ctrl-C");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
}
