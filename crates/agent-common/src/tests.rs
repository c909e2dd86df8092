//! Host tests pinning each shared type's size, alignment and field offsets to upstream's C
//! layout, so a change on one side that the other would misread fails here first.

use super::*;
use core::mem::{align_of, offset_of, size_of};

#[test]
fn flow_id_layout_matches_upstream() {
    assert_eq!(size_of::<FlowId>(), 40);
    assert_eq!(offset_of!(FlowId, dst_ip), 16);
    assert_eq!(offset_of!(FlowId, src_port), 32);
    assert_eq!(offset_of!(FlowId, dst_port), 34);
    assert_eq!(offset_of!(FlowId, transport_protocol), 36);
    assert_eq!(offset_of!(FlowId, icmp_type), 37);
    assert_eq!(offset_of!(FlowId, icmp_code), 38);
    assert_eq!(offset_of!(FlowId, pad), 39);
}

#[test]
fn flow_metrics_layout_matches_upstream() {
    assert_eq!(size_of::<FlowMetrics>(), 104);
    assert_eq!(size_of::<CachedFlow>(), 104);
    assert_eq!(offset_of!(CachedFlow, first_ts), 40);
    assert_eq!(offset_of!(CachedFlow, busy), 95);
    assert_eq!(1 << FLOW_CACHE_SLOTS_LOG2, FLOW_CACHE_SLOTS);
    assert_eq!(FLOW_CACHE_SLOTS % FLOW_CACHE_FLUSH_CHUNK, 0);
    assert_eq!(align_of::<FlowMetrics>(), 8);
    let offsets = [
        (offset_of!(FlowMetrics, end_mono_time_ts), 8),
        (offset_of!(FlowMetrics, bytes), 16),
        (offset_of!(FlowMetrics, packets), 24),
        (offset_of!(FlowMetrics, eth_protocol), 28),
        (offset_of!(FlowMetrics, flags), 30),
        (offset_of!(FlowMetrics, src_mac), 32),
        (offset_of!(FlowMetrics, dst_mac), 38),
        (offset_of!(FlowMetrics, if_index_first_seen), 44),
        (offset_of!(FlowMetrics, lock), 48),
        (offset_of!(FlowMetrics, sampling), 52),
        (offset_of!(FlowMetrics, direction_first_seen), 56),
        (offset_of!(FlowMetrics, errno), 57),
        (offset_of!(FlowMetrics, dscp), 58),
        (offset_of!(FlowMetrics, nb_observed_intf), 59),
        (offset_of!(FlowMetrics, observed_direction), 60),
        (offset_of!(FlowMetrics, pad0), 66),
        (offset_of!(FlowMetrics, observed_intf), 68),
        (offset_of!(FlowMetrics, ssl_version), 92),
        (offset_of!(FlowMetrics, tls_cipher_suite), 94),
        (offset_of!(FlowMetrics, tls_key_share), 96),
        (offset_of!(FlowMetrics, tls_types), 98),
        (offset_of!(FlowMetrics, misc_flags), 99),
        (offset_of!(FlowMetrics, pad1), 100),
    ];
    for (i, (got, want)) in offsets.iter().enumerate() {
        assert_eq!(got, want, "field #{i}");
    }
}

#[test]
fn additional_metrics_layout_matches_upstream() {
    assert_eq!(size_of::<AdditionalMetrics>(), 32);
    assert_eq!(offset_of!(AdditionalMetrics, flow_rtt), 16);
    assert_eq!(offset_of!(AdditionalMetrics, ipsec_encrypted_ret), 24);
    assert_eq!(offset_of!(AdditionalMetrics, eth_protocol), 28);
    assert_eq!(offset_of!(AdditionalMetrics, ipsec_encrypted), 30);
}

#[test]
fn pkt_drop_metrics_layout() {
    assert_eq!(size_of::<PktDropMetrics>(), 40);
    assert_eq!(offset_of!(PktDropMetrics, bytes), 16);
    assert_eq!(offset_of!(PktDropMetrics, packets), 24);
    assert_eq!(offset_of!(PktDropMetrics, latest_drop_cause), 28);
    assert_eq!(offset_of!(PktDropMetrics, latest_flags), 32);
    assert_eq!(offset_of!(PktDropMetrics, eth_protocol), 34);
    assert_eq!(offset_of!(PktDropMetrics, latest_state), 36);
}

#[test]
fn flow_event_layout() {
    assert_eq!(size_of::<FlowEvent>(), 96);
    assert_eq!(align_of::<FlowEvent>(), 8);
    assert_eq!(offset_of!(FlowEvent, start_mono_time_ts), 40);
    assert_eq!(offset_of!(FlowEvent, bytes), 56);
    assert_eq!(offset_of!(FlowEvent, packets), 64);
    assert_eq!(offset_of!(FlowEvent, macs), 80);
    assert_eq!(offset_of!(FlowEvent, kind), 94);
    assert_eq!(1 << FLOW_SEEN_SLOTS_LOG2, FLOW_SEEN_SLOTS);
}

#[test]
fn dns_layouts_match_upstream() {
    assert_eq!(size_of::<DnsMetrics>(), 64);
    assert_eq!(offset_of!(DnsMetrics, id), 24);
    assert_eq!(offset_of!(DnsMetrics, flags), 26);
    assert_eq!(offset_of!(DnsMetrics, eth_protocol), 28);
    assert_eq!(offset_of!(DnsMetrics, errno), 30);
    assert_eq!(offset_of!(DnsMetrics, name), 31);
    assert_eq!(size_of::<DnsFlowId>(), 40);
    assert_eq!(offset_of!(DnsFlowId, src_ip), 4);
    assert_eq!(offset_of!(DnsFlowId, id), 36);
    assert_eq!(offset_of!(DnsFlowId, protocol), 38);
}

#[test]
fn xlat_layout_matches_upstream() {
    assert_eq!(size_of::<XlatMetrics>(), 56);
    assert_eq!(size_of::<TlsMetrics>(), 32);
    assert_eq!(size_of::<QuicMetrics>(), 24);
    assert_eq!(offset_of!(QuicMetrics, seen_short_hdr), 23);
    assert_eq!(offset_of!(TlsMetrics, tls_types), 16);
    assert_eq!(offset_of!(TlsMetrics, mismatch), 28);
    assert_eq!(offset_of!(XlatMetrics, saddr), 16);
    assert_eq!(offset_of!(XlatMetrics, daddr), 32);
    assert_eq!(offset_of!(XlatMetrics, sport), 48);
    assert_eq!(offset_of!(XlatMetrics, dport), 50);
    assert_eq!(offset_of!(XlatMetrics, zone_id), 52);
    assert_eq!(offset_of!(XlatMetrics, eth_protocol), 54);
}

#[test]
fn filter_layouts_match_upstream() {
    assert_eq!(size_of::<FilterKey>(), 20);
    assert_eq!(size_of::<FilterValue>(), 52);
    assert_eq!(offset_of!(FilterValue, dst_port_start), 2);
    assert_eq!(offset_of!(FilterValue, port2), 24);
    assert_eq!(offset_of!(FilterValue, icmp_type), 26);
    assert_eq!(offset_of!(FilterValue, icmp_code), 27);
    assert_eq!(offset_of!(FilterValue, direction), 28);
    assert_eq!(offset_of!(FilterValue, action), 32);
    assert_eq!(offset_of!(FilterValue, tcp_flags), 36);
    assert_eq!(offset_of!(FilterValue, filter_drops), 40);
    assert_eq!(offset_of!(FilterValue, sample), 44);
    assert_eq!(offset_of!(FilterValue, do_peer_cidr_lookup), 48);
}

#[test]
fn tcp_flag_priority_chain() {
    assert_eq!(tcp_flag(0x12), tcp_flags::SYN_ACK);
    assert_eq!(tcp_flag(0x11), tcp_flags::FIN_ACK);
    assert_eq!(tcp_flag(0x14), tcp_flags::RST_ACK);
    assert_eq!(tcp_flag(0x02), tcp_flags::SYN);
    assert_eq!(tcp_flag(0x18), tcp_flags::ACK, "PSH+ACK records only ACK");
    assert_eq!(tcp_flag(0x08), tcp_flags::PSH);
    assert_eq!(tcp_flag(0x01), tcp_flags::FIN);
    assert_eq!(tcp_flag(0x04), tcp_flags::RST);
    assert_eq!(tcp_flag(0xc0), tcp_flags::ECE);
    assert_eq!(tcp_flag(0x80), tcp_flags::CWR);
    assert_eq!(tcp_flag(0), 0);
}
