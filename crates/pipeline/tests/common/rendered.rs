//! Reading the operator's rendered objects: the pipeline workload, and the metric names its
//! alert rules and console plugin configuration read.
#![allow(dead_code)]

use serde_json::Value as Json;

/// The pipeline workload and its `flowlogs-pipeline` container.
pub fn workload(objects: &[Json]) -> (&Json, &Json) {
    let w = objects
        .iter()
        .find(|o| {
            (o["kind"] == "Deployment" || o["kind"] == "DaemonSet")
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("flowlogs-pipeline"))
        })
        .expect("a flowlogs-pipeline workload");
    let c = w["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "flowlogs-pipeline"))
        .expect("the flowlogs-pipeline container");
    (w, c)
}

/// Every `netobserv_*` metric name the rendered alert rules and console plugin configuration
/// read (the agent's own `netobserv_agent_*` excepted).
pub fn referenced_metrics(objects: &[Json]) -> Vec<String> {
    let mut names = Vec::new();
    let mut take = |text: &str| {
        let mut rest = text;
        while let Some(i) = rest.find("netobserv_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            let preceded = rest[..i]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !preceded
                && !name.starts_with("netobserv_agent_")
                && !names.contains(&name.to_string())
            {
                names.push(name.to_string());
            }
            rest = &tail[end..];
        }
    };
    for o in objects {
        if o["kind"] == "PrometheusRule"
            && o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("flowlogs-pipeline"))
        {
            for group in o["spec"]["groups"].as_array().into_iter().flatten() {
                for rule in group["rules"].as_array().into_iter().flatten() {
                    take(rule["expr"].as_str().unwrap_or_default());
                }
            }
        }
        if o["kind"] == "ConfigMap" && o["metadata"]["name"] == "console-plugin-config" {
            let config: Json =
                serde_yaml::from_str(o["data"]["config.yaml"].as_str().expect("plugin config"))
                    .expect("plugin config parses");
            for m in config["prometheus"]["metrics"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if m["enabled"] == true {
                    take(m["name"].as_str().unwrap_or_default());
                }
            }
        }
    }
    names
}

/// Whether the exposition declares `name` (a histogram's `_bucket`/`_sum`/`_count` included).
pub fn exposes(text: &str, name: &str) -> bool {
    let declared = |n: &str| text.lines().any(|l| l.starts_with(&format!("# TYPE {n} ")));
    declared(name)
        || ["_bucket", "_sum", "_count"].iter().any(|s| {
            name.strip_suffix(s)
                .is_some_and(|base| text.contains(&format!("# TYPE {base} histogram")))
        })
}
