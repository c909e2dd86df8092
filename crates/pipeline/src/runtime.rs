//! Runs a checked configuration: builds every stage, then pushes batches of records from the
//! ingest stage through the graph, fanning out where several stages follow one.
//!
//! Records flow by value: a stage with one child hands its output on without copying; only
//! fan-out clones (all but the last consuming branch; Prometheus encoders only read, by reference).
//! Terminal stages are writers or encoders.

use crate::config::{Config, ConfigError, PromEncode, StageParams};
use crate::encode::PromEncoder;
use crate::extract::Aggregates;
use crate::record::Record;
use crate::stage_metrics::StageMetrics;
use crate::transform::kubernetes::KubeSource;
use crate::transform::{self, BuildError, NetworkStage, Transformer};
use crate::write::loki::LokiWrite;
use crate::write::loki_client::{LokiStats, LokiWriter};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

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

/// Output format of the `stdout` writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdoutFormat {
    /// One JSON object per line, keys in alphabetical order (as upstream).
    Json,
    /// `key=value` pairs, one record per line (upstream's `printf`/`fields`).
    Fields,
    /// Aligned columns for a person watching flows live (local mode), with a header every
    /// [`TABLE_HEADER_EVERY`] rows.
    Table,
}

/// Rows between two repetitions of the table header.
pub const TABLE_HEADER_EVERY: u64 = 40;

/// Where a terminal stage sends records.
pub enum Sink {
    /// Writes to a byte stream (stdout, or a buffer in tests).
    Stream {
        /// The stream.
        out: Box<dyn Write + Send>,
        /// The format.
        format: StdoutFormat,
    },
    /// Feeds a Prometheus encoder, shared with the `/metrics` endpoint.
    Prom(Arc<Mutex<PromEncoder>>),
    /// Sends records to Loki in the background (bounded buffer, counted drops).
    Loki(Box<LokiWriter>),
    /// Writes records to a flow store file (`sqlite` writer).
    Sqlite(crate::write::sqlite::SqliteWriter),
    /// Discards records (`none` / `fake` writers).
    Discard,
}

/// Records buffered per Loki writer before new ones are dropped (and counted).
pub const LOKI_BUFFER_RECORDS: usize = 100_000;

enum Node {
    Transform(Box<dyn Transformer>),
    Extract(Aggregates),
    Sink(Sink),
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

/// What the workers' copies of one graph share: the Kubernetes index (and watchers) of each
/// network stage, and the per-stage operational counters.
#[derive(Clone, Default)]
pub struct BuildContext {
    kube: Arc<Mutex<HashMap<String, KubeSource>>>,
    stage_metrics: Arc<Mutex<Option<Arc<StageMetrics>>>>,
}

impl BuildContext {
    /// The index of network stage `stage`, created (and its watchers started) on first use.
    fn kube_source(
        &self,
        stage: &str,
        config: &crate::config::NetworkTransform,
    ) -> Result<KubeSource, BuildError> {
        let mut sources = self.kube.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(source) = sources.get(stage) {
            return Ok(source.clone());
        }
        let source = NetworkStage::start_kube(config)?;
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

    fn stage_metrics<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Arc<StageMetrics> {
        let mut shared = self.stage_metrics.lock().unwrap_or_else(|p| p.into_inner());
        shared
            .get_or_insert_with(|| Arc::new(StageMetrics::new(names)))
            .clone()
    }
}

/// A built pipeline, minus its ingest stage (the caller feeds batches).
pub struct Pipeline {
    root: String,
    children: HashMap<String, Vec<String>>,
    nodes: HashMap<String, Node>,
    prom: Vec<(String, Arc<Mutex<PromEncoder>>)>,
    loki: Vec<(String, Arc<LokiStats>)>,
    stats: PipelineStats,
    stage_metrics: Arc<StageMetrics>,
    context: BuildContext,
}

impl Pipeline {
    /// Builds every stage after the ingest. `stdout` is where `stdout` writers write (tests pass
    /// a buffer). Ingest stages are started by the caller, which reads `ingest_params`.
    pub fn build(
        config: &Config,
        stdout: impl FnMut() -> Box<dyn Write + Send>,
    ) -> Result<Self, PipelineError> {
        Self::build_in(config, &BuildContext::default(), stdout)
    }

    /// [`Self::build`] for one of several workers: what `context` holds (Kubernetes indexes,
    /// stage counters) is shared with the other copies built in the same context.
    pub fn build_in(
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
        let mut prom = Vec::new();
        let mut loki = Vec::new();
        for name in graph.order.iter().filter(|n| **n != graph.root) {
            let Some(p) = params.get(name.as_str()) else {
                continue;
            };
            let fail = |source| PipelineError::Stage {
                stage: name.clone(),
                source,
            };
            let node = if let Some(t) = &p.transform {
                let kube = |c: &crate::config::NetworkTransform| context.kube_source(name, c);
                Node::Transform(transform::build_with(t, &kube).map_err(fail)?)
            } else if let Some(encode) = &p.encode {
                let (kind, body) = typed(encode, name)?;
                match kind.as_str() {
                    "prom" => {
                        let config: PromEncode = serde_json::from_value(body)
                            .map_err(|e| fail(BuildError::Invalid(format!("prom: {e}"))))?;
                        let encoder =
                            Arc::new(Mutex::new(PromEncoder::new(&config).map_err(fail)?));
                        prom.push((name.clone(), encoder.clone()));
                        Node::Sink(Sink::Prom(encoder))
                    }
                    other => {
                        return Err(fail(BuildError::Unsupported(format!(
                            "encode type {other}"
                        ))));
                    }
                }
            } else if let Some(write) = &p.write {
                let (kind, body) = typed(write, name)?;
                match kind.as_str() {
                    "stdout" => {
                        let format = match body.get("format").and_then(|f| f.as_str()) {
                            Some("json") => StdoutFormat::Json,
                            Some("table") => StdoutFormat::Table,
                            None | Some("printf") | Some("fields") => StdoutFormat::Fields,
                            Some(other) => {
                                return Err(fail(BuildError::Invalid(format!(
                                    "stdout format `{other}` (expected json, table, printf or fields)"
                                ))));
                            }
                        };
                        Node::Sink(Sink::Stream {
                            out: stdout(),
                            format,
                        })
                    }
                    "loki" => {
                        let config: LokiWrite = serde_json::from_value(body)
                            .map_err(|e| fail(BuildError::Invalid(format!("loki: {e}"))))?;
                        let writer = LokiWriter::start(&config, LOKI_BUFFER_RECORDS)
                            .map_err(|e| fail(BuildError::Invalid(e.to_string())))?;
                        loki.push((name.clone(), writer.stats()));
                        Node::Sink(Sink::Loki(Box::new(writer)))
                    }
                    "sqlite" => {
                        let config: crate::write::sqlite::SqliteWrite =
                            serde_json::from_value(body)
                                .map_err(|e| fail(BuildError::Invalid(format!("sqlite: {e}"))))?;
                        let writer = crate::write::sqlite::SqliteWriter::start(&config)
                            .map_err(|e| fail(BuildError::Invalid(e)))?;
                        Node::Sink(Sink::Sqlite(writer))
                    }
                    "none" | "fake" => Node::Sink(Sink::Discard),
                    other => {
                        return Err(fail(BuildError::Unsupported(format!("write type {other}"))));
                    }
                }
            } else if let Some(extract) = &p.extract {
                let (kind, body) = typed(extract, name)?;
                match kind.as_str() {
                    "aggregates" => Node::Extract(Aggregates::new(&body).map_err(fail)?),
                    other => {
                        return Err(fail(BuildError::Unsupported(format!(
                            "extract type {other}"
                        ))));
                    }
                }
            } else {
                return Err(fail(BuildError::Invalid(
                    "the stage has no parameters".into(),
                )));
            };
            nodes.insert(name.clone(), node);
        }
        Ok(Self {
            stage_metrics: context.stage_metrics(nodes.keys()),
            context: context.clone(),
            root: graph.root,
            children: graph.children,
            nodes,
            prom,
            loki,
            stats: PipelineStats::default(),
        })
    }

    /// The Prometheus encoders, by stage name, for the `/metrics` endpoint.
    pub fn prom_encoders(&self) -> &[(String, Arc<Mutex<PromEncoder>>)] {
        &self.prom
    }

    /// The Loki writers' counters, by stage name.
    pub fn loki_stats(&self) -> &[(String, Arc<LokiStats>)] {
        &self.loki
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

    /// What the pipeline did so far.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Rebuilds the stages a new dynamic document defines (transforms and Prometheus encoders of
    /// the running graph) and swaps them in. Everything is built before anything is swapped: on
    /// any error the running stages stay as they were.
    pub fn reload(&mut self, dynamic: &Config) -> Result<Vec<String>, PipelineError> {
        let mut transforms = Vec::new();
        let mut encoders = Vec::new();
        for p in &dynamic.parameters {
            let fail = |source| PipelineError::Stage {
                stage: p.name.clone(),
                source,
            };
            match (self.nodes.get(&p.name), &p.transform, &p.encode) {
                (Some(Node::Transform(_)), Some(t), None) => {
                    let kube =
                        |c: &crate::config::NetworkTransform| self.context.kube_source(&p.name, c);
                    transforms.push((
                        p.name.clone(),
                        transform::build_with(t, &kube).map_err(fail)?,
                    ));
                }
                (Some(Node::Sink(Sink::Prom(_))), None, Some(encode)) => {
                    let (kind, body) = typed(encode, &p.name)?;
                    if kind != "prom" {
                        return Err(fail(BuildError::Invalid(format!(
                            "a prom stage cannot become `{kind}` without a restart"
                        ))));
                    }
                    let config: PromEncode = serde_json::from_value(body)
                        .map_err(|e| fail(BuildError::Invalid(format!("prom: {e}"))))?;
                    encoders.push((p.name.clone(), PromEncoder::new(&config).map_err(fail)?));
                }
                _ => {
                    return Err(fail(BuildError::Invalid(
                        "only the transform and prom stages of the running graph can be reloaded"
                            .into(),
                    )));
                }
            }
        }
        let mut reloaded = Vec::new();
        for (name, transformer) in transforms {
            self.nodes
                .insert(name.clone(), Node::Transform(transformer));
            reloaded.push(name);
        }
        for (name, encoder) in encoders {
            if let Some(Node::Sink(Sink::Prom(shared))) = self.nodes.get(&name)
                && let Ok(mut current) = shared.lock()
            {
                *current = encoder;
                reloaded.push(name);
            }
        }
        Ok(reloaded)
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
        // Prometheus encoders with no stage after them only read records: they see the batch by
        // reference, so a NetObserv-shaped fan-out (metrics + one writer) copies nothing.
        let (readers, owners): (Vec<&String>, Vec<&String>) =
            children.iter().partition(|c| self.reads_only(c));
        for reader in readers {
            self.encode_prom(reader, &batch);
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

    fn reads_only(&self, stage: &str) -> bool {
        matches!(self.nodes.get(stage), Some(Node::Sink(Sink::Prom(_))))
            && self.children.get(stage).is_none_or(Vec::is_empty)
    }

    fn encode_prom(&mut self, stage: &str, batch: &[Record]) {
        let Some(Node::Sink(Sink::Prom(encoder))) = self.nodes.get(stage) else {
            return;
        };
        let started = std::time::Instant::now();
        if let Ok(mut encoder) = encoder.lock() {
            encoder.encode_batch(batch);
        }
        if let Some(c) = self.stage_metrics.get(stage) {
            c.observe(batch.len(), batch.len(), started.elapsed());
        }
    }

    fn run(&mut self, stage: &str, batch: Vec<Record>) {
        let Some(node) = self.nodes.get_mut(stage) else {
            return;
        };
        let started = std::time::Instant::now();
        let records_in = batch.len();
        let counters = self.stage_metrics.get(stage).cloned();
        let observe = |out: usize| {
            if let Some(c) = &counters {
                c.observe(records_in, out, started.elapsed());
            }
        };
        match node {
            Node::Transform(t) => {
                let out: Vec<Record> = batch.into_iter().filter_map(|r| t.apply(r)).collect();
                self.stats.filtered += (records_in - out.len()) as u64;
                observe(out.len());
                self.forward(stage, out);
            }
            Node::Extract(aggregates) => {
                let out = aggregates.extract(&batch);
                observe(out.len());
                self.forward(stage, out);
            }
            Node::Sink(Sink::Prom(encoder)) => {
                if let Ok(mut encoder) = encoder.lock() {
                    encoder.encode_batch(&batch);
                }
                observe(records_in);
                self.forward(stage, batch);
            }
            Node::Sink(Sink::Stream {
                out,
                format: StdoutFormat::Json,
            }) => {
                // The whole batch is serialised into one buffer and written at once: no string
                // per record, one `write` per batch. Keys sorted, as upstream writes them.
                let mut buf = Vec::with_capacity(batch.len() * 512);
                for record in &batch {
                    if serde_json::to_writer(&mut buf, &record.sorted()).is_ok() {
                        buf.push(b'\n');
                    }
                }
                if out.write_all(&buf).and_then(|()| out.flush()).is_ok() {
                    self.stats.written += records_in as u64;
                } else {
                    self.stats.write_errors += records_in as u64;
                }
                observe(records_in);
            }
            Node::Sink(Sink::Stream { out, format }) => {
                for record in &batch {
                    let line = match format {
                        StdoutFormat::Json => {
                            serde_json::to_string(&record.sorted()).unwrap_or_default()
                        }
                        StdoutFormat::Fields => fields_line(record),
                        StdoutFormat::Table => {
                            let row = crate::table::row(record);
                            if self.stats.written.is_multiple_of(TABLE_HEADER_EVERY) {
                                format!("{}\n{row}", crate::table::HEADER)
                            } else {
                                row
                            }
                        }
                    };
                    if writeln!(out, "{line}").is_ok() {
                        self.stats.written += 1;
                    } else {
                        self.stats.write_errors += 1;
                    }
                }
                let _ = out.flush();
                observe(records_in);
            }
            Node::Sink(Sink::Loki(writer)) => {
                writer.send_batch(&batch);
                observe(records_in);
            }
            Node::Sink(Sink::Sqlite(writer)) => {
                writer.write(&batch);
                self.stats.written += records_in as u64;
                observe(records_in);
            }
            Node::Sink(Sink::Discard) => {
                self.stats.written += records_in as u64;
                observe(records_in);
            }
        }
    }
}

/// Ingest types the `netobserv-pipeline` binary runs.
pub const INGEST_TYPES: [&str; 4] = ["grpc", "synthetic", "stdin", "file"];
/// Extract types [`Pipeline`] builds.
pub const EXTRACT_TYPES: [&str; 1] = ["aggregates"];
/// Encode types [`Pipeline`] builds.
pub const ENCODE_TYPES: [&str; 1] = ["prom"];
/// Write types [`Pipeline`] builds.
pub const WRITE_TYPES: [&str; 5] = ["stdout", "loki", "sqlite", "none", "fake"];

/// Refuses, before anything starts, a configuration with a stage type this pipeline does not
/// run (Kafka ingest, conntrack, exporters...), naming the stage: better than starting, waiting
/// for the API server, and failing later.
pub fn check_supported(config: &Config) -> Result<(), PipelineError> {
    for p in &config.parameters {
        let sections: [(&str, Option<&serde_json::Value>, &[&str]); 4] = [
            ("ingest", p.ingest.as_ref(), &INGEST_TYPES),
            ("extract", p.extract.as_ref(), &EXTRACT_TYPES),
            ("encode", p.encode.as_ref(), &ENCODE_TYPES),
            ("write", p.write.as_ref(), &WRITE_TYPES),
        ];
        for (section, value, supported) in sections {
            let Some(value) = value else { continue };
            let kind = value
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or_default();
            if !supported.contains(&kind) {
                return Err(PipelineError::Stage {
                    stage: p.name.clone(),
                    source: BuildError::Unsupported(format!("{section} type `{kind}`")),
                });
            }
        }
    }
    Ok(())
}

/// `type` and the sub-object named after it, from a raw stage section.
fn typed(
    section: &serde_json::Value,
    stage: &str,
) -> Result<(String, serde_json::Value), PipelineError> {
    let kind = section
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| PipelineError::Stage {
            stage: stage.to_string(),
            source: BuildError::Invalid("missing `type`".into()),
        })?
        .to_string();
    let body = section.get(&kind).cloned().unwrap_or(serde_json::json!({}));
    Ok((kind, body))
}

/// `Key=value` pairs separated by spaces, sorted by key, for human reading.
fn fields_line(record: &Record) -> String {
    let mut fields: Vec<(&str, String)> = record.iter().map(|(k, v)| (k, v.to_text())).collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    fields
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
