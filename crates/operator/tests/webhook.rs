//! Webhook tests: real AdmissionReview / ConversionReview JSON is POSTed over HTTPS to the
//! webhook server listening on loopback with a freshly generated self-signed certificate, and the
//! JSON answers are checked (allowed / denied with the validation message, warnings, converted
//! objects).

use netobserv_api::validate::{ClusterFacts, Cni, OpenShiftVersion, Platform};
use netobserv_operator::webhook::{
    self, CONVERT, VALIDATE_FLOWCOLLECTOR, VALIDATE_FLOWMETRIC, WebhookState,
};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{RwLock, watch};

struct Server {
    port: u16,
    ca: CertificateDer<'static>,
    _stop: watch::Sender<bool>,
}

async fn start() -> Server {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let cert_pem = ck.cert.pem();
    let key_pem = ck.signing_key.serialize_pem();
    let tls = webhook::tls_config(cert_pem.as_bytes(), key_pem.as_bytes()).expect("tls config");
    let facts = ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0))),
        node_count: Some(3),
        cni: Some(Cni::OvnKubernetes),
        ..ClusterFacts::default()
    };
    let router = webhook::router(WebhookState {
        facts: Arc::new(RwLock::new(facts)),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, rx) = watch::channel(false);
    tokio::spawn(webhook::serve_tls(listener, tls, router, rx));
    Server {
        port,
        ca: ck.cert.der().clone(),
        _stop: stop,
    }
}

/// POSTs JSON over HTTPS (HTTP/1.1, verified against the server's certificate).
async fn post(server: &Server, path: &str, body: &Value) -> Value {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server.ca.clone()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("connect");
    let mut tls = connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake with the webhook");
    let payload = serde_json::to_vec(body).expect("json");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    tls.write_all(head.as_bytes()).await.expect("write");
    tls.write_all(&payload).await.expect("write");
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8(raw).expect("utf8");
    let (status, rest) = text.split_once("\r\n\r\n").expect("http response");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    serde_json::from_str(rest).unwrap_or_else(|e| panic!("{e}: {rest}"))
}

fn admission(kind: &str, version: &str, resource: &str, operation: &str, object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "flows.netobserv.io", "version": version, "kind": kind},
            "resource": {"group": "flows.netobserv.io", "version": version, "resource": resource},
            "requestKind": {"group": "flows.netobserv.io", "version": version, "kind": kind},
            "requestResource": {"group": "flows.netobserv.io", "version": version, "resource": resource},
            "name": object["metadata"]["name"],
            "operation": operation,
            "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

fn flowcollector(spec: Value) -> Value {
    json!({"apiVersion": "flows.netobserv.io/v1beta2", "kind": "FlowCollector",
           "metadata": {"name": "cluster", "uid": "u1"}, "spec": spec})
}

#[tokio::test]
async fn valid_flowcollector_is_allowed() {
    let server = start().await;
    let review = admission(
        "FlowCollector",
        "v1beta2",
        "flowcollectors",
        "CREATE",
        flowcollector(json!({})),
    );
    let answer = post(&server, VALIDATE_FLOWCOLLECTOR, &review).await;
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(
        answer["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
}

#[tokio::test]
async fn invalid_flowcollector_is_denied_with_the_validation_message() {
    let server = start().await;
    let fc = flowcollector(json!({"processor": {"filters": [{"query": "(("}]}}));
    let review = admission("FlowCollector", "v1beta2", "flowcollectors", "UPDATE", fc);
    let answer = post(&server, VALIDATE_FLOWCOLLECTOR, &review).await;
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let message = answer["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("spec.processor.filters[0].query"),
        "{message}"
    );
}

/// The CRD defaults `kafka.address` and `kafka.topic` to `""`, so the schema lets a Kafka model
/// without them through; the webhook (and the status, same validation) must not.
#[tokio::test]
async fn kafka_model_without_address_or_topic_is_denied_naming_the_fields() {
    let server = start().await;
    let fc =
        flowcollector(json!({"deploymentModel": "Kafka", "kafka": {"address": "", "topic": ""}}));
    let review = admission("FlowCollector", "v1beta2", "flowcollectors", "CREATE", fc);
    let answer = post(&server, VALIDATE_FLOWCOLLECTOR, &review).await;
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let message = answer["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    for field in ["spec.kafka.address", "spec.kafka.topic"] {
        assert!(message.contains(field), "{message}");
    }
}

#[tokio::test]
async fn warnings_are_returned_on_allowed_requests() {
    let server = start().await;
    // Not named `cluster`: allowed, with a warning that it is ignored.
    let mut fc = flowcollector(json!({}));
    fc["metadata"]["name"] = json!("other");
    let review = admission("FlowCollector", "v1beta2", "flowcollectors", "CREATE", fc);
    let answer = post(&server, VALIDATE_FLOWCOLLECTOR, &review).await;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    let warnings = answer["response"]["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap_or_default().contains("cluster")),
        "{answer}"
    );
}

#[tokio::test]
async fn flowmetric_checks() {
    let server = start().await;
    let good = json!({"apiVersion": "flows.netobserv.io/v1alpha1", "kind": "FlowMetric",
        "metadata": {"name": "m", "namespace": "netobserv"},
        "spec": {"type": "Histogram", "valueField": "Bytes", "buckets": ["1", "10"], "labels": ["DstPort"]}});
    let answer = post(
        &server,
        VALIDATE_FLOWMETRIC,
        &admission("FlowMetric", "v1alpha1", "flowmetrics", "CREATE", good),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    let bad = json!({"apiVersion": "flows.netobserv.io/v1alpha1", "kind": "FlowMetric",
        "metadata": {"name": "m", "namespace": "netobserv"},
        "spec": {"type": "Counter", "buckets": ["x"], "remap": {"Nope": "nope"}}});
    let answer = post(
        &server,
        VALIDATE_FLOWMETRIC,
        &admission("FlowMetric", "v1alpha1", "flowmetrics", "CREATE", bad),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let message = answer["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("spec.buckets[0]") && message.contains("spec.remap"),
        "{message}"
    );
}

fn conversion(desired: &str, objects: Vec<Value>) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": "c0ffee", "desiredAPIVersion": desired, "objects": objects}
    })
}

#[tokio::test]
async fn conversion_round_trips_v1beta1_and_v1beta2() {
    let server = start().await;
    let sample_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/samples/flows_v1beta1_flowcollector.yaml"
    );
    let old: Value =
        serde_yaml::from_str(&std::fs::read_to_string(sample_path).expect("sample")).expect("yaml");

    let up = post(
        &server,
        CONVERT,
        &conversion("flows.netobserv.io/v1beta2", vec![old.clone()]),
    )
    .await;
    assert_eq!(up["kind"], "ConversionReview");
    assert_eq!(up["response"]["uid"], "c0ffee");
    assert_eq!(up["response"]["result"]["status"], "Success", "{up}");
    let new = up["response"]["convertedObjects"][0].clone();
    assert_eq!(new["apiVersion"], "flows.netobserv.io/v1beta2");
    assert_eq!(new["metadata"]["name"], old["metadata"]["name"]);

    let down = post(
        &server,
        CONVERT,
        &conversion("flows.netobserv.io/v1beta1", vec![new.clone()]),
    )
    .await;
    assert_eq!(down["response"]["result"]["status"], "Success", "{down}");
    let back = down["response"]["convertedObjects"][0].clone();
    assert_eq!(back["apiVersion"], "flows.netobserv.io/v1beta1");
    // And up again: nothing lost on the way.
    let again = post(
        &server,
        CONVERT,
        &conversion("flows.netobserv.io/v1beta2", vec![back]),
    )
    .await;
    assert_eq!(
        again["response"]["convertedObjects"][0]["spec"],
        new["spec"]
    );
}

#[tokio::test]
async fn conversion_failure_is_reported() {
    let server = start().await;
    let bogus = json!({"apiVersion": "flows.netobserv.io/v1alpha9", "kind": "FlowCollector", "metadata": {"name": "cluster"}});
    let answer = post(
        &server,
        CONVERT,
        &conversion("flows.netobserv.io/v1beta2", vec![bogus]),
    )
    .await;
    assert_eq!(
        answer["response"]["result"]["status"], "Failure",
        "{answer}"
    );
    assert!(
        answer["response"]["convertedObjects"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
}
