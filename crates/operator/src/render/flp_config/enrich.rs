//! The `enrich` stage: Kubernetes metadata of both ends (and of translated addresses), the
//! reinterpreted direction, TCP flags, the flow layer and the secondary networks to index.

use crate::render::Inputs;
use netobserv_api::v1beta2::{AgentFeature, SecondaryNetworkIndex};
use netobserv_flp_config as flp;
use netobserv_flp_config::{NamespacedName, NetworkRule, NetworkRuleKind, NetworkTransform};
use serde_json::json;

/// The `enrich` stage: Kubernetes metadata, direction, TCP flags, flow layer.
pub(super) fn enrich(inputs: &Inputs<'_>) -> NetworkTransform {
    let spec = inputs.spec();
    let flp_spec = &spec.processor;
    let advanced = flp_spec.advanced.clone().unwrap_or_default();
    let add_zone = flp_spec.add_zone == Some(true);
    let kube = |ip: &str, mac: &str, out: &str| {
        NetworkRule::kubernetes(flp::KubernetesRule {
            ip_field: ip.into(),
            mac_field: mac.into(),
            interfaces_field: "Interfaces".into(),
            udns_field: "Udns".into(),
            output: out.into(),
            add_zone: Some(add_zone),
            ..flp::KubernetesRule::default()
        })
    };
    let xlat = |ip: &str, out: &str| {
        NetworkRule::kubernetes(flp::KubernetesRule {
            ip_field: ip.into(),
            output: out.into(),
            ..flp::KubernetesRule::default()
        })
    };
    let mut rules = vec![
        kube("SrcAddr", "SrcMac", "SrcK8S"),
        kube("DstAddr", "DstMac", "DstK8S"),
    ];
    if spec.has_feature(AgentFeature::PacketTranslation) {
        rules.push(xlat("XlatSrcAddr", "XlatSrcK8S"));
        rules.push(xlat("XlatDstAddr", "XlatDstK8S"));
    }
    rules.push(NetworkRule::of(NetworkRuleKind::ReinterpretDirection));
    rules.push(NetworkRule::tcp_flags("Flags", "Flags"));
    rules.push(NetworkRule {
        kind: NetworkRuleKind::AddKubernetesInfra,
        kubernetes_infra: Some(flp::KubernetesInfraRule {
            namespace_name_fields: vec![
                NamespacedName::new("SrcK8S_Namespace", "SrcK8S_Name"),
                NamespacedName::new("DstK8S_Namespace", "DstK8S_Name"),
            ],
            output: "K8S_FlowLayer".into(),
            infra_prefixes: vec![inputs.ns().to_string(), "openshift".into()],
            infra_refs: vec![
                NamespacedName::new("default", "kubernetes"),
                NamespacedName::new("default", "openshift"),
            ],
        }),
        ..NetworkRule::default()
    });
    let mut secondary_networks: Vec<flp::SecondaryNetworkConfig> = advanced
        .secondary_networks
        .iter()
        .map(|n| flp::SecondaryNetworkConfig {
            name: n.name.clone(),
            index: n
                .index
                .iter()
                .map(|i| {
                    let key = match i {
                        SecondaryNetworkIndex::Mac => flp::SecondaryIndex::Mac,
                        SecondaryNetworkIndex::Ip => flp::SecondaryIndex::Ip,
                        SecondaryNetworkIndex::Interface => flp::SecondaryIndex::Interface,
                    };
                    (key, json!({}))
                })
                .collect(),
        })
        .collect();
    if spec.has_feature(AgentFeature::UdnMapping) {
        secondary_networks.push(flp::SecondaryNetworkConfig {
            name: "ovn-kubernetes".into(),
            index: [(flp::SecondaryIndex::Udn, json!({}))].into(),
        });
    }
    NetworkTransform {
        rules,
        direction_info: Some(flp::DirectionInfo {
            reporter_ip_field: "AgentIP".into(),
            src_host_field: "SrcK8S_HostIP".into(),
            dst_host_field: "DstK8S_HostIP".into(),
            flow_direction_field: "FlowDirection".into(),
            if_direction_field: "IfDirection".into(),
        }),
        kube_config: Some(flp::KubeConfig {
            tracked_kinds: vec!["ReplicaSet".into(), "Deployment".into(), "Gateway".into()],
            secondary_networks,
            ..flp::KubeConfig::default()
        }),
        ..NetworkTransform::default()
    }
}
