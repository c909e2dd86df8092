//! Grafana dashboards over the `netobserv_*` metrics this FlowCollector configures, as ConfigMaps:
//!
//! * one dashboard per `dashboardName` (predefined metrics go to `Main`, FlowMetric `charts[]`
//!   to the dashboard they name), ConfigMap `netobserv-<name lowercased>`, key
//!   `netobserv-flow-metrics.json`;
//! * the health dashboard over the components' own metrics, ConfigMap
//!   `grafana-dashboard-netobserv-health`, key `netobserv-health-metrics.json`.
//!
//! Rendered when the Prometheus Operator API is served (without it nothing scrapes the metrics).
//! On OpenShift they go to `openshift-config-managed` with `console.openshift.io/dashboard`, where
//! the console shows them (upstream's behaviour). Elsewhere they go to the FlowCollector namespace
//! labelled `grafana_dashboard: "1"`, the label the Grafana dashboard sidecar (kube-prometheus-stack,
//! Grafana Helm chart) loads by default.

use super::{API_SERVICE_MONITOR, Inputs, Object, PART_OF_LABEL, PART_OF_VALUE, meta, string_map};
use k8s_openapi::api::core::v1::ConfigMap;
use netobserv_api::v1alpha1::{Chart, ChartType, ChartUnit, FlowMetric};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Namespace the OpenShift console reads dashboards from.
pub const OPENSHIFT_DASHBOARDS_NS: &str = "openshift-config-managed";
/// Name of the health dashboard's ConfigMap.
pub const HEALTH_CONFIG_MAP: &str = "grafana-dashboard-netobserv-health";
/// Label telling stale dashboard ConfigMaps from others (upstream's name).
pub const DASHBOARD_LABEL: &str = "netobserv-managed";

/// One panel: a title, a unit, how it is drawn, and its PromQL queries.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// Dashboard it belongs to.
    pub dashboard: String,
    /// Row it sits in.
    pub section: String,
    /// Panel title.
    pub title: String,
    /// Grafana unit id (`Bps`, `s`, ...).
    pub unit: &'static str,
    /// Drawing.
    pub kind: ChartType,
    /// (PromQL, legend) pairs; top-N already applied.
    pub queries: Vec<(String, String)>,
}

/// The dashboard ConfigMaps.
pub fn render(inputs: &Inputs<'_>) -> Vec<Object> {
    if !inputs.has_api(API_SERVICE_MONITOR) {
        return Vec::new();
    }
    let (ns, label) = if inputs.is_openshift() {
        (
            OPENSHIFT_DASHBOARDS_NS,
            ("console.openshift.io/dashboard", "true"),
        )
    } else {
        (inputs.ns(), ("grafana_dashboard", "1"))
    };
    let mut by_dashboard: BTreeMap<String, Vec<Panel>> = BTreeMap::new();
    for p in predefined_panels(inputs)
        .into_iter()
        .chain(flow_metric_panels(inputs))
    {
        by_dashboard.entry(p.dashboard.clone()).or_default().push(p);
    }
    let mut out = Vec::new();
    for (name, panels) in &by_dashboard {
        let cm_name = format!("netobserv-{}", name.to_ascii_lowercase().replace(' ', "-"));
        let doc = dashboard(&format!("NetObserv / {name}"), &cm_name, panels);
        out.push(config_map(
            &cm_name,
            ns,
            label,
            "netobserv-flow-metrics.json",
            &doc,
        ));
    }
    let health = dashboard(
        "NetObserv / Health",
        HEALTH_CONFIG_MAP,
        &health_panels(inputs),
    );
    out.push(config_map(
        HEALTH_CONFIG_MAP,
        ns,
        label,
        "netobserv-health-metrics.json",
        &health,
    ));
    out
}

fn config_map(name: &str, ns: &str, label: (&str, &str), key: &str, doc: &Value) -> Object {
    let labels = string_map(&[
        (PART_OF_LABEL, PART_OF_VALUE),
        (DASHBOARD_LABEL, "true"),
        label,
    ]);
    Object::ConfigMap(ConfigMap {
        metadata: meta(name, Some(ns), labels),
        data: Some(BTreeMap::from([(
            key.to_string(),
            serde_json::to_string_pretty(doc).unwrap_or_default(),
        )])),
        ..ConfigMap::default()
    })
}

/// Grafana's unit id for a FlowMetric chart unit.
fn grafana_unit(unit: ChartUnit) -> &'static str {
    match unit {
        ChartUnit::None => "short",
        ChartUnit::Bytes => "bytes",
        ChartUnit::Seconds => "s",
        ChartUnit::Bps => "Bps",
        ChartUnit::Pps => "pps",
        ChartUnit::Percent => "percent",
    }
}

/// `topk` unless the panel is a single number.
fn top(expr: &str, n: i32, kind: ChartType) -> String {
    if kind == ChartType::SingleStat {
        expr.to_string()
    } else {
        format!("topk({n}, {expr})")
    }
}

/// Panels of the FlowMetrics' `charts[]`, `$METRIC` replaced by the exposed name.
fn flow_metric_panels(inputs: &Inputs<'_>) -> Vec<Panel> {
    let mut fms: Vec<&FlowMetric> = inputs.flow_metrics.iter().collect();
    fms.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut out = Vec::new();
    for fm in fms {
        let metric = format!("netobserv_{}", super::metrics::metric_name(fm));
        for chart in &fm.spec.charts {
            out.push(chart_panel(chart, &metric));
        }
    }
    out
}

fn chart_panel(chart: &Chart, metric: &str) -> Panel {
    let dashboard = if chart.dashboard_name.is_empty() {
        "Main".to_string()
    } else {
        chart.dashboard_name.clone()
    };
    Panel {
        dashboard,
        section: chart.section_name.clone(),
        title: chart.title.clone(),
        unit: grafana_unit(chart.unit),
        kind: chart.kind,
        queries: chart
            .queries
            .iter()
            .map(|q| {
                let expr = q.prom_ql.replace("$METRIC", metric);
                (top(&expr, q.top, chart.kind), q.legend.clone())
            })
            .collect(),
    }
}

/// Labels naming the two ends of a flow at a metric's granularity, and the legend for them.
fn ends(group: &str) -> (&'static str, &'static str) {
    match group {
        "node" => (
            "SrcK8S_HostName, DstK8S_HostName",
            "{{SrcK8S_HostName}} → {{DstK8S_HostName}}",
        ),
        "workload" => (
            "SrcK8S_Namespace, SrcK8S_OwnerName, DstK8S_Namespace, DstK8S_OwnerName",
            "{{SrcK8S_Namespace}}/{{SrcK8S_OwnerName}} → {{DstK8S_Namespace}}/{{DstK8S_OwnerName}}",
        ),
        _ => (
            "SrcK8S_Namespace, DstK8S_Namespace",
            "{{SrcK8S_Namespace}} → {{DstK8S_Namespace}}",
        ),
    }
}

/// Panels of the predefined metrics the FlowCollector enables, on the `Main` dashboard, one row
/// per granularity (nodes, namespaces, workloads).
fn predefined_panels(inputs: &Inputs<'_>) -> Vec<Panel> {
    let mut out = Vec::new();
    for metric in inputs.spec().effective_include_list() {
        let name = metric.as_str();
        let Some((group, family)) = name.split_once('_') else {
            continue;
        };
        if !matches!(group, "node" | "namespace" | "workload") {
            continue;
        }
        let section = match group {
            "node" => "Nodes",
            "namespace" => "Namespaces",
            _ => "Workloads",
        };
        for (title, unit, expr, legend) in family_panels(name, family, group) {
            out.push(Panel {
                dashboard: "Main".into(),
                section: section.into(),
                title,
                unit,
                kind: ChartType::Line,
                queries: vec![(top(&expr, 10, ChartType::Line), legend)],
            });
        }
    }
    out
}

/// (title, unit, PromQL, legend) of the panels one predefined metric family gets.
fn family_panels(
    name: &str,
    family: &str,
    group: &str,
) -> Vec<(String, &'static str, String, String)> {
    let m = format!("netobserv_{name}");
    let (by, legend) = ends(group);
    let rate = |labels: &str| format!("sum(rate({m}[2m])) by ({labels})");
    let p99 = |labels: &str| {
        format!("histogram_quantile(0.99, sum(rate({m}_bucket[2m])) by (le, {labels}))")
    };
    let dir = if family.starts_with("ingress") {
        "ingress"
    } else {
        "egress"
    };
    let one = |t: String, u, e: String, l: &str| vec![(t, u, e, l.to_string())];
    match family {
        "ingress_bytes_total" | "egress_bytes_total" => one(
            format!("Top {group} {dir} byte rates"),
            "Bps",
            rate(by),
            legend,
        ),
        "ingress_packets_total" | "egress_packets_total" => one(
            format!("Top {group} {dir} packet rates"),
            "pps",
            rate(by),
            legend,
        ),
        "flows_total" => one(format!("Top {group} flow rates"), "short", rate(by), legend),
        "drop_packets_total" => vec![
            (
                format!("Top {group} dropped packet rates"),
                "pps",
                rate(by),
                legend.to_string(),
            ),
            (
                format!("Dropped packets by cause ({group}s)"),
                "pps",
                rate("PktDropLatestDropCause"),
                "{{PktDropLatestDropCause}}".to_string(),
            ),
        ],
        "drop_bytes_total" => one(
            format!("Top {group} dropped byte rates"),
            "Bps",
            rate(by),
            legend,
        ),
        "rtt_seconds" => one(
            format!("P99 TCP round-trip time ({group}s)"),
            "s",
            p99(by),
            legend,
        ),
        "dns_latency_seconds" => vec![
            (
                format!("P99 DNS latency ({group}s)"),
                "s",
                p99(by),
                legend.to_string(),
            ),
            (
                format!("DNS response codes ({group}s)"),
                "short",
                format!("sum(rate({m}_count[2m])) by (DnsFlagsResponseCode)"),
                "{{DnsFlagsResponseCode}}".to_string(),
            ),
        ],
        "network_policy_events_total" => one(
            format!("Network policy events ({group}s)"),
            "short",
            rate("action, type, direction"),
            "{{action}} {{type}} {{direction}}",
        ),
        "ipsec_flows_total" => one(
            "IPsec flows by status".into(),
            "short",
            rate("IPSecStatus"),
            "{{IPSecStatus}}",
        ),
        _ => Vec::new(),
    }
}

/// Panels over the components' own metrics: agent evictions and losses, pipeline ingest, writes
/// and errors, operator reconciles.
fn health_panels(inputs: &Inputs<'_>) -> Vec<Panel> {
    let panel = |section: &str, title: &str, unit, expr: &str, legend: &str| Panel {
        dashboard: "Health".into(),
        section: section.into(),
        title: title.into(),
        unit,
        kind: ChartType::Line,
        queries: vec![(expr.to_string(), legend.to_string())],
    };
    let mut out = vec![
        panel(
            "Operator",
            "Reconciliations",
            "short",
            "sum(rate(netobserv_operator_reconciliations_total[5m]))",
            "reconciles/s",
        ),
        panel(
            "Operator",
            "Reconcile failures",
            "short",
            "sum(rate(netobserv_operator_reconcile_failures_total[5m]))",
            "failures/s",
        ),
        panel(
            "Pipeline",
            "Flows received",
            "short",
            "sum(rate(netobserv_ingest_flows_processed[2m]))",
            "flows/s",
        ),
        panel(
            "Pipeline",
            "Records written",
            "short",
            "sum(rate(netobserv_records_written[2m])) by (stage)",
            "{{stage}}",
        ),
        panel(
            "Pipeline",
            "Ingest errors",
            "short",
            "sum(rate(netobserv_ingest_errors[2m])) by (stage, type)",
            "{{stage}} {{type}}",
        ),
        panel(
            "Pipeline",
            "Metrics dropped",
            "short",
            "sum(rate(netobserv_metrics_dropped[2m]))",
            "dropped/s",
        ),
    ];
    if super::agent::metrics_enabled(inputs.spec()) {
        out.extend([
            panel(
                "Agent",
                "Evicted flows",
                "short",
                "sum(rate(netobserv_agent_evicted_flows_total[2m])) by (source)",
                "{{source}}",
            ),
            panel(
                "Agent",
                "Lost flows",
                "short",
                "sum(rate(netobserv_agent_dropped_flows_total[2m])) by (source, reason)",
                "{{source}} {{reason}}",
            ),
            panel(
                "Agent",
                "Errors",
                "short",
                "sum(rate(netobserv_agent_errors_total[2m])) by (component, error)",
                "{{component}} {{error}}",
            ),
        ]);
    }
    out
}

/// A Grafana dashboard document: a datasource variable, one row per section, panels two per
/// line.
fn dashboard(title: &str, uid: &str, panels: &[Panel]) -> Value {
    let mut items = Vec::new();
    let mut y = 0;
    let mut sections: Vec<&str> = Vec::new();
    for p in panels {
        if !sections.contains(&p.section.as_str()) {
            sections.push(&p.section);
        }
    }
    let mut id = 1;
    for section in sections {
        items.push(json!({
            "type": "row", "id": id, "title": section, "collapsed": false,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
        }));
        id += 1;
        y += 1;
        for (i, p) in panels.iter().filter(|p| p.section == section).enumerate() {
            let x = if i % 2 == 0 { 0 } else { 12 };
            items.push(panel_json(p, id, x, y));
            id += 1;
            if i % 2 == 1 {
                y += 8;
            }
        }
        y += 8;
    }
    json!({
        "title": title,
        "uid": uid,
        "tags": ["netobserv"],
        "editable": true,
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "1m",
        "templating": {"list": [{
            "name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {},
        }]},
        "panels": items,
    })
}

fn panel_json(p: &Panel, id: usize, x: u32, y: u32) -> Value {
    let targets: Vec<Value> = p
        .queries
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            json!({
                "refId": char::from(b'A' + (i % 26) as u8).to_string(),
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
            })
        })
        .collect();
    let (kind, custom) = match p.kind {
        ChartType::SingleStat => ("stat", json!({})),
        ChartType::Line => ("timeseries", json!({"fillOpacity": 10})),
        ChartType::StackArea => (
            "timeseries",
            json!({"fillOpacity": 40, "stacking": {"mode": "normal"}}),
        ),
    };
    json!({
        "type": kind,
        "id": id,
        "title": p.title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": p.unit, "custom": custom}, "overrides": []},
        "targets": targets,
    })
}
