//! Process-level settings from the configuration file and the command line: where the metrics
//! and health endpoints listen (`metricsSettings`, `health`), and the log level.
//!
//! The operator renders `metricsSettings: {port: 9401, prefix: "netobserv_", noPanic: true}`
//! (plus `tls` when the metrics server is secured) and `health: {port: 8080}`, and points its
//! Service, ServiceMonitor and probes at those ports: they must be honoured exactly.

use crate::cli::Args;
use crate::config::Config;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Port of the metrics server when `metricsSettings` gives none (upstream's default).
pub const DEFAULT_METRICS_PORT: u16 = 9090;
/// Prefix of the operational metrics when `metricsSettings.prefix` is not set. Upstream adds no
/// prefix then; NetObserv always sets `netobserv_`, so that is our default (README,
/// compatibility section).
pub const DEFAULT_METRICS_PREFIX: &str = "netobserv_";

/// Why the settings are invalid.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `metricsSettings` does not parse.
    #[error("metricsSettings: {0}")]
    Metrics(String),
    /// `health` does not parse.
    #[error("health: {0}")]
    Health(String),
    /// An address flag does not parse.
    #[error("{flag}: `{value}` is not an address ({message})")]
    Address {
        /// The flag or key.
        flag: &'static str,
        /// What was given.
        value: String,
        /// Why.
        message: String,
    },
}

/// `metricsSettings.tls`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert_path: String,
    /// PEM private key.
    pub key_path: String,
}

/// `metricsSettings` as upstream documents it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawMetricsSettings {
    #[serde(default)]
    address: String,
    #[serde(default)]
    port: u16,
    #[serde(default)]
    tls: Option<TlsFiles>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    no_panic: bool,
    #[serde(default)]
    suppress_go_metrics: bool,
    #[serde(default)]
    suppress_default_metrics: bool,
    #[serde(default)]
    disable_global_server: bool,
}

/// Where and how the metrics endpoint is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Listen address.
    pub addr: SocketAddr,
    /// HTTPS with this certificate and key; plain HTTP when absent.
    pub tls: Option<TlsFiles>,
    /// Prefix of the operational metrics (not of the `prom` encoders' metrics, which have
    /// their own `prefix`).
    pub prefix: String,
    /// When the server cannot start: log and go on (`true`) or exit (`false`, upstream's
    /// default "panic").
    pub no_panic: bool,
    /// `disableGlobalServer`: no shared metrics server at all.
    pub disabled: bool,
}

/// Where the health endpoint (`/live`, `/ready`) is served, if anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthSettings {
    /// Listen address; `None` disables the server.
    pub addr: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    #[serde(default)]
    address: String,
    #[serde(default, deserialize_with = "port_number_or_text")]
    port: u16,
}

/// Upstream reads `health.port` as a string in some versions and a number in others.
fn port_number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(u16),
        Text(String),
    }
    match Port::deserialize(d)? {
        Port::Number(n) => Ok(n),
        Port::Text(t) if t.is_empty() => Ok(0),
        Port::Text(t) => t
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("`{t}` is not a port"))),
    }
}

/// `host` (empty: all interfaces) and `port` as a socket address.
fn socket(flag: &'static str, host: &str, port: u16) -> Result<SocketAddr, SettingsError> {
    let ip = if host.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|e: std::net::AddrParseError| SettingsError::Address {
                flag,
                value: host.to_string(),
                message: e.to_string(),
            })?
    };
    Ok(SocketAddr::new(ip, port))
}

/// `HOST:PORT` or `:PORT` (Go's listen-address form).
pub fn parse_listen(flag: &'static str, text: &str) -> Result<SocketAddr, SettingsError> {
    let fail = |message: &str| SettingsError::Address {
        flag,
        value: text.to_string(),
        message: message.to_string(),
    };
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| fail("expected HOST:PORT"))?;
    let port: u16 = port.parse().map_err(|_| fail("bad port"))?;
    socket(flag, host, port)
}

impl MetricsSettings {
    /// From `metricsSettings` (already overlaid with `--metricsSettings`) and
    /// `--metrics-address`.
    pub fn from_config(config: &Config, args: &Args) -> Result<Self, SettingsError> {
        let raw: RawMetricsSettings = match &config.metrics_settings {
            None => RawMetricsSettings::default(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| SettingsError::Metrics(e.to_string()))?,
        };
        if raw.suppress_go_metrics || raw.suppress_default_metrics {
            tracing::debug!("metricsSettings: there are no Go runtime metrics to suppress");
        }
        let port = if raw.port == 0 {
            DEFAULT_METRICS_PORT
        } else {
            raw.port
        };
        let addr = match &args.metrics_address {
            Some(text) => parse_listen("--metrics-address", text)?,
            None => socket("metricsSettings.address", &raw.address, port)?,
        };
        if let Some(tls) = &raw.tls
            && (tls.cert_path.is_empty() || tls.key_path.is_empty())
        {
            return Err(SettingsError::Metrics(
                "tls needs both certPath and keyPath".into(),
            ));
        }
        Ok(Self {
            addr,
            tls: raw.tls,
            prefix: raw
                .prefix
                .unwrap_or_else(|| DEFAULT_METRICS_PREFIX.to_string()),
            no_panic: raw.no_panic,
            disabled: raw.disable_global_server,
        })
    }
}

impl HealthSettings {
    /// From the file's `health` and the `--health.*` / `--healthAddr` flags (flags win).
    pub fn from_config(config: &Config, args: &Args) -> Result<Self, SettingsError> {
        let raw: RawHealth = match &config.health {
            None => RawHealth::default(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| SettingsError::Health(e.to_string()))?,
        };
        if let Some(text) = &args.health_addr
            && !text.is_empty()
        {
            return Ok(Self {
                addr: Some(parse_listen("--healthAddr", text)?),
            });
        }
        let port = args.health_port.unwrap_or(raw.port);
        let host = args.health_address.clone().unwrap_or(raw.address);
        Ok(Self {
            addr: if port == 0 {
                None
            } else {
                Some(socket("health.address", &host, port)?)
            },
        })
    }
}

/// The `tracing` filter for a log level name (upstream's names; `warning` = `warn`). Unknown
/// names fall back to `info` with a note, rather than silencing the process.
pub fn log_filter(level: Option<&str>) -> (&'static str, Option<String>) {
    match level.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("info") => ("info", None),
        Some("trace") => ("trace", None),
        Some("debug") => ("debug", None),
        Some("warn") | Some("warning") => ("warn", None),
        Some("error") | Some("fatal") | Some("panic") => ("error", None),
        Some(other) => (
            "info",
            Some(format!("unknown log level `{other}`, using info")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(text: &str) -> Config {
        Config::parse(text).expect("parses")
    }

    #[test]
    fn operator_metrics_settings_are_honoured() {
        let c = config(
            r#"{"metricsSettings": {"noPanic": true, "port": 9401, "prefix": "netobserv_", "tls": {"certPath": "/c", "keyPath": "/k"}}, "health": {"port": 8080}}"#,
        );
        let args = Args::default();
        let m = MetricsSettings::from_config(&c, &args).expect("ok");
        assert_eq!(m.addr, "0.0.0.0:9401".parse().expect("addr"));
        assert_eq!(m.prefix, "netobserv_");
        assert!(m.no_panic);
        assert_eq!(m.tls.as_ref().map(|t| t.cert_path.as_str()), Some("/c"));
        let h = HealthSettings::from_config(&c, &args).expect("ok");
        assert_eq!(h.addr, Some("0.0.0.0:8080".parse().expect("addr")));
    }

    #[test]
    fn defaults_flags_and_errors() {
        let empty = Config::default();
        let args = Args::default();
        let m = MetricsSettings::from_config(&empty, &args).expect("ok");
        assert_eq!(m.addr.port(), DEFAULT_METRICS_PORT);
        assert_eq!(m.prefix, DEFAULT_METRICS_PREFIX);
        assert_eq!(
            HealthSettings::from_config(&empty, &args).expect("ok").addr,
            None
        );
        let args = Args::try_parse_from([
            "p",
            "--metrics-address=127.0.0.1:1234",
            "--health.port=8081",
            "--health.address=127.0.0.1",
        ])
        .expect("args");
        let c = config(r#"{"metricsSettings": {"address": "10.0.0.1", "port": 9401}}"#);
        assert_eq!(
            MetricsSettings::from_config(&c, &args).expect("ok").addr,
            "127.0.0.1:1234".parse().expect("addr")
        );
        assert_eq!(
            HealthSettings::from_config(&c, &args).expect("ok").addr,
            Some("127.0.0.1:8081".parse().expect("addr"))
        );
        let args = Args::try_parse_from(["p", "--healthAddr=:8082"]).expect("args");
        assert_eq!(
            HealthSettings::from_config(&c, &args).expect("ok").addr,
            Some("0.0.0.0:8082".parse().expect("addr"))
        );
        let c = config(r#"{"metricsSettings": {"address": "10.0.0.1", "port": 9401}}"#);
        assert_eq!(
            MetricsSettings::from_config(&c, &Args::default())
                .expect("ok")
                .addr,
            "10.0.0.1:9401".parse().expect("addr")
        );
        let bad = config(r#"{"metricsSettings": {"prot": 1}}"#);
        assert!(MetricsSettings::from_config(&bad, &Args::default()).is_err());
        let bad = config(r#"{"metricsSettings": {"address": "not-an-ip"}}"#);
        assert!(MetricsSettings::from_config(&bad, &Args::default()).is_err());
        let text_port = config(r#"{"health": {"port": "8080"}}"#);
        assert_eq!(
            HealthSettings::from_config(&text_port, &Args::default())
                .expect("ok")
                .addr
                .map(|a| a.port()),
            Some(8080)
        );
    }

    #[test]
    fn log_levels() {
        assert_eq!(log_filter(Some("warning")).0, "warn");
        assert_eq!(log_filter(Some("DEBUG")).0, "debug");
        assert!(log_filter(Some("loud")).1.is_some());
    }
}
