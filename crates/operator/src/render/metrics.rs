//! Processor metric definitions (the `encode_prom` `metrics` list): the predefined metrics of the
//! effective include list plus the FlowMetrics of the main namespace.

use super::Inputs;
use netobserv_api::v1alpha1::{FlowDirection, FlowMetric, MatchType, MetricType};
use netobserv_api::v1beta2::FlpMetric;
use netobserv_flp_config::{MetricKind, MetricsFilter, MetricsFilterKind, MetricsItem};
use std::collections::BTreeMap;

/// Histogram buckets (seconds) of the latency metrics.
pub const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 1.0];

fn filter(key: &str, value: &str, kind: MetricsFilterKind) -> MetricsFilter {
    MetricsFilter {
        key: key.to_string(),
        value: value.to_string(),
        kind,
    }
}

/// What the labels of the predefined metrics depend on besides the metric.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricLabels {
    /// `K8S_ClusterName` on every metric (multi-cluster deployments).
    pub cluster_name: bool,
    /// `SrcK8S_Zone` / `DstK8S_Zone` on every metric.
    pub zones: bool,
}

impl MetricLabels {
    /// The labels a FlowCollector asks for.
    pub fn of(inputs: &Inputs<'_>) -> Self {
        let spec = inputs.spec();
        Self {
            cluster_name: spec.processor.multi_cluster_deployment,
            zones: spec.processor.add_zone == Some(true),
        }
    }
}

fn group_labels(with: MetricLabels, group: &str) -> Vec<String> {
    let mut labels = Vec::new();
    if with.cluster_name {
        labels.push("K8S_ClusterName");
    }
    if with.zones {
        labels.extend(["SrcK8S_Zone", "DstK8S_Zone"]);
    }
    match group {
        "node" => labels.extend(["SrcK8S_HostName", "DstK8S_HostName"]),
        _ => {
            labels.extend([
                "SrcK8S_Namespace",
                "DstK8S_Namespace",
                "K8S_FlowLayer",
                "SrcSubnetLabel",
                "DstSubnetLabel",
            ]);
            if group == "workload" {
                labels.extend([
                    "SrcK8S_OwnerName",
                    "DstK8S_OwnerName",
                    "SrcK8S_OwnerType",
                    "DstK8S_OwnerType",
                    "SrcK8S_Type",
                    "DstK8S_Type",
                ]);
            }
        }
    }
    labels.into_iter().map(str::to_string).collect()
}

/// The direction filter of an ingress or egress family.
fn direction(family: &str) -> Vec<MetricsFilter> {
    let regex = if family.starts_with("ingress") {
        "0|2"
    } else {
        "1|2"
    };
    vec![filter(
        "FlowDirection",
        regex,
        MetricsFilterKind::MatchRegex,
    )]
}

fn presence(key: &str) -> MetricsFilter {
    filter(key, "", MetricsFilterKind::Presence)
}

/// The FLP definition of one predefined metric.
pub fn predefined(inputs: &Inputs<'_>, metric: FlpMetric) -> MetricsItem {
    predefined_with(MetricLabels::of(inputs), metric)
}

/// The FLP definition of one predefined metric with the given extra labels: what the operator
/// renders for a FlowCollector, and the CLI for its on-demand metrics.
pub fn predefined_with(with: MetricLabels, metric: FlpMetric) -> MetricsItem {
    let name = metric.as_str();
    if metric == FlpMetric::NodeToNodeIngressFlowsTotal {
        return MetricsItem {
            name: name.to_string(),
            kind: MetricKind::Counter,
            filters: vec![
                filter("FlowDirection", "2", MetricsFilterKind::NotEqual),
                presence("SrcK8S_HostName"),
                presence("DstK8S_HostName"),
            ],
            labels: group_labels(with, "node"),
            ..MetricsItem::default()
        };
    }
    let (group, family) = name.split_once('_').unwrap_or(("namespace", name));
    let mut def = MetricsItem {
        name: name.to_string(),
        kind: MetricKind::Counter,
        labels: group_labels(with, group),
        ..MetricsItem::default()
    };
    match family {
        "ingress_bytes_total" | "egress_bytes_total" => {
            def.value_key = "Bytes".into();
            def.filters = direction(family);
        }
        "ingress_packets_total" | "egress_packets_total" => {
            def.value_key = "Packets".into();
            def.filters = direction(family);
        }
        "sampling" => {
            def.kind = MetricKind::Gauge;
            def.value_key = "Sampling".into();
        }
        "rtt_seconds" => {
            def.kind = MetricKind::Histogram;
            def.value_key = "TimeFlowRttNs".into();
            def.value_scale = Some(1_000_000_000.into());
            def.buckets = LATENCY_BUCKETS.to_vec();
            def.filters = vec![presence("TimeFlowRttNs")];
        }
        "drop_packets_total" | "drop_bytes_total" => {
            let key = if family.contains("packets") {
                "PktDropPackets"
            } else {
                "PktDropBytes"
            };
            def.value_key = key.into();
            def.filters = vec![presence(key)];
            def.labels
                .extend(["PktDropLatestState".into(), "PktDropLatestDropCause".into()]);
        }
        "dns_latency_seconds" => {
            def.kind = MetricKind::Histogram;
            def.value_key = "DnsLatencyMs".into();
            def.value_scale = Some(1000.into());
            def.buckets = LATENCY_BUCKETS.to_vec();
            def.filters = vec![presence("DnsId")];
            def.labels.push("DnsFlagsResponseCode".into());
        }
        "network_policy_events_total" => {
            def.flatten = vec!["NetworkEvents".into()];
            def.filters = vec![filter(
                "NetworkEvents>Feature",
                "acl",
                MetricsFilterKind::Equal,
            )];
            let mut remap = BTreeMap::new();
            for l in ["Type", "Namespace", "Name", "Action", "Direction"] {
                def.labels.push(format!("NetworkEvents>{l}"));
                remap.insert(format!("NetworkEvents>{l}"), l.to_ascii_lowercase());
            }
            def.remap = remap;
        }
        "ipsec_flows_total" => {
            def.filters = vec![presence("IPSecStatus")];
            def.labels.push("IPSecStatus".into());
        }
        _ => {}
    }
    def
}

fn match_type(m: MatchType) -> MetricsFilterKind {
    match m {
        MatchType::Equal => MetricsFilterKind::Equal,
        MatchType::NotEqual => MetricsFilterKind::NotEqual,
        MatchType::Presence => MetricsFilterKind::Presence,
        MatchType::Absence => MetricsFilterKind::Absence,
        MatchType::MatchRegex => MetricsFilterKind::MatchRegex,
        MatchType::NotMatchRegex => MetricsFilterKind::NotMatchRegex,
    }
}

/// The metric name (without the `netobserv_` prefix): `spec.metricName`, or the resource name
/// with `-` and `.` turned into `_`.
pub fn metric_name(fm: &FlowMetric) -> String {
    if fm.spec.metric_name.is_empty() {
        fm.metadata
            .name
            .clone()
            .unwrap_or_default()
            .replace(['-', '.'], "_")
    } else {
        fm.spec.metric_name.clone()
    }
}

/// The FLP definition of a FlowMetric.
pub fn from_flow_metric(fm: &FlowMetric) -> MetricsItem {
    let spec = &fm.spec;
    let mut filters: Vec<MetricsFilter> = spec
        .filters
        .iter()
        .map(|f| filter(&f.field, &f.value, match_type(f.match_type)))
        .collect();
    match spec.direction {
        FlowDirection::Any => {}
        FlowDirection::Ingress => filters.extend(direction("ingress")),
        FlowDirection::Egress => filters.extend(direction("egress")),
    }
    let kind = match spec.kind {
        MetricType::Counter => MetricKind::Counter,
        MetricType::Histogram => MetricKind::Histogram,
        MetricType::Gauge => MetricKind::Gauge,
    };
    MetricsItem {
        name: metric_name(fm),
        kind,
        filters,
        labels: spec.labels.clone(),
        value_key: spec.value_field.clone(),
        help: spec.help.clone(),
        flatten: spec.flatten.clone(),
        remap: spec.remap.clone(),
        buckets: spec.buckets.iter().filter_map(|b| b.parse().ok()).collect(),
        value_scale: spec
            .divider
            .parse::<f64>()
            .ok()
            .filter(|scale| *scale != 0.0)
            .and_then(serde_json::Number::from_f64),
        ..MetricsItem::default()
    }
}

/// The console's `prometheus.metrics[]` entry for one pipeline metric definition (as built by
/// [`predefined`] or [`from_flow_metric`]): name with the `netobserv_` prefix, type, the field it
/// sums, the direction its filters select and its labels, so the console can query user-defined
/// FlowMetrics as well as the predefined ones.
pub fn console_entry(def: &MetricsItem, enabled: bool) -> serde_json::Value {
    let direction = def
        .filters
        .iter()
        .find(|f| f.key == "FlowDirection" && f.kind == MetricsFilterKind::MatchRegex)
        .and_then(|f| match f.value.as_str() {
            "0|2" => Some("Ingress"),
            "1|2" => Some("Egress"),
            _ => None,
        })
        .unwrap_or("Any");
    let mut entry = serde_json::json!({
        "name": format!("netobserv_{}", def.name),
        "enabled": enabled,
        "type": def.kind,
        "direction": direction,
        "labels": def.labels,
    });
    if let Some(m) = entry.as_object_mut()
        && !def.value_key.is_empty()
    {
        m.insert("valueField".into(), serde_json::json!(def.value_key));
    }
    entry
}

/// All metric definitions: predefined metrics of the effective include list, then the
/// FlowMetrics (sorted by name for a stable config and digest).
pub fn definitions(inputs: &Inputs<'_>) -> Vec<MetricsItem> {
    let mut out: Vec<MetricsItem> = inputs
        .spec()
        .effective_include_list()
        .into_iter()
        .map(|m| predefined(inputs, m))
        .collect();
    let mut fms: Vec<&FlowMetric> = inputs.flow_metrics.iter().collect();
    fms.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    out.extend(fms.into_iter().map(from_flow_metric));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::Images;
    use netobserv_api::v1beta2::AgentFeature;
    use netobserv_api::v1beta2::FlowCollector;
    use netobserv_api::validate::ClusterFacts;
    use serde_json::json;

    fn names(fc: &FlowCollector, fms: &[FlowMetric]) -> Vec<String> {
        let facts = ClusterFacts::default();
        let images = Images::for_tests();
        let inputs = Inputs {
            fc,
            facts: &facts,
            images: &images,
            flow_metrics: fms,
            copies: &Default::default(),
        };
        definitions(&inputs)
            .iter()
            .map(|d| d.name.clone())
            .collect()
    }

    #[test]
    fn feature_metrics_follow_features_and_flowmetrics_are_appended() {
        let mut fc = FlowCollector::new("cluster", Default::default());
        let base = names(&fc, &[]);
        assert!(base.contains(&"node_ingress_bytes_total".to_string()));
        assert!(!base.contains(&"namespace_rtt_seconds".to_string()));
        fc.spec.agent.ebpf.features.push(AgentFeature::FlowRtt);
        let fm: FlowMetric = serde_json::from_value(json!({
            "apiVersion": "flows.netobserv.io/v1alpha1", "kind": "FlowMetric",
            "metadata": {"name": "my-metric", "namespace": "netobserv"},
            "spec": {"type": "Counter", "labels": ["DstPort"], "direction": "Egress"}
        }))
        .unwrap();
        let with = names(&fc, std::slice::from_ref(&fm));
        assert!(with.contains(&"namespace_rtt_seconds".to_string()));
        assert_eq!(with.last().map(String::as_str), Some("my_metric"));
        let def = from_flow_metric(&fm);
        assert_eq!(def.filters[0].value, "1|2");
    }
}
