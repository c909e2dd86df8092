//! One rendered pipeline pod run for real against the stand-ins: its files laid out, the fake
//! API server, Loki and (in the Kafka model) a broker serving it, exactly its command line and
//! environment, and a clean exit on SIGTERM.

use crate::API_ADDR;
use crate::broker;
use crate::checks::check_pod;
use crate::common::cluster;
use crate::common::loki::{self, Pushes};
use crate::common::pod::{PodFiles, object, pki, walk};
use crate::common::rendered::workload;
use crate::files::{lay_volumes, rewrite_file};
use serde_json::Value as Json;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where the rendered Loki writer sends, and as which tenant.
struct LokiTarget {
    url: Option<String>,
    tenant: Option<String>,
}

/// Starts the stand-ins and the rendered container in the current (fresh) network namespace,
/// and checks everything listed in the module documentation.
pub(crate) fn run_pod(label: &str, objects: &[Json]) {
    let (workload, container) = workload(objects);
    let namespace = workload["metadata"]["namespace"].as_str().expect("ns");
    let pki = pki(&format!("flowlogs-pipeline.{namespace}.svc"));
    let mut files = PodFiles::new("flp");
    lay_volumes(&mut files, objects, workload, container, &pki);
    let static_config = static_config(&files, container);
    let loki = loki_target(&static_config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // The Kafka model: a real broker here, in place of the rendered one.
    let kafka = broker::rendered_ingest(&static_config);
    let broker = kafka.as_ref().map(|k| broker::start(k, &runtime));
    // Rewrite every mounted file (the paths and Loki's and the brokers' addresses in it).
    for entry in walk(&files.root) {
        let mut text = rewrite_file(
            &files,
            &std::fs::read_to_string(&entry).expect("read"),
            loki.url.as_deref(),
        );
        if let (Some(kafka), Some(broker)) = (&kafka, &broker) {
            text = broker::point_at(kafka, broker, text);
        }
        std::fs::write(&entry, text).expect("write");
    }
    if let (Some(kafka), Some(broker)) = (&kafka, &broker) {
        broker::provide_credentials(kafka, broker, &files);
    }
    let config_maps = dynamic_config_maps(objects, &static_config, &files, &loki);
    let api = runtime.block_on(cluster::serve(API_ADDR.parse().expect("addr"), config_maps));
    let topic = kafka
        .as_ref()
        .map(|k| k["topic"].as_str().expect("topic").to_string());
    if let (Some(broker), Some(topic)) = (&broker, &topic) {
        runtime.block_on(broker.create_topic(topic, 1));
    }
    let pushes = serve_loki(&runtime, &loki);
    let (mut child, log) = spawn_pipeline(label, container, &files);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_pod(
            label,
            objects,
            container,
            &static_config,
            &pki,
            &runtime,
            (pushes.as_ref(), broker.as_ref().zip(topic.as_deref())),
        )
    }));
    let status = stop(&mut child);
    let log = log.join().unwrap_or_default();
    if let Err(panic) = outcome {
        eprintln!(
            "{label}: pipeline log:\n{log}\nAPI requests: {:#?}",
            api.requests()
        );
        std::panic::resume_unwind(panic);
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "{label}: no clean exit on SIGTERM ({status:?}):\n{log}"
    );
}

/// The static configuration, as mounted where the rendered `--config` argument reads it.
fn static_config(files: &PodFiles, container: &Json) -> Json {
    let config_arg = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .find_map(|a| a.strip_prefix("--config=").or(a.strip_prefix("--config ")))
        .expect("the rendered --config argument")
        .to_string();
    let static_text = std::fs::read_to_string(files.rewrite(&config_arg)).expect("config laid");
    serde_json::from_str(&static_text).expect("JSON config")
}

fn loki_target(static_config: &Json) -> LokiTarget {
    let loki = static_config["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|p| p["write"]["loki"].as_object().cloned());
    let field = |name: &str| {
        loki.as_ref()
            .and_then(|l| l[name].as_str())
            .map(str::to_string)
    };
    LokiTarget {
        url: field("url"),
        tenant: field("tenantID"),
    }
}

/// The rendered dynamic ConfigMap, as the fake API server serves it.
fn dynamic_config_maps(
    objects: &[Json],
    static_config: &Json,
    files: &PodFiles,
    loki: &LokiTarget,
) -> Vec<Json> {
    let Some(dynamic) = static_config["dynamicParameters"].as_object() else {
        return Vec::new();
    };
    let name = dynamic["name"].as_str().expect("name");
    let cm = object(objects, "ConfigMap", name).expect("the dynamic ConfigMap is rendered");
    let text = rewrite_file(
        files,
        &serde_json::to_string(cm).expect("json"),
        loki.url.as_deref(),
    );
    vec![serde_json::from_str(&text).expect("json")]
}

/// The Loki stand-in on the rendered URL's port. It speaks plain HTTP: with Loki TLS (the full
/// sample) the flow's delivery is checked through the pipeline's metrics only (the Loki TLS
/// client has its own test, loki_tls.rs).
fn serve_loki(runtime: &tokio::runtime::Runtime, loki: &LokiTarget) -> Option<Pushes> {
    let url = loki
        .url
        .as_deref()
        .filter(|url| url.starts_with("http://"))?;
    let port: u16 = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|hp| hp.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .expect("Loki URL port");
    Some(runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("binds the Loki port");
        loki::serve(listener, loki.tenant.clone())
    }))
}

/// The pipeline binary with exactly the rendered command line and environment (its mounted
/// paths moved to `files`), plus the kubeconfig of the fake API server.
pub(crate) fn pipeline_command(label: &str, container: &Json, files: &PodFiles) -> Command {
    let kubeconfig = files.root.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        cluster::kubeconfig(API_ADDR.parse().expect("addr")),
    )
    .expect("kubeconfig");
    let args: Vec<String> = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| files.rewrite(a.as_str().expect("arg")))
        .collect();
    assert!(
        container["command"].is_null(),
        "{label}: a rendered command would replace the image's entrypoint"
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"));
    command.args(&args).env_clear();
    for e in container["env"].as_array().into_iter().flatten() {
        let value = e["value"]
            .as_str()
            .unwrap_or_else(|| panic!("{label}: env {} is not a plain value", e["name"]));
        command.env(e["name"].as_str().expect("name"), value);
    }
    command.env("KUBECONFIG", &kubeconfig);
    command
}

/// [`pipeline_command`] started; the log is read on a thread until the process exits.
fn spawn_pipeline(label: &str, container: &Json, files: &PodFiles) -> (Child, JoinHandle<String>) {
    let mut command = pipeline_command(label, container, files);
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pipeline starts");
    let mut stderr = child.stderr.take().expect("stderr");
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    (child, log)
}

/// SIGTERM, as the kubelet stops a pod; `None` when it had not exited 15 s later (killed).
fn stop(child: &mut Child) -> Option<ExitStatus> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
