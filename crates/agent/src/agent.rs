//! The running agent: interface watcher + attacher, periodic eviction, gRPC exporter and the
//! metrics/status server, with an orderly shutdown that leaves no hook behind.

use crate::config::Config;
use crate::evict::Evictor;
use crate::exporter::{self, ExporterConfig};
use crate::ifaces::{self, IfaceEvent};
use crate::metrics::{HookStatus, InterfaceStatus, MethodOffStatus, Metrics};
use crate::netevents::keeper::{keep_ovs_collector, register_ovs_collector};
use crate::netns::in_netns;
use crate::tracer::{AttachKind, HookState, MethodOff, Tracer, TracerError};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
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
    /// Netlink, sockets, namespaces.
    #[error("{what}: {source}")]
    Io {
        /// Operation.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
}

/// The NetworkEvents cookie decoder, when the feature is on.
pub(crate) type NetDecoder = Option<Arc<crate::netevents::Decoder>>;

/// Interface names for the records: by index in the observed namespace, and by (index, MAC)
/// for interfaces of secondary namespaces, whose indexes may repeat the observed ones.
#[derive(Default, Clone)]
pub(crate) struct IfaceNames {
    pub(crate) by_index: HashMap<u32, String>,
    pub(crate) by_mac: HashMap<(u32, [u8; 6]), String>,
}

pub(crate) type Names = Arc<RwLock<IfaceNames>>;

/// What the attacher receives: link changes tagged with their namespace (`None`: the observed
/// one), and secondary namespaces that went away.
enum WatchMsg {
    Iface(Option<PathBuf>, IfaceEvent),
    NsGone(PathBuf),
}

/// Key of an attachment: the name in the observed namespace, `NETNS_PATH:name` elsewhere
/// (interface names never contain `:`, so the name is what follows the last one).
fn iface_key(netns: Option<&Path>, name: &str) -> String {
    match netns {
        None => name.to_string(),
        Some(p) => format!("{}:{name}", p.display()),
    }
}

/// A started agent. Dropping it without [`Agent::shutdown`] still detaches TCX links (closing
/// their fds) but may leave clsact filters; call `shutdown`.
pub struct Agent {
    ns_follower: Option<JoinHandle<()>>,
    shutdown_tx: watch::Sender<bool>,
    exporter_stop: watch::Sender<bool>,
    tracer: Arc<Mutex<Tracer>>,
    metrics: Arc<Metrics>,
    netns: Option<PathBuf>,
    /// Drains the maps into export batches (the periodic task, `evict_now` and shutdown).
    eviction: Arc<Evictor>,
    /// Keeps the ring buffer drained between evictions.
    ring_drainer: JoinHandle<()>,
    /// Keeps the OVS sample collector set registered (retrying) and removes it at shutdown;
    /// `None` when NetworkEvents is off or the registration is disabled.
    ovs_collector: Option<JoinHandle<()>>,
    watcher: JoinHandle<()>,
    evictor: JoinHandle<()>,
    exporter: JoinHandle<()>,
    server: Option<JoinHandle<()>>,
    metrics_addr: Option<SocketAddr>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
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

fn feature_hooks(
    cfg: &Config,
    attached: &[(String, AttachKind)],
    rtt: (&HookState, bool),
    rtt_off: &[MethodOff],
    drops: (&HookState, bool),
    netevents: (&HookState, &[MethodOff]),
    xlat: (&HookState, &[MethodOff]),
) -> Vec<HookStatus> {
    let mut kinds: Vec<&str> = attached
        .iter()
        .map(|(_, k)| match k {
            AttachKind::Tcx => "tcx",
            AttachKind::Tc => "tc",
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let flow = HookStatus {
        hook: "FlowCapture".into(),
        active: !attached.is_empty(),
        mode: (!kinds.is_empty()).then(|| kinds.join("+")),
        reason: attached
            .is_empty()
            .then(|| "no selected interface is up yet".to_string()),
        ..HookStatus::default()
    };
    let unavailable = |hook: &str, why: &str| HookStatus {
        hook: hook.into(),
        active: false,
        mode: None,
        reason: Some(why.into()),
        ..HookStatus::default()
    };
    vec![
        flow.clone(),
        match drops.0 {
            HookState::Active(mode) => HookStatus {
                hook: "PacketDrop".into(),
                active: true,
                mode: Some((*mode).into()),
                method: Some(if drops.1 {
                    format!("{mode}/kfree_skb (probe reads)")
                } else {
                    format!("{mode}/kfree_skb")
                }),
                ..HookStatus::default()
            },
            HookState::Off(why) => HookStatus {
                hook: "PacketDrop".into(),
                active: false,
                mode: None,
                reason: Some(why.clone()),
                ..HookStatus::default()
            },
        },
        // DNS tracking runs inside the flow classifiers: it is active wherever they are.
        if cfg.enable_dns_tracking {
            HookStatus {
                hook: "DNSTracking".into(),
                active: !attached.is_empty(),
                mode: flow.mode.clone(),
                method: flow.mode.as_ref().map(|m| format!("{m}/flow classifiers")),
                reason: attached
                    .is_empty()
                    .then(|| "no selected interface is up yet".to_string()),
                ..HookStatus::default()
            }
        } else {
            unavailable("DNSTracking", "disabled (ENABLE_DNS_TRACKING is false)")
        },
        {
            let mut st = methods_status(
                "FlowRTT",
                rtt.0,
                rtt_off,
                &[crate::tracer::RTT_FENTRY, crate::tracer::RTT_TP_BTF],
            );
            if rtt.1
                && let Some(m) = st.method.as_mut()
            {
                m.push_str(" (probe reads)");
            }
            st
        },
        methods_status(
            "NetworkEvents",
            netevents.0,
            netevents.1,
            &[
                crate::netevents::kernel::FENTRY,
                crate::netevents::kernel::KPROBE,
            ],
        ),
        methods_status(
            "PacketTranslation",
            xlat.0,
            xlat.1,
            &crate::xlat::XLAT_METHODS,
        ),
        unavailable(
            "IPsec",
            "needs kprobes on xfrm_input/xfrm_output; not implemented",
        ),
    ]
}

/// The row of a hook with several attach methods (FlowRTT, PacketTranslation): active method,
/// and why each other method is off (e.g. fentry refused by a locked-down kernel, with the load
/// error).
fn methods_status(
    hook: &str,
    state: &HookState,
    off: &[MethodOff],
    methods: &[crate::tracer::Method],
) -> HookStatus {
    let methods_off = off
        .iter()
        .map(|o| MethodOffStatus {
            method: o.method.into(),
            mode: o.method.split('/').next().unwrap_or(o.method).into(),
            reason: o.reason.clone(),
        })
        .collect();
    match state {
        HookState::Active(mode) => {
            let method = methods
                .iter()
                .find(|m| m.mode == *mode)
                .map_or_else(|| (*mode).to_string(), |m| m.name.to_string());
            let reason = (!off.is_empty()).then(|| {
                off.iter()
                    .map(|o| o.reason.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            HookStatus {
                hook: hook.into(),
                active: true,
                mode: Some((*mode).into()),
                reason,
                method: Some(method),
                methods_off,
            }
        }
        HookState::Off(why) => HookStatus {
            hook: hook.into(),
            active: false,
            mode: None,
            reason: Some(why.clone()),
            method: None,
            methods_off,
        },
    }
}

fn publish_status(cfg: &Config, tracer: &Tracer, metrics: &Metrics) {
    metrics.set_flow_end_clock(if tracer.coarse_clock {
        "coarse"
    } else {
        "precise"
    });
    metrics.set_flow_cache(&tracer.flow_cache);
    let attached = tracer.attached();
    metrics.set_hooks(feature_hooks(
        cfg,
        &attached,
        (&tracer.rtt, tracer.rtt_probe_reads),
        &tracer.rtt_methods_off,
        (&tracer.drops, tracer.drops_probe_reads),
        (&tracer.netevents, &tracer.netevents_methods_off),
        (&tracer.xlat, &tracer.xlat_methods_off),
    ));
    metrics.set_interfaces(
        attached
            .iter()
            .map(|(key, k)| {
                let (netns, name) = match key.rsplit_once(':') {
                    Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
                    None => (None, key.clone()),
                };
                InterfaceStatus {
                    name,
                    mode: match k {
                        AttachKind::Tcx => "tcx".into(),
                        AttachKind::Tc => "tc".into(),
                    },
                    netns,
                }
            })
            .collect(),
    );
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

impl Agent {
    /// Loads the programs, starts every task and returns once interface watching is running.
    pub async fn start(cfg: Config) -> Result<Self, AgentError> {
        let metrics = Arc::new(Metrics::new(&cfg.metrics_prefix));
        metrics.sampling_rate.set(i64::from(cfg.sampling));
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
        let (queue, exporter) =
            exporter::start(exporter_config(&cfg), metrics.clone(), exporter_stop_rx)?;
        let (server, metrics_addr) =
            start_metrics_server(&cfg, metrics.clone(), shutdown_rx.clone()).await?;

        let names: Names = Arc::default();
        let mut own = ifaces::watch(cfg.netns.clone())
            .await
            .map_err(|source| AgentError::Io {
                what: "watching network interfaces",
                source,
            })?;
        let (events_tx, events) = tokio::sync::mpsc::unbounded_channel();
        let tx = events_tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = own.recv().await {
                if tx.send(WatchMsg::Iface(None, ev)).is_err() {
                    return;
                }
            }
        });
        // Secondary namespaces (privileged agent on the host): follow the netns directories.
        let ns_follower = if cfg.netns.is_none() && !cfg.netns_dirs.is_empty() {
            match crate::nswatch::watch(&cfg.netns_dirs) {
                Ok(ns_events) => Some(tokio::spawn(follow_namespaces(
                    ns_events,
                    events_tx,
                    metrics.clone(),
                ))),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch network namespace directories");
                    None
                }
            }
        } else {
            None
        };
        publish_status(&cfg, &lock(&tracer), &metrics);
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
        let watcher = tokio::spawn(watch_interfaces(
            cfg.clone(),
            events,
            tracer.clone(),
            metrics.clone(),
            names.clone(),
        ));

        let agent_ip = pbflow::Ip::from_addr(discover_agent_ip(&cfg));
        // The maps' kernel memory, measured now that they exist and are empty.
        let map_ids = lock(&tracer).map_ids();
        let mem = crate::mapmem::measure(&map_ids, None);
        tracing::info!(
            bytes = mem.bytes_now,
            formula = %mem.formula,
            at_64_cpus = mem.full_bytes_64_cpus,
            "eBPF map memory"
        );
        let map_base = crate::mapmem::baseline(&mem);
        metrics.set_map_memory(mem);
        let ring = lock(&maps).ring();
        let eviction = Arc::new(Evictor {
            maps,
            queue,
            metrics: metrics.clone(),
            names,
            agent_ip,
            decoder,
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
        Ok(Self {
            ns_follower,
            shutdown_tx,
            exporter_stop,
            tracer,
            metrics,
            netns: cfg.netns,
            eviction,
            ring_drainer,
            ovs_collector,
            watcher,
            evictor,
            exporter,
            server,
            metrics_addr,
        })
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

    /// Drains the kernel map now and queues the result (the periodic eviction does the same).
    pub async fn evict_now(&self) {
        self.eviction.evict_once().await;
    }

    /// Kernel id of the NetworkEvents map when the feature is on: tests write into it exactly
    /// what the `psample_sample_packet` hook would, on kernels where the hook cannot attach.
    pub fn network_events_map_id(&self) -> Option<u32> {
        lock(&self.eviction.maps).network_events_map_id()
    }

    /// Stops watching, detaches every hook, exports what the kernel still holds, then stops.
    pub async fn shutdown(self) -> Result<(), AgentError> {
        let _ = self.shutdown_tx.send(true);
        if let Some(f) = &self.ns_follower {
            f.abort();
        }
        self.watcher.abort();
        let _ = self.watcher.await;
        let _ = self.evictor.await;
        let _ = self.ring_drainer.await;
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
        // Signalled with the rest above; removes the collector set if it is ours.
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
        if let Some(s) = self.server {
            s.abort();
        }
        tracing::info!("agent stopped, all hooks detached");
        Ok(())
    }
}

async fn attach_with_retries(
    cfg: &Config,
    tracer: &Arc<Mutex<Tracer>>,
    secondary: Option<&Path>,
    key: &str,
    name: &str,
) -> Result<AttachKind, String> {
    let attempts = cfg.tc_attach_retries + 1;
    let mut last = String::new();
    for attempt in 1..=attempts {
        let t = tracer.clone();
        let secondary = secondary.map(Path::to_path_buf);
        let netns = secondary.clone().or_else(|| cfg.netns.clone());
        let (k, n) = (key.to_string(), name.to_string());
        let res = tokio::task::spawn_blocking(move || {
            in_netns(netns.as_deref(), || {
                lock(&t).attach_keyed(&k, &n, secondary.as_deref())
            })
        })
        .await;
        match res {
            Ok(Ok(Ok(kind))) => return Ok(kind),
            Ok(Ok(Err(e))) => last = e.to_string(),
            Ok(Err(e)) => last = e.to_string(),
            Err(e) => last = e.to_string(),
        }
        if attempt < attempts {
            tokio::time::sleep(Duration::from_millis(300) * attempt).await;
        }
    }
    Err(last)
}

/// Follows the netns directories: a link watcher per namespace file, stopped (releasing the
/// namespace) when the file goes away.
async fn follow_namespaces(
    mut ns_events: tokio::sync::mpsc::UnboundedReceiver<crate::nswatch::NsEvent>,
    tx: tokio::sync::mpsc::UnboundedSender<WatchMsg>,
    metrics: Arc<Metrics>,
) {
    use crate::nswatch::NsEvent;
    let mut running: HashMap<PathBuf, JoinHandle<()>> = HashMap::new();
    while let Some(ev) = ns_events.recv().await {
        match ev {
            NsEvent::Added(path) => {
                if let Some(h) = running.remove(&path) {
                    h.abort();
                }
                let task =
                    tokio::spawn(follow_namespace(path.clone(), tx.clone(), metrics.clone()));
                running.insert(path, task);
            }
            NsEvent::Removed(path) => {
                // Aborting drops the watcher's guard, closing the netlink socket that pins the
                // namespace.
                if let Some(h) = running.remove(&path) {
                    h.abort();
                }
                if tx.send(WatchMsg::NsGone(path)).is_err() {
                    break;
                }
            }
        }
    }
    for (_, h) in running {
        h.abort();
    }
}

/// Watches the links of one secondary namespace. The namespace file appears before the
/// namespace is bind-mounted on it (`ip netns add`, CNI plugins), so entering it is retried for
/// up to 3 s; after that the namespace is reported once and left alone.
async fn follow_namespace(
    path: PathBuf,
    tx: tokio::sync::mpsc::UnboundedSender<WatchMsg>,
    metrics: Arc<Metrics>,
) {
    let mut last = String::from("not a network namespace");
    let mut watcher = None;
    for _ in 0..30 {
        if crate::nswatch::is_namespace(&path) {
            // An agent started inside a named namespace finds that namespace in the directory
            // too: its interfaces are already the observed ones.
            if crate::nswatch::same_namespace(&path, std::path::Path::new("/proc/self/ns/net")) {
                tracing::info!(
                    netns = %path.display(),
                    "this is the agent's own network namespace, already observed; not watched again"
                );
                return;
            }
            match ifaces::watch_guarded(Some(path.clone())).await {
                Ok(w) => {
                    watcher = Some(w);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some((mut rx, _guard)) = watcher else {
        metrics
            .errors
            .get_or_create(&vec![
                ("component".into(), "netns".into()),
                ("error".into(), "CannotWatchNamespace".into()),
                ("severity".into(), "low".into()),
            ])
            .inc();
        tracing::warn!(netns = %path.display(), error = %last, "cannot watch this network namespace");
        return;
    };
    tracing::info!(netns = %path.display(), "watching the interfaces of a secondary network namespace");
    while let Some(ev) = rx.recv().await {
        if tx.send(WatchMsg::Iface(Some(path.clone()), ev)).is_err() {
            return;
        }
    }
}

async fn watch_interfaces(
    cfg: Config,
    mut events: tokio::sync::mpsc::UnboundedReceiver<WatchMsg>,
    tracer: Arc<Mutex<Tracer>>,
    metrics: Arc<Metrics>,
    names: Names,
) {
    let event_counter = |t: &str| {
        metrics
            .interface_events
            .get_or_create(&vec![("type".to_string(), t.to_string())])
            .inc();
    };
    // Names learnt per secondary namespace, forgotten a little after the namespace goes (the
    // last eviction of its flows still needs them), so pod churn does not grow the map.
    let mut ns_names: HashMap<PathBuf, Vec<(u32, [u8; 6])>> = HashMap::new();
    let linger = cfg.cache_active_timeout * 2 + Duration::from_secs(1);
    while let Some(msg) = events.recv().await {
        match msg {
            WatchMsg::Iface(netns, IfaceEvent::Up { index, name, mac }) => {
                {
                    let mut n = names.write().unwrap_or_else(PoisonError::into_inner);
                    match &netns {
                        None => {
                            n.by_index.insert(index, name.clone());
                        }
                        Some(p) => {
                            n.by_mac.insert((index, mac), name.clone());
                            ns_names.entry(p.clone()).or_default().push((index, mac));
                        }
                    }
                }
                if !cfg.interface_selected(&name) {
                    continue;
                }
                let key = iface_key(netns.as_deref(), &name);
                if lock(&tracer).attached().iter().any(|(n, _)| *n == key) {
                    continue;
                }
                event_counter("up");
                match attach_with_retries(&cfg, &tracer, netns.as_deref(), &key, &name).await {
                    Ok(kind) => {
                        tracing::info!(iface = %name, netns = ?netns, ?kind, "classifiers attached")
                    }
                    Err(e) => {
                        metrics
                            .errors
                            .get_or_create(&vec![
                                ("component".into(), "tracer".into()),
                                ("error".into(), "CannotAttach".into()),
                                ("severity".into(), "high".into()),
                            ])
                            .inc();
                        tracing::warn!(iface = %name, netns = ?netns, error = %e, "cannot attach classifiers");
                    }
                }
            }
            WatchMsg::Iface(netns, IfaceEvent::Gone { index: _, name }) => {
                event_counter("gone");
                lock(&tracer).forget(&iface_key(netns.as_deref(), &name));
                tracing::info!(iface = %name, netns = ?netns, "interface removed");
            }
            WatchMsg::NsGone(path) => {
                event_counter("netns_gone");
                if let Some(keys) = ns_names.remove(&path) {
                    let names = names.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(linger).await;
                        let mut n = names.write().unwrap_or_else(PoisonError::into_inner);
                        for k in keys {
                            n.by_mac.remove(&k);
                        }
                    });
                }
                let mut t = lock(&tracer);
                let keys = t.attached_in(&path);
                for k in &keys {
                    t.forget_gone(k);
                }
                tracing::info!(netns = %path.display(), detached = keys.len(), "network namespace removed");
            }
        }
        publish_status(&cfg, &lock(&tracer), &metrics);
    }
}
