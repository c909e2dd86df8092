//! Applying the desired set: server-side apply with one field manager, then pruning of the
//! objects that carry our label and owner reference but are no longer desired.

use crate::error::Result;
use crate::render::{FIELD_MANAGER, MANAGED_LABEL, ManagedKind, Object, ObjectKey};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use std::collections::BTreeSet;

/// The API handle for an object of `kind` in `namespace` (or cluster-wide).
pub fn api(client: &Client, kind: ManagedKind, namespace: Option<&str>) -> Api<DynamicObject> {
    let ar = kind.api_resource();
    match namespace {
        Some(ns) if kind.namespaced() => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

/// Server-side applies one object, forcing ownership of the fields we set: the operator is the
/// single writer of these objects, and conflicts would otherwise block reconciliation forever.
pub async fn apply(client: &Client, obj: &Object) -> Result<DynamicObject> {
    let key = obj.key();
    let value = obj.to_value()?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api(client, key.kind, key.namespace.as_deref())
        .patch(&key.name, &params, &Patch::Apply(&value))
        .await?;
    Ok(applied)
}

/// Copies a Secret or ConfigMap referenced from another namespace into the pod's namespace.
/// Returns false (and copies nothing) when the original does not exist yet: the pods then wait
/// for their volume, and the next reconcile retries.
pub async fn copy(
    client: &Client,
    copy: &crate::render::CertCopy,
    owner: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
) -> Result<bool> {
    use crate::render::COPIED_FROM_ANNOTATION;
    let key = copy.key();
    let Some(source) = api(client, key.kind, Some(&copy.source_namespace))
        .get_opt(&copy.name)
        .await?
    else {
        return Ok(false);
    };
    let mut value = serde_json::json!({
        "apiVersion": "v1",
        "kind": key.kind.kind(),
        "metadata": {
            "name": copy.name,
            "namespace": copy.target_namespace,
            "labels": {MANAGED_LABEL: "true"},
            "annotations": {
                COPIED_FROM_ANNOTATION: format!("{}/{}", copy.source_namespace, copy.name),
            },
        },
    });
    if let Some(owner) = owner {
        let mut owner = owner.clone();
        owner.block_owner_deletion = Some(false);
        value["metadata"]["ownerReferences"] = serde_json::json!([owner]);
    }
    for field in ["data", "binaryData", "type"] {
        if let Some(v) = source.data.get(field) {
            value[field] = v.clone();
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api(client, key.kind, Some(&copy.target_namespace))
        .patch(&copy.name, &params, &Patch::Apply(&value))
        .await?;
    Ok(true)
}

/// Adds the console plugin to `consoles.operator.openshift.io/cluster` `spec.plugins` when it is
/// missing, so the OpenShift console loads it. The entry is only ever added, never removed: an
/// admin may have enabled it on purpose. Returns whether a patch was sent.
pub async fn register_console_plugin(client: &Client, plugin: &str) -> Result<bool> {
    use kube::api::{ApiResource, GroupVersionKind};
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("operator.openshift.io", "v1", "Console"),
        "consoles",
    );
    let consoles: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let Some(console) = consoles.get_opt("cluster").await? else {
        return Ok(false);
    };
    let mut plugins: Vec<serde_json::Value> = console
        .data
        .get("spec")
        .and_then(|s| s.get("plugins"))
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    if plugins.iter().any(|p| p.as_str() == Some(plugin)) {
        return Ok(false);
    }
    plugins.push(serde_json::Value::String(plugin.to_string()));
    let patch = serde_json::json!({"spec": {"plugins": plugins}});
    consoles
        .patch("cluster", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(true)
}

/// Adds `flows.netobserv.io/watched-<volume>` pod-template annotations holding a digest of each
/// mounted Secret/ConfigMap (certificates, SASL files), so that rotating one rolls the pods that
/// read it at start. The operator's own static ConfigMap is skipped (it has the config digest);
/// objects that do not exist yet get no annotation and are returned, described for the status
/// (`Secret ns/name`), since the pods cannot start without them.
pub async fn annotate_watched(client: &Client, obj: &mut Object) -> Result<Vec<String>> {
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    let Some(ns) = obj.meta().namespace.clone() else {
        return Ok(Vec::new());
    };
    let workload = obj.meta().name.clone().unwrap_or_default();
    let template: Option<&mut PodTemplateSpec> = match obj {
        Object::Deployment(d) => d.spec.as_mut().map(|s| &mut s.template),
        Object::DaemonSet(d) => d.spec.as_mut().map(|s| &mut s.template),
        _ => None,
    };
    let Some(template) = template else {
        return Ok(Vec::new());
    };
    let volumes = template
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default();
    let mut digests = Vec::new();
    let mut missing = Vec::new();
    for v in volumes {
        if v.name == "config-volume" {
            continue;
        }
        let (kind, name, optional) = if let Some(secret) = &v.secret {
            (
                ManagedKind::Secret,
                secret.secret_name.clone().unwrap_or_default(),
                secret.optional == Some(true),
            )
        } else if let Some(cm) = &v.config_map {
            (
                ManagedKind::ConfigMap,
                cm.name.clone(),
                cm.optional == Some(true),
            )
        } else {
            continue;
        };
        match api(client, kind, Some(&ns)).get_opt(&name).await? {
            Some(found) => {
                let data =
                    serde_json::json!([found.data.get("data"), found.data.get("binaryData")]);
                digests.push((
                    format!("flows.netobserv.io/watched-{}", v.name),
                    crate::render::digest::digest(&data.to_string()),
                ));
            }
            None if !optional => missing.push(format!(
                "{} {ns}/{name} (mounted by {workload}) does not exist: its pods wait until it is created",
                kind.kind()
            )),
            None => {}
        }
    }
    if !digests.is_empty() {
        let meta = template.metadata.get_or_insert_with(Default::default);
        meta.annotations
            .get_or_insert_with(Default::default)
            .extend(digests);
    }
    Ok(missing)
}

/// An object found in the cluster, as far as pruning cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    /// Identity.
    pub key: ObjectKey,
    /// uids of its owners.
    pub owner_uids: Vec<String>,
    /// Value of the managed label.
    pub managed: Option<String>,
}

/// Objects to delete: labelled as ours (`netobserv-managed=true`), owned by this FlowCollector,
/// and absent from the desired set. Objects without our owner reference (user-created, or
/// explicitly opted out with `netobserv-managed=false`) are never touched.
pub fn prune_set(
    desired: &BTreeSet<ObjectKey>,
    existing: &[Existing],
    owner_uid: &str,
) -> Vec<ObjectKey> {
    existing
        .iter()
        .filter(|e| e.managed.as_deref() == Some("true"))
        .filter(|e| e.owner_uids.iter().any(|u| u == owner_uid))
        .filter(|e| !desired.contains(&e.key))
        .map(|e| e.key.clone())
        .collect()
}

impl Existing {
    /// What pruning needs of an object of `kind`.
    pub fn of(
        kind: ManagedKind,
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ) -> Self {
        Self {
            key: ObjectKey {
                kind,
                namespace: meta.namespace.clone(),
                name: meta.name.clone().unwrap_or_default(),
            },
            owner_uids: meta
                .owner_references
                .iter()
                .flatten()
                .map(|r| r.uid.clone())
                .collect(),
            managed: meta
                .labels
                .as_ref()
                .and_then(|l| l.get(MANAGED_LABEL).cloned()),
        }
    }
}

/// Deletes one object (foreground deletion is not needed: owned children have their own owner
/// references to the FlowCollector).
pub async fn delete(client: &Client, key: &ObjectKey) -> Result<()> {
    match api(client, key.kind, key.namespace.as_deref())
        .delete(&key.name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: ManagedKind, ns: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey {
            kind,
            namespace: ns.map(str::to_string),
            name: name.to_string(),
        }
    }

    fn existing(k: ObjectKey, owner: &str, managed: &str) -> Existing {
        Existing {
            key: k,
            owner_uids: vec![owner.to_string()],
            managed: Some(managed.to_string()),
        }
    }

    #[test]
    fn prunes_only_owned_labelled_undesired_objects() {
        let agent = key(
            ManagedKind::DaemonSet,
            Some("netobserv-privileged"),
            "netobserv-ebpf-agent",
        );
        let flp_ds = key(
            ManagedKind::DaemonSet,
            Some("netobserv"),
            "flowlogs-pipeline",
        );
        let user = key(ManagedKind::DaemonSet, Some("netobserv"), "user-thing");
        let opted_out = key(ManagedKind::ConfigMap, Some("netobserv"), "kept");
        let desired: BTreeSet<ObjectKey> = [agent.clone()].into_iter().collect();
        let found = vec![
            existing(agent, "uid-1", "true"),
            existing(flp_ds.clone(), "uid-1", "true"),
            existing(user, "someone-else", "true"),
            existing(opted_out, "uid-1", "false"),
        ];
        assert_eq!(prune_set(&desired, &found, "uid-1"), vec![flp_ds]);
    }
}
