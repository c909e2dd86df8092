//! The stage graph: one ingest root, stages following their parent, fan-out allowed, no cycles.
//!
//! The root may be [`PRESET_INGESTER`] without being declared: the ingest of a pipeline embedded
//! in another program (the agent's `EXPORT=direct-flp`), which the program feeds itself.

use super::{Config, StageKind};

/// Upstream's name of the implicit ingest stage of an embedded pipeline.
pub const PRESET_INGESTER: &str = "preset-ingester";
use std::collections::{HashMap, HashSet};

/// A stage graph problem, naming the stage at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The `pipeline` list is empty.
    #[error("the pipeline has no stage")]
    Empty,
    /// Two stages share a name.
    #[error("stage `{0}` is declared twice in `pipeline`")]
    DuplicateStage(String),
    /// A stage in `pipeline` has no `parameters` entry, or the reverse.
    #[error("stage `{stage}`: {message}")]
    Stage {
        /// The stage name.
        stage: String,
        /// What is wrong with it.
        message: String,
    },
}

fn stage_error(stage: &str, message: impl Into<String>) -> GraphError {
    GraphError::Stage {
        stage: stage.to_string(),
        message: message.into(),
    }
}

/// The checked graph: stages in an order where each comes after the stage it follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageGraph {
    /// Stage names, parents before children.
    pub order: Vec<String>,
    /// For each stage, the stages that follow it (fan-out).
    pub children: HashMap<String, Vec<String>>,
    /// The ingest stage.
    pub root: String,
}

impl StageGraph {
    /// Validates the graph of `config`.
    pub fn build(config: &Config) -> Result<Self, GraphError> {
        if config.pipeline.is_empty() {
            return Err(GraphError::Empty);
        }
        let mut names = HashSet::new();
        // An undeclared `preset-ingester` that stages follow is the embedded pipeline's ingest.
        let preset = !config.pipeline.iter().any(|s| s.name == PRESET_INGESTER)
            && config
                .pipeline
                .iter()
                .any(|s| s.follows.as_deref() == Some(PRESET_INGESTER));
        if preset {
            names.insert(PRESET_INGESTER);
        }
        for stage in &config.pipeline {
            if stage.name.is_empty() {
                return Err(stage_error("", "a stage has an empty name"));
            }
            if !names.insert(stage.name.as_str()) {
                return Err(GraphError::DuplicateStage(stage.name.clone()));
            }
        }
        let mut params = HashMap::new();
        for p in &config.parameters {
            if !names.contains(p.name.as_str()) {
                return Err(stage_error(
                    &p.name,
                    "has parameters but is not in `pipeline`",
                ));
            }
            if params.insert(p.name.as_str(), p).is_some() {
                return Err(stage_error(&p.name, "has two `parameters` entries"));
            }
            let kinds = p.kinds();
            if kinds.len() != 1 {
                return Err(stage_error(
                    &p.name,
                    format!(
                        "must set exactly one of ingest, transform, extract, encode, write (found {})",
                        kinds.len()
                    ),
                ));
            }
        }
        let kind_of = |name: &str| -> Result<StageKind, GraphError> {
            if preset && name == PRESET_INGESTER {
                return Ok(StageKind::Ingest);
            }
            params
                .get(name)
                .map(|p| p.kinds()[0])
                .ok_or_else(|| stage_error(name, "is in `pipeline` but has no `parameters` entry"))
        };
        let mut roots = Vec::new();
        if preset {
            roots.push(PRESET_INGESTER.to_string());
        }
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for stage in &config.pipeline {
            let kind = kind_of(&stage.name)?;
            match &stage.follows {
                None => {
                    if kind != StageKind::Ingest {
                        return Err(stage_error(
                            &stage.name,
                            "follows nothing, so it must be an ingest stage",
                        ));
                    }
                    roots.push(stage.name.clone());
                }
                Some(parent) => {
                    if kind == StageKind::Ingest {
                        return Err(stage_error(
                            &stage.name,
                            "is an ingest stage, so it cannot follow another stage",
                        ));
                    }
                    if !names.contains(parent.as_str()) {
                        return Err(stage_error(
                            &stage.name,
                            format!("follows `{parent}`, which is not a stage"),
                        ));
                    }
                    if kind_of(parent)? == StageKind::Write {
                        return Err(stage_error(
                            &stage.name,
                            format!("follows `{parent}`, a writer, which has no output"),
                        ));
                    }
                    children
                        .entry(parent.clone())
                        .or_default()
                        .push(stage.name.clone());
                }
            }
        }
        let root = match roots.as_slice() {
            [root] => root.clone(),
            [] => {
                return Err(stage_error(
                    &config.pipeline[0].name,
                    "no ingest stage: every stage follows another (a cycle?)",
                ));
            }
            [first, second, ..] if first == PRESET_INGESTER => {
                return Err(stage_error(
                    second,
                    format!(
                        "an ingest stage, while other stages follow `{PRESET_INGESTER}` (the \
                         embedding program's ingest): only one ingest is supported"
                    ),
                ));
            }
            [_, second, ..] => {
                return Err(stage_error(
                    second,
                    "a second stage without `follows`: only one ingest is supported",
                ));
            }
        };
        // Breadth-first from the root: stages not reached are in a cycle.
        let mut order = vec![root.clone()];
        let mut next = 0;
        while next < order.len() {
            if let Some(kids) = children.get(&order[next]) {
                order.extend(kids.iter().cloned());
            }
            next += 1;
        }
        if let Some(stray) = config.pipeline.iter().find(|s| !order.contains(&s.name)) {
            return Err(stage_error(
                &stray.name,
                "is not reachable from the ingest stage (its `follows` chain forms a cycle)",
            ));
        }
        Ok(Self {
            order,
            children,
            root,
        })
    }
}
