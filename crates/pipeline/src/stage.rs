//! What every stage builder works with: the error it returns, the context of the stage being
//! built, and what the workers' copies of one graph share (the runtime, the Kubernetes indexes).
//!
//! Stages are built by the builders of [`crate::registry`], from their typed parameters; this
//! module imports none of them.

use crate::config::NetworkTransform;
use crate::kubernetes::{self, KubeSource, RuleError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Why a stage cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is inconsistent (the same checks as `Config::check`).
    #[error("{0}")]
    Invalid(String),
    /// The type is valid upstream but this pipeline does not run it yet: refusing is better
    /// than silently passing records through unchanged.
    #[error("{0} is not supported by this pipeline yet")]
    Unsupported(String),
    /// A file the stage needs could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl From<RuleError> for BuildError {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::Invalid(m) => BuildError::Invalid(m),
            RuleError::Unsupported(m) => BuildError::Unsupported(m),
        }
    }
}

/// The sub-object a stage `type` reads, or an error naming it.
pub fn section<'a, T>(value: Option<&'a T>, kind: &str) -> Result<&'a T, BuildError> {
    value.ok_or_else(|| BuildError::Invalid(format!("type {kind} needs a `{kind}` section")))
}

/// The process's tokio runtime: the multi-threaded one the caller runs in, or, for callers
/// outside any (tests, benches, tools building a graph by hand; a single-threaded runtime would
/// deadlock when a stage waits for its own task), one shared runtime started on first use.
/// Background work (Loki pushes, Kubernetes watchers, the dynamic configuration poller) runs on
/// it: a pipeline never starts a runtime of its own per stage.
pub fn runtime() -> tokio::runtime::Handle {
    if let Ok(handle) = tokio::runtime::Handle::try_current()
        && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    {
        return handle;
    }
    static FALLBACK: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    FALLBACK
        .get_or_init(|| {
            // Only fails when the process cannot create threads or an epoll instance at all.
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("pipeline-io")
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("cannot start the pipeline's tokio runtime: {e}"))
        })
        .handle()
        .clone()
}

/// What the workers' copies of one graph share, and keep across reloads: the runtime their
/// background tasks run on, and one Kubernetes index (with its watchers) per network stage.
#[derive(Clone)]
pub struct BuildContext {
    runtime: tokio::runtime::Handle,
    kube: Arc<Mutex<HashMap<String, KubeSource>>>,
    stage_metrics: Arc<Mutex<Option<Arc<crate::stage_metrics::StageMetrics>>>>,
    conntrack: crate::conntrack_metrics::ConntrackRegistry,
}

impl Default for BuildContext {
    fn default() -> Self {
        Self::new(runtime())
    }
}

impl BuildContext {
    /// A context whose background tasks run on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> Self {
        Self {
            runtime,
            kube: Arc::default(),
            stage_metrics: Arc::default(),
            conntrack: Default::default(),
        }
    }

    /// The runtime background tasks run on.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// The index of network stage `stage`, created (and its watchers started) on first use.
    pub fn kube_source(
        &self,
        stage: &str,
        config: &NetworkTransform,
    ) -> Result<KubeSource, BuildError> {
        let mut sources = self.kube.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(source) = sources.get(stage) {
            return Ok(source.clone());
        }
        let source = kubernetes::start(config, &self.runtime)?;
        sources.insert(stage.to_string(), source.clone());
        Ok(source)
    }

    /// What the graph still waits for before it can enrich flows (the Kubernetes caches' first
    /// listing), naming the stage; `None` when nothing.
    pub fn pending_sync(&self) -> Option<String> {
        let sources = self.kube.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<&String> = sources.keys().collect();
        names.sort();
        names.into_iter().find_map(|stage| {
            sources[stage]
                .pending()
                .map(|why| format!("stage `{stage}` waits for the Kubernetes caches: {why}"))
        })
    }

    /// The metrics of the conntrack stages, shared by every copy of the graph.
    pub fn conntrack(&self) -> &crate::conntrack_metrics::ConntrackRegistry {
        &self.conntrack
    }

    /// The per-stage counters every copy updates, created with `names` on first use.
    pub fn stage_metrics<'a>(
        &self,
        names: impl IntoIterator<Item = &'a String>,
    ) -> Arc<crate::stage_metrics::StageMetrics> {
        let mut shared = self.stage_metrics.lock().unwrap_or_else(|p| p.into_inner());
        shared
            .get_or_insert_with(|| Arc::new(crate::stage_metrics::StageMetrics::new(names)))
            .clone()
    }
}

/// Where `stdout` writers write (standard output, or a buffer in tests).
pub type StdoutFactory<'a> = &'a mut dyn FnMut() -> Box<dyn std::io::Write + Send>;

/// What a builder gets besides its parameters.
pub struct StageContext<'a> {
    /// The stage's name (messages, metric labels).
    pub name: &'a str,
    /// What the copies of the graph share.
    pub shared: &'a BuildContext,
    /// Where a `stdout` writer writes.
    pub stdout: StdoutFactory<'a>,
}
