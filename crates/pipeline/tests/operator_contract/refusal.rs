//! Configurations with stages this pipeline does not run yet: refused at start, by name.

use crate::API_ADDR;
use crate::common::cluster;
use crate::common::pod::{PodFiles, pki, walk};
use crate::common::rendered::workload;
use crate::files::lay_volumes;
use crate::pod::pipeline_command;
use serde_json::Value as Json;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The first stage type of the rendered configuration (static + dynamic) this pipeline does
/// not run, if any.
pub(crate) fn unsupported_stage(objects: &[Json]) -> Option<String> {
    const RUNS: &[&str] = &[
        "grpc",
        "kafka",
        "network",
        "filter",
        "generic",
        "none",
        "prom",
        "loki",
        "stdout",
        "aggregates",
        "ipfix",
        "otlplogs",
        "otlpmetrics",
        "conntrack",
    ];
    for o in objects {
        if o["kind"] != "ConfigMap"
            || !o["metadata"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("flowlogs-pipeline"))
        {
            continue;
        }
        let Some(text) = o["data"]["config.json"].as_str() else {
            continue;
        };
        let config: Json = serde_json::from_str(text).expect("json");
        for p in config["parameters"].as_array().into_iter().flatten() {
            for section in ["ingest", "transform", "extract", "encode", "write"] {
                if let Some(kind) = p[section]["type"].as_str()
                    && !RUNS.contains(&kind)
                {
                    return Some(kind.to_string());
                }
            }
        }
    }
    None
}

/// A configuration with a stage this pipeline does not run: it must stop at start, naming it.
pub(crate) fn refused(label: &str, objects: &[Json], kind: &str) {
    let (workload, container) = workload(objects);
    let namespace = workload["metadata"]["namespace"].as_str().expect("ns");
    let pki = pki(&format!("flowlogs-pipeline.{namespace}.svc"));
    let mut files = PodFiles::new("flp-refused");
    // Some volumes (Kafka and exporter credentials) are not laid out: the configuration must be
    // refused before they are read.
    let only_config: Vec<Json> = container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["mountPath"] == "/etc/flowlogs-pipeline")
        .cloned()
        .collect();
    let mut trimmed = container.clone();
    trimmed["volumeMounts"] = Json::from(only_config);
    lay_volumes(&mut files, objects, workload, &trimmed, &pki);
    for entry in walk(&files.root) {
        let text = std::fs::read_to_string(&entry).expect("read");
        std::fs::write(&entry, files.rewrite(&text)).expect("write");
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config_maps: Vec<Json> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("-config-dynamic"))
        })
        .cloned()
        .collect();
    let _api = runtime.block_on(cluster::serve(API_ADDR.parse().expect("addr"), config_maps));
    let mut child = pipeline_command(label, container, &files)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{label}: a configuration with `{kind}` stages must be refused at start");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut log = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log);
    assert!(!status.success(), "{label}: {log}");
    assert!(
        log.contains(kind) && log.contains("not supported"),
        "{label}: the refusal must name `{kind}`:\n{log}"
    );
}
