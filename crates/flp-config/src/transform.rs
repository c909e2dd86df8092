//! Parameters of the `transform` stages: `generic`, `filter` and `none` (`network` has its own
//! module).

use crate::network::NetworkTransform;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A transform stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    /// Which transform runs.
    #[serde(rename = "type")]
    pub kind: TransformKind,
    /// Parameters when `type` is `generic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<GenericTransform>,
    /// Parameters when `type` is `filter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterTransform>,
    /// Parameters when `type` is `network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkTransform>,
    /// Parameters when `type` is `host_process`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_process: Option<HostProcessTransform>,
}

/// The transform types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransformKind {
    /// Passes records through.
    #[default]
    None,
    /// Renames / copies fields.
    Generic,
    /// Drops records or fields, adds fields, samples.
    Filter,
    /// Network enrichment (subnets, services, Kubernetes, direction).
    Network,
    /// The local process and container behind each flow (ours: local mode, where the pipeline
    /// runs on the observed host).
    HostProcess,
}

impl TransformKind {
    /// The upstream type name.
    pub fn as_str(self) -> &'static str {
        match self {
            TransformKind::None => "none",
            TransformKind::Generic => "generic",
            TransformKind::Filter => "filter",
            TransformKind::Network => "network",
            TransformKind::HostProcess => "host_process",
        }
    }
}

impl Transform {
    /// A `generic` transform.
    pub fn generic(generic: GenericTransform) -> Self {
        Self {
            kind: TransformKind::Generic,
            generic: Some(generic),
            ..Self::default()
        }
    }

    /// A `filter` transform.
    pub fn filter(filter: FilterTransform) -> Self {
        Self {
            kind: TransformKind::Filter,
            filter: Some(filter),
            ..Self::default()
        }
    }

    /// A `network` transform.
    pub fn network(network: NetworkTransform) -> Self {
        Self {
            kind: TransformKind::Network,
            network: Some(network),
            ..Self::default()
        }
    }

    /// Checks that the sub-object matching `type` is present and its rules are well formed.
    pub fn check(&self) -> Result<(), String> {
        match self.kind {
            TransformKind::None => Ok(()),
            TransformKind::Generic => self
                .generic
                .as_ref()
                .map(|_| ())
                .ok_or_else(|| "transform type generic needs a `generic` section".to_string()),
            TransformKind::Filter => self
                .filter
                .as_ref()
                .ok_or_else(|| "transform type filter needs a `filter` section".to_string())
                .and_then(FilterTransform::check),
            TransformKind::Network => self
                .network
                .as_ref()
                .ok_or_else(|| "transform type network needs a `network` section".to_string())
                .and_then(NetworkTransform::check),
            TransformKind::HostProcess => self
                .host_process
                .as_ref()
                .ok_or_else(|| "transform type host_process needs a `host_process` section".into())
                .and_then(HostProcessTransform::check),
        }
    }
}

/// `host_process` (ours): names the local process and container behind each flow, from the
/// sockets of the observed network namespace (socket inode -> pid, command, cgroup).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostProcessTransform {
    /// The network namespace whose sockets are read (e.g. `/run/netns/NAME`); absent: the
    /// pipeline's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// How often the socket table is read (Go duration, default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_interval: Option<String>,
    /// How long a socket seen once keeps naming its flows after it closed (Go duration,
    /// default 1m): flows are exported after the short-lived processes behind them exit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_for: Option<String>,
    /// A services file (e.g. `/etc/services`) naming the ports of each end as
    /// `SrcPortName` / `DstPortName`; absent: ports are not named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<String>,
    /// Name each end's address from the DNS answers the namespace received
    /// (`SrcResolvedName` / `DstResolvedName`); default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_names: Option<bool>,
}

impl HostProcessTransform {
    /// Checks the durations.
    pub fn check(&self) -> Result<(), String> {
        crate::common::check_duration("host_process.scanInterval", self.scan_interval.as_deref())?;
        crate::common::check_duration("host_process.keepFor", self.keep_for.as_deref())
    }
}

/// `generic`: field renames and copies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericTransform {
    /// Whether fields not named in a rule are kept.
    #[serde(default)]
    pub policy: GenericPolicy,
    /// The renames.
    #[serde(default)]
    pub rules: Vec<GenericRule>,
}

/// What happens to the fields no rule names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenericPolicy {
    /// Keep every field, adding the outputs.
    #[default]
    PreserveOriginalKeys,
    /// Keep only the outputs.
    ReplaceKeys,
}

/// One rename: `output = input * multiplier`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericRule {
    /// Field read.
    pub input: String,
    /// Field written.
    pub output: String,
    /// Scales numeric values (0 or absent means 1). Kept as written: upstream's is an integer,
    /// a fraction is accepted too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<serde_json::Number>,
}

/// `filter`: record and field filtering, field additions, sampling.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterTransform {
    /// Applied in order; a record dropped by one rule skips the rest.
    #[serde(default)]
    pub rules: Vec<FilterRule>,
    /// When a rule samples records, this field of each kept record is multiplied by the
    /// sampling ratio, so totals computed downstream stay right (NetObserv: `Sampling`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sampling_field: String,
}

impl FilterTransform {
    pub(crate) fn check(&self) -> Result<(), String> {
        self.rules
            .iter()
            .enumerate()
            .try_for_each(|(i, r)| r.check().map_err(|e| format!("filter.rules[{i}]: {e}")))
    }
}

/// The filter rule types.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterRuleKind {
    /// Removes `removeField.input`.
    #[default]
    RemoveField,
    /// Drops the record when `removeEntry.input` exists.
    RemoveEntryIfExists,
    /// Drops the record when `removeEntry.input` does not exist.
    RemoveEntryIfDoesntExist,
    /// Drops the record when `removeEntry.input` equals `removeEntry.value`.
    RemoveEntryIfEqual,
    /// Drops the record when `removeEntry.input` differs from `removeEntry.value`.
    RemoveEntryIfNotEqual,
    /// Drops the record when all nested rules match.
    RemoveEntryAllSatisfied,
    /// Keeps the record only when the query matches (and, optionally, 1 in N of those).
    KeepEntryQuery,
    /// Sets a field.
    AddField,
    /// Sets a field when absent.
    AddFieldIfDoesntExist,
    /// Sets `output` to `assignee` when `input` satisfies `parameters` (e.g. `>=10`).
    AddFieldIf,
    /// Sets `output` to `assignee` when `input` matches the regex `parameters`.
    AddRegexIf,
    /// Adds a label (kept for compatibility; same as add_field here).
    AddLabel,
    /// Adds a label when `input` satisfies `parameters`.
    AddLabelIf,
    /// Keeps 1 in N of the records matching each condition.
    ConditionalSampling,
}

/// `{input, value, castInt}` sub-object of several rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterGenericRule {
    /// The field.
    pub input: String,
    /// The value compared or assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Json>,
    /// Whether a string value is turned into an integer before assignment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cast_int: bool,
}

/// `{input, output, parameters, assignee}` sub-object of conditional rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRuleWithAssignee {
    /// The field tested.
    pub input: String,
    /// The field written.
    #[serde(default)]
    pub output: String,
    /// The condition (`>=10`, `==5`, a regex...).
    #[serde(default)]
    pub parameters: String,
    /// The value written.
    #[serde(default)]
    pub assignee: String,
}

/// One nested rule of `removeEntryAllSatisfied` or of a sampling condition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveEntryRule {
    /// One of the `remove_entry_*` kinds.
    #[serde(rename = "type")]
    pub kind: FilterRuleKind,
    /// The field and value it tests.
    pub remove_entry: FilterGenericRule,
}

/// One condition of `conditionalSampling`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingCondition {
    /// Keep 1 in `value` of the matching records.
    pub value: u16,
    /// All must match.
    #[serde(default)]
    pub rules: Vec<RemoveEntryRule>,
}

/// One filter rule: its type and the sub-object that type reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterRule {
    /// The rule type.
    #[serde(rename = "type")]
    pub kind: FilterRuleKind,
    /// For `remove_field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_field: Option<FilterGenericRule>,
    /// For `remove_entry_if_*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_entry: Option<FilterGenericRule>,
    /// For `remove_entry_all_satisfied`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_entry_all_satisfied: Vec<RemoveEntryRule>,
    /// For `keep_entry_query`: a query of the flow filter language.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub keep_entry_query: String,
    /// For `keep_entry_query`: keep only 1 in N of the matching records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_entry_sampling: Option<u16>,
    /// For `add_field`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_field: Option<FilterGenericRule>,
    /// For `add_field_if_doesnt_exist`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_field_if_doesnt_exist: Option<FilterGenericRule>,
    /// For `add_field_if`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_field_if: Option<FilterRuleWithAssignee>,
    /// For `add_regex_if`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_regex_if: Option<FilterRuleWithAssignee>,
    /// For `add_label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_label: Option<FilterGenericRule>,
    /// For `add_label_if`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_label_if: Option<FilterRuleWithAssignee>,
    /// For `conditional_sampling`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditional_sampling: Vec<SamplingCondition>,
}

impl FilterRule {
    fn check(&self) -> Result<(), String> {
        use FilterRuleKind as K;
        let missing = |key: &str| Err(format!("type {:?} needs `{key}`", self.kind));
        match self.kind {
            K::RemoveField if self.remove_field.is_none() => missing("removeField"),
            K::RemoveEntryIfExists
            | K::RemoveEntryIfDoesntExist
            | K::RemoveEntryIfEqual
            | K::RemoveEntryIfNotEqual
                if self.remove_entry.is_none() =>
            {
                missing("removeEntry")
            }
            K::RemoveEntryAllSatisfied if self.remove_entry_all_satisfied.is_empty() => {
                missing("removeEntryAllSatisfied")
            }
            K::KeepEntryQuery => flowdsl::parse(&self.keep_entry_query)
                .map(|_| ())
                .map_err(|e| format!("keepEntryQuery `{}`: {e}", self.keep_entry_query)),
            K::AddField if self.add_field.is_none() => missing("addField"),
            K::AddFieldIfDoesntExist if self.add_field_if_doesnt_exist.is_none() => {
                missing("addFieldIfDoesntExist")
            }
            K::AddFieldIf if self.add_field_if.is_none() => missing("addFieldIf"),
            K::AddRegexIf => match &self.add_regex_if {
                None => missing("addRegexIf"),
                Some(r) => regex_check(&r.parameters),
            },
            K::AddLabel if self.add_label.is_none() => missing("addLabel"),
            K::AddLabelIf if self.add_label_if.is_none() => missing("addLabelIf"),
            K::ConditionalSampling if self.conditional_sampling.is_empty() => {
                missing("conditionalSampling")
            }
            _ => Ok(()),
        }
    }
}

fn regex_check(pattern: &str) -> Result<(), String> {
    flowdsl::Pattern::new(pattern)
        .map(|_| ())
        .map_err(|e| format!("regex `{pattern}`: {e}"))
}
