//! A TLS front for the test broker: tansu 0.6 builds a TLS acceptor from `--cert` / `--key`
//! but never uses it, so TLS is terminated here (rustls, client certificates required) and the
//! plain connection forwarded to tansu, which advertises this front's address. To a client it
//! is one Kafka broker that speaks TLS and wants a certificate from the test CA, as a Strimzi /
//! AMQ Streams `tls` listener with `authentication: tls` does.

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The PEM files a client of the front needs.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA that signed the broker's certificate (and the client's).
    pub ca: PathBuf,
    /// A client certificate the front accepts.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// A CA that signed nothing here: a client trusting only it must refuse the broker.
    pub other_ca: PathBuf,
}

/// Writes a CA, a server certificate for `127.0.0.1` / `localhost` and a client certificate
/// into `dir`; returns the client's files and the server's rustls configuration (client
/// certificates from the CA required).
pub(crate) fn pki(dir: &Path) -> (TlsFiles, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    let client_key = KeyPair::generate().expect("client key");
    let client = CertificateParams::new(vec!["netobserv".into()])
        .expect("client params")
        .signed_by(&client_key, &issuer)
        .expect("client certificate");
    let other_key = KeyPair::generate().expect("other key");
    let mut other_params = CertificateParams::new(Vec::<String>::new()).expect("other params");
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = other_params.self_signed(&other_key).expect("other CA");
    let files = TlsFiles {
        ca: dir.join("ca.crt"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
        other_ca: dir.join("other-ca.crt"),
    };
    for (path, pem) in [
        (&files.ca, ca.pem()),
        (&files.client_cert, client.pem()),
        (&files.client_key, client_key.serialize_pem()),
        (&files.other_ca, other.pem()),
    ] {
        std::fs::write(path, pem).expect("write a PEM file");
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).expect("CA as a root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("client verifier");
    let chain = vec![CertificateDer::from_pem_slice(server.pem().as_bytes()).expect("server DER")];
    let key = PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_client_cert_verifier(verifier)
    .with_single_cert(chain, key)
    .expect("server certificate");
    (files, config)
}

/// Accepts TLS on `listener` and forwards each connection to `upstream` until `stop` fires.
/// Runs on a thread of its own (the broker's API is blocking).
pub(crate) fn serve(
    listener: std::net::TcpListener,
    upstream: String,
    config: rustls::ServerConfig,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let Ok(()) = listener.set_nonblocking(true) else {
                return;
            };
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            tokio::pin!(stop);
            loop {
                let conn = tokio::select! {
                    _ = &mut stop => return,
                    c = listener.accept() => c,
                };
                let Ok((tcp, _)) = conn else { continue };
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    // A client that fails the handshake (wrong CA, no certificate) just goes.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
}
