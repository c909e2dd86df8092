//! The eBPF filter options of one rule, and their check and rendering into the agent's
//! `FLOW_FILTER_RULES` JSON (through the operator's own rule renderer, so the CLI and the
//! FlowCollector produce the same agent input for the same rule).

use super::values;
use clap::Args;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netobserv_api::v1beta2::{
    EbpfFilterAction, EbpfFilterDirection, EbpfFilterProtocol, EbpfFlowFilterRule, EbpfTcpFlags,
};
use serde_json::Value;

/// Most rules the agent's kernel filter holds (`MAX_FILTER_ENTRIES`).
pub const MAX_RULES: usize = 16;

/// The eBPF filter options; the bare word `or` on the command line starts another rule.
#[derive(Args, Clone, Debug, Default, PartialEq, Eq)]
#[command(next_help_heading = "eBPF filters (a bare `or` starts another rule)")]
pub struct FilterArgs {
    /// Keep (Accept) or drop (Reject) what the rule matches.
    #[arg(long, value_name = "Accept|Reject", value_parser = ["Accept", "Reject"])]
    pub action: Option<String>,
    /// Address range the source or destination must fall in [default when a rule is given:
    /// 0.0.0.0/0].
    #[arg(long, value_parser = values::cidr)]
    pub cidr: Option<String>,
    /// Direction on the node's interface.
    #[arg(long, value_name = "Ingress|Egress", value_parser = ["Ingress", "Egress"])]
    pub direction: Option<String>,
    /// Transport protocol.
    #[arg(long, value_name = "PROTO",
          value_parser = ["TCP", "UDP", "SCTP", "ICMP", "ICMPv6"])]
    pub protocol: Option<String>,
    /// Port, source or destination.
    #[arg(long, value_parser = values::port)]
    pub port: Option<u16>,
    /// Source port.
    #[arg(long, value_parser = values::port)]
    pub sport: Option<u16>,
    /// Destination port.
    #[arg(long, value_parser = values::port)]
    pub dport: Option<u16>,
    /// Port range `start-end`, source or destination.
    #[arg(long = "port_range", value_name = "START-END", value_parser = values::port_range)]
    pub port_range: Option<String>,
    /// Source port range `start-end`.
    #[arg(long = "sport_range", value_name = "START-END", value_parser = values::port_range)]
    pub sport_range: Option<String>,
    /// Destination port range `start-end`.
    #[arg(long = "dport_range", value_name = "START-END", value_parser = values::port_range)]
    pub dport_range: Option<String>,
    /// Two ports `a,b`, source or destination.
    #[arg(long, value_name = "A,B", value_parser = values::port_pair)]
    pub ports: Option<String>,
    /// Two source ports `a,b`.
    #[arg(long, value_name = "A,B", value_parser = values::port_pair)]
    pub sports: Option<String>,
    /// Two destination ports `a,b`.
    #[arg(long, value_name = "A,B", value_parser = values::port_pair)]
    pub dports: Option<String>,
    /// TCP flags.
    #[arg(long = "tcp_flags", value_name = "FLAGS",
          value_parser = ["SYN", "SYN-ACK", "ACK", "FIN", "RST", "URG", "ECE", "CWR", "FIN-ACK", "RST-ACK"])]
    pub tcp_flags: Option<String>,
    /// Only flows that saw drops (needs --enable_pkt_drop to see drops).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          value_name = "BOOL")]
    pub drops: Option<bool>,
    /// ICMP type.
    #[arg(long = "icmp_type", value_parser = values::icmp)]
    pub icmp_type: Option<u8>,
    /// ICMP code.
    #[arg(long = "icmp_code", value_parser = values::icmp)]
    pub icmp_code: Option<u8>,
    /// Address of the other end.
    #[arg(long = "peer_ip", value_parser = values::ip)]
    pub peer_ip: Option<String>,
    /// Address range of the other end.
    #[arg(long = "peer_cidr", value_parser = values::cidr)]
    pub peer_cidr: Option<String>,
}

/// A rule whose options contradict each other, naming them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    /// Two ways of giving the same port were used together.
    #[error(
        "filter rule {rule}: {a} and {b} cannot be used together (the agent takes one port form per side)"
    )]
    Conflict {
        /// 1-based rule number.
        rule: usize,
        /// One option.
        a: &'static str,
        /// The other.
        b: &'static str,
    },
    /// ICMP options on a non-ICMP protocol.
    #[error("filter rule {rule}: {option} needs --protocol=ICMP or --protocol=ICMPv6")]
    NotIcmp {
        /// 1-based rule number.
        rule: usize,
        /// The option.
        option: &'static str,
    },
    /// `--tcp_flags` on another protocol.
    #[error("filter rule {rule}: --tcp_flags needs --protocol=TCP (or no --protocol)")]
    NotTcp {
        /// 1-based rule number.
        rule: usize,
    },
    /// Port options on a protocol without ports.
    #[error("filter rule {rule}: {option} cannot match {protocol} traffic, which has no ports")]
    NoPorts {
        /// 1-based rule number.
        rule: usize,
        /// The option.
        option: &'static str,
        /// The protocol.
        protocol: String,
    },
    /// `--peer_ip` and `--peer_cidr` together.
    #[error("filter rule {rule}: --peer_ip and --peer_cidr cannot be used together")]
    Peer {
        /// 1-based rule number.
        rule: usize,
    },
}

impl FilterArgs {
    /// Whether no filter option was given.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    fn port_options(&self) -> [(&'static str, bool, char); 9] {
        [
            ("--port", self.port.is_some(), 'b'),
            ("--port_range", self.port_range.is_some(), 'b'),
            ("--ports", self.ports.is_some(), 'b'),
            ("--sport", self.sport.is_some(), 's'),
            ("--sport_range", self.sport_range.is_some(), 's'),
            ("--sports", self.sports.is_some(), 's'),
            ("--dport", self.dport.is_some(), 'd'),
            ("--dport_range", self.dport_range.is_some(), 'd'),
            ("--dports", self.dports.is_some(), 'd'),
        ]
    }

    /// Checks the options of rule number `rule` (1-based) against each other.
    pub fn check(&self, rule: usize) -> Result<(), RuleError> {
        let ports = self.port_options();
        for (i, (a, set_a, side_a)) in ports.iter().enumerate() {
            for (b, set_b, side_b) in &ports[i + 1..] {
                if *set_a && *set_b && side_a == side_b {
                    return Err(RuleError::Conflict { rule, a, b });
                }
            }
        }
        let proto = self.protocol.as_deref();
        let icmp = matches!(proto, Some("ICMP" | "ICMPv6"));
        if !icmp {
            if self.icmp_type.is_some() {
                return Err(RuleError::NotIcmp {
                    rule,
                    option: "--icmp_type",
                });
            }
            if self.icmp_code.is_some() {
                return Err(RuleError::NotIcmp {
                    rule,
                    option: "--icmp_code",
                });
            }
        }
        if self.tcp_flags.is_some() && proto.is_some_and(|p| p != "TCP") {
            return Err(RuleError::NotTcp { rule });
        }
        if icmp && let Some((option, _, _)) = ports.iter().find(|(_, set, _)| *set) {
            return Err(RuleError::NoPorts {
                rule,
                option,
                protocol: proto.unwrap_or_default().to_string(),
            });
        }
        if self.peer_ip.is_some() && self.peer_cidr.is_some() {
            return Err(RuleError::Peer { rule });
        }
        Ok(())
    }

    /// The rule in the FlowCollector's form (`spec.agent.ebpf.flowFilter.rules[]`).
    pub fn to_api_rule(&self) -> EbpfFlowFilterRule {
        let port_form = |single: Option<u16>, range: &Option<String>, pair: &Option<String>| {
            single
                .map(|p| IntOrString::Int(i32::from(p)))
                .or_else(|| range.clone().map(IntOrString::String))
                .or_else(|| pair.clone().map(IntOrString::String))
        };
        EbpfFlowFilterRule {
            cidr: self.cidr.clone().unwrap_or_else(|| "0.0.0.0/0".into()),
            action: Some(enum_of(&self.action).unwrap_or(EbpfFilterAction::Accept)),
            protocol: enum_of::<EbpfFilterProtocol>(&self.protocol),
            direction: enum_of::<EbpfFilterDirection>(&self.direction),
            tcp_flags: enum_of::<EbpfTcpFlags>(&self.tcp_flags),
            source_ports: port_form(self.sport, &self.sport_range, &self.sports),
            dest_ports: port_form(self.dport, &self.dport_range, &self.dports),
            ports: port_form(self.port, &self.port_range, &self.ports),
            peer_ip: self.peer_ip.clone().unwrap_or_default(),
            peer_cidr: self.peer_cidr.clone().unwrap_or_default(),
            icmp_code: self.icmp_code.map(i32::from),
            icmp_type: self.icmp_type.map(i32::from),
            pkt_drops: self.drops.filter(|d| *d),
            sampling: None,
        }
    }

    /// The rule as the agent reads it in `FLOW_FILTER_RULES`.
    pub fn to_agent_json(&self) -> Value {
        netobserv_operator::render::agent::agent_filter_rule(&self.to_api_rule())
    }
}

/// An API enum from its wire spelling (already checked by clap's value list).
fn enum_of<T: serde::de::DeserializeOwned>(s: &Option<String>) -> Option<T> {
    s.as_ref()
        .and_then(|s| serde_json::from_value(Value::String(s.clone())).ok())
}

/// `FLOW_FILTER_RULES` for a list of rules.
pub fn agent_rules_json(rules: &[FilterArgs]) -> String {
    Value::Array(rules.iter().map(FilterArgs::to_agent_json).collect()).to_string()
}
