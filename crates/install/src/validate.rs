//! The offline rules of `operator-sdk bundle validate` (operator-framework/api validators) that
//! apply to a `registry+v1` bundle, so a bundle OLM would refuse fails in `make test`:
//! annotations, one CSV with its required fields, semver versions, install modes, the install
//! strategy, alm-examples that parse and cover every owned API, CRD ownership both ways,
//! descriptors that exist in the CRD schema, webhook definitions, valid image references,
//! object kinds OLM can install, and the 1 MiB bundle size limit.

use crate::kustomize::{kind, name, parse_documents};
use crate::{Error, read_text};
use regex::Regex;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// A bundle is unpacked into a ConfigMap: its manifests must fit in 1 MiB.
pub const MAX_BUNDLE_BYTES: u64 = 1 << 20;

/// Kinds OLM installs from a bundle's manifests besides the CSV and CRDs.
const SUPPORTED_KINDS: [&str; 16] = [
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "ConsoleCLIDownload",
    "ConsoleLink",
    "ConsoleQuickStart",
    "ConsoleYAMLSample",
    "PodDisruptionBudget",
    "PriorityClass",
    "PrometheusRule",
    "Role",
    "RoleBinding",
    "Secret",
    "Service",
    "ServiceAccount",
    "ServiceMonitor",
];

/// The contents of a bundle directory.
struct Bundle {
    annotations: Value,
    csv: Option<Value>,
    crds: Vec<Value>,
    others: Vec<Value>,
    bytes: u64,
}

/// Validates the bundle at `dir` (holding `manifests/` and `metadata/`). Returns one line per
/// problem; empty when OLM would accept it.
pub fn validate(dir: &Path) -> Result<Vec<String>, Error> {
    let bundle = load(dir)?;
    let mut errors = Vec::new();
    check_annotations(&bundle.annotations, &mut errors);
    if bundle.bytes > MAX_BUNDLE_BYTES {
        errors.push(format!(
            "bundle manifests are {} bytes, over the {MAX_BUNDLE_BYTES}-byte limit",
            bundle.bytes
        ));
    }
    for obj in &bundle.others {
        if !SUPPORTED_KINDS.contains(&kind(obj)) {
            errors.push(format!(
                "{} {}: kind not installable from a bundle",
                kind(obj),
                name(obj)
            ));
        }
    }
    let Some(csv) = &bundle.csv else {
        errors.push("no ClusterServiceVersion in manifests/".into());
        return Ok(errors);
    };
    check_csv_fields(csv, &bundle.annotations, &mut errors);
    check_install(csv, &mut errors);
    check_ownership(csv, &bundle.crds, &mut errors);
    check_examples(csv, &mut errors);
    check_images(csv, &mut errors);
    check_webhooks(csv, &bundle.crds, &mut errors);
    Ok(errors)
}

fn load(dir: &Path) -> Result<Bundle, Error> {
    let annotations_path = dir.join("metadata/annotations.yaml");
    let annotations = parse_documents(&read_text(&annotations_path)?, "annotations.yaml")?
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    let mut bundle = Bundle {
        annotations,
        csv: None,
        crds: Vec::new(),
        others: Vec::new(),
        bytes: 0,
    };
    let manifests = dir.join("manifests");
    let entries = std::fs::read_dir(&manifests).map_err(|e| Error::io(&manifests, e))?;
    let mut csvs = 0;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&manifests, e))?.path();
        let text = read_text(&path)?;
        bundle.bytes += text.len() as u64;
        for obj in parse_documents(&text, &path.display().to_string())? {
            match kind(&obj) {
                "ClusterServiceVersion" => {
                    csvs += 1;
                    bundle.csv = Some(obj);
                }
                "CustomResourceDefinition" => bundle.crds.push(obj),
                _ => bundle.others.push(obj),
            }
        }
    }
    if csvs > 1 {
        bundle.csv = None;
    }
    Ok(bundle)
}

fn check_annotations(doc: &Value, errors: &mut Vec<String>) {
    let a = &doc["annotations"];
    let get = |k: &str| a[k].as_str().unwrap_or_default();
    let prefix = "operators.operatorframework.io.bundle.";
    if get(&format!("{prefix}mediatype.v1")) != "registry+v1" {
        errors.push("annotations: mediatype.v1 must be registry+v1".into());
    }
    if get(&format!("{prefix}manifests.v1")) != "manifests/" {
        errors.push("annotations: manifests.v1 must be manifests/".into());
    }
    if get(&format!("{prefix}metadata.v1")) != "metadata/" {
        errors.push("annotations: metadata.v1 must be metadata/".into());
    }
    if get(&format!("{prefix}package.v1")).is_empty() {
        errors.push("annotations: package.v1 is empty".into());
    }
    let channels: Vec<&str> = get(&format!("{prefix}channels.v1"))
        .split(',')
        .filter(|c| !c.is_empty())
        .collect();
    if channels.is_empty() {
        errors.push("annotations: channels.v1 is empty".into());
    }
    let default = get(&format!("{prefix}channel.default.v1"));
    if !default.is_empty() && !channels.contains(&default) {
        errors.push(format!(
            "annotations: default channel {default} is not in channels.v1"
        ));
    }
}

fn check_csv_fields(csv: &Value, annotations: &Value, errors: &mut Vec<String>) {
    let spec = &csv["spec"];
    for field in [
        "displayName",
        "description",
        "version",
        "minKubeVersion",
        "maturity",
    ] {
        if spec[field].as_str().is_none_or(str::is_empty) {
            errors.push(format!("CSV spec.{field} is required"));
        }
    }
    if spec["provider"]["name"].as_str().is_none_or(str::is_empty) {
        errors.push("CSV spec.provider.name is required".into());
    }
    let version = spec["version"].as_str().unwrap_or_default();
    if semver::Version::parse(version).is_err() {
        errors.push(format!("CSV spec.version {version:?} is not semver"));
    }
    if let Some(min) = spec["minKubeVersion"].as_str()
        && semver::Version::parse(min).is_err()
    {
        errors.push(format!("CSV spec.minKubeVersion {min:?} is not semver"));
    }
    let package = annotations["annotations"]["operators.operatorframework.io.bundle.package.v1"]
        .as_str()
        .unwrap_or_default();
    let expected = format!("{package}.v{version}");
    if name(csv) != expected {
        errors.push(format!("CSV name {} should be {expected}", name(csv)));
    }
    for icon in spec["icon"].as_array().into_iter().flatten() {
        use base64::Engine;
        let data = icon["base64data"].as_str().unwrap_or_default();
        if base64::engine::general_purpose::STANDARD
            .decode(data)
            .is_err()
        {
            errors.push("CSV icon: base64data does not decode".into());
        }
        let media = icon["mediatype"].as_str().unwrap_or_default();
        if !["image/svg+xml", "image/png", "image/jpeg", "image/gif"].contains(&media) {
            errors.push(format!("CSV icon: mediatype {media:?} not allowed"));
        }
    }
    let modes: BTreeSet<&str> = spec["installModes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["type"].as_str())
        .collect();
    for mode in [
        "OwnNamespace",
        "SingleNamespace",
        "MultiNamespace",
        "AllNamespaces",
    ] {
        if !modes.contains(mode) {
            errors.push(format!("CSV installModes: {mode} missing"));
        }
    }
    let any_supported = spec["installModes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["supported"] == Value::Bool(true));
    if !any_supported {
        errors.push("CSV installModes: none supported".into());
    }
}

fn check_install(csv: &Value, errors: &mut Vec<String>) {
    let install = &csv["spec"]["install"];
    if install["strategy"] != "deployment" {
        errors.push("CSV install.strategy must be deployment".into());
    }
    let deployments = install["spec"]["deployments"].as_array();
    if deployments.is_none_or(Vec::is_empty) {
        errors.push("CSV install.spec.deployments is empty".into());
    }
    for d in deployments.into_iter().flatten() {
        let dname = d["name"].as_str().unwrap_or_default();
        if dname.is_empty() {
            errors.push("CSV install deployment without a name".into());
        }
        let pod = &d["spec"]["template"]["spec"];
        let sa = pod["serviceAccountName"].as_str().unwrap_or_default();
        let has_sa = |list: &str| {
            install["spec"][list]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["serviceAccountName"] == sa)
        };
        if !has_sa("clusterPermissions") && !has_sa("permissions") {
            errors.push(format!(
                "deployment {dname}: service account {sa:?} has no permissions"
            ));
        }
        let selector = &d["spec"]["selector"]["matchLabels"];
        let template_labels = &d["spec"]["template"]["metadata"]["labels"];
        for (k, v) in selector.as_object().into_iter().flatten() {
            if &template_labels[k] != v {
                errors.push(format!(
                    "deployment {dname}: selector {k}={v} does not match the pod template"
                ));
            }
        }
    }
}

/// Every served version of every CRD is owned, and every owned entry names a served version of
/// a CRD in the bundle; descriptors point at fields that exist.
fn check_ownership(csv: &Value, crds: &[Value], errors: &mut Vec<String>) {
    let owned = csv["spec"]["customresourcedefinitions"]["owned"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut served = BTreeSet::new();
    for crd in crds {
        let kind_name = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
        for v in crd["spec"]["versions"].as_array().into_iter().flatten() {
            if v["served"] == Value::Bool(true) {
                let version = v["name"].as_str().unwrap_or_default();
                served.insert((
                    name(crd).to_string(),
                    version.to_string(),
                    kind_name.to_string(),
                ));
            }
        }
    }
    let mut listed = BTreeSet::new();
    for o in &owned {
        let key = (
            o["name"].as_str().unwrap_or_default().to_string(),
            o["version"].as_str().unwrap_or_default().to_string(),
            o["kind"].as_str().unwrap_or_default().to_string(),
        );
        if !served.contains(&key) {
            errors.push(format!(
                "owned {}/{} ({}): no served version of a bundled CRD",
                key.0, key.1, key.2
            ));
        } else {
            check_descriptors(o, &key, crds, errors);
        }
        listed.insert(key);
    }
    for key in served.difference(&listed) {
        errors.push(format!(
            "CRD {} version {} is in the bundle but not owned by the CSV",
            key.0, key.1
        ));
    }
}

fn check_descriptors(
    owned: &Value,
    (crd_name, version, _): &(String, String, String),
    crds: &[Value],
    errors: &mut Vec<String>,
) {
    let Some(schema) = crds
        .iter()
        .filter(|c| name(c) == crd_name)
        .flat_map(|c| {
            c["spec"]["versions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|v| v["name"] == version.as_str())
        .map(|v| v["schema"]["openAPIV3Schema"].clone())
    else {
        return;
    };
    for (list, root) in [("specDescriptors", "spec"), ("statusDescriptors", "status")] {
        for d in owned[list].as_array().into_iter().flatten() {
            let path = d["path"].as_str().unwrap_or_default();
            let mut node = &schema["properties"][root];
            for part in path.split('.') {
                node = &node["properties"][part];
            }
            if node.is_null() {
                errors.push(format!(
                    "{crd_name}/{version} {list}: {root}.{path} is not in the CRD schema"
                ));
            }
        }
    }
}

fn check_examples(csv: &Value, errors: &mut Vec<String>) {
    let text = csv["metadata"]["annotations"]["alm-examples"]
        .as_str()
        .unwrap_or_default();
    let examples: Vec<Value> = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            errors.push(format!("alm-examples is not a JSON array: {e}"));
            return;
        }
    };
    let covered: BTreeSet<(String, String)> = examples
        .iter()
        .map(|e| {
            let api = e["apiVersion"].as_str().unwrap_or_default();
            let version = api.rsplit('/').next().unwrap_or_default();
            (kind(e).to_string(), version.to_string())
        })
        .collect();
    for e in &examples {
        if name(e).is_empty() {
            errors.push(format!("alm-examples: a {} has no metadata.name", kind(e)));
        }
    }
    for o in csv["spec"]["customresourcedefinitions"]["owned"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = (
            o["kind"].as_str().unwrap_or_default().to_string(),
            o["version"].as_str().unwrap_or_default().to_string(),
        );
        if !covered.contains(&key) {
            errors.push(format!("alm-examples: no example of {} {}", key.0, key.1));
        }
    }
}

/// Image references as the distribution reference grammar allows them (name, optional tag,
/// optional digest), for every container and every `relatedImages` entry.
fn check_images(csv: &Value, errors: &mut Vec<String>) {
    let Ok(reference) = Regex::new(
        r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$",
    ) else {
        return;
    };
    let mut refs = Vec::new();
    for d in csv["spec"]["install"]["spec"]["deployments"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for c in d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            refs.push(c["image"].as_str().unwrap_or_default().to_string());
        }
    }
    let mut names = BTreeSet::new();
    for r in csv["spec"]["relatedImages"]
        .as_array()
        .into_iter()
        .flatten()
    {
        refs.push(r["image"].as_str().unwrap_or_default().to_string());
        let n = r["name"].as_str().unwrap_or_default();
        if !names.insert(n.to_string()) {
            errors.push(format!("relatedImages: name {n:?} repeated"));
        }
    }
    for r in refs {
        if !reference.is_match(&r) {
            errors.push(format!("image reference {r:?} is not valid"));
        }
    }
}

fn check_webhooks(csv: &Value, crds: &[Value], errors: &mut Vec<String>) {
    let deployments: BTreeSet<&str> = csv["spec"]["install"]["spec"]["deployments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str())
        .collect();
    let crd_names: BTreeSet<&str> = crds.iter().map(name).collect();
    for w in csv["spec"]["webhookdefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let gen_name = w["generateName"].as_str().unwrap_or_default();
        let ty = w["type"].as_str().unwrap_or_default();
        if ![
            "ValidatingAdmissionWebhook",
            "MutatingAdmissionWebhook",
            "ConversionWebhook",
        ]
        .contains(&ty)
        {
            errors.push(format!("webhook {gen_name}: unknown type {ty:?}"));
        }
        if !deployments.contains(w["deploymentName"].as_str().unwrap_or_default()) {
            errors.push(format!(
                "webhook {gen_name}: deploymentName is not an install deployment"
            ));
        }
        if w["containerPort"]
            .as_u64()
            .is_none_or(|p| p == 0 || p > 65535)
        {
            errors.push(format!(
                "webhook {gen_name}: containerPort missing or invalid"
            ));
        }
        if !w["webhookPath"]
            .as_str()
            .is_some_and(|p| p.starts_with('/'))
        {
            errors.push(format!("webhook {gen_name}: webhookPath must start with /"));
        }
        if w["admissionReviewVersions"]
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            errors.push(format!(
                "webhook {gen_name}: admissionReviewVersions is empty"
            ));
        }
        if ty == "ConversionWebhook" {
            for c in w["conversionCRDs"].as_array().into_iter().flatten() {
                if !crd_names.contains(c.as_str().unwrap_or_default()) {
                    errors.push(format!("webhook {gen_name}: conversion CRD {c} not owned"));
                }
            }
        }
    }
}
