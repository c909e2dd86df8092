//! Checks of `spec.processor` and of settings that only matter to it: log types vs Loki and the
//! deployment model, filter queries, health rules, TLS and Direct-model scheduling, log levels and
//! the demo Loki.

use super::Report;
use crate::v1beta2::{
    DeploymentModel, FlowCollectorSpec, FlpLogTypes, HealthRuleGroupBy, HealthRuleMode,
    HealthRuleTemplate, LogLevel, LokiMode, ProcessorTlsType,
};

pub(super) fn check(spec: &FlowCollectorSpec, report: &mut Report) {
    check_kafka(spec, report);
    check_scheduling(spec, report);
    check_log_types(spec, report);
    check_filters(spec, report);
    check_health_rules(spec, report);
    check_required_metrics(spec, report);
    check_service_tls(spec, report);
    check_include_lists(spec, report);
    check_log_levels(spec, report);
    check_demo_loki(spec, report);
}

/// The CRD defaults a Kafka address and topic to `""` (as upstream), which the schema accepts:
/// without this check the Kafka model rendered agents with `KAFKA_BROKERS=` and a pipeline
/// consuming from broker `""`. Same for Kafka exporters.
fn check_kafka(spec: &FlowCollectorSpec, report: &mut Report) {
    let required = |report: &mut Report,
                    path: String,
                    kafka: &crate::v1beta2::FlowCollectorKafka,
                    why: &str| {
        if kafka.address.trim().is_empty() {
            report.error(
                format!("{path}.address"),
                format!("is required {why}: the Kafka bootstrap server(s), e.g. `kafka-bootstrap.kafka:9092`"),
            );
        }
        if kafka.topic.trim().is_empty() {
            report.error(
                format!("{path}.topic"),
                format!("is required {why}: an existing topic (NetObserv does not create it)"),
            );
        }
    };
    if spec.deployment_model == DeploymentModel::Kafka {
        required(
            report,
            "spec.kafka".into(),
            &spec.kafka,
            "with deploymentModel Kafka",
        );
    }
    for (i, exporter) in spec.exporters.iter().enumerate() {
        if exporter.kind != crate::v1beta2::ExporterType::Kafka {
            continue;
        }
        match &exporter.kafka {
            Some(kafka) => required(
                report,
                format!("spec.exporters[{i}].kafka"),
                kafka,
                "for a Kafka exporter",
            ),
            None => report.error(
                format!("spec.exporters[{i}].kafka"),
                "is required for an exporter of type Kafka",
            ),
        }
    }
}

/// In Direct mode each agent sends to the processor on its own node, so both must land on the same
/// nodes.
fn check_scheduling(spec: &FlowCollectorSpec, report: &mut Report) {
    if spec.deployment_model != DeploymentModel::Direct {
        return;
    }
    let agent = spec
        .agent
        .ebpf
        .advanced
        .as_ref()
        .and_then(|a| a.scheduling.as_ref());
    let processor = spec
        .processor
        .advanced
        .as_ref()
        .and_then(|a| a.scheduling.as_ref());
    if agent != processor {
        report.warn(
            "spec.processor.advanced.scheduling",
            "differs from spec.agent.ebpf.advanced.scheduling: in Direct mode an agent on a node without a processor cannot deliver its flows",
        );
    }
}

fn check_log_types(spec: &FlowCollectorSpec, report: &mut Report) {
    let log_types = spec.processor.log_types;
    if log_types == FlpLogTypes::Flows {
        return;
    }
    let path = "spec.processor.logTypes";
    if log_types == FlpLogTypes::All {
        report.warn(
            path,
            "All stores every flow and every conversation event: expect a much larger resource footprint",
        );
    }
    if !spec.loki.enable {
        report.error(
            path,
            "conversation tracking needs Loki (spec.loki.enable): without it the extra processing has no output",
        );
    }
    if spec.deployment_model == DeploymentModel::Service {
        report.error(
            path,
            "conversation tracking needs all flows of a connection on one processor, which the Service model cannot ensure: use Flows, or the Direct or Kafka model",
        );
    }
}

fn check_filters(spec: &FlowCollectorSpec, report: &mut Report) {
    for (i, filter) in spec.processor.filters.iter().enumerate() {
        if let Err(err) = flowdsl::parse(&filter.query) {
            report.error(
                format!("spec.processor.filters[{i}].query"),
                format!("cannot parse `{}`: {err}", filter.query),
            );
        }
    }
}

/// Which groupings each template can compute.
fn group_by_supported(template: HealthRuleTemplate, group_by: HealthRuleGroupBy) -> bool {
    use HealthRuleGroupBy as G;
    use HealthRuleTemplate as T;
    match template {
        T::PacketDropsByDevice => group_by != G::Workload,
        T::IpsecErrors => !matches!(group_by, G::Workload | G::Namespace),
        T::Ingress5xxErrors | T::IngressHttpLatencyTrend => {
            !matches!(group_by, G::Node | G::Workload)
        }
        _ => true,
    }
}

fn check_health_rules(spec: &FlowCollectorSpec, report: &mut Report) {
    let Some(rules) = &spec.processor.metrics.health_rules else {
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = format!("spec.processor.metrics.healthRules[{i}]");
        if let Some(feature) = rule.template.required_feature()
            && !spec.agent.ebpf.features.contains(&feature)
        {
            report.warn(
                &rule_path,
                format!(
                    "health rule {} needs the {} agent feature, which is off: the rule is skipped",
                    rule.template.as_str(),
                    super::cluster::feature_name(feature)
                ),
            );
        }
        if rule.mode == HealthRuleMode::Recording && rule.template.is_alert_only() {
            report.error(
                format!("{rule_path}.mode"),
                format!(
                    "{} is an alert-only template: it has no Recording mode",
                    rule.template.as_str()
                ),
            );
        }
        for (j, variant) in rule.variants.iter().enumerate() {
            let path = format!("{rule_path}.variants[{j}]");
            let group_by = variant.group_by;
            if !group_by_supported(rule.template, group_by) {
                report.error(
                    format!("{path}.groupBy"),
                    format!(
                        "health rule {} cannot be grouped by {}",
                        rule.template.as_str(),
                        group_by.name()
                    ),
                );
            }
            let t = &variant.thresholds;
            let levels = [
                ("critical", &t.critical),
                ("warning", &t.warning),
                ("info", &t.info),
            ];
            if levels.iter().all(|(_, v)| v.is_empty()) {
                report.error(
                    format!("{path}.thresholds"),
                    "set at least one of critical, warning or info",
                );
            }
            // Severities must not increase in threshold as they decrease in importance.
            let mut higher: Option<(&str, f64)> = None;
            for (level, raw) in levels {
                if raw.is_empty() {
                    continue;
                }
                let field = format!("{path}.thresholds.{level}");
                match raw.trim().parse::<f64>() {
                    Err(_) => report.error(field, format!("`{raw}` is not a number")),
                    Ok(v) if !v.is_finite() || v < 0.0 => {
                        report.error(field, format!("`{raw}` must be a positive number"))
                    }
                    Ok(v) => {
                        if let Some((above, limit)) = higher
                            && v > limit
                        {
                            report.error(
                                field,
                                format!("{level} threshold {raw} is above the {above} threshold {limit}: a less severe level must fire first"),
                            );
                        }
                        higher = Some((level, v));
                    }
                }
            }
            if !variant.low_volume_threshold.is_empty()
                && variant
                    .low_volume_threshold
                    .trim()
                    .parse::<f64>()
                    .map_or(true, |v| !v.is_finite() || v < 0.0)
            {
                report.error(
                    format!("{path}.lowVolumeThreshold"),
                    format!(
                        "`{}` is not a positive number",
                        variant.low_volume_threshold
                    ),
                );
            }
            if variant.mode == Some(HealthRuleMode::Recording) && rule.template.is_alert_only() {
                report.error(
                    format!("{path}.mode"),
                    format!(
                        "{} is an alert-only template: it has no Recording mode",
                        rule.template.as_str()
                    ),
                );
            }
        }
    }
}

/// Every health rule that will be installed needs its metrics in the effective include list.
fn check_required_metrics(spec: &FlowCollectorSpec, report: &mut Report) {
    let included = spec.effective_include_list();
    for rule in spec.effective_health_rules() {
        for variant in &rule.variants {
            let group_by = variant.group_by;
            for any_of in rule.template.required_metrics(group_by) {
                if !any_of.iter().any(|m| included.contains(m)) {
                    let names: Vec<String> =
                        any_of.iter().map(|m| m.as_str().to_string()).collect();
                    report.warn(
                        "spec.processor.metrics.includeList",
                        format!(
                            "health rule {}/{} needs at least one of these metrics: {}",
                            rule.template.as_str(),
                            group_by.name(),
                            names.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

fn check_service_tls(spec: &FlowCollectorSpec, report: &mut Report) {
    let Some(service) = &spec.processor.service else {
        return;
    };
    if spec.deployment_model != DeploymentModel::Service
        || service.tls_type != ProcessorTlsType::Provided
    {
        return;
    }
    let base = "spec.processor.service.providedCertificates";
    match &service.provided_certificates {
        None => report.error(
            base,
            "required when spec.processor.service.tlsType is Provided",
        ),
        Some(certs) => {
            if certs.ca_file.is_none() {
                report.error(
                    format!("{base}.caFile"),
                    "required when spec.processor.service.tlsType is Provided: the agents need it to trust the processor",
                );
            }
            if certs.server_cert.is_none() {
                report.error(
                    format!("{base}.serverCert"),
                    "required when spec.processor.service.tlsType is Provided: the processor needs it to serve TLS",
                );
            }
        }
    }
}

fn check_include_lists(spec: &FlowCollectorSpec, report: &mut Report) {
    let metrics = &spec.processor.metrics;
    if metrics.include_list.is_some() && metrics.additional_include_list.is_some() {
        report.warn(
            "spec.processor.metrics.additionalIncludeList",
            "ignored because spec.processor.metrics.includeList is set: put the extra metrics in includeList",
        );
    }
}

fn check_log_levels(spec: &FlowCollectorSpec, report: &mut Report) {
    for (path, level, what) in [
        (
            "spec.agent.ebpf.logLevel",
            spec.agent.ebpf.log_level,
            "eBPF agent",
        ),
        (
            "spec.processor.logLevel",
            spec.processor.log_level,
            "processor",
        ),
    ] {
        if matches!(level, LogLevel::Debug | LogLevel::Trace) {
            report.warn(
                path,
                format!("the {what} logs at {level:?} level, which costs CPU and memory; use info in production").replace("Debug", "debug").replace("Trace", "trace"),
            );
        }
    }
}

fn check_demo_loki(spec: &FlowCollectorSpec, report: &mut Report) {
    if spec.loki.enable
        && spec.loki.mode == LokiMode::Monolithic
        && spec.loki.monolithic.install_demo_loki
    {
        report.warn(
            "spec.loki.monolithic.installDemoLoki",
            "the demo Loki has no persistence or scaling: use it for trials, not production",
        );
    }
}
