//! `spec.consolePlugin` in v1beta1, with the v1beta1 default quick filters (unquoted values).

use k8s_openapi::api::core::v1::ResourceRequirements;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    ConsolePluginPortConfig, FlowCollectorHpa, ImagePullPolicy, LogLevel, QuickFilter, resources,
};

/// The OpenShift console plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorConsolePlugin {
    /// Deploys the plugin (Loki or Prometheus must be enabled too).
    pub enable: bool,
    /// Registers the plugin with the OpenShift console operator.
    pub register: bool,
    /// Number of plugin pods.
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// Port of the plugin service (9002 is taken by metrics).
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Pull policy of the plugin image.
    pub image_pull_policy: ImagePullPolicy,
    /// Compute resources of the plugin container.
    pub resources: ResourceRequirements,
    /// Log level of the plugin backend.
    pub log_level: LogLevel,
    /// Autoscaler of the plugin Deployment.
    pub autoscaler: FlowCollectorHpa,
    /// Translation of port numbers to service names.
    pub port_naming: ConsolePluginPortConfig,
    /// Quick filter presets of the console.
    pub quick_filters: Vec<QuickFilter>,
}

/// Builds one preset of [`default_quick_filters`], to keep that table to one line per preset.
fn quick_filter(name: &str, filter: &[(&str, &str)], default: bool) -> QuickFilter {
    QuickFilter {
        name: name.to_string(),
        filter: filter
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        default,
    }
}

/// The v1beta1 default quick filters (values are not quoted, unlike v1beta2's).
pub fn default_quick_filters() -> Vec<QuickFilter> {
    vec![
        quick_filter("Applications", &[("flow_layer", "app")], true),
        quick_filter("Infrastructure", &[("flow_layer", "infra")], false),
        quick_filter(
            "Pods network",
            &[("src_kind", "Pod"), ("dst_kind", "Pod")],
            true,
        ),
        quick_filter("Services network", &[("dst_kind", "Service")], false),
    ]
}

impl Default for FlowCollectorConsolePlugin {
    fn default() -> Self {
        Self {
            enable: true,
            register: true,
            replicas: 1,
            port: 9001,
            image_pull_policy: ImagePullPolicy::default(),
            resources: resources("50Mi", "100m", "100Mi"),
            log_level: LogLevel::default(),
            autoscaler: FlowCollectorHpa::default(),
            port_naming: ConsolePluginPortConfig::default(),
            quick_filters: default_quick_filters(),
        }
    }
}
