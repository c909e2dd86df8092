//! The pipeline the agents run in process for `metrics` (`EXPORT=direct-flp`, `FLP_CONFIG`):
//! the agent's own flows (`preset-ingester`) -> Kubernetes enrichment (both ends, zones,
//! direction reinterpreted from the node's point of view, infrastructure / application layer)
//! -> a `prom` encoder serving the include list on port 9401 (`metricsSettings`) with upstream's
//! `on_demand_netobserv_` prefix. The metric definitions are the operator's
//! ([`netobserv_operator::render::metrics::predefined_with`]), so a metric means the same thing
//! on demand and in a FlowCollector.

use netobserv_api::v1beta2::FlpMetric;
use netobserv_operator::render::metrics::{MetricLabels, predefined_with};
use netobserv_pipeline::config::{
    Config, DirectionInfo, Encode, KubeConfig, KubernetesInfraRule, KubernetesRule,
    MetricsSettings, NamespacedName, NetworkRule, NetworkRuleKind, NetworkTransform, PromEncode,
    StageParams, StageRef, Transform,
};

/// Port of the agents' metrics endpoint (upstream's).
pub const METRICS_PORT: u16 = 9401;
/// Prefix of every on-demand metric (upstream's).
pub const PREFIX: &str = "on_demand_netobserv_";

/// The metric of an `--include_list` entry, or a message listing the valid names.
pub fn metric(name: &str) -> Result<FlpMetric, String> {
    FlpMetric::ALL
        .iter()
        .copied()
        .find(|m| m.as_str() == name)
        .ok_or_else(|| {
            let known: Vec<&str> = FlpMetric::ALL.iter().map(|m| m.as_str()).collect();
            format!("unknown metric `{name}`; known: {}", known.join(", "))
        })
}

fn enrich(namespace: &str, kube_config_path: &str) -> NetworkTransform {
    let kube = |ip: &str, mac: &str, out: &str| {
        NetworkRule::kubernetes(KubernetesRule {
            ip_field: ip.into(),
            mac_field: mac.into(),
            interfaces_field: "Interfaces".into(),
            output: out.into(),
            add_zone: Some(true),
            ..KubernetesRule::default()
        })
    };
    NetworkTransform {
        rules: vec![
            kube("SrcAddr", "SrcMac", "SrcK8S"),
            kube("DstAddr", "DstMac", "DstK8S"),
            NetworkRule::of(NetworkRuleKind::ReinterpretDirection),
            NetworkRule {
                kind: NetworkRuleKind::AddKubernetesInfra,
                kubernetes_infra: Some(KubernetesInfraRule {
                    namespace_name_fields: vec![
                        NamespacedName::new("SrcK8S_Namespace", "SrcK8S_Name"),
                        NamespacedName::new("DstK8S_Namespace", "DstK8S_Name"),
                    ],
                    output: "K8S_FlowLayer".into(),
                    infra_prefixes: vec![namespace.to_string(), "openshift".into()],
                    infra_refs: vec![
                        NamespacedName::new("default", "kubernetes"),
                        NamespacedName::new("default", "openshift"),
                    ],
                }),
                ..NetworkRule::default()
            },
        ],
        direction_info: Some(DirectionInfo {
            reporter_ip_field: "AgentIP".into(),
            src_host_field: "SrcK8S_HostIP".into(),
            dst_host_field: "DstK8S_HostIP".into(),
            flow_direction_field: "FlowDirection".into(),
            if_direction_field: "IfDirection".into(),
        }),
        kube_config: Some(KubeConfig {
            config_path: kube_config_path.to_string(),
            tracked_kinds: vec!["ReplicaSet".into(), "Deployment".into()],
            ..KubeConfig::default()
        }),
        ..NetworkTransform::default()
    }
}

/// The agents' `FLP_CONFIG` for `include` (metrics served on `port`). `kube_config_path` empty
/// means in-cluster (what the DaemonSet uses); tests point it at a kubeconfig file.
pub fn config(include: &[FlpMetric], namespace: &str, port: u16, kube_config_path: &str) -> Config {
    let labels = MetricLabels {
        cluster_name: false,
        zones: true,
    };
    Config {
        pipeline: vec![
            StageRef::new("enrich", Some(netobserv_pipeline::config::PRESET_INGESTER)),
            StageRef::new("prometheus", Some("enrich")),
        ],
        parameters: vec![
            StageParams {
                name: "enrich".into(),
                transform: Some(Transform::network(enrich(namespace, kube_config_path))),
                ..StageParams::default()
            },
            StageParams {
                name: "prometheus".into(),
                // Served by the shared metrics server (`metricsSettings`), on `port`.
                encode: Some(Encode::prom(PromEncode {
                    prefix: PREFIX.into(),
                    metrics: include
                        .iter()
                        .map(|m| predefined_with(labels, *m))
                        .collect(),
                    ..PromEncode::default()
                })),
                ..StageParams::default()
            },
        ],
        metrics_settings: Some(MetricsSettings {
            port: Some(port),
            ..MetricsSettings::default()
        }),
        ..Config::default()
    }
}

/// [`config`] as the JSON text of the `FLP_CONFIG` variable.
pub fn config_json(
    include: &[FlpMetric],
    namespace: &str,
    subnets: &[crate::subnets::SubnetLabel],
) -> String {
    let mut config = config(include, namespace, METRICS_PORT, "");
    with_subnets(&mut config, subnets);
    // The configuration types are plain data with string keys: serialising cannot fail.
    serde_json::to_string(&config).unwrap_or_default()
}

/// Adds `add_subnet_label` for both ends to the `enrich` stage, with `subnets` as its groups
/// (`--get-subnets`); nothing when there are none.
pub fn with_subnets(config: &mut Config, subnets: &[crate::subnets::SubnetLabel]) {
    if subnets.is_empty() {
        return;
    }
    for p in &mut config.parameters {
        if let Some(t) = p.transform.as_mut().and_then(|t| t.network.as_mut()) {
            t.rules
                .push(NetworkRule::subnet_label("SrcAddr", "SrcSubnetLabel"));
            t.rules
                .push(NetworkRule::subnet_label("DstAddr", "DstSubnetLabel"));
            t.subnet_labels = subnets
                .iter()
                .map(|s| netobserv_pipeline::config::SubnetLabel {
                    name: s.name.clone(),
                    cidrs: s.cidrs.clone(),
                })
                .collect();
        }
    }
}
