//! Errors and warnings on processor settings: log types, filter queries and the TLS of the
//! processor Service.

use crate::support::{assert_clean, assert_error, assert_no_issue, assert_warning, check};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Errors and warnings: processor log types
// ---------------------------------------------------------------------------------------------

const LOG_TYPES: &str = "spec.processor.logTypes";

#[test]
fn log_types_other_than_flows_without_loki_is_an_error() {
    for log_types in ["Conversations", "EndedConversations", "All"] {
        let report = check(json!({
            "deploymentModel": "Kafka",
            "kafka": {"address": "kafka:9092", "topic": "flows"},
            "loki": {"enable": false},
            "processor": {"logTypes": log_types},
        }));
        assert_error(&report, LOG_TYPES, "needs Loki");
    }
    // Flows without Loki is fine; conversations with Loki too.
    let report = check(json!({"loki": {"enable": false}, "processor": {"logTypes": "Flows"}}));
    assert_no_issue(&report, LOG_TYPES, "needs Loki");
    assert_clean(&report);
    let report = check(
        json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}, "processor": {"logTypes": "Conversations"}}),
    );
    assert_no_issue(&report, LOG_TYPES, "needs Loki");
    assert_clean(&report);
}

#[test]
fn log_types_other_than_flows_with_service_model_is_an_error() {
    for log_types in ["Conversations", "EndedConversations", "All"] {
        let report = check(json!({
            "deploymentModel": "Service",
            "processor": {"logTypes": log_types},
        }));
        assert_error(&report, LOG_TYPES, "Service model");
    }
    for model in ["Direct", "Kafka"] {
        let report = check(json!({
            "deploymentModel": model,
            "kafka": {"address": "kafka:9092", "topic": "flows"},
            "processor": {"logTypes": "Conversations"},
        }));
        assert_no_issue(&report, LOG_TYPES, "Service model");
        assert_clean(&report);
    }
}

#[test]
fn log_types_all_warns_about_resources() {
    let report = check(
        json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}, "processor": {"logTypes": "All"}}),
    );
    assert_warning(&report, LOG_TYPES, "much larger resource footprint");
    assert!(report.errors.is_empty(), "{report:#?}");
    assert_eq!(report.warnings.len(), 1, "{report:#?}");

    for log_types in ["Conversations", "EndedConversations", "Flows"] {
        let report = check(
            json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}, "processor": {"logTypes": log_types}}),
        );
        assert_no_issue(&report, LOG_TYPES, "resource footprint");
        assert_clean(&report);
    }
}

// ---------------------------------------------------------------------------------------------
// Errors: processor filters
// ---------------------------------------------------------------------------------------------

#[test]
fn processor_filter_query_that_does_not_parse_is_an_error() {
    let valid = r#"SrcK8S_Namespace="netobserv" and DstPort>=1024"#;
    for bad in [
        r#"SrcK8S_Namespace="netobserv" and"#,
        "SrcPort > 1.5",
        "'single'",
        "(Proto=6",
    ] {
        let parser_message = flowdsl::parse(bad).unwrap_err().to_string();
        let report = check(json!({"processor": {"filters": [
            {"query": valid},
            {"query": bad, "outputTarget": "Loki"},
        ]}}));
        let path = "spec.processor.filters[1].query";
        assert_error(&report, path, &parser_message);
        assert_error(&report, path, "cannot parse");
        assert_no_issue(&report, "spec.processor.filters[0].query", "");
        assert_eq!(report.errors.len(), 1, "{report:#?}");
    }

    assert!(flowdsl::parse(valid).is_ok());
    let report = check(json!({"processor": {"filters": [{"query": valid, "sampling": 1}]}}));
    assert_no_issue(&report, "spec.processor.filters[0].query", "");
    assert_clean(&report);
}

// ---------------------------------------------------------------------------------------------
// Errors: processor service TLS
// ---------------------------------------------------------------------------------------------

const PROVIDED: &str = "spec.processor.service.providedCertificates";

fn provided_tls(certs: Option<Value>) -> Value {
    let mut service = json!({"tlsType": "Provided"});
    if let Some(certs) = certs {
        service["providedCertificates"] = certs;
    }
    json!({"deploymentModel": "Service", "processor": {"service": service}})
}

fn ca_file() -> Value {
    json!({"type": "configmap", "name": "flp-ca", "file": "ca.crt"})
}

fn server_cert() -> Value {
    json!({"type": "secret", "name": "flp-cert", "certFile": "tls.crt", "certKey": "tls.key"})
}

#[test]
fn service_tls_provided_without_provided_certificates_is_an_error() {
    let report = check(provided_tls(None));
    assert_error(
        &report,
        PROVIDED,
        "required when spec.processor.service.tlsType is Provided",
    );

    let report = check(provided_tls(Some(
        json!({"caFile": ca_file(), "serverCert": server_cert()}),
    )));
    assert_no_issue(&report, PROVIDED, "");
    assert_clean(&report);

    // Other TLS types need no certificates.
    for tls_type in ["Disabled", "Auto", "Auto-mTLS"] {
        let report = check(json!({"processor": {"service": {"tlsType": tls_type}}}));
        assert_no_issue(&report, PROVIDED, "");
        assert_clean(&report);
    }
}

#[test]
fn service_tls_provided_without_ca_file_is_an_error() {
    let report = check(provided_tls(Some(json!({"serverCert": server_cert()}))));
    assert_error(&report, &format!("{PROVIDED}.caFile"), "required when");
    assert_no_issue(&report, &format!("{PROVIDED}.serverCert"), "");
    assert_eq!(report.errors.len(), 1, "{report:#?}");

    let report = check(provided_tls(Some(json!({}))));
    assert_error(&report, &format!("{PROVIDED}.caFile"), "required when");
    assert_error(&report, &format!("{PROVIDED}.serverCert"), "required when");
}

#[test]
fn service_tls_provided_without_server_cert_is_an_error() {
    let report = check(provided_tls(Some(json!({"caFile": ca_file()}))));
    assert_error(&report, &format!("{PROVIDED}.serverCert"), "required when");
    assert_no_issue(&report, &format!("{PROVIDED}.caFile"), "");
    assert_eq!(report.errors.len(), 1, "{report:#?}");

    let report = check(provided_tls(Some(
        json!({"caFile": ca_file(), "serverCert": server_cert(), "clientCert": server_cert()}),
    )));
    assert_clean(&report);
}

#[test]
fn service_tls_is_only_checked_in_service_model() {
    for model in ["Direct", "Kafka"] {
        let mut spec = provided_tls(None);
        spec["deploymentModel"] = json!(model);
        spec["kafka"] = json!({"address": "kafka:9092", "topic": "flows"});
        let report = check(spec);
        assert_no_issue(&report, PROVIDED, "");
        assert!(report.errors.is_empty(), "{model}: {report:#?}");
    }
}
