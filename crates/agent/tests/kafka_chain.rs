//! The whole Kafka deployment model in one chain: the agent binary watches one end of a veth
//! pair in network namespaces (real eBPF, real traffic) and produces each flow to a topic on a
//! real Kafka-protocol broker (tansu on loopback); two pipeline processes consume it as one
//! consumer group and write JSON lines. One member is killed (SIGKILL) mid-stream and started
//! again: every datagram nftables counted must come out of the pipelines, duplicates stay
//! within a commit interval's worth, and the agent counts no drop.
//!
//! The pipeline members are this test binary run again with `NETOBSERV_TEST_MEMBER_CONFIG`
//! (see [`kafka_member_process`]): real processes running the pipeline library's `service::run`
//! exactly as the `netobserv-pipeline` binary does, without depending on another package's
//! binary being built. Root only; fails (does not skip) otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "../../pipeline/tests/support/kafka_member.rs"]
mod kafka_member;

use common::*;
use kafka_member::Member;
use netobserv_test_kafka::Broker;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const TOPIC: &str = "network-flows";
const UDP_PORT: u16 = 9;
/// Source addresses added to namespace A: the agent keys messages by conversation (the address
/// pair), so several sources spread the flows over the topic's partitions and both members.
const SOURCES: u8 = 16;
const DATAGRAMS: u32 = 4_000;
const RATE: u32 = 200;
const MEMBER_ENV: &str = "NETOBSERV_TEST_MEMBER_CONFIG";

/// Not a test on its own: the body of a pipeline group member when the chain test runs this
/// binary again with `NETOBSERV_TEST_MEMBER_CONFIG` set; returns at once otherwise.
#[test]
fn kafka_member_process() {
    let Ok(config) = std::env::var(MEMBER_ENV) else {
        return;
    };
    let args = netobserv_pipeline::cli::Args {
        config: Some(config),
        ..Default::default()
    };
    let ran = args.load_config().map_err(|e| e.to_string()).and_then(|c| {
        netobserv_logging::init(c.log_level.as_deref(), netobserv_logging::Format::Text);
        netobserv_pipeline::service::run(&args, c).map_err(|e| e.to_string())
    });
    if let Err(err) = &ran {
        eprintln!("member failed: {err}");
    }
    // Leave before the harness prints its verdict into the member's output.
    std::process::exit(i32::from(ran.is_err()));
}

fn start_member(dir: &Path, name: &str, broker: &Broker) -> Member {
    Member::start_with(
        |config| {
            let mut c = Command::new(std::env::current_exe().expect("test binary"));
            c.args(["--exact", "kafka_member_process", "--nocapture", "--quiet"])
                .env(MEMBER_ENV, config);
            c
        },
        dir,
        name,
        broker,
        TOPIC,
    )
}

fn source(i: u8) -> String {
    format!("10.199.0.{}", 100 + i)
}

/// Sends `count` datagrams from namespace A to B, cycling over the [`SOURCES`] addresses, each
/// from its own source port, `rate` per second, in the background.
fn datagrams(pair: &NetPair, count: u32, rate: u32) -> Child {
    let sources: Vec<String> = (0..SOURCES).map(|i| format!("'{}'", source(i))).collect();
    let script = format!(
        "import socket, time\n\
         srcs = [{}]\n\
         for i in range({count}):\n\
         \x20   s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         \x20   s.bind((srcs[i % len(srcs)], 20000 + i))\n\
         \x20   s.sendto(b'netobserv', ('{}', {UDP_PORT}))\n\
         \x20   s.close()\n\
         \x20   time.sleep(1.0 / {rate})\n",
        sources.join(", "),
        pair.ip_b
    );
    Command::new("ip")
        .args(["netns", "exec", &pair.ns_a, "python3", "-c", &script])
        .spawn()
        .expect("python3 sender")
}

/// How many times each datagram (source address, source port) appears in the members' output.
fn datagrams_seen(outputs: &[&Path]) -> BTreeMap<(String, u64), u32> {
    let mut seen = BTreeMap::new();
    for path in outputs {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue; // the harness's first line, or a line cut by the kill
            };
            let (Some(addr), Some(port)) = (v["SrcAddr"].as_str(), v["SrcPort"].as_u64()) else {
                continue;
            };
            if v["DstPort"].as_u64() == Some(u64::from(UDP_PORT)) && v["Proto"].as_u64() == Some(17)
            {
                *seen.entry((addr.to_string(), port)).or_default() += 1;
            }
        }
    }
    seen
}

fn expected_datagrams(count: u32) -> Vec<(String, u64)> {
    (0..count)
        .map(|i| {
            (
                source((i % u32::from(SOURCES)) as u8),
                u64::from(20_000 + i),
            )
        })
        .collect()
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netobserv-kafka-chain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn start_agent(pair: &NetPair, broker: &Broker, metrics_port: u16, log: &Path) -> Child {
    let mut child = agent_command(pair, metrics_port, log)
        .env("EXPORT", "kafka")
        .env("KAFKA_BROKERS", &broker.address)
        .env("KAFKA_TOPIC", TOPIC)
        .spawn()
        .expect("spawn the agent binary");
    wait_attached(&mut child, pair, log);
    child
}

/// Waits for `done`, failing with `what` and `context` after `within`.
fn wait_for(within: Duration, what: &str, context: impl Fn() -> String, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}:\n{}", context());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn agent_to_kafka_to_a_group_of_two_pipelines_loses_nothing_when_one_is_killed() {
    require_root();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let broker = Broker::start();
    runtime.block_on(broker.create_topic(TOPIC, 4));
    let pair = NetPair::new();
    pair.disable_ipv6();
    for i in 0..SOURCES {
        ns_run(
            &pair.ns_a,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", source(i)),
                "dev",
                &pair.veth_a,
            ],
        );
    }
    // B drops the datagrams without answering: A→B UDP is the only traffic.
    nft(
        &pair.ns_b,
        "table inet quiet { chain in { type filter hook input priority 0; udp dport 9 drop; }; }",
    );
    let nft_a = NftCounters::new(&pair.ns_a);
    nft_a.add(
        "udp_out",
        "post",
        &format!(
            "oifname \"{}\" ip daddr {} udp dport {UDP_PORT}",
            pair.veth_a, pair.ip_b
        ),
    );

    // Two members settle on two partitions each before any flow is produced.
    let dir = scratch();
    let mut a = start_member(&dir, "a", &broker);
    let b = start_member(&dir, "b", &broker);
    wait_for(
        Duration::from_secs(30),
        "the group did not settle",
        || format!("{}\n{}", a.log(), b.log()),
        || a.partitions(TOPIC) == 2 && b.partitions(TOPIC) == 2,
    );

    let log = dir.join("agent.log");
    let metrics_port = free_port();
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let mut agent = start_agent(&pair, &broker, metrics_port, &log);
    let agent_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // Mid-stream, once both members wrote flows, one is killed; it comes back after the
    // broker expired it (see the pipeline's kill test for why the restart waits for that).
    let mut sender = datagrams(&pair, DATAGRAMS, RATE);
    wait_for(
        Duration::from_secs(30),
        "a member consumed nothing",
        || format!("{}\n{}\n{}", a.log(), b.log(), agent_log()),
        || !datagrams_seen(&[&a.out]).is_empty() && !datagrams_seen(&[&b.out]).is_empty(),
    );
    let b_joins = b.joins();
    a.kill();
    wait_for(
        Duration::from_secs(30),
        "the killed member never expired",
        || b.log(),
        || b.joins() > b_joins,
    );
    let a2 = start_member(&dir, "a2", &broker);
    assert!(sender.wait().unwrap().success(), "python3 sender");
    let sent = nft_a.get("udp_out").0;
    assert_eq!(sent, u64::from(DATAGRAMS), "nftables counted the datagrams");

    let outputs = [a.out.as_path(), b.out.as_path(), a2.out.as_path()];
    let want = expected_datagrams(DATAGRAMS);
    let deadline = Instant::now() + Duration::from_secs(90);
    let seen = loop {
        let seen = datagrams_seen(&outputs);
        if want.iter().all(|d| seen.contains_key(d)) {
            break seen;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = want.iter().filter(|d| !seen.contains_key(*d)).collect();
            panic!(
                "{} of {DATAGRAMS} datagrams never came out of the pipelines, first {:?}\n\
                 agent:\n{}\nb:\n{}\na2:\n{}",
                missing.len(),
                &missing[..missing.len().min(10)],
                agent_log(),
                b.log(),
                a2.log()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(
        seen.len(),
        want.len(),
        "only the datagrams' flows: {seen:?}"
    );
    let duplicates: u32 = seen.values().map(|n| n - 1).sum();
    let dropped = http_get(metrics, "/metrics")
        .lines()
        .filter(|l| l.starts_with("ebpf_agent_dropped_flows_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64;
    eprintln!(
        "agent -> Kafka -> 2 pipelines, one killed and restarted: {DATAGRAMS} datagrams, \
         {} delivered, {duplicates} duplicates, {dropped} dropped by the agent",
        seen.len()
    );
    assert_eq!(dropped, 0, "the agent dropped flows:\n{}", agent_log());
    // One commit interval (500 ms) and the polls in flight: at 200 flows/s, well under 2 s.
    assert!(
        duplicates <= 2 * RATE,
        "{duplicates} duplicates, more than 2 s of traffic"
    );
    let b_log = b.stop();
    let a2_log = a2.stop();
    assert!(b_log.contains("flows ingested"), "{b_log}");
    assert!(a2_log.contains("flows ingested"), "{a2_log}");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) }, 0);
    let status = agent.wait().unwrap();
    assert!(status.success(), "{}", agent_log());
    let _ = std::fs::remove_dir_all(&dir);
}
