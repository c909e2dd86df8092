//! The pipeline configuration: upstream flowlogs-pipeline's `pipeline` + `parameters` document.
//!
//! Parsing is strict (unknown keys are errors, so a typo never silently disables a stage) and
//! [`Config::check`] validates the stage graph, reporting the stage and key at fault. Stage kinds
//! this crate does not run yet still parse (their parameters are kept as raw JSON) so that the
//! operator's full ConfigMap is readable; [`Config::check`] does not reject them, the runtime does.

mod encode;
mod graph;
mod transform;

pub use encode::*;
pub use graph::{GraphError, StageGraph};
pub use transform::*;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

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
    /// The stage graph: each stage names the stage it follows.
    #[serde(default)]
    pub pipeline: Vec<StageRef>,
    /// One entry per stage, holding what the stage does.
    #[serde(default)]
    pub parameters: Vec<StageParams>,
    /// Where the operational and encoded metrics are served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_settings: Option<Json>,
    /// Batching and buffer sizes between stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perf_settings: Option<PerfSettings>,
    /// Where the hot-reloadable part of the configuration comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_parameters: Option<DynamicParameters>,
    /// Health endpoint (`address`, `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Json>,
    /// Profiling endpoint (`port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Json>,
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

/// What one stage does: exactly one of the five kinds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageParams {
    /// The stage this entry configures.
    pub name: String,
    /// Source of records (grpc, kafka, stdin, file, synthetic, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest: Option<Json>,
    /// Per-record transform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    /// Per-batch extraction (aggregates, conntrack, timebased).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<Json>,
    /// Encoding (prom, kafka, otlp...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode: Option<Json>,
    /// Terminal writer (loki, stdout, ipfix, grpc...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<Json>,
}

/// The kind of a stage, from which of the [`StageParams`] sections is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

/// Buffering between stages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PerfSettings {
    /// Records per batch handed from the ingester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batcher_max_len: Option<u32>,
    /// Longest wait before an incomplete batch is handed on (a Go duration string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batcher_max_timeout: Option<String>,
    /// Capacity of each stage's input queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_buffer_len: Option<u32>,
}

/// The ConfigMap (or file) the dynamic part of the configuration is reloaded from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DynamicParameters {
    /// Namespace of the ConfigMap.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the ConfigMap.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Key (file name) holding the dynamic stages.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    /// Kubeconfig used to watch the ConfigMap, when not in-cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_config_path: String,
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

    /// Checks the stage graph and every typed stage's parameters; returns the ordered graph.
    pub fn check(&self) -> Result<StageGraph, ConfigError> {
        let graph = StageGraph::build(self)?;
        for params in &self.parameters {
            if let Some(transform) = &params.transform {
                transform.check().map_err(|message| GraphError::Stage {
                    stage: params.name.clone(),
                    message,
                })?;
            }
        }
        Ok(graph)
    }
}
