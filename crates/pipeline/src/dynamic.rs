//! The dynamic part of the configuration: the stages the operator keeps in a second ConfigMap
//! (user filters, subnet labels, the Prometheus encoder) so that changing them does not restart
//! the pipeline pods. At start they are merged into the static configuration (without them the
//! static graph is incomplete); afterwards the source is polled and changed stages are rebuilt and
//! swapped in between two batches.

use crate::config::{Config, ConfigError, DynamicParameters};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// Where the dynamic stages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DynamicSource {
    /// A file (tests, local mode, or a ConfigMap mounted as a volume).
    File(PathBuf),
    /// A key of a ConfigMap read through the Kubernetes API (what the operator sets up).
    ConfigMap {
        /// Namespace of the ConfigMap.
        namespace: String,
        /// Name of the ConfigMap.
        name: String,
        /// Key holding the document.
        file_name: String,
        /// Kubeconfig to use; empty means in-cluster (or the default kubeconfig).
        kube_config_path: String,
    },
}

impl DynamicSource {
    /// The source named by `dynamicParameters`, if it names a ConfigMap.
    pub fn from_parameters(p: &DynamicParameters) -> Option<Self> {
        (!p.name.is_empty()).then(|| Self::ConfigMap {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
            file_name: if p.file_name.is_empty() {
                "config.json".into()
            } else {
                p.file_name.clone()
            },
            kube_config_path: p.kube_config_path.clone(),
        })
    }

    fn describe(&self) -> String {
        match self {
            Self::File(p) => format!("file {}", p.display()),
            Self::ConfigMap {
                namespace,
                name,
                file_name,
                ..
            } => format!("ConfigMap {namespace}/{name} key {file_name}"),
        }
    }
}

/// Why the dynamic stages could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    /// No Kubernetes client configuration at all (no kubeconfig, not in a pod): waiting for the
    /// ConfigMap would not help.
    #[error("cannot read the dynamic configuration from {source_name}: {message}")]
    NoCluster {
        /// The source.
        source_name: String,
        /// Why.
        message: String,
    },
    /// The source could not be read.
    #[error("cannot read the dynamic configuration from {source_name}: {message}")]
    Read {
        /// The source.
        source_name: String,
        /// Why.
        message: String,
    },
    /// The document does not parse.
    #[error("dynamic configuration from {source_name}: {error}")]
    Parse {
        /// The source.
        source_name: String,
        /// The parse error.
        error: ConfigError,
    },
}

/// Replaces (or adds) the static configuration's stage parameters with the dynamic ones.
pub fn merge(config: &mut Config, dynamic: Config) {
    for params in dynamic.parameters {
        config.parameters.retain(|p| p.name != params.name);
        config.parameters.push(params);
    }
}

/// Reads the source's current document, waiting on the process's runtime (for callers outside
/// any async context: tools, tests).
pub fn read(source: &DynamicSource) -> Result<String, DynamicError> {
    let source = source.clone();
    let runtime = crate::stage::runtime();
    std::thread::scope(|s| {
        s.spawn(|| runtime.block_on(read_async(&source)))
            .join()
            .unwrap_or_else(|_| {
                Err(DynamicError::Read {
                    source_name: source.describe(),
                    message: "the reader panicked".into(),
                })
            })
    })
}

/// Reads the source's current document.
pub async fn read_async(source: &DynamicSource) -> Result<String, DynamicError> {
    let fail = |message: String| DynamicError::Read {
        source_name: source.describe(),
        message,
    };
    match source {
        // A small file (or a mounted ConfigMap key): read in place.
        DynamicSource::File(path) => std::fs::read_to_string(path).map_err(|e| fail(e.to_string())),
        DynamicSource::ConfigMap {
            namespace,
            name,
            file_name,
            kube_config_path,
        } => {
            let (client, url) =
                crate::kubernetes::connect(kube_config_path)
                    .await
                    .map_err(|e| match e {
                        crate::kubernetes::FeedError::Config(_) => DynamicError::NoCluster {
                            source_name: source.describe(),
                            message: e.to_string(),
                        },
                        other => fail(other.to_string()),
                    })?;
            let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
                kube::Api::namespaced(client, namespace);
            let cm = api
                .get(name)
                .await
                .map_err(|e| fail(format!("{url}: {}", crate::kubernetes::error_chain(&e))))?;
            cm.data
                .and_then(|mut d| d.remove(file_name))
                .ok_or_else(|| fail(format!("the ConfigMap has no key `{file_name}`")))
        }
    }
}

/// Reads and parses the source.
pub fn load(source: &DynamicSource) -> Result<Config, DynamicError> {
    let text = read(source)?;
    Config::parse(&text).map_err(|error| DynamicError::Parse {
        source_name: source.describe(),
        error,
    })
}

/// Polls the source every `interval` (a task on `runtime`) and sends each new version of the
/// document (not the one already loaded, `current`) to every receiver (one per pipeline worker).
/// Read errors are logged and retried: a transient API error must not stop the pipeline, which
/// keeps running with the stages it has. It stops when all receivers are gone.
pub fn spawn_poller(
    source: DynamicSource,
    current: String,
    interval: Duration,
    receivers: Vec<mpsc::Sender<String>>,
    runtime: &tokio::runtime::Handle,
) -> tokio::task::JoinHandle<()> {
    runtime.spawn(async move {
        let mut last = current;
        loop {
            tokio::time::sleep(interval).await;
            match read_async(&source).await {
                Ok(text) if text != last => {
                    let delivered = receivers
                        .iter()
                        .filter(|r| r.send(text.clone()).is_ok())
                        .count();
                    if delivered == 0 {
                        return;
                    }
                    last = text;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "dynamic configuration not refreshed"),
            }
        }
    })
}
