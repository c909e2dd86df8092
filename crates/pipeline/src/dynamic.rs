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

/// Reads the source's current document.
pub fn read(source: &DynamicSource) -> Result<String, DynamicError> {
    let fail = |message: String| DynamicError::Read {
        source_name: source.describe(),
        message,
    };
    match source {
        DynamicSource::File(path) => std::fs::read_to_string(path).map_err(|e| fail(e.to_string())),
        DynamicSource::ConfigMap {
            namespace,
            name,
            file_name,
            kube_config_path,
        } => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| fail(e.to_string()))?;
            runtime.block_on(async {
                let (client, url) = crate::transform::kubernetes::connect(kube_config_path)
                    .await
                    .map_err(|e| match e {
                        crate::transform::kubernetes::FeedError::Config(_) => {
                            DynamicError::NoCluster {
                                source_name: source.describe(),
                                message: e.to_string(),
                            }
                        }
                        other => fail(other.to_string()),
                    })?;
                let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
                    kube::Api::namespaced(client, namespace);
                let cm = api.get(name).await.map_err(|e| {
                    fail(format!(
                        "{url}: {}",
                        crate::transform::kubernetes::error_chain(&e)
                    ))
                })?;
                cm.data
                    .and_then(|mut d| d.remove(file_name))
                    .ok_or_else(|| fail(format!("the ConfigMap has no key `{file_name}`")))
            })
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

/// Polls the source every `interval` and sends each new version of the document (not the one
/// already loaded, `current`). Read errors are logged and retried: a transient API error must not
/// stop the pipeline, which keeps running with the stages it has.
pub fn spawn_poller(
    source: DynamicSource,
    current: String,
    interval: Duration,
    changes: mpsc::Sender<String>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    spawn_broadcast_poller(source, current, interval, vec![changes])
}

/// [`spawn_poller`] sending each new version to every receiver (one per pipeline worker). It
/// stops when all receivers are gone.
pub fn spawn_broadcast_poller(
    source: DynamicSource,
    current: String,
    interval: Duration,
    receivers: Vec<mpsc::Sender<String>>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("dynamic-config".into())
        .spawn(move || {
            let mut last = current;
            loop {
                std::thread::sleep(interval);
                match read(&source) {
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
