//! `spec.consolePlugin` (the web console that shows flows, topology and metrics) and
//! `spec.prometheus` (how that console queries metrics).

use super::agent::{ImagePullPolicy, LogLevel};
use super::common::{ClientTls, FlowCollectorHpa, SchedulingConfig, mark_required};
use super::processor::resource_requirements;
use k8s_openapi::api::core::v1::ResourceRequirements;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Translation of port numbers into service names in the console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsolePluginPortConfig {
    /// Shows well-known service names instead of bare port numbers.
    pub enable: bool,
    /// Extra port names, such as `{"3100": "loki"}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub port_names: BTreeMap<String, String>,
}

impl Default for ConsolePluginPortConfig {
    fn default() -> Self {
        Self {
            enable: true,
            port_names: BTreeMap::new(),
        }
    }
}

/// A preset filter offered by the console.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = quick_filter_required)]
pub struct QuickFilter {
    /// Name shown in the console.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Filter keys and values applied when the preset is selected. Several values for one key are
    /// separated by commas, such as `{"src_namespace": "ns1,ns2"}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub filter: BTreeMap<String, String>,
    /// Whether the preset is active when the console opens.
    pub default: bool,
}

fn quick_filter_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["name", "filter"]);
}

/// The console's preset filters when none are configured.
pub fn default_quick_filters() -> Vec<QuickFilter> {
    let filter = |name: &str, pairs: &[(&str, &str)], default: bool| QuickFilter {
        name: name.to_string(),
        filter: pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        default,
    };
    vec![
        filter("Applications", &[("flow_layer", "\"app\"")], true),
        filter("Infrastructure", &[("flow_layer", "\"infra\"")], false),
        filter(
            "Pods network",
            &[("src_kind", "\"Pod\""), ("dst_kind", "\"Pod\"")],
            true,
        ),
        filter("Services network", &[("dst_kind", "\"Service\"")], false),
        filter(
            "External ingress",
            &[("src_subnet_label", "\"\",EXT:")],
            false,
        ),
        filter(
            "External egress",
            &[("dst_subnet_label", "\"\",EXT:")],
            false,
        ),
    ]
}

/// Low-level knobs of the console plugin, for debugging and fine tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AdvancedPluginConfig {
    /// Extra environment variables of the plugin (such as `GOGC` or `GOMAXPROCS`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Extra command-line arguments of the plugin, such as to override a URL or a config path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Registers the plugin with the OpenShift console operator. When off, add `netobserv-plugin`
    /// to `spec.plugins` of `console.operator.openshift.io/cluster` yourself.
    pub register: bool,
    /// Port of the plugin Service. 9002 is taken by the metrics.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Placement of the plugin pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingConfig>,
}

impl Default for AdvancedPluginConfig {
    fn default() -> Self {
        Self {
            env: BTreeMap::new(),
            args: Vec::new(),
            register: true,
            port: 9001,
            scheduling: None,
        }
    }
}

/// Settings of the console plugin, which shows flows, topology and metrics in the OpenShift
/// console or as a standalone console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorConsolePlugin {
    /// Deploys the console plugin.
    pub enable: bool,
    /// Runs a standalone console instead of an OpenShift console plugin (unsupported; not
    /// advised on OpenShift). Unset means standalone only where the console plugin API is
    /// missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standalone: Option<bool>,
    /// Replicas of the plugin Deployment.
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// Leaves the replica count alone, so that an autoscaler can own it.
    pub unmanaged_replicas: bool,
    /// Pull policy of the plugin image.
    pub image_pull_policy: ImagePullPolicy,
    /// CPU and memory requests and limits of the plugin container.
    pub resources: ResourceRequirements,
    /// Log verbosity of the plugin backend.
    pub log_level: LogLevel,
    /// Deprecated autoscaler of the plugin; prefer your own autoscaler with `unmanagedReplicas`.
    pub autoscaler: FlowCollectorHpa,
    /// Translation of port numbers into service names.
    pub port_naming: ConsolePluginPortConfig,
    /// Preset filters of the console. The external traffic presets expect subnet labels that
    /// tell internal from external traffic (`spec.processor.subnetLabels`).
    pub quick_filters: Vec<QuickFilter>,
    /// Low-level knobs, for debugging and fine tuning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedPluginConfig>,
}

impl Default for FlowCollectorConsolePlugin {
    fn default() -> Self {
        Self {
            enable: true,
            standalone: None,
            replicas: 1,
            unmanaged_replicas: false,
            image_pull_policy: ImagePullPolicy::IfNotPresent,
            resources: resource_requirements("100m", "50Mi", "100Mi"),
            log_level: LogLevel::Info,
            autoscaler: FlowCollectorHpa::default(),
            port_naming: ConsolePluginPortConfig::default(),
            quick_filters: default_quick_filters(),
            advanced: None,
        }
    }
}

/// How the console finds Prometheus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PrometheusMode {
    /// Settings come from `manual`.
    Manual,
    /// Detected: on OpenShift, the Thanos querier of cluster monitoring; elsewhere, the `manual`
    /// settings.
    #[default]
    Auto,
}

/// An Alertmanager the console asks for silenced alerts, to show health information.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AlertManagerQuerierManual {
    /// URL of the Alertmanager.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// TLS of the URL.
    pub tls: ClientTls,
}

/// Connection settings of Prometheus, for the `Manual` mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PrometheusQuerierManual {
    /// URL of the Prometheus API to query.
    pub url: String,
    /// TLS of the URL.
    pub tls: ClientTls,
    /// Sends the console user's token with each query, so that Prometheus applies that user's
    /// permissions.
    pub forward_user_token: bool,
    /// Alertmanager to query (unsupported). On OpenShift it can stay unset: the console API is
    /// used instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_manager: Option<AlertManagerQuerierManual>,
}

impl Default for PrometheusQuerierManual {
    fn default() -> Self {
        Self {
            url: "http://prometheus:9090".to_string(),
            tls: ClientTls::default(),
            forward_user_token: false,
            alert_manager: None,
        }
    }
}

/// How the console queries Prometheus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = prometheus_querier_required)]
pub struct PrometheusQuerier {
    /// Lets the console read metrics from Prometheus, which is preferred over Loki when both can
    /// answer. With neither Loki nor Prometheus, no console is deployed.
    pub enable: bool,
    /// How Prometheus is found.
    pub mode: PrometheusMode,
    /// Settings of the `Manual` mode.
    pub manual: PrometheusQuerierManual,
    /// Time limit of a console query to Prometheus; `0s` means none.
    pub timeout: String,
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

fn prometheus_querier_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["mode"]);
}

/// Prometheus settings of the console.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorPrometheus {
    /// How the console queries metrics.
    pub querier: PrometheusQuerier,
}
