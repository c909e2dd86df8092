//! The flowlogs-pipeline configuration: upstream's `pipeline` + `parameters` document, typed.
//!
//! One model for both ends of the contract: the operator builds it and serialises it into the
//! pipeline's ConfigMaps; the pipeline parses it and builds its stage graph from it. Drift between
//! what one writes and the other reads is then a compile error, not a golden-file diff.
//!
//! Every stage kind upstream has parses into typed parameters (`ingest`: grpc, kafka, ipfix,
//! synthetic, stdin, file...; `transform`: generic, filter, network, none; `extract`: aggregates,
//! conntrack, timebased; `encode`: prom, kafka, s3, otlp*; `write`: loki, stdout, ipfix, grpc,
//! none/fake), whether or not the pipeline runs it yet: a configuration is always fully readable,
//! and a runtime that lacks a stage refuses it by name.
//!
//! Parsing is strict (unknown keys are errors, so a typo never silently disables a stage).
//! [`Config::check`] validates the stage graph and each stage's parameters (the sub-object the
//! `type` names is there, queries and regexes compile, CIDRs parse), naming the stage and key at
//! fault.
//!
//! Serialisation writes what the operator means: optional keys it leaves out are `Option`s (or
//! empty collections) skipped when unset, so rendering is faithful to the key.

mod common;
mod encode;
mod extract;
mod graph;
mod ingest;
mod network;
mod settings;
mod transform;
mod write;

pub use common::*;
pub use encode::*;
pub use extract::*;
pub use graph::{GraphError, PRESET_INGESTER, StageGraph};
pub use ingest::*;
pub use network::*;
pub use settings::*;
pub use transform::*;
pub use write::*;

use serde::{Deserialize, Serialize};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The document is not valid YAML/JSON or does not match the schema.
    #[error("invalid pipeline configuration: {0}")]
    Parse(String),
    /// The stage graph or a stage's parameters are inconsistent.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

/// A whole pipeline configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// Log level of the process (`trace` … `error`).
    #[serde(rename = "log-level", default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// The stage graph: each stage names the stage it follows (empty in a dynamic document,
    /// which only carries `parameters`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipeline: Vec<StageRef>,
    /// One entry per stage, holding what the stage does.
    #[serde(default)]
    pub parameters: Vec<StageParams>,
    /// Where the operational and encoded metrics are served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_settings: Option<MetricsSettings>,
    /// Batching and buffer sizes between stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf_settings: Option<PerfSettings>,
    /// Where the hot-reloadable part of the configuration comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_parameters: Option<DynamicParameters>,
    /// Health endpoint (`address`, `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSettings>,
    /// Profiling endpoint (`port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileSettings>,
}

/// A node of the stage graph.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageRef {
    /// Unique stage name, matching a [`StageParams::name`].
    pub name: String,
    /// The stage whose output this stage receives; absent for the ingest stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
}

impl StageRef {
    /// A stage following `follows` (`None` for the ingest).
    pub fn new(name: &str, follows: Option<&str>) -> Self {
        Self {
            name: name.to_string(),
            follows: follows.map(str::to_string),
        }
    }
}

/// What one stage does: exactly one of the five kinds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageParams {
    /// The stage this entry configures.
    pub name: String,
    /// Source of records (grpc, kafka, stdin, file, synthetic, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest: Option<Ingest>,
    /// Per-record transform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    /// Per-batch extraction (aggregates, conntrack, timebased).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<Extract>,
    /// Encoding (prom, kafka, otlp...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode: Option<Encode>,
    /// Terminal writer (loki, stdout, ipfix, grpc...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Write>,
}

/// The kind of a stage, from which of the [`StageParams`] sections is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageKind {
    /// An ingester: must be the graph's root.
    Ingest,
    /// A transform.
    Transform,
    /// An extractor.
    Extract,
    /// An encoder.
    Encode,
    /// A writer.
    Write,
}

impl StageKind {
    /// The section's key in `parameters` (`ingest`, `transform`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Ingest => "ingest",
            StageKind::Transform => "transform",
            StageKind::Extract => "extract",
            StageKind::Encode => "encode",
            StageKind::Write => "write",
        }
    }
}

impl std::fmt::Display for StageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StageParams {
    /// The sections that are set, to check that there is exactly one.
    pub fn kinds(&self) -> Vec<StageKind> {
        let mut kinds = Vec::new();
        if self.ingest.is_some() {
            kinds.push(StageKind::Ingest);
        }
        if self.transform.is_some() {
            kinds.push(StageKind::Transform);
        }
        if self.extract.is_some() {
            kinds.push(StageKind::Extract);
        }
        if self.encode.is_some() {
            kinds.push(StageKind::Encode);
        }
        if self.write.is_some() {
            kinds.push(StageKind::Write);
        }
        kinds
    }

    /// The stage's section and its upstream type name (`("write", "loki")`), when exactly one
    /// section is set.
    pub fn type_name(&self) -> Option<(StageKind, &'static str)> {
        match (
            &self.ingest,
            &self.transform,
            &self.extract,
            &self.encode,
            &self.write,
        ) {
            (Some(i), None, None, None, None) => Some((StageKind::Ingest, i.kind.as_str())),
            (None, Some(t), None, None, None) => Some((StageKind::Transform, t.kind.as_str())),
            (None, None, Some(x), None, None) => Some((StageKind::Extract, x.kind.as_str())),
            (None, None, None, Some(e), None) => Some((StageKind::Encode, e.kind.as_str())),
            (None, None, None, None, Some(w)) => Some((StageKind::Write, w.kind.as_str())),
            _ => None,
        }
    }

    /// Checks the set section's parameters (the graph checks that exactly one is set).
    pub fn check(&self) -> Result<(), String> {
        if let Some(i) = &self.ingest {
            i.check()?;
        }
        if let Some(t) = &self.transform {
            t.check()?;
        }
        if let Some(x) = &self.extract {
            x.check()?;
        }
        if let Some(e) = &self.encode {
            e.check()?;
        }
        if let Some(w) = &self.write {
            w.check()?;
        }
        Ok(())
    }
}

impl Config {
    /// Parses a YAML or JSON document (JSON is YAML) strictly.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        serde_yaml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Parses the separate `--pipeline` / `--parameters` JSON flags upstream also accepts.
    pub fn from_flags(pipeline: &str, parameters: &str) -> Result<Self, ConfigError> {
        let pipeline = serde_json::from_str(pipeline)
            .map_err(|e| ConfigError::Parse(format!("--pipeline: {e}")))?;
        let parameters = serde_json::from_str(parameters)
            .map_err(|e| ConfigError::Parse(format!("--parameters: {e}")))?;
        Ok(Self {
            pipeline,
            parameters,
            ..Self::default()
        })
    }

    /// Checks the stage graph and every stage's parameters; returns the ordered graph.
    pub fn check(&self) -> Result<StageGraph, ConfigError> {
        let graph = StageGraph::build(self)?;
        for params in &self.parameters {
            params.check().map_err(|message| GraphError::Stage {
                stage: params.name.clone(),
                message,
            })?;
        }
        Ok(graph)
    }

    /// The parameters of stage `name`.
    pub fn stage(&self, name: &str) -> Option<&StageParams> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// Adds a stage following `follows` (`None` for the ingest): a node of `pipeline` and its
    /// `parameters` entry, named `params.name`.
    pub fn push_stage(&mut self, follows: Option<&str>, params: StageParams) {
        self.pipeline.push(StageRef::new(&params.name, follows));
        self.parameters.push(params);
    }
}
