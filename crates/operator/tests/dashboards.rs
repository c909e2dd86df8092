//! Grafana dashboards the operator renders: where they go on each platform, which panels the
//! FlowCollector's features and FlowMetrics produce, that every PromQL expression parses (checked
//! by Prometheus's own `promtool check rules`, installed by `make test`), and that every metric a
//! flow dashboard queries is one the pipeline is configured to expose.

use netobserv_api::v1alpha1::FlowMetric;
use netobserv_api::v1beta2::{AgentFeature, FlowCollector};
use netobserv_api::validate::{ClusterFacts, OpenShiftVersion, Platform};
use netobserv_operator::Images;
use netobserv_operator::render::{self, API_SCC, API_SERVICE_MONITOR, Object};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn facts(openshift: bool, service_monitor: bool) -> ClusterFacts {
    let mut apis = Vec::new();
    if service_monitor {
        apis.push(API_SERVICE_MONITOR);
    }
    if openshift {
        apis.push(API_SCC);
    }
    ClusterFacts {
        platform: if openshift {
            Platform::OpenShift(Some(OpenShiftVersion::new(4, 20, 0)))
        } else {
            Platform::Kubernetes
        },
        node_count: Some(3),
        cni: None,
        available_apis: apis.into_iter().map(str::to_string).collect(),
    }
}

fn flow_metric() -> FlowMetric {
    serde_json::from_value(json!({
        "apiVersion": "flows.netobserv.io/v1alpha1", "kind": "FlowMetric",
        "metadata": {"name": "tcp-resets", "namespace": "netobserv"},
        "spec": {
            "type": "Counter", "labels": ["SrcK8S_Namespace"],
            "charts": [{
                "dashboardName": "My Team", "sectionName": "TCP", "title": "Resets",
                "unit": "pps", "type": "StackArea",
                "queries": [{"promQL": "sum(rate($METRIC[2m])) by (SrcK8S_Namespace)",
                             "legend": "{{SrcK8S_Namespace}}", "top": 5}],
            }],
        },
    }))
    .expect("FlowMetric parses")
}

/// Dashboard ConfigMaps: (namespace, name, labels, parsed dashboard).
fn dashboards(
    fc: &FlowCollector,
    facts: &ClusterFacts,
    fms: &[FlowMetric],
) -> Vec<(String, String, Value, Value)> {
    let objects = render::render(fc, facts, &Images::for_tests(), fms).expect("renders");
    objects
        .into_iter()
        .filter_map(|o| match o {
            Object::ConfigMap(cm) => {
                let labels = serde_json::to_value(&cm.metadata.labels).expect("labels");
                let data = cm.data.unwrap_or_default();
                let (key, text) = data.into_iter().next()?;
                if !key.ends_with("-metrics.json") {
                    return None;
                }
                let doc: Value = serde_json::from_str(&text).expect("dashboard is JSON");
                Some((cm.metadata.namespace?, cm.metadata.name?, labels, doc))
            }
            _ => None,
        })
        .collect()
}

fn exprs(doc: &Value) -> Vec<String> {
    doc["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect()
}

fn titles(doc: &Value) -> Vec<String> {
    doc["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["type"] != "row")
        .filter_map(|p| p["title"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn dashboards_go_where_each_platform_reads_them() {
    let fc = FlowCollector::new("cluster", Default::default());
    let os = dashboards(&fc, &facts(true, true), &[]);
    let names: Vec<&str> = os.iter().map(|d| d.1.as_str()).collect();
    assert_eq!(
        names,
        ["netobserv-main", "grafana-dashboard-netobserv-health"]
    );
    for (ns, _, labels, _) in &os {
        assert_eq!(ns, "openshift-config-managed");
        assert_eq!(labels["console.openshift.io/dashboard"], "true");
        assert_eq!(labels["netobserv-managed"], "true");
    }
    let k8s = dashboards(&fc, &facts(false, true), &[]);
    assert_eq!(k8s.len(), 2);
    for (ns, _, labels, _) in &k8s {
        assert_eq!(ns, "netobserv");
        assert_eq!(labels["grafana_dashboard"], "1");
    }
    assert!(
        dashboards(&fc, &facts(false, false), &[]).is_empty(),
        "no Prometheus Operator: no dashboards"
    );
}

#[test]
fn features_and_flowmetrics_add_panels() {
    let mut fc = FlowCollector::new("cluster", Default::default());
    let base = dashboards(&fc, &facts(false, true), &[]);
    let main = &base[0].3;
    assert!(
        titles(main)
            .iter()
            .any(|t| t == "Top node ingress byte rates"),
        "{:?}",
        titles(main)
    );
    assert!(!titles(main).iter().any(|t| t.contains("DNS")));

    fc.spec.agent.ebpf.features = vec![AgentFeature::DnsTracking, AgentFeature::PacketDrop];
    let with = dashboards(&fc, &facts(false, true), &[flow_metric()]);
    let names: Vec<&str> = with.iter().map(|d| d.1.as_str()).collect();
    assert_eq!(
        names,
        [
            "netobserv-main",
            "netobserv-my-team",
            "grafana-dashboard-netobserv-health"
        ]
    );
    let main = titles(&with[0].3);
    assert!(
        main.iter().any(|t| t.starts_with("P99 DNS latency")),
        "{main:?}"
    );
    assert!(
        main.iter()
            .any(|t| t.starts_with("Dropped packets by cause")),
        "{main:?}"
    );
    let team = &with[1].3;
    assert_eq!(team["title"], "NetObserv / My Team");
    assert_eq!(
        exprs(team),
        ["topk(5, sum(rate(netobserv_tcp_resets[2m])) by (SrcK8S_Namespace))"]
    );
    let panel = &team["panels"][1];
    assert_eq!(panel["fieldConfig"]["defaults"]["unit"], "pps");
    assert_eq!(
        panel["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"],
        "normal"
    );
}

#[test]
fn every_expression_parses_with_promtool() {
    let mut fc = FlowCollector::new("cluster", Default::default());
    fc.spec.agent.ebpf.features = vec![
        AgentFeature::DnsTracking,
        AgentFeature::PacketDrop,
        AgentFeature::FlowRtt,
        AgentFeature::NetworkEvents,
    ];
    let all: Vec<String> = dashboards(&fc, &facts(true, true), &[flow_metric()])
        .iter()
        .flat_map(|d| exprs(&d.3))
        .collect();
    assert!(all.len() > 15, "{} expressions", all.len());
    let rules: Vec<Value> = all
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"record": format!("netobserv:dashboard_check_{i}"), "expr": e}))
        .collect();
    let doc = json!({"groups": [{"name": "dashboards", "rules": rules}]});
    let dir = std::env::temp_dir().join(format!("netobserv-dash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("rules.yaml");
    std::fs::write(&file, serde_yaml::to_string(&doc).expect("yaml")).expect("write");
    let out = std::process::Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .expect("promtool runs (installed with prometheus by make test)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "promtool refused an expression:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn flow_dashboards_query_only_metrics_the_pipeline_exposes() {
    let mut fc = FlowCollector::new("cluster", Default::default());
    fc.spec.agent.ebpf.features = vec![
        AgentFeature::DnsTracking,
        AgentFeature::FlowRtt,
        AgentFeature::PacketDrop,
    ];
    let fms = [flow_metric()];
    let images = Images::for_tests();
    let facts = facts(false, true);
    let copies = Default::default();
    let inputs = render::Inputs {
        fc: &fc,
        facts: &facts,
        images: &images,
        flow_metrics: &fms,
        copies: &copies,
    };
    let exposed: BTreeSet<String> = render::metrics::definitions(&inputs)
        .iter()
        .filter_map(|d| d["name"].as_str().map(|n| format!("netobserv_{n}")))
        .collect();
    let re = regex::Regex::new(r"netobserv_[a-z0-9_]+").expect("regex");
    for (_, name, _, doc) in dashboards(&fc, &facts, &fms) {
        if name.contains("health") {
            continue;
        }
        for e in exprs(&doc) {
            for m in re.find_iter(&e) {
                let metric = m
                    .as_str()
                    .trim_end_matches("_bucket")
                    .trim_end_matches("_count");
                assert!(
                    exposed.contains(metric),
                    "{name}: {e} queries {metric}, not exposed"
                );
            }
        }
    }
}
