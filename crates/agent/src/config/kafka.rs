//! `EXPORT=kafka`: the `KAFKA_*` variables, with upstream's names and defaults.

use super::{ConfigError, Var, invalid, parse_bool, parse_num};
use netobserv_flp_config::{ClientTls, Sasl, SaslKind};
use netobserv_pipeline::kafka::KafkaTarget;
use netobserv_pipeline::kafka::{Compression, compression};

/// Where and how flows go to Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `KAFKA_BROKERS` (comma-separated) and the TLS / SASL settings.
    pub target: KafkaTarget,
    /// `KAFKA_TOPIC`.
    pub topic: String,
    /// `KAFKA_BATCH_MESSAGES`: flows per produce round at most.
    pub batch_messages: usize,
    /// `KAFKA_BATCH_SIZE`: bytes per partition batch at most.
    pub batch_bytes: usize,
    /// `KAFKA_ASYNC`: upstream does not wait for acknowledgements; this agent always does,
    /// so that what the brokers never got is counted. Kept to accept upstream's settings.
    pub async_writes: bool,
    /// `KAFKA_COMPRESSION`.
    pub compression: Compression,
}

/// An optional boolean variable (unset: false), read as the other agent flags are.
fn flag(name: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    value.map_or(Ok(false), |v| parse_bool(name, &v))
}

/// Reads the `KAFKA_*` variables (only called for `EXPORT=kafka`).
pub fn read(var: Var<'_>) -> Result<KafkaConfig, ConfigError> {
    let brokers: Vec<String> = var("KAFKA_BROKERS")
        .unwrap_or_default()
        .split(',')
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    if brokers.is_empty() {
        return Err(ConfigError::Missing("KAFKA_BROKERS", "kafka".into()));
    }
    let tls = if flag("KAFKA_ENABLE_TLS", var("KAFKA_ENABLE_TLS"))? {
        Some(ClientTls {
            insecure_skip_verify: flag(
                "KAFKA_TLS_INSECURE_SKIP_VERIFY",
                var("KAFKA_TLS_INSECURE_SKIP_VERIFY"),
            )?,
            ca_cert_path: var("KAFKA_TLS_CA_CERT_PATH").unwrap_or_default(),
            user_cert_path: var("KAFKA_TLS_USER_CERT_PATH").unwrap_or_default(),
            user_key_path: var("KAFKA_TLS_USER_KEY_PATH").unwrap_or_default(),
        })
    } else {
        None
    };
    let sasl = if flag("KAFKA_ENABLE_SASL", var("KAFKA_ENABLE_SASL"))? {
        let kind = match var("KAFKA_SASL_TYPE").as_deref() {
            None | Some("plain") => SaslKind::Plain,
            Some("scramSHA512") => SaslKind::ScramSha512,
            Some(other) => return Err(invalid("KAFKA_SASL_TYPE", other, "plain or scramSHA512")),
        };
        Some(Sasl {
            kind,
            client_id_path: var("KAFKA_SASL_CLIENT_ID_PATH").unwrap_or_default(),
            client_secret_path: var("KAFKA_SASL_CLIENT_SECRET_PATH").unwrap_or_default(),
        })
    } else {
        None
    };
    let target = KafkaTarget { brokers, tls, sasl };
    // Unreadable SASL files are a configuration error, reported before anything starts.
    target.check().map_err(|e| ConfigError::Invalid {
        name: "KAFKA_SASL_CLIENT_ID_PATH",
        value: String::new(),
        reason: e.to_string(),
    })?;
    let batch_messages: usize = match var("KAFKA_BATCH_MESSAGES") {
        Some(v) => parse_num("KAFKA_BATCH_MESSAGES", &v)?,
        None => 1000,
    };
    if batch_messages == 0 {
        return Err(invalid("KAFKA_BATCH_MESSAGES", "0", "must be > 0"));
    }
    let batch_bytes: usize = match var("KAFKA_BATCH_SIZE") {
        Some(v) => parse_num("KAFKA_BATCH_SIZE", &v)?,
        None => 1_048_576,
    };
    let codec = var("KAFKA_COMPRESSION").unwrap_or_else(|| "none".into());
    let compression = compression(&codec).map_err(|e| invalid("KAFKA_COMPRESSION", &codec, &e))?;
    Ok(KafkaConfig {
        target,
        topic: var("KAFKA_TOPIC").unwrap_or_else(|| "network-flows".into()),
        batch_messages,
        batch_bytes: batch_bytes.max(1024),
        async_writes: match var("KAFKA_ASYNC") {
            None => true,
            v => flag("KAFKA_ASYNC", v)?,
        },
        compression,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read_with(vars: &[(&str, &str)]) -> Result<KafkaConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        read(&|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_settings() {
        let c = read_with(&[("KAFKA_BROKERS", "a:9092, b:9092")]).expect("valid");
        assert_eq!(c.target.brokers, vec!["a:9092", "b:9092"]);
        assert_eq!(c.topic, "network-flows");
        assert_eq!((c.batch_messages, c.batch_bytes), (1000, 1_048_576));
        assert!(c.async_writes);
        assert_eq!(c.compression, Compression::None);
        assert_eq!(c.target.tls, None);
        let c = read_with(&[
            ("KAFKA_BROKERS", "a:9093"),
            ("KAFKA_TOPIC", "flows"),
            ("KAFKA_COMPRESSION", "lz4"),
            ("KAFKA_ENABLE_TLS", "true"),
            ("KAFKA_TLS_CA_CERT_PATH", "/ca.pem"),
            ("KAFKA_BATCH_MESSAGES", "50"),
        ])
        .expect("valid");
        assert_eq!(c.topic, "flows");
        assert_eq!(c.compression, Compression::Lz4);
        assert_eq!(c.batch_messages, 50);
        assert_eq!(c.target.tls.expect("tls").ca_cert_path, "/ca.pem");
    }

    #[test]
    fn errors_name_the_variable() {
        let err = |vars: &[(&str, &str)]| read_with(vars).unwrap_err().to_string();
        assert!(err(&[]).contains("KAFKA_BROKERS"));
        assert!(
            err(&[("KAFKA_BROKERS", "a:1"), ("KAFKA_COMPRESSION", "brotli")])
                .contains("KAFKA_COMPRESSION")
        );
        assert!(
            err(&[("KAFKA_BROKERS", "a:1"), ("KAFKA_ENABLE_TLS", "yes")])
                .contains("KAFKA_ENABLE_TLS")
        );
        assert!(
            err(&[("KAFKA_BROKERS", "a:1"), ("KAFKA_BATCH_MESSAGES", "0")])
                .contains("KAFKA_BATCH_MESSAGES")
        );
        let sasl = err(&[
            ("KAFKA_BROKERS", "a:1"),
            ("KAFKA_ENABLE_SASL", "true"),
            ("KAFKA_SASL_TYPE", "scramSHA512"),
            ("KAFKA_SASL_CLIENT_ID_PATH", "/nonexistent/id"),
            ("KAFKA_SASL_CLIENT_SECRET_PATH", "/nonexistent/secret"),
        ]);
        assert!(sasl.contains("/nonexistent/id"), "{sasl}");
    }
}
