//! Checks that the generated types put every key field on the wire under the upstream number.
#![allow(clippy::unwrap_used, missing_docs)]

use pbflow::{DataLink, Direction, DupMapEntry, Ip, Network, Record, Records, Transport};
use prost::Message;
use std::net::{IpAddr, Ipv4Addr};

/// Reads one base-128 varint.
fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// A decoded top-level field: number, wire type, and its raw value (varint or bytes).
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Varint(u64),
    Fixed32(u32),
    Bytes(Vec<u8>),
}

/// Splits a protobuf message into (field number, value) without any schema.
fn fields(buf: &[u8]) -> Vec<(u64, Val)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let tag = varint(buf, &mut pos);
        let (num, wt) = (tag >> 3, tag & 7);
        let v = match wt {
            0 => Val::Varint(varint(buf, &mut pos)),
            5 => {
                let v = u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap());
                pos += 4;
                Val::Fixed32(v)
            }
            2 => {
                let len = varint(buf, &mut pos) as usize;
                let v = buf[pos..pos + len].to_vec();
                pos += len;
                Val::Bytes(v)
            }
            other => panic!("unexpected wire type {other}"),
        };
        out.push((num, v));
    }
    out
}

fn get(fs: &[(u64, Val)], n: u64) -> Val {
    fs.iter()
        .find(|(k, _)| *k == n)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("field {n} missing in {fs:?}"))
}

fn sample() -> Record {
    Record {
        eth_protocol: 0x0800,
        direction: Direction::Egress as i32,
        time_flow_start: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        }),
        data_link: Some(DataLink {
            src_mac: pbflow::mac_to_u64([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
            dst_mac: 1,
        }),
        network: Some(Network {
            src_addr: Some(Ip::from_addr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))),
            dst_addr: Some(Ip::from_addr("fd00::2".parse().unwrap())),
            dscp: 46,
        }),
        transport: Some(Transport {
            src_port: 40000,
            dst_port: 443,
            protocol: 6,
        }),
        bytes: 1234,
        packets: 7,
        flags: 0x112,
        icmp_type: 8,
        icmp_code: 3,
        time_flow_rtt: Some(prost_types::Duration {
            seconds: 0,
            nanos: 1500,
        }),
        dup_list: vec![DupMapEntry {
            interface: "eth0".into(),
            direction: Direction::Ingress as i32,
            udn: String::new(),
        }],
        sampling: 50,
        dns_name: "example.com".into(),
        ..Default::default()
    }
}

#[test]
fn record_fields_use_upstream_numbers() {
    let buf = sample().encode_to_vec();
    let fs = fields(&buf);
    assert_eq!(get(&fs, 1), Val::Varint(0x0800));
    assert_eq!(get(&fs, 2), Val::Varint(1));
    assert_eq!(get(&fs, 8), Val::Varint(1234));
    assert_eq!(get(&fs, 9), Val::Varint(7));
    assert_eq!(get(&fs, 13), Val::Varint(0x112));
    assert_eq!(get(&fs, 14), Val::Varint(8));
    assert_eq!(get(&fs, 15), Val::Varint(3));
    assert_eq!(get(&fs, 29), Val::Varint(50));
    assert_eq!(get(&fs, 32), Val::Bytes(b"example.com".to_vec()));

    // Timestamp: seconds = 1, nanos = 2.
    let Val::Bytes(ts) = get(&fs, 3) else {
        panic!("time_flow_start not length-delimited")
    };
    assert_eq!(
        fields(&ts),
        vec![(1, Val::Varint(1_700_000_000)), (2, Val::Varint(5))]
    );
    let Val::Bytes(rtt) = get(&fs, 24) else {
        panic!("rtt")
    };
    assert_eq!(fields(&rtt), vec![(2, Val::Varint(1500))]);

    // DataLink 5 {src_mac 1, dst_mac 2}.
    let Val::Bytes(dl) = get(&fs, 5) else {
        panic!("data_link")
    };
    assert_eq!(get(&fields(&dl), 1), Val::Varint(0xaabb_ccdd_eeff));

    // Network 6 {src 1 {ipv4 fixed32 1}, dst 2 {ipv6 bytes 2}, dscp 3}.
    let Val::Bytes(net) = get(&fs, 6) else {
        panic!("network")
    };
    let nf = fields(&net);
    let Val::Bytes(src) = get(&nf, 1) else {
        panic!("src")
    };
    assert_eq!(fields(&src), vec![(1, Val::Fixed32(0x0a00_0001))]);
    let Val::Bytes(dst) = get(&nf, 2) else {
        panic!("dst")
    };
    let mut v6 = [0u8; 16];
    v6[0] = 0xfd;
    v6[15] = 2;
    assert_eq!(fields(&dst), vec![(2, Val::Bytes(v6.to_vec()))]);
    assert_eq!(get(&nf, 3), Val::Varint(46));

    // Transport 7 {src_port 1, dst_port 2, protocol 3}.
    let Val::Bytes(tr) = get(&fs, 7) else {
        panic!("transport")
    };
    assert_eq!(
        fields(&tr),
        vec![
            (1, Val::Varint(40000)),
            (2, Val::Varint(443)),
            (3, Val::Varint(6))
        ]
    );

    // dup_list 26 {interface 1, direction 2 (0 = INGRESS is the default, so omitted)}.
    let Val::Bytes(dup) = get(&fs, 26) else {
        panic!("dup_list")
    };
    assert_eq!(fields(&dup), vec![(1, Val::Bytes(b"eth0".to_vec()))]);
}

#[test]
fn records_wrap_entries_in_field_one_and_roundtrip() {
    let batch = Records {
        entries: vec![sample(), sample()],
    };
    let buf = batch.encode_to_vec();
    let fs = fields(&buf);
    assert_eq!(fs.len(), 2);
    assert!(fs.iter().all(|(n, _)| *n == 1));
    let back = Records::decode(buf.as_slice()).expect("decode");
    assert_eq!(back, batch);
    let addr = back.entries[0]
        .network
        .as_ref()
        .and_then(|n| n.src_addr.as_ref())
        .and_then(Ip::to_addr);
    assert_eq!(addr, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
}

#[test]
fn send_path_matches_upstream() {
    assert_eq!(pbflow::SEND_METHOD_PATH, "/pbflow.Collector/Send");
}

/// A `pbpacket.Packet` carries, in field 1, an `Any` with no type URL whose `value` (field 2) is
/// the 16-byte pcap record header and the packet bytes, as upstream's agent sends it; the
/// netobserv-rs additions use fields 2 to 5.
#[test]
fn packet_wraps_a_pcap_record_in_an_any() {
    use pbflow::pbpacket::{
        Packet, Packets, SEND_BATCH_METHOD_PATH, SEND_METHOD_PATH, pcap_record_header,
    };
    assert_eq!(SEND_METHOD_PATH, "/pbpacket.Collector/Send");
    assert_eq!(SEND_BATCH_METHOD_PATH, "/pbpacket.Collector/SendBatch");
    let frame: Vec<u8> = (0u8..60).collect();
    let t = 1_700_000_000_123_456_789u64;
    let mut value = pcap_record_header(t, 60, 1514).to_vec();
    value.extend_from_slice(&frame);
    let p = Packet {
        pcap: Some(prost_types::Any {
            type_url: String::new(),
            value: value.clone(),
        }),
        timestamp_ns: t,
        interface: "eth0".into(),
        if_index: 7,
        direction: 1,
    };
    let buf = p.encode_to_vec();
    let fs = fields(&buf);
    let Val::Bytes(any) = get(&fs, 1) else {
        panic!("field 1 is not a message")
    };
    assert_eq!(fields(&any), vec![(2, Val::Bytes(value.clone()))]);
    assert_eq!(&value[0..4], &1_700_000_000u32.to_le_bytes());
    assert_eq!(&value[4..8], &123_456u32.to_le_bytes());
    assert_eq!(&value[8..12], &60u32.to_le_bytes());
    assert_eq!(&value[12..16], &1514u32.to_le_bytes());
    assert_eq!(get(&fs, 2), Val::Varint(t));
    assert_eq!(get(&fs, 3), Val::Bytes(b"eth0".to_vec()));
    assert_eq!(get(&fs, 4), Val::Varint(7));
    assert_eq!(get(&fs, 5), Val::Varint(1));

    // A batch is the same packets in field 1, repeated.
    let batch = Packets {
        packets: vec![p.clone(), p.clone()],
    }
    .encode_to_vec();
    let bf = fields(&batch);
    assert_eq!(bf.len(), 2);
    assert!(
        bf.iter()
            .all(|(n, v)| *n == 1 && *v == Val::Bytes(buf.clone()))
    );

    let d = Packet::decode(&buf[..]).unwrap();
    let decoded = d.record().unwrap();
    assert_eq!((decoded.time_ns, decoded.orig_len), (t, 1514));
    assert_eq!(decoded.data, &frame[..]);

    // What an upstream agent sends: the time comes from the header, in microseconds.
    let upstream = Packet {
        pcap: Some(prost_types::Any {
            type_url: String::new(),
            value,
        }),
        ..Default::default()
    };
    assert_eq!(
        upstream.record().unwrap().time_ns,
        1_700_000_000_123_456_000
    );
}

#[test]
fn malformed_packets_are_refused_with_a_reason() {
    use pbflow::pbpacket::{DecodeError, Packet, pcap_record_header};
    let any = |value: Vec<u8>| Packet {
        pcap: Some(prost_types::Any {
            type_url: String::new(),
            value,
        }),
        ..Default::default()
    };
    assert_eq!(Packet::default().record(), Err(DecodeError::Missing));
    assert_eq!(any(vec![0; 10]).record(), Err(DecodeError::Short(10)));
    let mut v = pcap_record_header(0, 20, 20).to_vec();
    v.extend_from_slice(&[0; 19]);
    let e = any(v).record().unwrap_err();
    assert_eq!(
        e,
        DecodeError::Length {
            header: 20,
            actual: 19
        }
    );
    assert!(
        e.to_string().contains("20 bytes captured, 19 follow"),
        "{e}"
    );
}
