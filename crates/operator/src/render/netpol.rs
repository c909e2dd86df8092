//! NetworkPolicies isolating the main and privileged namespaces (reference §3.6).
//!
//! Deployed when `networkPolicy.enable` is true, or when unset and the CNI is known and supports
//! policies (not OpenShift SDN).

use super::{Inputs, Object, PART_OF_LABEL, PART_OF_VALUE, meta, string_map};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netobserv_api::v1beta2::{DeploymentModel, LokiMode};
use netobserv_api::validate::Cni;

/// Name of both policies.
pub const POLICY_NAME: &str = "netobserv";

/// Whether policies are deployed.
pub fn enabled(inputs: &Inputs<'_>) -> bool {
    match inputs.spec().network_policy.enable {
        Some(explicit) => explicit,
        None => matches!(
            inputs.facts.cni,
            Some(Cni::OvnKubernetes | Cni::Kindnet | Cni::Other(_))
        ),
    }
}

fn ns_peer(ns: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(string_map(&[("kubernetes.io/metadata.name", ns)])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn label_peer(key: &str, value: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(string_map(&[(key, value)])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn any_peer() -> Vec<NetworkPolicyPeer> {
    ["0.0.0.0/0", "::/0"]
        .iter()
        .map(|cidr| NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: (*cidr).to_string(),
                except: None,
            }),
            ..NetworkPolicyPeer::default()
        })
        .collect()
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".to_string()),
        end_port: None,
    }
}

fn ingress(
    from: Vec<NetworkPolicyPeer>,
    ports: Vec<NetworkPolicyPort>,
) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(from),
        ports: (!ports.is_empty()).then_some(ports),
    }
}

fn egress(to: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(to),
        ports: (!ports.is_empty()).then_some(ports),
    }
}

/// The policies.
pub fn render(inputs: &Inputs<'_>) -> Vec<Object> {
    if !enabled(inputs) {
        return Vec::new();
    }
    let spec = inputs.spec();
    let ns = inputs.ns();
    let pns = inputs.privileged_ns();
    let openshift = inputs.is_openshift();
    let flp_port = super::transport::processor_port(spec);
    let mut ins = vec![ingress(vec![ns_peer(ns)], vec![])];
    let mut outs = vec![egress(vec![ns_peer(ns)], vec![])];
    // The pipeline and plugin talk to the API server (informers, token reviews); its address is
    // a host or load-balancer IP that no namespace selector matches.
    outs.push(egress(any_peer(), vec![tcp(443), tcp(6443)]));
    if openshift {
        for target in ["openshift-dns", "openshift-monitoring"] {
            outs.push(egress(vec![ns_peer(target)], vec![]));
        }
        ins.push(ingress(
            vec![
                ns_peer("openshift-monitoring"),
                ns_peer("openshift-user-workload-monitoring"),
            ],
            vec![],
        ));
        if inputs.has_api(super::API_CONSOLE_PLUGIN) {
            ins.push(ingress(
                vec![ns_peer("openshift-console")],
                vec![tcp(super::plugin::plugin_port(spec))],
            ));
        }
        if spec.deployment_model == DeploymentModel::Service {
            ins.push(ingress(
                vec![label_peer(
                    "policy-group.network.openshift.io/host-network",
                    "",
                )],
                vec![tcp(flp_port)],
            ));
        }
    } else {
        outs.push(egress(vec![ns_peer("kube-system")], vec![]));
        // Metrics ports are scrapeable from any namespace: Prometheus placement varies.
        ins.push(ingress(
            vec![NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector::default()),
                ..NetworkPolicyPeer::default()
            }],
            vec![
                tcp(super::flp_config::PROMETHEUS_PORT),
                tcp(super::plugin::PLUGIN_METRICS_PORT),
            ],
        ));
        if spec.deployment_model == DeploymentModel::Service {
            // Agents run on the host network: their traffic comes from node addresses.
            let from = if inputs.facts.cni == Some(Cni::OvnKubernetes) {
                vec![ns_peer("ovn-host-network")]
            } else {
                any_peer()
            };
            ins.push(ingress(from, vec![tcp(flp_port)]));
        }
    }
    if spec.use_loki() && spec.loki.mode == LokiMode::LokiStack {
        let loki_ns = &spec.loki.loki_stack.namespace;
        if !loki_ns.is_empty() && loki_ns != ns {
            ins.push(ingress(vec![ns_peer(loki_ns)], vec![]));
            outs.push(egress(vec![ns_peer(loki_ns)], vec![]));
        }
    }
    for extra in &spec.network_policy.additional_namespaces {
        ins.push(ingress(vec![ns_peer(extra)], vec![]));
        outs.push(egress(vec![ns_peer(extra)], vec![]));
    }
    let main = NetworkPolicy {
        metadata: meta(
            POLICY_NAME,
            Some(ns),
            string_map(&[(PART_OF_LABEL, PART_OF_VALUE)]),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(string_map(&[(PART_OF_LABEL, PART_OF_VALUE)])),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(ins),
            egress: Some(outs),
        }),
    };
    let privileged_ingress = if openshift {
        vec![ingress(vec![ns_peer("openshift-monitoring")], vec![])]
    } else {
        Vec::new()
    };
    let privileged = NetworkPolicy {
        metadata: meta(
            POLICY_NAME,
            Some(&pns),
            string_map(&[(PART_OF_LABEL, PART_OF_VALUE)]),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_string()]),
            // The API server drops an empty list (`omitempty`): rendering `ingress: []` made
            // every apply a change, and the operator's own watch a reconcile loop.
            ingress: (!privileged_ingress.is_empty()).then_some(privileged_ingress),
            egress: None,
        }),
    };
    vec![
        Object::NetworkPolicy(main),
        Object::NetworkPolicy(privileged),
    ]
}
