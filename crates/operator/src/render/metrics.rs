//! Processor metric definitions (the `encode_prom` `metrics` list): the predefined metrics of the
//! effective include list plus the FlowMetrics of the main namespace.

use super::Inputs;
use netobserv_api::v1alpha1::{FlowDirection, FlowMetric, MatchType, MetricType};
use netobserv_api::v1beta2::FlpMetric;
use serde_json::{Value, json};

/// Histogram buckets (seconds) of the latency metrics.
pub const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 1.0];

fn filter(key: &str, value: &str, kind: &str) -> Value {
    json!({"key": key, "value": value, "type": kind})
}

fn group_labels(inputs: &Inputs<'_>, group: &str) -> Vec<String> {
    let spec = inputs.spec();
    let mut labels = Vec::new();
    if spec.processor.multi_cluster_deployment {
        labels.push("K8S_ClusterName");
    }
    if spec.processor.add_zone == Some(true) {
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

/// The FLP definition of one predefined metric.
pub fn predefined(inputs: &Inputs<'_>, metric: FlpMetric) -> Value {
    let name = metric.as_str();
    if metric == FlpMetric::NodeToNodeIngressFlowsTotal {
        return json!({
            "name": name,
            "type": "counter",
            "filters": [
                filter("FlowDirection", "2", "not_equal"),
                filter("SrcK8S_HostName", "", "presence"),
                filter("DstK8S_HostName", "", "presence"),
            ],
            "labels": group_labels(inputs, "node"),
        });
    }
    let (group, family) = name.split_once('_').unwrap_or(("namespace", name));
    let mut labels = group_labels(inputs, group);
    let mut def = json!({"name": name});
    let set = |def: &mut Value, k: &str, v: Value| {
        if let Some(m) = def.as_object_mut() {
            m.insert(k.to_string(), v);
        }
    };
    let direction = |f: &str| {
        if f.starts_with("ingress") {
            vec![filter("FlowDirection", "0|2", "match_regex")]
        } else {
            vec![filter("FlowDirection", "1|2", "match_regex")]
        }
    };
    match family {
        "ingress_bytes_total" | "egress_bytes_total" => {
            set(&mut def, "type", json!("counter"));
            set(&mut def, "valueKey", json!("Bytes"));
            set(&mut def, "filters", json!(direction(family)));
        }
        "ingress_packets_total" | "egress_packets_total" => {
            set(&mut def, "type", json!("counter"));
            set(&mut def, "valueKey", json!("Packets"));
            set(&mut def, "filters", json!(direction(family)));
        }
        "flows_total" => set(&mut def, "type", json!("counter")),
        "sampling" => {
            set(&mut def, "type", json!("gauge"));
            set(&mut def, "valueKey", json!("Sampling"));
        }
        "rtt_seconds" => {
            set(&mut def, "type", json!("histogram"));
            set(&mut def, "valueKey", json!("TimeFlowRttNs"));
            set(&mut def, "valueScale", json!(1_000_000_000));
            set(&mut def, "buckets", json!(LATENCY_BUCKETS));
            set(
                &mut def,
                "filters",
                json!([filter("TimeFlowRttNs", "", "presence")]),
            );
        }
        "drop_packets_total" | "drop_bytes_total" => {
            let key = if family.contains("packets") {
                "PktDropPackets"
            } else {
                "PktDropBytes"
            };
            set(&mut def, "type", json!("counter"));
            set(&mut def, "valueKey", json!(key));
            set(&mut def, "filters", json!([filter(key, "", "presence")]));
            labels.extend(["PktDropLatestState".into(), "PktDropLatestDropCause".into()]);
        }
        "dns_latency_seconds" => {
            set(&mut def, "type", json!("histogram"));
            set(&mut def, "valueKey", json!("DnsLatencyMs"));
            set(&mut def, "valueScale", json!(1000));
            set(&mut def, "buckets", json!(LATENCY_BUCKETS));
            set(
                &mut def,
                "filters",
                json!([filter("DnsId", "", "presence")]),
            );
            labels.push("DnsFlagsResponseCode".into());
        }
        "network_policy_events_total" => {
            set(&mut def, "type", json!("counter"));
            set(&mut def, "flatten", json!(["NetworkEvents"]));
            set(
                &mut def,
                "filters",
                json!([filter("NetworkEvents>Feature", "acl", "equal")]),
            );
            for l in ["Type", "Namespace", "Name", "Action", "Direction"] {
                labels.push(format!("NetworkEvents>{l}"));
            }
            set(
                &mut def,
                "remap",
                json!({
                    "NetworkEvents>Type": "type",
                    "NetworkEvents>Namespace": "namespace",
                    "NetworkEvents>Name": "name",
                    "NetworkEvents>Action": "action",
                    "NetworkEvents>Direction": "direction",
                }),
            );
        }
        "ipsec_flows_total" => {
            set(&mut def, "type", json!("counter"));
            set(
                &mut def,
                "filters",
                json!([filter("IPSecStatus", "", "presence")]),
            );
            labels.push("IPSecStatus".into());
        }
        _ => set(&mut def, "type", json!("counter")),
    }
    set(&mut def, "labels", json!(labels));
    def
}

fn match_type(m: MatchType) -> &'static str {
    match m {
        MatchType::Equal => "equal",
        MatchType::NotEqual => "not_equal",
        MatchType::Presence => "presence",
        MatchType::Absence => "absence",
        MatchType::MatchRegex => "match_regex",
        MatchType::NotMatchRegex => "not_match_regex",
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
pub fn from_flow_metric(fm: &FlowMetric) -> Value {
    let spec = &fm.spec;
    let name = metric_name(fm);
    let mut filters: Vec<Value> = spec
        .filters
        .iter()
        .map(|f| filter(&f.field, &f.value, match_type(f.match_type)))
        .collect();
    match spec.direction {
        FlowDirection::Any => {}
        FlowDirection::Ingress => filters.push(filter("FlowDirection", "0|2", "match_regex")),
        FlowDirection::Egress => filters.push(filter("FlowDirection", "1|2", "match_regex")),
    }
    let kind = match spec.kind {
        MetricType::Counter => "counter",
        MetricType::Histogram => "histogram",
        MetricType::Gauge => "gauge",
    };
    let mut def = json!({
        "name": name,
        "type": kind,
        "filters": filters,
        "labels": spec.labels,
    });
    if let Some(m) = def.as_object_mut() {
        if !spec.value_field.is_empty() {
            m.insert("valueKey".into(), json!(spec.value_field));
        }
        if !spec.help.is_empty() {
            m.insert("help".into(), json!(spec.help));
        }
        if !spec.flatten.is_empty() {
            m.insert("flatten".into(), json!(spec.flatten));
        }
        if !spec.remap.is_empty() {
            m.insert("remap".into(), json!(spec.remap));
        }
        let buckets: Vec<f64> = spec.buckets.iter().filter_map(|b| b.parse().ok()).collect();
        if !buckets.is_empty() {
            m.insert("buckets".into(), json!(buckets));
        }
        if let Ok(scale) = spec.divider.parse::<f64>()
            && scale != 0.0
        {
            m.insert("valueScale".into(), json!(scale));
        }
    }
    def
}

/// The console's `prometheus.metrics[]` entry for one pipeline metric definition (as built by
/// [`predefined`] or [`from_flow_metric`]): name with the `netobserv_` prefix, type, the field it
/// sums, the direction its filters select and its labels, so the console can query user-defined
/// FlowMetrics as well as the predefined ones.
pub fn console_entry(def: &Value, enabled: bool) -> Value {
    let name = def["name"].as_str().unwrap_or_default();
    let direction = def["filters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["key"] == "FlowDirection" && f["type"] == "match_regex")
        .and_then(|f| match f["value"].as_str() {
            Some("0|2") => Some("Ingress"),
            Some("1|2") => Some("Egress"),
            _ => None,
        })
        .unwrap_or("Any");
    let mut entry = json!({
        "name": format!("netobserv_{name}"),
        "enabled": enabled,
        "type": def["type"],
        "direction": direction,
        "labels": def["labels"],
    });
    if let (Some(m), Some(value)) = (entry.as_object_mut(), def["valueKey"].as_str()) {
        m.insert("valueField".into(), json!(value));
    }
    entry
}

/// All metric definitions: predefined metrics of the effective include list, then the
/// FlowMetrics (sorted by name for a stable config and digest).
pub fn definitions(inputs: &Inputs<'_>) -> Vec<Value> {
    let mut out: Vec<Value> = inputs
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
            .map(|d| d["name"].as_str().unwrap_or_default().to_string())
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
        assert_eq!(def["filters"][0]["value"], "1|2");
    }
}
