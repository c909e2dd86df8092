//! gRPC ingest over TLS and mutual TLS on loopback, with certificates generated here: an agent
//! that trusts the server's CA gets its batch through; a plaintext client or (with mTLS) a client
//! without a certificate is refused.

use netobserv_pipeline::ingest::grpc::{GrpcIngest, GrpcTls};
use pbflow::collector_client::CollectorClient;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

struct Pki {
    dir: std::path::PathBuf,
    server_cert: String,
    client: rcgen::CertifiedKey<rcgen::KeyPair>,
}

fn pki() -> Pki {
    let dir = std::env::temp_dir().join(format!(
        "netobserv-grpc-tls-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let server =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("server cert");
    let client =
        rcgen::generate_simple_self_signed(vec!["agent".to_string()]).expect("client cert");
    std::fs::write(dir.join("server.crt"), server.cert.pem()).expect("write");
    std::fs::write(dir.join("server.key"), server.signing_key.serialize_pem()).expect("write");
    std::fs::write(dir.join("client-ca.crt"), client.cert.pem()).expect("write");
    Pki {
        dir,
        server_cert: server.cert.pem(),
        client,
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn tls(p: &Pki, mutual: bool) -> GrpcTls {
    GrpcTls {
        cert_path: p.dir.join("server.crt").to_string_lossy().into_owned(),
        key_path: p.dir.join("server.key").to_string_lossy().into_owned(),
        client_ca_path: if mutual {
            p.dir.join("client-ca.crt").to_string_lossy().into_owned()
        } else {
            String::new()
        },
    }
}

async fn tls_client(
    port: u16,
    p: &Pki,
    identity: bool,
) -> Result<CollectorClient<Channel>, tonic::transport::Error> {
    let mut config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&p.server_cert))
        .domain_name("localhost");
    if identity {
        config = config.identity(Identity::from_pem(
            p.client.cert.pem(),
            p.client.signing_key.serialize_pem(),
        ));
    }
    let channel = Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .expect("uri")
        .tls_config(config)?
        .connect()
        .await?;
    Ok(CollectorClient::new(channel))
}

fn records() -> pbflow::Records {
    pbflow::Records {
        entries: vec![pbflow::Record {
            bytes: 7,
            ..pbflow::Record::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_ingest_accepts_trusting_clients_only() {
    let p = pki();
    let (tx, mut rx) = tokio::sync::mpsc::channel(10);
    let ingest = GrpcIngest::start_with_tls(
        "127.0.0.1:0".parse().expect("addr"),
        tx,
        Duration::from_secs(1),
        Some(&tls(&p, false)),
    )
    .await
    .expect("starts");
    let port = ingest.local_addr.port();
    let mut client = tls_client(port, &p, false).await.expect("TLS connects");
    client.send(records()).await.expect("accepted over TLS");
    assert_eq!(rx.recv().await.expect("batch").len(), 1);
    // A plaintext agent cannot talk to a TLS ingest.
    let plain = async {
        let mut c = CollectorClient::connect(format!("http://127.0.0.1:{port}")).await?;
        c.send(records())
            .await
            .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(5), plain)
            .await
            .map_or(true, |r| r.is_err())
    );
    ingest.stop().await;
    let _ = std::fs::remove_dir_all(&p.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_ingest_requires_a_client_certificate() {
    let p = pki();
    let (tx, mut rx) = tokio::sync::mpsc::channel(10);
    let ingest = GrpcIngest::start_with_tls(
        "127.0.0.1:0".parse().expect("addr"),
        tx,
        Duration::from_secs(1),
        Some(&tls(&p, true)),
    )
    .await
    .expect("starts");
    let port = ingest.local_addr.port();
    let mut client = tls_client(port, &p, true).await.expect("mTLS connects");
    client.send(records()).await.expect("accepted over mTLS");
    assert_eq!(rx.recv().await.expect("batch").len(), 1);
    let anonymous = async {
        let mut c = tls_client(port, &p, false)
            .await
            .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
        c.send(records())
            .await
            .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(5), anonymous)
            .await
            .map_or(true, |r| r.is_err()),
        "a client without a certificate must be refused"
    );
    ingest.stop().await;
    let _ = std::fs::remove_dir_all(&p.dir);
}
