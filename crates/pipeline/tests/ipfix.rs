//! The `ipfix` writer against independent readers: its messages travel over real UDP and TCP
//! sockets on loopback to a collector this test runs, are put into a pcapng file as UDP
//! datagrams to port 4739, and Debian's `tshark` (Wireshark's IPFIX dissector, not our code)
//! decodes them; every field is compared with the input flow. Also: the transport's counters
//! when the collector is unreachable, and the parameters a FlowCollector can give it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
#[path = "support/ipfix_tshark.rs"]
mod ipfix_tshark;

use ipfix_tshark::{pcap, read_messages, temp, tshark_records};
use netobserv_pipeline::config::IpfixWrite;
use netobserv_pipeline::record::Record;
use netobserv_pipeline::write::ipfix::{IpfixWriter, Settings, Transport};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const ENTERPRISE: u32 = 55_555;

fn flows() -> Vec<Record> {
    [
        r#"{"SrcAddr":"10.128.0.7","DstAddr":"10.129.0.9","SrcPort":43210,"DstPort":8080,"Proto":6,
            "Etype":2048,"FlowDirection":1,"SrcMac":"0a:58:0a:80:00:07","DstMac":"0a:58:0a:81:00:09",
            "Bytes":123456,"Packets":89,"Flags":["SYN","ACK","FIN_ACK"],"TimeFlowStartMs":1764914400123,
            "TimeFlowEndMs":1764914405456,"Interfaces":["eth0","br-ex"],"IfDirections":[1,0],
            "SrcK8S_Namespace":"shop","SrcK8S_Name":"web-7d9c","SrcK8S_HostName":"worker-1",
            "DstK8S_Namespace":"shop","DstK8S_Name":"db-0","DstK8S_HostName":"worker-2",
            "TimeFlowRttNs":250000,"XlatSrcAddr":"172.30.0.10","XlatDstAddr":"10.129.0.9",
            "XlatSrcPort":80,"XlatDstPort":8080}"#,
        r#"{"SrcAddr":"10.128.0.7","DstAddr":"8.8.8.8","Proto":1,"IcmpType":8,"IcmpCode":0,
            "Etype":2048,"FlowDirection":1,"SrcMac":"0a:58:0a:80:00:07","DstMac":"0a:58:0a:80:00:01",
            "Bytes":98,"Packets":1,"TimeFlowStartMs":1764914401000,"TimeFlowEndMs":1764914401000,
            "Interfaces":["eth0"],"IfDirections":[1],"SrcK8S_Namespace":"shop","SrcK8S_Name":"web-7d9c"}"#,
        r#"{"SrcAddr":"fd00::7","DstAddr":"fd00::9","SrcPort":5353,"DstPort":53,"Proto":17,
            "Etype":34525,"FlowDirection":0,"SrcMac":"0a:58:0a:80:00:07","DstMac":"0a:58:0a:81:00:09",
            "Bytes":300,"Packets":3,"Flags":0,"TimeFlowStartMs":1764914402000,"TimeFlowEndMs":1764914402500,
            "Interfaces":["eth0"],"IfDirections":[0],"DstK8S_Namespace":"dns","DstK8S_Name":"coredns-1"}"#,
    ]
    .iter()
    .map(|t| Record::from_json(t).expect("record"))
    .collect()
}

fn settings(port: u16, transport: Transport, enterprise_id: u32) -> Settings {
    Settings {
        target: format!("127.0.0.1:{port}"),
        transport,
        enterprise_id,
        template_interval: Duration::from_secs(60),
    }
}

/// Datagrams received on `sock` until `n` arrived or 10 s passed.
fn receive(sock: &std::net::UdpSocket, n: usize) -> Vec<Vec<u8>> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < n && Instant::now() < deadline {
        if let Ok(len) = sock.recv(&mut buf) {
            got.push(buf[..len].to_vec());
        }
    }
    got
}

/// tshark's reading of NetObserv's enterprise elements, per data record: element id to the
/// value's bytes as hex (from its verbose tree, where each names its PEN and type).
fn tshark_private(path: &std::path::Path) -> Vec<Vec<(u16, String)>> {
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            path.to_str().unwrap(),
            "-V",
            "-d",
            "udp.port==4739,cflow",
        ])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut flows: Vec<Vec<(u16, String)>> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Flow ") && t[5..].chars().all(|c| c.is_ascii_digit()) {
            flows.push(Vec::new());
        } else if let Some(rest) = t.strip_prefix("Enterprise Private entry: ") {
            assert!(
                rest.contains(&format!("({ENTERPRISE})")) || rest.contains("Rendeer"),
                "{rest}"
            );
            let after_type = rest.split("Type ").nth(1).expect("type");
            let (id, value) = after_type
                .split_once(": Value (hex bytes): ")
                .expect("value");
            flows
                .last_mut()
                .expect("inside a flow")
                .push((id.parse().expect("id"), value.replace(' ', "")));
        }
    }
    flows
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What tshark must show for each input flow: standard fields by tshark name, then the
/// enterprise elements (empty strings have no value bytes, so tshark lists no entry for them).
/// tshark field name and shown value, per standard element.
type Standard = Vec<(&'static str, &'static str)>;
/// Enterprise element id and value bytes in hex.
type Private = Vec<(u16, String)>;

fn expected() -> Vec<(Standard, Private)> {
    let s = |t: &str| hex(t.as_bytes());
    vec![
        (
            vec![
                ("cflow.srcaddr", "10.128.0.7"),
                ("cflow.dstaddr", "10.129.0.9"),
                ("cflow.srcport", "43210"),
                ("cflow.dstport", "8080"),
                ("cflow.protocol", "6"),
                ("cflow.ethernet_type", "2048"),
                ("cflow.direction", "1"),
                ("cflow.srcmac", "0a:58:0a:80:00:07"),
                ("cflow.dstmac", "0a:58:0a:81:00:09"),
                ("cflow.octets", "123456"),
                ("cflow.packets", "89"),
                // SYN 0x02 | ACK 0x10 | FIN_ACK 0x200 (NetObserv's combined flag)
                ("cflow.tcpflags", "0x0212"),
                ("cflow.if_name", "eth0"),
                ("cflow.icmp_ipv4_type", "0"),
                ("cflow.icmp_ipv4_code", "0"),
                ("cflow.timedelta", "5.333000000"),
            ],
            vec![
                (7733, s("shop")),
                (7734, s("web-7d9c")),
                (7735, s("shop")),
                (7736, s("db-0")),
                (7737, s("worker-1")),
                (7738, s("worker-2")),
                (7740, hex(&250_000u64.to_be_bytes())),
                (7741, s("eth0,br-ex")),
                (7742, s("1,0")),
                (7743, hex(&80u16.to_be_bytes())),
                (7744, hex(&8080u16.to_be_bytes())),
                (7745, hex(&[172, 30, 0, 10])),
                (7746, hex(&[10, 129, 0, 9])),
            ],
        ),
        (
            // ICMP: no ports (zero), type and code exported (upstream left them out).
            vec![
                ("cflow.srcaddr", "10.128.0.7"),
                ("cflow.dstaddr", "8.8.8.8"),
                ("cflow.srcport", "0"),
                ("cflow.dstport", "0"),
                ("cflow.protocol", "1"),
                ("cflow.icmp_ipv4_type", "8"),
                ("cflow.icmp_ipv4_code", "0"),
                ("cflow.octets", "98"),
                ("cflow.packets", "1"),
                ("cflow.tcpflags", "0x0000"),
                ("cflow.timedelta", "0.000000000"),
            ],
            vec![
                (7733, s("shop")),
                (7734, s("web-7d9c")),
                (7740, hex(&0u64.to_be_bytes())),
                (7741, s("eth0")),
                (7742, s("1")),
                (7743, "0000".into()),
                (7744, "0000".into()),
                (7745, "00000000".into()),
                (7746, "00000000".into()),
            ],
        ),
        (
            vec![
                ("cflow.srcaddrv6", "fd00::7"),
                ("cflow.dstaddrv6", "fd00::9"),
                ("cflow.srcport", "5353"),
                ("cflow.dstport", "53"),
                ("cflow.ipv6_next_hdr", "17"),
                ("cflow.ethernet_type", "34525"),
                ("cflow.direction", "0"),
                ("cflow.octets", "300"),
                ("cflow.packets", "3"),
                ("cflow.timedelta", "0.500000000"),
            ],
            vec![
                (7735, s("dns")),
                (7736, s("coredns-1")),
                (7740, hex(&0u64.to_be_bytes())),
                (7741, s("eth0")),
                (7742, s("0")),
                (7743, "0000".into()),
                (7744, "0000".into()),
                (7747, "0".repeat(32)),
                (7748, "0".repeat(32)),
            ],
        ),
    ]
}

/// Decodes `messages` with tshark and compares every flow with [`expected`].
fn assert_decoded(messages: &[Vec<u8>], name: &str) {
    let path = temp(name);
    pcap(messages, &path);
    let standard = tshark_records(&path);
    let private = tshark_private(&path);
    let _ = std::fs::remove_file(&path);
    let want = expected();
    assert_eq!(standard.len(), want.len(), "data records tshark found");
    assert_eq!(private.len(), want.len());
    for (i, ((fields, private_want), got)) in want.iter().zip(&standard).enumerate() {
        for (name, value) in fields {
            assert_eq!(
                got.get(*name).and_then(Value::as_str),
                Some(*value),
                "flow {i}: {name} in {got:?}"
            );
        }
        assert_eq!(&private[i], private_want, "flow {i}: enterprise elements");
    }
}

#[test]
fn udp_export_is_decoded_by_tshark_field_by_field() {
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = collector.local_addr().unwrap().port();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut writer =
        IpfixWriter::start(settings(port, Transport::Udp, ENTERPRISE), runtime.handle());
    writer.send_batch(&flows());
    let messages = receive(&collector, 3);
    assert_eq!(messages.len(), 3, "templates, IPv4 data, IPv6 data");
    assert_eq!(
        u16::from_be_bytes([messages[0][16], messages[0][17]]),
        2,
        "templates first"
    );
    assert_decoded(&messages, "udp");
    let stats = writer.stats();
    eventually("3 records counted written", || {
        stats.written.load(Ordering::Relaxed) == 3
    });
    assert_eq!(stats.dropped_buffer_full.load(Ordering::Relaxed), 0);
}

#[test]
fn without_an_enterprise_id_only_standard_elements_go_out() {
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = collector.local_addr().unwrap().port();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut writer = IpfixWriter::start(settings(port, Transport::Udp, 0), runtime.handle());
    writer.send_batch(&flows());
    let messages = receive(&collector, 3);
    let path = temp("standard");
    pcap(&messages, &path);
    let standard = tshark_records(&path);
    let private = tshark_private(&path);
    let _ = std::fs::remove_file(&path);
    assert_eq!(standard.len(), 3);
    assert!(private.iter().all(Vec::is_empty), "{private:?}");
    assert_eq!(standard[0]["cflow.octets"], "123456");
}

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads whole IPFIX messages from a TCP stream (the header's length field frames them).
fn set_id(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[16], message[17]])
}

#[test]
fn tcp_export_is_decoded_and_survives_a_collector_restart() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut writer =
        IpfixWriter::start(settings(port, Transport::Tcp, ENTERPRISE), runtime.handle());
    writer.send_batch(&flows());
    let (mut conn, _) = listener.accept().unwrap();
    let messages = read_messages(&mut conn, 3);
    assert_eq!(set_id(&messages[0]), 2, "templates open the session");
    assert_decoded(&messages, "tcp");
    // Sequence numbers count data records: 0 before the first data message, 2 after it.
    let seq = |m: &[u8]| u32::from_be_bytes([m[8], m[9], m[10], m[11]]);
    assert_eq!((seq(&messages[1]), seq(&messages[2])), (0, 2));

    // The collector goes away: the writer notices before writing (nothing lost), reconnects,
    // and opens the new session with the templates again. (A close racing a write cannot be
    // seen: TCP accepts that message into the dying socket; the next write fails and counts.
    // The pause lets the FIN land first, as it does when a collector restarts between two
    // evictions.)
    drop(conn);
    std::thread::sleep(Duration::from_millis(200));
    listener.set_nonblocking(true).unwrap();
    let mut second = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.is_none() {
        assert!(Instant::now() < deadline, "the writer never reconnected");
        writer.send_batch(&flows());
        std::thread::sleep(Duration::from_millis(50));
        if let Ok((c, _)) = listener.accept() {
            second = Some(c);
        }
    }
    let mut conn = second.unwrap();
    conn.set_nonblocking(false).unwrap();
    let first = read_messages(&mut conn, 1);
    assert_eq!(
        set_id(&first[0]),
        2,
        "a new session starts with the templates"
    );
    let stats = writer.stats();
    eventually("every queued record written or counted as dropped", || {
        let queued = stats.queued.load(Ordering::Relaxed);
        let done = stats.written.load(Ordering::Relaxed)
            + stats.dropped_after_retries.load(Ordering::Relaxed);
        queued == done
    });
    assert_eq!(
        stats.dropped_after_retries.load(Ordering::Relaxed),
        0,
        "the close was seen before a message went into the dead connection"
    );
    assert_eq!(stats.dropped_buffer_full.load(Ordering::Relaxed), 0);
}

#[test]
fn an_unreachable_collector_never_blocks_the_pipeline_and_drops_are_counted() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut writer =
        IpfixWriter::start(settings(port, Transport::Tcp, ENTERPRISE), runtime.handle());
    let batch = flows();
    let batches = 3000; // two messages each: more than the queue holds
    let mut slowest = Duration::ZERO;
    for _ in 0..batches {
        let t = Instant::now();
        writer.send_batch(&batch);
        slowest = slowest.max(t.elapsed());
    }
    // A call that waited for the collector would take its 5 s connection timeout.
    assert!(
        slowest < Duration::from_secs(1),
        "a send_batch call took {slowest:?}"
    );
    let stats = writer.stats();
    eventually("a failed connection attempt counted", || {
        stats.failed_attempts.load(Ordering::Relaxed) >= 1
    });
    let queued = stats.queued.load(Ordering::Relaxed);
    let dropped = stats.dropped_buffer_full.load(Ordering::Relaxed);
    assert_eq!(
        queued + dropped,
        (batches * batch.len()) as u64,
        "every record accounted for"
    );
    assert!(dropped > 0, "the bounded queue must have overflowed");
    assert_eq!(stats.written.load(Ordering::Relaxed), 0);
}

#[test]
fn parameters_are_checked_before_start() {
    let params = |host: &str, port: u16, transport: &str, enterprise: i64| IpfixWrite {
        target_host: host.into(),
        target_port: port,
        transport: transport.into(),
        enterprise_id: enterprise,
        tpl_send_interval: None,
    };
    let ok = Settings::from_params(&params("collector.example", 4739, "", 2)).expect("valid");
    assert_eq!(
        ok.transport,
        Transport::Tcp,
        "empty transport means TCP, as the FlowCollector's"
    );
    assert_eq!(ok.target, "collector.example:4739");
    let v6 = Settings::from_params(&params("fd00::1", 4739, "UDP", 2)).expect("valid");
    assert_eq!(
        (v6.target.as_str(), v6.transport),
        ("[fd00::1]:4739", Transport::Udp)
    );
    for (bad, why) in [
        (params("", 4739, "tcp", 2), "targetHost"),
        (params("c", 0, "tcp", 2), "targetPort"),
        (params("c", 4739, "sctp", 2), "sctp"),
        (params("c", 4739, "tcp", -1), "enterpriseId"),
    ] {
        let err = Settings::from_params(&bad)
            .expect_err("refused")
            .to_string();
        assert!(err.contains(why), "{err}");
    }
    let mut interval = params("c", 4739, "udp", 2);
    interval.tpl_send_interval = Some("forever".into());
    assert!(Settings::from_params(&interval).is_err());
}

/// The whole path a user configures: a FlowCollector with an IPFIX exporter, rendered by the
/// operator; the pipeline binary runs the rendered `ipfix-export-0` stage as it is (only the
/// ingest is stdin instead of the agents' gRPC, so no cluster is needed) and a UDP collector
/// receives what tshark decodes field by field.
#[test]
fn a_flowcollector_ipfix_exporter_reaches_the_collector_through_the_pipeline_binary() {
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = collector.local_addr().unwrap().port();
    let stages = common::exporters::rendered_stages(
        serde_json::json!([{
            "type": "IPFIX",
            "ipfix": {"targetHost": "127.0.0.1", "targetPort": port, "transport": "UDP",
                      "enterpriseID": ENTERPRISE},
        }]),
        "ipfix-export-0",
    );
    assert_eq!(
        stages.len(),
        1,
        "the operator renders the ipfix-export-0 stage"
    );
    let config = serde_json::json!({
        "pipeline": [{"name": "in"}, {"name": "ipfix-export-0", "follows": "in"}],
        "parameters": [{"name": "in", "ingest": {"type": "stdin"}}, stages[0]],
    });
    let run = common::exporters::Run::start(&config, &flows(), "ipfix-e2e");
    let messages = receive(&collector, 3);
    let stderr = run.finish();
    assert!(
        stderr.contains("3 exported, 0 dropped by exporters"),
        "{stderr}"
    );
    assert_eq!(messages.len(), 3, "templates, IPv4 data, IPv6 data");
    assert_decoded(&messages, "e2e");
}
