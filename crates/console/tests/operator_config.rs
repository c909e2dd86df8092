//! The console binary runs what the operator renders. For every golden FlowCollector
//! (`crates/operator/tests/golden`): the plugin Deployment's arguments are the ones this binary
//! takes, the port it listens on is the one the Deployment and Service expose, and the rendered
//! `config.yaml` (parsed strictly: unknown keys are refused) starts the binary with exactly those
//! arguments. What the cluster provides is laid out here: the ConfigMap's file in a temporary
//! directory instead of `/opt/app-root/`, a generated serving certificate where the Secret would
//! be mounted, free ports instead of 9001/9002 (after checking those), and, for the TLS variant
//! whose `auth: auto` means `authenticated`, a stand-in for the Kubernetes token review API.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use netobserv_console::client::{Client, ClientSettings};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn docs(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("golden");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            serde_yaml::from_value::<Value>(serde_yaml::Value::deserialize(d).expect("yaml"))
                .expect("json")
        })
        .collect()
}

use serde::Deserialize as _;

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

async fn get_json(url: &str, token: Option<&str>) -> Option<Value> {
    let client = Client::new(
        "console",
        ClientSettings {
            skip_tls: true,
            timeout: Duration::from_secs(3),
            ..ClientSettings::default()
        },
    )
    .ok()?;
    let body = client.get(url, token).await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// Lays out what the cluster would provide in a temporary directory: a kubeconfig pointing at
/// the Kubernetes stand-in on `kube_port`, and a generated serving certificate and key.
fn prepare_dir(kube_port: u16) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("console-operator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("kubeconfig"), common::kube::kubeconfig(kube_port))
        .expect("kubeconfig");
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("cert");
    std::fs::write(dir.join("tls.crt"), ck.cert.pem()).expect("crt");
    std::fs::write(dir.join("tls.key"), ck.signing_key.serialize_pem()).expect("key");
    dir
}

/// The operator's golden renderings, in name order.
fn golden_files() -> Vec<std::path::PathBuf> {
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../operator/tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&golden)
        .expect("golden dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

/// The plugin container's arguments, checked to be the ones this binary takes, with the
/// configuration file where the ConfigMap is mounted.
fn plugin_args(name: &str, container: &Value) -> Vec<String> {
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(args.len(), 4, "{name}: {args:?}");
    assert_eq!(
        (args[0].as_str(), args[2].as_str(), args[3].as_str()),
        ("-loglevel", "-config", "/opt/app-root/config.yaml"),
        "{name}"
    );
    let mount = container["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == "config-volume")
        .expect("config mount");
    assert_eq!(mount["mountPath"], "/opt/app-root/", "{name}");
    args
}

/// The container port named `port_name`, as an integer (0 when not one).
fn container_port(container: &Value, port_name: &str) -> i64 {
    container["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == port_name)
        .unwrap_or_else(|| panic!("{port_name} port"))["containerPort"]
        .as_i64()
        .unwrap_or(0)
}

/// The ports the configuration listens on are the ones the Deployment and Service expose.
fn check_ports(
    name: &str,
    docs: &[Value],
    container: &Value,
    config: &netobserv_console::config::Config,
) {
    assert_eq!(
        i64::from(config.server.port),
        container_port(container, "http"),
        "{name}"
    );
    let service = find(docs, "Service", "netobserv-plugin").expect("service");
    assert_eq!(
        i64::from(config.server.port),
        service["spec"]["ports"][0]["targetPort"]
            .as_i64()
            .unwrap_or(0),
        "{name}"
    );
    assert_eq!(
        i64::from(config.server.metrics_port),
        container_port(container, "metrics"),
        "{name}"
    );
}

/// With TLS, the serving certificate Secret is mounted where the configuration expects it.
fn check_serving_cert_mount(name: &str, container: &Value) {
    let secret = container["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["mountPath"] == "/var/serving-cert")
        .expect("serving cert mount");
    assert_eq!(secret["name"], "serving-cert", "{name}");
}

/// The rendered `config.yaml` adapted to this machine: free ports (`port`, `mport`) instead
/// of the rendered ones, and the generated certificate files in place of every file it
/// names — each of which must be mounted by the Deployment.
fn local_config(
    name: &str,
    text: &str,
    container: &Value,
    config: &netobserv_console::config::Config,
    dir: &std::path::Path,
    (port, mport): (u16, u16),
) -> String {
    let mut local = text
        .replace(
            &format!("port: {}\n", config.server.port),
            &format!("port: {port}\n"),
        )
        .replace("metricsPort: 9002", &format!("metricsPort: {mport}"));
    // Every file the configuration names must be mounted by the Deployment; here it is a
    // generated file in its place.
    let mounts: Vec<String> = container["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .filter_map(|m| m["mountPath"].as_str().map(str::to_string))
        .collect();
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once(": ") else {
            continue;
        };
        if !key.ends_with("Path") || !value.starts_with('/') {
            continue;
        }
        assert!(
            mounts.iter().any(|m| value.starts_with(m.as_str())),
            "{name}: {key} {value} is not mounted ({mounts:?})"
        );
        let stand_in = if key.to_lowercase().contains("key") {
            "tls.key"
        } else {
            "tls.crt"
        };
        local = local.replace(value, &dir.join(stand_in).display().to_string());
    }
    local
}

/// Starts the console binary with the Deployment's arguments, the configuration file
/// replaced by `path`.
fn start_console(args: &[String], path: &std::path::Path, dir: &std::path::Path) -> Guard {
    let run_args: Vec<String> = args
        .iter()
        .map(|a| {
            if a == "/opt/app-root/config.yaml" {
                path.display().to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    Guard(
        Command::new(env!("CARGO_BIN_EXE_netobserv-console"))
            .args(&run_args)
            .env("KUBECONFIG", dir.join("kubeconfig"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("console starts"),
    )
}

/// The running console on `port` serves the rendered frontend configuration, checks tokens
/// and refuses plain HTTP when behind TLS, and reports Loki as configured.
fn check_running_console(
    runtime: &tokio::runtime::Runtime,
    name: &str,
    config: &netobserv_console::config::Config,
    port: u16,
    tls: bool,
) {
    let (scheme, token) = if tls {
        ("https", Some("alice-token"))
    } else {
        ("http", None)
    };
    let url = format!("{scheme}://127.0.0.1:{port}/api/frontend-config");
    let deadline = Instant::now() + Duration::from_secs(20);
    let frontend = loop {
        if let Some(v) = runtime.block_on(get_json(&url, token)) {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the console answers {url}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let rendered = config.frontend.as_ref().expect("frontend section");
    assert_eq!(frontend["features"], rendered["features"], "{name}");
    assert_eq!(frontend["quickFilters"], rendered["quickFilters"], "{name}");
    assert!(
        frontend["columns"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{name}"
    );
    if tls {
        // `auth: auto` behind TLS checks tokens.
        assert!(
            runtime.block_on(get_json(&url, None)).is_none(),
            "{name}: no token, no answer"
        );
        assert!(
            runtime
                .block_on(get_json(
                    &format!("http://127.0.0.1:{port}/api/frontend-config"),
                    token
                ))
                .is_none(),
            "{name}: TLS only"
        );
    }
    let status = runtime
        .block_on(get_json(
            &format!("{scheme}://127.0.0.1:{port}/api/status"),
            token,
        ))
        .expect("status");
    assert_eq!(status["loki"]["isEnabled"], config.loki.is_some(), "{name}");
}

#[test]
fn the_binary_runs_every_rendered_plugin_configuration() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let kube_port = runtime.block_on(common::kube::start(common::kube::Log::default()));
    let dir = prepare_dir(kube_port);

    let mut seen = BTreeSet::new();
    let mut ran = 0;
    for file in golden_files() {
        let docs = docs(&file);
        let (Some(cm), Some(deploy)) = (
            find(&docs, "ConfigMap", "console-plugin-config"),
            find(&docs, "Deployment", "netobserv-plugin"),
        ) else {
            continue;
        };
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text = cm["data"]["config.yaml"].as_str().expect("config.yaml");
        let container = &deploy["spec"]["template"]["spec"]["containers"][0];
        let args = plugin_args(&name, container);

        let config = netobserv_console::config::Config::parse(text)
            .unwrap_or_else(|e| panic!("{name}: the rendered config.yaml is refused: {e}"));
        check_ports(&name, &docs, container, &config);
        if !seen.insert(text.to_string()) {
            continue;
        }

        let tls = config.server.cert_path.is_some();
        if tls {
            check_serving_cert_mount(&name, container);
        }
        let (port, mport) = (common::free_port(), common::free_port());
        let local = local_config(&name, text, container, &config, &dir, (port, mport));
        let path = dir.join(format!("{ran}.yaml"));
        std::fs::write(&path, local).expect("config");
        let _child = start_console(&args, &path, &dir);
        check_running_console(&runtime, &name, &config, port, tls);
        ran += 1;
    }
    assert!(ran >= 3, "distinct plugin configurations run: {ran}");
    let _ = std::fs::remove_dir_all(&dir);
}
