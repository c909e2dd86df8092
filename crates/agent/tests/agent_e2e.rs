//! The whole agent, in process: it watches a namespace, hooks its veth, and exports to a gRPC
//! collector on loopback. Flow bytes/packets for ICMP, TCP and UDP are compared with nftables
//! counters on the same interface and 5-tuple; interface pick-up/exclusion, clean detach on
//! shutdown and sampling are checked too. Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_agent::config::{AttachMode, Config, NameMatcher};
use netobserv_agent::netns::in_netns;
use netobserv_agent::{Agent, tracer::AttachKind};
use prost::Message;
use std::collections::HashMap;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ETH_HLEN: u64 = 14;

fn config(pair: &NetPair, port: u16) -> Config {
    Config {
        target_host: "127.0.0.1".into(),
        target_port: port,
        cache_active_timeout: Duration::from_millis(300),
        netns: Some(pair.path_a()),
        metrics_enable: true,
        metrics_server_address: "127.0.0.1".into(),
        metrics_server_port: 0,
        ..Config::default()
    }
}

async fn wait_attached(agent: &Agent, name: &str) -> AttachKind {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((_, k)) = agent.attached().into_iter().find(|(n, _)| n == name) {
            return k;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never attached: {:?}",
            agent.attached()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// (packets, bytes) per (src, dst, proto, sport, dport, icmp type) summed over all records.
type Key = (IpAddr, IpAddr, u32, u32, u32, u32);

fn totals(records: &[pbflow::Record]) -> HashMap<Key, (u64, u64)> {
    let mut m = HashMap::new();
    for r in records {
        let net = r.network.as_ref().unwrap();
        let tr = r.transport.as_ref().unwrap();
        let k = (
            net.src_addr.as_ref().unwrap().to_addr().unwrap(),
            net.dst_addr.as_ref().unwrap().to_addr().unwrap(),
            tr.protocol,
            tr.src_port,
            tr.dst_port,
            r.icmp_type,
        );
        let e = m.entry(k).or_insert((0, 0));
        e.0 += r.packets;
        e.1 += r.bytes;
    }
    m
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `tc filter show` output for both clsact directions.
fn tc_filters(pair: &NetPair, iface: &str) -> String {
    let mut s = String::new();
    for dir in ["ingress", "egress"] {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &pair.ns_a, "tc", "filter", "show", "dev", iface, dir,
            ])
            .output()
            .unwrap();
        s.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icmp_tcp_udp_flows_match_nftables_and_reach_the_collector() {
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = config(&pair, collector.port);
    cfg.interfaces = vec![NameMatcher::Exact(pair.veth_a.clone())];
    cfg.enable_rtt = true;
    let agent = Agent::start(cfg).await.expect("agent starts");
    assert_eq!(wait_attached(&agent, &pair.veth_a).await, AttachKind::Tcx);

    let (a, b) = (pair.ip_a, pair.ip_b);
    let nft = NftCounters::new(&pair.ns_a);
    let out = format!("oifname \"{}\" ip saddr {a} ip daddr {b}", pair.veth_a);
    let inn = format!("iifname \"{}\" ip saddr {b} ip daddr {a}", pair.veth_a);
    nft.add("icmp_out", "post", &format!("{out} icmp type echo-request"));
    nft.add("icmp_in", "pre", &format!("{inn} icmp type echo-reply"));
    nft.add("tcp_out", "post", &format!("{out} tcp dport 5201"));
    nft.add("tcp_in", "pre", &format!("{inn} tcp sport 5201"));
    nft.add("udp_out", "post", &format!("{out} udp dport 5202"));

    // ICMP.
    ns_run(
        &pair.ns_a,
        &["ping", "-c", "4", "-i", "0.01", "-s", "200", b],
    );
    // TCP: 300 kB through nc.
    assert!(
        nc_tcp_transfer(&pair, "head -c 300000 /dev/zero", b, 5201, 5201),
        "TCP client failed"
    );
    // UDP: a few datagrams of different sizes from one source port.
    let mut udp_server = Command::new("ip")
        .args(["netns", "exec", &pair.ns_b, "nc", "-u", "-l", "5202"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(&pair.ns_b, "udp", 5202);
    let udp = Command::new("sh")
        .args([
            "-c",
            &format!(
                "(for n in 10 100 1000; do head -c $n /dev/zero; sleep 0.05; done) | \
                 ip netns exec {} nc -u -p 40000 -w 1 {b} 5202",
                pair.ns_a
            ),
        ])
        .status()
        .unwrap();
    assert!(udp.success(), "UDP client failed");
    let _ = udp_server.kill();
    let _ = udp_server.wait();

    // Status and metrics are served while running.
    let addr = agent.metrics_addr().expect("metrics server");
    let status = http_get(addr, "/status");
    assert!(
        status.contains("\"hook\":\"FlowCapture\",\"active\":true,\"mode\":\"tcx\""),
        "{status}"
    );
    assert!(
        status.contains("\"hook\":\"FlowRTT\",\"active\":true,\"mode\":\"tp_btf\""),
        "{status}"
    );
    assert!(
        status.contains("\"hook\":\"PacketDrop\",\"active\":false"),
        "{status}"
    );
    assert!(status.contains(&pair.veth_a), "{status}");
    assert!(status.contains("\"flow_end_clock\":\"coarse\""), "{status}");
    let metrics_text = http_get(addr, "/metrics");
    assert!(
        metrics_text.contains("ebpf_agent_evictions_total"),
        "{metrics_text}"
    );

    agent.shutdown().await.expect("clean shutdown");
    assert_eq!(
        tcx_programs(&pair, &pair.veth_a),
        0,
        "TCX links left after shutdown"
    );

    let records = collector.snapshot();
    assert!(!records.is_empty());
    let t = totals(&records);
    let check = |name: &str, key: Key| {
        let (np, nb) = nft.get(name);
        assert!(np > 0, "nft counter {name} saw nothing");
        let got = t
            .get(&key)
            .copied()
            .unwrap_or_else(|| panic!("no flow for {name}: {key:?}"));
        assert_eq!(
            got,
            (np, nb + ETH_HLEN * np),
            "{name}: flow (packets, bytes) vs nft"
        );
    };
    check("icmp_out", (ip(a), ip(b), 1, 0, 0, 8));
    check("icmp_in", (ip(b), ip(a), 1, 0, 0, 0));
    let tcp_client_port = t
        .keys()
        .find(|k| k.2 == 6 && k.4 == 5201)
        .map(|k| k.3)
        .expect("TCP flow");
    check("tcp_out", (ip(a), ip(b), 6, tcp_client_port, 5201, 0));
    check("tcp_in", (ip(b), ip(a), 6, 5201, tcp_client_port, 0));
    check("udp_out", (ip(a), ip(b), 17, 40000, 5202, 0));

    check_record_fields(&records, &pair, tcp_client_port);
}

/// The fields of the records of [`icmp_tcp_udp_flows_match_nftables_and_reach_the_collector`]
/// as upstream fills them: interface, times (tick clock for later packets), TCP flags, FlowRTT
/// in both directions, and the upstream field numbers on the wire.
fn check_record_fields(records: &[pbflow::Record], pair: &NetPair, tcp_client_port: u32) {
    let r = records
        .iter()
        .find(|r| r.transport.as_ref().unwrap().dst_port == 5201)
        .unwrap();
    assert_eq!(r.eth_protocol, 0x0800);
    assert_eq!(r.dup_list[0].interface, pair.veth_a);
    assert!(r.time_flow_start.is_some() && r.time_flow_end.is_some());
    assert!(r.time_flow_rtt.is_some());
    // Timestamps: later packets carry the tick clock here (`flow_end_clock` in /status), so
    // the four echo requests 10 ms apart must span ≈30 ms, give or take a tick (4 ms at
    // HZ=250), and no record may end before it starts.
    let ns = |t: &Option<prost_types::Timestamp>| {
        let t = t.as_ref().expect("timestamp");
        t.seconds as i128 * 1_000_000_000 + i128::from(t.nanos)
    };
    let echo: Vec<_> = records
        .iter()
        .filter(|r| r.transport.as_ref().is_some_and(|t| t.protocol == 1))
        .filter(|r| r.icmp_type == 8)
        .collect();
    assert!(
        echo.iter()
            .all(|r| ns(&r.time_flow_end) >= ns(&r.time_flow_start))
    );
    let span_ms = (echo.iter().map(|r| ns(&r.time_flow_end)).max().unwrap()
        - echo.iter().map(|r| ns(&r.time_flow_start)).min().unwrap())
        / 1_000_000;
    assert!(
        (20..300).contains(&span_ms),
        "ICMP echo flow spans {span_ms} ms"
    );
    let flags: u32 = records
        .iter()
        .filter(|r| r.transport.as_ref().unwrap().dst_port == 5201)
        .map(|r| r.flags)
        .fold(0, |a, f| a | f);
    assert_ne!(flags & 0x02, 0, "SYN seen: {flags:#x}");
    assert_ne!(flags & 0x10, 0, "ACK seen: {flags:#x}");
    // FlowRTT: both directions of the TCP connection carry the smoothed RTT.
    for (sport, dport) in [(tcp_client_port, 5201), (5201, tcp_client_port)] {
        let rtt = records
            .iter()
            .filter(|r| {
                let t = r.transport.as_ref().unwrap();
                t.protocol == 6 && t.src_port == sport && t.dst_port == dport
            })
            .filter_map(|r| r.time_flow_rtt.as_ref())
            .map(|d| d.seconds as u64 * 1_000_000_000 + d.nanos as u64)
            .max()
            .unwrap_or(0);
        assert!(rtt > 0, "TimeFlowRttNs for {sport}->{dport} is 0");
        assert!(rtt < 1_000_000_000, "RTT on a veth below 1 s: {rtt}");
    }
    // Wire check: bytes (8) and packets (9) under the upstream field numbers.
    let buf = r.encode_to_vec();
    assert_eq!(wire_varint(&buf, 8), Some(r.bytes));
    assert_eq!(wire_varint(&buf, 9), Some(r.packets));
    assert_eq!(wire_varint(&buf, 1), Some(0x0800));
}

/// Finds the varint value of top-level field `num` in a protobuf message.
fn wire_varint(buf: &[u8], num: u64) -> Option<u64> {
    fn varint(buf: &[u8], pos: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
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
    let mut pos = 0;
    while pos < buf.len() {
        let tag = varint(buf, &mut pos);
        match tag & 7 {
            0 => {
                let v = varint(buf, &mut pos);
                if tag >> 3 == num {
                    return Some(v);
                }
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let len = varint(buf, &mut pos) as usize;
                pos += len;
            }
            _ => return None,
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_interfaces_are_picked_up_and_excluded_ones_are_not() {
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let id = &pair.veth_a[2..];
    let (wanted, excluded) = (format!("nw{id}"), format!("nwx{id}"));
    let mut cfg = config(&pair, collector.port);
    cfg.interfaces = vec![NameMatcher::parse("/^(va|nw)/").unwrap()];
    cfg.exclude_interfaces = vec![NameMatcher::parse("/^nwx/").unwrap()];
    cfg.tc_attach_mode = AttachMode::Any;
    let agent = Agent::start(cfg).await.expect("agent starts");
    wait_attached(&agent, &pair.veth_a).await;

    // The excluded end comes up first: the agent handles link events in order, so once the
    // wanted end is attached, the excluded one's event has been handled too.
    pair.add_local_veth(&excluded, &wanted);
    wait_attached(&agent, &wanted).await;
    let names: Vec<String> = agent.attached().into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.contains(&excluded),
        "excluded interface attached: {names:?}"
    );
    assert!(!names.iter().any(|n| n == "lo"), "lo attached: {names:?}");
    assert_eq!(
        tcx_programs(&pair, &wanted),
        2,
        "ingress + egress on the new interface"
    );
    assert_eq!(tcx_programs(&pair, &excluded), 0);

    // Removal is noticed.
    ns_run(&pair.ns_a, &["ip", "link", "del", &wanted]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while agent.attached().iter().any(|(n, _)| *n == wanted) {
        assert!(Instant::now() < deadline, "removed interface still listed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    agent.shutdown().await.unwrap();
    assert_eq!(tcx_programs(&pair, &pair.veth_a), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clsact_mode_leaves_no_filter_after_shutdown() {
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = config(&pair, collector.port);
    cfg.interfaces = vec![NameMatcher::Exact(pair.veth_a.clone())];
    cfg.tc_attach_mode = AttachMode::Tc;
    let agent = Agent::start(cfg).await.expect("agent starts");
    assert_eq!(wait_attached(&agent, &pair.veth_a).await, AttachKind::Tc);
    let filters = tc_filters(&pair, &pair.veth_a);
    assert!(filters.contains("tc_ingress_flow_parse"), "{filters}");
    assert!(filters.contains("tc_egress_flow_parse"), "{filters}");
    ns_run(&pair.ns_a, &["ping", "-c", "2", "-i", "0.01", pair.ip_b]);
    agent.shutdown().await.unwrap();
    let filters = tc_filters(&pair, &pair.veth_a);
    assert!(!filters.contains("flow_parse"), "filters left: {filters}");
    assert!(collector.len() > 0, "flows exported on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_keeps_about_one_packet_in_n() {
    require_root();
    const N: u32 = 10;
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = config(&pair, collector.port);
    cfg.interfaces = vec![NameMatcher::Exact(pair.veth_a.clone())];
    cfg.sampling = N;
    let agent = Agent::start(cfg).await.expect("agent starts");
    wait_attached(&agent, &pair.veth_a).await;
    let nft = NftCounters::new(&pair.ns_a);
    nft.add(
        "req",
        "post",
        &format!(
            "oifname \"{}\" ip daddr {} icmp type echo-request",
            pair.veth_a, pair.ip_b
        ),
    );
    ns_run(
        &pair.ns_a,
        &["ping", "-f", "-c", "4000", "-s", "16", pair.ip_b],
    );
    let metrics = agent.metrics();
    agent.shutdown().await.unwrap();
    let (sent, _) = nft.get("req");
    assert_eq!(sent, 4000);
    let records = collector.snapshot();
    let kept: u64 = records
        .iter()
        .filter(|r| r.icmp_type == 8 && r.transport.as_ref().unwrap().protocol == 1)
        .map(|r| {
            assert_eq!(r.sampling, N);
            r.packets
        })
        .sum();
    // Binomial(4000, 1/10): mean 400, sd 19; accept ±5 sd.
    let (mean, bound) = (f64::from(4000 / N), 5.0 * (4000.0f64 * 0.1 * 0.9).sqrt());
    assert!(
        (kept as f64 - mean).abs() <= bound,
        "kept {kept} of {sent} packets, expected {mean}±{bound:.0}"
    );
    assert!(metrics.sampled_out_packets.get() > 0);
}

/// FlowRTT picks its attach method at run time: fentry first, `tp_btf/tcp_probe` when the
/// kernel refuses fentry (this machine's lockdown returns EPERM). The agent starts anyway,
/// reports why fentry is off, and a TCP transfer still carries an RTT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtt_falls_back_to_tp_btf_when_fentry_is_refused() {
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = config(&pair, collector.port);
    cfg.interfaces = vec![NameMatcher::Exact(pair.veth_a.clone())];
    cfg.enable_rtt = true;
    let agent = Agent::start(cfg)
        .await
        .expect("agent starts despite fentry failing");
    wait_attached(&agent, &pair.veth_a).await;

    let status = agent.metrics().status();
    let rtt = status.hooks.iter().find(|h| h.hook == "FlowRTT").unwrap();
    assert!(rtt.active, "{rtt:?}");
    assert_eq!(rtt.mode.as_deref(), Some("tp_btf"), "{rtt:?}");
    assert_eq!(rtt.method.as_deref(), Some("tp_btf/tcp_probe"), "{rtt:?}");
    let fentry = rtt
        .methods_off
        .iter()
        .find(|m| m.method == "fentry/tcp_rcv_established")
        .unwrap_or_else(|| panic!("fentry not reported: {rtt:?}"));
    assert!(
        fentry.reason.contains("BPF_PROG_LOAD") && fentry.reason.contains("os error"),
        "the reason carries the load error: {fentry:?}"
    );
    assert!(
        rtt.reason
            .as_deref()
            .unwrap_or_default()
            .contains("BPF_PROG_LOAD"),
        "{rtt:?}"
    );
    let addr = agent.metrics_addr().expect("metrics server");
    let json = http_get(addr, "/status");
    assert!(
        json.contains("\"hook\":\"FlowRTT\",\"active\":true,\"mode\":\"tp_btf\""),
        "{json}"
    );
    let text = http_get(addr, "/metrics");
    assert!(
        text.contains("ebpf_agent_hook_active{hook=\"FlowRTT\",mode=\"tp_btf\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ebpf_agent_hook_active{hook=\"FlowRTT\",mode=\"fentry\"} 0"),
        "{text}"
    );
    assert!(
        text.contains(
            "ebpf_agent_hook_method_off{hook=\"FlowRTT\",method=\"fentry/tcp_rcv_established\""
        ),
        "{text}"
    );

    // TCP: 200 kB through nc.
    assert!(
        nc_tcp_transfer(&pair, "head -c 200000 /dev/zero", pair.ip_b, 5211, 5211),
        "TCP client failed"
    );
    agent.shutdown().await.expect("clean shutdown");

    let records = collector.snapshot();
    let rtt = records
        .iter()
        .filter(|r| {
            let t = r.transport.as_ref().unwrap();
            t.protocol == 6 && (t.src_port == 5211 || t.dst_port == 5211)
        })
        .filter_map(|r| r.time_flow_rtt.as_ref())
        .map(|d| d.seconds as u64 * 1_000_000_000 + d.nanos as u64)
        .max()
        .unwrap_or(0);
    assert!(rtt > 0, "TimeFlowRttNs is 0 with the tp_btf fallback");
    assert!(rtt < 1_000_000_000, "RTT on a veth below 1 s: {rtt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nft_drop_yields_packet_drop_fields() {
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = config(&pair, collector.port);
    cfg.interfaces = vec![NameMatcher::Exact(pair.veth_a.clone())];
    cfg.enable_pkt_drops = true;
    let agent = Agent::start(cfg).await.expect("agent starts");
    wait_attached(&agent, &pair.veth_a).await;
    // Namespace b drops TCP to port 5301 on input, counting what it drops.
    nft(
        &pair.ns_b,
        "table inet dropper {\n counter dropped {}\n\
         chain input { type filter hook input priority 0; policy accept;\n\
         tcp dport 5301 counter name dropped drop\n }\n}\n",
    );
    let cmd = format!(
        "ip netns exec {} nc -z -w 2 {} 5301 || true",
        pair.ns_a, pair.ip_b
    );
    run(&["sh", "-c", &cmd]);
    let status = agent.metrics().status();
    agent.shutdown().await.unwrap();
    let hook = status
        .hooks
        .iter()
        .find(|h| h.hook == "PacketDrop")
        .unwrap();
    assert!(hook.active, "{hook:?}");

    let out = ns_run(
        &pair.ns_b,
        &["nft", "list", "counter", "inet", "dropper", "dropped"],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let nft_dropped: u64 = text
        .split("packets ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("nft counter");
    assert!(nft_dropped >= 1, "{text}");

    let records = collector.snapshot();
    let to_port: Vec<_> = records
        .iter()
        .filter(|r| r.transport.as_ref().unwrap().dst_port == 5301)
        .collect();
    let dropped: u64 = to_port.iter().map(|r| r.pkt_drop_packets).sum();
    assert_eq!(dropped, nft_dropped, "drop hook vs nft drop counter");
    let r = to_port
        .iter()
        .find(|r| r.pkt_drop_packets > 0)
        .expect("a record with drops");
    assert!(r.pkt_drop_bytes > 0);
    assert!(
        r.pkt_drop_latest_drop_cause > 2,
        "a real drop reason (not NOT_SPECIFIED): {}",
        r.pkt_drop_latest_drop_cause
    );
    assert_eq!(
        r.pkt_drop_latest_flags, 0x02,
        "the dropped segments are SYNs"
    );
    // The same flow was also counted on the sender's veth.
    assert!(to_port.iter().map(|r| r.packets).sum::<u64>() >= dropped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_query_and_response_yield_dns_fields() {
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = config(&pair, collector.port);
    cfg.interfaces = vec![NameMatcher::Exact(pair.veth_a.clone())];
    cfg.enable_dns_tracking = true;
    let agent = Agent::start(cfg).await.expect("agent starts");
    wait_attached(&agent, &pair.veth_a).await;

    // A one-shot resolver in namespace b answering NXDOMAIN after 20 ms.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let path_b = std::path::PathBuf::from(format!("/run/netns/{}", pair.ns_b));
    let ip_b = pair.ip_b.to_string();
    let server = std::thread::spawn(move || {
        in_netns(Some(&path_b), || {
            let sock = std::net::UdpSocket::bind((ip_b.as_str(), 53)).unwrap();
            ready_tx.send(()).unwrap();
            let mut buf = [0u8; 512];
            let (n, peer) = sock.recv_from(&mut buf).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            let mut resp = buf[..n].to_vec();
            resp[2] = 0x81; // QR + RD
            resp[3] = 0x83; // RA + NXDOMAIN
            sock.send_to(&resp, peer).unwrap();
        })
        .unwrap();
    });
    ready_rx.recv().unwrap();
    let ip_b = pair.ip_b.to_string();
    let answer = in_netns(Some(&pair.path_a()), || {
        let sock = std::net::UdpSocket::bind(("0.0.0.0", 40053)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x07example\x04test\x00\x00\x01\x00\x01");
        sock.send_to(&q, (ip_b.as_str(), 53)).unwrap();
        let mut buf = [0u8; 512];
        sock.recv(&mut buf).unwrap()
    })
    .unwrap();
    assert!(answer > 12);
    server.join().unwrap();
    let status = http_get(agent.metrics_addr().expect("metrics server"), "/status");
    assert!(
        status.contains("\"hook\":\"DNSTracking\",\"active\":true,\"mode\":\"tcx\""),
        "{status}"
    );
    agent.shutdown().await.unwrap();

    let records = collector.snapshot();
    let resp = records
        .iter()
        .find(|r| {
            let t = r.transport.as_ref().unwrap();
            t.protocol == 17 && t.src_port == 53 && t.dst_port == 40053 && r.dns_id != 0
        })
        .unwrap_or_else(|| panic!("no DNS response record in {records:#?}"));
    assert_eq!(resp.dns_id, 0x1234);
    assert_eq!(resp.dns_flags, 0x8183, "flags with response code NXDOMAIN");
    assert_eq!(resp.dns_flags & 0x000f, 3);
    assert_eq!(resp.dns_errno, 0);
    assert_eq!(resp.dns_name, "example.test");
    let lat = resp.dns_latency.as_ref().expect("DnsLatencyMs");
    let ns = lat.seconds as u64 * 1_000_000_000 + lat.nanos as u64;
    assert!(
        (15_000_000..2_000_000_000).contains(&ns),
        "latency {ns} ns for a 20 ms resolver"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_over_tcp_yields_dns_fields() {
    use std::io::{Read, Write};
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = config(&pair, collector.port);
    cfg.interfaces = vec![NameMatcher::Exact(pair.veth_a.clone())];
    cfg.enable_dns_tracking = true;
    let agent = Agent::start(cfg).await.expect("agent starts");
    wait_attached(&agent, &pair.veth_a).await;

    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let path_b = std::path::PathBuf::from(format!("/run/netns/{}", pair.ns_b));
    let ip_b = pair.ip_b.to_string();
    let server = std::thread::spawn(move || {
        in_netns(Some(&path_b), || {
            let l = std::net::TcpListener::bind((ip_b.as_str(), 53)).unwrap();
            ready_tx.send(()).unwrap();
            let (mut s, _) = l.accept().unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).unwrap();
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut q).unwrap();
            q[2] = 0x81; // QR + RD
            q[3] = 0x80; // RA, NOERROR
            let mut resp = (q.len() as u16).to_be_bytes().to_vec();
            resp.extend_from_slice(&q);
            s.write_all(&resp).unwrap();
        })
        .unwrap();
    });
    ready_rx.recv().unwrap();
    let ip_b = pair.ip_b.to_string();
    in_netns(Some(&pair.path_a()), || {
        let mut s = std::net::TcpStream::connect((ip_b.as_str(), 53)).unwrap();
        let mut q = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x03tcp\x07example\x00\x00\x01\x00\x01");
        let mut msg = (q.len() as u16).to_be_bytes().to_vec();
        msg.extend_from_slice(&q);
        s.write_all(&msg).unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 14);
    })
    .unwrap();
    server.join().unwrap();
    agent.shutdown().await.unwrap();

    let records = collector.snapshot();
    let resp = records
        .iter()
        .find(|r| {
            let t = r.transport.as_ref().unwrap();
            t.protocol == 6 && t.src_port == 53 && r.dns_id != 0
        })
        .unwrap_or_else(|| panic!("no DNS-over-TCP response record in {records:#?}"));
    assert_eq!(resp.dns_id, 0xbeef);
    assert_eq!(resp.dns_flags, 0x8180);
    assert_eq!(resp.dns_name, "tcp.example");
    assert!(resp.dns_latency.is_some(), "latency from the matched query");
}
