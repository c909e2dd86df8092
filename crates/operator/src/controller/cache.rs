//! Watch-backed caches: the objects the controller watches anyway (managed children, the
//! components' pods, FlowMetrics), kept in reflector stores so that a reconcile answers pruning,
//! workload status and FlowMetric lookups from memory instead of listing 16 kinds cluster-wide
//! every time. The same watch streams trigger reconciles (see [`super::run`]).
//!
//! A store is used only once its initial list is complete; before that (and for kinds whose API
//! appeared after start, which have no watch), the reconcile falls back to the API.

use super::apply::Existing;
use crate::render::{MANAGED_LABEL, ManagedKind, ObjectKey};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use netobserv_api::v1alpha1::FlowMetric;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tracing::warn;

use super::observed::ObservedFlowCollector;

/// The FlowCollector a managed child belongs to: `cluster`, when the child carries an owner
/// reference to a FlowCollector.
pub fn owner_of<K: Resource>(child: &K) -> Option<ObjectRef<ObservedFlowCollector>> {
    child
        .owner_references()
        .iter()
        .any(|r| r.kind == "FlowCollector" && r.api_version.starts_with("flows.netobserv.io/"))
        .then(cluster)
}

/// Label selector of the components' pods (their `app` labels).
pub fn component_pods_selector() -> String {
    use crate::render::{agent::AGENT_NAME, flp, plugin::PLUGIN_NAME};
    format!(
        "app in ({AGENT_NAME},{},{},{PLUGIN_NAME})",
        flp::FLP_NAME,
        flp::FLP_TRANSFORMER_NAME
    )
}

/// The stores a reconcile reads.
#[derive(Clone, Default)]
pub struct Caches {
    managed: BTreeMap<ManagedKind, Store<DynamicObject>>,
    pods: Option<Store<Pod>>,
    flow_metrics: Option<Store<FlowMetric>>,
}

/// A reconcile trigger: a watch stream mapped to the FlowCollector. Watch errors are logged
/// (at most once per backoff step) and do not reach the controller.
pub type Trigger = BoxStream<'static, ObjectRef<ObservedFlowCollector>>;

fn cluster() -> ObjectRef<ObservedFlowCollector> {
    ObjectRef::new(netobserv_api::crd::FLOWCOLLECTOR_NAME)
}

fn logged<T>(what: &'static str, r: Result<T, watcher::Error>) -> Option<T> {
    r.map_err(|error| warn!(%error, watch = what, "watch failed; retrying with backoff"))
        .ok()
}

fn ready<K>(store: &Store<K>) -> bool
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    matches!(store.wait_until_ready().now_or_never(), Some(Ok(())))
}

impl Caches {
    /// Builds a store and a trigger stream for every managed kind the cluster serves
    /// (`available_apis`), the components' pods and FlowMetrics.
    pub fn start(client: &Client, available_apis: &BTreeSet<String>) -> (Self, Vec<Trigger>) {
        let mut caches = Self::default();
        let mut triggers = Vec::new();
        let managed = || watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
        for kind in ManagedKind::ALL {
            if kind
                .optional_api()
                .is_some_and(|api| !available_apis.contains(api))
            {
                continue;
            }
            let ar = kind.api_resource();
            let writer = Writer::<DynamicObject>::new(ar.clone());
            caches.managed.insert(*kind, writer.as_reader());
            let stream = watcher(
                Api::<DynamicObject>::all_with(client.clone(), &ar),
                managed(),
            )
            .default_backoff()
            .reflect(writer)
            .touched_objects()
            .filter_map(move |r| async move { logged(kind.kind(), r).and_then(|o| owner_of(&o)) })
            .boxed();
            triggers.push(stream);
        }
        let (pods, writer) = reflector::store::<Pod>();
        caches.pods = Some(pods);
        let selector = component_pods_selector();
        triggers.push(
            watcher(
                Api::<Pod>::all(client.clone()),
                watcher::Config::default().labels(&selector),
            )
            .default_backoff()
            .reflect(writer)
            .touched_objects()
            .filter_map(|r| async move { logged("Pod", r).map(|_| cluster()) })
            .boxed(),
        );
        let (flow_metrics, writer) = reflector::store::<FlowMetric>();
        caches.flow_metrics = Some(flow_metrics);
        triggers.push(
            watcher(
                Api::<FlowMetric>::all(client.clone()),
                watcher::Config::default(),
            )
            .default_backoff()
            .reflect(writer)
            .touched_objects()
            .filter_map(|r| async move { logged("FlowMetric", r).map(|_| cluster()) })
            .boxed(),
        );
        (caches, triggers)
    }

    /// Managed objects of `kind` (labelled `netobserv-managed=true`), when cached.
    pub fn managed(&self, kind: ManagedKind) -> Option<Vec<Existing>> {
        let store = self.managed.get(&kind).filter(|s| ready(*s))?;
        Some(
            store
                .state()
                .iter()
                .map(|o| Existing::of(kind, &o.metadata))
                .collect(),
        )
    }

    /// Objects of `kind` carrying our label, cluster-wide: from the cache when it has them,
    /// else listed from the API.
    pub async fn managed_or_list(
        &self,
        client: &Client,
        kind: ManagedKind,
    ) -> crate::error::Result<Vec<Existing>> {
        if let Some(cached) = self.managed(kind) {
            return Ok(cached);
        }
        let lp = kube::api::ListParams::default().labels(&format!("{MANAGED_LABEL}=true"));
        let list = super::apply::api(client, kind, None).list(&lp).await?;
        Ok(list
            .items
            .iter()
            .map(|o| Existing::of(kind, &o.metadata))
            .collect())
    }

    /// One managed object, when its kind is cached: `Some(None)` means it does not exist.
    pub fn managed_object(&self, key: &ObjectKey) -> Option<Option<Arc<DynamicObject>>> {
        let store = self.managed.get(&key.kind).filter(|s| ready(*s))?;
        Some(store.find(|o| {
            o.metadata.name.as_deref() == Some(key.name.as_str())
                && o.metadata.namespace == key.namespace
        }))
    }

    /// Pods of a component (`app` label) in a namespace, when cached.
    pub fn pods(&self, ns: &str, app: &str) -> Option<Vec<Pod>> {
        let store = self.pods.as_ref().filter(|s| ready(*s))?;
        Some(
            store
                .state()
                .iter()
                .filter(|p| {
                    p.metadata.namespace.as_deref() == Some(ns)
                        && p.labels().get("app").map(String::as_str) == Some(app)
                })
                .map(|p| (**p).clone())
                .collect(),
        )
    }

    /// Every FlowMetric, when cached.
    pub fn flow_metrics(&self) -> Option<Vec<FlowMetric>> {
        let store = self.flow_metrics.as_ref().filter(|s| ready(*s))?;
        Some(store.state().iter().map(|f| (**f).clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    #[test]
    fn namespaced_children_map_to_the_cluster_scoped_owner() {
        let mut cm = ConfigMap::default();
        cm.metadata.namespace = Some("netobserv".into());
        assert_eq!(owner_of(&cm), None, "not ours without an owner reference");
        cm.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "flows.netobserv.io/v1beta2".into(),
            kind: "FlowCollector".into(),
            name: "cluster".into(),
            uid: "u".into(),
            ..OwnerReference::default()
        }]);
        let owner = owner_of(&cm).expect("mapped");
        assert_eq!(owner.name, "cluster");
        assert_eq!(owner.namespace, None, "the FlowCollector is cluster-scoped");
    }
}
