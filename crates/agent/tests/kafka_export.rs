//! `EXPORT=kafka` against a real Kafka-protocol broker (tansu on loopback): the agent binary
//! watches one end of a veth pair in network namespaces and produces each flow as a
//! `pbflow.Record` message; the test reads the topic back on its own.
//!
//! The traffic is one UDP datagram per source port (so one packet is one flow), dropped
//! silently by the peer (no replies, no other flows). The broker is frozen (SIGSTOP) for 30 s
//! while datagrams keep coming: every datagram nftables counted must either be on the topic or
//! counted by the agent as dropped (`ebpf_agent_dropped_flows_total`), the agent must not crash,
//! and it must deliver again once the broker is back. The same 100 datagrams reach the topic
//! over TLS with a client certificate (`KAFKA_TLS_*`) and signed in with SASL/SCRAM-SHA-512
//! (`KAFKA_SASL_*`) against brokers requiring them. Root only; fails (does not skip)
//! otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_test_kafka::Broker;
use prost::Message;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

const TOPIC: &str = "network-flows";
const UDP_PORT: u16 = 9;

fn start_agent(pair: &NetPair, broker: &Broker, metrics_port: u16, log: &Path) -> Child {
    let mut agent = agent_command(pair, metrics_port, log);
    agent
        .env("EXPORT", "kafka")
        .env("KAFKA_BROKERS", &broker.address)
        .env("KAFKA_TOPIC", TOPIC);
    if let Some(tls) = &broker.tls {
        // What the operator renders for `spec.kafka.tls` with a user certificate.
        agent
            .env("KAFKA_ENABLE_TLS", "true")
            .env("KAFKA_TLS_CA_CERT_PATH", &tls.ca)
            .env("KAFKA_TLS_USER_CERT_PATH", &tls.client_cert)
            .env("KAFKA_TLS_USER_KEY_PATH", &tls.client_key);
    }
    if let Some((user, password)) = &broker.scram {
        // What the operator renders for `spec.kafka.sasl` (the Secret's files).
        let id = log.with_extension("sasl-id");
        let secret = log.with_extension("sasl-secret");
        std::fs::write(&id, user).unwrap();
        std::fs::write(&secret, password).unwrap();
        agent
            .env("KAFKA_ENABLE_SASL", "true")
            .env("KAFKA_SASL_TYPE", "scramSHA512")
            .env("KAFKA_SASL_CLIENT_ID_PATH", id)
            .env("KAFKA_SASL_CLIENT_SECRET_PATH", secret);
    }
    let mut child = agent.spawn().expect("spawn the agent binary");
    wait_attached(&mut child, pair, log);
    child
}

/// UDP flows A→B on the topic, by source port (how many messages each), once the topic has
/// been quiet for 5 s.
fn udp_flows_on_topic(
    runtime: &tokio::runtime::Runtime,
    broker: &Broker,
    a: &str,
) -> BTreeMap<u32, u32> {
    let mut out = BTreeMap::new();
    for stored in runtime.block_on(broker.read_all(TOPIC, 2, usize::MAX)) {
        let record = pbflow::Record::decode(stored.value.as_slice()).expect("pbflow message");
        let transport = record.transport.unwrap_or_default();
        let src = record
            .network
            .as_ref()
            .and_then(|n| n.src_addr.as_ref())
            .and_then(|ip| ip.to_addr());
        if transport.protocol == 17
            && transport.dst_port == u32::from(UDP_PORT)
            && src.is_some_and(|ip| ip.to_string() == a)
        {
            *out.entry(transport.src_port).or_default() += 1;
        }
    }
    out
}

/// `ebpf_agent_dropped_flows_total`, summed over reasons.
fn dropped_flows(metrics: std::net::SocketAddr) -> u64 {
    http_get(metrics, "/metrics")
        .lines()
        .filter(|l| l.starts_with("ebpf_agent_dropped_flows_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[test]
fn flows_reach_the_topic_and_a_frozen_broker_loses_none_uncounted() {
    require_root();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = Broker::start();
    runtime.block_on(broker.create_topic(TOPIC, 2));
    let pair = NetPair::new();
    pair.disable_ipv6();
    // B drops the datagrams without answering: A→B UDP is the only traffic.
    nft(
        &pair.ns_b,
        "table inet quiet { chain in { type filter hook input priority 0; udp dport 9 drop; }; }",
    );
    let nft_a = NftCounters::new(&pair.ns_a);
    let (a, b) = (pair.ip_a, pair.ip_b);
    nft_a.add(
        "udp_out",
        "post",
        &format!(
            "oifname \"{}\" ip saddr {a} ip daddr {b} udp dport {UDP_PORT}",
            pair.veth_a
        ),
    );
    let log =
        std::env::temp_dir().join(format!("netobserv-kafka-agent-{}.log", std::process::id()));
    let metrics_port = free_port();
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let mut agent = start_agent(&pair, &broker, metrics_port, &log);
    let agent_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // 1. The broker answers: every datagram is a message on the topic.
    let mut sender = udp_datagrams(&pair.ns_a, b, UDP_PORT, 20_000, 300, 200);
    assert!(sender.wait().unwrap().success());
    let sent = nft_a.get("udp_out").0;
    assert_eq!(sent, 300, "nftables counted the datagrams");
    let flows = udp_flows_on_topic(&runtime, &broker, a);
    assert_eq!(
        flows.len(),
        300,
        "every datagram is a flow on the topic:\n{}",
        agent_log()
    );
    assert!(flows.keys().all(|p| (20_000..20_300).contains(p)));
    assert_eq!(
        dropped_flows(metrics),
        0,
        "nothing dropped while the broker answers"
    );

    // 2. The broker freezes for 30 s while 100 datagrams a second keep coming.
    let mut sender = udp_datagrams(&pair.ns_a, b, UDP_PORT, 30_000, 3_400, 100);
    std::thread::sleep(Duration::from_secs(2));
    broker.pause();
    std::thread::sleep(Duration::from_secs(30));
    broker.resume();
    assert!(sender.wait().unwrap().success());
    assert!(
        agent.try_wait().unwrap().is_none(),
        "the agent crashed:\n{}",
        agent_log()
    );
    let total = nft_a.get("udp_out").0;
    let during = (total - sent) as u32;
    // Delivery resumes: wait until the agent's queue drained (the topic stops growing).
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut last = (0, Instant::now());
    let flows = loop {
        let flows = udp_flows_on_topic(&runtime, &broker, a);
        let on_topic = flows.len();
        if on_topic != last.0 {
            last = (on_topic, Instant::now());
        }
        let dropped = dropped_flows(metrics);
        if (on_topic + dropped as usize >= 300 + during as usize
            && last.1.elapsed() > Duration::from_secs(5))
            || Instant::now() > deadline
        {
            break flows;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    let arrived = flows
        .keys()
        .filter(|p| (30_000..30_000 + during).contains(p))
        .count() as u64;
    let duplicates: u32 = flows.values().map(|n| n - 1).sum();
    let missing = u64::from(during) - arrived;
    let dropped = dropped_flows(metrics);
    eprintln!(
        "broker frozen 30 s: {during} datagrams, {arrived} on the topic, {missing} missing, \
         {dropped} flows counted as dropped by the agent, {duplicates} duplicates"
    );
    // What is missing is counted; the count holds no more than the missing datagrams and the
    // few non-UDP flows (ARP) that shared their batches.
    assert!(
        dropped >= missing,
        "{missing} flows missing but {dropped} counted:\n{}",
        agent_log()
    );
    assert!(
        dropped <= missing + 5,
        "{dropped} counted for {missing} missing"
    );
    let text = http_get(metrics, "/metrics");
    assert!(
        missing == 0 || text.contains("reason=\"full\"") || text.contains("reason=\"send_failed\""),
        "the drops name their reason:\n{text}"
    );
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = agent.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "agent did not stop:\n{}",
            agent_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{}", agent_log());
    let _ = std::fs::remove_file(&log);
}

/// `EXPORT=kafka` over TLS with a client certificate (tansu behind the test crate's TLS front,
/// which requires one from the test CA): every datagram is a message on the topic, read back
/// over TLS.
#[test]
fn flows_reach_a_topic_over_tls_with_a_client_certificate() {
    require_root();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = Broker::start_behind_tls();
    hundred_datagrams_reach_the_topic(&runtime, &broker, "tls");
}

/// `EXPORT=kafka` signing in with SASL/SCRAM-SHA-512 (`KAFKA_ENABLE_SASL`, the credential
/// files) to a broker that requires it: every datagram is a message on the topic.
#[test]
fn flows_reach_a_topic_signed_in_with_scram() {
    require_root();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = runtime.block_on(Broker::start_with_scram("agent", "agent-secret"));
    hundred_datagrams_reach_the_topic(&runtime, &broker, "scram");
}

/// 100 UDP datagrams through the agent to `broker`'s topic: each a message, once.
fn hundred_datagrams_reach_the_topic(
    runtime: &tokio::runtime::Runtime,
    broker: &Broker,
    tag: &str,
) {
    runtime.block_on(broker.create_topic(TOPIC, 2));
    let pair = NetPair::new();
    pair.disable_ipv6();
    nft(
        &pair.ns_b,
        "table inet quiet { chain in { type filter hook input priority 0; udp dport 9 drop; }; }",
    );
    let log = std::env::temp_dir().join(format!(
        "netobserv-kafka-{tag}-agent-{}.log",
        std::process::id()
    ));
    let mut agent = start_agent(&pair, broker, free_port(), &log);
    let agent_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let mut sender = udp_datagrams(&pair.ns_a, pair.ip_b, UDP_PORT, 40_000, 100, 200);
    assert!(sender.wait().unwrap().success());
    let flows = udp_flows_on_topic(runtime, broker, pair.ip_a);
    assert_eq!(
        flows.keys().copied().collect::<Vec<_>>(),
        (40_000..40_100).collect::<Vec<u32>>(),
        "every datagram is a flow on the topic ({tag}):\n{}",
        agent_log()
    );
    assert!(flows.values().all(|n| *n == 1), "each once");
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = std::fs::remove_file(&log);
}
