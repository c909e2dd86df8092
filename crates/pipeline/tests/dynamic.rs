//! The dynamic part of the configuration: merged at start (the operator's static graph is only
//! complete with it), read from a file or from a ConfigMap through the Kubernetes API (a small
//! HTTP server here stands in for the API server, which cannot run on this machine), and
//! hot-swapped between batches without losing the running stages on a bad update.

mod common;
use common::*;
use netobserv_pipeline::config::Config;
use netobserv_pipeline::dynamic::{self, DynamicSource};
use netobserv_pipeline::record::Record;
use netobserv_pipeline::runtime::Pipeline;
use std::io::Write;
use std::process::{Command, Stdio};

const STATIC: &str = r#"
pipeline:
  - {name: ingest}
  - {name: filters, follows: ingest}
  - {name: out, follows: filters}
parameters:
  - {name: ingest, ingest: {type: stdin}}
  - {name: out, write: {type: stdout, stdout: {format: json}}}
dynamicParameters: {namespace: netobserv, name: flowlogs-pipeline-config-dynamic, fileName: config.json}
"#;

fn dynamic_filter(query: &str) -> String {
    format!(
        r#"{{"parameters":[{{"name":"filters","transform":{{"type":"filter","filter":{{"rules":[{{"type":"keep_entry_query","keepEntryQuery":"{}"}}]}}}}}}]}}"#,
        query.replace('"', "\\\"")
    )
}

fn flows() -> Vec<Record> {
    [r#"{"Bytes":1,"Proto":6}"#, r#"{"Bytes":2,"Proto":17}"#]
        .iter()
        .map(|j| Record::from_json(j).expect("record"))
        .collect()
}

#[test]
fn the_static_graph_is_completed_and_stages_are_swapped_safely() {
    let mut config = Config::parse(STATIC).expect("static parses");
    assert!(
        config.check().is_err(),
        "without its dynamic stages the graph is incomplete"
    );
    dynamic::merge(
        &mut config,
        Config::parse(&dynamic_filter("Proto=6")).expect("parses"),
    );
    let out = Shared::default();
    let sink = out.clone();
    let mut pipeline = Pipeline::build(&config, move || Box::new(sink.clone())).expect("builds");
    pipeline.process(flows());
    let reloaded = pipeline
        .reload(&Config::parse(&dynamic_filter("Proto=17")).expect("parses"))
        .expect("reloads");
    assert_eq!(reloaded, ["filters"]);
    pipeline.process(flows());
    // A bad update is refused and the running filter stays.
    assert!(
        pipeline
            .reload(&Config::parse(&dynamic_filter("Proto=")).expect("parses"))
            .is_err()
    );
    assert!(
        pipeline
            .reload(
                &Config::parse(r#"{"parameters":[{"name":"out","write":{"type":"none"}}]}"#)
                    .expect("parses")
            )
            .is_err(),
        "writers are not reloadable"
    );
    pipeline.process(flows());
    let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"Bytes":1,"Proto":6}"#,
            r#"{"Bytes":2,"Proto":17}"#,
            r#"{"Bytes":2,"Proto":17}"#
        ]
    );
}

#[test]
fn binary_reads_the_dynamic_file_at_start() {
    let dir = std::env::temp_dir().join(format!("netobserv-dynamic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("static.yaml"), STATIC).expect("static");
    std::fs::write(dir.join("dynamic.json"), dynamic_filter("Proto=17")).expect("dynamic");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &dir.join("static.yaml").to_string_lossy()])
        .args([
            "--dynamic-file",
            &dir.join("dynamic.json").to_string_lossy(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"{\"Proto\":6}\n{\"Proto\":17}\n")
        .expect("feeds");
    let output = child.wait_with_output().expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "{\"Proto\":17}\n");
    // Without the dynamic file the ConfigMap is needed; no cluster here: a clear error.
    let output = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &dir.join("static.yaml").to_string_lossy()])
        .env("KUBECONFIG", dir.join("missing-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ConfigMap netobserv/flowlogs-pipeline-config-dynamic key config.json"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn json_response(v: serde_json::Value) -> ([(&'static str, &'static str); 1], String) {
    ([("content-type", "application/json")], v.to_string())
}

#[test]
fn the_dynamic_configmap_is_read_through_the_api() {
    use axum::routing::get;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let port = listener.local_addr().expect("addr").port();
    let document = dynamic_filter("Proto=6");
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "flowlogs-pipeline-config-dynamic", "namespace": "netobserv"},
        "data": {"config.json": document},
    });
    let app = axum::Router::new()
        .route(
            "/version",
            get(|| async {
                json_response(
                    serde_json::json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0",
                    "gitCommit": "", "gitTreeState": "", "buildDate": "", "goVersion": "",
                    "compiler": "", "platform": ""}),
                )
            }),
        )
        .route(
            "/api/v1/namespaces/netobserv/configmaps/flowlogs-pipeline-config-dynamic",
            get(move || {
                let cm = cm.clone();
                async move { json_response(cm) }
            }),
        );
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dir = std::env::temp_dir().join(format!("netobserv-dynamic-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: fake, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\nusers: [{{name: u, user: {{}}}}]\ncontexts: [{{name: c, context: {{cluster: fake, user: u}}}}]\ncurrent-context: c\n"
        ),
    )
    .expect("kubeconfig");
    let source = DynamicSource::ConfigMap {
        namespace: "netobserv".into(),
        name: "flowlogs-pipeline-config-dynamic".into(),
        file_name: "config.json".into(),
        kube_config_path: kubeconfig.to_string_lossy().into_owned(),
    };
    assert_eq!(dynamic::read(&source).expect("reads"), document);
    let wrong_key = DynamicSource::ConfigMap {
        namespace: "netobserv".into(),
        name: "flowlogs-pipeline-config-dynamic".into(),
        file_name: "other.json".into(),
        kube_config_path: kubeconfig.to_string_lossy().into_owned(),
    };
    let err = dynamic::read(&wrong_key)
        .expect_err("missing key")
        .to_string();
    assert!(err.contains("no key `other.json`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// GET on loopback, body only.

#[test]
fn grpc_mode_hot_swaps_the_dynamic_stages() {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("netobserv-dynamic-grpc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = STATIC
        .replace("{name: ingest, ingest: {type: stdin}}", "{name: ingest, ingest: {type: grpc, grpc: {port: 0}}}")
        .replace(
            "{name: out, write: {type: stdout, stdout: {format: json}}}",
            "{name: out, encode: {type: prom, prom: {metrics: [{name: kept_flows_total, type: counter, labels: [Proto]}]}}}",
        );
    std::fs::write(dir.join("static.yaml"), config).expect("static");
    let dynamic = dir.join("dynamic.json");
    std::fs::write(&dynamic, dynamic_filter("Proto=6")).expect("dynamic");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &dir.join("static.yaml").to_string_lossy()])
        .args(["--dynamic-file", &dynamic.to_string_lossy()])
        .args(["--metrics-address", &format!("127.0.0.1:{metrics_port}")])
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut banner = String::new();
    while !banner.contains("listening on") {
        banner.clear();
        assert!(
            stderr.read_line(&mut banner).expect("banner") > 0,
            "no banner"
        );
    }
    let grpc = banner
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .expect("address")
        .replace("0.0.0.0", "127.0.0.1");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let send = || {
        runtime.block_on(async {
            let mut client =
                pbflow::collector_client::CollectorClient::connect(format!("http://{grpc}"))
                    .await
                    .expect("connects");
            let flow = |proto| pbflow::Record {
                eth_protocol: 0x0800,
                transport: Some(pbflow::Transport {
                    src_port: 1,
                    dst_port: 2,
                    protocol: proto,
                }),
                ..pbflow::Record::default()
            };
            client
                .send(pbflow::Records {
                    entries: vec![flow(6), flow(17)],
                })
                .await
                .expect("accepted");
        })
    };
    send();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = http_get(metrics_port, "/metrics");
    assert!(
        before.contains("kept_flows_total{Proto=\"6\"} 1"),
        "{before}"
    );
    assert!(!before.contains("Proto=\"17\""), "{before}");
    std::fs::write(&dynamic, dynamic_filter("Proto=17")).expect("update");
    // The poller re-reads every 5 s; the swap happens before the next batch.
    std::thread::sleep(std::time::Duration::from_secs(6));
    send();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let after = http_get(metrics_port, "/metrics");
    assert!(
        after.contains("kept_flows_total{Proto=\"17\"} 1"),
        "{after}"
    );
    assert!(
        after.contains("kept_flows_total{Proto=\"6\"} 1"),
        "the old count stays: {after}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    let _ = child.wait();
    assert!(
        rest.contains("dynamic configuration reloaded: filters"),
        "{rest}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
