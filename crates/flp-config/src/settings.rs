//! Process-level sections of the document: `metricsSettings`, `health`, `profile`,
//! `perfSettings` and `dynamicParameters`.

use crate::common::{ServerTls, is_false};
use serde::{Deserialize, Serialize};

/// `metricsSettings`: the shared server of the operational metrics and of the `prom` encoders
/// without a port of their own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricsSettings {
    /// Listen address (empty: all interfaces).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Listen port (absent: upstream's default 9090).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// HTTPS with this certificate and key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTls>,
    /// Prefix of the operational metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// When the server cannot start: log and go on instead of exiting.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_panic: bool,
    /// Go runtime metrics off (there are none here: accepted and ignored).
    #[serde(default, skip_serializing_if = "is_false")]
    pub suppress_go_metrics: bool,
    /// Default metrics off (accepted and ignored, as above).
    #[serde(default, skip_serializing_if = "is_false")]
    pub suppress_default_metrics: bool,
    /// No shared metrics server at all.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_global_server: bool,
}

/// `health`: the `/live` and `/ready` server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSettings {
    /// Listen address (empty: all interfaces).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// Listen port; absent or 0 disables the server. Upstream versions write it as a number or
    /// as a string: both are read.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "port_number_or_text"
    )]
    pub port: Option<u16>,
}

/// Upstream reads `health.port` as a string in some versions and a number in others.
fn port_number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(u16),
        Text(String),
    }
    match Port::deserialize(d)? {
        Port::Number(n) => Ok(Some(n)),
        Port::Text(t) if t.is_empty() => Ok(None),
        Port::Text(t) => t
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("`{t}` is not a port"))),
    }
}

/// `profile`: upstream's pprof port (accepted, not served).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSettings {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// Buffering between stages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PerfSettings {
    /// Records per batch handed from the ingester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batcher_max_len: Option<u32>,
    /// Longest wait before an incomplete batch is handed on (a Go duration string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batcher_max_timeout: Option<String>,
    /// Capacity of each stage's input queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_buffer_len: Option<u32>,
}

/// The ConfigMap (or file) the dynamic part of the configuration is reloaded from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DynamicParameters {
    /// Namespace of the ConfigMap.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name of the ConfigMap.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Key (file name) holding the dynamic stages.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    /// Kubeconfig used to watch the ConfigMap, when not in-cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_config_path: String,
}
