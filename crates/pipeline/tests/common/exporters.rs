//! What the exporter tests share: the stages the operator renders for a FlowCollector's
//! `spec.exporters`, and the pipeline binary run on them with flows on stdin.

use netobserv_api::v1beta2::FlowCollector;
use netobserv_api::validate::{ClusterFacts, Cni, Platform};
use netobserv_pipeline::record::Record;
use serde_json::Value;
use std::path::PathBuf;

/// The pipeline stages named `prefix*` the operator renders for the default sample
/// FlowCollector with `exporters` (JSON of `spec.exporters`) on a Kubernetes cluster.
pub fn rendered_stages(exporters: Value, prefix: &str) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sample =
        std::fs::read_to_string(root.join("config/samples/flows_v1beta2_flowcollector.yaml"))
            .expect("sample");
    let mut fc: FlowCollector = serde_yaml::from_str(&sample).expect("sample parses");
    fc.spec.exporters = serde_json::from_value(exporters).expect("exporters");
    let facts = ClusterFacts {
        platform: Platform::Kubernetes,
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        available_apis: Default::default(),
    };
    let rendered = netobserv_operator::render::render_all(
        &fc,
        &facts,
        &netobserv_operator::Images::for_tests(),
        &[],
    )
    .expect("renders");
    rendered
        .objects
        .iter()
        .map(|o| o.to_value().expect("serialises"))
        .filter(|o| o["kind"] == "ConfigMap")
        .filter_map(|o| o["data"]["config.json"].as_str().map(str::to_string))
        .filter_map(|text| serde_json::from_str::<Value>(&text).ok())
        .flat_map(|c| c["parameters"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .collect()
}

/// A pipeline binary running `config` (`tag` names its temporary directory), `flows` written
/// to its stdin, which is then closed; the caller waits for it.
pub struct Run {
    /// The process.
    pub child: std::process::Child,
    dir: PathBuf,
}

impl Run {
    /// Starts the binary and feeds it.
    pub fn start(config: &Value, flows: &[Record], tag: &str) -> Self {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("netobserv-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config.json");
        std::fs::write(&path, config.to_string()).expect("config");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
            .args(["--config", path.to_str().expect("utf-8")])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("starts");
        let mut stdin = child.stdin.take().expect("stdin");
        for r in flows {
            writeln!(stdin, "{}", serde_json::to_string(r).expect("json")).expect("feeds");
        }
        Self { child, dir }
    }

    /// Waits for the end: its stderr, after checking it succeeded.
    pub fn finish(self) -> String {
        let output = self.child.wait_with_output().expect("runs");
        let _ = std::fs::remove_dir_all(&self.dir);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{stderr}");
        stderr
    }
}
