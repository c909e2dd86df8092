//! The agent DaemonSet of a capture: the eBPF agent on every (selected) node, sending flows or
//! packets straight to the collector's Service.

use super::{COLLECTOR, COLLECTOR_PORT, Capture, NAME, Plan};
use crate::options::filter::agent_rules_json;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{Container, ContainerPort, EnvVar, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use netobserv_operator::render::agent::agent_security_context;
use netobserv_operator::render::pod::Volumes;
use netobserv_operator::render::{meta, tolerate_all};
use std::collections::BTreeMap;

/// Pod label of the agents (upstream's).
pub const AGENT_LABEL: (&str, &str) = ("app", NAME);

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// The agent's environment: export to the collector, features, interfaces, filter rules.
pub fn env_vars(plan: &Plan) -> Vec<EnvVar> {
    let ns = plan.namespace();
    let mut out = match &plan.capture {
        // The pipeline runs in the agent and serves the metrics itself.
        Capture::Metrics { include, .. } => vec![
            env("EXPORT", "direct-flp"),
            env(
                "FLP_CONFIG",
                crate::metrics::flp::config_json(include, ns, &plan.subnet_labels),
            ),
        ],
        _ => vec![
            env("EXPORT", "grpc"),
            env("TARGET_HOST", format!("{COLLECTOR}.{ns}.svc")),
            env("TARGET_PORT", COLLECTOR_PORT.to_string()),
        ],
    };
    out.extend([
        env("LOG_LEVEL", plan.agent.log_level.clone()),
        // Flows reach the person watching within a second (upstream's setting).
        env("CACHE_ACTIVE_TIMEOUT", "1s"),
        env("TC_ATTACH_MODE", "any"),
    ]);
    match &plan.capture {
        Capture::Flows(f) | Capture::Metrics { features: f, .. } => {
            out.push(env("SAMPLING", f.sampling.to_string()));
            for (on, name) in [
                (f.dns, "ENABLE_DNS_TRACKING"),
                (f.rtt, "ENABLE_RTT"),
                (f.pkt_drop, "ENABLE_PKT_DROPS"),
                (f.network_events, "ENABLE_NETWORK_EVENTS_MONITORING"),
                (f.pkt_translation, "ENABLE_PKT_TRANSLATION"),
                (f.ipsec, "ENABLE_IPSEC_TRACKING"),
                (f.udn_mapping, "ENABLE_UDN_MAPPING"),
            ] {
                if on || f.all {
                    out.push(env(name, "true"));
                }
            }
        }
        Capture::Packets { snaplen } => {
            out.push(env("ENABLE_PCA", "true"));
            out.push(env("PCA_SNAPLEN", snaplen.to_string()));
        }
    }
    if let Some(list) = &plan.agent.interfaces {
        out.push(env("INTERFACES", list.0.join(",")));
    }
    out.push(env(
        "EXCLUDE_INTERFACES",
        plan.agent.exclude_interfaces.0.join(","),
    ));
    if !plan.rules.is_empty() {
        out.push(env("FLOW_FILTER_RULES", agent_rules_json(&plan.rules)));
    }
    out
}

/// The DaemonSet.
pub fn daemon_set(plan: &Plan) -> DaemonSet {
    let ns = plan.namespace();
    let mut volumes = Volumes::new(ns);
    volumes.host_path("bpf-fs", "/sys/fs/bpf", "/sys/fs/bpf", false);
    if plan.agent.privileged {
        volumes.host_path("var-run-netns", "/var/run/netns", "/var/run/netns", true);
        let (ovs, ovn) = match &plan.capture {
            Capture::Flows(f) | Capture::Metrics { features: f, .. } => {
                (f.all || f.udn_mapping || f.network_events, f.network_events)
            }
            Capture::Packets { .. } => (false, false),
        };
        // As the operator mounts them: UDN mapping and network events read the OVS database
        // socket (present on every Open vSwitch node); network events also the OVN
        // controller's, at OpenShift's OVN-IC path (where `oc netobserv` runs), mounted only
        // when asked for by name: a node without that directory would refuse the pod.
        if ovn {
            volumes.host_path("var-run-ovn", "/var/run/ovn-ic", "/var/run/ovn", true);
        }
        if ovs {
            volumes.host_path(
                "var-run-ovs",
                "/var/run/openvswitch",
                "/var/run/openvswitch",
                true,
            );
        }
    }
    let mut pod_labels = plan.labels();
    pod_labels.insert(AGENT_LABEL.0.into(), AGENT_LABEL.1.into());
    let mut node_selector = BTreeMap::new();
    if let Some(l) = &plan.agent.node_selector {
        node_selector.insert(l.key.clone(), l.value.clone());
    }
    if let Some(n) = &plan.agent.node {
        node_selector.insert("kubernetes.io/hostname".to_string(), n.clone());
    }
    DaemonSet {
        metadata: meta(NAME, Some(ns), plan.labels()),
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    AGENT_LABEL.0.to_string(),
                    AGENT_LABEL.1.to_string(),
                )])),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(NAME.to_string()),
                    host_network: Some(true),
                    dns_policy: Some("ClusterFirstWithHostNet".to_string()),
                    tolerations: Some(tolerate_all()),
                    node_selector: (!node_selector.is_empty()).then_some(node_selector),
                    containers: vec![Container {
                        name: NAME.to_string(),
                        image: Some(plan.agent_image.clone()),
                        image_pull_policy: Some("IfNotPresent".to_string()),
                        security_context: Some(agent_security_context(plan.agent.privileged, None)),
                        env: Some(env_vars(plan)),
                        ports: matches!(plan.capture, Capture::Metrics { .. }).then(|| {
                            vec![ContainerPort {
                                name: Some("prometheus".to_string()),
                                container_port: i32::from(crate::metrics::flp::METRICS_PORT),
                                protocol: Some("TCP".to_string()),
                                ..ContainerPort::default()
                            }]
                        }),
                        volume_mounts: Some(volumes.mounts),
                        ..Container::default()
                    }],
                    volumes: Some(volumes.volumes),
                    ..PodSpec::default()
                }),
            },
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    }
}
