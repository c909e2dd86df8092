//! A small HTTP client for Loki and Prometheus: GET with a timeout, tenant header and bearer
//! token, over plain HTTP or TLS (system roots, a CA file, or verification skipped when the
//! configuration says so). Failures say which service, which URL and what happened.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// No answer (connection refused, DNS, TLS, timeout).
    #[error("{service} at {url} is unreachable: {reason}")]
    Unreachable {
        /// Loki or Prometheus.
        service: &'static str,
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// An answer with an error status.
    #[error("{service} answered {status}: {body}")]
    Status {
        /// Loki or Prometheus.
        service: &'static str,
        /// HTTP status.
        status: u16,
        /// Body (trimmed).
        body: String,
    },
    /// The client cannot be built (bad CA file...).
    #[error("{0}")]
    Setup(String),
}

/// TLS and identity settings of one client.
#[derive(Clone, Debug, Default)]
pub struct ClientSettings {
    /// Skip server certificate verification.
    pub skip_tls: bool,
    /// CA bundle (PEM) to trust instead of the built-in roots.
    pub ca_path: Option<std::path::PathBuf>,
    /// Bearer token file, read at each call (projected tokens rotate).
    pub token_path: Option<std::path::PathBuf>,
    /// `X-Scope-OrgID`.
    pub tenant: Option<String>,
    /// Per-call timeout.
    pub timeout: Duration,
}

/// A client for one service.
#[derive(Clone)]
pub struct Client {
    service: &'static str,
    http: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    settings: ClientSettings,
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(settings: &ClientSettings) -> Result<rustls::ClientConfig, CallError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| CallError::Setup(format!("TLS: {e}")))?;
    if settings.skip_tls {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    match &settings.ca_path {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                CallError::Setup(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert =
                    cert.map_err(|e| CallError::Setup(format!("CA file {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| CallError::Setup(format!("CA file {}: {e}", path.display())))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

impl Client {
    /// A client for `service` (named in errors).
    pub fn new(service: &'static str, settings: ClientSettings) -> Result<Self, CallError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(&settings)?)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            service,
            http: HyperClient::builder(TokioExecutor::new()).build(https),
            settings,
        })
    }

    /// GETs `url`, returning the body of a 2xx answer. `user_token` is forwarded when set.
    pub async fn get(&self, url: &str, user_token: Option<&str>) -> Result<Bytes, CallError> {
        let unreachable = |reason: String| CallError::Unreachable {
            service: self.service,
            url: url.to_string(),
            reason,
        };
        let mut req = http::Request::get(url);
        if let Some(t) = &self.settings.tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        let token = match (user_token, &self.settings.token_path) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(p)) => Some(read_token(p).map_err(unreachable)?),
            _ => None,
        };
        if let Some(t) = token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .body(Empty::new())
            .map_err(|e| unreachable(format!("bad request: {e}")))?;
        let call = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| unreachable(error_chain(&e)))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            if status.is_success() {
                Ok(body)
            } else {
                let text = String::from_utf8_lossy(&body);
                Err(CallError::Status {
                    service: self.service,
                    status: status.as_u16(),
                    body: text.trim().chars().take(500).collect(),
                })
            }
        };
        match tokio::time::timeout(self.settings.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(unreachable(format!(
                "no answer within {:?} (the configured timeout)",
                self.settings.timeout
            ))),
        }
    }
}

fn read_token(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|t| t.trim().to_string())
        .map_err(|e| format!("cannot read token file {}: {e}", path.display()))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Percent-encodes a query-string value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
