//! `FLOW_FILTER_RULES`: the upstream JSON rule format, turned into the kernel LPM-trie entries
//! (`filter_map` / `peer_filter_map`) and written there before the classifiers attach. Unlike
//! upstream, `icmp_type` / `icmp_code` are honoured.

use aya::maps::{LpmTrie, MapData, lpm_trie::Key};
use netobserv_agent_common::{
    DIRECTION_ANY, DIRECTION_EGRESS, DIRECTION_INGRESS, FilterKey, FilterValue, filter_action,
    maps, tcp_flags,
};
use serde::Deserialize;
use std::net::IpAddr;

/// One rule as written in `FLOW_FILTER_RULES` (field names of upstream's JSON).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct FilterRule {
    /// CIDR the source or destination address must fall in (default `0.0.0.0/0`).
    pub ip_cidr: String,
    /// `Accept` or `Reject`.
    pub action: String,
    /// `Ingress` or `Egress`; anything else means both.
    pub direction: String,
    /// `TCP`, `UDP`, `SCTP`, `ICMP` or `ICMPv6`.
    pub protocol: String,
    /// Exact source port.
    pub source_port: u16,
    /// Exact destination port.
    pub destination_port: u16,
    /// Exact port on either side.
    pub port: u16,
    /// `a-b` source port range.
    pub source_port_range: String,
    /// `a-b` destination port range.
    pub destination_port_range: String,
    /// `a-b` range on either side.
    pub port_range: String,
    /// `a,b` two source ports.
    pub source_ports: String,
    /// `a,b` two destination ports.
    pub destination_ports: String,
    /// `a,b` two ports on either side.
    pub ports: String,
    /// ICMP type to match.
    pub icmp_type: Option<u8>,
    /// ICMP code to match.
    pub icmp_code: Option<u8>,
    /// Peer address (the other side of the matched CIDR).
    pub peer_ip: String,
    /// Peer CIDR.
    pub peer_cidr: String,
    /// One TCP flag name (`SYN`, `SYN-ACK`, `ACK`, ...).
    pub tcp_flags: String,
    /// Only dropped packets (PacketDrop hook).
    pub drops: bool,
    /// Per-rule sampling rate.
    pub sample: u32,
}

/// Why a rule cannot be programmed.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The JSON does not parse.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field value is malformed.
    #[error("rule {index}: invalid {field} {value:?}")]
    Field {
        /// Rule position.
        index: usize,
        /// Field name.
        field: &'static str,
        /// Value found.
        value: String,
    },
    /// More rules than the kernel maps hold.
    #[error("{0} rules given, at most {max} fit", max = netobserv_agent_common::MAX_FILTER_ENTRIES)]
    TooMany(usize),
    /// A filter map is missing from the object (build mismatch).
    #[error("{0} missing from the eBPF object")]
    Missing(&'static str),
    /// A filter map refused an entry.
    #[error("map {name}: {source}")]
    Map {
        /// Map name.
        name: &'static str,
        /// Cause.
        source: aya::maps::MapError,
    },
}

/// The kernel entries of one rule.
#[derive(Debug, Clone, Copy)]
pub struct RuleEntries {
    /// The rule's CIDR, as the `filter_map` key.
    pub key: FilterKey,
    /// The rule's criteria and action.
    pub value: FilterValue,
    /// The peer CIDR (`peer_filter_map` key), when the rule has one.
    pub peer: Option<FilterKey>,
}

/// Parses the `FLOW_FILTER_RULES` JSON array.
pub fn parse_rules(json: &str) -> Result<Vec<FilterRule>, FilterError> {
    let rules: Vec<FilterRule> = serde_json::from_str(json)?;
    if rules.len() > netobserv_agent_common::MAX_FILTER_ENTRIES as usize {
        return Err(FilterError::TooMany(rules.len()));
    }
    // Validate now so a bad rule fails at start-up, not at load.
    for (i, r) in rules.iter().enumerate() {
        to_entries(i, r)?;
    }
    Ok(rules)
}

/// Parses `a/b` (or a bare address) into an LPM key; IPv4 keeps its raw 4 bytes.
fn cidr_key(index: usize, field: &'static str, s: &str) -> Result<FilterKey, FilterError> {
    let err = || FilterError::Field {
        index,
        field,
        value: s.to_string(),
    };
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u32>().map_err(|_| err())?)),
        None => (s, None),
    };
    let addr: IpAddr = addr.trim().parse().map_err(|_| err())?;
    let mut key = FilterKey::default();
    match addr {
        IpAddr::V4(v4) => {
            key.prefix_len = len.unwrap_or(32);
            if key.prefix_len > 32 {
                return Err(err());
            }
            key.ip_data[..4].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            key.prefix_len = len.unwrap_or(128);
            if key.prefix_len > 128 {
                return Err(err());
            }
            key.ip_data = v6.octets();
        }
    }
    Ok(key)
}

fn pair(index: usize, field: &'static str, s: &str, sep: char) -> Result<(u16, u16), FilterError> {
    let err = || FilterError::Field {
        index,
        field,
        value: s.to_string(),
    };
    let (a, b) = s.split_once(sep).ok_or_else(err)?;
    let a: u16 = a.trim().parse().map_err(|_| err())?;
    let b: u16 = b.trim().parse().map_err(|_| err())?;
    Ok((a, b))
}

/// The kernel entries of one rule: its key and value, plus the peer key if any.
pub fn to_entries(index: usize, r: &FilterRule) -> Result<RuleEntries, FilterError> {
    let cidr = if r.ip_cidr.is_empty() {
        "0.0.0.0/0"
    } else {
        &r.ip_cidr
    };
    let key = cidr_key(index, "ip_cidr", cidr)?;
    let field = |f: &'static str, v: &str| FilterError::Field {
        index,
        field: f,
        value: v.to_string(),
    };
    let mut v = FilterValue {
        action: match r.action.as_str() {
            "Accept" => filter_action::ACCEPT,
            "Reject" => filter_action::REJECT,
            _ => filter_action::UNSET,
        },
        direction: u32::from(match r.direction.as_str() {
            "Ingress" => DIRECTION_INGRESS,
            "Egress" => DIRECTION_EGRESS,
            _ => DIRECTION_ANY,
        }),
        protocol: match r.protocol.as_str() {
            "" => 0,
            "TCP" => 6,
            "UDP" => 17,
            "SCTP" => 132,
            "ICMP" => 1,
            "ICMPv6" => 58,
            other => return Err(field("protocol", other)),
        },
        filter_drops: u8::from(r.drops),
        sample: r.sample,
        ..FilterValue::default()
    };
    // Single ports go into the range start alone, which the kernel treats as equality.
    if r.destination_port != 0 {
        v.dst_port_start = r.destination_port;
    } else if !r.destination_port_range.is_empty() {
        (v.dst_port_start, v.dst_port_end) = pair(
            index,
            "destination_port_range",
            &r.destination_port_range,
            '-',
        )?;
    } else if !r.destination_ports.is_empty() {
        (v.dst_port1, v.dst_port2) = pair(index, "destination_ports", &r.destination_ports, ',')?;
    }
    if r.source_port != 0 {
        v.src_port_start = r.source_port;
    } else if !r.source_port_range.is_empty() {
        (v.src_port_start, v.src_port_end) =
            pair(index, "source_port_range", &r.source_port_range, '-')?;
    } else if !r.source_ports.is_empty() {
        (v.src_port1, v.src_port2) = pair(index, "source_ports", &r.source_ports, ',')?;
    }
    if r.port != 0 {
        v.port_start = r.port;
    } else if !r.port_range.is_empty() {
        (v.port_start, v.port_end) = pair(index, "port_range", &r.port_range, '-')?;
    } else if !r.ports.is_empty() {
        (v.port1, v.port2) = pair(index, "ports", &r.ports, ',')?;
    }
    if let Some(t) = r.icmp_type {
        v.icmp_type = t;
        v.icmp_set |= 1;
    }
    if let Some(c) = r.icmp_code {
        v.icmp_code = c;
        v.icmp_set |= 2;
    }
    if !r.tcp_flags.is_empty() {
        v.tcp_flags = u32::from(match r.tcp_flags.as_str() {
            "SYN" => tcp_flags::SYN,
            "SYN-ACK" => tcp_flags::SYN_ACK,
            "ACK" => tcp_flags::ACK,
            "FIN" => tcp_flags::FIN,
            "RST" => tcp_flags::RST,
            "PSH" | "PUSH" => tcp_flags::PSH,
            "URG" => tcp_flags::URG,
            "ECE" => tcp_flags::ECE,
            "CWR" => tcp_flags::CWR,
            "FIN-ACK" => tcp_flags::FIN_ACK,
            "RST-ACK" => tcp_flags::RST_ACK,
            other => return Err(field("tcp_flags", other)),
        });
    }
    let peer = if !r.peer_cidr.is_empty() {
        Some(cidr_key(index, "peer_cidr", &r.peer_cidr)?)
    } else if !r.peer_ip.is_empty() {
        Some(cidr_key(index, "peer_ip", &r.peer_ip)?)
    } else {
        None
    };
    v.do_peer_cidr_lookup = u8::from(peer.is_some());
    Ok(RuleEntries {
        key,
        value: v,
        peer,
    })
}

/// Writes the rules into the kernel's LPM tries (`filter_map`, `peer_filter_map`) of the loaded
/// object, before the classifiers attach.
pub(crate) fn program(ebpf: &mut aya::Ebpf, rules: &[FilterRule]) -> Result<(), FilterError> {
    let mut entries = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        entries.push(to_entries(i, r)?);
    }
    let rule_entries = entries.iter().map(|e| (e.key, e.value));
    insert(ebpf, maps::FILTER_MAP, rule_entries)?;
    insert(
        ebpf,
        maps::PEER_FILTER_MAP,
        entries.iter().filter_map(|e| e.peer).map(|k| (k, 1u8)),
    )
}

/// Inserts `entries` into the LPM trie `name`.
fn insert<V: aya::Pod>(
    ebpf: &mut aya::Ebpf,
    name: &'static str,
    entries: impl Iterator<Item = (FilterKey, V)>,
) -> Result<(), FilterError> {
    let map = ebpf.map_mut(name).ok_or(FilterError::Missing(name))?;
    let mut trie: LpmTrie<&mut MapData, [u8; 16], V> =
        LpmTrie::try_from(map).map_err(|source| FilterError::Map { name, source })?;
    for (k, v) in entries {
        trie.insert(&Key::new(k.prefix_len, k.ip_data), v, 0)
            .map_err(|source| FilterError::Map { name, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_json_maps_to_kernel_values() {
        let rules = parse_rules(
            r#"[{"ip_cidr":"10.1.0.0/16","action":"Reject","protocol":"TCP",
                 "destination_port_range":"80-90","source_ports":"1,2","tcp_flags":"SYN",
                 "direction":"Egress","sample":10,"peer_cidr":"10.2.0.0/24"},
                {"ip_cidr":"fd00::/8","action":"Accept","protocol":"ICMPv6","icmp_type":128,"icmp_code":0}]"#,
        )
        .unwrap();
        let RuleEntries {
            key: k,
            value: v,
            peer,
        } = to_entries(0, &rules[0]).unwrap();
        assert_eq!(k.prefix_len, 16);
        assert_eq!(&k.ip_data[..4], &[10, 1, 0, 0]);
        assert_eq!(v.action, filter_action::REJECT);
        assert_eq!(v.protocol, 6);
        assert_eq!((v.dst_port_start, v.dst_port_end), (80, 90));
        assert_eq!((v.src_port1, v.src_port2), (1, 2));
        assert_eq!(v.tcp_flags, u32::from(tcp_flags::SYN));
        assert_eq!(v.direction, u32::from(DIRECTION_EGRESS));
        assert_eq!(v.sample, 10);
        assert_eq!(v.do_peer_cidr_lookup, 1);
        assert_eq!(peer.unwrap().prefix_len, 24);
        let RuleEntries {
            key: k, value: v, ..
        } = to_entries(1, &rules[1]).unwrap();
        assert_eq!(k.prefix_len, 8);
        assert_eq!(v.protocol, 58);
        assert_eq!((v.icmp_type, v.icmp_code, v.icmp_set), (128, 0, 3));
        assert_eq!(v.direction, u32::from(DIRECTION_ANY));
    }

    #[test]
    fn bad_rules_are_rejected() {
        assert!(parse_rules(r#"[{"ip_cidr":"10.0.0.0/40"}]"#).is_err());
        assert!(parse_rules(r#"[{"protocol":"GRE"}]"#).is_err());
        assert!(parse_rules(r#"[{"port_range":"80"}]"#).is_err());
        assert!(parse_rules(r#"{}"#).is_err());
    }
}
