//! The operator → pipeline contract, tested end to end: the pipeline pod the operator renders
//! must start and work.
//!
//! For every sample FlowCollector the operator's golden tests use (`config/samples`, the
//! v1beta1 one converted first), in each deployment model and as-is on OpenShift, the operator
//! renders its objects here (the `netobserv-operator` crate itself, not a copy of its output).
//! The `flowlogs-pipeline` container of the rendered Deployment / DaemonSet is then run the way
//! a kubelet would run it:
//!
//! * in a network namespace of its own (a pod has one; the DaemonSet's `hostNetwork` changes
//!   nothing for the pipeline), so the rendered ports are used as they are;
//! * with exactly the rendered arguments and environment (the environment is cleared first);
//! * with its volumes laid out as files: ConfigMaps from the rendered ConfigMap objects, the
//!   gRPC serving certificate Secret generated here.
//!
//! What differs from a cluster, and why:
//!
//! * **Mount paths.** The test cannot write `/etc/flowlogs-pipeline` (other tests and users
//!   share the machine), so each mount path `M` is a directory `<tmp>M`, and every occurrence of
//!   `M` as a path prefix in the arguments and in the mounted files is rewritten to `<tmp>M`.
//!   Nothing else in them is changed, except:
//! * **Loki's address.** The rendered URL names a cluster DNS service; it is rewritten to
//!   `127.0.0.1` with the same port, where a Loki push stand-in (tests/common/loki.rs, strict
//!   about what Loki 3 refuses) listens.
//! * **API server access.** A kubelet injects `KUBERNETES_SERVICE_HOST`/`PORT` and a service
//!   account token; here `KUBECONFIG` points at the strict fake API server
//!   (`netobserv-fake-apiserver`, tests/common/cluster.rs) requiring that bearer token. It serves
//!   a small cluster and the rendered dynamic ConfigMap.
//!
//! Each run then requires: the rendered startup and liveness probes answer 200; a flow sent over
//! gRPC (TLS when rendered) to the rendered `flp` port reaches Loki, enriched from the API
//! server; the rendered `prometheus` port (the one the Service, ServiceMonitor and scrape
//! annotation use) serves the flow's metrics; and every `netobserv_*` metric the rendered alert
//! rules and console plugin configuration read is exposed under that name. The pod then stops
//! cleanly on SIGTERM.
//!
//! In the Kafka deployment model the flow goes through a real broker instead (tansu, started in
//! the pod's network namespace, the rendered broker address pointed at it): it is produced to
//! the rendered topic as the agents do, one `pbflow.Record` per message. With the sample's
//! Kafka TLS (the full sample), the broker sits behind a TLS front requiring a client
//! certificate, and the rendered `tls` paths get that front's CA and client certificate; with
//! its SASL (SCRAM-SHA-512), the broker requires a sign-in and the rendered credential files
//! get its user and password.
//!
//! Configurations using stages this pipeline does not run yet must be refused at start with the
//! stage type named; the test pins that too, so the gap is visible and closing it updates the
//! test.

mod common;

use common::loki::Pushes;
use common::pod::{Pki, PodFiles, get, in_new_netns, object, pki, port, wait_for, walk};
use common::rendered::{exposes, referenced_metrics, workload};
use common::{cluster, loki};
use netobserv_api::v1alpha1::FlowMetric;
use netobserv_api::v1beta1;
use netobserv_api::v1beta2::{DeploymentModel, FlowCollector};
use netobserv_api::validate::{ClusterFacts, Cni, OpenShiftVersion, Platform};
use netobserv_operator::render::{
    self, API_CONSOLE_PLUGIN, API_PROMETHEUS_RULE, API_SCC, API_SERVICE_MONITOR,
};
use netobserv_test_kafka::Broker;
use prost::Message;
use serde_json::Value as Json;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const API_ADDR: &str = "127.0.0.1:6443";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_yaml(path: &str) -> Json {
    let p = repo().join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A sample, converted to v1beta2 when it is a v1beta1 one (as the conversion webhook does).
fn sample(name: &str) -> FlowCollector {
    let raw = read_yaml(&format!("config/samples/{name}"));
    let mut fc: FlowCollector = if raw["apiVersion"] == "flows.netobserv.io/v1beta1" {
        let old: v1beta1::FlowCollector = serde_json::from_value(raw).expect("v1beta1 parses");
        v1beta1::to_v1beta2(&old).expect("converts")
    } else {
        serde_json::from_value(raw).expect("v1beta2 parses")
    };
    fc.metadata.uid = Some("00000000-0000-0000-0000-000000000001".to_string());
    fc
}

fn flow_metrics() -> Vec<FlowMetric> {
    let raw = read_yaml("config/samples/flows_v1alpha1_flowmetric.yaml");
    vec![serde_json::from_value(raw).expect("FlowMetric sample parses")]
}

fn facts(openshift: bool) -> ClusterFacts {
    let mut apis = vec![API_SERVICE_MONITOR, API_PROMETHEUS_RULE];
    if openshift {
        apis.extend([API_CONSOLE_PLUGIN, API_SCC]);
    }
    ClusterFacts {
        platform: if openshift {
            Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0)))
        } else {
            Platform::Kubernetes
        },
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        available_apis: apis.into_iter().map(str::to_string).collect(),
    }
}

/// The variants the golden tests render: each model on Kubernetes, the sample as-is on
/// OpenShift.
fn variants(name: &str) -> Vec<(String, Vec<Json>)> {
    let mut out = Vec::new();
    for (model, label) in [
        (Some(DeploymentModel::Service), "service"),
        (Some(DeploymentModel::Direct), "direct"),
        (Some(DeploymentModel::Kafka), "kafka"),
        (None, "as-is-openshift"),
    ] {
        let mut fc = sample(name);
        if let Some(model) = model {
            fc.spec.deployment_model = model;
            if model == DeploymentModel::Kafka && fc.spec.kafka.address.is_empty() {
                fc.spec.kafka.address = "kafka-cluster-kafka-bootstrap.netobserv:9092".into();
                fc.spec.kafka.topic = "network-flows".into();
            }
        }
        let rendered = render::render_all(
            &fc,
            &facts(model.is_none()),
            &netobserv_operator::Images::for_tests(),
            &flow_metrics(),
        )
        .expect("renders");
        let objects = rendered
            .objects
            .iter()
            .map(|o| o.to_value().expect("serialises"))
            .collect();
        out.push((format!("{name} / {label}"), objects));
    }
    out
}

/// Lays the container's volumes out; returns the rewritten mounted files' paths.
fn lay_volumes(
    files: &mut PodFiles,
    objects: &[Json],
    workload: &Json,
    container: &Json,
    pki: &Pki,
) {
    let namespace = workload["metadata"]["namespace"]
        .as_str()
        .expect("namespace");
    let volumes = workload["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for mount in container["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let path = mount["mountPath"].as_str().expect("mountPath");
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume {}", mount["name"]));
        let dir = files.dir(path);
        if let Some(name) = volume["configMap"]["name"].as_str() {
            let Some(cm) = object(objects, "ConfigMap", name)
                .filter(|cm| cm["metadata"]["namespace"] == namespace)
            else {
                provide_user_files(&dir, path, objects, container, pki);
                continue;
            };
            for (key, value) in cm["data"].as_object().expect("data") {
                std::fs::write(dir.join(key), value.as_str().expect("text")).expect("write");
            }
        } else if let Some(name) = volume["secret"]["secretName"].as_str()
            && object(objects, "Secret", name).is_none()
            && !name.ends_with("-cert")
        {
            provide_user_files(&dir, path, objects, container, pki);
        } else if let Some(name) = volume["secret"]["secretName"].as_str() {
            // Serving certificates (cert-manager / service CA in a cluster): generated here.
            assert!(
                name.ends_with("-cert"),
                "volume Secret {name} is not a certificate this test knows how to provide"
            );
            std::fs::write(dir.join("tls.crt"), &pki.cert_pem).expect("write");
            std::fs::write(dir.join("tls.key"), &pki.key_pem).expect("write");
            std::fs::write(dir.join("ca.crt"), &pki.ca_pem).expect("write");
        } else if let Some(sources) = volume["projected"]["sources"].as_array() {
            // A service account token the kubelet would project (Loki `authToken`).
            for source in sources {
                let file = source["serviceAccountToken"]["path"]
                    .as_str()
                    .unwrap_or_else(|| panic!("projected source {source} is not a token"));
                std::fs::write(dir.join(file), "test-service-account-token").expect("write");
            }
        } else {
            panic!("volume {volume} is of a kind this test does not lay out");
        }
    }
}

/// Lays out a ConfigMap or Secret the user provides (certificates, Kafka credentials) for a
/// mount at `mount_path`: every file the rendered configuration or command line reads there,
/// with the test PKI's CA, certificate or key by its name, or a stand-in credential.
fn provide_user_files(
    dir: &std::path::Path,
    mount_path: &str,
    objects: &[Json],
    container: &Json,
    pki: &Pki,
) {
    let mut texts: Vec<String> = objects
        .iter()
        .filter(|o| o["kind"] == "ConfigMap")
        .flat_map(|o| o["data"].as_object().cloned().unwrap_or_default())
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .collect();
    texts.push(container.to_string());
    let prefix = format!("{}/", mount_path.trim_end_matches('/'));
    let mut names = std::collections::BTreeSet::new();
    for text in &texts {
        for (at, _) in text.match_indices(&prefix) {
            let name: String = text[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    assert!(
        !names.is_empty(),
        "nothing reads the user-provided mount {mount_path}"
    );
    for name in names {
        let lower = name.to_ascii_lowercase();
        let content = if lower.contains("key") {
            pki.key_pem.clone()
        } else if lower.contains("ca") {
            pki.ca_pem.clone()
        } else if lower.contains("crt") || lower.contains("cert") || lower.ends_with(".pem") {
            pki.cert_pem.clone()
        } else {
            "netobserv".to_string()
        };
        std::fs::write(dir.join(&name), content).expect("write");
    }
}

/// `text` with mount paths moved and Loki's cluster address replaced by the stand-in's.
fn rewrite_file(files: &PodFiles, text: &str, loki_url: Option<&str>) -> String {
    let mut out = files.rewrite(text);
    if let Some(url) = loki_url {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|hp| hp.rsplit_once(':'))
            .map(|(h, _)| h.to_string())
            .expect("Loki URL host");
        out = out.replace(&format!("//{host}:"), "//127.0.0.1:");
    }
    out
}

/// The test flow: pod web-5c8b-x7k2p (10.128.0.17) → Service api (172.30.0.10:443), reported
/// by node-a's agent (10.0.0.1).
fn flow() -> pbflow::Record {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let ts = prost_types::Timestamp {
        seconds: now.as_secs() as i64,
        nanos: 0,
    };
    pbflow::Record {
        eth_protocol: 0x0800,
        direction: 1,
        time_flow_start: Some(ts),
        time_flow_end: Some(ts),
        data_link: Some(pbflow::DataLink {
            src_mac: 0x0a58_0a80_0011,
            dst_mac: 0x0a58_0a80_0001,
        }),
        network: Some(pbflow::Network {
            src_addr: Some(pbflow::Ip::from_addr("10.128.0.17".parse().expect("ip"))),
            dst_addr: Some(pbflow::Ip::from_addr("172.30.0.10".parse().expect("ip"))),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 40000,
            dst_port: 443,
            protocol: 6,
        }),
        bytes: 1500,
        packets: 3,
        interface: "eth0".into(),
        agent_ip: Some(pbflow::Ip::from_addr("10.0.0.1".parse().expect("ip"))),
        flags: 0x10,
        sampling: 1,
        ..pbflow::Record::default()
    }
}

/// Starts the stand-ins and the rendered container in the current (fresh) network namespace,
/// and checks everything listed in the module documentation.
fn run_pod(label: &str, objects: &[Json]) {
    let (workload, container) = workload(objects);
    let namespace = workload["metadata"]["namespace"].as_str().expect("ns");
    let pki = pki(&format!("flowlogs-pipeline.{namespace}.svc"));
    let mut files = PodFiles::new("flp");
    lay_volumes(&mut files, objects, workload, container, &pki);
    // The static configuration, as mounted.
    let config_arg = container["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .find_map(|a| a.strip_prefix("--config=").or(a.strip_prefix("--config ")))
        .expect("the rendered --config argument")
        .to_string();
    let static_text = std::fs::read_to_string(files.rewrite(&config_arg)).expect("config laid");
    let static_config: Json = serde_json::from_str(&static_text).expect("JSON config");
    let loki = static_config["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|p| p["write"]["loki"].as_object().cloned());
    let loki_url = loki
        .as_ref()
        .and_then(|l| l["url"].as_str())
        .map(str::to_string);
    let tenant = loki
        .as_ref()
        .and_then(|l| l["tenantID"].as_str())
        .map(str::to_string);
    // The Kafka model: a real broker here, in place of the rendered one.
    let kafka = static_config["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|p| p["ingest"]["kafka"].as_object().cloned());
    // With the sample's Kafka TLS, the broker is behind a TLS front that wants a client
    // certificate; its CA and the client's certificate replace the user-provided files where
    // the rendered configuration reads them (below). With its SASL (SCRAM-SHA-512), the broker
    // requires a sign-in, and the rendered credential files get its user and password.
    let kafka_part = |part: &str| {
        kafka
            .as_ref()
            .and_then(|k| k.get(part))
            .filter(|t| t.is_object())
            .cloned()
    };
    let (kafka_tls, kafka_sasl) = (kafka_part("tls"), kafka_part("sasl"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (user, password) = ("flowlogs-pipeline", "a-scram-password");
    let broker = kafka.as_ref().map(|_| match (&kafka_tls, &kafka_sasl) {
        (Some(_), Some(_)) => runtime.block_on(Broker::start_behind_tls_with_scram(user, password)),
        (None, Some(_)) => runtime.block_on(Broker::start_with_scram(user, password)),
        (Some(_), None) => Broker::start_behind_tls(),
        (None, None) => Broker::start(),
    });
    // Rewrite every mounted file (the paths and Loki's and the brokers' addresses in it).
    for entry in walk(&files.root) {
        let mut text = rewrite_file(
            &files,
            &std::fs::read_to_string(&entry).expect("read"),
            loki_url.as_deref(),
        );
        if let (Some(kafka), Some(broker)) = (&kafka, &broker) {
            for rendered in kafka["brokers"].as_array().into_iter().flatten() {
                let rendered = rendered.as_str().expect("broker address");
                text = text.replace(rendered, &broker.address);
            }
        }
        std::fs::write(&entry, text).expect("write");
    }
    if let (Some(tls), Some(front)) = (&kafka_tls, broker.as_ref().and_then(|b| b.tls.as_ref())) {
        for (field, source) in [
            ("caCertPath", &front.ca),
            ("userCertPath", &front.client_cert),
            ("userKeyPath", &front.client_key),
        ] {
            if let Some(path) = tls[field].as_str().filter(|p| !p.is_empty()) {
                std::fs::copy(source, files.rewrite(path))
                    .unwrap_or_else(|e| panic!("the broker's {field} at {path}: {e}"));
            }
        }
    }
    if let Some(sasl) = &kafka_sasl {
        for (field, content) in [("clientIDPath", user), ("clientSecretPath", password)] {
            let path = sasl[field]
                .as_str()
                .expect("a rendered SASL credential path");
            std::fs::write(files.rewrite(path), content)
                .unwrap_or_else(|e| panic!("the broker's {field} at {path}: {e}"));
        }
    }
    // The fake API server, with the rendered dynamic ConfigMap.
    let mut config_maps = Vec::new();
    if let Some(dynamic) = static_config["dynamicParameters"].as_object() {
        let name = dynamic["name"].as_str().expect("name");
        let cm = object(objects, "ConfigMap", name).expect("the dynamic ConfigMap is rendered");
        let text = rewrite_file(
            &files,
            &serde_json::to_string(cm).expect("json"),
            loki_url.as_deref(),
        );
        config_maps.push(serde_json::from_str(&text).expect("json"));
    }
    let api = runtime.block_on(cluster::serve(API_ADDR.parse().expect("addr"), config_maps));
    let topic = kafka
        .as_ref()
        .map(|k| k["topic"].as_str().expect("topic").to_string());
    if let (Some(broker), Some(topic)) = (&broker, &topic) {
        runtime.block_on(broker.create_topic(topic, 1));
    }
    // The Loki stand-in speaks plain HTTP: with Loki TLS (the full sample) the flow's delivery
    // is checked through the pipeline's metrics only (the Loki TLS client has its own test,
    // loki_tls.rs).
    let pushes: Option<Pushes> = loki_url
        .as_deref()
        .filter(|url| url.starts_with("http://"))
        .map(|url| {
            let port: u16 = url
                .split("://")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .and_then(|hp| hp.rsplit_once(':'))
                .and_then(|(_, p)| p.parse().ok())
                .expect("Loki URL port");
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .expect("binds the Loki port");
                loki::serve(listener, tenant.clone())
            })
        });
    let kubeconfig = files.root.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        cluster::kubeconfig(API_ADDR.parse().expect("addr")),
    )
    .expect("kubeconfig");
    // Exactly the rendered command line and environment.
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
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
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

fn check_pod(
    label: &str,
    objects: &[Json],
    container: &Json,
    config: &Json,
    pki: &Pki,
    runtime: &tokio::runtime::Runtime,
    (pushes, kafka): (Option<&Pushes>, Option<(&Broker, &str)>),
) {
    // The rendered probes.
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let p = &container[probe]["httpGet"];
        if p.is_null() {
            continue;
        }
        let port = port(container, &p["port"]);
        let path = p["path"].as_str().expect("probe path").to_string();
        wait_for(
            &format!("{label}: {probe} {path} on {port}"),
            Duration::from_secs(30),
            || get(port, &path).is_some_and(|(code, _)| code == 200),
        );
    }
    let ingest_stage = config["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["ingest"].is_object())
        .and_then(|p| p["name"].as_str())
        .expect("an ingest stage")
        .to_string();
    match kafka {
        Some((broker, topic)) => {
            runtime.block_on(broker.produce(topic, vec![(None, flow().encode_to_vec())]));
        }
        None => send_over_grpc(objects, container, config, pki, runtime),
    }
    let metrics_tls = config["metricsSettings"]["tls"].is_object();
    let filtered = config["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["transform"]["type"] == "filter");
    check_delivered(
        label,
        objects,
        container,
        pushes,
        &ingest_stage,
        (metrics_tls, filtered),
    );
}

/// The flow over gRPC to the rendered port, with TLS when the ingest has a certificate.
fn send_over_grpc(
    objects: &[Json],
    container: &Json,
    config: &Json,
    pki: &Pki,
    runtime: &tokio::runtime::Runtime,
) {
    let grpc_port = port(container, &Json::from("flp"));
    let tls = config["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["ingest"]["grpc"]["certPath"].is_string());
    // Mutual TLS (provided certificates with a client CA): the agent presents its certificate.
    let mtls = config["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["ingest"]["grpc"]["clientCAPath"].is_string());
    let namespace = workload(objects).0["metadata"]["namespace"]
        .as_str()
        .expect("namespace")
        .to_string();
    runtime.block_on(async {
        use tonic::transport::{Certificate, Channel, ClientTlsConfig};
        let scheme = if tls { "https" } else { "http" };
        let mut endpoint =
            Channel::from_shared(format!("{scheme}://127.0.0.1:{grpc_port}")).expect("uri");
        if tls {
            let mut client = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&pki.ca_pem))
                .domain_name(format!("flowlogs-pipeline.{namespace}.svc"));
            if mtls {
                client = client.identity(tonic::transport::Identity::from_pem(
                    &pki.cert_pem,
                    &pki.key_pem,
                ));
            }
            endpoint = endpoint.tls_config(client).expect("tls");
        }
        let channel = endpoint.connect().await.expect("the agent connects");
        pbflow::collector_client::CollectorClient::new(channel)
            .send(pbflow::Records {
                entries: vec![flow()],
            })
            .await
            .expect("the flow is accepted");
    });
}

/// The flow reached Loki enriched, and the rendered metrics port shows it.
fn check_delivered(
    label: &str,
    objects: &[Json],
    container: &Json,
    pushes: Option<&Pushes>,
    ingest_stage: &str,
    (metrics_tls, filtered): (bool, bool),
) {
    // It reaches Loki, enriched.
    if let Some(pushes) = pushes {
        wait_for(
            &format!("{label}: the flow in Loki"),
            Duration::from_secs(15),
            || !pushes.lock().expect("lock").is_empty(),
        );
        let entries = pushes.lock().expect("lock").clone();
        assert_eq!(entries.len(), 1, "{label}: {entries:#?}");
        let labels = loki::parse_labels(&entries[0].labels).expect("labels");
        for (k, v) in [
            ("SrcK8S_Namespace", "shop"),
            ("SrcK8S_OwnerName", "web"),
            ("SrcK8S_Type", "Pod"),
            ("DstK8S_Namespace", "shop"),
            ("DstK8S_OwnerName", "api"),
            ("DstK8S_Type", "Service"),
            ("K8S_FlowLayer", "app"),
            ("FlowDirection", "1"),
            ("app", "netobserv-flowcollector"),
        ] {
            assert!(
                labels.contains(&(k.to_string(), v.to_string())),
                "{label}: label {k}={v} missing in {labels:?}"
            );
        }
        let line: Json = serde_json::from_str(&entries[0].line).expect("JSON line");
        assert_eq!(line["SrcAddr"], "10.128.0.17", "{label}: {line}");
        assert_eq!(line["SrcK8S_HostName"], "node-a", "{label}: {line}");
        assert_eq!(line["Bytes"], 1500, "{label}: {line}");
    }
    // The rendered metrics port: what the Service, the ServiceMonitor and the scrape
    // annotation point at.
    let metrics_port = port(container, &Json::from("prometheus"));
    if let Some(svc) = objects
        .iter()
        .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "flowlogs-pipeline-prom")
    {
        assert_eq!(
            svc["spec"]["ports"][0]["targetPort"].as_u64(),
            Some(u64::from(metrics_port)),
            "{label}: the metrics Service targets another port"
        );
    }
    let scrape = |pred: &dyn Fn(&str) -> bool| {
        let mut last = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let body = if metrics_tls {
                // The user-provided metrics certificate (laid out from the test PKI).
                Command::new("curl")
                    .args(["-sk", "--max-time", "5"])
                    .arg(format!("https://127.0.0.1:{metrics_port}/metrics"))
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| (200, String::from_utf8_lossy(&o.stdout).to_string()))
            } else {
                get(metrics_port, "/metrics")
            };
            if let Some((200, body)) = body {
                if pred(&body) {
                    return body;
                }
                last = body;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("{label}: /metrics on {metrics_port} never showed the flow:\n{last}");
    };
    let processed = format!("netobserv_ingest_flows_processed{{stage=\"{ingest_stage}\"}} 1");
    let text = scrape(&|t| t.contains(&processed));
    // With processor filters or sampling (the full sample) the single test flow may rightly be
    // kept out of the metrics; then only its ingestion is required.
    assert!(
        filtered
            || text
                .lines()
                .any(|l| l.starts_with("netobserv_namespace_flows_total{")
                    && l.contains("SrcK8S_Namespace=\"shop\"")
                    && l.ends_with(" 1")),
        "{label}: the flow is not counted in namespace_flows_total:\n{text}"
    );
    let missing: Vec<String> = referenced_metrics(objects)
        .into_iter()
        .filter(|m| !exposes(&text, m))
        .collect();
    assert!(
        missing.is_empty(),
        "{label}: metrics the operator's rules or console read but the pipeline does not expose: {missing:?}\n{text}"
    );
}

/// Runs every runnable variant of `sample_name`; checks the others are refused clearly.
fn contract(sample_name: &str) {
    assert!(
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0"),
        "the operator contract test runs the pod in a network namespace: run the suite as root"
    );
    for (label, objects) in variants(sample_name) {
        let unsupported = unsupported_stage(&objects);
        match unsupported {
            None => in_new_netns(move || run_pod(&label, &objects)),
            Some(kind) => in_new_netns(move || refused(&label, &objects, &kind)),
        }
    }
}

/// The first stage type of the rendered configuration (static + dynamic) this pipeline does
/// not run, if any.
fn unsupported_stage(objects: &[Json]) -> Option<String> {
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
fn refused(label: &str, objects: &[Json], kind: &str) {
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(&args)
        .env_clear()
        .env("KUBECONFIG", &kubeconfig)
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

#[test]
fn v1beta1_sample() {
    contract("flows_v1beta1_flowcollector.yaml");
}

#[test]
fn minimal_sample() {
    contract("flows_v1beta2_flowcollector.yaml");
}

#[test]
fn full_sample() {
    contract("flows_v1beta2_flowcollector_full.yaml");
}

#[test]
fn network_events_sample() {
    contract("flows_v1beta2_flowcollector_network_events.yaml");
}

#[test]
fn packet_translation_sample() {
    contract("flows_v1beta2_flowcollector_packet_translation.yaml");
}

#[test]
fn secondary_interfaces_sample() {
    contract("flows_v1beta2_flowcollector_secondary_interfaces.yaml");
}
