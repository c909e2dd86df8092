//! The flowlogs-pipeline configuration (`pipeline` + `parameters`, reference
//! pipeline-console-cli.md §A), split in a static part (mounted file; its digest rolls the pods)
//! and a dynamic part (a ConfigMap the pipeline watches and hot-reloads: subnets, filters,
//! metrics), so that editing a filter or a FlowMetric does not restart the processors.
//!
//! Both parts are built as the typed model of `netobserv-flp-config`, the one the pipeline parses:
//! a stage or key the pipeline does not know cannot be rendered.
//!
//! The pipeline is assembled in its order, one module per part: `ingest`, conversation
//! tracking (`conntrack`), `transforms`, then `outputs`; `top_level` adds the settings
//! beside the pipeline.

mod conntrack;
mod credentials;
mod enrich;
mod exporters;
mod filters;
mod ingest;
mod loki_writer;
mod outputs;
mod stages;
mod top_level;
mod transforms;

pub use loki_writer::loki_labels;

use super::Inputs;
use super::loki::LokiSettings;
use super::pod::Volumes;
use netobserv_flp_config::{Config, Extract, StageParams};
use stages::{Builder, named};

/// Directory the static configuration is mounted at.
pub const CONFIG_DIR: &str = "/etc/flowlogs-pipeline";
/// File name of both configurations inside their ConfigMaps.
pub const CONFIG_FILE: &str = "config.json";
/// Projected ServiceAccount token the Loki client sends as bearer token.
pub const LOKI_TOKEN_PATH: &str = "/var/run/secrets/tokens/flowlogs-pipeline";
/// Port of the pipeline's Prometheus endpoint.
pub const PROMETHEUS_PORT: i32 = 9401;

/// A rendered configuration.
#[derive(Debug, Default)]
pub struct FlpConfig {
    /// Static part (file `config.json`).
    pub static_config: Config,
    /// Dynamic part (`{parameters: [...]}`).
    pub dynamic_config: Config,
    /// Volumes the configuration points into (certificates, tokens).
    pub volumes: Volumes,
    /// Whether a projected token must be mounted for the Loki client.
    pub needs_loki_token: bool,
}

/// Names of the pipeline workload's objects: the monolith (`flowlogs-pipeline`) or the Kafka
/// consumer (`flowlogs-pipeline-transformer`).
pub fn config_map_names(workload: &str) -> (String, String) {
    (
        format!("{workload}-config"),
        format!("{workload}-config-dynamic"),
    )
}

/// Renders the configuration of the pipeline workload `workload` in `inputs`' model.
pub fn render(inputs: &Inputs<'_>, workload: &str, loki: &LokiSettings) -> FlpConfig {
    let mut volumes = Volumes::new(inputs.ns());
    let mut b = Builder::default();
    let mut last = ingest::ingest(inputs, &mut volumes, &mut b);
    if inputs.spec().has_conntrack() {
        let params = StageParams {
            extract: Some(Extract::conntrack(conntrack::conntrack(inputs))),
            ..named("extract_conntrack")
        };
        last = b.stage(Some(&last), params, false);
    }
    let last = transforms::transforms(inputs, &mut b, last);
    let needs_loki_token = outputs::outputs(inputs, loki, &mut volumes, &mut b, &last);
    let Builder {
        mut static_config,
        dynamic_config,
    } = b;
    top_level::top_level(&mut static_config, inputs, workload, &mut volumes);
    FlpConfig {
        static_config,
        dynamic_config,
        volumes,
        needs_loki_token,
    }
}
