//! Cluster facts: which optional APIs are served (ServiceMonitor, PrometheusRule, ConsolePlugin,
//! SCC, LokiStack), the platform, node count and a CNI guess. Run at start and periodically; a
//! missing API degrades the rendering, it never fails the operator.

use crate::render::OPTIONAL_APIS;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, ListParams};
use kube::core::{ApiResource, DynamicObject};
use netobserv_api::validate::{ClusterFacts, Cni, OpenShiftVersion, Platform};
use tracing::{debug, warn};

/// Whether the cluster serves `group/version/Kind`.
async fn serves(client: &Client, key: &str) -> Result<bool, kube::Error> {
    let Some((gv, kind)) = key.rsplit_once('/') else {
        return Ok(false);
    };
    match client.list_api_group_resources(gv).await {
        Ok(list) => Ok(list.resources.iter().any(|r| r.kind == kind)),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// The OpenShift version from the `ClusterVersion` named `version`: the completed update in
/// `status.history` when there is one (what runs), else `status.desired.version`.
pub fn openshift_version(cluster_version: &serde_json::Value) -> Option<OpenShiftVersion> {
    let status = cluster_version.get("status")?;
    let completed = status
        .get("history")
        .and_then(|h| h.as_array())
        .and_then(|h| {
            h.iter()
                .find(|e| e.get("state").and_then(|s| s.as_str()) == Some("Completed"))
        })
        .and_then(|e| e.get("version"))
        .and_then(|v| v.as_str());
    let desired = status.pointer("/desired/version").and_then(|v| v.as_str());
    completed.or(desired)?.parse().ok()
}

async fn read_openshift_version(client: &Client) -> Option<OpenShiftVersion> {
    let resource = ApiResource {
        group: "config.openshift.io".into(),
        version: "v1".into(),
        api_version: "config.openshift.io/v1".into(),
        kind: "ClusterVersion".into(),
        plural: "clusterversions".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    match api.get_opt("version").await {
        Ok(Some(cv)) => openshift_version(&cv.data),
        Ok(None) => None,
        Err(e) => {
            warn!(error = %e, "cannot read the OpenShift ClusterVersion; feature version checks are skipped");
            None
        }
    }
}

/// Discovers the facts. APIs seen before (`previous`) stay known when a later probe errors, so a
/// transient failure does not remove ServiceMonitors and the like.
pub async fn discover(client: &Client, previous: &ClusterFacts) -> ClusterFacts {
    let mut facts = previous.clone();
    for key in OPTIONAL_APIS {
        match serves(client, key).await {
            Ok(true) => {
                facts.available_apis.insert((*key).to_string());
            }
            Ok(false) => {
                facts.available_apis.remove(*key);
            }
            Err(e) => warn!(api = key, error = %e, "API discovery failed; keeping previous answer"),
        }
    }
    let openshift = facts.available_apis.contains(crate::render::API_SCC);
    facts.platform = match (&previous.platform, openshift) {
        (_, true) => match read_openshift_version(client).await {
            Some(v) => Platform::OpenShift(Some(v)),
            // Keep a version read earlier rather than forget it on a transient error.
            None => match &previous.platform {
                Platform::OpenShift(v) => Platform::OpenShift(*v),
                _ => Platform::OpenShift(None),
            },
        },
        (_, false) => Platform::Kubernetes,
    };
    match Api::<Node>::all(client.clone())
        .list_metadata(&ListParams::default())
        .await
    {
        Ok(nodes) => {
            facts.node_count = u32::try_from(nodes.items.len()).ok();
            let ovn = nodes.items.iter().any(|n| {
                n.metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key("k8s.ovn.org/host-cidrs"))
            });
            if ovn {
                facts.cni = Some(Cni::OvnKubernetes);
            } else {
                let kindnet = Api::<DaemonSet>::namespaced(client.clone(), "kube-system")
                    .get_opt("kindnet")
                    .await
                    .ok()
                    .flatten()
                    .is_some();
                facts.cni = Some(if kindnet { Cni::Kindnet } else { Cni::Unknown });
            }
        }
        Err(e) => warn!(error = %e, "cannot list nodes; node count and CNI unknown"),
    }
    debug!(?facts, "cluster facts");
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_comes_from_the_completed_update() {
        let cv = json!({"status": {
            "desired": {"version": "4.19.2"},
            "history": [
                {"state": "Partial", "version": "4.19.2"},
                {"state": "Completed", "version": "4.18.7"}
            ]
        }});
        assert_eq!(
            openshift_version(&cv),
            Some(OpenShiftVersion::new(4, 18, 7))
        );
        let fresh = json!({"status": {"desired": {"version": "4.20.0-rc.1"}}});
        assert_eq!(
            openshift_version(&fresh),
            Some(OpenShiftVersion::new(4, 20, 0))
        );
        assert_eq!(openshift_version(&json!({"status": {}})), None);
    }
}
