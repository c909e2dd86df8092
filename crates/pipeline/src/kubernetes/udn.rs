//! The `udn` secondary index (OVN-Kubernetes User Defined Networks, `kubeConfig.secondaryNetworks`
//! with `index: {udn: {}}`).
//!
//! Pods on a UDN have addresses that other networks reuse, so an IP alone cannot name the pod.
//! The agent tags each interface of a flow with the (C)UDN its pod port belongs to (`Udns`, one
//! entry per `Interfaces` entry); the index keys pods by `<udn label>~<ip>` from their
//! `k8s.ovn.org/pod-networks` annotation, whose non-default entries are named after the network
//! attachment definition (`<namespace>/<nad>`) and list the pod's addresses on that network.
//!
//! The label must be the one the agent writes: `<namespace>/<name>` for a namespaced
//! `UserDefinedNetwork`, the bare name for a `ClusterUserDefinedNetwork` (whose NAD, in every
//! namespace it selects, has the CUDN's name). The annotation alone cannot tell which, so the
//! (C)UDN objects are watched: a known UDN keeps `ns/name`, a known CUDN gives `name`, and when
//! neither is known (CRDs missing or not listed yet) the pod is indexed under both, so that
//! enrichment degrades to "may match either" rather than to "never matches".

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

/// OVN-Kubernetes pod annotation listing the pod's networks and its addresses on each.
pub const POD_NETWORKS_ANNOTATION: &str = "k8s.ovn.org/pod-networks";
/// Key of the cluster's default network in [`POD_NETWORKS_ANNOTATION`].
pub const DEFAULT_NETWORK: &str = "default";
/// API group of the (C)UDN custom resources.
pub const GROUP: &str = "k8s.ovn.org";

/// The index key of a pod address on a UDN: `<label>~<ip>` (canonical IP text).
pub fn udn_key(label: &str, ip: &str) -> String {
    format!("{label}~{ip}")
}

/// One non-default network of a pod, from its annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UdnAttachment {
    /// Namespace of the network attachment definition (the pod's, for a (C)UDN).
    pub namespace: String,
    /// Name of the network attachment definition (the (C)UDN's name).
    pub name: String,
    /// The pod's addresses on that network, canonical text without prefix length.
    pub ips: Vec<String>,
}

/// One entry of the pod-networks annotation (only what the index reads).
#[derive(Deserialize)]
struct PodNetwork {
    #[serde(default)]
    ip_addresses: Vec<String>,
    /// Older OVN-Kubernetes releases wrote a single address.
    #[serde(default)]
    ip_address: String,
}

/// `10.1.0.5/24` (or a bare address) → `10.1.0.5`, canonical; `None` if it does not parse.
fn address(cidr: &str) -> Option<String> {
    let ip = cidr.split('/').next().unwrap_or_default();
    ip.parse::<IpAddr>().ok().map(|a| a.to_string())
}

/// The pod's non-default networks from [`POD_NETWORKS_ANNOTATION`]; an unreadable annotation is
/// logged and yields none (the pod is still found by its cluster IP).
pub(crate) fn pod_attachments(meta: &ObjectMeta) -> Vec<UdnAttachment> {
    let Some(text) = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_NETWORKS_ANNOTATION))
    else {
        return Vec::new();
    };
    let networks: BTreeMap<String, PodNetwork> = match serde_json::from_str(text) {
        Ok(n) => n,
        Err(e) => {
            tracing::info!(
                pod = %format!("{}/{}", meta.namespace.as_deref().unwrap_or_default(),
                    meta.name.as_deref().unwrap_or_default()),
                error = %e,
                "unreadable {POD_NETWORKS_ANNOTATION} annotation: user-defined networks not indexed"
            );
            return Vec::new();
        }
    };
    networks
        .into_iter()
        .filter(|(key, _)| key != DEFAULT_NETWORK)
        .filter_map(|(key, net)| {
            let (namespace, name) = key.split_once('/')?;
            let mut ips: Vec<String> = net.ip_addresses.iter().filter_map(|c| address(c)).collect();
            if ips.is_empty()
                && let Some(ip) = address(&net.ip_address)
            {
                ips.push(ip);
            }
            (!ips.is_empty()).then(|| UdnAttachment {
                namespace: namespace.to_string(),
                name: name.to_string(),
                ips,
            })
        })
        .collect()
}

/// The (C)UDN objects seen, to tell a UDN's NAD from a CUDN's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UdnRegistry {
    /// Namespaced UDNs, as `ns/name`.
    udns: HashSet<String>,
    /// Cluster UDN names.
    cudns: HashSet<String>,
}

impl UdnRegistry {
    /// The labels flows carry for an attachment to NAD `namespace/name` (see the module doc).
    pub(crate) fn labels(&self, namespace: &str, name: &str) -> Vec<String> {
        let namespaced = format!("{namespace}/{name}");
        if self.udns.contains(&namespaced) {
            vec![namespaced]
        } else if self.cudns.contains(name) {
            vec![name.to_string()]
        } else {
            vec![namespaced, name.to_string()]
        }
    }

    /// Adds a namespaced UDN; whether it was new.
    pub(crate) fn add_udn(&mut self, meta: &ObjectMeta) -> bool {
        self.udns.insert(namespaced_name(meta))
    }

    /// Removes a namespaced UDN; whether it was there.
    pub(crate) fn remove_udn(&mut self, meta: &ObjectMeta) -> bool {
        self.udns.remove(&namespaced_name(meta))
    }

    /// Adds a cluster UDN; whether it was new.
    pub(crate) fn add_cudn(&mut self, meta: &ObjectMeta) -> bool {
        self.cudns.insert(meta.name.clone().unwrap_or_default())
    }

    /// Removes a cluster UDN; whether it was there.
    pub(crate) fn remove_cudn(&mut self, meta: &ObjectMeta) -> bool {
        self.cudns.remove(meta.name.as_deref().unwrap_or_default())
    }

    /// Forgets every namespaced UDN (before a re-list).
    pub(crate) fn clear_udns(&mut self) {
        self.udns.clear();
    }

    /// Forgets every cluster UDN (before a re-list).
    pub(crate) fn clear_cudns(&mut self) {
        self.cudns.clear();
    }

    /// Number of (UDNs, CUDNs) known.
    pub fn counts(&self) -> (usize, usize) {
        (self.udns.len(), self.cudns.len())
    }
}

fn namespaced_name(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// A `k8s.ovn.org/v1` `UserDefinedNetwork`, metadata only: the index needs its name, and the
/// watcher asks for metadata so a large spec never crosses the wire.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct UserDefinedNetwork {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
}

/// A `k8s.ovn.org/v1` `ClusterUserDefinedNetwork`, metadata only.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ClusterUserDefinedNetwork {
    /// Object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
}

/// `kube::Resource` by hand: two tiny types are lighter than generating full CRD types (and
/// their schemas) for the one field the index reads.
macro_rules! ovn_resource {
    ($ty:ty, $kind:literal, $plural:literal, $scope:ty) => {
        impl kube::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;
            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(GROUP)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed("v1")
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

ovn_resource!(
    UserDefinedNetwork,
    "UserDefinedNetwork",
    "userdefinednetworks",
    k8s_openapi::NamespaceResourceScope
);
ovn_resource!(
    ClusterUserDefinedNetwork,
    "ClusterUserDefinedNetwork",
    "clusteruserdefinednetworks",
    k8s_openapi::ClusterResourceScope
);

/// The metadata of a (C)UDN object, whichever form the watcher or a test hands over.
pub(crate) trait UdnObject {
    /// Its metadata.
    fn udn_meta(&self) -> &ObjectMeta;
}

impl UdnObject for UserDefinedNetwork {
    fn udn_meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl UdnObject for ClusterUserDefinedNetwork {
    fn udn_meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl<K> UdnObject for PartialObjectMeta<K> {
    fn udn_meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(annotation: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(json!({"name": "p", "namespace": "tenant-a",
            "annotations": {POD_NETWORKS_ANNOTATION: annotation.to_string()}}))
        .expect("meta")
    }

    #[test]
    fn non_default_networks_and_their_addresses() {
        let m = meta(json!({
            "default": {"ip_addresses": ["10.244.1.6/24"], "role": "infrastructure-locked"},
            "tenant-a/primary-udn": {"ip_addresses": ["10.100.1.5/24", "fd99::5/64"], "role": "primary"},
            "tenant-a/old": {"ip_address": "192.168.5.5/24"},
            "tenant-a/none": {"ip_addresses": []},
            "nonamespace": {"ip_addresses": ["1.2.3.4/32"]}
        }));
        let a = pod_attachments(&m);
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!(a[0].name, "old");
        assert_eq!(a[0].ips, vec!["192.168.5.5"]);
        assert_eq!(a[1].namespace, "tenant-a");
        assert_eq!(a[1].name, "primary-udn");
        assert_eq!(a[1].ips, vec!["10.100.1.5", "fd99::5"]);
        assert!(pod_attachments(&meta(json!("not a map"))).is_empty());
    }

    #[test]
    fn labels_follow_the_known_objects() {
        let mut r = UdnRegistry::default();
        let both = vec!["ns/x".to_string(), "x".to_string()];
        assert_eq!(r.labels("ns", "x"), both);
        let udn: ObjectMeta =
            serde_json::from_value(json!({"name": "x", "namespace": "ns"})).expect("udn");
        assert!(r.add_udn(&udn));
        assert_eq!(r.labels("ns", "x"), vec!["ns/x"]);
        assert!(r.remove_udn(&udn));
        let cudn: ObjectMeta = serde_json::from_value(json!({"name": "x"})).expect("cudn");
        assert!(r.add_cudn(&cudn));
        assert_eq!(r.labels("ns", "x"), vec!["x"]);
        assert_eq!(r.counts(), (0, 1));
    }
}
