//! What the Kafka ingest and the Kafka encoder share: where the brokers are and how to reach
//! them (TLS, SASL with credentials read from files), and the codec names upstream accepts.
//!
//! The client is krafka: pure Rust (rustls on ring), classic consumer groups with manual
//! commits, SASL PLAIN and SCRAM-SHA-512; it needs no librdkafka, so the static images build
//! without a C library.

use crate::stage::BuildError;
use krafka::Kafka;
use krafka::auth::{AuthConfig, TlsConfig};
use netobserv_flp_config::{ClientTls, Sasl, SaslKind};
use std::time::Duration;

pub use krafka::Compression;

/// How long one request to a broker may take before the connection is given up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The brokers and how to authenticate to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaTarget {
    /// Bootstrap addresses (`host:port`).
    pub brokers: Vec<String>,
    /// TLS towards the brokers.
    pub tls: Option<ClientTls>,
    /// SASL authentication.
    pub sasl: Option<Sasl>,
}

impl KafkaTarget {
    /// Refuses what cannot work, before anything starts: no broker, or SASL / TLS files that
    /// cannot be read.
    pub fn check(&self) -> Result<(), BuildError> {
        if self.brokers.iter().all(|b| b.trim().is_empty()) {
            return Err(BuildError::Invalid(
                "kafka needs at least one broker".into(),
            ));
        }
        self.auth().map(|_| ())
    }

    /// The client's security settings.
    pub fn auth(&self) -> Result<AuthConfig, BuildError> {
        let tls = self.tls.as_ref().map(tls_config);
        let auth = match &self.sasl {
            None => match tls {
                Some(tls) => AuthConfig::ssl(tls),
                None => AuthConfig::plaintext(),
            },
            Some(sasl) => {
                let user = read_secret(&sasl.client_id_path, "sasl.clientIDPath")?;
                let password = read_secret(&sasl.client_secret_path, "sasl.clientSecretPath")?;
                let auth = match sasl.kind {
                    SaslKind::Plain => AuthConfig::sasl_plain(user, password),
                    SaslKind::ScramSha512 => AuthConfig::sasl_scram_sha512(user, password),
                };
                match tls {
                    Some(tls) => auth.with_tls(tls),
                    None => auth,
                }
            }
        };
        Ok(auth)
    }

    /// Connects a client named `client_id` (the connection itself is lazy: brokers that are
    /// down make the first request fail, not this call, once the bootstrap address resolves).
    pub async fn connect(&self, client_id: &str) -> Result<Kafka, String> {
        let bootstrap = self
            .brokers
            .iter()
            .map(|b| b.trim())
            .filter(|b| !b.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        let auth = self.auth().map_err(|e| e.to_string())?;
        Kafka::builder(bootstrap)
            .client_id(client_id)
            .security(auth)
            .request_timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| format!("cannot connect to Kafka {:?}: {e}", self.brokers))
    }
}

fn tls_config(tls: &ClientTls) -> TlsConfig {
    let mut config = if tls.insecure_skip_verify {
        TlsConfig::insecure()
    } else {
        TlsConfig::new()
    };
    if !tls.ca_cert_path.is_empty() {
        config = config.with_ca_cert(tls.ca_cert_path.clone());
    }
    if !tls.user_cert_path.is_empty() && !tls.user_key_path.is_empty() {
        config = config.with_client_cert(tls.user_cert_path.clone(), tls.user_key_path.clone());
    }
    config
}

fn read_secret(path: &str, field: &str) -> Result<String, BuildError> {
    if path.is_empty() {
        return Err(BuildError::Invalid(format!("kafka SASL needs `{field}`")));
    }
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| BuildError::Invalid(format!("kafka SASL `{field}` {path}: {e}")))
}

/// Upstream's message key of an agent flow: the two addresses (16 bytes each, IPv4 mapped), the
/// smaller first, so that both directions of a conversation hash to the same partition.
pub fn conversation_key(record: &pbflow::Record) -> [u8; 32] {
    let v6 = |ip: Option<&pbflow::Ip>| match ip.and_then(|ip| ip.to_addr()) {
        Some(std::net::IpAddr::V4(v4)) => v4.to_ipv6_mapped().octets(),
        Some(std::net::IpAddr::V6(v6)) => v6.octets(),
        None => [0; 16],
    };
    let network = record.network.as_ref();
    let src = v6(network.and_then(|n| n.src_addr.as_ref()));
    let dst = v6(network.and_then(|n| n.dst_addr.as_ref()));
    let (low, high) = if src <= dst { (src, dst) } else { (dst, src) };
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&low);
    key[16..].copy_from_slice(&high);
    key
}

/// Upstream's codec names: `none`, `gzip`, `snappy`, `lz4`, `zstd`.
pub fn compression(name: &str) -> Result<Compression, String> {
    match name.trim().to_ascii_lowercase().as_str() {
        "" | "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "snappy" => Ok(Compression::Snappy),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        other => Err(format!(
            "unknown compression `{other}` (none, gzip, snappy, lz4, zstd)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_names() {
        assert_eq!(compression("GZIP"), Ok(Compression::Gzip));
        assert_eq!(compression(""), Ok(Compression::None));
        assert_eq!(compression("lz4"), Ok(Compression::Lz4));
        assert_eq!(compression("zstd"), Ok(Compression::Zstd));
        assert!(compression("brotli").unwrap_err().contains("unknown"));
    }

    #[test]
    fn refuses_missing_brokers_and_unreadable_secrets() {
        let mut target = KafkaTarget {
            brokers: vec![" ".into()],
            tls: None,
            sasl: None,
        };
        assert!(target.check().unwrap_err().to_string().contains("broker"));
        target.brokers = vec!["127.0.0.1:9092".into()];
        assert!(target.check().is_ok());
        target.sasl = Some(Sasl {
            kind: SaslKind::ScramSha512,
            client_id_path: "/nonexistent/user".into(),
            client_secret_path: "/nonexistent/password".into(),
        });
        let err = target.check().unwrap_err().to_string();
        assert!(
            err.contains("clientIDPath") && err.contains("/nonexistent/user"),
            "{err}"
        );
    }
}
