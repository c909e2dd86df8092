//! Queries as PromQL over the pipeline's `netobserv_*` metrics. A metric query can go to
//! Prometheus when an enabled metric carries the value asked for and every label the query groups
//! or filters on; otherwise [`metric_queries`] says why, naming the metric to enable.

use crate::config::{Direction, MetricConfig};
use crate::logql::label_matcher;
use netobserv_flowstore::filter::Group;
use netobserv_flowstore::query::{
    MetricFunction, MetricType, MetricsQuery, PacketLoss, RecordType,
};

/// What a metric measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// Bytes counter.
    Bytes,
    /// Packets counter.
    Packets,
    /// Flow counter.
    Flows,
    /// Dropped bytes.
    DropBytes,
    /// Dropped packets.
    DropPackets,
    /// DNS latency histogram (seconds).
    DnsLatency,
    /// RTT histogram (seconds).
    Rtt,
    /// Something the console does not query (sampling gauge, events, IPsec).
    Other,
}

/// One metric the pipeline exports.
#[derive(Clone, Debug, PartialEq)]
pub struct PromMetric {
    /// Full name.
    pub name: String,
    /// Whether it is exported.
    pub enabled: bool,
    /// Histogram (else counter).
    pub histogram: bool,
    /// Value.
    pub value: Value,
    /// Direction counted.
    pub direction: Direction,
    /// Labels.
    pub labels: Vec<String>,
}

const NODE: &[&str] = &[
    "K8S_ClusterName",
    "SrcK8S_Zone",
    "DstK8S_Zone",
    "SrcK8S_HostName",
    "DstK8S_HostName",
];
const NAMESPACE: &[&str] = &[
    "K8S_ClusterName",
    "SrcK8S_Zone",
    "DstK8S_Zone",
    "SrcK8S_Namespace",
    "DstK8S_Namespace",
    "K8S_FlowLayer",
    "SrcSubnetLabel",
    "DstSubnetLabel",
];
const WORKLOAD_EXTRA: &[&str] = &[
    "SrcK8S_OwnerName",
    "DstK8S_OwnerName",
    "SrcK8S_OwnerType",
    "DstK8S_OwnerType",
    "SrcK8S_Type",
    "DstK8S_Type",
];

/// What a predefined `netobserv_<group>_<suffix>` metric is, from its name.
fn predefined(name: &str) -> Option<(bool, Value, Direction, Vec<String>)> {
    let rest = name.strip_prefix("netobserv_")?;
    let (group_labels, suffix): (Vec<&str>, &str) =
        if let Some(s) = rest.strip_prefix("node_to_node_") {
            (NODE.to_vec(), s)
        } else if let Some(s) = rest.strip_prefix("node_") {
            (NODE.to_vec(), s)
        } else if let Some(s) = rest.strip_prefix("namespace_") {
            (NAMESPACE.to_vec(), s)
        } else if let Some(s) = rest.strip_prefix("workload_") {
            (NAMESPACE.iter().chain(WORKLOAD_EXTRA).copied().collect(), s)
        } else {
            return None;
        };
    let mut labels: Vec<String> = group_labels.iter().map(|s| s.to_string()).collect();
    let (hist, value, dir) = match suffix {
        "ingress_bytes_total" => (false, Value::Bytes, Direction::Ingress),
        "egress_bytes_total" => (false, Value::Bytes, Direction::Egress),
        "ingress_packets_total" => (false, Value::Packets, Direction::Ingress),
        "egress_packets_total" => (false, Value::Packets, Direction::Egress),
        "flows_total" => (false, Value::Flows, Direction::Any),
        "ingress_flows_total" => (false, Value::Flows, Direction::Ingress),
        "drop_packets_total" | "drop_bytes_total" => {
            labels.extend(["PktDropLatestState", "PktDropLatestDropCause"].map(String::from));
            let v = if suffix == "drop_bytes_total" {
                Value::DropBytes
            } else {
                Value::DropPackets
            };
            (false, v, Direction::Any)
        }
        "rtt_seconds" => (true, Value::Rtt, Direction::Any),
        "dns_latency_seconds" => {
            labels.push("DnsFlagsResponseCode".into());
            (true, Value::DnsLatency, Direction::Any)
        }
        _ => (false, Value::Other, Direction::Any),
    };
    Some((hist, value, dir, labels))
}

/// The metrics of the configuration, completed from the predefined names (the operator renders
/// only `name` and `enabled`). Zone and cluster labels exist only with the `zones` /
/// `multiCluster` frontend features, as the pipeline drops them otherwise.
pub fn catalog(metrics: &[MetricConfig], features: &[String]) -> Vec<PromMetric> {
    let has = |f: &str| features.iter().any(|x| x == f);
    metrics
        .iter()
        .map(|m| {
            let known = predefined(&m.name);
            let histogram = m
                .kind
                .as_deref()
                .map(|k| k.contains("histogram"))
                .or(known.as_ref().map(|k| k.0))
                .unwrap_or(false);
            let value = match m.value_field.as_deref() {
                Some("Bytes") => Value::Bytes,
                Some("Packets") => Value::Packets,
                Some("") => Value::Flows,
                Some("PktDropBytes") => Value::DropBytes,
                Some("PktDropPackets") => Value::DropPackets,
                Some("DnsLatencyMs") => Value::DnsLatency,
                Some("TimeFlowRttNs") => Value::Rtt,
                Some(_) => Value::Other,
                None => known.as_ref().map_or(Value::Other, |k| k.1),
            };
            let direction = m
                .direction
                .or(known.as_ref().map(|k| k.2))
                .unwrap_or_default();
            let mut labels = m.labels.clone().or(known.map(|k| k.3)).unwrap_or_default();
            if m.labels.is_none() {
                labels.retain(|l| {
                    (has("zones") || !l.ends_with("K8S_Zone"))
                        && (has("multiCluster") || l != "K8S_ClusterName")
                });
            }
            PromMetric {
                name: m.name.clone(),
                enabled: m.enabled,
                histogram,
                value,
                direction,
                labels,
            }
        })
        .collect()
}

fn wanted(t: MetricType, f: MetricFunction) -> Value {
    match (t, f) {
        (MetricType::DnsFlows | MetricType::DnsLatencyMs, _) => Value::DnsLatency,
        (MetricType::TimeFlowRttNs, _) => Value::Rtt,
        (_, MetricFunction::Count) | (MetricType::Flows, _) => Value::Flows,
        (MetricType::Bytes, _) => Value::Bytes,
        (MetricType::Packets, _) => Value::Packets,
        (MetricType::PktDropBytes, _) => Value::DropBytes,
        (MetricType::PktDropPackets, _) => Value::DropPackets,
    }
}

fn matchers(group: Option<&Group>) -> Result<String, String> {
    let Some(g) = group else {
        return Ok(String::new());
    };
    let parts: Option<Vec<String>> = g.iter().map(label_matcher).collect();
    parts
        .map(|p| p.join(","))
        .ok_or_else(|| "a filter Prometheus cannot express (address range or >=)".to_string())
}

/// PromQL queries (one per filter group; answers summed per series), or why Prometheus cannot
/// answer.
pub fn metric_queries(q: &MetricsQuery, catalog: &[PromMetric]) -> Result<Vec<String>, String> {
    use MetricFunction as F;
    if q.selection.record_type != RecordType::FlowLog {
        return Err(format!(
            "metrics only count flow logs (recordType {} needs Loki or the store)",
            q.selection.record_type.as_str()
        ));
    }
    if q.selection.packet_loss != PacketLoss::All {
        return Err("the packetLoss option needs Loki or the store".into());
    }
    if q.selection.filters.has_greater_or_equal() {
        return Err(">= filters need Loki or the store".into());
    }
    let value = wanted(q.metric_type, q.function);
    let histogram_fn = matches!(q.function, F::Avg | F::P90 | F::P99);
    if matches!(q.function, F::Min | F::Max)
        || (histogram_fn && !matches!(value, Value::DnsLatency | Value::Rtt))
    {
        return Err(format!(
            "function `{}` of {} is not available from metrics",
            q.function.as_str(),
            q.metric_type.as_str()
        ));
    }
    if matches!(value, Value::DnsLatency | Value::Rtt)
        && q.metric_type.is_latency()
        && matches!(q.function, F::Rate | F::Sum)
    {
        return Err(format!(
            "function `{}` of {} is not available from metrics",
            q.function.as_str(),
            q.metric_type.as_str()
        ));
    }
    let mut needed: Vec<&str> = q.labels.clone();
    needed.extend(q.selection.filters.fields());
    let fits = |m: &&PromMetric| {
        m.value == value && needed.iter().all(|l| m.labels.iter().any(|x| x == l))
    };
    let candidates: Vec<&PromMetric> = catalog.iter().filter(fits).collect();
    let enabled: Vec<&PromMetric> = candidates.iter().copied().filter(|m| m.enabled).collect();
    if enabled.is_empty() {
        let disabled: Vec<&str> = candidates.iter().map(|m| m.name.as_str()).collect();
        return Err(if disabled.is_empty() {
            format!(
                "no Prometheus metric has {value:?} with labels [{}]",
                needed.join(", ")
            )
        } else {
            format!(
                "the metrics that could answer are disabled: {} (add them to spec.processor.metrics.includeList)",
                disabled.join(", ")
            )
        });
    }
    let smallest = |dir: Direction| {
        enabled
            .iter()
            .copied()
            .filter(|m| m.direction == dir)
            .min_by_key(|m| m.labels.len())
    };
    let chosen: Vec<&PromMetric> = match smallest(Direction::Any) {
        Some(m) => vec![m],
        None => [smallest(Direction::Ingress), smallest(Direction::Egress)]
            .into_iter()
            .flatten()
            .collect(),
    };
    let groups: Vec<Option<&Group>> = if q.selection.filters.groups.is_empty() {
        vec![None]
    } else {
        q.selection.filters.groups.iter().map(Some).collect()
    };
    let by = q.labels.join(",");
    let ri = format!("{}s", q.rate_interval_s);
    let step = format!("{}s", q.step_s);
    let mut out = Vec::new();
    for g in groups {
        let sel = matchers(g)?;
        let exprs: Vec<String> = chosen
            .iter()
            .map(|m| {
                let n = &m.name;
                match (m.histogram, q.function) {
                    (false, F::Rate) => format!("sum by({by}) (rate({n}{{{sel}}}[{ri}]))"),
                    (false, _) => format!("sum by({by}) (increase({n}{{{sel}}}[{step}]))"),
                    (true, F::Rate) => format!("sum by({by}) (rate({n}_count{{{sel}}}[{ri}]))"),
                    (true, F::Count | F::Sum) => {
                        format!("sum by({by}) (increase({n}_count{{{sel}}}[{step}]))")
                    }
                    (true, F::Avg) => format!(
                        "sum by({by}) (rate({n}_sum{{{sel}}}[{ri}])) / sum by({by}) (rate({n}_count{{{sel}}}[{ri}])) * 1000"
                    ),
                    (true, f) => {
                        let quantile = if f == F::P90 { "0.9" } else { "0.99" };
                        let by_le = if by.is_empty() { "le".to_string() } else { format!("{by},le") };
                        format!(
                            "histogram_quantile({quantile}, sum by({by_le}) (rate({n}_bucket{{{sel}}}[{ri}]))) * 1000"
                        )
                    }
                }
            })
            .collect();
        let expr = if exprs.len() == 1 {
            exprs.into_iter().next().unwrap_or_default()
        } else {
            exprs
                .iter()
                .map(|e| format!("({e})"))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let k = if q.function == F::Min {
            "bottomk"
        } else {
            "topk"
        };
        out.push(format!("{k}({}, {expr})", q.limit));
    }
    Ok(out)
}
