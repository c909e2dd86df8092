//! The transforms between ingest and outputs, in pipeline order: enrichment, subnet labels and
//! global filters (both dynamic, so edits hot-reload), then de-duplication.

use super::enrich::enrich;
use super::filters::{dedup, filter_stage, keep_rules};
use super::stages::{Builder, sampling_ratio, transform};
use crate::render::Inputs;
use netobserv_api::v1beta2::{FlowCollectorFlp, FlpDeduperMode, FlpFilterTarget};
use netobserv_flp_config as flp;
use netobserv_flp_config::{
    FilterGenericRule, FilterRule, FilterRuleKind, FilterTransform, NetworkRule, NetworkTransform,
    Transform,
};
use serde_json::json;

/// Adds the transform stages after `last`; returns the name of the last one.
pub(super) fn transforms(inputs: &Inputs<'_>, b: &mut Builder, last: String) -> String {
    let flp_spec = &inputs.spec().processor;
    let mut last = b.stage(
        Some(&last),
        transform("enrich", Transform::network(enrich(inputs))),
        false,
    );
    if let Some(network) = subnet_labels(flp_spec) {
        last = b.stage(
            Some(&last),
            transform("subnets", Transform::network(network)),
            true,
        );
    }
    let global = global_filters(flp_spec);
    if !global.is_empty() {
        last = b.stage(
            Some(&last),
            transform("filters", filter_stage(global)),
            true,
        );
    }
    if let Some(filter) = deduplication(flp_spec) {
        last = b.stage(Some(&last), transform("dedup", filter), false);
    }
    last
}

/// The subnet labelling of both ends, when custom subnet labels are set.
fn subnet_labels(flp_spec: &FlowCollectorFlp) -> Option<NetworkTransform> {
    let custom = &flp_spec.subnet_labels.custom_labels;
    if custom.is_empty() {
        return None;
    }
    Some(NetworkTransform {
        rules: vec![
            NetworkRule::subnet_label("SrcAddr", "SrcSubnetLabel"),
            NetworkRule::subnet_label("DstAddr", "DstSubnetLabel"),
        ],
        subnet_labels: custom
            .iter()
            .map(|l| flp::SubnetLabel {
                name: l.name.clone(),
                cidrs: l.cidrs.clone(),
            })
            .collect(),
        ..NetworkTransform::default()
    })
}

/// Rules applying to every output: the filters aimed at all, and the cluster name in a
/// multi-cluster deployment.
fn global_filters(flp_spec: &FlowCollectorFlp) -> Vec<FilterRule> {
    let mut global = keep_rules(flp_spec, FlpFilterTarget::All);
    if flp_spec.multi_cluster_deployment {
        global.push(FilterRule {
            kind: FilterRuleKind::AddFieldIfDoesntExist,
            add_field_if_doesnt_exist: Some(FilterGenericRule {
                input: "K8S_ClusterName".into(),
                value: Some(json!(flp_spec.cluster_name)),
                cast_int: false,
            }),
            ..FilterRule::default()
        });
    }
    global
}

/// The de-duplication filter, unless the deduper is absent or disabled.
fn deduplication(flp_spec: &FlowCollectorFlp) -> Option<Transform> {
    let d = flp_spec
        .deduper
        .as_ref()
        .filter(|d| d.mode != FlpDeduperMode::Disabled)?;
    Some(Transform::filter(FilterTransform {
        rules: vec![dedup(d.mode, sampling_ratio(d.sampling))],
        ..FilterTransform::default()
    }))
}
