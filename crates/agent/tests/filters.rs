//! In-kernel flow filter rules (`FLOW_FILTER_RULES`), one test per rule kind, ICMP type/code
//! included (upstream ignores them). Each test loads the programs with the rules, hooks the veth
//! in namespace `a`, sends traffic and checks which flows the kernel kept. Root only.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_agent::config::Config;
use netobserv_agent::filter::parse_rules;
use netobserv_agent::netns::in_netns;
use netobserv_agent::tracer::Tracer;
use netobserv_agent_common::{FlowId, FlowMetrics, counters, tcp_flags};
use std::time::{Duration, Instant};

/// What the kernel kept, and how many packets each filter verdict took, once the test's
/// evidence was in.
struct Outcome {
    flows: Vec<(FlowId, FlowMetrics)>,
    /// Packets a matching REJECT rule dropped.
    rejected: u64,
    /// Packets a matching ACCEPT rule kept (before per-rule sampling).
    accepted: u64,
    /// Packets no rule matched (kept only when the address found a REJECT rule).
    no_match: u64,
}

/// How long a test waits for its evidence before checking what it has.
const EVIDENCE_DEADLINE: Duration = Duration::from_secs(15);

/// Loads the programs with `rules`, runs `traffic`, then drains the flow map (and reads the
/// kernel's filter counters) until `evidence` holds: the flows a test expects are there and
/// the verdicts of the packets it expects filtered out were counted, so an absence is checked
/// after the kernel has seen the packets, not after a fixed window. Gives up after
/// [`EVIDENCE_DEADLINE`] and returns what it has (the test's assertions then say what is
/// missing). Splitting one flow across drains is harmless: the tests look for keys or sum the
/// packets.
fn run_with_rules(
    rules: &str,
    traffic: impl FnOnce(&NetPair),
    evidence: impl Fn(&Outcome) -> bool,
) -> Outcome {
    require_root();
    let pair = NetPair::new();
    // Resolve the peer's MAC before the programs attach, so the first test datagram does not sit
    // in the ARP queue.
    ns_run(&pair.ns_a, &["ping", "-c", "1", "-W", "2", pair.ip_b]);
    let cfg = Config {
        target_host: "127.0.0.1".into(),
        target_port: 1,
        flow_filter_rules: parse_rules(rules).expect("rules parse"),
        ..Config::default()
    };
    let (mut tracer, mut maps) = Tracer::load(&cfg).expect("load with rules");
    let iface = pair.veth_a.clone();
    in_netns(Some(&pair.path_a()), || tracer.attach(&iface))
        .unwrap()
        .expect("attach");
    let mut out = Outcome {
        flows: Vec::new(),
        rejected: 0,
        accepted: 0,
        no_match: 0,
    };
    let mut take = |out: &mut Outcome| {
        out.flows.extend(maps.drain().unwrap());
        let c = maps.take_counters().unwrap();
        out.rejected += c[counters::FILTER_REJECT as usize];
        out.accepted += c[counters::FILTER_ACCEPT as usize];
        out.no_match += c[counters::FILTER_NOMATCH as usize];
    };
    // Counters start from the attachment (the ARP resolution above ran before it).
    take(&mut out);
    out.flows.clear();
    traffic(&pair);
    let deadline = Instant::now() + EVIDENCE_DEADLINE;
    loop {
        take(&mut out);
        if evidence(&out) || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    in_netns(Some(&pair.path_a()), || tracer.detach_all()).unwrap();
    out
}

/// One UDP datagram from namespace `a` to `b`'s `dport`: sent from this process, so it has
/// passed the egress classifier when the call returns (a shell `nc` may exit before writing).
fn udp(p: &NetPair, dport: u16) {
    let ip_b = p.ip_b.to_string();
    in_netns(Some(&p.path_a()), move || {
        let sock = std::net::UdpSocket::bind("0.0.0.0:0").expect("UDP socket in a");
        sock.send_to(b"hi\n", (ip_b.as_str(), dport))
            .expect("UDP send");
    })
    .unwrap();
}

fn ping4(p: &NetPair, n: u32) {
    ns_run(
        &p.ns_a,
        &["ping", "-c", &n.to_string(), "-i", "0.01", p.ip_b],
    );
}

fn ping6(p: &NetPair) {
    ns_run(&p.ns_a, &["ping", "-6", "-c", "2", "-i", "0.01", p.ip6_b]);
}

fn has(flows: &[(FlowId, FlowMetrics)], pred: impl Fn(&FlowId) -> bool) -> bool {
    flows.iter().any(|(k, _)| pred(k))
}

fn is_v4(k: &FlowId) -> bool {
    k.src_ip[10] == 0xff && k.src_ip[11] == 0xff && k.src_ip[..10].iter().all(|b| *b == 0)
}

#[test]
fn cidr_accept_keeps_only_matching_addresses() {
    // Evidence: the IPv4 echo kept, and the 4 IPv6 echo packets given a verdict (no rule).
    let flows = run_with_rules(
        r#"[{"ip_cidr":"10.199.0.0/24","action":"Accept"}]"#,
        |p| {
            ping4(p, 2);
            ping6(p);
        },
        |o| has(&o.flows, |k| is_v4(k) && k.transport_protocol == 1) && o.no_match >= 4,
    )
    .flows;
    assert!(has(&flows, |k| is_v4(k) && k.transport_protocol == 1));
    assert!(
        !has(&flows, |k| !is_v4(k)),
        "IPv6 flows must be filtered out"
    );
}

#[test]
fn cidr_reject_drops_matching_and_keeps_the_rest() {
    // Upstream semantics: a packet whose address finds the REJECT rule but fails one of its
    // clauses is kept; a packet whose address finds no rule at all is not.
    let flows = run_with_rules(
        r#"[{"ip_cidr":"10.199.0.0/24","action":"Reject","protocol":"ICMP"}]"#,
        |p| {
            ping4(p, 2);
            udp(p, 5202);
            ping6(p);
        },
        // The datagram kept, the 4 ICMP packets rejected, the 4 IPv6 ones without a rule.
        |o| {
            has(&o.flows, |k| {
                k.transport_protocol == 17 && k.dst_port == 5202
            }) && o.rejected >= 4
                && o.no_match >= 4
        },
    )
    .flows;
    assert!(
        !has(&flows, |k| k.transport_protocol == 1),
        "ICMP must be rejected"
    );
    assert!(has(&flows, |k| k.transport_protocol == 17 && k.dst_port == 5202));
    assert!(
        !has(&flows, |k| !is_v4(k)),
        "no rule for IPv6 addresses: not kept"
    );
}

#[test]
fn protocol_rule() {
    let flows = run_with_rules(
        r#"[{"ip_cidr":"0.0.0.0/0","action":"Accept","protocol":"UDP"}]"#,
        |p| {
            ping4(p, 2);
            udp(p, 5202);
        },
        // The datagram kept; the 4 ICMP packets found the rule but not its protocol.
        |o| {
            has(&o.flows, |k| {
                k.transport_protocol == 17 && k.dst_port == 5202
            }) && o.no_match >= 4
        },
    )
    .flows;
    assert!(has(&flows, |k| k.transport_protocol == 17 && k.dst_port == 5202));
    assert!(!has(&flows, |k| k.transport_protocol == 1));
}

#[test]
fn port_rules_single_range_and_pair() {
    for (rule, kept, dropped) in [
        (r#""destination_port":5202"#, 5202u16, 5203u16),
        (r#""destination_port_range":"5200-5202""#, 5201, 5210),
        (r#""destination_ports":"5204,5206""#, 5206, 5205),
        (r#""port":5207"#, 5207, 5208),
    ] {
        let json =
            format!(r#"[{{"ip_cidr":"0.0.0.0/0","action":"Accept","protocol":"UDP",{rule}}}]"#);
        let flows = run_with_rules(
            &json,
            |p| {
                udp(p, kept);
                udp(p, dropped);
            },
            |o| has(&o.flows, |k| k.dst_port == kept) && o.no_match >= 1,
        )
        .flows;
        assert!(
            has(&flows, |k| k.dst_port == kept),
            "{rule}: {kept} kept; flows: {:?}",
            flows
                .iter()
                .map(|(k, m)| (k.src_port, k.dst_port, k.transport_protocol, m.packets))
                .collect::<Vec<_>>()
        );
        assert!(
            !has(&flows, |k| k.dst_port == dropped),
            "{rule}: {dropped} dropped"
        );
    }
}

#[test]
fn icmp_type_and_code_rules() {
    // Echo request only.
    let flows = run_with_rules(
        r#"[{"ip_cidr":"0.0.0.0/0","action":"Accept","protocol":"ICMP","icmp_type":8}]"#,
        |p| ping4(p, 2),
        |o| has(&o.flows, |k| k.icmp_type == 8) && o.no_match >= 2,
    )
    .flows;
    assert!(has(&flows, |k| k.icmp_type == 8));
    assert!(
        !has(&flows, |k| k.icmp_type == 0),
        "echo replies must be filtered"
    );
    // Type 0 / code 0 (echo reply) is expressible, unlike upstream.
    let flows = run_with_rules(
        r#"[{"ip_cidr":"0.0.0.0/0","action":"Accept","protocol":"ICMP","icmp_type":0,"icmp_code":0}]"#,
        |p| ping4(p, 2),
        |o| has(&o.flows, |k| k.icmp_type == 0 && k.transport_protocol == 1) && o.no_match >= 2,
    )
    .flows;
    assert!(has(&flows, |k| k.icmp_type == 0 && k.transport_protocol == 1));
    assert!(!has(&flows, |k| k.icmp_type == 8));
    // A code that never occurs keeps nothing.
    let flows = run_with_rules(
        r#"[{"ip_cidr":"0.0.0.0/0","action":"Accept","protocol":"ICMP","icmp_type":8,"icmp_code":5}]"#,
        |p| ping4(p, 2),
        |o| o.no_match >= 4,
    )
    .flows;
    assert!(!has(&flows, |k| k.transport_protocol == 1));
}

#[test]
fn peer_cidr_rule() {
    let flows = run_with_rules(
        r#"[{"ip_cidr":"10.199.0.2/32","peer_cidr":"10.199.0.1/32","action":"Accept"}]"#,
        |p| ping4(p, 2),
        |o| has(&o.flows, |k| k.transport_protocol == 1),
    )
    .flows;
    assert!(has(&flows, |k| k.transport_protocol == 1));
    let flows = run_with_rules(
        r#"[{"ip_cidr":"10.199.0.2/32","peer_cidr":"192.168.0.0/16","action":"Accept"}]"#,
        |p| ping4(p, 2),
        |o| o.no_match >= 4,
    )
    .flows;
    assert!(
        !has(&flows, |k| k.transport_protocol == 1),
        "peer mismatch keeps nothing"
    );
}

#[test]
fn tcp_flags_rule_keeps_only_that_flag() {
    let flows = run_with_rules(
        r#"[{"ip_cidr":"0.0.0.0/0","action":"Accept","protocol":"TCP","tcp_flags":"SYN"}]"#,
        |p| {
            // Nobody listens: SYN out, RST-ACK back.
            let cmd = format!(
                "ip netns exec {} nc -z -w 1 {} 5300 || true",
                p.ns_a, p.ip_b
            );
            run(&["sh", "-c", &cmd]);
        },
        // The SYN kept, the RST-ACK given its verdict.
        |o| has(&o.flows, |k| k.transport_protocol == 6) && o.no_match >= 1,
    )
    .flows;
    let tcp: Vec<_> = flows
        .iter()
        .filter(|(k, _)| k.transport_protocol == 6)
        .collect();
    assert!(!tcp.is_empty(), "the SYN must be kept");
    for (k, m) in tcp {
        assert_eq!(m.flags, tcp_flags::SYN, "{k:?}");
        assert_eq!(k.dst_port, 5300);
    }
}

#[test]
fn direction_rule() {
    let flows = run_with_rules(
        r#"[{"ip_cidr":"0.0.0.0/0","action":"Accept","direction":"Egress"}]"#,
        |p| ping4(p, 2),
        |o| has(&o.flows, |k| k.icmp_type == 8) && o.no_match >= 2,
    )
    .flows;
    assert!(has(&flows, |k| k.icmp_type == 8));
    assert!(!has(&flows, |k| k.icmp_type == 0 && k.transport_protocol == 1));
    for (_, m) in &flows {
        assert_eq!(m.direction_first_seen, 1);
    }
}

#[test]
fn per_rule_sampling() {
    let flows = run_with_rules(
        r#"[{"ip_cidr":"0.0.0.0/0","action":"Accept","protocol":"ICMP","sample":2}]"#,
        |p| {
            ns_run(&p.ns_a, &["ping", "-f", "-c", "400", "-s", "16", p.ip_b]);
        },
        // Every echo request given its verdict (before sampling).
        |o| o.accepted >= 400,
    )
    .flows;
    let kept: u64 = flows
        .iter()
        .filter(|(k, _)| k.icmp_type == 8)
        .map(|(_, m)| {
            assert_eq!(m.sampling, 2);
            u64::from(m.packets)
        })
        .sum();
    // Binomial(400, 1/2): mean 200, sd 10; accept ±5 sd.
    assert!((150..=250).contains(&kept), "kept {kept} of 400");
}
