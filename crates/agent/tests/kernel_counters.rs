//! Kernel accounting against nftables: traffic between two namespaces, the classifiers on one
//! veth end, flow bytes/packets compared with nft counters on the same interface and 5-tuple.
//! Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_agent::config::{AttachMode, Config};
use netobserv_agent::flowmaps::FlowMaps;
use netobserv_agent::hooks::HookState;
use netobserv_agent::netns::in_netns;
use netobserv_agent::tracer::{AttachKind, Tracer};
use netobserv_agent_common::{DIRECTION_EGRESS, DIRECTION_INGRESS, FlowId, FlowMetrics};

const ETH_HLEN: u64 = 14;

fn test_config(mode: AttachMode, sampling: u32) -> Config {
    Config {
        target_host: "127.0.0.1".into(),
        target_port: 1,
        tc_attach_mode: mode,
        sampling,
        ..Config::default()
    }
}

fn setup(mode: AttachMode, sampling: u32) -> (NetPair, Tracer, FlowMaps, AttachKind) {
    require_root();
    let pair = NetPair::new();
    let (mut tracer, maps) = Tracer::load(&test_config(mode, sampling)).expect("load eBPF");
    let path = pair.path_a();
    let iface = pair.veth_a.clone();
    let kind = in_netns(Some(&path), || tracer.attach(&iface))
        .expect("enter netns")
        .expect("attach");
    (pair, tracer, maps, kind)
}

fn find(
    flows: &[(FlowId, FlowMetrics)],
    pred: impl Fn(&FlowId) -> bool,
) -> (u64, u64, Vec<FlowMetrics>) {
    let ms: Vec<FlowMetrics> = flows
        .iter()
        .filter(|(k, _)| pred(k))
        .map(|(_, m)| *m)
        .collect();
    let packets = ms.iter().map(|m| u64::from(m.packets)).sum();
    let bytes = ms.iter().map(|m| m.bytes).sum();
    (packets, bytes, ms)
}

fn check_icmp(mode: AttachMode, expected_kind: AttachKind) {
    let (pair, mut tracer, mut maps, kind) = setup(mode, 0);
    assert_eq!(kind, expected_kind);
    let nft = NftCounters::new(&pair.ns_a);
    let (a, b) = (pair.ip_a, pair.ip_b);
    nft.add(
        "req",
        "post",
        &format!(
            "oifname \"{}\" ip saddr {a} ip daddr {b} icmp type echo-request",
            pair.veth_a
        ),
    );
    nft.add(
        "rep",
        "pre",
        &format!(
            "iifname \"{}\" ip saddr {b} ip daddr {a} icmp type echo-reply",
            pair.veth_a
        ),
    );
    nft.add(
        "req6",
        "post",
        &format!(
            "oifname \"{}\" ip6 saddr {} ip6 daddr {} icmpv6 type echo-request",
            pair.veth_a, pair.ip6_a, pair.ip6_b
        ),
    );
    let _ = maps.drain().unwrap();
    ns_run(
        &pair.ns_a,
        &["ping", "-c", "5", "-i", "0.01", "-s", "300", b],
    );
    ns_run(
        &pair.ns_a,
        &["ping", "-6", "-c", "3", "-i", "0.01", pair.ip6_b],
    );
    let flows = maps.drain().unwrap();

    let (np, nb) = nft.get("req");
    let (fp, fb, ms) = find(&flows, |k| {
        k.src_ip == v4_mapped(a)
            && k.dst_ip == v4_mapped(b)
            && k.transport_protocol == 1
            && k.icmp_type == 8
    });
    assert_eq!(np, 5);
    assert_eq!(
        (fp, fb),
        (np, nb + ETH_HLEN * np),
        "echo requests: flow vs nft"
    );
    assert_eq!(ms[0].direction_first_seen, DIRECTION_EGRESS);
    assert_eq!(ms[0].eth_protocol, 0x0800);
    assert!(ms[0].start_mono_time_ts <= ms[0].end_mono_time_ts);

    let (np, nb) = nft.get("rep");
    let (fp, fb, ms) = find(&flows, |k| {
        k.src_ip == v4_mapped(b)
            && k.dst_ip == v4_mapped(a)
            && k.transport_protocol == 1
            && k.icmp_type == 0
    });
    assert_eq!(np, 5);
    assert_eq!(
        (fp, fb),
        (np, nb + ETH_HLEN * np),
        "echo replies: flow vs nft"
    );
    assert_eq!(ms[0].direction_first_seen, DIRECTION_INGRESS);

    let (np, nb) = nft.get("req6");
    let (fp, fb, ms) = find(&flows, |k| {
        k.src_ip == v6(pair.ip6_a)
            && k.dst_ip == v6(pair.ip6_b)
            && k.transport_protocol == 58
            && k.icmp_type == 128
    });
    assert_eq!(np, 3);
    assert_eq!(
        (fp, fb),
        (np, nb + ETH_HLEN * np),
        "ICMPv6 echo requests: flow vs nft"
    );
    assert_eq!(ms[0].eth_protocol, 0x86dd);

    in_netns(Some(&pair.path_a()), || tracer.detach_all()).unwrap();
}

#[test]
fn icmp_counts_match_nftables_tcx() {
    check_icmp(AttachMode::Tcx, AttachKind::Tcx);
}

#[test]
fn icmp_counts_match_nftables_clsact() {
    check_icmp(AttachMode::Tc, AttachKind::Tc);
}

/// Both PacketDrop variants pass this kernel's verifier: the direct `sk_buff` loads the agent
/// prefers (active here, per the hook state) and the probe-read fallback it would use where a
/// verifier refuses them.
#[test]
fn drop_hook_variants_pass_the_verifier() {
    require_root();
    let cfg = Config {
        enable_pkt_drops: true,
        cache_max_flows: 64,
        ..test_config(AttachMode::Any, 0)
    };
    let (mut tracer, _maps) = Tracer::load(&cfg).expect("object loads");
    assert!(
        matches!(tracer.drops.state, HookState::Active(_)),
        "PacketDrop hook not active: {:?}",
        tracer.drops.state
    );
    assert!(!tracer.drops.probe_reads, "direct loads refused here");
    tracer
        .verify_drop_compat_program()
        .expect("probe-read variant loads");
}

/// Both FlowRTT `tp_btf/tcp_probe` variants pass this kernel's verifier: direct socket loads
/// (active here: fentry is refused by lockdown) and the probe-read fallback.
#[test]
fn rtt_hook_variants_pass_the_verifier() {
    require_root();
    let cfg = Config {
        enable_rtt: true,
        cache_max_flows: 64,
        ..test_config(AttachMode::Any, 0)
    };
    let (mut tracer, _maps) = Tracer::load(&cfg).expect("object loads");
    assert!(
        matches!(&tracer.rtt.state, HookState::Active(m) if *m == "tp_btf"),
        "FlowRTT not on tp_btf: {:?}",
        tracer.rtt.state
    );
    assert!(!tracer.rtt.probe_reads, "direct loads refused here");
    tracer
        .verify_rtt_compat_program()
        .expect("probe-read variant loads");
}
