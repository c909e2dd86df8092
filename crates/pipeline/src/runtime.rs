//! Runs a checked configuration: builds every stage through the [`Registry`], then pushes batches
//! of records from the ingest stage through the graph, fanning out where several stages follow
//! one.
//!
//! Records flow by value: a stage with one child hands its output on without copying; only
//! fan-out clones (all but the last consuming branch). Stages that only read a batch (extractors,
//! and encoders and writers with nothing after them) see it by reference, so a NetObserv-shaped
//! fan-out (metrics + one writer) copies nothing.

use crate::config::{Config, ConfigError, StageParams};
use crate::encode::{Encoder, PromEncoder};
use crate::extract::Extractor;
use crate::record::Record;
use crate::registry::{Built, Registry};
use crate::stage::{BuildContext, StageContext};
use crate::stage_metrics::{StageCounters, StageMetrics};
use crate::transform::Transformer;
use crate::write::{DeliveryStats, Writer};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

pub use crate::stage::BuildError;
pub use crate::write::loki_client::LOKI_BUFFER_RECORDS;
pub use crate::write::stdout::TABLE_HEADER_EVERY;

/// Why a pipeline cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A stage cannot be built.
    #[error("stage `{stage}`: {source}")]
    Stage {
        /// The stage.
        stage: String,
        /// Why.
        source: BuildError,
    },
}

fn stage_error(stage: &str) -> impl FnOnce(BuildError) -> PipelineError + '_ {
    move |source| PipelineError::Stage {
        stage: stage.to_string(),
        source,
    }
}

enum Node {
    Transform(Box<dyn Transformer>),
    Extract(Box<dyn Extractor>),
    Encode(Box<dyn Encoder>),
    Write(Box<dyn Writer>),
}

impl From<Built> for Node {
    fn from(b: Built) -> Self {
        match b {
            Built::Transform(t) => Node::Transform(t),
            Built::Extract(x) => Node::Extract(x),
            Built::Encode(e) => Node::Encode(e),
            Built::Write(w) => Node::Write(w),
        }
    }
}

/// Counters of what the pipeline did, for its operational metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Records received from the ingest stage.
    pub ingested: u64,
    /// Records dropped by filters.
    pub filtered: u64,
    /// Records written by writers (per writer, summed).
    pub written: u64,
    /// Writes that failed (e.g. a closed stdout).
    pub write_errors: u64,
}

/// A built pipeline, minus its ingest stage (the caller feeds batches).
pub struct Pipeline {
    registry: Registry,
    root: String,
    children: HashMap<String, Vec<String>>,
    nodes: HashMap<String, Node>,
    /// Each node's counters, looked up once at build.
    counters: HashMap<String, Arc<StageCounters>>,
    prom: Vec<(String, Arc<Mutex<PromEncoder>>)>,
    delivery: Vec<(String, Arc<DeliveryStats>)>,
    stats: PipelineStats,
    stage_metrics: Arc<StageMetrics>,
    context: BuildContext,
}

impl Pipeline {
    /// Builds every stage after the ingest. `stdout` is where `stdout` writers write (tests pass
    /// a buffer). Ingest stages are started by the caller.
    pub fn build(
        config: &Config,
        stdout: impl FnMut() -> Box<dyn Write + Send>,
    ) -> Result<Self, PipelineError> {
        Self::build_in(config, &BuildContext::default(), stdout)
    }

    /// [`Self::build`] for one of several workers: what `context` holds (Kubernetes indexes,
    /// stage counters, the runtime) is shared with the other copies built in the same context.
    pub fn build_in(
        config: &Config,
        context: &BuildContext,
        stdout: impl FnMut() -> Box<dyn Write + Send>,
    ) -> Result<Self, PipelineError> {
        Self::build_with(&Registry::standard(), config, context, stdout)
    }

    /// [`Self::build_in`] with the stage types of `registry`.
    pub fn build_with(
        registry: &Registry,
        config: &Config,
        context: &BuildContext,
        mut stdout: impl FnMut() -> Box<dyn Write + Send>,
    ) -> Result<Self, PipelineError> {
        let graph = config.check()?;
        let params: HashMap<&str, &StageParams> = config
            .parameters
            .iter()
            .map(|p| (p.name.as_str(), p))
            .collect();
        let mut nodes = HashMap::new();
        for name in graph.order.iter().filter(|n| **n != graph.root) {
            let Some(p) = params.get(name.as_str()) else {
                continue;
            };
            let mut ctx = StageContext {
                name,
                shared: context,
                stdout: &mut stdout,
            };
            let node = registry.build(p, &mut ctx).map_err(stage_error(name))?;
            nodes.insert(name.clone(), Node::from(node));
        }
        let stage_metrics = context.stage_metrics(nodes.keys());
        let mut pipeline = Self {
            registry: registry.clone(),
            root: graph.root,
            children: graph.children,
            counters: HashMap::new(),
            nodes,
            prom: Vec::new(),
            delivery: Vec::new(),
            stats: PipelineStats::default(),
            stage_metrics,
            context: context.clone(),
        };
        pipeline.index();
        Ok(pipeline)
    }

    /// Collects the nodes' counters and exposed state (after a build or a reload).
    fn index(&mut self) {
        self.counters = self
            .nodes
            .keys()
            .filter_map(|n| Some((n.clone(), self.stage_metrics.get(n)?.clone())))
            .collect();
        let mut names: Vec<&String> = self.nodes.keys().collect();
        names.sort();
        self.prom.clear();
        self.delivery.clear();
        for name in names {
            match &self.nodes[name] {
                Node::Encode(e) => {
                    if let Some(p) = e.exposition() {
                        self.prom.push((name.clone(), p));
                    }
                    if let Some(d) = e.delivery() {
                        self.delivery.push((name.clone(), d));
                    }
                }
                Node::Write(w) => {
                    if let Some(d) = w.delivery() {
                        self.delivery.push((name.clone(), d));
                    }
                }
                _ => {}
            }
        }
    }

    /// The Prometheus encoders, by stage name, for the `/metrics` endpoint.
    pub fn prom_encoders(&self) -> &[(String, Arc<Mutex<PromEncoder>>)] {
        &self.prom
    }

    /// The background writers' delivery counters (Loki and the exporters), by stage name.
    pub fn delivery_stats(&self) -> &[(String, Arc<DeliveryStats>)] {
        &self.delivery
    }

    /// Per-stage counters and durations, for `/metrics`.
    pub fn stage_metrics(&self) -> Arc<StageMetrics> {
        self.stage_metrics.clone()
    }

    /// What the graph still waits for before it can enrich flows (see
    /// [`BuildContext::pending_sync`]).
    pub fn pending_sync(&self) -> Option<String> {
        self.context.pending_sync()
    }

    /// The runtime the graph's background work runs on (the workers wait on it for batches).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        self.context.runtime()
    }

    /// What the pipeline did so far.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Rebuilds the stages a new dynamic document defines, through the same builders, and swaps
    /// them in. Transforms, extractors and encoders can be reloaded; writers (which hold
    /// connections and buffers) need a restart. An encoder whose state the `/metrics` endpoint
    /// reads keeps its handle, which gets the new encoder. Everything is built before anything
    /// is swapped: on any error the running stages stay as they were.
    pub fn reload(&mut self, dynamic: &Config) -> Result<Vec<String>, PipelineError> {
        let mut rebuilt = Vec::new();
        let mut sink = || -> Box<dyn Write + Send> { Box::new(std::io::sink()) };
        for p in &dynamic.parameters {
            let fail = stage_error(&p.name);
            let Some(old) = self.nodes.get(&p.name) else {
                return Err(fail(BuildError::Invalid(
                    "is not a stage of the running graph".into(),
                )));
            };
            let reloadable = matches!(
                (old, &p.transform, &p.extract, &p.encode),
                (Node::Transform(_), Some(_), None, None)
                    | (Node::Extract(_), None, Some(_), None)
                    | (Node::Encode(_), None, None, Some(_))
            ) && p.ingest.is_none()
                && p.write.is_none();
            if !reloadable {
                return Err(fail(BuildError::Invalid(
                    "only the transform, extract and encode stages of the running graph can be \
                     reloaded (a writer or a change of section needs a restart)"
                        .into(),
                )));
            }
            let mut ctx = StageContext {
                name: &p.name,
                shared: &self.context,
                stdout: &mut sink,
            };
            let node = Node::from(self.registry.build(p, &mut ctx).map_err(fail)?);
            rebuilt.push((p.name.clone(), node));
        }
        let mut reloaded = Vec::new();
        for (name, node) in rebuilt {
            let shared = match (self.nodes.get(&name), &node) {
                (Some(Node::Encode(old)), Node::Encode(new)) => {
                    old.exposition().zip(new.exposition())
                }
                _ => None,
            };
            match shared {
                // Keep the handle the endpoint reads; it now holds the new encoder.
                Some((old, new)) => {
                    if let (Ok(mut old), Ok(mut new)) = (old.lock(), new.lock()) {
                        std::mem::swap(&mut *old, &mut *new);
                    }
                }
                None => {
                    self.nodes.insert(name.clone(), node);
                }
            }
            reloaded.push(name);
        }
        self.index();
        Ok(reloaded)
    }

    /// How often [`Self::tick`] must run while no batch arrives (the shortest of the
    /// extractors' needs), or `None` when no stage has timers.
    pub fn tick_interval(&self) -> Option<std::time::Duration> {
        self.nodes
            .values()
            .filter_map(|n| match n {
                Node::Extract(x) => x.tick_interval(),
                _ => None,
            })
            .min()
    }

    /// Lets stages with timers emit what became due while the input was idle (conversation ends
    /// and heartbeats), and pushes it through the rest of the graph.
    pub fn tick(&mut self) {
        let mut names: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n, Node::Extract(x) if x.tick_interval().is_some()))
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        for name in names {
            let started = std::time::Instant::now();
            let out = match self.nodes.get_mut(&name) {
                Some(Node::Extract(x)) => x.tick(),
                _ => continue,
            };
            if out.is_empty() {
                continue;
            }
            self.observe(&name, 0, out.len(), started);
            self.forward(&name, out);
        }
    }

    /// Pushes one batch from the ingest stage through the graph.
    pub fn process(&mut self, batch: Vec<Record>) {
        self.stats.ingested += batch.len() as u64;
        let root = self.root.clone();
        self.forward(&root, batch);
    }

    fn forward(&mut self, from: &str, batch: Vec<Record>) {
        let Some(children) = self.children.get(from).cloned() else {
            return;
        };
        let (readers, owners): (Vec<&String>, Vec<&String>) =
            children.iter().partition(|c| self.reads_only(c));
        for reader in readers {
            self.read(reader, &batch);
        }
        let last = owners.len().saturating_sub(1);
        let mut batch = Some(batch);
        for (i, child) in owners.into_iter().enumerate() {
            let input = if i == last {
                batch.take().unwrap_or_default()
            } else {
                batch.clone().unwrap_or_default()
            };
            self.run(child, input);
        }
    }

    /// Whether `stage` only reads its input: extractors (their output is new records), and
    /// encoders and writers that no stage follows.
    fn reads_only(&self, stage: &str) -> bool {
        match self.nodes.get(stage) {
            Some(Node::Extract(x)) => !x.takes_input(),
            Some(Node::Encode(_) | Node::Write(_)) => {
                self.children.get(stage).is_none_or(Vec::is_empty)
            }
            _ => false,
        }
    }

    fn observe(&self, stage: &str, records_in: usize, out: usize, started: std::time::Instant) {
        if let Some(c) = self.counters.get(stage) {
            c.observe(records_in, out, started.elapsed());
        }
    }

    /// Runs a stage that only reads `batch`.
    fn read(&mut self, stage: &str, batch: &[Record]) {
        let started = std::time::Instant::now();
        let n = batch.len();
        match self.nodes.get_mut(stage) {
            Some(Node::Extract(x)) => {
                let out = x.extract(batch);
                self.observe(stage, n, out.len(), started);
                self.forward(stage, out);
            }
            Some(Node::Encode(e)) => {
                e.encode(batch);
                self.observe(stage, n, n, started);
            }
            Some(Node::Write(w)) => {
                let written = w.write(batch);
                self.stats.written += written.ok;
                self.stats.write_errors += written.failed;
                self.observe(stage, n, n, started);
            }
            _ => {}
        }
    }

    /// Runs a stage that takes `batch` by value.
    fn run(&mut self, stage: &str, batch: Vec<Record>) {
        let started = std::time::Instant::now();
        let records_in = batch.len();
        match self.nodes.get_mut(stage) {
            Some(Node::Transform(t)) => {
                let out: Vec<Record> = batch.into_iter().filter_map(|r| t.apply(r)).collect();
                self.stats.filtered += (records_in - out.len()) as u64;
                self.observe(stage, records_in, out.len(), started);
                self.forward(stage, out);
            }
            Some(Node::Encode(e)) => {
                e.encode(&batch);
                self.observe(stage, records_in, records_in, started);
                self.forward(stage, batch);
            }
            Some(Node::Extract(x)) if x.takes_input() => {
                let out = x.extract_owned(batch);
                self.observe(stage, records_in, out.len(), started);
                self.forward(stage, out);
            }
            Some(Node::Extract(_) | Node::Write(_)) => self.read(stage, &batch),
            None => {}
        }
    }
}

/// Refuses, before anything starts, a configuration with a stage type this pipeline does not
/// run (Kafka ingest, exporters...), naming the stage.
pub fn check_supported(config: &Config) -> Result<(), PipelineError> {
    Registry::standard()
        .check_supported(config)
        .map_err(|(stage, source)| PipelineError::Stage { stage, source })
}
