//! Every YAML file the project ships (config/, bundle/, deploy/) parses, and every Kubernetes
//! object in it, and in the output of every kustomization, deserialises into its typed
//! definition: `k8s-openapi` for built-in kinds, `netobserv-api` for our CRDs, a required-field
//! table for the few third-party kinds (cert-manager, Prometheus Operator, Argo CD, OLM).
//! Deserialising alone would accept misspelt fields (the typed decoders ignore unknown keys), so
//! each object is also re-serialised and every key that did not survive is reported.
//!
//! Needs `kubectl` (for `kubectl kustomize`), which `make test` installs.

use k8s_openapi::api::{admissionregistration, apps, core, networking, rbac};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use netobserv_install::kustomize::{parse_documents, render};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Deserialises into `T`, re-serialises, and reports keys the type does not know.
fn typed<T: DeserializeOwned + Serialize>(obj: &Value) -> Result<(), String> {
    let parsed: T = serde_json::from_value(obj.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&parsed).map_err(|e| e.to_string())?;
    let mut lost = Vec::new();
    lost_keys(obj, &back, "", &mut lost);
    if lost.is_empty() {
        Ok(())
    } else {
        Err(format!("unknown fields: {}", lost.join(", ")))
    }
}

fn lost_keys(orig: &Value, back: &Value, path: &str, out: &mut Vec<String>) {
    match (orig, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => lost_keys(v, w, &p, out),
                    // Empty values are legitimately dropped by omitempty-style serialisers.
                    None if is_empty(v) => {}
                    None => out.push(p),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                lost_keys(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Fields that must be present on kinds without a Rust type here.
fn required(obj: &Value, fields: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|f| f.split('.').fold(obj, |node, part| &node[part]).is_null())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing {}", missing.join(", ")))
    }
}

fn check_object(obj: &Value) -> Result<(), String> {
    let api = obj["apiVersion"].as_str().unwrap_or_default();
    let kind = obj["kind"].as_str().unwrap_or_default();
    if obj["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        return Err("metadata.name is missing".into());
    }
    match (api, kind) {
        ("v1", "Namespace") => typed::<core::v1::Namespace>(obj),
        ("v1", "Service") => typed::<core::v1::Service>(obj),
        ("v1", "ServiceAccount") => typed::<core::v1::ServiceAccount>(obj),
        ("v1", "ConfigMap") => typed::<core::v1::ConfigMap>(obj),
        ("v1", "Secret") => typed::<core::v1::Secret>(obj),
        ("apps/v1", "Deployment") => typed::<apps::v1::Deployment>(obj),
        ("apps/v1", "DaemonSet") => typed::<apps::v1::DaemonSet>(obj),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => typed::<rbac::v1::ClusterRole>(obj),
        ("rbac.authorization.k8s.io/v1", "Role") => typed::<rbac::v1::Role>(obj),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            typed::<rbac::v1::ClusterRoleBinding>(obj)
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => typed::<rbac::v1::RoleBinding>(obj),
        ("networking.k8s.io/v1", "NetworkPolicy") => typed::<networking::v1::NetworkPolicy>(obj),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            typed::<CustomResourceDefinition>(obj)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration") => {
            typed::<admissionregistration::v1::ValidatingWebhookConfiguration>(obj)
        }
        ("flows.netobserv.io/v1beta2", "FlowCollector") => {
            typed::<netobserv_api::v1beta2::FlowCollector>(obj)
        }
        ("flows.netobserv.io/v1beta1", "FlowCollector") => {
            typed::<netobserv_api::v1beta1::FlowCollector>(obj)
        }
        ("flows.netobserv.io/v1alpha1", "FlowMetric") => {
            typed::<netobserv_api::v1alpha1::FlowMetric>(obj)
        }
        ("cert-manager.io/v1", "Issuer") => required(obj, &["spec"]),
        ("cert-manager.io/v1", "Certificate") => required(
            obj,
            &["spec.secretName", "spec.issuerRef.name", "spec.dnsNames"],
        ),
        ("monitoring.coreos.com/v1", "ServiceMonitor") => {
            required(obj, &["spec.selector", "spec.endpoints"])
        }
        ("argoproj.io/v1alpha1", "Application") => required(
            obj,
            &[
                "spec.project",
                "spec.source.repoURL",
                "spec.source.path",
                "spec.destination.server",
            ],
        ),
        ("operators.coreos.com/v1alpha1", "ClusterServiceVersion") => {
            required(obj, &["spec.install.spec.deployments", "spec.version"])
        }
        _ => Err(format!(
            "no type known for {api} {kind}: add it to crates/install/tests/manifests.rs"
        )),
    }
}

/// Directories holding a kustomization.yaml, and the files kustomizations use as patches (partial
/// objects, checked through the rendered output instead).
fn kustomizations(files: &[PathBuf]) -> (Vec<PathBuf>, BTreeSet<PathBuf>) {
    let mut dirs = Vec::new();
    let mut patches = BTreeSet::new();
    for f in files.iter().filter(|f| f.ends_with("kustomization.yaml")) {
        let text = std::fs::read_to_string(f).expect("readable kustomization");
        let doc: Value = serde_yaml::from_str(&text).expect("kustomization parses");
        let dir = f.parent().expect("has a directory").to_path_buf();
        for p in doc["patches"].as_array().into_iter().flatten() {
            if let Some(path) = p["path"].as_str() {
                patches.insert(dir.join(path));
            }
        }
        if doc["kind"] == "Kustomization" {
            dirs.push(dir);
        }
    }
    (dirs, patches)
}

fn shipped_yaml() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for top in ["config", "bundle", "deploy"] {
        for entry in walkdir::WalkDir::new(root().join(top)) {
            let entry = entry.expect("walkable");
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                files.push(p.to_path_buf());
            }
        }
    }
    files.sort();
    files
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}

#[test]
fn every_shipped_object_deserialises_into_its_type() {
    let files = shipped_yaml();
    assert!(files.len() > 30, "walked only {} files", files.len());
    let (_, patches) = kustomizations(&files);
    let mut errors = Vec::new();
    let mut objects = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let docs = match parse_documents(&text, &rel(f)) {
            Ok(d) => d,
            Err(e) => {
                errors.push(format!("{}: {e}", rel(f)));
                continue;
            }
        };
        // Kustomize inputs and OLM's bundle metadata are not Kubernetes objects.
        if f.ends_with("kustomization.yaml")
            || f.ends_with("bundle/metadata/annotations.yaml")
            || patches.contains(f)
        {
            continue;
        }
        for d in &docs {
            objects += 1;
            if let Err(e) = check_object(d) {
                errors.push(format!(
                    "{}: {} {}: {e}",
                    rel(f),
                    d["kind"],
                    d["metadata"]["name"]
                ));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    println!("{} files, {objects} objects checked", files.len());
}

#[test]
fn every_kustomization_renders_and_its_objects_deserialise() {
    let (dirs, _) = kustomizations(&shipped_yaml());
    let names: Vec<String> = dirs.iter().map(|d| rel(d)).collect();
    for expected in [
        "config/default",
        "config/with-webhooks",
        "config/openshift",
        "config/olm",
        "deploy/argocd/netobserv",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} missing from {names:?}"
        );
    }
    let mut errors = Vec::new();
    for (dir, name) in dirs.iter().zip(&names) {
        match render(&root(), name) {
            Ok(objects) => {
                for o in &objects {
                    if let Err(e) = check_object(o) {
                        errors.push(format!(
                            "{name}: {} {}: {e}",
                            o["kind"], o["metadata"]["name"]
                        ));
                    }
                }
                println!("{name}: {} objects", objects.len());
            }
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn a_misspelt_field_is_reported() {
    let obj: Value = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"selectr": {"a": "b"}, "ports": [{"port": 80}]},
    });
    let err = check_object(&obj).expect_err("typo must be found");
    assert!(err.contains(".spec.selectr"), "{err}");
}

#[test]
fn argocd_orders_crds_then_operator_then_custom_resources() {
    let objects = render(&root(), "deploy/argocd/netobserv").expect("renders");
    let wave = |o: &Value| -> i64 {
        o["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("{} {} has no sync wave", o["kind"], o["metadata"]["name"]))
    };
    for o in &objects {
        let kind = o["kind"].as_str().unwrap_or_default();
        let expected = match kind {
            "CustomResourceDefinition" => -1,
            "FlowCollector" | "FlowMetric" => 1,
            _ => 0,
        };
        assert_eq!(wave(o), expected, "{kind} {}", o["metadata"]["name"]);
        if expected == 1 {
            assert_eq!(
                o["metadata"]["annotations"]["argocd.argoproj.io/sync-options"],
                "SkipDryRunOnMissingResource=true"
            );
        }
    }
    assert!(objects.iter().any(|o| o["kind"] == "Deployment"));
    assert!(objects.iter().any(|o| o["kind"] == "FlowCollector"));
    let app_text = std::fs::read_to_string(root().join("deploy/argocd/application.yaml"))
        .expect("application");
    let app: Value = serde_yaml::from_str(&app_text).expect("parses");
    let options: Vec<&str> = app["spec"]["syncPolicy"]["syncOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(options.contains(&"ServerSideApply=true"), "{options:?}");
    assert_eq!(app["spec"]["source"]["path"], "deploy/argocd/netobserv");
}
