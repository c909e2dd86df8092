//! Flow filter rules (`FLOW_FILTER_RULES`): LPM tries keyed by CIDR, looked up by source then
//! destination address, with upstream's matching and default-action semantics.

use crate::base::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, count};
use aya_ebpf::{
    Global,
    macros::map,
    maps::{LpmTrie, lpm_trie::Key},
};
use netobserv_agent_common::{
    DIRECTION_ANY, ETH_P_IP, FilterValue, FlowId, MAX_FILTER_ENTRIES, counters, filter_action,
};

/// 1 when filter rules are installed.
#[unsafe(no_mangle)]
pub(crate) static ENABLE_FLOWS_FILTERING: Global<u8> = Global::new(0);
/// 1 when a filter rule carries its own sampling rate, so sampling waits for the filter verdict.
#[unsafe(no_mangle)]
pub(crate) static HAS_FILTER_SAMPLING: Global<u8> = Global::new(0);

/// Filter rules keyed by CIDR.
#[map(name = "filter_map")]
pub(crate) static FILTER_MAP: LpmTrie<[u8; 16], FilterValue> =
    LpmTrie::with_max_entries(MAX_FILTER_ENTRIES, 0);

/// Peer CIDRs of filter rules that set `peer_ip`/`peer_cidr`.
#[map(name = "peer_filter_map")]
pub(crate) static PEER_FILTER_MAP: LpmTrie<[u8; 16], u8> = LpmTrie::with_max_entries(MAX_FILTER_ENTRIES, 0);

/// Verdict of the flow filter for one packet.
#[derive(PartialEq, Eq, Clone, Copy)]
pub(crate) enum Verdict {
    Keep,
    Skip,
}

/// Matches a port criterion: a range (start..=end), two alternatives, or a single port
/// (stored as `port1`). Returns `None` when the rule sets no criterion of this kind.
#[inline(always)]
pub(crate) fn port_match(start: u16, end: u16, p1: u16, p2: u16, port: u16) -> Option<bool> {
    if start != 0 && end != 0 {
        Some(port >= start && port <= end)
    } else if start != 0 {
        Some(port == start)
    } else if p1 != 0 || p2 != 0 {
        Some((p1 != 0 && port == p1) || (p2 != 0 && port == p2))
    } else {
        None
    }
}

/// Builds the LPM key of an address as upstream does: raw 4 bytes for IPv4, 16 for IPv6.
#[inline(always)]
pub(crate) fn filter_key(addr: &[u8; 16], v4: bool) -> Key<[u8; 16]> {
    let mut data = [0u8; 16];
    if v4 {
        data[0] = addr[12];
        data[1] = addr[13];
        data[2] = addr[14];
        data[3] = addr[15];
        Key::new(32, data)
    } else {
        data = *addr;
        Key::new(128, data)
    }
}

/// Evaluates the rule found for `addr`; returns (score > 0, action, rule sampling).
#[inline(always)]
pub(crate) fn eval_rule(
    rule: &FilterValue,
    id: &FlowId,
    peer: &[u8; 16],
    v4: bool,
    direction: u8,
    flags: u16,
) -> bool {
    if rule.do_peer_cidr_lookup != 0 && PEER_FILTER_MAP.get(filter_key(peer, v4)).is_none() {
        return false;
    }
    if rule.protocol != 0 && rule.protocol != id.transport_protocol {
        return false;
    }
    match id.transport_protocol {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => {
            if let Some(false) = port_match(
                rule.dst_port_start,
                rule.dst_port_end,
                rule.dst_port1,
                rule.dst_port2,
                id.dst_port,
            ) {
                return false;
            }
            if let Some(false) = port_match(
                rule.src_port_start,
                rule.src_port_end,
                rule.src_port1,
                rule.src_port2,
                id.src_port,
            ) {
                return false;
            }
            let either_src = port_match(
                rule.port_start,
                rule.port_end,
                rule.port1,
                rule.port2,
                id.src_port,
            );
            let either_dst = port_match(
                rule.port_start,
                rule.port_end,
                rule.port1,
                rule.port2,
                id.dst_port,
            );
            if either_src == Some(false) && either_dst == Some(false) {
                return false;
            }
            if id.transport_protocol == IPPROTO_TCP
                && rule.tcp_flags != 0
                && rule.tcp_flags != u32::from(flags)
            {
                return false;
            }
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            if rule.icmp_set & 1 != 0 && rule.icmp_type != id.icmp_type {
                return false;
            }
            if rule.icmp_set & 2 != 0 && rule.icmp_code != id.icmp_code {
                return false;
            }
        }
        _ => {}
    }
    if u32::from(DIRECTION_ANY) != rule.direction && rule.direction != u32::from(direction) {
        return false;
    }
    // The TC path never sees drops; a drops-only rule cannot match here.
    rule.filter_drops == 0
}

/// Runs the flow filter: looks the source address up, then the destination. Returns the verdict
/// and, when the matching rule has one, its sampling rate. `COUNT`: whether the verdict counts
/// in the filter counters (per packet on the TC path; the tracing hooks that consult the rules
/// for their own records do not count).
#[inline(always)]
pub(crate) fn filter<const COUNT: bool>(
    id: &FlowId,
    eth_protocol: u16,
    direction: u8,
    flags: u16,
) -> (Verdict, u32) {
    let v4 = eth_protocol == ETH_P_IP;
    let mut last_action = filter_action::UNSET;
    let sides: [(&[u8; 16], &[u8; 16]); 2] = [(&id.src_ip, &id.dst_ip), (&id.dst_ip, &id.src_ip)];
    for (addr, peer) in sides {
        if let Some(rule) = FILTER_MAP.get(filter_key(addr, v4)) {
            last_action = rule.action;
            if eval_rule(rule, id, peer, v4, direction, flags) {
                return match rule.action {
                    filter_action::REJECT => {
                        if COUNT {
                            count(counters::FILTER_REJECT);
                        }
                        (Verdict::Skip, rule.sample)
                    }
                    _ => {
                        if COUNT {
                            count(counters::FILTER_ACCEPT);
                        }
                        (Verdict::Keep, rule.sample)
                    }
                };
            }
        }
    }
    if COUNT {
        count(counters::FILTER_NOMATCH);
    }
    if last_action == filter_action::REJECT {
        (Verdict::Keep, 0)
    } else {
        (Verdict::Skip, 0)
    }
}
