//! Agent flows (`pbflow.Record`, as they arrive over gRPC) decoded into pipeline records with the
//! field names and value forms of reference §A.6.

use netobserv_pipeline::decode::record_from_pbflow;
use netobserv_pipeline::record::Value;
use pbflow::{DataLink, DupMapEntry, Ip, Network, NetworkEvent, Record, Transport, Xlat};
use std::net::IpAddr;

fn ip(s: &str) -> Option<Ip> {
    Some(Ip::from_addr(s.parse::<IpAddr>().expect("address")))
}

fn tcp_flow() -> Record {
    Record {
        eth_protocol: 0x0800,
        direction: 1,
        time_flow_start: Some(prost_types::Timestamp {
            seconds: 1_732_200_000,
            nanos: 250_000_000,
        }),
        time_flow_end: Some(prost_types::Timestamp {
            seconds: 1_732_200_001,
            nanos: 0,
        }),
        data_link: Some(DataLink {
            src_mac: 0x0a58_0a80_0011,
            dst_mac: 0x0a58_0a81_0009,
        }),
        network: Some(Network {
            src_addr: ip("10.128.0.17"),
            dst_addr: ip("::ffff:10.129.0.9"),
            dscp: 10,
        }),
        transport: Some(Transport {
            src_port: 43512,
            dst_port: 8080,
            protocol: 6,
        }),
        bytes: 1500,
        packets: 3,
        agent_ip: ip("172.18.0.2"),
        flags: 0x12,
        sampling: 50,
        dup_list: vec![
            DupMapEntry {
                interface: "eth0".into(),
                direction: 1,
                udn: String::new(),
            },
            DupMapEntry {
                interface: "br-ex".into(),
                direction: 0,
                udn: String::new(),
            },
        ],
        pkt_drop_bytes: 66,
        pkt_drop_packets: 1,
        pkt_drop_latest_state: 1,
        pkt_drop_latest_drop_cause: 8,
        time_flow_rtt: Some(prost_types::Duration {
            seconds: 0,
            nanos: 120_000,
        }),
        xlat: Some(Xlat {
            src_addr: ip("10.128.0.17"),
            dst_addr: ip("10.129.0.20"),
            src_port: 43512,
            dst_port: 8443,
            zone_id: 4,
        }),
        network_events_metadata: vec![NetworkEvent {
            events: [
                ("Action".to_string(), "drop".to_string()),
                ("Type".to_string(), "NetworkPolicy".to_string()),
            ]
            .into_iter()
            .collect(),
        }],
        ..Record::default()
    }
}

#[test]
fn tcp_flow_with_features_decodes_to_upstream_fields() {
    let r = record_from_pbflow(&tcp_flow(), 1_732_200_002);
    let expect = [
        // Lower case, as upstream and as the console's MAC filters and the CLI expect.
        ("SrcMac", Value::from("0a:58:0a:80:00:11")),
        ("DstMac", Value::from("0a:58:0a:81:00:09")),
        ("Etype", Value::UInt(2048)),
        ("TimeFlowStartMs", Value::Int(1_732_200_000_250)),
        ("TimeFlowEndMs", Value::Int(1_732_200_001_000)),
        ("TimeReceived", Value::Int(1_732_200_002)),
        ("AgentIP", Value::from("172.18.0.2")),
        (
            "Interfaces",
            Value::List(vec![Value::from("eth0"), Value::from("br-ex")]),
        ),
        (
            "IfDirections",
            Value::List(vec![Value::Int(1), Value::Int(0)]),
        ),
        // One UDN per interface, empty when none (upstream writes `""` entries too).
        ("Udns", Value::List(vec![Value::from(""), Value::from("")])),
        ("Bytes", Value::UInt(1500)),
        ("Packets", Value::UInt(3)),
        ("Sampling", Value::UInt(50)),
        ("SrcAddr", Value::from("10.128.0.17")),
        ("DstAddr", Value::from("10.129.0.9")),
        ("Proto", Value::UInt(6)),
        ("Dscp", Value::UInt(10)),
        ("SrcPort", Value::UInt(43512)),
        ("DstPort", Value::UInt(8080)),
        ("Flags", Value::UInt(0x12)),
        ("PktDropBytes", Value::UInt(66)),
        ("PktDropPackets", Value::UInt(1)),
        ("PktDropLatestState", Value::from("TCP_ESTABLISHED")),
        (
            "PktDropLatestDropCause",
            Value::from("SKB_DROP_REASON_NETFILTER_DROP"),
        ),
        ("TimeFlowRttNs", Value::Int(120_000)),
        ("XlatDstAddr", Value::from("10.129.0.20")),
        ("XlatDstPort", Value::UInt(8443)),
        ("ZoneId", Value::UInt(4)),
    ];
    for (field, value) in expect {
        assert_eq!(r.get(field), Some(&value), "{field} in {}", r.to_json());
    }
    // `FlowDirection` is the node's point of view: only `reinterpret_direction` sets it.
    for absent in [
        "FlowDirection",
        "IcmpType",
        "DnsId",
        "IPSecStatus",
        "TLSVersion",
    ] {
        assert!(
            !r.contains(absent),
            "{absent} should be absent: {}",
            r.to_json()
        );
    }
    let events = r.get("NetworkEvents").map(Value::to_text);
    assert_eq!(
        events.as_deref(),
        Some("[map[Action:drop Type:NetworkPolicy]]")
    );
}

#[test]
fn icmp_and_dns_fields() {
    let flow = Record {
        eth_protocol: 0x86DD,
        network: Some(Network {
            src_addr: ip("fd00::1"),
            dst_addr: ip("fd00::2"),
            dscp: 0,
        }),
        transport: Some(Transport {
            src_port: 0,
            dst_port: 0,
            protocol: 58,
        }),
        icmp_type: 128,
        interface: "veth0".into(),
        dns_id: 4242,
        dns_flags: 0x8183,
        dns_latency: Some(prost_types::Duration {
            seconds: 0,
            nanos: 7_000_000,
        }),
        dns_name: "example.org".into(),
        ..Record::default()
    };
    let r = record_from_pbflow(&flow, 0);
    assert_eq!(r.get("SrcAddr"), Some(&Value::from("fd00::1")));
    // Kept binary until an encoder needs the text.
    assert_eq!(
        r.get("SrcAddr").map(|v| matches!(v, Value::Ip(_))),
        Some(true)
    );
    assert_eq!(r.get("IcmpType"), Some(&Value::UInt(128)));
    assert!(!r.contains("SrcPort") && !r.contains("Flags"));
    // Without a de-duplication list, the single interface fills the parallel lists.
    assert_eq!(
        r.get("Interfaces"),
        Some(&Value::List(vec![Value::from("veth0")]))
    );
    assert_eq!(
        r.get("IfDirections"),
        Some(&Value::List(vec![Value::Int(0)]))
    );
    assert_eq!(r.get("Udns"), Some(&Value::List(vec![Value::from("")])));
    assert_eq!(
        r.get("DnsFlagsResponseCode"),
        Some(&Value::from("NXDomain"))
    );
    assert_eq!(r.get("DnsLatencyMs"), Some(&Value::Int(7)));
    assert_eq!(r.get("DnsName"), Some(&Value::from("example.org")));
    // A non-IP frame (ARP) carries no addresses.
    let arp = record_from_pbflow(
        &Record {
            eth_protocol: 0x0806,
            ..Record::default()
        },
        0,
    );
    assert!(!arp.contains("SrcAddr") && !arp.contains("Proto"));
}
