//! The ClusterServiceVersion: built from the rendered `config/olm` objects, the webhook
//! configuration, the samples and the description, in small pieces a reader can check against
//! the OLM documentation one at a time.

use super::descriptors::{self, Descriptor};
use super::{CHANNEL, Inputs, PACKAGE};
use crate::Error;
use crate::kustomize::{kind, name};
use base64::Engine;
use serde_json::{Map, Value, json};

/// Port the manager serves webhooks on (`--webhook-port` in config/olm).
const WEBHOOK_PORT: u16 = 9443;

/// The operator's RBAC as the CSV states it: rules of the roles bound to its service account.
#[derive(Debug, Default)]
pub struct Permissions {
    /// Rules of ClusterRoles bound by ClusterRoleBindings.
    pub cluster: Vec<Value>,
    /// Rules of Roles bound by RoleBindings (in the install namespace).
    pub namespaced: Vec<Value>,
}

/// Builds the CSV document.
pub fn build(
    inputs: &Inputs,
    version: &semver::Version,
    deployment: &Value,
    permissions: &Permissions,
    crds: &[Value],
) -> Result<Value, Error> {
    let service_account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .ok_or_else(|| Error::Input("the operator Deployment has no serviceAccountName".into()))?;
    let mut spec = info(inputs, version);
    spec.insert("customresourcedefinitions".into(), owned(crds));
    spec.insert(
        "install".into(),
        install(deployment, permissions, service_account),
    );
    spec.insert("relatedImages".into(), related_images(deployment));
    spec.insert("webhookdefinitions".into(), webhooks(inputs, deployment)?);
    Ok(json!({
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {
            "name": format!("{PACKAGE}.v{version}"),
            "annotations": annotations(inputs, deployment)?,
        },
        "spec": Value::Object(spec),
    }))
}

fn annotations(inputs: &Inputs, deployment: &Value) -> Result<Value, Error> {
    let examples = serde_json::to_string_pretty(&inputs.samples)
        .map_err(|e| Error::format("alm-examples", e))?;
    Ok(json!({
        "alm-examples": examples,
        "capabilities": "Basic Install",
        "categories": "Monitoring,Networking",
        "containerImage": manager_container(deployment)["image"],
        "description": "Network flows of the cluster from eBPF: drops, DNS, RTT, policy events; Loki, Prometheus, Kafka, console.",
        "operatorframework.io/suggested-namespace": "netobserv",
        "repository": "https://github.com/netobserv-rs/netobserv-rs",
        "support": "netobserv-rs",
        "operators.operatorframework.io/builder": "netobserv-rs installgen",
    }))
}

fn info(inputs: &Inputs, version: &semver::Version) -> Map<String, Value> {
    let icon = base64::engine::general_purpose::STANDARD.encode(inputs.icon_svg.as_bytes());
    let spec = json!({
        "displayName": "netobserv-rs Network Observability",
        "description": inputs.description,
        "version": version.to_string(),
        "maturity": CHANNEL,
        "minKubeVersion": "1.27.0",
        "provider": {"name": "netobserv-rs"},
        "maintainers": [{"name": "netobserv-rs", "email": "netobserv-rs@users.noreply.github.com"}],
        "links": [{"name": "Source", "url": "https://github.com/netobserv-rs/netobserv-rs"}],
        "keywords": ["network", "observability", "ebpf", "flows", "netobserv", "loki", "prometheus"],
        "icon": [{"base64data": icon, "mediatype": "image/svg+xml"}],
        "installModes": [
            {"type": "OwnNamespace", "supported": false},
            {"type": "SingleNamespace", "supported": false},
            {"type": "MultiNamespace", "supported": false},
            {"type": "AllNamespaces", "supported": true},
        ],
        "apiservicedefinitions": {},
    });
    match spec {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// One `owned` entry per served version of each CRD, descriptors on the versions that have them.
fn owned(crds: &[Value]) -> Value {
    let mut owned = Vec::new();
    for crd in crds {
        let kind_name = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
        for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
            if version["served"] != Value::Bool(true) {
                continue;
            }
            let v = version["name"].as_str().unwrap_or_default();
            let (spec, status) = descriptors::for_kind(kind_name, v);
            owned.push(json!({
                "name": name(crd),
                "version": v,
                "kind": kind_name,
                "displayName": kind_name,
                "description": crd_description(kind_name),
                "specDescriptors": descriptor_list(spec),
                "statusDescriptors": descriptor_list(status),
            }));
        }
    }
    json!({ "owned": owned })
}

fn crd_description(kind: &str) -> &'static str {
    match kind {
        "FlowCollector" => "The network flows pipeline of the cluster: one instance named cluster.",
        "FlowMetric" => "A Prometheus metric computed from flow fields.",
        _ => "",
    }
}

fn descriptor_list(rows: &[Descriptor]) -> Value {
    Value::Array(
        rows.iter()
            .map(|d| {
                json!({
                    "path": d.path,
                    "displayName": d.display_name,
                    "description": d.description,
                    "x-descriptors": d.x_descriptors,
                })
            })
            .collect(),
    )
}

fn install(deployment: &Value, permissions: &Permissions, service_account: &str) -> Value {
    let deployment_name = name(deployment);
    let mut spec = deployment["spec"].clone();
    if let Some(obj) = spec.as_object_mut() {
        obj.remove("status");
    }
    json!({
        "strategy": "deployment",
        "spec": {
            "clusterPermissions": [{
                "serviceAccountName": service_account,
                "rules": permissions.cluster,
            }],
            "permissions": [{
                "serviceAccountName": service_account,
                "rules": permissions.namespaced,
            }],
            "deployments": [{
                "name": deployment_name,
                "label": deployment["metadata"]["labels"],
                "spec": spec,
            }],
        },
    })
}

fn manager_container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

/// The operator image and every `RELATED_IMAGE_*` the operator Deployment passes it, so a
/// disconnected mirror copies all of them.
fn related_images(deployment: &Value) -> Value {
    let container = manager_container(deployment);
    let mut images = vec![json!({"name": "manager", "image": container["image"]})];
    for env in container["env"].as_array().into_iter().flatten() {
        let Some(var) = env["name"].as_str() else {
            continue;
        };
        if let (Some(suffix), Some(image)) =
            (var.strip_prefix("RELATED_IMAGE_"), env["value"].as_str())
        {
            let name = suffix.to_ascii_lowercase().replace('_', "-");
            images.push(json!({"name": name, "image": image}));
        }
    }
    Value::Array(images)
}

/// OLM webhook definitions from config/webhook: the validating webhooks and the FlowCollector
/// conversion webhook, all served by the manager on 9443.
fn webhooks(inputs: &Inputs, deployment: &Value) -> Result<Value, Error> {
    let deployment_name = name(deployment);
    let mut defs = Vec::new();
    for config in inputs.webhooks.iter().filter(|o| {
        matches!(
            kind(o),
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration"
        )
    }) {
        let ty = if kind(config) == "ValidatingWebhookConfiguration" {
            "ValidatingAdmissionWebhook"
        } else {
            "MutatingAdmissionWebhook"
        };
        for hook in config["webhooks"].as_array().into_iter().flatten() {
            let path = hook["clientConfig"]["service"]["path"].clone();
            if !path.is_string() {
                return Err(Error::Input(format!(
                    "webhook {} has no clientConfig.service.path",
                    hook["name"]
                )));
            }
            defs.push(json!({
                "type": ty,
                "generateName": hook["name"],
                "admissionReviewVersions": hook["admissionReviewVersions"],
                "sideEffects": hook["sideEffects"],
                "failurePolicy": hook["failurePolicy"],
                "matchPolicy": hook["matchPolicy"],
                "timeoutSeconds": hook["timeoutSeconds"],
                "rules": hook["rules"],
                "webhookPath": path,
                "deploymentName": deployment_name,
                "containerPort": 443,
                "targetPort": WEBHOOK_PORT,
            }));
        }
    }
    for crd in &inputs.conversion_crds {
        defs.push(json!({
            "type": "ConversionWebhook",
            "generateName": "cflowcollectors.netobserv.io",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "webhookPath": "/convert",
            "deploymentName": deployment_name,
            "containerPort": 443,
            "targetPort": WEBHOOK_PORT,
            "conversionCRDs": [crd],
        }));
    }
    Ok(Value::Array(defs))
}
