//! Warnings about how the deployment runs: pod placement in the `Direct` model, verbose log
//! levels and the demo Loki.

use crate::support::{assert_clean, assert_no_issue, assert_warning, check};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

#[test]
fn direct_model_with_different_agent_and_processor_scheduling_warns() {
    let path = "spec.processor.advanced.scheduling";
    let infra = json!({"nodeSelector": {"node-role.kubernetes.io/infra": ""}});
    let worker = json!({"nodeSelector": {"node-role.kubernetes.io/worker": ""}});
    let spec = |model: &str, agent: Option<&Value>, processor: Option<&Value>| {
        let mut spec =
            json!({"deploymentModel": model, "kafka": {"address": "kafka:9092", "topic": "flows"}});
        if let Some(agent) = agent {
            spec["agent"] = json!({"ebpf": {"advanced": {"scheduling": agent}}});
        }
        if let Some(processor) = processor {
            spec["processor"] = json!({"advanced": {"scheduling": processor}});
        }
        spec
    };

    for (agent, processor) in [
        (Some(&infra), Some(&worker)),
        (Some(&infra), None),
        (None, Some(&worker)),
    ] {
        let report = check(spec("Direct", agent, processor));
        assert_warning(
            &report,
            path,
            "differs from spec.agent.ebpf.advanced.scheduling",
        );
        assert!(report.errors.is_empty(), "{report:#?}");
    }

    for (agent, processor) in [(Some(&infra), Some(&infra)), (None, None)] {
        let report = check(spec("Direct", agent, processor));
        assert_no_issue(&report, path, "");
        assert_clean(&report);
    }
    // Only Direct ties agents to processors.
    for model in ["Service", "Kafka"] {
        let report = check(spec(model, Some(&infra), Some(&worker)));
        assert_no_issue(&report, path, "");
        assert_clean(&report);
    }
}

#[test]
fn debug_or_trace_log_levels_warn() {
    for level in ["debug", "trace"] {
        let report = check(json!({"agent": {"ebpf": {"logLevel": level}}}));
        assert_warning(
            &report,
            "spec.agent.ebpf.logLevel",
            &format!("the eBPF agent logs at {level} level"),
        );
        assert!(report.errors.is_empty(), "{report:#?}");
        assert_eq!(report.warnings.len(), 1, "{report:#?}");

        let report = check(json!({"processor": {"logLevel": level}}));
        assert_warning(
            &report,
            "spec.processor.logLevel",
            &format!("the processor logs at {level} level"),
        );
        assert_eq!(report.warnings.len(), 1, "{report:#?}");
    }
    for level in ["info", "warn", "error", "fatal", "panic"] {
        let report = check(json!({
            "agent": {"ebpf": {"logLevel": level}},
            "processor": {"logLevel": level},
        }));
        assert_no_issue(&report, "spec.agent.ebpf.logLevel", "");
        assert_no_issue(&report, "spec.processor.logLevel", "");
        assert_clean(&report);
    }
}

#[test]
fn install_demo_loki_warns() {
    let path = "spec.loki.monolithic.installDemoLoki";
    let report =
        check(json!({"loki": {"mode": "Monolithic", "monolithic": {"installDemoLoki": true}}}));
    assert_warning(&report, path, "no persistence");
    assert!(report.errors.is_empty(), "{report:#?}");

    for spec in [
        json!({"loki": {"mode": "Monolithic", "monolithic": {"installDemoLoki": false}}}),
        // Not used when Loki is off or in another mode.
        json!({"loki": {"enable": false, "monolithic": {"installDemoLoki": true}}}),
        json!({"loki": {"mode": "LokiStack", "monolithic": {"installDemoLoki": true}}}),
    ] {
        let report = check(spec);
        assert_no_issue(&report, path, "");
        assert_clean(&report);
    }
}
