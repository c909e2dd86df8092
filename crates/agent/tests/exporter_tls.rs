//! The exporter over TLS and mutual TLS to a gRPC collector on loopback with certificates
//! generated here (`TARGET_TLS_CA_CERT_PATH`, `TARGET_TLS_USER_CERT_PATH`,
//! `TARGET_TLS_USER_KEY_PATH`): batches arrive when the agent trusts the collector and, with mTLS,
//! presents its certificate; without the client certificate the mTLS collector refuses them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use netobserv_agent::exporter::{self, ExporterConfig, ExporterTls};
use netobserv_agent::metrics::Metrics;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<pbflow::Record>>>);

#[tonic::async_trait]
impl pbflow::collector_server::Collector for Collector {
    async fn send(
        &self,
        request: tonic::Request<pbflow::Records>,
    ) -> Result<tonic::Response<pbflow::CollectorReply>, tonic::Status> {
        self.0.lock().unwrap().extend(request.into_inner().entries);
        Ok(tonic::Response::new(pbflow::CollectorReply {}))
    }
}

struct Setup {
    dir: std::path::PathBuf,
    port: u16,
    received: Collector,
}

async fn tls_collector(mutual: bool) -> Setup {
    let dir = std::env::temp_dir().join(format!(
        "netobserv-agent-tls-{}-{}",
        std::process::id(),
        mutual
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let server = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let client = rcgen::generate_simple_self_signed(vec!["agent".to_string()]).unwrap();
    std::fs::write(dir.join("ca.crt"), server.cert.pem()).unwrap();
    std::fs::write(dir.join("user.crt"), client.cert.pem()).unwrap();
    std::fs::write(dir.join("user.key"), client.signing_key.serialize_pem()).unwrap();
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
        server.cert.pem(),
        server.signing_key.serialize_pem(),
    ));
    if mutual {
        tls = tls.client_ca_root(Certificate::from_pem(client.cert.pem()));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Collector::default();
    let service = pbflow::collector_server::CollectorServer::new(received.clone());
    tokio::spawn(async move {
        let _ = Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    Setup {
        dir,
        port,
        received,
    }
}

fn exporter_tls(s: &Setup, with_user_cert: bool) -> ExporterTls {
    let path = |f: &str| s.dir.join(f).to_string_lossy().into_owned();
    ExporterTls {
        ca_cert_path: path("ca.crt"),
        user_cert_path: if with_user_cert {
            path("user.crt")
        } else {
            String::new()
        },
        user_key_path: if with_user_cert {
            path("user.key")
        } else {
            String::new()
        },
    }
}

async fn export_one(s: &Setup, tls: ExporterTls) -> Arc<Metrics> {
    let metrics = Arc::new(Metrics::new("ebpf_agent_"));
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut cfg = ExporterConfig::new("127.0.0.1", s.port, 100, 4).with_tls(tls);
    cfg.min_backoff = Duration::from_millis(20);
    cfg.max_backoff = Duration::from_millis(50);
    let (queue, _task) = exporter::start(cfg, metrics.clone(), stop_rx).unwrap();
    assert!(queue.push(vec![pbflow::Record {
        bytes: 42,
        ..Default::default()
    }]));
    let deadline = Instant::now() + Duration::from_secs(3);
    while s.received.0.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    metrics
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_reach_a_tls_collector() {
    let s = tls_collector(false).await;
    export_one(&s, exporter_tls(&s, false)).await;
    assert_eq!(s.received.0.lock().unwrap()[0].bytes, 42);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let s = tls_collector(true).await;
    let metrics = export_one(&s, exporter_tls(&s, false)).await;
    assert!(
        s.received.0.lock().unwrap().is_empty(),
        "refused without a client certificate"
    );
    assert!(metrics.export_errors.get() > 0, "the failures are counted");
    export_one(&s, exporter_tls(&s, true)).await;
    assert_eq!(s.received.0.lock().unwrap().len(), 1, "accepted with it");
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[test]
fn an_unreadable_ca_is_a_clear_error() {
    let cfg = ExporterConfig::new("127.0.0.1", 1, 10, 1).with_tls(ExporterTls {
        ca_cert_path: "/nonexistent/ca.crt".into(),
        ..ExporterTls::default()
    });
    let metrics = Arc::new(Metrics::new("ebpf_agent_"));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = runtime
        .block_on(async { exporter::start(cfg, metrics, rx).map(|_| ()) })
        .expect_err("missing CA");
    assert!(err.to_string().contains("/nonexistent/ca.crt"), "{err}");
}
