//! Parameters of the `network` transform: enrichment rules (subnets, services, Kubernetes,
//! direction, TCP flags) and the stage-level settings they share.

use crate::common::is_zero;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `network`: enrichment rules and their shared settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkTransform {
    /// Applied in order to every record.
    #[serde(default)]
    pub rules: Vec<NetworkRule>,
    /// Kubernetes client settings for `add_kubernetes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfig>,
    /// Services file for `add_service` (default `/etc/services`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub services_file: String,
    /// Protocols file for `add_service` (default `/etc/protocols`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocols_file: String,
    /// Named CIDR groups for `add_subnet_label`; hot-reloadable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_labels: Vec<SubnetLabel>,
    /// Fields `reinterpret_direction` reads and writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction_info: Option<DirectionInfo>,
}

impl NetworkTransform {
    pub(crate) fn check(&self) -> Result<(), String> {
        for (i, label) in self.subnet_labels.iter().enumerate() {
            for cidr in &label.cidrs {
                cidr.parse::<ipnet::IpNet>().map_err(|_| {
                    format!(
                        "network.subnetLabels[{i}] `{}`: `{cidr}` is not a CIDR",
                        label.name
                    )
                })?;
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            rule.check(self)
                .map_err(|e| format!("network.rules[{i}]: {e}"))?;
        }
        Ok(())
    }
}

/// A named group of CIDRs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetLabel {
    /// The label written for matching addresses.
    pub name: String,
    /// The CIDRs.
    #[serde(default)]
    pub cidrs: Vec<String>,
}

/// Fields of `reinterpret_direction`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectionInfo {
    /// The agent (reporter) IP field (NetObserv: `AgentIP`).
    #[serde(rename = "reporterIPField")]
    pub reporter_ip_field: String,
    /// The source host IP field (`SrcK8S_HostIP`).
    pub src_host_field: String,
    /// The destination host IP field (`DstK8S_HostIP`).
    pub dst_host_field: String,
    /// The direction field rewritten (`FlowDirection`).
    pub flow_direction_field: String,
    /// Where the interface-level direction is copied first (`IfDirection`), if anywhere.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub if_direction_field: String,
}

/// The network rule types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkRuleKind {
    /// CIDR of an address with a given mask.
    #[default]
    AddSubnet,
    /// Geo-location from an IP database (not supported yet).
    AddLocation,
    /// Service name of a port.
    AddService,
    /// Kubernetes metadata of an address.
    AddKubernetes,
    /// `app` / `infra` flow layer.
    AddKubernetesInfra,
    /// Node-level direction instead of interface-level.
    ReinterpretDirection,
    /// Label of the first subnet group containing an address.
    AddSubnetLabel,
    /// TCP flag bits to names.
    DecodeTcpFlags,
}

/// `{input, output}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkGenericRule {
    /// Field read.
    pub input: String,
    /// Field written.
    pub output: String,
}

impl NetworkGenericRule {
    /// `output` computed from `input`.
    pub fn new(input: &str, output: &str) -> Self {
        Self {
            input: input.to_string(),
            output: output.to_string(),
        }
    }
}

/// `add_subnet` parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSubnetRule {
    /// Field read.
    pub input: String,
    /// Field written.
    pub output: String,
    /// Prefix length such as `/24`.
    pub subnet_mask: String,
}

/// `add_service` parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddServiceRule {
    /// Port field.
    pub input: String,
    /// Field written.
    pub output: String,
    /// Protocol field (a number or a name).
    pub protocol: String,
}

/// One network rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkRule {
    /// The rule type.
    #[serde(rename = "type")]
    pub kind: NetworkRuleKind,
    /// For `add_kubernetes_infra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_infra: Option<KubernetesInfraRule>,
    /// For `add_kubernetes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesRule>,
    /// For `add_subnet`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_subnet: Option<AddSubnetRule>,
    /// For `add_location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_location: Option<AddLocationRule>,
    /// For `add_subnet_label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_subnet_label: Option<NetworkGenericRule>,
    /// For `add_service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_service: Option<AddServiceRule>,
    /// For `decode_tcp_flags`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_tcp_flags: Option<NetworkGenericRule>,
}

impl NetworkRule {
    /// A rule of `kind` with no parameters (`reinterpret_direction`).
    pub fn of(kind: NetworkRuleKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// An `add_kubernetes` rule.
    pub fn kubernetes(rule: KubernetesRule) -> Self {
        Self {
            kind: NetworkRuleKind::AddKubernetes,
            kubernetes: Some(rule),
            ..Self::default()
        }
    }

    /// An `add_subnet_label` rule.
    pub fn subnet_label(input: &str, output: &str) -> Self {
        Self {
            kind: NetworkRuleKind::AddSubnetLabel,
            add_subnet_label: Some(NetworkGenericRule::new(input, output)),
            ..Self::default()
        }
    }

    /// A `decode_tcp_flags` rule.
    pub fn tcp_flags(input: &str, output: &str) -> Self {
        Self {
            kind: NetworkRuleKind::DecodeTcpFlags,
            decode_tcp_flags: Some(NetworkGenericRule::new(input, output)),
            ..Self::default()
        }
    }
}

impl NetworkRule {
    fn check(&self, network: &NetworkTransform) -> Result<(), String> {
        use NetworkRuleKind as K;
        let missing = |key: &str| Err(format!("type {:?} needs `{key}`", self.kind));
        match self.kind {
            K::AddSubnet => match &self.add_subnet {
                None => missing("add_subnet"),
                Some(r) => parse_mask(&r.subnet_mask).map(|_| ()),
            },
            K::AddService if self.add_service.is_none() => missing("add_service"),
            K::AddKubernetes => match &self.kubernetes {
                None => missing("kubernetes"),
                Some(k) if k.ip_field().is_empty() => {
                    Err("kubernetes: `ipField` is required".to_string())
                }
                Some(_) => Ok(()),
            },
            K::AddKubernetesInfra if self.kubernetes_infra.is_none() => missing("kubernetes_infra"),
            K::AddSubnetLabel if self.add_subnet_label.is_none() => missing("add_subnet_label"),
            K::DecodeTcpFlags if self.decode_tcp_flags.is_none() => missing("decode_tcp_flags"),
            K::AddLocation if self.add_location.is_none() => missing("add_location"),
            K::ReinterpretDirection if network.direction_info.is_none() => {
                Err("reinterpret_direction needs the stage-level `directionInfo`".to_string())
            }
            _ => Ok(()),
        }
    }
}

/// Parses `/24` (or `24`) into a prefix length.
pub fn parse_mask(mask: &str) -> Result<u8, String> {
    mask.trim()
        .trim_start_matches('/')
        .parse::<u8>()
        .ok()
        .filter(|bits| *bits <= 128)
        .ok_or_else(|| format!("subnet_mask `{mask}` is not a prefix length like /24"))
}

/// `add_location` parameters (IP2Location database lookup).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddLocationRule {
    /// Address field.
    pub input: String,
    /// Prefix of the written fields.
    pub output: String,
    /// Database file (downloaded when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_path: String,
}

/// `kubeConfig` of the network stage: how `add_kubernetes` reaches the cluster and what it indexes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeConfig {
    /// Kubeconfig file; empty means `KUBECONFIG`, `~/.kube/config` or in-cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_path: String,
    /// Secondary networks pods are indexed by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_networks: Vec<SecondaryNetworkConfig>,
    /// CNIs whose extra node IPs are indexed (default `[ovn]`).
    #[serde(
        default,
        rename = "managedCNI",
        skip_serializing_if = "Option::is_none"
    )]
    pub managed_cni: Option<Vec<String>>,
    /// Owner kinds to resolve up to (ReplicaSet, Deployment, Gateway...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracked_kinds: Vec<String>,
}

/// What identifies a pod's attachment to a secondary network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecondaryIndex {
    /// The MAC address.
    Mac,
    /// Each IP address.
    Ip,
    /// The interface name.
    Interface,
    /// The user-defined network (OVN-Kubernetes).
    Udn,
}

/// One `kubeConfig.secondaryNetworks` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondaryNetworkConfig {
    /// Network-status entry name to match; empty matches all non-default entries.
    #[serde(default)]
    pub name: String,
    /// The keys identifying an attachment; each maps to an empty object (`{mac: {}}`), its value
    /// is not read.
    #[serde(default)]
    pub index: BTreeMap<SecondaryIndex, serde_json::Value>,
}

/// `kubernetes` parameters of one `add_kubernetes` rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesRule {
    /// Field holding the IP (`SrcAddr`).
    #[serde(default, rename = "ipField", skip_serializing_if = "String::is_empty")]
    pub ip_field: String,
    /// Deprecated name of `ipField`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub input: String,
    /// Field holding the MAC, for secondary networks indexed by `mac`.
    #[serde(default, rename = "macField", skip_serializing_if = "String::is_empty")]
    pub mac_field: String,
    /// Field holding the interface list, for secondary networks indexed by `interface`.
    #[serde(
        default,
        rename = "interfacesField",
        skip_serializing_if = "String::is_empty"
    )]
    pub interfaces_field: String,
    /// Field holding the UDN list.
    #[serde(
        default,
        rename = "udnsField",
        skip_serializing_if = "String::is_empty"
    )]
    pub udns_field: String,
    /// Prefix of the written fields (`SrcK8S`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// `otel` selects OpenTelemetry names.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub assignee: String,
    /// When set, labels are written as `<prefix>_<label>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub labels_prefix: String,
    /// Only these labels (when non-empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_inclusions: Vec<String>,
    /// Never these labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_exclusions: Vec<String>,
    /// Label values longer than this are cut and end with `...` (0: no limit).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_value_max_length: usize,
    /// When set, annotations are written as `<prefix>_<key>`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub annotations_prefix: String,
    /// Only these annotations (when non-empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotation_inclusions: Vec<String>,
    /// Never these annotations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotation_exclusions: Vec<String>,
    /// Annotation values longer than this are cut (0: no limit).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub annotation_value_max_length: usize,
    /// Whether `<output>_Zone` is written (the operator always says, true or false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_zone: Option<bool>,
}

impl KubernetesRule {
    /// The address field: `ipField`, or the deprecated `input`.
    pub fn ip_field(&self) -> &str {
        if self.ip_field.is_empty() {
            &self.input
        } else {
            &self.ip_field
        }
    }
}

/// A (namespace, name) pair of fields or of values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespacedName {
    /// The namespace (field or value).
    #[serde(default)]
    pub namespace: String,
    /// The name (field or value).
    #[serde(default)]
    pub name: String,
}

impl NamespacedName {
    /// The pair.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// `kubernetes_infra` parameters of `add_kubernetes_infra`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesInfraRule {
    /// The (namespace, name) field pairs of the record's ends.
    #[serde(default)]
    pub namespace_name_fields: Vec<NamespacedName>,
    /// Field written (`app` or `infra`).
    #[serde(default)]
    pub output: String,
    /// Namespaces starting with one of these are infrastructure.
    #[serde(default, rename = "infra_prefixes")]
    pub infra_prefixes: Vec<String>,
    /// These (namespace, name) objects are infrastructure.
    #[serde(default, rename = "infra_refs")]
    pub infra_refs: Vec<NamespacedName>,
}
