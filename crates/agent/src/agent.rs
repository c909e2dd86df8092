//! The running agent: interface watcher + attacher, periodic eviction, gRPC exporter and the
//! metrics/status server, with an orderly shutdown that leaves no hook behind.

use crate::config::Config;
use crate::error::TracerError;
use crate::evict::Evictor;
use crate::exporter::{self, ExporterConfig};
use crate::ifaces::Names;
use crate::lock;
use crate::metrics::Metrics;
use crate::netevents::NetDecoder;
use crate::netevents::keeper::{keep_ovs_collector, register_ovs_collector};
use crate::netns::in_netns;
use crate::tracer::{AttachKind, Tracer};
use crate::udn::UdnMapper;
use netobserv_pipeline::embedded::{EmbeddedOptions, InProcess};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the agent could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// eBPF load or map errors.
    #[error(transparent)]
    Tracer(#[from] TracerError),
    /// Exporter set-up.
    #[error(transparent)]
    Exporter(#[from] exporter::ExporterError),
    /// The in-process pipeline (`EXPORT=direct-flp`) cannot start.
    #[error("FLP_CONFIG: {0}")]
    Pipeline(#[from] netobserv_pipeline::service::RunError),
    /// Netlink, sockets, namespaces.
    #[error("{what}: {source}")]
    Io {
        /// Operation.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
}

/// A started agent. Dropping it without [`Agent::shutdown`] still detaches TCX links (closing
/// their fds) but may leave clsact filters; call `shutdown`.
pub struct Agent {
    ns_follower: Option<JoinHandle<()>>,
    shutdown_tx: watch::Sender<bool>,
    tracer: Arc<Mutex<Tracer>>,
    metrics: Arc<Metrics>,
    netns: Option<PathBuf>,
    watcher: JoinHandle<()>,
    server: Option<JoinHandle<()>>,
    metrics_addr: Option<SocketAddr>,
    mode: Mode,
}

/// What runs besides the interface watcher: flow eviction and export, or packet capture.
enum Mode {
    Flows(FlowTasks),
    Packets(crate::capture::Capture),
}

/// The flow mode's tasks.
struct FlowTasks {
    exporter_stop: watch::Sender<bool>,
    /// Drains the maps into export batches (the periodic task, `evict_now` and shutdown).
    eviction: Arc<Evictor>,
    /// Keeps the ring buffer drained between evictions.
    ring_drainer: JoinHandle<()>,
    /// Keeps the OVS sample collector set registered (retrying) and removes it at shutdown;
    /// `None` when NetworkEvents is off or the registration is disabled.
    ovs_collector: Option<JoinHandle<()>>,
    /// Keeps the interface → UDN map fresh; `None` when UDN mapping is off.
    udn_refresher: Option<JoinHandle<()>>,
    evictor: JoinHandle<()>,
    exporter: JoinHandle<()>,
    /// The pipeline running in this process (`EXPORT=direct-flp`); stopped after the exporter.
    pipeline: Option<InProcess>,
}

/// The tasks both modes run: the metrics server, the interface watcher (attaching the mode's
/// classifiers) and, on the host, the follower of the netns directories.
struct Watching {
    ns_follower: Option<JoinHandle<()>>,
    watcher: JoinHandle<()>,
    server: Option<JoinHandle<()>>,
    metrics_addr: Option<SocketAddr>,
}

/// Starts the metrics server and the interface watcher, and publishes the first status.
async fn watch_and_serve(
    cfg: &Config,
    tracer: &Arc<Mutex<Tracer>>,
    metrics: &Arc<Metrics>,
    names: &Names,
    shutdown: watch::Receiver<bool>,
) -> Result<Watching, AgentError> {
    let (server, metrics_addr) = start_metrics_server(cfg, metrics.clone(), shutdown).await?;
    let listening = crate::attacher::listen(cfg, metrics)
        .await
        .map_err(|source| AgentError::Io {
            what: "watching network interfaces",
            source,
        })?;
    crate::status::publish(cfg, &lock(tracer), metrics);
    let watcher = tokio::spawn(crate::attacher::watch_interfaces(
        cfg.clone(),
        listening.events,
        tracer.clone(),
        metrics.clone(),
        names.clone(),
    ));
    Ok(Watching {
        ns_follower: listening.ns_follower,
        watcher,
        server,
        metrics_addr,
    })
}

/// Measures the eBPF maps' kernel memory (now that they exist and are empty), logs it and
/// shows it in `/status`; returns the map ids and the baseline for later measurements.
fn measure_maps(tracer: &Tracer, metrics: &Metrics) -> (Vec<u32>, Vec<(u32, u64)>) {
    let map_ids = tracer.map_ids();
    let mem = crate::mapmem::measure(&map_ids, None);
    tracing::info!(
        bytes = mem.bytes_now,
        formula = %mem.formula,
        at_64_cpus = mem.full_bytes_64_cpus,
        "eBPF map memory"
    );
    let base = crate::mapmem::baseline(&mem);
    metrics.set_map_memory(mem);
    (map_ids, base)
}

/// The address reported as `AgentIP`: configured, else the source address of the default
/// route, else loopback.
fn discover_agent_ip(cfg: &Config) -> IpAddr {
    if let Some(ip) = cfg.agent_ip {
        return ip;
    }
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The exporter's settings from the agent's.
fn exporter_config(cfg: &Config) -> ExporterConfig {
    let ecfg = ExporterConfig::new(
        &cfg.target_host,
        cfg.target_port,
        cfg.grpc_message_max_flows,
        cfg.exporter_buffer_length,
    );
    if cfg.target_tls_ca_cert_path.is_empty() {
        return ecfg;
    }
    ecfg.with_tls(exporter::ExporterTls {
        ca_cert_path: cfg.target_tls_ca_cert_path.clone(),
        user_cert_path: cfg.target_tls_user_cert_path.clone(),
        user_key_path: cfg.target_tls_user_key_path.clone(),
    })
}

/// The export queue and task for `EXPORT`, and the in-process pipeline they feed for
/// `direct-flp`.
async fn start_export(
    cfg: &Config,
    metrics: &Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<(exporter::ExportQueue, JoinHandle<()>, Option<InProcess>), AgentError> {
    if let (Some(kafka), "kafka") = (&cfg.kafka, cfg.export.as_str()) {
        let (queue, task) = exporter::start_kafka(
            kafka.clone(),
            cfg.exporter_buffer_length,
            metrics.clone(),
            stop,
        );
        tracing::info!(
            topic = %kafka.topic,
            brokers = ?kafka.target.brokers,
            "exporting to Kafka (EXPORT=kafka)"
        );
        return Ok((queue, task, None));
    }
    if let Some(transport) = cfg.export.strip_prefix("ipfix+") {
        use netobserv_pipeline::write::ipfix::Transport;
        let transport = if transport == "udp" {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let (queue, task) = exporter::start_ipfix(
            &cfg.target_host,
            cfg.target_port,
            transport,
            cfg.exporter_buffer_length,
            metrics.clone(),
            stop,
        );
        tracing::info!(
            target_host = %cfg.target_host,
            target_port = cfg.target_port,
            ?transport,
            "exporting to an IPFIX collector (EXPORT={})",
            cfg.export
        );
        return Ok((queue, task, None));
    }
    if cfg.export != "direct-flp" {
        let (queue, task) = exporter::start(exporter_config(cfg), metrics.clone(), stop)?;
        return Ok((queue, task, None));
    }
    let pipeline = InProcess::start_text(&cfg.flp_config, EmbeddedOptions::default()).await?;
    let sender = pipeline.sender().ok_or_else(|| {
        netobserv_pipeline::service::RunError::Start("the in-process pipeline has no input".into())
    })?;
    let (queue, task) =
        exporter::start_in_process(sender, cfg.exporter_buffer_length, metrics.clone(), stop);
    tracing::info!("exporting to the in-process pipeline (EXPORT=direct-flp)");
    Ok((queue, task, Some(pipeline)))
}

/// Serves `/metrics` and `/status` when `METRICS_ENABLE` is set; returns the task and the
/// address it listens on.
async fn start_metrics_server(
    cfg: &Config,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> Result<(Option<JoinHandle<()>>, Option<SocketAddr>), AgentError> {
    if !cfg.metrics_enable {
        return Ok((None, None));
    }
    let host = if cfg.metrics_server_address.is_empty() {
        "0.0.0.0"
    } else {
        cfg.metrics_server_address.as_str()
    };
    let listener = tokio::net::TcpListener::bind((host, cfg.metrics_server_port))
        .await
        .map_err(|source| AgentError::Io {
            what: "binding the metrics server",
            source,
        })?;
    let addr = listener.local_addr().ok();
    let task = tokio::spawn(async move {
        if let Err(e) = crate::metrics::serve(listener, metrics, shutdown).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok((Some(task), addr))
}
/// Starts the UDN mapping when enabled: a first OVSDB read (so the first eviction already tags
/// flows when OVSDB is up; a failure is counted and retried, never fatal), then the periodic
/// refresh.
async fn start_udn_mapping(
    cfg: &Config,
    metrics: &Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> (Option<Arc<UdnMapper>>, Option<JoinHandle<()>>) {
    if !cfg.udn.enable {
        return (None, None);
    }
    let mapper = Arc::new(UdnMapper::new(&cfg.udn, metrics.clone()));
    match mapper.refresh().await {
        Ok(n) => tracing::info!(
            interfaces = n,
            socket = %cfg.udn.ovs_socket.display(),
            "UDN mapping: interface table read"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            socket = %cfg.udn.ovs_socket.display(),
            retry_every = ?cfg.udn.refresh_interval,
            "UDN mapping: OVSDB unreadable; flows carry no UDN until it answers"
        ),
    }
    let task = tokio::spawn(mapper.clone().run(cfg.udn.refresh_interval, shutdown));
    (Some(mapper), Some(task))
}

impl Agent {
    /// Loads the programs, starts every task and returns once interface watching is running:
    /// flows, or packets when `ENABLE_PCA` is set.
    pub async fn start(cfg: Config) -> Result<Self, AgentError> {
        let metrics = Arc::new(Metrics::new(&cfg.metrics_prefix));
        metrics.sampling_rate.set(i64::from(cfg.sampling));
        if cfg.capture.enable {
            Self::start_packets(cfg, metrics).await
        } else {
            Self::start_flows(cfg, metrics).await
        }
    }

    /// Flow mode: the flow classifiers and features, eviction and the `pbflow` exporter.
    async fn start_flows(cfg: Config, metrics: Arc<Metrics>) -> Result<Self, AgentError> {
        let (tracer, maps) = Tracer::load(&cfg)?;
        let decoder: NetDecoder = cfg.network_events.enable.then(|| {
            Arc::new(crate::netevents::Decoder::new(
                crate::netevents::DecoderConfig {
                    nb_socket: cfg.network_events.nb_socket.clone(),
                    ttl: cfg.network_events.cache_ttl,
                    max_entries: cfg.network_events.cache_max_entries,
                    ..Default::default()
                },
            ))
        });
        let tracer = Arc::new(Mutex::new(tracer));
        let maps = Arc::new(Mutex::new(maps));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);

        // The exporter stops last, after the final eviction at shutdown, hence its own signal.
        let (exporter_stop, exporter_stop_rx) = watch::channel(false);
        let (queue, exporter, pipeline) = start_export(&cfg, &metrics, exporter_stop_rx).await?;
        let names: Names = Arc::default();
        let watching =
            watch_and_serve(&cfg, &tracer, &metrics, &names, shutdown_rx.clone()).await?;
        let ovs_collector = register_ovs_collector(&cfg, &metrics)
            .await
            .map(|(c, last)| {
                tokio::spawn(keep_ovs_collector(
                    c,
                    last,
                    cfg.network_events.ovs_check_interval,
                    metrics.clone(),
                    shutdown_rx.clone(),
                ))
            });

        let (udn, udn_refresher) = start_udn_mapping(&cfg, &metrics, shutdown_rx.clone()).await;
        let agent_ip = pbflow::Ip::from_addr(discover_agent_ip(&cfg));
        let (map_ids, map_base) = measure_maps(&lock(&tracer), &metrics);
        let ring = lock(&maps).ring();
        let eviction = Arc::new(Evictor {
            maps,
            queue,
            metrics: metrics.clone(),
            names,
            agent_ip,
            decoder,
            udn,
            ringbuf_bytes: cfg.ringbuf_bytes(),
            map_ids,
            map_base,
        });
        let pressure = Arc::new(tokio::sync::Notify::new());
        let ring_drainer = tokio::spawn(crate::evict::keep_ring_drained(
            ring,
            cfg.high_water_flows(),
            pressure.clone(),
            shutdown_rx.clone(),
        ));
        let evictor = tokio::spawn(crate::evict::evict_loop(
            eviction.clone(),
            cfg.cache_active_timeout,
            cfg.high_water_flows(),
            pressure,
            shutdown_rx,
        ));
        tracing::info!(
            sampling = cfg.sampling,
            cache_max_flows = cfg.cache_max_flows,
            timeout = ?cfg.cache_active_timeout,
            ringbuf_bytes = cfg.ringbuf_bytes(),
            high_water_flows = cfg.high_water_flows(),
            "agent started"
        );
        Ok(Self::assemble(
            cfg,
            tracer,
            metrics,
            shutdown_tx,
            watching,
            Mode::Flows(FlowTasks {
                exporter_stop,
                eviction,
                ring_drainer,
                ovs_collector,
                udn_refresher,
                evictor,
                exporter,
                pipeline,
            }),
        ))
    }

    /// Packet mode (`ENABLE_PCA=true`): the capture classifiers, the packet ring's drain and the
    /// `pbpacket` exporter.
    async fn start_packets(cfg: Config, metrics: Arc<Metrics>) -> Result<Self, AgentError> {
        let ignored = crate::capture::ignored_features(&cfg);
        if !ignored.is_empty() {
            tracing::warn!(
                ignored = ?ignored,
                "packet capture mode (ENABLE_PCA=true): these flow features are off"
            );
        }
        let (tracer, source) = Tracer::load_packets(&cfg)?;
        let tracer = Arc::new(Mutex::new(tracer));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let names: Names = Arc::default();
        let capture = crate::capture::Capture::start(
            &cfg,
            exporter_config(&cfg),
            source,
            metrics.clone(),
            names.clone(),
            shutdown_rx.clone(),
        )?;
        let watching = watch_and_serve(&cfg, &tracer, &metrics, &names, shutdown_rx).await?;
        measure_maps(&lock(&tracer), &metrics);
        tracing::info!(
            sampling = cfg.sampling,
            snaplen = cfg.capture.snaplen,
            ringbuf_bytes = cfg.capture.ringbuf_bytes,
            export_queue = cfg.capture.queue_packets,
            export_in_flight = cfg.capture.in_flight,
            export_batch = cfg.capture.batch,
            filter_rules = cfg.flow_filter_rules.len(),
            "agent started in packet capture mode"
        );
        Ok(Self::assemble(
            cfg,
            tracer,
            metrics,
            shutdown_tx,
            watching,
            Mode::Packets(capture),
        ))
    }

    fn assemble(
        cfg: Config,
        tracer: Arc<Mutex<Tracer>>,
        metrics: Arc<Metrics>,
        shutdown_tx: watch::Sender<bool>,
        w: Watching,
        mode: Mode,
    ) -> Self {
        Self {
            ns_follower: w.ns_follower,
            shutdown_tx,
            tracer,
            metrics,
            netns: cfg.netns,
            watcher: w.watcher,
            server: w.server,
            metrics_addr: w.metrics_addr,
            mode,
        }
    }

    /// The agent's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Where `/metrics` and `/status` are served, when enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Interfaces currently hooked.
    pub fn attached(&self) -> Vec<(String, AttachKind)> {
        lock(&self.tracer).attached()
    }

    /// Drains the kernel map now and queues the result (the periodic eviction does the same);
    /// nothing in packet mode.
    pub async fn evict_now(&self) {
        if let Mode::Flows(f) = &self.mode {
            f.eviction.evict_once().await;
        }
    }

    /// Whether UDN mapping works and why not: `None` when `ENABLE_UDN_MAPPING` is off (or in
    /// packet mode, which tags no flows).
    pub fn udn_mapping_state(&self) -> Option<crate::udn::UdnMappingState> {
        match &self.mode {
            Mode::Flows(f) => f.eviction.udn.as_ref().map(|u| u.state()),
            Mode::Packets(_) => None,
        }
    }

    /// Kernel id of the NetworkEvents map when the feature is on: tests write into it exactly
    /// what the `psample_sample_packet` hook would, on kernels where the hook cannot attach.
    pub fn network_events_map_id(&self) -> Option<u32> {
        match &self.mode {
            Mode::Flows(f) => lock(&f.eviction.maps).network_events_map_id(),
            Mode::Packets(_) => None,
        }
    }

    /// Stops watching, detaches every hook, exports what the kernel still holds, then stops.
    pub async fn shutdown(self) -> Result<(), AgentError> {
        let _ = self.shutdown_tx.send(true);
        if let Some(f) = &self.ns_follower {
            f.abort();
        }
        self.watcher.abort();
        let _ = self.watcher.await;
        let mode = match self.mode {
            Mode::Flows(mut f) => {
                let _ = (&mut f.evictor).await;
                let _ = (&mut f.ring_drainer).await;
                if let Some(t) = f.udn_refresher.as_mut() {
                    let _ = t.await;
                }
                Mode::Flows(f)
            }
            packets => packets,
        };
        let tracer = self.tracer.clone();
        let netns = self.netns.clone();
        tokio::task::spawn_blocking(move || {
            in_netns(netns.as_deref(), || lock(&tracer).detach_all())
        })
        .await
        .map_err(|e| AgentError::Io {
            what: "detaching",
            source: std::io::Error::other(e),
        })?
        .map_err(|source| AgentError::Io {
            what: "entering the network namespace to detach",
            source,
        })?;
        match mode {
            Mode::Flows(f) => f.finish().await,
            // What was captured up to the detach goes out before the exporter stops.
            Mode::Packets(c) => c.finish(Duration::from_secs(10)).await,
        }
        if let Some(s) = self.server {
            s.abort();
        }
        tracing::info!("agent stopped, all hooks detached");
        Ok(())
    }
}

impl FlowTasks {
    /// After the detach: removes the OVS collector set if it is ours, exports the flows counted
    /// up to the detach, then stops the exporter.
    async fn finish(self) {
        // Signalled with the rest; removes the collector set if it is ours.
        if let Some(task) = self.ovs_collector
            && tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
        {
            tracing::warn!("NetworkEvents: OVS collector set removal did not finish within 10s");
        }
        // Flows counted up to the detach go out with the exporter's final drain.
        self.eviction.evict_once().await;
        drop(self.eviction);
        let _ = self.exporter_stop.send(true);
        if tokio::time::timeout(Duration::from_secs(10), self.exporter)
            .await
            .is_err()
        {
            tracing::warn!("exporter did not finish within 10s");
        }
        if let Some(pipeline) = self.pipeline {
            // Its queues close now that the exporter dropped its sender: the workers finish what
            // they hold and the writers flush.
            match tokio::time::timeout(Duration::from_secs(10), pipeline.stop()).await {
                Ok(Ok(outcome)) => tracing::info!(
                    ingested = outcome.summary.pipeline.ingested,
                    written = outcome.summary.written(),
                    "in-process pipeline stopped"
                ),
                Ok(Err(err)) => tracing::warn!(%err, "the in-process pipeline failed"),
                Err(_) => tracing::warn!("the in-process pipeline did not stop within 10s"),
            }
        }
    }
}
