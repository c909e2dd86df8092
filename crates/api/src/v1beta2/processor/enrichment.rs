//! What the processor adds to flows beyond Kubernetes metadata: subnet labels for IP ranges and
//! the pods of secondary networks.

use crate::v1beta2::common::mark_required;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Labels for IP ranges, which is how flows to and from outside the cluster are recognised.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SubnetLabels {
    /// Labels the machine, pod and service networks found in the OpenShift configuration; unset
    /// means on (only effective on OpenShift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_shift_auto_detect: Option<bool>,
    /// User-defined labels; they win over detected networks when both match. Label external
    /// ranges with an `EXT:` prefix (or not at all) so that the default quick filters work.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_labels: Vec<SubnetLabel>,
}

/// A label put on flows whose source or destination falls in some IP ranges.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = subnet_label_required)]
pub struct SubnetLabel {
    /// IP ranges in CIDR notation, such as `10.0.0.0/8`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<String>,
    /// Label value written to `SrcSubnetLabel` or `DstSubnetLabel`. Use an `EXT:` prefix for
    /// external ranges.
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schemars(pattern(r"^[a-zA-Z_:-][a-zA-Z0-9_:-]*$"))]
    pub name: String,
}

fn subnet_label_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["cidrs", "name"]);
}

/// Pod field used to recognise pods on a secondary network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SecondaryNetworkIndex {
    /// The interface's MAC address.
    #[default]
    #[serde(rename = "MAC")]
    Mac,
    /// The interface's IP address.
    #[serde(rename = "IP")]
    Ip,
    /// The interface name.
    Interface,
}

/// A secondary network whose addresses the processor maps to pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = secondary_network_required)]
pub struct SecondaryNetwork {
    /// Network name as it appears in the pods' `k8s.v1.cni.cncf.io/network-status` annotation
    /// (deprecated).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Fields that together identify one pod across the cluster. Only use fields present in the
    /// `network-status` annotation; a non-unique index mislabels flows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<SecondaryNetworkIndex>,
}

fn secondary_network_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["index"]);
}
