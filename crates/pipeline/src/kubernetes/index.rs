//! The in-memory index `add_kubernetes` queries: IP (or secondary-network key) → the Pod, Node or
//! Service that owns it, stripped to the few metadata fields the enrichment writes.
//!
//! It is pure and synchronous: watchers (or tests) feed it with [`KubeIndex::apply`] and
//! [`KubeIndex::delete`]; the network stage queries it with [`KubeIndex::lookup`] under a read
//! lock, without any I/O.

use super::udn::{UdnAttachment, UdnRegistry, pod_attachments, udn_key};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::PartialObjectMeta;
use serde::Deserialize;
use std::net::IpAddr;

/// The index's maps are read for every flow (twice): a fast non-cryptographic hasher. Keys come
/// from the API server, not from the flows.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

/// Node label holding the node's availability zone (`SrcK8S_Zone`).
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Multus pod annotation listing the pod's network attachments.
pub const NETWORK_STATUS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/network-status";
/// OVN-Kubernetes node annotation with the node's pod subnets (its mp0 port is the first host).
pub const OVN_NODE_SUBNETS_ANNOTATION: &str = "k8s.ovn.org/node-subnets";
/// `NetworkName` of matches on the cluster's default network.
pub const PRIMARY_NETWORK: &str = "primary";

/// The kind of object an address belongs to; its name is what `*_Type` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A pod (not host-networked).
    Pod,
    /// A node (also host-networked pods).
    Node,
    /// A service's cluster IP.
    Service,
}

impl Kind {
    /// The Kubernetes kind name written to `*_Type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Node => "Node",
            Kind::Service => "Service",
        }
    }
}

/// Which parts of a secondary-network attachment identify it (`kubeConfig.secondaryNetworks[].index`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecondaryNetwork {
    /// Only network-status entries of this name are indexed; empty matches every non-default entry.
    pub name: String,
    /// Index by MAC address.
    pub mac: bool,
    /// Index by IP address (one key per IP).
    pub ip: bool,
    /// Index by interface name.
    pub interface: bool,
}

/// Settings that change what the index extracts from objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexSettings {
    /// Secondary networks to index pods by (Multus network-status).
    pub secondary_networks: Vec<SecondaryNetwork>,
    /// Whether nodes also own their OVN-Kubernetes management port IP (`managedCNI` has `ovn`).
    pub ovn: bool,
    /// Whether pods are indexed by user-defined network (a secondary network indexed by `udn`):
    /// `<udn label>~<ip>` from their `k8s.ovn.org/pod-networks` annotation.
    pub udn: bool,
    /// Whether object labels are kept (some rule has a `labels_prefix`).
    pub keep_labels: bool,
    /// `trackedKinds`: when it lists `ReplicaSet` but not the ReplicaSet's owner kind, the
    /// ReplicaSet stays the owner. Empty means "resolve ReplicaSet → its owner".
    pub tracked_kinds: Vec<String>,
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            secondary_networks: Vec::new(),
            ovn: true,
            udn: false,
            keep_labels: false,
            tracked_kinds: Vec::new(),
        }
    }
}

/// What is kept of one Pod, Node or Service.
#[derive(Debug, PartialEq)]
struct Meta {
    kind: Kind,
    namespace: String,
    name: String,
    owner_kind: String,
    owner_name: String,
    host_ip: String,
    host_name: String,
    /// Nodes only: the zone label.
    zone: Option<String>,
    labels: Vec<(String, String)>,
    ips: Vec<IpAddr>,
    /// Pods only: (secondary network key, network name).
    keys: Vec<(String, String)>,
    /// Pods only, with the `udn` index: their non-default OVN networks.
    udn: Vec<UdnAttachment>,
    /// False for pods that terminated (`Succeeded` / `Failed`): their IP may already belong to
    /// a new pod, which then wins the lookup.
    live: bool,
}

type Entries = HashMap<IpAddr, Vec<Arc<Meta>>>;

/// The enrichment data of one address, borrowed from the index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KubeInfo<'a> {
    /// Pod, Node or Service.
    pub kind: Kind,
    /// Empty for nodes.
    pub namespace: &'a str,
    /// The object's name.
    pub name: &'a str,
    /// Owner kind after ReplicaSet resolution (`Deployment`, `DaemonSet`, the kind itself...).
    pub owner_kind: &'a str,
    /// Owner name after ReplicaSet resolution.
    pub owner_name: &'a str,
    /// The node IP (empty for services).
    pub host_ip: &'a str,
    /// The node name (empty when unknown).
    pub host_name: &'a str,
    /// The node's zone label, for pods and nodes.
    pub zone: Option<&'a str>,
    /// `primary` or the secondary network's name.
    pub network_name: &'a str,
    /// The object's labels (only when the index keeps labels).
    pub labels: &'a [(String, String)],
}

/// IP / secondary-key → object index over Pods, Nodes, Services, plus ReplicaSet owners.
#[derive(Debug, Default)]
pub struct KubeIndex {
    settings: IndexSettings,
    pods: HashMap<String, Arc<Meta>>,
    nodes: HashMap<String, Arc<Meta>>,
    services: HashMap<String, Arc<Meta>>,
    /// Namespace → ReplicaSet name → its first owner (kind, name); nested so that lookups
    /// borrow the pod's strings instead of formatting a key.
    replica_sets: HashMap<String, HashMap<String, (String, String)>>,
    pod_ips: Entries,
    node_ips: Entries,
    service_ips: Entries,
    pod_keys: HashMap<String, Vec<(Arc<Meta>, usize)>>,
    /// `<udn label>~<ip>` → the pods holding it, with the label (their `NetworkName`).
    udn_keys: HashMap<String, Vec<(Arc<Meta>, String)>>,
    /// The (C)UDN objects known, which decide the labels.
    udn_registry: UdnRegistry,
}

/// A Kubernetes object the index knows how to extract; implemented for the typed objects the
/// watchers deliver so that tests feed the index with the very same types.
pub trait Indexed {
    /// Adds or replaces the object.
    fn apply_to(&self, index: &mut KubeIndex);
    /// Removes the object.
    fn delete_from(&self, index: &mut KubeIndex);
    /// Removes every object of this kind (before a full re-list).
    fn clear_kind(index: &mut KubeIndex);
}

fn object_key(meta: &ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

fn first_owner(meta: &ObjectMeta) -> Option<(String, String)> {
    meta.owner_references
        .as_ref()
        .and_then(|o| o.first())
        .map(|o| (o.kind.clone(), o.name.clone()))
}

/// One entry of the Multus network-status annotation.
#[derive(Deserialize)]
struct NetworkStatus {
    #[serde(default)]
    name: String,
    #[serde(default)]
    interface: String,
    #[serde(default)]
    ips: Vec<String>,
    #[serde(default)]
    mac: String,
    #[serde(default)]
    default: bool,
}

/// The key of a secondary attachment: `<interface>~<ip>~<lowercase mac>`, unused parts empty.
pub fn secondary_key(interface: &str, ip: &str, mac: &str) -> String {
    format!("{interface}~{ip}~{}", mac.to_ascii_lowercase())
}

impl KubeIndex {
    /// An empty index that extracts what `settings` asks for.
    pub fn new(settings: IndexSettings) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// The settings the index was built with.
    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    /// Adds or replaces an object.
    pub fn apply<T: Indexed>(&mut self, object: &T) {
        object.apply_to(self);
    }

    /// Removes an object.
    pub fn delete<T: Indexed>(&mut self, object: &T) {
        object.delete_from(self);
    }

    /// Replaces every object of kind `T` with `objects` (a watcher's re-list).
    pub fn replace_all<T: Indexed>(&mut self, objects: &[T]) {
        T::clear_kind(self);
        for object in objects {
            object.apply_to(self);
        }
    }

    /// Number of (pods, nodes, services, replica sets) indexed, for logs and tests.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.pods.len(),
            self.nodes.len(),
            self.services.len(),
            self.replica_sets.values().map(HashMap::len).sum(),
        )
    }

    fn insert(
        map: &mut HashMap<String, Arc<Meta>>,
        ips: &mut Entries,
        key: String,
        meta: Meta,
    ) -> Arc<Meta> {
        let meta = Arc::new(meta);
        if let Some(old) = map.insert(key, meta.clone()) {
            unindex(ips, &old);
        }
        for ip in &meta.ips {
            ips.entry(*ip).or_default().push(meta.clone());
        }
        meta
    }

    fn remove(
        map: &mut HashMap<String, Arc<Meta>>,
        ips: &mut Entries,
        key: &str,
    ) -> Option<Arc<Meta>> {
        let old = map.remove(key)?;
        unindex(ips, &old);
        Some(old)
    }

    fn unindex_keys(&mut self, meta: &Arc<Meta>) {
        for (key, _) in &meta.keys {
            if let Some(list) = self.pod_keys.get_mut(key) {
                list.retain(|(m, _)| !Arc::ptr_eq(m, meta));
                if list.is_empty() {
                    self.pod_keys.remove(key);
                }
            }
        }
    }

    fn pod_meta(&self, pod: &Pod) -> Meta {
        let m = &pod.metadata;
        let name = m.name.clone().unwrap_or_default();
        let status = pod.status.as_ref();
        let host_ip = status.and_then(|s| s.host_ip.clone()).unwrap_or_default();
        let mut ips: Vec<IpAddr> = status
            .and_then(|s| s.pod_ips.as_ref())
            .map(|list| list.iter().map(|p| p.ip.as_str()).collect::<Vec<_>>())
            .filter(|list| !list.is_empty())
            .or_else(|| status.and_then(|s| s.pod_ip.as_deref()).map(|ip| vec![ip]))
            .unwrap_or_default()
            .into_iter()
            // A host-networked pod shares the node's IP: leave that address to the node.
            .filter(|ip| *ip != host_ip)
            .filter_map(|ip| ip.parse().ok())
            .collect();
        ips.dedup();
        let (owner_kind, owner_name) =
            first_owner(m).unwrap_or_else(|| ("Pod".to_string(), name.clone()));
        Meta {
            kind: Kind::Pod,
            namespace: m.namespace.clone().unwrap_or_default(),
            owner_kind,
            owner_name,
            host_name: pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default(),
            host_ip,
            zone: None,
            labels: self.labels_of(m),
            ips,
            keys: self.secondary_keys(m),
            udn: if self.settings.udn {
                pod_attachments(m)
            } else {
                Vec::new()
            },
            name,
            live: !matches!(
                status.and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            ),
        }
    }

    fn labels_of(&self, meta: &ObjectMeta) -> Vec<(String, String)> {
        if !self.settings.keep_labels {
            return Vec::new();
        }
        meta.labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The pod's keys for each configured secondary network, from the Multus annotation.
    fn secondary_keys(&self, meta: &ObjectMeta) -> Vec<(String, String)> {
        if self.settings.secondary_networks.is_empty() {
            return Vec::new();
        }
        let Some(text) = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(NETWORK_STATUS_ANNOTATION))
        else {
            return Vec::new();
        };
        let statuses: Vec<NetworkStatus> = match serde_json::from_str(text) {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(
                    pod = %object_key(meta),
                    error = %e,
                    "unreadable {NETWORK_STATUS_ANNOTATION} annotation: secondary networks not indexed"
                );
                return Vec::new();
            }
        };
        let mut keys = Vec::new();
        for status in statuses.iter().filter(|s| !s.default) {
            for net in &self.settings.secondary_networks {
                if !net.name.is_empty() && net.name != status.name {
                    continue;
                }
                let interface = if net.interface {
                    status.interface.as_str()
                } else {
                    ""
                };
                let mac = if net.mac { status.mac.as_str() } else { "" };
                if net.ip {
                    for ip in &status.ips {
                        let ip = ip
                            .parse::<IpAddr>()
                            .map(|a| a.to_string())
                            .unwrap_or_else(|_| ip.clone());
                        keys.push((secondary_key(interface, &ip, mac), status.name.clone()));
                    }
                } else {
                    keys.push((secondary_key(interface, "", mac), status.name.clone()));
                }
            }
        }
        keys
    }

    fn node_meta(&self, node: &Node) -> Meta {
        let m = &node.metadata;
        let name = m.name.clone().unwrap_or_default();
        let mut ips: Vec<IpAddr> = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|a| a.address.parse().ok())
            .collect();
        let host_ip = ips.first().map(IpAddr::to_string).unwrap_or_default();
        if self.settings.ovn {
            ips.extend(ovn_management_ips(m));
        }
        let mut seen = Vec::with_capacity(ips.len());
        ips.retain(|ip| {
            let new = !seen.contains(ip);
            seen.push(*ip);
            new
        });
        Meta {
            kind: Kind::Node,
            namespace: String::new(),
            owner_kind: "Node".to_string(),
            owner_name: name.clone(),
            host_ip,
            host_name: name.clone(),
            zone: m.labels.as_ref().and_then(|l| l.get(ZONE_LABEL)).cloned(),
            labels: self.labels_of(m),
            ips,
            keys: Vec::new(),
            udn: Vec::new(),
            name,
            live: true,
        }
    }

    fn service_meta(&self, service: &Service) -> Meta {
        let m = &service.metadata;
        let name = m.name.clone().unwrap_or_default();
        let spec = service.spec.as_ref();
        let mut ips: Vec<IpAddr> = spec
            .and_then(|s| s.cluster_ips.clone())
            .filter(|l| !l.is_empty())
            .or_else(|| spec.and_then(|s| s.cluster_ip.clone()).map(|ip| vec![ip]))
            .unwrap_or_default()
            .iter()
            // `None` (headless) and empty strings do not parse.
            .filter_map(|ip| ip.parse().ok())
            .collect();
        ips.dedup();
        Meta {
            kind: Kind::Service,
            namespace: m.namespace.clone().unwrap_or_default(),
            owner_kind: "Service".to_string(),
            owner_name: name.clone(),
            host_ip: String::new(),
            host_name: String::new(),
            zone: None,
            labels: self.labels_of(m),
            ips,
            keys: Vec::new(),
            udn: Vec::new(),
            name,
            live: true,
        }
    }

    fn apply_pod(&mut self, pod: &Pod) {
        let key = object_key(&pod.metadata);
        let meta = self.pod_meta(pod);
        if let Some(old) = self.pods.get(&key).cloned() {
            self.unindex_keys(&old);
            self.unindex_udn(&old);
        }
        let meta = Self::insert(&mut self.pods, &mut self.pod_ips, key, meta);
        self.index_udn(&meta);
        for (i, (k, _)) in meta.keys.iter().enumerate() {
            self.pod_keys
                .entry(k.clone())
                .or_default()
                .push((meta.clone(), i));
        }
    }

    fn delete_pod(&mut self, meta: &ObjectMeta) {
        if let Some(old) = Self::remove(&mut self.pods, &mut self.pod_ips, &object_key(meta)) {
            self.unindex_keys(&old);
            self.unindex_udn(&old);
        }
    }

    /// Adds a pod's UDN keys, labelled as the known (C)UDNs say.
    fn index_udn(&mut self, meta: &Arc<Meta>) {
        for a in &meta.udn {
            for label in self.udn_registry.labels(&a.namespace, &a.name) {
                for ip in &a.ips {
                    self.udn_keys
                        .entry(udn_key(&label, ip))
                        .or_default()
                        .push((meta.clone(), label.clone()));
                }
            }
        }
    }

    fn unindex_udn(&mut self, meta: &Arc<Meta>) {
        if meta.udn.is_empty() {
            return;
        }
        self.udn_keys.retain(|_, list| {
            list.retain(|(m, _)| !Arc::ptr_eq(m, meta));
            !list.is_empty()
        });
    }

    /// Changes the known (C)UDNs with `change` (which says whether anything changed) and, if
    /// so, labels every pod's UDN keys again: a (C)UDN listed after its pods turns their
    /// two-label fallback into the one right label.
    pub(super) fn update_udns(&mut self, change: impl FnOnce(&mut UdnRegistry) -> bool) {
        if !change(&mut self.udn_registry) {
            return;
        }
        self.udn_keys.clear();
        let pods: Vec<Arc<Meta>> = self
            .pods
            .values()
            .filter(|m| !m.udn.is_empty())
            .cloned()
            .collect();
        for meta in &pods {
            self.index_udn(meta);
        }
    }

    /// The (C)UDNs known, for logs and tests.
    pub fn udn_registry(&self) -> &UdnRegistry {
        &self.udn_registry
    }

    fn apply_replica_set(&mut self, meta: &ObjectMeta) {
        match first_owner(meta) {
            Some(owner) => {
                self.replica_sets
                    .entry(meta.namespace.clone().unwrap_or_default())
                    .or_default()
                    .insert(meta.name.clone().unwrap_or_default(), owner);
            }
            None => self.delete_replica_set(meta),
        }
    }

    fn delete_replica_set(&mut self, meta: &ObjectMeta) {
        let namespace = meta.namespace.as_deref().unwrap_or_default();
        if let Some(names) = self.replica_sets.get_mut(namespace) {
            names.remove(meta.name.as_deref().unwrap_or_default());
            if names.is_empty() {
                self.replica_sets.remove(namespace);
            }
        }
    }

    /// The object owning `ip`, trying first the pods attached to a secondary network by one of
    /// `keys`, then pods, nodes and services by IP.
    ///
    /// When several pods hold the same address (a completed Job's pod keeps its IP in its
    /// status while a new pod reuses it), a pod that has not terminated wins, and among those the
    /// one seen last.
    pub fn lookup(&self, keys: &[String], ip: IpAddr) -> Option<KubeInfo<'_>> {
        self.lookup_with(keys, ip, true)
    }

    /// [`Self::lookup`], leaving the zone out unless `zone` (it costs a node lookup).
    pub fn lookup_with(&self, keys: &[String], ip: IpAddr, zone: bool) -> Option<KubeInfo<'_>> {
        let (meta, network) = keys
            .iter()
            .find_map(|k| {
                if let Some(l) = self.udn_keys.get(k) {
                    return l
                        .iter()
                        .rev()
                        .find(|(m, _)| m.live)
                        .or(l.first())
                        .map(|(m, label)| (m, label.as_str()));
                }
                self.pod_keys
                    .get(k)
                    .and_then(|l| l.iter().rev().find(|(m, _)| m.live).or(l.first()))
                    .map(|(m, i)| (m, m.keys[*i].1.as_str()))
            })
            .or_else(|| {
                [&self.pod_ips, &self.node_ips, &self.service_ips]
                    .into_iter()
                    .find_map(|ips| ips.get(&ip).and_then(|l| preferred(l)))
                    .map(|m| (m, PRIMARY_NETWORK))
            })?;
        let (owner_kind, owner_name) = self.resolve_owner(meta);
        let host_name = if meta.host_name.is_empty() {
            // The pod may have been seen before its node was scheduled / known.
            meta.host_ip
                .parse::<IpAddr>()
                .ok()
                .and_then(|h| self.node_ips.get(&h))
                .and_then(|l| l.first())
                .map_or("", |n| n.name.as_str())
        } else {
            meta.host_name.as_str()
        };
        let zone = match meta.kind {
            _ if !zone => None,
            Kind::Node => meta.zone.as_deref(),
            Kind::Pod => self.nodes.get(host_name).and_then(|n| n.zone.as_deref()),
            Kind::Service => None,
        };
        Some(KubeInfo {
            kind: meta.kind,
            namespace: &meta.namespace,
            name: &meta.name,
            owner_kind,
            owner_name,
            host_ip: &meta.host_ip,
            host_name,
            zone,
            network_name: network,
            labels: &meta.labels,
        })
    }

    /// ReplicaSet → its owner (normally the Deployment), unless `trackedKinds` asks to stop at the
    /// ReplicaSet.
    fn resolve_owner<'a>(&'a self, meta: &'a Meta) -> (&'a str, &'a str) {
        if meta.owner_kind == "ReplicaSet"
            && let Some((kind, name)) = self
                .replica_sets
                .get(&meta.namespace)
                .and_then(|names| names.get(&meta.owner_name))
        {
            let tracked = &self.settings.tracked_kinds;
            let stop = !tracked.is_empty()
                && tracked.iter().any(|k| k == "ReplicaSet")
                && !tracked.iter().any(|k| k == kind);
            if !stop {
                return (kind, name);
            }
        }
        (&meta.owner_kind, &meta.owner_name)
    }
}

/// Among the objects holding one address: the last one seen that has not terminated, else the
/// first.
fn preferred(list: &[Arc<Meta>]) -> Option<&Arc<Meta>> {
    list.iter().rev().find(|m| m.live).or(list.first())
}

fn unindex(ips: &mut Entries, meta: &Arc<Meta>) {
    for ip in &meta.ips {
        if let Some(list) = ips.get_mut(ip) {
            list.retain(|m| !Arc::ptr_eq(m, meta));
            if list.is_empty() {
                ips.remove(ip);
            }
        }
    }
}

/// The OVN management port (mp0) IPs of a node: the first host of each of its default subnets.
fn ovn_management_ips(meta: &ObjectMeta) -> Vec<IpAddr> {
    let Some(text) = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(OVN_NODE_SUBNETS_ANNOTATION))
    else {
        return Vec::new();
    };
    let subnets: std::collections::HashMap<String, serde_json::Value> =
        match serde_json::from_str(text) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "unreadable {OVN_NODE_SUBNETS_ANNOTATION} annotation");
                return Vec::new();
            }
        };
    let cidrs: Vec<&str> = match subnets.get("default") {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(list)) => list.iter().filter_map(|v| v.as_str()).collect(),
        _ => Vec::new(),
    };
    cidrs
        .into_iter()
        .filter_map(|c| c.parse::<ipnet::IpNet>().ok())
        .filter_map(|net| match net.network() {
            IpAddr::V4(a) => u32::from(a).checked_add(1).map(|n| IpAddr::V4(n.into())),
            IpAddr::V6(a) => u128::from(a).checked_add(1).map(|n| IpAddr::V6(n.into())),
        })
        .collect()
}

impl Indexed for Pod {
    fn apply_to(&self, index: &mut KubeIndex) {
        index.apply_pod(self);
    }
    fn delete_from(&self, index: &mut KubeIndex) {
        index.delete_pod(&self.metadata);
    }
    fn clear_kind(index: &mut KubeIndex) {
        index.pods.clear();
        index.pod_ips.clear();
        index.pod_keys.clear();
        index.udn_keys.clear();
    }
}

impl Indexed for Node {
    fn apply_to(&self, index: &mut KubeIndex) {
        let meta = index.node_meta(self);
        let key = self.metadata.name.clone().unwrap_or_default();
        KubeIndex::insert(&mut index.nodes, &mut index.node_ips, key, meta);
    }
    fn delete_from(&self, index: &mut KubeIndex) {
        let key = self.metadata.name.as_deref().unwrap_or_default();
        KubeIndex::remove(&mut index.nodes, &mut index.node_ips, key);
    }
    fn clear_kind(index: &mut KubeIndex) {
        index.nodes.clear();
        index.node_ips.clear();
    }
}

impl Indexed for Service {
    fn apply_to(&self, index: &mut KubeIndex) {
        let meta = index.service_meta(self);
        let key = object_key(&self.metadata);
        KubeIndex::insert(&mut index.services, &mut index.service_ips, key, meta);
    }
    fn delete_from(&self, index: &mut KubeIndex) {
        let key = object_key(&self.metadata);
        KubeIndex::remove(&mut index.services, &mut index.service_ips, &key);
    }
    fn clear_kind(index: &mut KubeIndex) {
        index.services.clear();
        index.service_ips.clear();
    }
}

impl Indexed for ReplicaSet {
    fn apply_to(&self, index: &mut KubeIndex) {
        index.apply_replica_set(&self.metadata);
    }
    fn delete_from(&self, index: &mut KubeIndex) {
        index.delete_replica_set(&self.metadata);
    }
    fn clear_kind(index: &mut KubeIndex) {
        index.replica_sets.clear();
    }
}

/// ReplicaSets arrive from a metadata-only watcher: only their owners matter.
impl Indexed for PartialObjectMeta<ReplicaSet> {
    fn apply_to(&self, index: &mut KubeIndex) {
        index.apply_replica_set(&self.metadata);
    }
    fn delete_from(&self, index: &mut KubeIndex) {
        index.delete_replica_set(&self.metadata);
    }
    fn clear_kind(index: &mut KubeIndex) {
        index.replica_sets.clear();
    }
}
