//! Keeps a [`KubeIndex`] up to date from the API server: one watcher per kind (Pods, Nodes,
//! Services, and ReplicaSets as metadata only), run on a dedicated thread with its own small
//! runtime so the pipeline's runtime flavour does not matter and building the stage can wait for
//! the first full listing without risking a deadlock.

use super::{Indexed, KubeIndex, KubeSettings, SharedIndex};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Config};
use std::sync::mpsc;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// How long the API server gets to answer the first request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long building the stage waits for the four initial listings.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);

/// Why Kubernetes enrichment cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// No usable client configuration (kubeconfig or in-cluster).
    #[error("cannot load the Kubernetes client configuration: {0}")]
    Config(String),
    /// The API server did not answer.
    #[error("the Kubernetes API server is unreachable: {0}")]
    Unreachable(String),
    /// The initial listings did not complete in time.
    #[error("the Kubernetes caches did not sync within {0:?}")]
    SyncTimeout(Duration),
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

/// Connects to the cluster `settings` designate, fills `index` with a first full listing of
/// Pods, Nodes, Services and ReplicaSets, then keeps it updated in the background until the index
/// is dropped. Returns an error when no cluster is reachable, so a pipeline never runs believing
/// it enriches flows while it cannot.
pub fn start_feeder(settings: &KubeSettings, index: &SharedIndex) -> Result<(), FeedError> {
    let (tx, rx) = mpsc::channel::<Result<(), FeedError>>();
    let path = settings.config_path.clone();
    let weak = Arc::downgrade(index);
    std::thread::Builder::new()
        .name("kube-watchers".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Err(FeedError::Start(e.to_string())));
                    return;
                }
            };
            runtime.block_on(run(path, weak, tx));
        })
        .map_err(|e| FeedError::Start(e.to_string()))?;
    match rx.recv_timeout(SYNC_TIMEOUT) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(FeedError::SyncTimeout(SYNC_TIMEOUT)),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(FeedError::Start("the watcher thread stopped".into()))
        }
    }
}

/// A client for the cluster of `path` (a kubeconfig; empty means in-cluster or the default
/// kubeconfig), checked by asking the server for its version.
pub(crate) async fn connect(path: &str) -> Result<Client, FeedError> {
    let config = if path.is_empty() {
        Config::infer()
            .await
            .map_err(|e| FeedError::Config(e.to_string()))?
    } else {
        let kubeconfig =
            Kubeconfig::read_from(path).map_err(|e| FeedError::Config(format!("{path}: {e}")))?;
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| FeedError::Config(format!("{path}: {e}")))?
    };
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|e| FeedError::Config(format!("{url}: {e}")))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(version)) => {
            tracing::info!(%url, version = %version.git_version, "connected to the Kubernetes API");
            Ok(client)
        }
        Ok(Err(e)) => Err(FeedError::Unreachable(format!("{url}: {e}"))),
        Err(_) => Err(FeedError::Unreachable(format!(
            "{url}: no answer within {CONNECT_TIMEOUT:?}"
        ))),
    }
}

async fn run(
    path: String,
    index: Weak<RwLock<KubeIndex>>,
    done: mpsc::Sender<Result<(), FeedError>>,
) {
    let client = match connect(&path).await {
        Ok(c) => c,
        Err(e) => {
            let _ = done.send(Err(e));
            return;
        }
    };
    let (synced_tx, mut synced_rx) = tokio::sync::mpsc::unbounded_channel::<Synced>();
    let config = watcher::Config::default;
    let pods = watch(
        "Pod",
        watcher::watcher(Api::<Pod>::all(client.clone()), config()).default_backoff(),
        index.clone(),
        synced_tx.clone(),
    );
    let nodes = watch(
        "Node",
        watcher::watcher(Api::<Node>::all(client.clone()), config()).default_backoff(),
        index.clone(),
        synced_tx.clone(),
    );
    let services = watch(
        "Service",
        watcher::watcher(Api::<Service>::all(client.clone()), config()).default_backoff(),
        index.clone(),
        synced_tx.clone(),
    );
    let replica_sets = watch(
        "ReplicaSet",
        watcher::watcher(Api::<PartialObjectMeta<ReplicaSet>>::all(client), config())
            .default_backoff(),
        index.clone(),
        synced_tx,
    );
    let wait_sync = async move {
        let mut kinds = 0;
        while kinds < 4 {
            match synced_rx.recv().await {
                Some(Ok(kind)) => {
                    kinds += 1;
                    tracing::debug!(kind, "kubernetes cache synced");
                }
                Some(Err(refused)) => {
                    let _ = done.send(Err(refused));
                    return;
                }
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
        let _ = done.send(Ok(()));
    };
    tokio::join!(pods, nodes, services, replica_sets, wait_sync);
    tracing::debug!("kubernetes watchers stopped (index dropped)");
}

/// A kind's first listing is complete, or the API server refuses it for good.
type Synced = Result<&'static str, FeedError>;

/// An answer that retrying will not change: unauthorized, forbidden, unknown resource.
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
                if first && let Some(reason) = refusal(&e) {
                    let _ = synced.send(Err(FeedError::Refused { kind, reason }));
                    return;
                }
                tracing::warn!(kind, error = %e, "kubernetes watch failed; retrying");
            }
        }
    }
}
