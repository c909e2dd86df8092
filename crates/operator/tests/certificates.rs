//! The default Service model uses `processor.service.tlsType: Auto`: the pipeline serves gRPC with
//! Secret `flowlogs-pipeline-cert` and the agents trust ConfigMap `netobserv-ca`. On plain
//! Kubernetes nothing created them and the pods could not start. The operator now issues them; a
//! real TLS handshake checks that what it issued is what the pods need: the pipeline's
//! certificate, presented by a rustls server, is accepted by a client trusting only the bundle,
//! under every name an agent may dial.

mod common;

use common::*;
use k8s_openapi::ByteString;
use netobserv_fake_apiserver::FakeApiServer;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use std::sync::Arc;

fn secret_data(fake: &FakeApiServer, path: &str, key: &str) -> Vec<u8> {
    let secret: k8s_openapi::api::core::v1::Secret =
        serde_json::from_value(fake.get(path).unwrap_or_else(|| panic!("{path} missing")))
            .expect("Secret");
    secret
        .data
        .and_then(|d| d.get(key).cloned())
        .map(|ByteString(b)| b)
        .unwrap_or_else(|| panic!("{path} has no {key}"))
}

/// The certificates of a PEM text.
fn certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .map(|c| c.expect("PEM certificate"))
        .collect()
}

async fn handshake(cert: &[u8], key: &[u8], bundle: &[u8], name: &str) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            certs(cert),
            PrivateKeyDer::from_pem_slice(key).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in certs(bundle) {
        roots.add(ca).map_err(|e| e.to_string())?;
    }
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        acceptor
            .accept(tcp)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    let connected = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    let _ = served.await;
    connected
}

#[tokio::test]
async fn the_default_service_model_gets_a_working_certificate_on_plain_kubernetes() {
    let fake = cluster(&[]).await;
    create_collector(&fake, json!({"deploymentModel": "Service"}));
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;

    let cert = secret_data(
        &fake,
        "/api/v1/namespaces/netobserv/secrets/flowlogs-pipeline-cert",
        "tls.crt",
    );
    let key = secret_data(
        &fake,
        "/api/v1/namespaces/netobserv/secrets/flowlogs-pipeline-cert",
        "tls.key",
    );
    let bundle_cm = fake
        .get("/api/v1/namespaces/netobserv-privileged/configmaps/netobserv-ca")
        .expect("the agents' CA bundle");
    let bundle = bundle_cm["data"]["service-ca.crt"]
        .as_str()
        .expect("bundle")
        .as_bytes()
        .to_vec();
    for name in [
        "flowlogs-pipeline.netobserv.svc",
        "flowlogs-pipeline.netobserv.svc.cluster.local",
        "flowlogs-pipeline.netobserv",
    ] {
        handshake(&cert, &key, &bundle, name)
            .await
            .unwrap_or_else(|e| panic!("TLS to {name}: {e}"));
    }
    assert!(
        handshake(&cert, &key, &bundle, "elsewhere.netobserv.svc")
            .await
            .is_err(),
        "a name the certificate does not carry must be refused"
    );
    // The agents mount the bundle; its digest is on their pod template, so a rotation rolls them.
    let agent = fake.get(AGENT_DAEMONSET).expect("agent");
    let annotations = &agent["spec"]["template"]["metadata"]["annotations"];
    assert!(
        annotations.as_object().is_some_and(|a| a
            .keys()
            .any(|k| k.starts_with("flows.netobserv.io/watched-"))),
        "{annotations}"
    );
    // The workload is not waiting for anything the cluster lacks.
    let fc = stored_collector(&fake);
    let issue = fc
        .status
        .and_then(|s| {
            s.conditions
                .into_iter()
                .find(|c| c.type_ == "ConfigurationIssue")
        })
        .expect("condition");
    assert_eq!(issue.status, "False", "{}", issue.message);
}

/// A certificate the user provides but has not created is named in the status instead of leaving
/// the pods waiting without a word.
#[tokio::test]
async fn a_missing_provided_certificate_is_named_in_the_status() {
    let fake = cluster(&[]).await;
    let spec: Value = json!({"deploymentModel": "Service", "processor": {"service": {
    "tlsType": "Provided",
    "providedCertificates": {
        "serverCert": {"type": "secret", "name": "my-flp-cert", "certFile": "tls.crt", "certKey": "tls.key"},
        "caFile": {"type": "configmap", "name": "my-ca", "file": "ca.crt"}
    }}}});
    create_collector(&fake, spec);
    let ctx = context(&fake, facts(&[]));
    reconcile(&fake, &ctx).await;
    let fc = stored_collector(&fake);
    let issue = fc
        .status
        .and_then(|s| {
            s.conditions
                .into_iter()
                .find(|c| c.type_ == "ConfigurationIssue")
        })
        .expect("condition");
    assert_eq!(issue.status, "True");
    assert!(
        issue.message.contains("Secret netobserv/my-flp-cert"),
        "{}",
        issue.message
    );
    assert!(
        issue
            .message
            .contains("ConfigMap netobserv-privileged/my-ca"),
        "{}",
        issue.message
    );
}
