//! Checks of `spec.agent.ebpf`: features that need privileges, and the flow filter rules (CIDRs,
//! peer addresses, port strings, duplicate rules).

use super::cluster::feature_name;
use super::{ClusterFacts, Report};
use crate::v1beta2::{AgentFeature, EbpfFlowFilterRule, FlowCollectorSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::HashMap;
use std::net::IpAddr;

/// Features whose kernel hooks only load in a privileged agent.
const NEED_PRIVILEGED: &[AgentFeature] = &[AgentFeature::UdnMapping, AgentFeature::NetworkEvents];

pub(super) fn check(spec: &FlowCollectorSpec, _facts: &ClusterFacts, report: &mut Report) {
    let ebpf = &spec.agent.ebpf;
    let features = &ebpf.features;
    if features.contains(&AgentFeature::EbpfManager) {
        // Upstream marks it unsupported too; accepting it would render a bpfman application
        // the agent never uses while the agent still loads its own programs.
        report.error(
            "spec.agent.ebpf.features",
            "EbpfManager is not supported: the netobserv-rs agent loads and attaches its own eBPF programs and cannot take them from bpfman; remove EbpfManager from spec.agent.ebpf.features",
        );
    }
    if !ebpf.privileged {
        for feature in NEED_PRIVILEGED.iter().filter(|f| features.contains(f)) {
            report.warn(
                "spec.agent.ebpf.privileged",
                format!(
                    "the {} feature needs the eBPF agent to run privileged; set spec.agent.ebpf.privileged to true",
                    feature_name(*feature)
                ),
            );
        }
        if features.contains(&AgentFeature::PacketDrop)
            && !features.contains(&AgentFeature::EbpfManager)
        {
            report.warn(
                "spec.agent.ebpf.privileged",
                "the PacketDrop feature needs the eBPF agent to run privileged (or the EbpfManager feature); set spec.agent.ebpf.privileged to true",
            );
        }
    }
    if let Some(filter) = &ebpf.flow_filter
        && filter.enable == Some(true)
    {
        let base = "spec.agent.ebpf.flowFilter";
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, rule) in filter.rules.iter().enumerate() {
            let path = format!("{base}.rules[{i}]");
            if let Some(first) = seen.insert((rule.cidr.as_str(), rule.peer_cidr.as_str()), i) {
                report.error(
                    &path,
                    format!(
                        "rules[{first}] already has cidr `{}` and peerCIDR `{}`: each cidr/peerCIDR pair may appear once",
                        rule.cidr, rule.peer_cidr
                    ),
                );
            }
            check_rule(rule, &path, report);
        }
        check_rule(&filter.rule, base, report);
    }
}

/// Checks one rule's addresses and ports. Upstream only parses `cidr`; `peerCIDR` and `peerIP` are
/// checked here too, since the agent cannot load a rule it cannot parse.
pub(super) fn check_rule(rule: &EbpfFlowFilterRule, path: &str, report: &mut Report) {
    for (field, value) in [("cidr", &rule.cidr), ("peerCIDR", &rule.peer_cidr)] {
        if !value.is_empty() && value.parse::<ipnet::IpNet>().is_err() {
            report.error(
                format!("{path}.{field}"),
                format!("`{value}` is not a CIDR (expected e.g. 10.0.0.0/8 or fd00::/64)"),
            );
        }
    }
    if !rule.peer_ip.is_empty() && rule.peer_ip.parse::<IpAddr>().is_err() {
        report.error(
            format!("{path}.peerIP"),
            format!("`{}` is not an IP address", rule.peer_ip),
        );
    }
    let ports = port_setting(&rule.ports);
    let source = port_setting(&rule.source_ports);
    let dest = port_setting(&rule.dest_ports);
    for (field, setting) in [
        ("ports", &ports),
        ("sourcePorts", &source),
        ("destPorts", &dest),
    ] {
        if let Some(Err(message)) = setting {
            report.error(format!("{path}.{field}"), message);
        }
    }
    if ports.is_some() && source.is_some() {
        report.error(
            format!("{path}.ports"),
            "ports and sourcePorts cannot be combined: ports already matches either side",
        );
    }
    if ports.is_some() && dest.is_some() {
        report.error(
            format!("{path}.ports"),
            "ports and destPorts cannot be combined: ports already matches either side",
        );
    }
}

/// A rule's port matcher, once parsed: what the agent loads into its filter map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortMatch {
    /// One port.
    Single(u16),
    /// An inclusive range, start < end.
    Range(u16, u16),
    /// Exactly two ports.
    Pair(u16, u16),
}

/// `None` when the field is unset (absent, `0` or `""`, which upstream also treats as unset).
fn port_setting(value: &Option<IntOrString>) -> Option<Result<PortMatch, String>> {
    match value {
        None => None,
        Some(IntOrString::Int(0)) => None,
        Some(IntOrString::String(s)) if s.is_empty() => None,
        Some(v) => Some(parse_ports(v)),
    }
}

/// Parses a port setting: an integer, `"a-b"` (a range, a < b) or `"a,b"` (two ports).
pub fn parse_ports(value: &IntOrString) -> Result<PortMatch, String> {
    match value {
        IntOrString::Int(n) => u16::try_from(*n)
            .ok()
            .filter(|p| *p != 0)
            .map(PortMatch::Single)
            .ok_or_else(|| format!("{n} is not a port (1-65535)")),
        IntOrString::String(s) => {
            if let Some((start, end)) = s.split_once('-') {
                let start = port_number(start).map_err(|e| format!("start of range `{s}`: {e}"))?;
                let end = port_number(end).map_err(|e| format!("end of range `{s}`: {e}"))?;
                if start >= end {
                    return Err(format!("range `{s}` must start below its end"));
                }
                Ok(PortMatch::Range(start, end))
            } else if s.contains(',') {
                let parts: Vec<&str> = s.split(',').collect();
                let [first, second] = parts.as_slice() else {
                    return Err(format!(
                        "`{s}` must list exactly two ports, as in \"80,443\""
                    ));
                };
                let first = port_number(first).map_err(|e| format!("first port of `{s}`: {e}"))?;
                let second =
                    port_number(second).map_err(|e| format!("second port of `{s}`: {e}"))?;
                Ok(PortMatch::Pair(first, second))
            } else {
                port_number(s).map(PortMatch::Single)
            }
        }
    }
}

fn port_number(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(0) => Err("port 0 is not a port".to_string()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("`{s}` is not a port number (1-65535)")),
    }
}
