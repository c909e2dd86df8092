//! Checks on the generated CRDs themselves: the committed YAML is what the code generates, the
//! API server's view (printer columns, CEL rule, name rule, served/stored versions) matches the
//! reference, and the OpenAPI schema rejects the bad input the API server would reject.
//!
//! No kube-apiserver can run here, so "rejected by the API server" is tested by validating objects
//! against the generated `openAPIV3Schema` with a JSON-schema validator: the same keywords
//! (`type`, `enum`, `minimum`, `pattern`, `required`, `maxItems`) the API server enforces.

use netobserv_api::crd;
use serde_json::{Value, json};
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crd_json() -> Value {
    serde_json::to_value(crd::flowcollector_crd().expect("generates")).expect("json")
}

#[test]
fn committed_crd_yaml_is_up_to_date() {
    for (path, generated) in [
        (
            crd::FLOWCOLLECTOR_CRD_PATH,
            crd::to_yaml(&crd::flowcollector_crd().expect("generates")).expect("yaml"),
        ),
        (
            crd::FLOWMETRIC_CRD_PATH,
            crd::to_yaml(&crd::flowmetric_crd().expect("generates")).expect("yaml"),
        ),
    ] {
        let committed = std::fs::read_to_string(repo_root().join(path))
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}; run `make manifests`"));
        assert!(
            committed == generated,
            "{path} differs from what the Rust types generate: run `make manifests` and commit"
        );
    }
}

/// What kube-apiserver checks when the CRD is created: a structural schema in every version and
/// every `default` pruned and valid against its own sub-schema, as written (the nested defaults
/// are not applied first). A real v1.32 server refused this CRD with 12 such errors once; the
/// checks live in the fake API server the operator tests use, so both refuse the same things.
#[test]
fn crds_are_accepted_by_a_strict_api_server() {
    for (name, crd) in [
        (
            "FlowCollector",
            crd::flowcollector_crd().expect("generates"),
        ),
        ("FlowMetric", crd::flowmetric_crd().expect("generates")),
    ] {
        let value = serde_json::to_value(&crd).expect("json");
        let errors = netobserv_fake_apiserver::structural::check_crd(&value);
        assert!(
            errors.is_empty(),
            "the {name} CRD would be refused ({} errors):\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
}

#[test]
fn versions_v1beta2_stored_v1beta1_served() {
    let crd = crd_json();
    let versions = crd["spec"]["versions"].as_array().expect("versions");
    let find = |name: &str| {
        versions
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no version {name}"))
    };
    assert_eq!(find("v1beta2")["storage"], json!(true));
    assert_eq!(find("v1beta2")["served"], json!(true));
    assert_eq!(find("v1beta1")["storage"], json!(false));
    assert_eq!(find("v1beta1")["served"], json!(true));
    assert_eq!(crd["spec"]["scope"], json!("Cluster"));
    assert_eq!(crd["spec"]["names"]["plural"], json!("flowcollectors"));
    assert_eq!(crd["spec"]["names"]["listKind"], json!("FlowCollectorList"));
    assert_eq!(find("v1beta2")["subresources"]["status"], json!({}));
}

#[test]
fn printer_columns_match_the_reference() {
    let crd = crd_json();
    let v1beta2 = crd["spec"]["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .find(|v| v["name"] == "v1beta2")
        .expect("v1beta2")
        .clone();
    let columns: Vec<(String, String)> = v1beta2["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_string(),
                c["jsonPath"].as_str().expect("path").to_string(),
            )
        })
        .collect();
    let expected = [
        ("Agent", ".status.components.agent.state"),
        ("Processor", ".status.components.processor.state"),
        ("Plugin", ".status.components.plugin.state"),
        ("Sampling", ".spec.agent.ebpf.sampling"),
        ("Deployment Model", ".spec.deploymentModel"),
        ("Status", ".status.conditions[?(@.type==\"Ready\")].reason"),
        (
            "Warnings",
            ".status.conditions[?(@.type==\"ConfigurationIssue\")].message",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, p)| (n.to_string(), p.to_string()))
        .collect();
    assert_eq!(columns, expected);
}

#[test]
fn namespace_is_immutable_and_name_must_be_cluster() {
    let crd = crd::flowcollector_crd().expect("generates");
    for version in ["v1beta2", "v1beta1"] {
        let schema = crd::version_schema(&crd, version).expect("schema");
        let rules =
            &schema["properties"]["spec"]["properties"]["namespace"]["x-kubernetes-validations"];
        assert_eq!(rules[0]["rule"], json!("self == oldSelf"), "{version}");
        assert!(rules[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(
            schema["properties"]["metadata"]["properties"]["name"]["pattern"],
            json!("^cluster$"),
            "{version}"
        );
    }
}

fn v1beta2_validator() -> jsonschema::Validator {
    let crd = crd::flowcollector_crd().expect("generates");
    let schema = crd::version_schema(&crd, "v1beta2").expect("schema");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .expect("schema compiles")
}

fn object(spec: Value) -> Value {
    json!({
        "apiVersion": "flows.netobserv.io/v1beta2",
        "kind": "FlowCollector",
        "metadata": {"name": "cluster"},
        "spec": spec,
    })
}

fn errors(validator: &jsonschema::Validator, obj: &Value) -> Vec<String> {
    validator
        .iter_errors(obj)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn schema_accepts_valid_objects() {
    let validator = v1beta2_validator();
    for spec in [
        json!({}),
        json!({"deploymentModel": "Kafka", "kafka": {"address": "kafka:9092", "topic": "flows"}}),
        json!({"agent": {"ebpf": {"sampling": 0, "features": ["PacketDrop", "DNSTracking", "FlowRTT"]}}}),
        json!({"agent": {"ebpf": {"flowFilter": {"enable": true, "rules": [{"cidr": "10.0.0.0/8", "ports": "80-100"}, {"cidr": "0.0.0.0/0", "ports": 443}]}}}}),
    ] {
        let obj = object(spec.clone());
        assert_eq!(errors(&validator, &obj), Vec::<String>::new(), "{spec}");
    }
}

#[test]
fn schema_rejects_bad_values() {
    let validator = v1beta2_validator();
    let cases = [
        ("wrong enum", json!({"deploymentModel": "DIRECT"})),
        ("wrong agent type", json!({"agent": {"type": "EBPF"}})),
        (
            "negative sampling",
            json!({"agent": {"ebpf": {"sampling": -1}}}),
        ),
        (
            "unknown feature",
            json!({"agent": {"ebpf": {"features": ["PacketDrops"]}}}),
        ),
        (
            "zero cacheMaxFlows",
            json!({"agent": {"ebpf": {"cacheMaxFlows": 0}}}),
        ),
        (
            "bad timeout",
            json!({"agent": {"ebpf": {"cacheActiveTimeout": "15 seconds"}}}),
        ),
        (
            "bad log level",
            json!({"processor": {"logLevel": "verbose"}}),
        ),
        (
            "processor port too low",
            json!({"processor": {"advanced": {"port": 80}}}),
        ),
        (
            "too many filter rules",
            json!({"agent": {"ebpf": {"flowFilter": {"rules": vec![json!({"cidr": "10.0.0.0/8"}); 17]}}}}),
        ),
        (
            "empty filter rules",
            json!({"agent": {"ebpf": {"flowFilter": {"rules": []}}}}),
        ),
        ("bad loki mode", json!({"loki": {"mode": "Distributed"}})),
        (
            "exporter without type",
            json!({"exporters": [{"kafka": {"address": "a", "topic": "t"}}]}),
        ),
        (
            "bad subnet label name",
            json!({"processor": {"subnetLabels": {"customLabels": [{"name": "1bad", "cidrs": ["10.0.0.0/8"]}]}}}),
        ),
        (
            "negative writeBatchSize",
            json!({"loki": {"writeBatchSize": 0}}),
        ),
    ];
    for (what, spec) in cases {
        let obj = object(spec.clone());
        assert!(
            !errors(&validator, &obj).is_empty(),
            "{what} was accepted: {spec}"
        );
    }
    let mut other_name = object(json!({}));
    other_name["metadata"]["name"] = json!("netobserv");
    assert!(
        !errors(&validator, &other_name).is_empty(),
        "a name other than cluster was accepted"
    );
}

#[test]
fn flowmetric_schema_rejects_bad_values() {
    let crd = crd::flowmetric_crd().expect("generates");
    let schema = crd::version_schema(&crd, "v1alpha1").expect("schema");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .expect("compiles");
    let fm = |spec: Value| {
        json!({"apiVersion": "flows.netobserv.io/v1alpha1", "kind": "FlowMetric",
               "metadata": {"name": "m", "namespace": "netobserv"}, "spec": spec})
    };
    assert!(errors(&validator, &fm(json!({"type": "Counter"}))).is_empty());
    for (what, spec) in [
        ("missing type", json!({})),
        ("wrong type", json!({"type": "Summary"})),
        (
            "bad metric name",
            json!({"type": "Counter", "metricName": "9lives"}),
        ),
        (
            "bad match type",
            json!({"type": "Counter", "filters": [{"field": "Proto", "matchType": "Like"}]}),
        ),
        (
            "bad direction",
            json!({"type": "Counter", "direction": "Both"}),
        ),
    ] {
        assert!(
            !errors(&validator, &fm(spec.clone())).is_empty(),
            "{what} accepted: {spec}"
        );
    }
}
