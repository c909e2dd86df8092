//! `extract` stages: per-batch computations (aggregates, connection tracking, top-K).

use crate::common::{check_duration, is_false, needs};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The extract types upstream has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtractKind {
    /// Running aggregates per group.
    #[default]
    Aggregates,
    /// Connection tracking (conversations).
    Conntrack,
    /// Top-K over time windows.
    Timebased,
}

impl ExtractKind {
    /// The upstream type name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExtractKind::Aggregates => "aggregates",
            ExtractKind::Conntrack => "conntrack",
            ExtractKind::Timebased => "timebased",
        }
    }
}

/// An extract stage: its `type` and the sub-object that type reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extract {
    /// Which extractor runs.
    #[serde(rename = "type")]
    pub kind: ExtractKind,
    /// For `aggregates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregates: Option<AggregatesConfig>,
    /// For `conntrack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<ConntrackConfig>,
    /// For `timebased`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timebased: Option<TimebasedConfig>,
}

impl Extract {
    /// A `conntrack` extractor.
    pub fn conntrack(conntrack: ConntrackConfig) -> Self {
        Self {
            kind: ExtractKind::Conntrack,
            conntrack: Some(conntrack),
            ..Self::default()
        }
    }

    /// Checks that the sub-object `type` needs is there and well formed.
    pub fn check(&self) -> Result<(), String> {
        let kind = self.kind.as_str();
        match self.kind {
            ExtractKind::Aggregates => needs("extract", kind, self.aggregates.as_ref())?.check(),
            ExtractKind::Conntrack => needs("extract", kind, self.conntrack.as_ref()).map(|_| ()),
            ExtractKind::Timebased => needs("extract", kind, self.timebased.as_ref()).map(|_| ()),
        }
    }
}

/// `aggregates` parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AggregatesConfig {
    /// Expiry of groups whose rule sets none (Go duration, default 2m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_expiry_time: Option<String>,
    /// One aggregate per rule.
    #[serde(default)]
    pub rules: Vec<AggregateRule>,
}

impl AggregatesConfig {
    /// Checks durations and that every operation but `count` names its field.
    pub fn check(&self) -> Result<(), String> {
        check_duration(
            "aggregates.defaultExpiryTime",
            self.default_expiry_time.as_deref(),
        )?;
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.operation_type != AggregateOperation::Count && rule.operation_key.is_empty() {
                return Err(format!(
                    "aggregates.rules[{i}] `{}`: {} needs `operationKey`",
                    rule.name,
                    rule.operation_type.as_str()
                ));
            }
            check_duration(
                &format!("aggregates.rules[{i}].expiryTime"),
                rule.expiry_time.as_deref(),
            )?;
        }
        Ok(())
    }
}

/// One aggregate definition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AggregateRule {
    /// Name written in the `name` field of the outputs.
    pub name: String,
    /// Fields whose values form the group.
    #[serde(default)]
    pub group_by_keys: Vec<String>,
    /// What is computed.
    pub operation_type: AggregateOperation,
    /// The field aggregated (unused by `count`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation_key: String,
    /// Expiry of this rule's groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
}

/// Aggregation operations.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AggregateOperation {
    /// Sum of the values.
    #[default]
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Number of records.
    Count,
    /// Mean of the values.
    Avg,
    /// The values themselves (for `agg_histogram`).
    RawValues,
}

impl AggregateOperation {
    /// The upstream name.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOperation::Sum => "sum",
            AggregateOperation::Min => "min",
            AggregateOperation::Max => "max",
            AggregateOperation::Count => "count",
            AggregateOperation::Avg => "avg",
            AggregateOperation::RawValues => "raw_values",
        }
    }
}

/// `conntrack` parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConntrackConfig {
    /// Fields identifying a connection.
    pub key_definition: KeyDefinition,
    /// Record types emitted.
    #[serde(default)]
    pub output_record_types: Vec<ConnectionRecordType>,
    /// Fields aggregated over a connection.
    #[serde(default)]
    pub output_fields: Vec<OutputField>,
    /// Timeouts per selector (the last one with an empty selector is the default).
    #[serde(default)]
    pub scheduling: Vec<ConnectionScheduling>,
    /// Most connections kept (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections_tracked: Option<i64>,
    /// TCP flag handling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<ConntrackTcpFlags>,
}

/// `keyDefinition` of conntrack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyDefinition {
    /// Named groups of fields.
    #[serde(default)]
    pub field_groups: Vec<FieldGroup>,
    /// How the connection hash is built from the groups.
    #[serde(default)]
    pub hash: ConnectionHash,
}

/// A named group of fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldGroup {
    /// Group name.
    pub name: String,
    /// The fields.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// `hash` of a conntrack key definition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionHash {
    /// Groups hashed as they are.
    #[serde(default)]
    pub field_group_refs: Vec<String>,
    /// Endpoint A's group (bidirectional connections).
    #[serde(
        rename = "fieldGroupARef",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub field_group_a_ref: String,
    /// Endpoint B's group.
    #[serde(
        rename = "fieldGroupBRef",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub field_group_b_ref: String,
}

/// Conntrack output record types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionRecordType {
    /// First record of a connection.
    NewConnection,
    /// Last record of a connection.
    EndConnection,
    /// Periodic record of a live connection.
    Heartbeat,
    /// Each flow, passed through.
    FlowLog,
}

/// Conntrack aggregation operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionOperation {
    /// Sum.
    #[default]
    Sum,
    /// Count of flows.
    Count,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// First value seen.
    First,
    /// Last value seen.
    Last,
}

/// One conntrack output field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputField {
    /// Output name.
    pub name: String,
    /// Aggregation.
    pub operation: ConnectionOperation,
    /// Two outputs, `<name>_AB` and `<name>_BA`.
    #[serde(rename = "splitAB", default, skip_serializing_if = "is_false")]
    pub split_ab: bool,
    /// Input field (default: `name`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub input: String,
    /// Count and log missing inputs.
    #[serde(default, skip_serializing_if = "is_false")]
    pub report_missing: bool,
}

/// Timeouts of the connections a selector matches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionScheduling {
    /// Field values a connection must have (empty: every connection).
    #[serde(default)]
    pub selector: BTreeMap<String, serde_json::Value>,
    /// Time without flows before the connection ends (Go duration).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub end_connection_timeout: String,
    /// Time after a FIN before the connection ends.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub terminating_timeout: String,
    /// Time between two heartbeats.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub heartbeat_interval: String,
}

/// `tcpFlags` of conntrack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConntrackTcpFlags {
    /// Field holding the flags.
    #[serde(default)]
    pub field_name: String,
    /// A FIN starts the terminating timeout.
    #[serde(default)]
    pub detect_end_connection: bool,
    /// A first flow with SYN_ACK swaps the endpoints.
    #[serde(rename = "swapAB", default)]
    pub swap_ab: bool,
}

/// `timebased` parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimebasedConfig {
    /// One top-K per rule.
    #[serde(default)]
    pub rules: Vec<TimebasedRule>,
}

/// One top-K rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimebasedRule {
    /// Name of the results.
    pub name: String,
    /// Deprecated single index field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub index_key: String,
    /// Index fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub index_keys: Vec<String>,
    /// sum, min, max, avg, count, last or diff.
    pub operation_type: String,
    /// The field operated on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation_key: String,
    /// How many entries are reported (0: all).
    #[serde(rename = "topK", default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i64>,
    /// Lowest instead of highest.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reversed: bool,
    /// Window (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_interval: Option<String>,
}
