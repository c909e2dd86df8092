//! Reads back the components' workloads and pods for the status, from the watch caches when they
//! are there (a running controller), else from the API (single reconciles in tests).

use super::cache::Caches;
use super::status::{self, Observed, Workload};
use crate::error::{Error, Result};
use crate::render::{self, ManagedKind, ObjectKey};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use netobserv_api::v1beta2::FlowCollector;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;

async fn pods(client: &Client, caches: &Caches, ns: &str, app: &str) -> Result<Vec<Pod>> {
    if let Some(cached) = caches.pods(ns, app) {
        return Ok(cached);
    }
    Ok(Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?
        .items)
}

/// A workload by key: from the cache (converted to its type) or a GET.
async fn workload<K>(client: &Client, caches: &Caches, key: &ObjectKey) -> Result<Option<K>>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + DeserializeOwned
        + Clone
        + std::fmt::Debug,
{
    let ns = key.namespace.clone().unwrap_or_default();
    match caches.managed_object(key) {
        Some(cached) => cached
            .map(|o| {
                serde_json::to_value(&*o)
                    .and_then(serde_json::from_value)
                    .map_err(|source| Error::Serialize {
                        what: key.to_string(),
                        source,
                    })
            })
            .transpose(),
        None => Ok(Api::<K>::namespaced(client.clone(), &ns)
            .get_opt(&key.name)
            .await?),
    }
}

async fn observe_one(
    client: &Client,
    caches: &Caches,
    kind: ManagedKind,
    ns: &str,
    name: &str,
) -> Result<Observed> {
    let key = ObjectKey {
        kind,
        namespace: Some(ns.to_string()),
        name: name.to_string(),
    };
    let workload = if kind == ManagedKind::DaemonSet {
        workload::<DaemonSet>(client, caches, &key)
            .await?
            .map_or(Workload::Missing("DaemonSet"), |d| {
                Workload::DaemonSet(Box::new(d))
            })
    } else {
        workload::<Deployment>(client, caches, &key)
            .await?
            .map_or(Workload::Missing("Deployment"), |d| {
                Workload::Deployment(Box::new(d))
            })
    };
    Ok(Observed {
        workload,
        pods: pods(client, caches, ns, name).await?,
    })
}

/// The observed state of the agent, the processor and the console plugin, for those desired.
pub async fn observe(
    client: &Client,
    caches: &Caches,
    fc: &FlowCollector,
    desired: &BTreeSet<ObjectKey>,
) -> Result<status::ComponentsObserved> {
    use render::agent::AGENT_NAME;
    use render::flp::{FLP_NAME, FLP_TRANSFORMER_NAME};
    use render::plugin::PLUGIN_NAME;
    let ns = render::namespace(&fc.spec).to_string();
    let pns = render::privileged_namespace(&fc.spec);
    let first_desired = |candidates: &[(ManagedKind, &str, &'static str)]| {
        candidates.iter().find_map(|(kind, ns, name)| {
            desired
                .contains(&ObjectKey {
                    kind: *kind,
                    namespace: Some((*ns).to_string()),
                    name: (*name).to_string(),
                })
                .then(|| (*kind, (*ns).to_string(), *name))
        })
    };
    let mut observed = Vec::new();
    for candidates in [
        vec![(ManagedKind::DaemonSet, pns.as_str(), AGENT_NAME)],
        vec![
            (ManagedKind::DaemonSet, ns.as_str(), FLP_NAME),
            (ManagedKind::Deployment, ns.as_str(), FLP_NAME),
            (ManagedKind::Deployment, ns.as_str(), FLP_TRANSFORMER_NAME),
        ],
        vec![(ManagedKind::Deployment, ns.as_str(), PLUGIN_NAME)],
    ] {
        observed.push(match first_desired(&candidates) {
            Some((kind, ns, name)) => observe_one(client, caches, kind, &ns, name).await?,
            None => Observed::default(),
        });
    }
    let mut it = observed.into_iter();
    Ok(status::ComponentsObserved {
        agent: it.next().unwrap_or_default(),
        processor: it.next().unwrap_or_default(),
        plugin: it.next().unwrap_or_default(),
    })
}
