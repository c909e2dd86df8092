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
