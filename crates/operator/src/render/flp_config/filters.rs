//! Filter rules: the user's keep queries per output target, and the de-duplication rule.

use super::stages::sampling_ratio;
use netobserv_api::v1beta2::{FlowCollectorFlp, FlpDeduperMode, FlpFilterTarget};
use netobserv_flp_config as flp;
use netobserv_flp_config::{
    FilterGenericRule, FilterRule, FilterRuleKind, FilterTransform, RemoveEntryRule, Transform,
};
use serde_json::json;

/// The keep rules of the filters aimed at `target` (those with a query).
pub(super) fn keep_rules(flp_spec: &FlowCollectorFlp, target: FlpFilterTarget) -> Vec<FilterRule> {
    flp_spec
        .filters
        .iter()
        .filter(|f| f.output_target == target)
        .filter(|f| !f.query.is_empty())
        .map(|f| FilterRule {
            kind: FilterRuleKind::KeepEntryQuery,
            keep_entry_query: f.query.clone(),
            keep_entry_sampling: (f.sampling > 1).then(|| sampling_ratio(f.sampling)),
            ..FilterRule::default()
        })
        .collect()
}

/// A filter transform of `rules`, sampling read from the `Sampling` field.
pub(super) fn filter_stage(rules: Vec<FilterRule>) -> Transform {
    Transform::filter(FilterTransform {
        rules,
        sampling_field: "Sampling".into(),
    })
}

/// The de-duplication rule: drop (or sample) the egress copy of flows seen on both ends.
pub(super) fn dedup(mode: FlpDeduperMode, sampling: u16) -> FilterRule {
    let entry = |kind, input: &str, value: Option<serde_json::Value>, cast_int| RemoveEntryRule {
        kind,
        remove_entry: FilterGenericRule {
            input: input.into(),
            value,
            cast_int,
        },
    };
    let rules = vec![
        entry(
            FilterRuleKind::RemoveEntryIfEqual,
            "FlowDirection",
            Some(json!(1)),
            true,
        ),
        entry(
            FilterRuleKind::RemoveEntryIfExists,
            "DstK8S_OwnerName",
            None,
            false,
        ),
    ];
    if mode == FlpDeduperMode::Drop {
        FilterRule {
            kind: FilterRuleKind::RemoveEntryAllSatisfied,
            remove_entry_all_satisfied: rules,
            ..FilterRule::default()
        }
    } else {
        FilterRule {
            kind: FilterRuleKind::ConditionalSampling,
            conditional_sampling: vec![flp::SamplingCondition {
                value: sampling,
                rules,
            }],
            ..FilterRule::default()
        }
    }
}
