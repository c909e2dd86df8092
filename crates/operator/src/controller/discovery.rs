//! Cluster facts: which optional APIs are served (ServiceMonitor, PrometheusRule, ConsolePlugin,
//! SCC, LokiStack), the platform, node count and a CNI guess. Run at start and periodically; a
//! missing API degrades the rendering, it never fails the operator.

use crate::render::OPTIONAL_APIS;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, ListParams};
use netobserv_api::validate::{ClusterFacts, Cni, Platform};
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
        (Platform::OpenShift(v), true) => Platform::OpenShift(*v),
        (_, true) => Platform::OpenShift(None),
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
