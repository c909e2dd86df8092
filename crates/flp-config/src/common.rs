//! Pieces several stages share: TLS and SASL client settings (Kafka, OpenTelemetry), server
//! certificate files, Go duration strings.

use serde::{Deserialize, Serialize};

/// TLS towards a server (Kafka brokers, OpenTelemetry receivers): upstream's `ClientTLS`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientTls {
    /// Accept any server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// PEM CA the server certificate must chain to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_cert_path: String,
    /// PEM client certificate (mutual TLS).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_cert_path: String,
    /// PEM client key (mutual TLS).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_key_path: String,
}

/// SASL mechanisms of the Kafka clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaslKind {
    /// SASL/PLAIN.
    #[default]
    #[serde(rename = "plain")]
    Plain,
    /// SASL/SCRAM-SHA-512.
    #[serde(rename = "scramSHA512")]
    ScramSha512,
}

/// SASL authentication of the Kafka clients, credentials read from files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sasl {
    /// The mechanism.
    #[serde(rename = "type", default)]
    pub kind: SaslKind,
    /// File holding the user name.
    #[serde(rename = "clientIDPath", default)]
    pub client_id_path: String,
    /// File holding the password.
    #[serde(rename = "clientSecretPath", default)]
    pub client_secret_path: String,
}

/// Certificate and key of a server the pipeline runs (metrics endpoint, prom encoder).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTls {
    /// PEM certificate chain.
    #[serde(default)]
    pub cert_path: String,
    /// PEM private key.
    #[serde(default)]
    pub key_path: String,
}

/// Parses a Go duration string (`2m`, `1s`, `500ms`, `1h30m`, `1.5s`).
pub fn parse_go_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("`{text}` is not a duration (expected e.g. 30s, 2m, 500ms)");
    let mut rest = text.trim();
    if rest == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * seconds;
        rest = tail;
    }
    Ok(std::time::Duration::from_secs_f64(total))
}

/// Checks an optional Go duration, naming the key.
pub(crate) fn check_duration(key: &str, value: Option<&str>) -> Result<(), String> {
    match value {
        Some(text) if !text.is_empty() => parse_go_duration(text)
            .map(|_| ())
            .map_err(|e| format!("{key}: {e}")),
        _ => Ok(()),
    }
}

/// `skip_serializing_if` for flags written only when set.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// `skip_serializing_if` for numbers written only when set.
pub(crate) fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

/// The sub-object a stage `type` needs, or the message saying it is missing.
pub(crate) fn needs<'a, T>(
    section: &str,
    kind: &str,
    value: Option<&'a T>,
) -> Result<&'a T, String> {
    value.ok_or_else(|| format!("{section} type {kind} needs a `{kind}` section"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_go_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("5 minutes").is_err());
        assert!(parse_go_duration("10").is_err());
    }
}
