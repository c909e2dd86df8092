//! `add_kubernetes`: adds the Pod / Node / Service behind a flow's addresses (reference §A.4).
//!
//! [`KubeIndex`] holds the stripped metadata and answers lookups synchronously; a feeder
//! ([`feeder::start`]) keeps it up to date from the API server with watchers, or tests and local
//! mode fill it directly and hand it to [`crate::transform::NetworkStage::with_kube_index`].

mod feeder;
mod index;

pub(crate) use feeder::connect;
pub use feeder::{FeedError, FeedState, error_chain, start_feeder};
pub use index::{
    IndexSettings, Indexed, Kind, KubeIndex, KubeInfo, NETWORK_STATUS_ANNOTATION,
    OVN_NODE_SUBNETS_ANNOTATION, PRIMARY_NETWORK, SecondaryNetwork, ZONE_LABEL, secondary_key,
};

use crate::record::{Key, Record, Value};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

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

/// `kubeConfig` of the network stage.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSettings {
    /// Kubeconfig file; empty means `KUBECONFIG`, `~/.kube/config` or in-cluster.
    #[serde(default)]
    pub config_path: String,
    /// Secondary networks pods are indexed by.
    #[serde(default)]
    pub secondary_networks: Vec<SecondaryNetworkConfig>,
    /// CNIs whose extra node IPs are indexed (default `[ovn]`).
    #[serde(default, rename = "managedCNI")]
    pub managed_cni: Option<Vec<String>>,
    /// Owner kinds to resolve up to (see [`IndexSettings::tracked_kinds`]).
    #[serde(default)]
    pub tracked_kinds: Vec<String>,
}

/// One `kubeConfig.secondaryNetworks` entry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondaryNetworkConfig {
    /// Network-status entry name to match; empty matches all non-default entries.
    #[serde(default)]
    pub name: String,
    /// The set of keys (`mac`, `ip`, `interface`, `udn`) identifying an attachment.
    #[serde(default)]
    pub index: HashMap<String, serde_json::Value>,
}

/// `kubernetes` parameters of one `add_kubernetes` rule.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesRule {
    /// Field holding the IP (`SrcAddr`).
    #[serde(default, rename = "ipField")]
    pub ip_field: String,
    /// Deprecated name of `ipField`.
    #[serde(default)]
    pub input: String,
    /// Field holding the MAC, for secondary networks indexed by `mac`.
    #[serde(default, rename = "macField")]
    pub mac_field: String,
    /// Field holding the interface list, for secondary networks indexed by `interface`.
    #[serde(default, rename = "interfacesField")]
    pub interfaces_field: String,
    /// Field holding the UDN list (UDN indexing is not supported: accepted and unused).
    #[serde(default, rename = "udnsField")]
    pub udns_field: String,
    /// Prefix of the written fields (`SrcK8S`).
    #[serde(default)]
    pub output: String,
    /// `otel` selects OpenTelemetry names (not supported).
    #[serde(default)]
    pub assignee: String,
    /// When set, labels are written as `<prefix>_<label>`.
    #[serde(default)]
    pub labels_prefix: String,
    /// Only these labels (when non-empty).
    #[serde(default)]
    pub label_inclusions: Vec<String>,
    /// Never these labels.
    #[serde(default)]
    pub label_exclusions: Vec<String>,
    /// Label values longer than this are cut and end with `...` (0: no limit).
    #[serde(default)]
    pub label_value_max_length: usize,
    /// Annotation copying (not supported).
    #[serde(default)]
    pub annotations_prefix: String,
    /// Annotation copying (not supported).
    #[serde(default)]
    pub annotation_inclusions: Vec<String>,
    /// Annotation copying (not supported).
    #[serde(default)]
    pub annotation_exclusions: Vec<String>,
    /// Annotation copying (not supported).
    #[serde(default)]
    pub annotation_value_max_length: usize,
    /// Whether `<output>_Zone` is written.
    #[serde(default)]
    pub add_zone: bool,
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

impl KubeSettings {
    /// Parses `kubeConfig` (absent means defaults).
    pub fn parse(raw: Option<&serde_json::Value>) -> Result<Self, RuleError> {
        match raw {
            None => Ok(Self::default()),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| RuleError::Invalid(format!("network.kubeConfig: {e}"))),
        }
    }

    /// What the index must extract for these settings and `rules`.
    pub fn index_settings(&self, rules: &[KubernetesRule]) -> Result<IndexSettings, RuleError> {
        let mut secondary_networks = Vec::new();
        for (i, net) in self.secondary_networks.iter().enumerate() {
            let mut parsed = SecondaryNetwork {
                name: net.name.clone(),
                ..SecondaryNetwork::default()
            };
            for key in net.index.keys() {
                match key.as_str() {
                    "mac" => parsed.mac = true,
                    "ip" => parsed.ip = true,
                    "interface" => parsed.interface = true,
                    "udn" => tracing::warn!(
                        "kubeConfig.secondaryNetworks[{i}]: UDN indexing is not supported; \
                         flows on user-defined networks are matched by IP only"
                    ),
                    other => {
                        return Err(RuleError::Invalid(format!(
                            "network.kubeConfig.secondaryNetworks[{i}].index: unknown key `{other}`"
                        )));
                    }
                }
            }
            if parsed.mac || parsed.ip || parsed.interface {
                secondary_networks.push(parsed);
            }
        }
        Ok(IndexSettings {
            secondary_networks,
            ovn: self
                .managed_cni
                .as_ref()
                .is_none_or(|l| l.iter().any(|c| c == "ovn")),
            keep_labels: rules.iter().any(|r| !r.labels_prefix.is_empty()),
            tracked_kinds: self.tracked_kinds.clone(),
        })
    }
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
    /// Parses and checks a rule's `kubernetes` object.
    pub fn new(raw: &serde_json::Value) -> Result<Self, RuleError> {
        let rule: KubernetesRule = serde_json::from_value(raw.clone())
            .map_err(|e| RuleError::Invalid(format!("kubernetes: {e}")))?;
        Self::from_rule(&rule)
    }

    /// Checks a parsed rule.
    pub fn from_rule(rule: &KubernetesRule) -> Result<Self, RuleError> {
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
        let ip_field = if rule.ip_field.is_empty() {
            rule.input.clone()
        } else {
            rule.ip_field.clone()
        };
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
            namespace: out("Namespace"),
            name: out("Name"),
            kind: out("Type"),
            owner_name: out("OwnerName"),
            owner_kind: out("OwnerType"),
            network_name: out("NetworkName"),
            host_ip: out("HostIP"),
            host_name: out("HostName"),
            zone: rule.add_zone.then(|| out("Zone")),
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

    /// Writes the fields of the object behind the record's address, if any.
    pub fn enrich(&self, record: &mut Record, index: &KubeIndex, scratch: &mut Vec<String>) {
        let Some(text) = record.get(&self.ip_field).and_then(Value::as_str) else {
            return;
        };
        let Ok(ip) = text.parse::<IpAddr>() else {
            return;
        };
        if index.settings().secondary_networks.is_empty() {
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
