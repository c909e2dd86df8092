//! Health rules: the Prometheus alert and recording rule templates, their configuration in
//! `spec.processor.metrics.healthRules`, and the built-in defaults.

use super::unset_default;
use crate::v1beta2::common::mark_required;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A health rule template: a kind of Prometheus alert or recording rule that the operator can
/// install.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HealthRuleTemplate {
    /// No flows are being received (alert only).
    #[default]
    NetObservNoFlows,
    /// Flows cannot be written to Loki (alert only).
    NetObservLokiError,
    /// Share of packets dropped by the kernel (needs `PacketDrop`).
    PacketDropsByKernel,
    /// Share of packets dropped by network devices.
    PacketDropsByDevice,
    /// Share of IPsec-encrypted flows in error (needs `IPSec`).
    #[serde(rename = "IPsecErrors")]
    IpsecErrors,
    /// Share of traffic denied by network policies (needs `NetworkEvents`).
    NetpolDenied,
    /// TCP latency rising compared with a past baseline (needs `FlowRTT`).
    LatencyHighTrend,
    /// Share of DNS responses with an error (needs `DNSTracking`).
    #[serde(rename = "DNSErrors")]
    DnsErrors,
    /// Share of DNS responses saying the name does not exist (needs `DNSTracking`).
    #[serde(rename = "DNSNxDomain")]
    DnsNxDomain,
    /// Traffic leaving the cluster rising compared with a past baseline.
    ExternalEgressHighTrend,
    /// Traffic entering the cluster rising compared with a past baseline.
    ExternalIngressHighTrend,
    /// Share of HTTP 5xx answers on ingress routes.
    Ingress5xxErrors,
    /// HTTP latency of ingress routes rising compared with a past baseline.
    #[serde(rename = "IngressHTTPLatencyTrend")]
    IngressHttpLatencyTrend,
}

impl HealthRuleTemplate {
    /// Every template, in declaration order.
    pub const ALL: &'static [HealthRuleTemplate] = &[
        Self::NetObservNoFlows,
        Self::NetObservLokiError,
        Self::PacketDropsByKernel,
        Self::PacketDropsByDevice,
        Self::IpsecErrors,
        Self::NetpolDenied,
        Self::LatencyHighTrend,
        Self::DnsErrors,
        Self::DnsNxDomain,
        Self::ExternalEgressHighTrend,
        Self::ExternalIngressHighTrend,
        Self::Ingress5xxErrors,
        Self::IngressHttpLatencyTrend,
    ];

    /// Name of the template as written in the FlowCollector.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NetObservNoFlows => "NetObservNoFlows",
            Self::NetObservLokiError => "NetObservLokiError",
            Self::PacketDropsByKernel => "PacketDropsByKernel",
            Self::PacketDropsByDevice => "PacketDropsByDevice",
            Self::IpsecErrors => "IPsecErrors",
            Self::NetpolDenied => "NetpolDenied",
            Self::LatencyHighTrend => "LatencyHighTrend",
            Self::DnsErrors => "DNSErrors",
            Self::DnsNxDomain => "DNSNxDomain",
            Self::ExternalEgressHighTrend => "ExternalEgressHighTrend",
            Self::ExternalIngressHighTrend => "ExternalIngressHighTrend",
            Self::Ingress5xxErrors => "Ingress5xxErrors",
            Self::IngressHttpLatencyTrend => "IngressHTTPLatencyTrend",
        }
    }

    /// Templates that can only be alerts, never recording rules, and that `healthRules` cannot
    /// configure (only `disableAlerts` can name them).
    pub fn is_alert_only(self) -> bool {
        matches!(self, Self::NetObservNoFlows | Self::NetObservLokiError)
    }
}

impl fmt::Display for HealthRuleTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a health rule becomes a Prometheus alert or a recording rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HealthRuleMode {
    /// An alert, which notifies.
    #[default]
    Alert,
    /// A recording rule, only shown in the network health dashboard; avoids noisy alerts.
    Recording,
}

/// How a health rule variant groups its values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HealthRuleGroupBy {
    /// No grouping: one value for the whole cluster.
    #[default]
    #[serde(rename = "")]
    Global,
    /// One value per node.
    Node,
    /// One value per namespace.
    Namespace,
    /// One value per workload.
    Workload,
}

impl HealthRuleGroupBy {
    fn is_global(&self) -> bool {
        *self == Self::Global
    }
}

/// Severity thresholds of a health rule variant, as percentages written as decimal strings. An
/// empty threshold creates no rule for that severity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthRuleThresholds {
    /// Threshold of the `info` severity.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info: String,
    /// Threshold of the `warning` severity.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub warning: String,
    /// Threshold of the `critical` severity.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub critical: String,
}

/// One concrete rule of a template: thresholds, grouping and trend window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = health_rule_variant_schema)]
pub struct HealthRuleVariant {
    /// Traffic rate (bytes or packets per second) below which values are ignored, to cut noise
    /// from quiet sources. A decimal string.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub low_volume_threshold: String,
    /// Thresholds per severity; at least one is needed.
    pub thresholds: HealthRuleThresholds,
    /// Grouping of the values; empty means cluster-wide.
    #[serde(skip_serializing_if = "HealthRuleGroupBy::is_global")]
    pub group_by: HealthRuleGroupBy,
    /// For trend templates, how far back the baseline is taken (unset means one day).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend_offset: Option<String>,
    /// For trend templates, the window the baseline is averaged over (unset means two hours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend_duration: Option<String>,
    /// Overrides the rule's mode for this variant only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<HealthRuleMode>,
}

fn health_rule_variant_schema(schema: &mut schemars::Schema) {
    unset_default(schema, "thresholds");
    mark_required(schema, &["thresholds"]);
}

/// A health rule: a template with its mode and variants. Listing a template here replaces its
/// built-in definition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = flp_health_rule_schema)]
pub struct FlpHealthRule {
    /// Template of the rule. The alert-only templates (`NetObservNoFlows`,
    /// `NetObservLokiError`) cannot be configured here.
    pub template: HealthRuleTemplate,
    /// Whether the variants become alerts or recording rules.
    pub mode: HealthRuleMode,
    /// Variants of the template.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<HealthRuleVariant>,
}

/// The CRD only accepts the configurable templates in `healthRules[].template`; the alert-only
/// ones are valid in `disableAlerts` alone.
fn flp_health_rule_schema(schema: &mut schemars::Schema) {
    if let Some(prop) = schema
        .as_object_mut()
        .and_then(|obj| obj.get_mut("properties"))
        .and_then(|props| props.as_object_mut())
    {
        let description = prop
            .get("template")
            .and_then(|t| t.get("description"))
            .cloned();
        let names: Vec<serde_json::Value> = HealthRuleTemplate::ALL
            .iter()
            .filter(|t| !t.is_alert_only())
            .map(|t| serde_json::Value::String(t.as_str().to_string()))
            .collect();
        let mut template = serde_json::Map::new();
        if let Some(description) = description {
            template.insert("description".to_string(), description);
        }
        template.insert("type".to_string(), "string".into());
        template.insert("enum".to_string(), serde_json::Value::Array(names));
        prop.insert("template".to_string(), serde_json::Value::Object(template));
    }
    mark_required(schema, &["template", "variants"]);
}

/// Shorthand for the defaults table below.
fn variant(
    group_by: HealthRuleGroupBy,
    info: &str,
    warning: &str,
    low_volume: &str,
    trend: bool,
) -> HealthRuleVariant {
    HealthRuleVariant {
        low_volume_threshold: low_volume.to_string(),
        thresholds: HealthRuleThresholds {
            info: info.to_string(),
            warning: warning.to_string(),
            critical: String::new(),
        },
        group_by,
        trend_offset: trend.then(|| "24h".to_string()),
        trend_duration: trend.then(|| "1h".to_string()),
        mode: None,
    }
}

/// The health rules installed when `healthRules` does not mention a template. Thresholds are
/// percentages; trend rules compare with the same hour one day earlier.
pub fn default_health_rules() -> Vec<FlpHealthRule> {
    use HealthRuleGroupBy::{Global, Namespace, Node};
    use HealthRuleMode::{Alert, Recording};
    use HealthRuleTemplate as T;
    let rule = |template, mode, variants| FlpHealthRule {
        template,
        mode,
        variants,
    };
    vec![
        rule(
            T::PacketDropsByKernel,
            Recording,
            vec![
                variant(Namespace, "10", "20", "5", false),
                variant(Node, "5", "15", "", false),
            ],
        ),
        rule(
            T::PacketDropsByDevice,
            Alert,
            vec![variant(Node, "5", "10", "", false)],
        ),
        rule(
            T::IpsecErrors,
            Alert,
            vec![
                variant(Global, "", "2", "", false),
                variant(Node, "", "2", "", false),
            ],
        ),
        rule(
            T::DnsErrors,
            Alert,
            vec![
                variant(Global, "", "5", "", false),
                variant(Namespace, "5", "10", "", false),
            ],
        ),
        rule(
            T::DnsNxDomain,
            Recording,
            vec![variant(Namespace, "10", "80", "", false)],
        ),
        rule(
            T::NetpolDenied,
            Recording,
            vec![variant(Namespace, "5", "10", "", false)],
        ),
        rule(
            T::LatencyHighTrend,
            Recording,
            vec![variant(Namespace, "100", "", "", true)],
        ),
        rule(
            T::ExternalEgressHighTrend,
            Recording,
            vec![
                variant(Node, "", "200", "", true),
                variant(Namespace, "100", "500", "", true),
            ],
        ),
        rule(
            T::ExternalIngressHighTrend,
            Recording,
            vec![
                variant(Node, "", "200", "", true),
                variant(Namespace, "100", "500", "", true),
            ],
        ),
        rule(
            T::Ingress5xxErrors,
            Recording,
            vec![variant(Namespace, "5", "10", "", false)],
        ),
        rule(
            T::IngressHttpLatencyTrend,
            Recording,
            vec![variant(Namespace, "100", "200", "", true)],
        ),
    ]
}
