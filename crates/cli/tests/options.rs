//! Option parsing, table-driven: each command line is parsed as a person would type it, and
//! either the agent filter rules it produces (as `FLOW_FILTER_RULES` JSON) and the settings are
//! compared with what is expected, or the error must name the option (and rule) at fault.

use kubectl_netobserv::options::{self, Command, ParseError, filter::agent_rules_json};
use serde_json::{Value, json};
use std::time::Duration;

fn parse(line: &str) -> Result<options::Invocation, ParseError> {
    options::parse(std::iter::once("kubectl-netobserv").chain(line.split_whitespace()))
}

fn rules(line: &str) -> Value {
    let inv = parse(line).unwrap_or_else(|e| panic!("`{line}` refused: {e}"));
    serde_json::from_str(&agent_rules_json(&inv.rules)).expect("rules are JSON")
}

#[test]
fn filter_rules_as_the_agent_reads_them() {
    let cases: &[(&str, Value)] = &[
        ("flows", json!([])),
        (
            "flows --protocol=TCP --port=443",
            json!([{"ip_cidr": "0.0.0.0/0", "action": "Accept", "protocol": "TCP", "port": 443}]),
        ),
        (
            "packets --cidr=10.1.0.0/16 --action=Reject --direction=Egress --sport=80 --dport_range=8000-8080",
            json!([{"ip_cidr": "10.1.0.0/16", "action": "Reject", "direction": "Egress",
                    "source_port": 80, "destination_port_range": "8000-8080"}]),
        ),
        (
            "flows --ports=80,443 --tcp_flags=SYN-ACK --peer_ip=10.0.0.7",
            json!([{"ip_cidr": "0.0.0.0/0", "action": "Accept", "ports": "80,443",
                    "tcp_flags": "SYN-ACK", "peer_ip": "10.0.0.7"}]),
        ),
        (
            "flows --protocol=ICMP --icmp_type=8 --icmp_code=0 --peer_cidr=fd00::/8 --drops",
            json!([{"ip_cidr": "0.0.0.0/0", "action": "Accept", "protocol": "ICMP",
                    "icmp_type": 8, "icmp_code": 0, "peer_cidr": "fd00::/8", "drops": true}]),
        ),
        (
            "flows --drops=false --sports=1000,2000 --dports=53,5353 --port_range=1-1024",
            json!([{"ip_cidr": "0.0.0.0/0", "action": "Accept", "source_ports": "1000,2000",
                    "destination_ports": "53,5353", "port_range": "1-1024"}]),
        ),
        (
            "packets --protocol=TCP --port=80 or --protocol=UDP --dport=53 or --cidr=10.0.0.0/8 --action=Reject",
            json!([
                {"ip_cidr": "0.0.0.0/0", "action": "Accept", "protocol": "TCP", "port": 80},
                {"ip_cidr": "0.0.0.0/0", "action": "Accept", "protocol": "UDP", "destination_port": 53},
                {"ip_cidr": "10.0.0.0/8", "action": "Reject"},
            ]),
        ),
        (
            // Options that are not filters stay with the command whatever rule they sit in.
            "metrics --enable_rtt --protocol=TCP or --protocol=SCTP",
            json!([
                {"ip_cidr": "0.0.0.0/0", "action": "Accept", "protocol": "TCP"},
                {"ip_cidr": "0.0.0.0/0", "action": "Accept", "protocol": "SCTP"},
            ]),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(&rules(line), want, "{line}");
    }
}

#[test]
fn settings_and_their_defaults() {
    let inv = parse("flows").expect("bare flows");
    let Command::Flows(f) = inv.command else {
        panic!("not flows")
    };
    assert_eq!(f.run.max_time, Duration::from_secs(300));
    assert_eq!(f.run.max_bytes, 50_000_000);
    assert_eq!(f.run.copy, "prompt");
    assert_eq!(f.features.sampling, 1);
    assert!(!f.agent.privileged && !f.run.background && !f.run.yaml);
    assert_eq!(f.agent.exclude_interfaces.0, vec!["lo".to_string()]);

    let inv = parse(
        "flows --enable_dns --enable_rtt=true --enable_pkt_drop=false --sampling=50 --privileged \
         --interfaces=eth0,br-ex --exclude_interfaces=lo,genev_sys --node-selector=zone:a \
         --background --copy=false --max-time=1h30m --max-bytes=64MiB --yaml --query=Proto=6 \
         --log-level=debug --namespace=capture",
    )
    .expect("every option");
    let Command::Flows(f) = inv.command else {
        panic!("not flows")
    };
    assert!(f.features.dns && f.features.rtt && !f.features.pkt_drop);
    assert_eq!(f.features.sampling, 50);
    assert!(f.agent.privileged && f.run.background && f.run.yaml);
    assert_eq!(
        f.agent.interfaces.map(|l| l.0),
        Some(vec!["eth0".into(), "br-ex".into()])
    );
    assert_eq!(
        f.agent.exclude_interfaces.0,
        vec!["lo".to_string(), "genev_sys".into()]
    );
    let sel = f.agent.node_selector.expect("selector");
    assert_eq!((sel.key.as_str(), sel.value.as_str()), ("zone", "a"));
    assert_eq!(f.run.copy, "false");
    assert_eq!(f.run.max_time, Duration::from_secs(5400));
    assert_eq!(f.run.max_bytes, 64 << 20);
    assert_eq!(f.run.query.as_deref(), Some("Proto=6"));
    assert_eq!(f.agent.log_level, "debug");
    assert_eq!(f.agent.namespace, "capture");

    let inv = parse("metrics").expect("metrics");
    let Command::Metrics(m) = inv.command else {
        panic!("not metrics")
    };
    assert_eq!(m.max_time, Duration::from_secs(3600));
    assert_eq!(m.include_list.len(), 4);
    let inv = parse("packets --port=80 --snaplen=1500").expect("packets");
    let Command::Packets(p) = inv.command else {
        panic!("not packets")
    };
    assert_eq!(p.snaplen, 1500);
    for (line, ns) in [("cleanup", "netobserv-cli"), ("stop --namespace=x", "x")] {
        match parse(line).expect(line).command {
            Command::Cleanup(a) | Command::Stop(a) => assert_eq!(a.namespace, ns),
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn every_error_names_the_option_at_fault() {
    let cases: &[(&str, &[&str])] = &[
        ("flows --port=0", &["--port", "1 to 65535"]),
        ("flows --port=http", &["--port", "1 to 65535"]),
        ("flows --sport=65536", &["--sport"]),
        ("flows --dport=-1", &["--dport"]),
        (
            "flows --port_range=100-80",
            &["--port_range", "below its end"],
        ),
        ("flows --sport_range=80", &["--sport_range", "start-end"]),
        ("flows --dport_range=a-b", &["--dport_range"]),
        ("flows --ports=80", &["--ports", "a,b"]),
        ("flows --sports=80,x", &["--sports"]),
        ("flows --dports=1,2,3", &["--dports"]),
        ("flows --cidr=10.0.0.1/8", &["--cidr", "10.0.0.0/8"]),
        ("flows --cidr=nonsense", &["--cidr"]),
        ("flows --peer_cidr=300.0.0.0/8", &["--peer_cidr"]),
        ("flows --peer_ip=10.0.0", &["--peer_ip"]),
        ("flows --protocol=tcp", &["--protocol", "TCP"]),
        ("flows --action=Drop", &["--action", "Reject"]),
        ("flows --direction=Both", &["--direction", "Egress"]),
        ("flows --tcp_flags=XMAS", &["--tcp_flags"]),
        (
            "flows --protocol=ICMP --icmp_type=256",
            &["--icmp_type", "0 to 255"],
        ),
        ("flows --protocol=ICMP --icmp_code=x", &["--icmp_code"]),
        ("flows --drops=maybe", &["--drops"]),
        ("flows --enable_dns=yes-please", &["--enable_dns"]),
        ("flows --sampling=0", &["--sampling"]),
        ("flows --max-time=soon", &["--max-time"]),
        ("flows --max-time=0s", &["--max-time", "longer than zero"]),
        ("flows --max-bytes=lots", &["--max-bytes"]),
        ("flows --max-bytes=5XB", &["--max-bytes"]),
        ("flows --copy=maybe", &["--copy", "prompt"]),
        (
            "flows --node-selector=zone",
            &["--node-selector", "key:value"],
        ),
        (
            "flows --node-selector=zone:a/b",
            &["--node-selector", "label value"],
        ),
        ("flows --log-level=loud", &["--log-level"]),
        ("flows --interfaces=,", &["--interfaces"]),
        ("flows --nonsense", &["--nonsense"]),
        ("packets --snaplen=10 --port=80", &["--snaplen"]),
        ("metrics --max-bytes=10", &["--max-bytes"]),
        ("packets --query", &["--query"]),
        (
            "flows --port=80 --port_range=1-2",
            &["rule 1", "--port", "--port_range"],
        ),
        (
            "flows --sport=80 --sports=1,2",
            &["rule 1", "--sport", "--sports"],
        ),
        (
            "flows --dport_range=1-2 --dports=1,2",
            &["rule 1", "--dport_range", "--dports"],
        ),
        ("flows --icmp_type=8", &["rule 1", "--icmp_type", "ICMP"]),
        (
            "flows --protocol=TCP --icmp_code=0",
            &["rule 1", "--icmp_code"],
        ),
        (
            "flows --protocol=UDP --tcp_flags=SYN",
            &["rule 1", "--tcp_flags", "TCP"],
        ),
        (
            "flows --protocol=ICMPv6 --dport=53",
            &["rule 1", "--dport", "ICMPv6"],
        ),
        (
            "flows --peer_ip=10.0.0.1 --peer_cidr=10.0.0.0/8",
            &["rule 1", "--peer_ip", "--peer_cidr"],
        ),
        ("flows --port=80 or --port=99999", &["rule 2", "--port"]),
        (
            "flows --port=80 or --port=81 or --bogus",
            &["rule 3", "--bogus"],
        ),
        (
            "flows --port=80 or --port=81 --ports=1,2",
            &["rule 2", "--port", "--ports"],
        ),
        (
            "flows --port=80 or --max-time=1m",
            &["rule 2", "--max-time"],
        ),
        ("flows --port=80 or", &["rule 2 is empty"]),
        ("flows --port=80 or or --port=81", &["rule 2 is empty"]),
        ("flows or --port=80", &["rule 1 is empty"]),
        ("cleanup or --port=80", &["`or`", "takes none"]),
        ("packets", &["packets needs at least one eBPF filter"]),
        (
            "packets --max-time=1m",
            &["packets needs at least one eBPF filter"],
        ),
        ("launch", &["launch"]),
    ];
    for (line, needles) in cases {
        let err = match parse(line) {
            Ok(inv) => panic!("`{line}` was accepted: {inv:?}"),
            Err(e) => e.to_string(),
        };
        for n in *needles {
            assert!(
                err.contains(n),
                "`{line}`: error does not name `{n}`:\n{err}"
            );
        }
    }
}

#[test]
fn more_rules_than_the_agent_holds_are_refused() {
    let line = |n: usize| format!("flows {}", vec!["--port=1"; n].join(" or "));
    let err = parse(&line(17))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("17 filter rules") && err.contains("at most 16"),
        "{err}"
    );
    assert_eq!(parse(&line(16)).map(|i| i.rules.len()).ok(), Some(16));
}

#[test]
fn help_and_version_are_not_errors() {
    for line in ["--help", "flows --help", "help packets", "--version"] {
        let err = parse(line).expect_err(line);
        assert!(err.is_info(), "{line}: {err}");
    }
    let help = parse("flows --help").expect_err("help").to_string();
    for heading in [
        "Features:",
        "Agents:",
        "Run:",
        "eBPF filters",
        "--enable_pkt_drop",
        "--peer_cidr",
    ] {
        assert!(
            help.contains(heading),
            "flows --help lacks {heading}:\n{help}"
        );
    }
}
