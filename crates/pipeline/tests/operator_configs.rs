//! Every flowlogs-pipeline configuration the operator renders (its golden files, one per sample
//! FlowCollector and deployment model) parses with this pipeline's strict parser, and the static
//! part merged with the dynamic part (as the pipeline does at start and on reload) is a valid
//! stage graph. This pins the operator -> pipeline contract from both ends.

use netobserv_pipeline::config::Config;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../operator/tests/golden")
}

/// `(name, config.json)` of every ConfigMap of a golden file that carries a pipeline config.
fn pipeline_configs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let Ok(value) = serde_yaml::Value::deserialize(doc) else {
            continue;
        };
        if value.get("kind").and_then(|k| k.as_str()) != Some("ConfigMap") {
            continue;
        }
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_string();
        if let Some(json) = value
            .get("data")
            .and_then(|d| d.get("config.json"))
            .and_then(|c| c.as_str())
            && (name.contains("flowlogs-pipeline") || name.contains("flp"))
        {
            out.insert(name, json.to_string());
        }
    }
    out
}

use serde::Deserialize;

#[test]
fn operator_rendered_pipeline_configs_parse_and_form_valid_graphs() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("the operator's golden files")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no golden files under {}",
        golden_dir().display()
    );
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let configs = pipeline_configs(&text);
        for (name, json) in &configs {
            if name.ends_with("-dynamic") {
                continue;
            }
            let where_ = format!(
                "{} / {name}",
                file.file_name().unwrap_or_default().to_string_lossy()
            );
            let mut config = match Config::parse(json) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{where_}: {e}"));
                    continue;
                }
            };
            if let Some(dynamic) = configs.get(&format!("{name}-dynamic")) {
                match Config::parse(dynamic) {
                    Ok(d) => {
                        for p in d.parameters {
                            config.parameters.retain(|q| q.name != p.name);
                            config.parameters.push(p);
                        }
                    }
                    Err(e) => {
                        failures.push(format!("{where_}-dynamic: {e}"));
                        continue;
                    }
                }
            }
            if let Err(e) = config.check() {
                failures.push(format!("{where_}: {e}"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        checked >= files.len(),
        "only {checked} configs in {} files",
        files.len()
    );
}

/// The pipeline configuration the operator renders for `sample` with `logTypes` set, in the
/// Direct model (conversation tracking needs every flow of a connection on one processor).
fn rendered_with_log_types(log_types: netobserv_api::v1beta2::FlpLogTypes) -> Config {
    use netobserv_api::v1beta2::{DeploymentModel, FlowCollector};
    use netobserv_api::validate::{ClusterFacts, Platform};
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/samples/flows_v1beta2_flowcollector.yaml");
    let text = std::fs::read_to_string(&path).expect("sample");
    let mut fc: FlowCollector = serde_yaml::from_str(&text).expect("sample parses");
    fc.metadata.uid = Some("00000000-0000-0000-0000-000000000001".to_string());
    fc.spec.deployment_model = DeploymentModel::Direct;
    fc.spec.loki.enable = true;
    fc.spec.processor.log_types = log_types;
    let facts = ClusterFacts {
        platform: Platform::Kubernetes,
        node_count: Some(3),
        cni: None,
        available_apis: Default::default(),
    };
    let report = netobserv_api::validate::validate(&fc, &facts);
    assert!(
        report.is_valid(),
        "{log_types:?}: {}",
        report.error_message()
    );
    let rendered = netobserv_operator::render::render_all(
        &fc,
        &facts,
        &netobserv_operator::Images::for_tests(),
        &[],
    )
    .expect("renders");
    let mut texts = BTreeMap::new();
    for o in &rendered.objects {
        let v = o.to_value().expect("serialises");
        let name = v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if v["kind"] == "ConfigMap"
            && name.starts_with("flowlogs-pipeline")
            && let Some(json) = v["data"]["config.json"].as_str()
        {
            texts.insert(name, json.to_string());
        }
    }
    let (name, json) = texts
        .iter()
        .find(|(n, _)| !n.ends_with("-dynamic"))
        .expect("a pipeline ConfigMap");
    let mut config = Config::parse(json).expect("parses");
    if let Some(dynamic) = texts.get(&format!("{name}-dynamic")) {
        for p in Config::parse(dynamic).expect("dynamic parses").parameters {
            config.parameters.retain(|q| q.name != p.name);
            config.parameters.push(p);
        }
    }
    config
}

/// Every `logTypes` the operator offers renders a configuration this pipeline runs: the
/// `extract_conntrack` stage (Conversations, EndedConversations, All) builds, and the stage
/// types of the whole graph are all registered.
#[test]
fn operator_log_types_render_stages_the_pipeline_builds() {
    use netobserv_api::v1beta2::FlpLogTypes as L;
    use netobserv_pipeline::registry::Registry;
    use netobserv_pipeline::stage::{BuildContext, StageContext};
    // (logTypes, whether a conntrack stage is rendered, the record types it emits)
    let table: &[(L, bool, &[&str])] = &[
        (L::Flows, false, &[]),
        (
            L::Conversations,
            true,
            &["newConnection", "heartbeat", "endConnection"],
        ),
        (L::EndedConversations, true, &["endConnection"]),
        (
            L::All,
            true,
            &["newConnection", "heartbeat", "endConnection", "flowLog"],
        ),
    ];
    let registry = Registry::standard();
    for &(log_types, tracked, types) in table {
        let config = rendered_with_log_types(log_types);
        config.check().expect("a valid graph");
        if let Err((stage, e)) = registry.check_supported(&config) {
            panic!("{log_types:?}: stage {stage} refused: {e}");
        }
        let stage = config
            .parameters
            .iter()
            .find(|p| p.name == "extract_conntrack");
        assert_eq!(stage.is_some(), tracked, "{log_types:?}");
        let Some(stage) = stage else {
            continue;
        };
        let rendered: Vec<String> = stage
            .extract
            .as_ref()
            .and_then(|x| x.conntrack.as_ref())
            .map(|c| {
                c.output_record_types
                    .iter()
                    .map(|t| {
                        serde_json::to_value(t)
                            .expect("ser")
                            .as_str()
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(rendered, types, "{log_types:?}");
        let shared = BuildContext::default();
        let mut stdout = || -> Box<dyn std::io::Write + Send> { Box::new(std::io::sink()) };
        let mut ctx = StageContext {
            name: &stage.name,
            shared: &shared,
            stdout: &mut stdout,
        };
        if let Err(e) = registry.build(stage, &mut ctx) {
            panic!("{log_types:?}: extract_conntrack does not build: {e}");
        }
    }
}
