//! `metrics` on a cluster with the Prometheus Operator and the OpenShift console: a Service in
//! front of the agents' metrics port, a ServiceMonitor so the cluster's Prometheus scrapes
//! them, and the "NetObserv / On Demand" dashboard (a ConfigMap the console picks up from
//! `openshift-config-managed`), as upstream's CLI deploys for `oc netobserv metrics`.
//! Rendered only where the cluster has them ([`Monitoring`], detected before deploying).

use super::{Capture, Plan};
use crate::metrics::flp::{METRICS_PORT, PREFIX};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServicePort, ServiceSpec};
use netobserv_operator::render::meta;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Where the console reads dashboards from.
pub const DASHBOARD_NAMESPACE: &str = "openshift-config-managed";
/// Name of the metrics Service and ServiceMonitor.
pub const METRICS_NAME: &str = "netobserv-cli-metrics";
/// Label that tells the console a ConfigMap is a dashboard.
const DASHBOARD_LABEL: (&str, &str) = ("console.openshift.io/dashboard", "true");

/// What the cluster offers the `metrics` command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Monitoring {
    /// `monitoring.coreos.com/v1` ServiceMonitors are served.
    pub service_monitor: bool,
    /// The console's dashboard namespace exists.
    pub dashboard: bool,
}

/// The dashboard ConfigMap's name for the capture namespace `ns` (one per capture namespace,
/// so that `cleanup` of one capture leaves the others').
pub fn dashboard_name(ns: &str) -> String {
    format!("netobserv-on-demand-{ns}")
}

/// The objects for `plan` (none unless it is a `metrics` capture on such a cluster).
pub fn objects(plan: &Plan) -> Vec<Value> {
    let Capture::Metrics { include, .. } = &plan.capture else {
        return Vec::new();
    };
    let ns = plan.namespace();
    let mut out = Vec::new();
    if plan.monitoring.service_monitor {
        let mut labels = plan.labels();
        labels.insert("app.kubernetes.io/component".into(), METRICS_NAME.into());
        let service = Service {
            metadata: meta(METRICS_NAME, Some(ns), labels.clone()),
            spec: Some(ServiceSpec {
                cluster_ip: Some("None".into()),
                selector: Some(BTreeMap::from([(
                    super::agent::AGENT_LABEL.0.to_string(),
                    super::agent::AGENT_LABEL.1.to_string(),
                )])),
                ports: Some(vec![ServicePort {
                    name: Some("metrics".into()),
                    port: i32::from(METRICS_PORT),
                    protocol: Some("TCP".into()),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        };
        out.push(serde_json::to_value(&service).unwrap_or_default());
        out.push(json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": METRICS_NAME, "namespace": ns, "labels": plan.labels()},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/component": METRICS_NAME}},
                "namespaceSelector": {"matchNames": [ns]},
                "endpoints": [{"port": "metrics", "interval": "15s", "scheme": "http"}],
            },
        }));
    }
    if plan.monitoring.dashboard {
        let mut labels = plan.labels();
        labels.insert(DASHBOARD_LABEL.0.into(), DASHBOARD_LABEL.1.into());
        let names: Vec<String> = include.iter().map(|m| m.as_str().to_string()).collect();
        let map = ConfigMap {
            metadata: meta(&dashboard_name(ns), Some(DASHBOARD_NAMESPACE), labels),
            data: Some(BTreeMap::from([(
                "netobserv-on-demand.json".to_string(),
                dashboard(ns, &names).to_string(),
            )])),
            ..ConfigMap::default()
        };
        out.push(serde_json::to_value(&map).unwrap_or_default());
    }
    out
}

/// The dashboard: per metric, the total rate and the ten busiest label sets.
pub fn dashboard(ns: &str, metrics: &[String]) -> Value {
    let mut panels = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        let series = format!("{PREFIX}{m}{{namespace=\"{ns}\"}}");
        let y = (i * 8) as u64;
        panels.push(json!({
            "id": i * 2 + 1, "type": "graph", "title": format!("{m}: total rate"),
            "gridPos": {"x": 0, "y": y, "w": 12, "h": 8},
            "targets": [{"expr": format!("sum(rate({series}[2m]))"), "legendFormat": "total"}],
        }));
        panels.push(json!({
            "id": i * 2 + 2, "type": "graph", "title": format!("{m}: top 10"),
            "gridPos": {"x": 12, "y": y, "w": 12, "h": 8},
            "targets": [{"expr": format!("topk(10, rate({series}[2m]))")}],
        }));
    }
    json!({
        "title": "NetObserv / On Demand",
        "uid": format!("netobserv-on-demand-{ns}"),
        "tags": ["netobserv", "on-demand"],
        "time": {"from": "now-15m", "to": "now"},
        "refresh": "15s",
        "schemaVersion": 27,
        "panels": panels,
    })
}
