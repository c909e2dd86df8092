//! The backend's configuration file, with upstream's keys (`server`, `loki`, `prometheus`,
//! `frontend`) so the operator's rendered `config.yaml` runs unchanged, plus `store` (a flow
//! store file to read, for local mode and capture files). Unknown keys are refused by name.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not match the schema.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with the key.
        message: String,
    },
}

/// A duration written as upstream writes them (`30s`, `1m`, `500ms`, `1h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

/// Parses `30s`, `1m30s`, `500ms`, `2h` (Go's `time.ParseDuration` units ns, us, ms, s, m, h).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{s}`: missing unit (ms, s, m, h)"))?;
        let (num, tail) = rest.split_at(num_end);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{s}`: `{num}` is not a number"))?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => return Err(format!("`{s}`: unknown unit `{other}` (ms, s, m, h)")),
        };
        total += n * scale;
        rest = next;
    }
    Ok(Duration::from_secs_f64(total))
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml::Value::deserialize(d)?;
        match v {
            serde_yaml::Value::String(s) => parse_duration(&s)
                .map(GoDuration)
                .map_err(serde::de::Error::custom),
            serde_yaml::Value::Number(n) => n
                .as_f64()
                .map(|f| GoDuration(Duration::from_secs_f64(f.max(0.0))))
                .ok_or_else(|| serde::de::Error::custom("bad duration")),
            _ => Err(serde::de::Error::custom("a duration such as 30s")),
        }
    }
}

/// How requests are authorised.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum AuthCheck {
    /// `auto` (the default): `authenticated` when serving TLS behind the console, else `none`.
    #[default]
    Auto,
    /// Any request is served.
    None,
    /// A valid bearer token (TokenReview) is required.
    Authenticated,
    /// A token of a cluster admin (TokenReview + SubjectAccessReview) is required.
    Admin,
    /// Every request is refused (upstream's test mode).
    DenyAll,
}

/// `server`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    /// Address to bind (default all interfaces).
    #[serde(default)]
    pub address: Option<String>,
    /// API and UI port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Metrics port.
    #[serde(default = "default_metrics_port")]
    pub metrics_port: u16,
    /// TLS certificate (PEM).
    #[serde(default)]
    pub cert_path: Option<PathBuf>,
    /// TLS key (PEM).
    #[serde(default)]
    pub key_path: Option<PathBuf>,
    /// Authorisation mode.
    #[serde(default)]
    pub auth_check: AuthCheck,
    /// CORS allowed origin.
    #[serde(default)]
    pub cors_origin: Option<String>,
    /// CORS allowed methods.
    #[serde(default)]
    pub cors_methods: Option<String>,
    /// CORS allowed headers.
    #[serde(default)]
    pub cors_headers: Option<String>,
    /// CORS max age, seconds.
    #[serde(default)]
    pub cors_max_age: Option<String>,
}

fn default_port() -> u16 {
    9001
}
fn default_metrics_port() -> u16 {
    9002
}

impl Default for Server {
    fn default() -> Self {
        Self {
            address: None,
            port: default_port(),
            metrics_port: default_metrics_port(),
            cert_path: None,
            key_path: None,
            auth_check: AuthCheck::Auto,
            cors_origin: None,
            cors_methods: None,
            cors_headers: None,
            cors_max_age: None,
        }
    }
}

fn default_timeout() -> GoDuration {
    GoDuration(Duration::from_secs(30))
}

/// `loki`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Loki {
    /// Querier URL.
    pub url: String,
    /// Record fields that are stream labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Field types (upstream; unused).
    #[serde(default)]
    pub fields_type: Option<serde_yaml::Value>,
    /// Field formats (upstream; unused).
    #[serde(default)]
    pub fields_format: Option<serde_yaml::Value>,
    /// URL for `/ready` and the ingester config (defaults to `url`).
    #[serde(default)]
    pub status_url: Option<String>,
    /// Query timeout.
    #[serde(default = "default_timeout")]
    pub timeout: GoDuration,
    /// `X-Scope-OrgID`.
    #[serde(default, rename = "tenantID")]
    pub tenant_id: Option<String>,
    /// Bearer token file.
    #[serde(default)]
    pub token_path: Option<PathBuf>,
    /// Skip TLS verification.
    #[serde(default)]
    pub skip_tls: bool,
    /// CA file.
    #[serde(default)]
    pub ca_path: Option<PathBuf>,
    /// Skip TLS verification for the status URL.
    #[serde(default)]
    pub status_skip_tls: bool,
    /// CA for the status URL.
    #[serde(default)]
    pub status_ca_path: Option<PathBuf>,
    /// Client certificate for the status URL.
    #[serde(default)]
    pub status_user_cert_path: Option<PathBuf>,
    /// Client key for the status URL.
    #[serde(default)]
    pub status_user_key_path: Option<PathBuf>,
    /// Upstream's mock mode (refused here: there are no mocks).
    #[serde(default)]
    pub use_mocks: bool,
    /// Forward the user's bearer token to Loki.
    #[serde(default)]
    pub forward_user_token: bool,
    /// Readiness taken from LokiStack (`ready` / `pending`), rendered by the operator.
    #[serde(default)]
    pub status: Option<String>,
}

/// Direction a metric counts.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub enum Direction {
    /// Both.
    #[default]
    Any,
    /// FlowDirection ≠ 1.
    Ingress,
    /// FlowDirection ≠ 0.
    Egress,
}

/// One `prometheus.metrics[]` entry. The operator renders every field (for the predefined metrics
/// and the FlowMetrics of its namespace); when only `name` is given (a hand-written config), the
/// rest is inferred from the predefined `netobserv_*` names.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricConfig {
    /// Full metric name.
    pub name: String,
    /// Whether the pipeline exports it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `counter` or `histogram`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Record field counted (`Bytes`, `Packets`, ...; empty = flows).
    #[serde(default)]
    pub value_field: Option<String>,
    /// Direction counted.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

/// `prometheus.alertManager`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertManager {
    /// URL.
    pub url: String,
    /// Skip TLS verification.
    #[serde(default)]
    pub skip_tls: bool,
    /// CA file.
    #[serde(default)]
    pub ca_path: Option<PathBuf>,
}

/// `prometheus`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Prometheus {
    /// Querier URL.
    pub url: String,
    /// URL for users without cluster-wide access (upstream; used for `dev` role).
    #[serde(default)]
    pub dev_url: Option<String>,
    /// Query timeout.
    #[serde(default = "default_timeout")]
    pub timeout: GoDuration,
    /// Bearer token file.
    #[serde(default)]
    pub token_path: Option<PathBuf>,
    /// Skip TLS verification.
    #[serde(default)]
    pub skip_tls: bool,
    /// CA file.
    #[serde(default)]
    pub ca_path: Option<PathBuf>,
    /// Forward the user's bearer token.
    #[serde(default)]
    pub forward_user_token: bool,
    /// Metrics the pipeline exports.
    #[serde(default)]
    pub metrics: Vec<MetricConfig>,
    /// Alertmanager (standalone mode).
    #[serde(default)]
    pub alert_manager: Option<AlertManager>,
}

/// `store`: a flow store file (beyond upstream).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite file, opened read-only.
    pub path: PathBuf,
    /// Record fields presented as stream labels in answers (defaults to the Loki labels, or the
    /// operator's default Loki labels).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// `server`.
    #[serde(default)]
    pub server: Server,
    /// `loki` (absent: no Loki).
    #[serde(default)]
    pub loki: Option<Loki>,
    /// `prometheus` (absent: no Prometheus).
    #[serde(default)]
    pub prometheus: Option<Prometheus>,
    /// `frontend`: passed to the UI, merged over the built-in defaults.
    #[serde(default)]
    pub frontend: Option<serde_json::Value>,
    /// `store`.
    #[serde(default)]
    pub store: Option<StoreConfig>,
}

impl Config {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses and checks YAML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Config = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(l) = &config.loki {
            if l.use_mocks {
                return Err(
                    "loki.useMocks: mocks are not supported; point loki.url at Loki".into(),
                );
            }
            check_url("loki.url", &l.url)?;
        }
        if let Some(p) = &config.prometheus {
            check_url("prometheus.url", &p.url)?;
        }
        if config.server.cert_path.is_some() != config.server.key_path.is_some() {
            return Err("server.certPath and server.keyPath go together".into());
        }
        Ok(config)
    }
}

fn check_url(key: &str, url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("{key}: `{url}` is not an http(s) URL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("10").is_err());
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("server:\n  port: 1\n  portt: 2\n").expect_err("typo");
        assert!(err.contains("portt"), "{err}");
        let err = Config::parse("loki:\n  url: loki:3100\n").expect_err("no scheme");
        assert!(err.contains("loki.url"), "{err}");
    }
}
