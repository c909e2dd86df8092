//! `add_kubernetes`: adds the Pod / Node / Service behind a flow's addresses (reference §A.4).
//!
//! [`KubeIndex`] holds the stripped metadata and answers lookups synchronously; a feeder
//! ([`start`]) keeps it up to date from the API server with watchers, or tests and local mode
//! fill it directly and hand it to the network stage (`NetworkStage::with_kube_index`).

mod feeder;
mod index;
mod udn;
mod udn_indexed;

pub(crate) use feeder::connect;
pub use feeder::{FeedError, FeedState, error_chain, probe, start_feeder};
pub use index::{
    IndexSettings, Indexed, Kind, KubeIndex, KubeInfo, NETWORK_STATUS_ANNOTATION,
    OVN_NODE_SUBNETS_ANNOTATION, PRIMARY_NETWORK, SecondaryNetwork, ZONE_LABEL, secondary_key,
};
pub use udn::{
    ClusterUserDefinedNetwork, DEFAULT_NETWORK, POD_NETWORKS_ANNOTATION, UdnRegistry,
    UserDefinedNetwork, udn_key,
};

use crate::config::{
    KubeConfig, KubernetesRule, NetworkRuleKind, NetworkTransform, SecondaryIndex,
};
use crate::record::{Key, Record, Value};
use std::sync::{Arc, RwLock};

/// Field naming a flow's user-defined network (the operator makes it a Loki label).
pub const UDN_ID_FIELD: &str = "UdnId";

/// The index shared between the feeder (writer) and the network stages (readers).
pub type SharedIndex = Arc<RwLock<KubeIndex>>;

/// An index and, when a feeder fills it from the API server, the feeder's progress. Shared by
/// every worker's copy of a network stage: one set of watchers per stage, not per worker.
#[derive(Clone, Debug)]
pub struct KubeSource {
    /// The index the stage reads.
    pub index: SharedIndex,
    /// The feeder's state; `None` when the caller fills the index itself.
    pub feed: Option<Arc<FeedState>>,
}

impl KubeSource {
    /// What the index still waits for before it is complete; `None` once it is.
    pub fn pending(&self) -> Option<String> {
        let feed = self.feed.as_ref()?;
        (!feed.is_synced()).then(|| feed.status())
    }
}

/// Why a `kubernetes` rule or `kubeConfig` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// Malformed parameters.
    #[error("{0}")]
    Invalid(String),
    /// Valid upstream, not implemented here.
    #[error("{0}")]
    Unsupported(String),
}

/// What the index must extract for `config` (the stage's `kubeConfig`) and its `add_kubernetes`
/// rules.
pub fn index_settings(
    config: Option<&KubeConfig>,
    rules: &[&KubernetesRule],
) -> Result<IndexSettings, RuleError> {
    let default = KubeConfig::default();
    let config = config.unwrap_or(&default);
    let mut secondary_networks = Vec::new();
    let mut udn = false;
    for net in &config.secondary_networks {
        let mut parsed = SecondaryNetwork {
            name: net.name.clone(),
            ..SecondaryNetwork::default()
        };
        for key in net.index.keys() {
            match key {
                SecondaryIndex::Mac => parsed.mac = true,
                SecondaryIndex::Ip => parsed.ip = true,
                SecondaryIndex::Interface => parsed.interface = true,
                SecondaryIndex::Udn => udn = true,
            }
        }
        if parsed.mac || parsed.ip || parsed.interface {
            secondary_networks.push(parsed);
        }
    }
    Ok(IndexSettings {
        secondary_networks,
        ovn: config
            .managed_cni
            .as_ref()
            .is_none_or(|l| l.iter().any(|c| c == "ovn")),
        udn,
        keep_labels: rules.iter().any(|r| !r.labels_prefix.is_empty()),
        tracked_kinds: config.tracked_kinds.clone(),
    })
}

/// The `add_kubernetes` rules of a network stage.
pub fn kubernetes_rules(config: &NetworkTransform) -> Vec<&KubernetesRule> {
    config
        .rules
        .iter()
        .filter(|r| r.kind == NetworkRuleKind::AddKubernetes)
        .filter_map(|r| r.kubernetes.as_ref())
        .collect()
}

/// Creates the index a network stage's `add_kubernetes` rules read and starts the watchers that
/// fill it, on `runtime`. The API server need not answer yet: the watchers retry, and
/// [`KubeSource::pending`] says what they wait for.
pub fn start(
    config: &NetworkTransform,
    runtime: &tokio::runtime::Handle,
) -> Result<KubeSource, RuleError> {
    let settings = index_settings(config.kube_config.as_ref(), &kubernetes_rules(config))?;
    let index = Arc::new(RwLock::new(KubeIndex::new(settings)));
    let path = config
        .kube_config
        .as_ref()
        .map(|k| k.config_path.clone())
        .unwrap_or_default();
    let feed = start_feeder(&path, &index, runtime)
        .map_err(|e| RuleError::Invalid(format!("network rule add_kubernetes: {e}")))?;
    Ok(KubeSource {
        index,
        feed: Some(feed),
    })
}

/// A field name: the static copy when well-known (no allocation per record).
fn key(name: String) -> Key {
    match crate::fields::known(&name) {
        Some(s) => Key::Borrowed(s),
        None => Key::Owned(name),
    }
}

/// A `kubernetes` rule ready to run: output names computed once.
pub struct CompiledRule {
    ip_field: String,
    mac_field: String,
    interfaces_field: String,
    udns_field: String,
    namespace: Key,
    name: Key,
    kind: Key,
    owner_name: Key,
    owner_kind: Key,
    network_name: Key,
    host_ip: Key,
    host_name: Key,
    zone: Option<Key>,
    labels_prefix: String,
    label_inclusions: Vec<String>,
    label_exclusions: Vec<String>,
    label_value_max_length: usize,
}

impl CompiledRule {
    /// Checks a rule's `kubernetes` parameters and computes its output names.
    pub fn new(rule: &KubernetesRule) -> Result<Self, RuleError> {
        if rule.assignee == "otel" {
            return Err(RuleError::Unsupported(
                "add_kubernetes with assignee `otel`".into(),
            ));
        }
        if !rule.annotations_prefix.is_empty()
            || !rule.annotation_inclusions.is_empty()
            || !rule.annotation_exclusions.is_empty()
        {
            return Err(RuleError::Unsupported(
                "add_kubernetes annotations (annotations_prefix)".into(),
            ));
        }
        let ip_field = rule.ip_field().to_string();
        if ip_field.is_empty() {
            return Err(RuleError::Invalid(
                "kubernetes: `ipField` is required".into(),
            ));
        }
        let out = |suffix: &str| key(format!("{}_{suffix}", rule.output));
        Ok(Self {
            ip_field,
            mac_field: rule.mac_field.clone(),
            interfaces_field: rule.interfaces_field.clone(),
            udns_field: rule.udns_field.clone(),
            namespace: out("Namespace"),
            name: out("Name"),
            kind: out("Type"),
            owner_name: out("OwnerName"),
            owner_kind: out("OwnerType"),
            network_name: out("NetworkName"),
            host_ip: out("HostIP"),
            host_name: out("HostName"),
            zone: (rule.add_zone == Some(true)).then(|| out("Zone")),
            labels_prefix: rule.labels_prefix.clone(),
            label_inclusions: rule.label_inclusions.clone(),
            label_exclusions: rule.label_exclusions.clone(),
            label_value_max_length: rule.label_value_max_length,
        })
    }

    /// The secondary-network keys a flow can match, built like the pods' keys.
    fn flow_keys(
        &self,
        record: &Record,
        settings: &IndexSettings,
        ip: &str,
        out: &mut Vec<String>,
    ) {
        out.clear();
        if settings.udn
            && !self.udns_field.is_empty()
            && let Some(Value::List(udns)) = record.get(&self.udns_field)
        {
            // Each interface's UDN, the pod's address on it being the flow's address.
            for label in udns.iter().filter_map(Value::as_str) {
                if label.is_empty() || label == DEFAULT_NETWORK {
                    continue;
                }
                let key = udn_key(label, ip);
                if !out.contains(&key) {
                    out.push(key);
                }
            }
        }
        for net in &settings.secondary_networks {
            let mut ip_part = "";
            let mut mac = "";
            if net.ip && !self.ip_field.is_empty() {
                ip_part = ip;
            }
            if net.mac && !self.mac_field.is_empty() {
                match record.get(&self.mac_field).and_then(Value::as_str) {
                    Some(m) => mac = m,
                    None => continue,
                }
            }
            let interfaces: Option<Vec<&str>> =
                if net.interface && !self.interfaces_field.is_empty() {
                    match record.get(&self.interfaces_field) {
                        Some(Value::List(items)) => {
                            Some(items.iter().filter_map(Value::as_str).collect())
                        }
                        Some(Value::Str(s)) => Some(vec![s.as_str()]),
                        _ => continue,
                    }
                } else {
                    None
                };
            if ip_part.is_empty() && mac.is_empty() && interfaces.as_ref().is_none_or(Vec::is_empty)
            {
                continue;
            }
            match interfaces {
                None => out.push(secondary_key("", ip_part, mac)),
                Some(list) => out.extend(list.into_iter().map(|i| secondary_key(i, ip_part, mac))),
            }
        }
    }

    /// The flow's user-defined network: the first entry of the UDN list that names one.
    fn flow_udn<'r>(&self, record: &'r Record) -> Option<&'r str> {
        match record.get(&self.udns_field) {
            Some(Value::List(udns)) => udns
                .iter()
                .filter_map(Value::as_str)
                .find(|l| !l.is_empty() && *l != DEFAULT_NETWORK),
            _ => None,
        }
    }

    /// Writes the fields of the object behind the record's address, if any.
    pub fn enrich(&self, record: &mut Record, index: &KubeIndex, scratch: &mut Vec<String>) {
        // `UdnId` (a Loki label with UDN mapping, what the console's UDN views group by): the
        // flow's network, whether or not a pod matches.
        if index.settings().udn
            && !self.udns_field.is_empty()
            && record.get(UDN_ID_FIELD).is_none()
            && let Some(udn) = self.flow_udn(record).map(str::to_string)
        {
            record.insert(Key::Borrowed(UDN_ID_FIELD), udn);
        }
        let Some(ip) = record.get(&self.ip_field).and_then(Value::as_ip) else {
            return;
        };
        if index.settings().secondary_networks.is_empty() && !index.settings().udn {
            scratch.clear();
        } else {
            // Canonical text, as pods' keys use.
            let canonical = ip.to_string();
            self.flow_keys(record, index.settings(), &canonical, scratch);
        }
        let Some(info) = index.lookup_with(scratch, ip, self.zone.is_some()) else {
            tracing::trace!(%ip, keys = ?scratch, "no kubernetes object for address");
            return;
        };
        if !info.namespace.is_empty() {
            record.insert(self.namespace.clone(), info.namespace);
        }
        record.insert(self.name.clone(), info.name);
        record.insert(self.kind.clone(), info.kind.as_str());
        record.insert(self.owner_name.clone(), info.owner_name);
        record.insert(self.owner_kind.clone(), info.owner_kind);
        record.insert(self.network_name.clone(), info.network_name);
        if !self.labels_prefix.is_empty() {
            for (k, v) in info.labels {
                if (!self.label_inclusions.is_empty() && !self.label_inclusions.contains(k))
                    || self.label_exclusions.contains(k)
                {
                    continue;
                }
                let value = truncate(v, self.label_value_max_length);
                record.insert(format!("{}_{k}", self.labels_prefix), value);
            }
        }
        if !info.host_ip.is_empty() {
            record.insert(self.host_ip.clone(), info.host_ip);
            if !info.host_name.is_empty() {
                record.insert(self.host_name.clone(), info.host_name);
            }
        }
        if let (Some(field), Some(zone)) = (&self.zone, info.zone) {
            record.insert(field.clone(), zone);
        }
    }
}

/// `value` cut to `max` characters ending with `...` (0: unchanged).
fn truncate(value: &str, max: usize) -> String {
    if max == 0 || value.chars().count() <= max {
        return value.to_string();
    }
    let keep = max.saturating_sub(3);
    let mut out: String = value.chars().take(keep).collect();
    out.push_str("...");
    out
}

/// The `add_kubernetes` rules of a stage, sharing one index.
pub struct KubeEnricher {
    index: SharedIndex,
    scratch: Vec<String>,
}

impl KubeEnricher {
    /// Reads `index` for every lookup.
    pub fn new(index: SharedIndex) -> Self {
        Self {
            index,
            scratch: Vec::new(),
        }
    }

    /// Applies one rule.
    pub fn enrich(&mut self, rule: &CompiledRule, record: &mut Record) {
        // A poisoned lock means a feeder panicked mid-update: the index is still usable.
        let guard = self.index.read().unwrap_or_else(|p| p.into_inner());
        rule.enrich(record, &guard, &mut self.scratch);
    }
}
