//! Monitoring objects: the expose-metrics RoleBindings, and — only when the Prometheus Operator
//! APIs exist — ServiceMonitors and PrometheusRules (NetObserv alerts plus the health rules of
//! reference §3.5).

use super::object::dynamic;
use super::{
    API_PROMETHEUS_RULE, API_SERVICE_MONITOR, Inputs, ManagedKind, Object, PART_OF_LABEL,
    PART_OF_VALUE, meta, role_binding, sa_subject, string_map,
};
use netobserv_api::v1beta2::{
    EbpfAgentAlert, FlpHealthRule, FlpMetric, HealthRuleGroupBy, HealthRuleMode,
    HealthRuleTemplate, HealthRuleVariant,
};
use serde_json::{Value, json};

/// Objects of the monitoring integration.
pub fn render(inputs: &Inputs<'_>) -> Vec<Object> {
    let spec = inputs.spec();
    let ns = inputs.ns();
    let pns = inputs.privileged_ns();
    let mut out = Vec::new();
    for target in [ns.to_string(), pns.clone()] {
        out.push(role_binding(
            "netobserv-expose-metrics",
            &target,
            "netobserv-expose-metrics",
            sa_subject("prometheus-k8s", "openshift-monitoring"),
        ));
    }
    let labels = || string_map(&[(PART_OF_LABEL, PART_OF_VALUE)]);
    let agent_metrics = super::agent::metrics_enabled(spec);
    let flp = super::flp::workload_name(spec.deployment_model);
    if inputs.has_api(API_SERVICE_MONITOR) {
        let sm = |name: &str, target_ns: &str, app: &str, port: &str, interval: &str, tls: bool| {
            let mut endpoint = json!({"port": port, "interval": interval, "scheme": if tls {"https"} else {"http"}});
            if tls && let Some(m) = endpoint.as_object_mut() {
                m.insert("tlsConfig".into(), json!({"insecureSkipVerify": true}));
            }
            dynamic(
                ManagedKind::ServiceMonitor,
                meta(name, Some(target_ns), labels()),
                json!({"spec": {
                    "selector": {"matchLabels": {"app": app}},
                    "namespaceSelector": {"matchNames": [target_ns]},
                    "endpoints": [endpoint],
                }}),
            )
        };
        use netobserv_api::v1beta2::ServerTlsType::Disabled;
        if agent_metrics {
            let tls = spec.agent.ebpf.metrics.server.tls.kind != Disabled;
            out.push(sm(
                "ebpf-agent-svc-monitor",
                &pns,
                super::agent::AGENT_NAME,
                "metrics",
                "30s",
                tls,
            ));
        }
        let tls = spec.processor.metrics.server.tls.kind != Disabled;
        out.push(sm(
            &format!("{flp}-monitor"),
            ns,
            flp,
            "prometheus",
            "15s",
            tls,
        ));
        if super::plugin::enabled(inputs) {
            out.push(sm(
                super::plugin::PLUGIN_NAME,
                ns,
                super::plugin::PLUGIN_NAME,
                "metrics",
                "15s",
                false,
            ));
        }
    }
    if inputs.has_api(API_PROMETHEUS_RULE) {
        let alerts_on = !spec
            .agent
            .ebpf
            .metrics
            .disable_alerts
            .contains(&EbpfAgentAlert::NetObservDroppedFlows);
        if agent_metrics && alerts_on {
            out.push(dynamic(
                ManagedKind::PrometheusRule,
                meta("ebpf-agent-prom-alert", Some(&pns), labels()),
                json!({"spec": {"groups": [{"name": "NetobservEBPFAgentAlerts", "rules": [{
                    "alert": "NetObservDroppedFlows",
                    "expr": "sum(rate(netobserv_agent_dropped_flows_total[1m])) > 100",
                    "for": "10m",
                    "labels": {"severity": "warning", "app": "netobserv"},
                    "annotations": {
                        "summary": "NetObserv eBPF agent is dropping flows",
                        "description": "The eBPF agent evicts flows faster than it can export them; consider raising cacheMaxFlows or the resources.",
                    },
                }]}]}}),
            ));
        }
        let rules = flp_rules(inputs);
        if !rules.is_empty() {
            out.push(dynamic(
                ManagedKind::PrometheusRule,
                meta(&format!("{flp}-alert"), Some(ns), labels()),
                json!({"spec": {"groups": [{"name": "NetObservFlowLogsPipeline", "rules": rules}]}}),
            ));
        }
    }
    out
}

fn flp_rules(inputs: &Inputs<'_>) -> Vec<Value> {
    let spec = inputs.spec();
    let disabled = &spec.processor.metrics.disable_alerts;
    let mut rules = Vec::new();
    if !disabled.contains(&HealthRuleTemplate::NetObservNoFlows) {
        rules.push(json!({
            "alert": "NetObservNoFlows",
            "expr": "sum(rate(netobserv_ingest_flows_processed[1m])) == 0",
            "for": "10m",
            "labels": {"severity": "warning", "app": "netobserv"},
            "annotations": {"summary": "NetObserv is not receiving flows", "description": "The pipeline has processed no flow for 10 minutes."},
        }));
    }
    if spec.use_loki() && !disabled.contains(&HealthRuleTemplate::NetObservLokiError) {
        rules.push(json!({
            "alert": "NetObservLokiError",
            "expr": "sum(rate(netobserv_loki_dropped_entries_total[1m])) > 0",
            "for": "10m",
            "labels": {"severity": "warning", "app": "netobserv"},
            "annotations": {"summary": "NetObserv is dropping flows written to Loki", "description": "Loki rejects or does not answer the pipeline's writes."},
        }));
    }
    let include = spec.effective_include_list();
    for rule in spec.effective_health_rules() {
        for variant in &rule.variants {
            rules.extend(health_rule(&rule, variant, &include));
        }
    }
    rules
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Picks the finest-available metric family for a grouping among the generated metrics.
fn family(include: &[FlpMetric], group_by: HealthRuleGroupBy, suffix: &str) -> Option<String> {
    let groups: &[&str] = match group_by {
        HealthRuleGroupBy::Node => &["node"],
        HealthRuleGroupBy::Namespace => &["namespace", "workload"],
        HealthRuleGroupBy::Workload => &["workload"],
        HealthRuleGroupBy::Global => &["namespace", "workload", "node"],
    };
    groups.iter().find_map(|g| {
        let name = format!("{g}_{suffix}");
        include
            .iter()
            .any(|m| m.as_str() == name)
            .then(|| format!("netobserv_{name}"))
    })
}

fn by_clause(group_by: HealthRuleGroupBy, side: &str) -> String {
    match group_by {
        HealthRuleGroupBy::Global => String::new(),
        HealthRuleGroupBy::Node => format!(" by ({side}K8S_HostName)"),
        HealthRuleGroupBy::Namespace => format!(" by ({side}K8S_Namespace)"),
        HealthRuleGroupBy::Workload => {
            format!(" by ({side}K8S_Namespace, {side}K8S_OwnerName, {side}K8S_OwnerType)")
        }
    }
}

/// PromQL of a rule's percentage, or None when the metrics it needs are not generated.
fn ratio_expr(
    template: HealthRuleTemplate,
    v: &HealthRuleVariant,
    include: &[FlpMetric],
) -> Option<String> {
    let g = v.group_by;
    let by = by_clause(g, "Dst");
    let sum = |m: &str, sel: &str, window: &str| format!("sum(rate({m}{sel}[{window}])){by}");
    let offset = v.trend_offset.clone().unwrap_or_else(|| "24h".to_string());
    let duration = v.trend_duration.clone().unwrap_or_else(|| "1h".to_string());
    let trend = |m: &str, sel: &str| {
        format!(
            "100 * (sum(rate({m}{sel}[{duration}])){by} / sum(rate({m}{sel}[{duration}] offset {offset})){by} - 1)"
        )
    };
    Some(match template {
        HealthRuleTemplate::PacketDropsByKernel => {
            let drops = family(include, g, "drop_packets_total")?;
            let total = family(include, g, "ingress_packets_total")?;
            format!(
                "100 * {} / {}",
                sum(&drops, "", "2m"),
                sum(&total, "", "2m")
            )
        }
        HealthRuleTemplate::PacketDropsByDevice => "100 * sum(rate(node_network_receive_drop_total[2m])) by (instance) / sum(rate(node_network_receive_packets_total[2m])) by (instance)".to_string(),
        HealthRuleTemplate::IpsecErrors => {
            let errs = family(include, HealthRuleGroupBy::Node, "ipsec_flows_total")?;
            let total = "netobserv_node_to_node_ingress_flows_total";
            include
                .contains(&FlpMetric::NodeToNodeIngressFlowsTotal)
                .then_some(())?;
            format!(
                "100 * {} / {}",
                sum(&errs, "{IPSecStatus=\"error\"}", "2m"),
                sum(total, "", "2m")
            )
        }
        HealthRuleTemplate::DnsErrors | HealthRuleTemplate::DnsNxDomain => {
            let m = format!("{}_count", family(include, g, "dns_latency_seconds")?);
            let sel = if template == HealthRuleTemplate::DnsErrors {
                "{DnsFlagsResponseCode!=\"NoError\"}"
            } else {
                "{DnsFlagsResponseCode=\"NXDomain\"}"
            };
            format!("100 * {} / {}", sum(&m, sel, "2m"), sum(&m, "", "2m"))
        }
        HealthRuleTemplate::NetpolDenied => {
            let ev = family(include, g, "network_policy_events_total")?;
            let flows = family(include, g, "flows_total")?;
            format!(
                "100 * {} / {}",
                sum(&ev, "{action=\"drop\"}", "2m"),
                sum(&flows, "", "2m")
            )
        }
        HealthRuleTemplate::LatencyHighTrend => {
            let m = format!("{}_sum", family(include, g, "rtt_seconds")?);
            trend(&m, "")
        }
        HealthRuleTemplate::ExternalEgressHighTrend => {
            let m = family(include, g, "egress_bytes_total")?;
            trend(&m, "{DstSubnetLabel=~\"|EXT:.*\"}")
        }
        HealthRuleTemplate::ExternalIngressHighTrend => {
            let m = family(include, g, "ingress_bytes_total")?;
            trend(&m, "{SrcSubnetLabel=~\"|EXT:.*\"}")
        }
        HealthRuleTemplate::Ingress5xxErrors => "100 * sum(rate(haproxy_server_http_responses_total{code=\"5xx\"}[2m])) by (exported_namespace) / sum(rate(haproxy_server_http_responses_total[2m])) by (exported_namespace)".to_string(),
        HealthRuleTemplate::IngressHttpLatencyTrend => format!(
            "100 * (avg(haproxy_server_http_average_response_latency_milliseconds) by (exported_namespace) / avg(haproxy_server_http_average_response_latency_milliseconds offset {offset}) by (exported_namespace) - 1)"
        ),
        HealthRuleTemplate::NetObservNoFlows | HealthRuleTemplate::NetObservLokiError => {
            return None;
        }
    })
}

fn health_rule(rule: &FlpHealthRule, v: &HealthRuleVariant, include: &[FlpMetric]) -> Vec<Value> {
    let Some(expr) = ratio_expr(rule.template, v, include) else {
        return Vec::new();
    };
    let mode = v.mode.unwrap_or(rule.mode);
    let group = v.group_by.name();
    let meta = json!({
        "template": rule.template.as_str(),
        "groupBy": group,
        "thresholds": v.thresholds,
        "lowVolumeThreshold": v.low_volume_threshold,
    });
    match mode {
        HealthRuleMode::Recording => vec![json!({
            "record": format!("netobserv:health:{}:{}:rate2m", snake(rule.template.as_str()), group.to_ascii_lowercase()),
            "expr": expr,
            "labels": {"netobserv": "true", "netobserv_io_network_health": meta.to_string()},
        })],
        HealthRuleMode::Alert => [
            ("critical", &v.thresholds.critical),
            ("warning", &v.thresholds.warning),
            ("info", &v.thresholds.info),
        ]
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(severity, threshold)| {
            json!({
                "alert": format!("{}_{}", rule.template.as_str(), group),
                "expr": format!("({expr}) > {threshold}"),
                "for": "5m",
                "labels": {"severity": severity, "app": "netobserv", "netobserv": "true"},
                "annotations": {
                    "summary": format!("{} above {threshold}% ({group})", rule.template.as_str()),
                    "netobserv_io_network_health": meta.to_string(),
                },
            })
        })
        .collect(),
    }
}
