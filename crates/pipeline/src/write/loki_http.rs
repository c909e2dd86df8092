//! The Loki writer's HTTP client settings: the `clientConfig` object (Prometheus' HTTP client
//! configuration shape, which is what upstream flowlogs-pipeline and the operator use) turned into
//! a TLS connector and an `Authorization` header.
//!
//! Token files are read again before every push, so a rotated service-account token (what the
//! operator mounts for `authToken: Forward | Host`) is picked up without a restart.

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

/// Why a `clientConfig` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// The object does not have the expected shape.
    #[error("clientConfig: {0}")]
    Invalid(String),
    /// A file it names cannot be read or parsed.
    #[error("clientConfig.{field}: `{path}`: {reason}")]
    File {
        /// Key naming the file.
        field: &'static str,
        /// The path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A setting this writer does not implement.
    #[error("clientConfig.{0} is not supported by this pipeline")]
    Unsupported(&'static str),
}

pub use crate::config::{Authorization, BasicAuth, ClientConfig, TlsConfig};

/// Where the `Authorization` header value comes from.
#[derive(Clone, Debug)]
pub enum AuthSource {
    /// No header.
    None,
    /// `<scheme> <inline credentials>`.
    Inline(String),
    /// `<scheme> <file content>`, read per push.
    File {
        /// Scheme (`Bearer`, ...).
        scheme: String,
        /// The file.
        path: String,
    },
    /// Basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Inline password, or the file holding it.
        password: Secret,
    },
}

/// An inline secret or a file holding it.
#[derive(Clone, Debug)]
pub enum Secret {
    /// Given in the configuration.
    Inline(String),
    /// Read from this file.
    File(String),
}

impl Secret {
    fn read(&self) -> Result<String, ClientConfigError> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(path) => read_text("password_file", path),
        }
    }
}

fn read_text(field: &'static str, path: &str) -> Result<String, ClientConfigError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| ClientConfigError::File {
            field,
            path: path.to_string(),
            reason: e.to_string(),
        })
}

impl AuthSource {
    /// The header value for the next push (`None` when no authentication is configured).
    pub fn header(&self) -> Result<Option<String>, ClientConfigError> {
        Ok(match self {
            AuthSource::None => None,
            AuthSource::Inline(v) => Some(v.clone()),
            AuthSource::File { scheme, path } => {
                let credentials = read_text("credentials_file", path)?;
                Some(format!("{scheme} {credentials}"))
            }
            AuthSource::Basic { username, password } => {
                let raw = format!("{username}:{}", password.read()?);
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                ))
            }
        })
    }
}

/// What the sender needs from `clientConfig`: TLS settings and the authentication source.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// TLS client configuration (used for `https://` URLs).
    pub tls: Arc<rustls::ClientConfig>,
    /// Name to verify instead of the URL host.
    pub server_name: Option<String>,
    /// Authentication.
    pub auth: AuthSource,
}

impl HttpSettings {
    /// Checks and loads `clientConfig` (`None`: plain defaults).
    pub fn new(config: Option<&ClientConfig>) -> Result<Self, ClientConfigError> {
        let default = ClientConfig::default();
        let config = config.unwrap_or(&default);
        if config.proxy_url.as_deref().is_some_and(|p| !p.is_empty()) {
            return Err(ClientConfigError::Unsupported("proxy_url"));
        }
        if config.follow_redirects == Some(true) {
            return Err(ClientConfigError::Unsupported("follow_redirects: true"));
        }
        let auth = auth_source(config)?;
        let tls_config = config.tls_config.clone().unwrap_or_default();
        Ok(Self {
            tls: Arc::new(rustls_config(&tls_config)?),
            server_name: tls_config.server_name.filter(|s| !s.is_empty()),
            auth,
        })
    }
}

fn auth_source(config: &ClientConfig) -> Result<AuthSource, ClientConfigError> {
    let mut sources = Vec::new();
    if let Some(a) = &config.authorization {
        let scheme = a
            .kind
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "Bearer".into());
        if scheme.eq_ignore_ascii_case("basic") {
            return Err(ClientConfigError::Invalid(
                "authorization.type Basic: use basic_auth".into(),
            ));
        }
        match (&a.credentials, &a.credentials_file) {
            (Some(_), Some(_)) => {
                return Err(ClientConfigError::Invalid(
                    "authorization: set credentials or credentials_file, not both".into(),
                ));
            }
            (Some(c), None) => sources.push(AuthSource::Inline(format!("{scheme} {c}"))),
            (None, Some(path)) => {
                // Fail at start when the file cannot be read at all; later reads are per push.
                read_text("authorization.credentials_file", path)?;
                sources.push(AuthSource::File {
                    scheme,
                    path: path.clone(),
                });
            }
            (None, None) => {}
        }
    }
    if let Some(t) = &config.bearer_token {
        sources.push(AuthSource::Inline(format!("Bearer {t}")));
    }
    if let Some(path) = &config.bearer_token_file {
        read_text("bearer_token_file", path)?;
        sources.push(AuthSource::File {
            scheme: "Bearer".into(),
            path: path.clone(),
        });
    }
    if let Some(b) = &config.basic_auth {
        let password = match (&b.password, &b.password_file) {
            (Some(_), Some(_)) => {
                return Err(ClientConfigError::Invalid(
                    "basic_auth: set password or password_file, not both".into(),
                ));
            }
            (Some(p), None) => Secret::Inline(p.clone()),
            (None, Some(f)) => {
                read_text("basic_auth.password_file", f)?;
                Secret::File(f.clone())
            }
            (None, None) => Secret::Inline(String::new()),
        };
        sources.push(AuthSource::Basic {
            username: b.username.clone(),
            password,
        });
    }
    match sources.len() {
        0 => Ok(AuthSource::None),
        1 => Ok(sources.remove(0)),
        _ => Err(ClientConfigError::Invalid(
            "at most one of authorization, bearer_token, bearer_token_file and basic_auth".into(),
        )),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn rustls_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, ClientConfigError> {
    let versions: &[&'static rustls::SupportedProtocolVersion] = match tls.min_version.as_deref() {
        None | Some("") | Some("TLS12") => &[&rustls::version::TLS13, &rustls::version::TLS12],
        Some("TLS13") => &[&rustls::version::TLS13],
        Some(other) => {
            return Err(ClientConfigError::Invalid(format!(
                "tls_config.min_version `{other}` (expected TLS12 or TLS13)"
            )));
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| ClientConfigError::Invalid(format!("tls_config: {e}")))?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider())))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let pem = match (&tls.ca_file, &tls.ca) {
            (Some(path), _) if !path.is_empty() => Some((
                "tls_config.ca_file",
                path.clone(),
                std::fs::read(path).map_err(|e| ClientConfigError::File {
                    field: "tls_config.ca_file",
                    path: path.clone(),
                    reason: e.to_string(),
                })?,
            )),
            (_, Some(inline)) if !inline.is_empty() => Some((
                "tls_config.ca",
                "(inline)".to_string(),
                inline.as_bytes().to_vec(),
            )),
            _ => None,
        };
        match pem {
            Some((field, path, pem)) => {
                let mut added = 0;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| ClientConfigError::File {
                        field,
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                    roots.add(cert).map_err(|e| ClientConfigError::File {
                        field,
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                    added += 1;
                }
                if added == 0 {
                    return Err(ClientConfigError::File {
                        field,
                        path,
                        reason: "no PEM certificate in it".into(),
                    });
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) if !cert.is_empty() && !key.is_empty() => {
            let file =
                |field: &'static str, path: &String, reason: String| ClientConfigError::File {
                    field,
                    path: path.clone(),
                    reason,
                };
            let certs = CertificateDer::pem_file_iter(cert)
                .map_err(|e| file("tls_config.cert_file", cert, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file("tls_config.cert_file", cert, e.to_string()))?;
            if certs.is_empty() {
                return Err(file(
                    "tls_config.cert_file",
                    cert,
                    "no PEM certificate in it".into(),
                ));
            }
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file("tls_config.key_file", key, e.to_string()))?;
            builder
                .with_client_auth_cert(certs, key_der)
                .map_err(|e| file("tls_config.cert_file", cert, e.to_string()))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(c), Some(k)) if c.is_empty() && k.is_empty() => Ok(builder.with_no_client_auth()),
        _ => Err(ClientConfigError::Invalid(
            "tls_config: cert_file and key_file go together".into(),
        )),
    }
}

/// The verifier behind `insecure_skip_verify`: signatures are still checked (the handshake
/// stays well-formed), the certificate chain and name are not.
#[derive(Debug)]
struct AcceptAnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parses `clientConfig` as the stage parameters carry it, then loads it: parse errors
    /// (unknown keys such as `oauth2`) and load errors alike become a [`ClientConfigError`].
    fn from_json(value: &serde_json::Value) -> Result<HttpSettings, ClientConfigError> {
        let config: ClientConfig = serde_json::from_value(value.clone())
            .map_err(|e| ClientConfigError::Invalid(e.to_string()))?;
        HttpSettings::new(Some(&config))
    }

    #[test]
    fn operator_shape_is_accepted() {
        let dir = std::env::temp_dir().join(format!("loki-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let token = dir.join("token");
        std::fs::write(&token, "abc\n").expect("write");
        let s = from_json(&json!({
            "follow_redirects": false,
            "authorization": {"type": "Bearer", "credentials_file": token},
            "tls_config": {"insecure_skip_verify": true}
        }))
        .expect("valid");
        assert_eq!(
            s.auth.header().expect("read").as_deref(),
            Some("Bearer abc")
        );
        std::fs::write(&token, "rotated").expect("write");
        assert_eq!(
            s.auth.header().expect("read").as_deref(),
            Some("Bearer rotated")
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_shapes_are_named() {
        let err = |v: serde_json::Value| from_json(&v).expect_err("invalid").to_string();
        assert!(
            err(json!({"tls_config": {"ca_file": "/nonexistent/ca.crt"}}))
                .contains("tls_config.ca_file")
        );
        assert!(
            err(json!({"bearer_token": "a", "basic_auth": {"username": "u"}}))
                .contains("at most one")
        );
        assert!(err(json!({"proxy_url": "http://proxy:3128"})).contains("proxy_url"));
        assert!(err(json!({"tls_config": {"cert_file": "/a"}})).contains("go together"));
        assert!(err(json!({"oauth2": {}})).contains("oauth2"));
        assert!(
            err(json!({"authorization": {"credentials_file": "/nonexistent/token"}}))
                .contains("credentials_file")
        );
    }

    #[test]
    fn basic_auth_is_base64() {
        let s = from_json(&json!({
            "basic_auth": {"username": "loki", "password": "secret"}
        }))
        .expect("valid");
        assert_eq!(
            s.auth.header().expect("header").as_deref(),
            Some("Basic bG9raTpzZWNyZXQ=")
        );
    }
}
