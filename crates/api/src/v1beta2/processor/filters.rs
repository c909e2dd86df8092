//! Which flows the processor keeps: de-duplication, query filters and the cluster-wide
//! FlowCollectorSlice settings.

use super::is_zero;
use crate::v1beta2::common::mark_required;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the processor does with flows it recognises as duplicates (seen on several nodes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FlpDeduperMode {
    /// Keeps every duplicate.
    #[default]
    Disabled,
    /// Drops every duplicate: cheapest, but loses details such as the peer's interfaces.
    Drop,
    /// Keeps one duplicate out of `sampling`.
    Sample,
}

/// De-duplication in the processor, which catches the duplicates that the per-node agents cannot
/// see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlpDeduper {
    /// How duplicates are handled.
    pub mode: FlpDeduperMode,
    /// With mode `Sample`, one duplicate out of this many is kept. It adds to the agent sampling.
    #[schemars(range(min = 0))]
    pub sampling: i32,
}

impl Default for FlpDeduper {
    fn default() -> Self {
        Self {
            mode: FlpDeduperMode::Disabled,
            sampling: 50,
        }
    }
}

/// Output that a processor filter applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FlpFilterTarget {
    /// Every output.
    #[default]
    #[serde(rename = "")]
    All,
    /// Only the flows written to Loki.
    Loki,
    /// Only the flows turned into metrics.
    Metrics,
    /// Only the flows sent to the exporters.
    Exporters,
}

impl FlpFilterTarget {
    fn is_all(&self) -> bool {
        *self == Self::All
    }
}

/// A processor filter: flows that the query selects are kept, the others are dropped, which cuts
/// the volume with more flexibility (namespaces, workloads) than the agent filters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlpFilterSet {
    /// Query, in the flowlogs-pipeline filter language, that selects the flows to keep.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Restricts the filter to one output; empty means all outputs.
    #[serde(skip_serializing_if = "FlpFilterTarget::is_all")]
    pub output_target: FlpFilterTarget,
    /// Keeps one matching flow out of this many; 0 or unset keeps them all.
    #[serde(skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0))]
    pub sampling: i32,
}

/// How FlowCollectorSlice objects affect what is collected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SliceCollectionMode {
    /// Every flow is collected, slices or not.
    #[default]
    AlwaysCollect,
    /// Only flows of namespaces that have a slice, or that `namespacesAllowList` names.
    AllowList,
}

/// Cluster-wide settings of FlowCollectorSlice objects, which let namespace owners scope
/// collection.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = slices_config_required)]
pub struct SlicesConfig {
    /// Turns slices on; when off, FlowCollectorSlice objects are ignored.
    pub enable: bool,
    /// Whether slices restrict collection or not.
    pub collection_mode: SliceCollectionMode,
    /// Namespaces always collected in `AllowList` mode, slice or not. An entry between slashes,
    /// such as `/openshift-.*/`, is a regular expression.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces_allow_list: Vec<String>,
}

fn slices_config_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["enable"]);
}
