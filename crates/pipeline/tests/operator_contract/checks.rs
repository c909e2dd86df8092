//! What a running pod must do: probes, the flow delivered, the metrics the operator reads.

use crate::common::loki;
use crate::common::loki::Pushes;
use crate::common::pod::{Pki, get, port, wait_for};
use crate::common::rendered::{exposes, referenced_metrics, workload};
use netobserv_test_kafka::Broker;
use prost::Message;
use serde_json::Value as Json;
use std::process::Command;
use std::time::{Duration, Instant};

/// The test flow: pod web-5c8b-x7k2p (10.128.0.17) → Service api (172.30.0.10:443), reported
/// by node-a's agent (10.0.0.1).
pub(crate) fn flow() -> pbflow::Record {
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

pub(crate) fn check_pod(
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
pub(crate) fn send_over_grpc(
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
pub(crate) fn check_delivered(
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
