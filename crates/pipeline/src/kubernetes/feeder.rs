//! Keeps a [`KubeIndex`] up to date from the API server: one watcher per kind (Pods, Nodes,
//! Services, and ReplicaSets as metadata only), run as tasks of the process's runtime.
//!
//! Starting never fails because the API server is away: in a cluster it may answer only seconds
//! later, and exiting would turn that into a crash loop. The feeder retries with backoff, logs one
//! WARN per attempt naming the API server address and the error (with its causes), and reports
//! through [`FeedState`] whether the first full listing arrived; the pipeline holds flows and keeps
//! `/ready` failing until then.

use super::udn::{ClusterUserDefinedNetwork, UserDefinedNetwork};
use super::{Indexed, KubeIndex, SharedIndex};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Config};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

/// How long the API server gets to answer one connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// First and longest delay between connection attempts.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Why Kubernetes enrichment cannot (yet) work.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// No usable client configuration (kubeconfig or in-cluster).
    #[error("cannot load the Kubernetes client configuration: {0}")]
    Config(String),
    /// The API server did not answer.
    #[error("the Kubernetes API server is unreachable: {0}")]
    Unreachable(String),
    /// The API server refuses to list a kind (RBAC, missing resource).
    #[error("cannot list {kind}: {reason}")]
    Refused {
        /// The kind.
        kind: &'static str,
        /// The API server's answer.
        reason: String,
    },
    /// The watcher thread or its runtime could not start.
    #[error("cannot start the Kubernetes watchers: {0}")]
    Start(String),
}

/// An error with every cause it wraps (`client error (Connect): tcp connect error: Connection
/// refused`), since the outer message alone rarely says what went wrong.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether the index had its first full listing, and what stands in the way if not.
#[derive(Debug)]
pub struct FeedState {
    synced: AtomicBool,
    status: Mutex<String>,
}

impl Default for FeedState {
    fn default() -> Self {
        Self {
            synced: AtomicBool::new(false),
            status: Mutex::new("connecting to the Kubernetes API server".into()),
        }
    }
}

impl FeedState {
    /// Whether Pods, Nodes, Services and ReplicaSets were all listed once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// What the feeder is waiting for (the last error, or the listings still missing).
    pub fn status(&self) -> String {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn set_status(&self, status: String) {
        if let Ok(mut s) = self.status.lock() {
            *s = status;
        }
    }

    /// Waits up to `timeout` for the first listing (tests, tools).
    pub fn wait_synced(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while !self.is_synced() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }
}

/// Starts keeping `index` up to date from the cluster of `path` (a kubeconfig; empty means
/// `KUBECONFIG`, the default kubeconfig or in-cluster), as a task on `runtime`: it connects
/// (retrying), lists Pods, Nodes, Services and ReplicaSets, then follows their changes until the
/// index is dropped. The returned state tells when the first listing is in.
///
/// Only a missing client configuration fails at once (no kubeconfig and not in a pod: waiting
/// would not help); an API server that does not answer is waited for. Called outside the
/// runtime's async context (a build runs on a blocking thread), since it waits for the
/// configuration to load.
pub fn start_feeder(
    path: &str,
    index: &SharedIndex,
    runtime: &tokio::runtime::Handle,
) -> Result<Arc<FeedState>, FeedError> {
    let state = Arc::new(FeedState::default());
    let path = path.to_string();
    let weak = Arc::downgrade(index);
    runtime.block_on(client_config(&path))?;
    runtime.spawn(run(path, weak, state.clone()));
    Ok(state)
}

/// Whether the cluster of `path` (a kubeconfig) can enrich flows now: it answers within
/// `timeout` and lets this user list pods. A program that only enriches when it can (local mode)
/// asks first, since a pipeline with `add_kubernetes` holds its flows until the first listing.
/// Returns the API server URL.
pub async fn probe(path: &str, timeout: Duration) -> Result<String, FeedError> {
    let attempt = async {
        let (client, url) = connect(path).await?;
        Api::<Pod>::all(client)
            .list_metadata(&kube::api::ListParams::default().limit(1))
            .await
            .map_err(|e| FeedError::Refused {
                kind: "Pod",
                reason: error_chain(&e),
            })?;
        Ok(url)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(FeedError::Unreachable(format!(
                "no answer within {timeout:?}"
            )))
        })
}

/// A client for the cluster of `path` (a kubeconfig; empty means `KUBECONFIG`, the default
/// kubeconfig or in-cluster), checked by asking the server for its version. Also returns the
/// API server URL, for messages.
pub(crate) async fn connect(path: &str) -> Result<(Client, String), FeedError> {
    let config = client_config(path).await?;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config)
        .map_err(|e| FeedError::Config(format!("{url}: {}", error_chain(&e))))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(version)) => {
            tracing::info!(%url, version = %version.git_version, "connected to the Kubernetes API");
            Ok((client, url))
        }
        Ok(Err(e)) => Err(FeedError::Unreachable(format!(
            "{url}: {}",
            error_chain(&e)
        ))),
        Err(_) => Err(FeedError::Unreachable(format!(
            "{url}: no answer within {CONNECT_TIMEOUT:?}"
        ))),
    }
}

/// The client configuration of `path` (a kubeconfig; empty means `KUBECONFIG`, the default
/// kubeconfig or in-cluster).
pub(crate) async fn client_config(path: &str) -> Result<Config, FeedError> {
    Ok(if path.is_empty() {
        Config::infer()
            .await
            .map_err(|e| FeedError::Config(error_chain(&e)))?
    } else {
        let kubeconfig = Kubeconfig::read_from(path)
            .map_err(|e| FeedError::Config(format!("{path}: {}", error_chain(&e))))?;
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| FeedError::Config(format!("{path}: {}", error_chain(&e))))?
    })
}

/// Connects, retrying with backoff until it works or the index is dropped.
async fn connect_with_retry(
    path: &str,
    index: &Weak<RwLock<KubeIndex>>,
    state: &FeedState,
) -> Option<(Client, String)> {
    let mut delay = RETRY_FIRST;
    let mut attempt = 1u32;
    loop {
        match connect(path).await {
            Ok(c) => return Some(c),
            Err(e) => {
                tracing::warn!(
                    attempt,
                    retry_in = ?delay,
                    error = %e,
                    "Kubernetes enrichment waits for the API server; flows are held meanwhile"
                );
                state.set_status(e.to_string());
            }
        }
        tokio::time::sleep(delay).await;
        index.upgrade()?;
        delay = (delay * 2).min(RETRY_MAX);
        attempt += 1;
    }
}

async fn run(path: String, index: Weak<RwLock<KubeIndex>>, state: Arc<FeedState>) {
    let Some((client, url)) = connect_with_retry(&path, &index, &state).await else {
        return;
    };
    state.set_status(format!(
        "listing Pods, Nodes, Services and ReplicaSets from {url}"
    ));
    let (synced_tx, mut synced_rx) = tokio::sync::mpsc::unbounded_channel::<Synced>();
    let config = watcher::Config::default;
    let udn = index
        .upgrade()
        .is_some_and(|i| i.read().is_ok_and(|i| i.settings().udn));
    let udns = udn_watchers(
        client.clone(),
        index.clone(),
        synced_tx.clone(),
        url.clone(),
        udn,
    );
    let kinds_expected = if udn { 6 } else { 4 };
    let pods = watch(
        "Pod",
        watcher::watcher(Api::<Pod>::all(client.clone()), config()).default_backoff(),
        index.clone(),
        synced_tx.clone(),
        &url,
    );
    let nodes = watch(
        "Node",
        watcher::watcher(Api::<Node>::all(client.clone()), config()).default_backoff(),
        index.clone(),
        synced_tx.clone(),
        &url,
    );
    let services = watch(
        "Service",
        watcher::watcher(Api::<Service>::all(client.clone()), config()).default_backoff(),
        index.clone(),
        synced_tx.clone(),
        &url,
    );
    let replica_sets = watch(
        "ReplicaSet",
        watcher::watcher(Api::<PartialObjectMeta<ReplicaSet>>::all(client), config())
            .default_backoff(),
        index.clone(),
        synced_tx,
        &url,
    );
    let feed = state.clone();
    let wait_sync = async move {
        let mut kinds: Vec<&'static str> = Vec::new();
        while kinds.len() < kinds_expected {
            match synced_rx.recv().await {
                Some(Ok(kind)) => {
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                    tracing::debug!(kind, "kubernetes cache synced");
                }
                Some(Err(error)) => feed.set_status(error.to_string()),
                None => return,
            }
        }
        if let Some(index) = index.upgrade() {
            let counts = index.read().map(|i| i.counts()).unwrap_or_default();
            tracing::info!(
                pods = counts.0,
                nodes = counts.1,
                services = counts.2,
                replica_sets = counts.3,
                "kubernetes caches synced"
            );
        }
        feed.set_status("synced".into());
        feed.synced.store(true, Ordering::Release);
    };
    tokio::join!(pods, nodes, services, replica_sets, udns, wait_sync);
    tracing::debug!("kubernetes watchers stopped (index dropped)");
}

/// With the `udn` index: watchers of the (C)UDN objects (metadata only), which tell the index
/// how to label pods' UDN keys. A cluster without the OVN-Kubernetes CRDs answers 404: that
/// counts as an empty listing (the index then labels pods both ways), so flows are not held.
async fn udn_watchers(
    client: Client,
    index: Weak<RwLock<KubeIndex>>,
    synced: tokio::sync::mpsc::UnboundedSender<Synced>,
    url: String,
    enabled: bool,
) {
    if !enabled {
        return;
    }
    let config = watcher::Config::default;
    let udns = watch_optional(
        "UserDefinedNetwork",
        watcher::watcher(
            Api::<PartialObjectMeta<UserDefinedNetwork>>::all(client.clone()),
            config(),
        )
        .default_backoff(),
        index.clone(),
        synced.clone(),
        &url,
    );
    let cudns = watch_optional(
        "ClusterUserDefinedNetwork",
        watcher::watcher(
            Api::<PartialObjectMeta<ClusterUserDefinedNetwork>>::all(client),
            config(),
        )
        .default_backoff(),
        index,
        synced,
        &url,
    );
    tokio::join!(udns, cudns);
}

/// [`watch`] for a kind whose CRD may be missing: a refusal of the first listing reports the
/// kind synced (empty) instead of holding flows, and the watcher keeps retrying.
async fn watch_optional<K: Indexed>(
    kind: &'static str,
    stream: impl Stream<Item = Result<Event<K>, watcher::Error>>,
    index: Weak<RwLock<KubeIndex>>,
    synced: tokio::sync::mpsc::UnboundedSender<Synced>,
    url: &str,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Synced>();
    let forward = async move {
        let mut reported = false;
        while let Some(msg) = rx.recv().await {
            if reported {
                continue;
            }
            reported = true;
            let msg = match msg {
                Err(FeedError::Refused { kind, reason }) => {
                    tracing::warn!(
                        kind,
                        %reason,
                        "cannot list OVN-Kubernetes user-defined networks; pods on them are \
                         indexed under both the namespaced and the cluster label"
                    );
                    Ok(kind)
                }
                other => other,
            };
            let _ = synced.send(msg);
        }
    };
    tokio::join!(watch(kind, stream, index, tx, url), forward);
}

/// A kind's first listing is complete, or the API server refuses it for good.
type Synced = Result<&'static str, FeedError>;

/// An answer that says the pipeline is not allowed or the resource does not exist (RBAC applied
/// late, missing CRD): retried like the rest, but reported as such.
fn refusal(error: &watcher::Error) -> Option<String> {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
            if matches!(status.code, 401 | 403 | 404) =>
        {
            Some(format!("{} ({})", status.message, status.code))
        }
        _ => None,
    }
}

/// Applies one kind's watch events to the index until the index is dropped.
async fn watch<K: Indexed>(
    kind: &'static str,
    stream: impl Stream<Item = Result<Event<K>, watcher::Error>>,
    index: Weak<RwLock<KubeIndex>>,
    synced: tokio::sync::mpsc::UnboundedSender<Synced>,
    url: &str,
) {
    let mut stream = std::pin::pin!(stream);
    let mut relist: Vec<K> = Vec::new();
    let mut first = true;
    while let Some(event) = stream.next().await {
        let Some(index) = index.upgrade() else {
            return;
        };
        let write = || index.write().unwrap_or_else(|p| p.into_inner());
        match event {
            Ok(Event::Apply(object)) => write().apply(&object),
            Ok(Event::Delete(object)) => write().delete(&object),
            Ok(Event::Init) => relist.clear(),
            Ok(Event::InitApply(object)) => relist.push(object),
            Ok(Event::InitDone) => {
                write().replace_all(&relist);
                tracing::debug!(kind, objects = relist.len(), "kubernetes listing applied");
                relist = Vec::new();
                if first {
                    first = false;
                    let _ = synced.send(Ok(kind));
                }
            }
            Err(e) => {
                let error = error_chain(&e);
                if first {
                    let status = match refusal(&e) {
                        Some(reason) => FeedError::Refused { kind, reason },
                        None => FeedError::Unreachable(format!("{url}: {error}")),
                    };
                    let _ = synced.send(Err(status));
                }
                tracing::warn!(kind, %url, %error, "kubernetes watch failed; retrying with backoff");
            }
        }
    }
}
