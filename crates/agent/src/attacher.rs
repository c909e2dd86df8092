//! Keeps the classifiers on the selected interfaces: follows link changes in the observed
//! namespace and, for a privileged agent on the host, in every namespace of the netns
//! directories; attaches (with retries) what comes up, forgets what goes, and keeps the
//! interface names the records carry.

use crate::config::Config;
use crate::ifaces::{self, IfaceEvent, Names};
use crate::lock;
use crate::metrics::Metrics;
use crate::netns::in_netns;
use crate::nswatch::NsEvent;
use crate::tracer::{AttachKind, Tracer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

/// What the attacher receives: link changes tagged with their namespace (`None`: the observed
/// one), and secondary namespaces that went away.
pub(crate) enum WatchMsg {
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

/// Link changes of every watched namespace, merged, and the task that follows the netns
/// directories (when any).
pub(crate) struct Listening {
    pub(crate) events: UnboundedReceiver<WatchMsg>,
    pub(crate) ns_follower: Option<JoinHandle<()>>,
}

/// Starts following the links of the observed namespace and, when the agent runs on the host
/// (no `NETOBSERV_NETNS`) with netns directories, of the namespaces found there.
pub(crate) async fn listen(cfg: &Config, metrics: &Arc<Metrics>) -> std::io::Result<Listening> {
    let mut own = ifaces::watch(cfg.netns.clone()).await?;
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
    Ok(Listening {
        events,
        ns_follower,
    })
}

/// Attaches to one interface, retrying `TC_ATTACH_RETRIES` times with a growing pause.
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
    mut ns_events: UnboundedReceiver<NsEvent>,
    tx: UnboundedSender<WatchMsg>,
    metrics: Arc<Metrics>,
) {
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
async fn follow_namespace(path: PathBuf, tx: UnboundedSender<WatchMsg>, metrics: Arc<Metrics>) {
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

/// Attaches the classifiers to every selected interface that comes up, forgets those that go,
/// and publishes the hooks' status after each change.
pub(crate) async fn watch_interfaces(
    cfg: Config,
    mut events: UnboundedReceiver<WatchMsg>,
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
        crate::status::publish(&cfg, &lock(&tracer), &metrics);
    }
}
