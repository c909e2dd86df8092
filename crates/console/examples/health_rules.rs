//! Prints the Prometheus rules file (JSON, which Prometheus reads as YAML) of the
//! `PrometheusRule` objects the operator renders for a FlowCollector, so the Network Health
//! page's test runs a real Prometheus on exactly the operator's health rules.
//!
//! `cargo run -p netobserv-console --example health_rules -- config/samples/<sample>.yaml`

use netobserv_api::v1beta2::FlowCollector;
use netobserv_api::validate::{ClusterFacts, Cni, OpenShiftVersion, Platform};
use netobserv_operator::render::{
    self, API_CONSOLE_PLUGIN, API_PROMETHEUS_RULE, API_SERVICE_MONITOR,
};
use std::process::ExitCode;

fn main() -> ExitCode {
    netobserv_logging::init(None, netobserv_logging::Format::Text);
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: health_rules FLOWCOLLECTOR.yaml");
        return ExitCode::from(2);
    };
    match rules_file(&path) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn rules_file(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut fc: FlowCollector = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
    fc.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
    let facts = ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0))),
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        available_apis: [API_SERVICE_MONITOR, API_PROMETHEUS_RULE, API_CONSOLE_PLUGIN]
            .into_iter()
            .map(str::to_string)
            .collect(),
    };
    let rendered = render::render_all(&fc, &facts, &netobserv_operator::Images::for_tests(), &[])
        .map_err(|e| e.to_string())?;
    let mut groups = Vec::new();
    for object in &rendered.objects {
        let value = object.to_value().map_err(|e| e.to_string())?;
        if value["kind"] == "PrometheusRule" {
            groups.extend(
                value["spec"]["groups"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    if groups.is_empty() {
        return Err("the operator renders no PrometheusRule for it".into());
    }
    serde_json::to_string_pretty(&serde_json::json!({ "groups": groups }))
        .map_err(|e| e.to_string())
}
