//! `--pod NAMESPACE/NAME` (beyond upstream): looks the pod up through the API server and turns
//! it into what a person would otherwise type: the agents only on the pod's node (a
//! `kubernetes.io/hostname` node selector, as `--node`) and, in every filter rule, the pod's
//! address as `--cidr` (`/32` or `/128`), so only the pod's traffic is captured. A rule that
//! already has a `--cidr` is refused rather than silently overridden.

use crate::render::Plan;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::Api;

/// Where a pod is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodTarget {
    /// `namespace/name`, for messages.
    pub pod: String,
    /// Its address.
    pub ip: std::net::IpAddr,
    /// Its node.
    pub node: String,
}

/// Why `--pod` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not `namespace/name`.
    #[error("--pod {0}: expected NAMESPACE/NAME")]
    Syntax(String),
    /// The API server refused or could not be reached (not found included).
    #[error("--pod {pod}: {source}")]
    Api {
        /// The pod.
        pod: String,
        /// Why.
        source: kube::Error,
    },
    /// The pod has no address or node yet.
    #[error("--pod {pod}: the pod has no {missing} yet (is it scheduled and running?)")]
    NotPlaced {
        /// The pod.
        pod: String,
        /// `IP` or `node`.
        missing: &'static str,
    },
    /// `--pod` with options that contradict it.
    #[error("--pod {pod}: {message}")]
    Conflict {
        /// The pod.
        pod: String,
        /// Which option.
        message: String,
    },
}

/// Looks `spec` (`namespace/name`) up.
pub async fn resolve(client: &Client, spec: &str) -> Result<PodTarget, TargetError> {
    let (ns, name) = spec
        .split_once('/')
        .filter(|(n, p)| !n.is_empty() && !p.is_empty() && !p.contains('/'))
        .ok_or_else(|| TargetError::Syntax(spec.to_string()))?;
    let pod = Api::<Pod>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .map_err(|source| TargetError::Api {
            pod: spec.to_string(),
            source,
        })?;
    let not_placed = |missing| TargetError::NotPlaced {
        pod: spec.to_string(),
        missing,
    };
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok())
        .ok_or_else(|| not_placed("IP"))?;
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .ok_or_else(|| not_placed("node"))?;
    Ok(PodTarget {
        pod: spec.to_string(),
        ip,
        node,
    })
}

/// Narrows `plan` to the pod: its node, and its address in every rule (one rule when none).
pub fn apply(plan: &mut Plan, target: &PodTarget) -> Result<(), TargetError> {
    let conflict = |message: String| TargetError::Conflict {
        pod: target.pod.clone(),
        message,
    };
    match &plan.agent.node {
        Some(n) if *n != target.node => {
            return Err(conflict(format!(
                "the pod runs on node {}, not on --node {n}",
                target.node
            )));
        }
        _ => plan.agent.node = Some(target.node.clone()),
    }
    let cidr = match target.ip {
        std::net::IpAddr::V4(ip) => format!("{ip}/32"),
        std::net::IpAddr::V6(ip) => format!("{ip}/128"),
    };
    if plan.rules.is_empty() {
        plan.rules.push(Default::default());
    }
    for (i, rule) in plan.rules.iter_mut().enumerate() {
        if let Some(c) = &rule.cidr {
            return Err(conflict(format!(
                "filter rule {} already has --cidr={c}; --pod sets the pod's address",
                i + 1
            )));
        }
        rule.cidr = Some(cidr.clone());
    }
    Ok(())
}
