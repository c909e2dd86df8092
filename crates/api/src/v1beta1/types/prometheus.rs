//! `spec.prometheus` in v1beta1: how the console plugin queries Prometheus.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ClientTls;
use crate::v1beta2::common::mark_required;

/// Prometheus settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorPrometheus {
    /// How the console plugin queries Prometheus.
    pub querier: PrometheusQuerier,
}

/// How the Prometheus connection is set up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PrometheusMode {
    /// Connection parameters given in `manual`.
    Manual,
    /// Automatic (the Thanos querier of OpenShift Cluster Monitoring).
    #[default]
    Auto,
}

/// How the console plugin queries Prometheus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = querier_required)]
pub struct PrometheusQuerier {
    /// Makes the console plugin query metrics from Prometheus rather than Loki when it can.
    pub enable: bool,
    /// `Auto` or `Manual` connection setup.
    pub mode: PrometheusMode,
    /// Connection parameters of `Manual` mode.
    pub manual: PrometheusQuerierManual,
    /// Time limit of a query; zero means none.
    pub timeout: String,
}

fn querier_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["mode"]);
}

impl Default for PrometheusQuerier {
    fn default() -> Self {
        Self {
            enable: true,
            mode: PrometheusMode::Auto,
            manual: PrometheusQuerierManual::default(),
            timeout: "30s".to_string(),
        }
    }
}

/// Connection parameters of a manually configured Prometheus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PrometheusQuerierManual {
    /// Address of the Prometheus query API.
    pub url: String,
    /// TLS of the connection.
    pub tls: ClientTls,
    /// Forwards the console user's token with the queries.
    pub forward_user_token: bool,
}

impl Default for PrometheusQuerierManual {
    fn default() -> Self {
        Self {
            url: "http://prometheus:9090".to_string(),
            tls: ClientTls::default(),
            forward_user_token: false,
        }
    }
}
