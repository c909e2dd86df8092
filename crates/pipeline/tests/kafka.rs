//! The Kafka ingest and encoder against a real Kafka-protocol broker (tansu, on loopback,
//! started per test by `netobserv-test-kafka`), with pipeline binaries as the group members.
//!
//! Each flow carries its id in `Bytes`; members write JSON lines to files (the stdout writer
//! flushes every batch, before the offsets of that batch may be committed), and the test reads
//! the files back: every id must be there, duplicates are counted. The topic is also read back
//! on its own, so a loss can be told apart: the broker never had it, or a member skipped it.
#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

mod common;
#[path = "support/kafka_member.rs"]
mod kafka_member;

use common::exporters::Run;
use kafka_member::{Member, free_port};
use netobserv_pipeline::record::Record;
use netobserv_test_kafka::Broker;
use prost::Message;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The pipeline binary the members run.
const PIPELINE: &str = env!("CARGO_BIN_EXE_netobserv-pipeline");

fn flow(id: u64) -> Vec<u8> {
    pbflow::Record {
        network: Some(pbflow::Network {
            src_addr: Some(pbflow::Ip::from_addr("10.0.0.1".parse().unwrap())),
            dst_addr: Some(pbflow::Ip::from_addr("10.0.0.2".parse().unwrap())),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 1000 + (id % 60000) as u32,
            dst_port: 80,
            protocol: 6,
        }),
        bytes: id,
        packets: 1,
        ..pbflow::Record::default()
    }
    .encode_to_vec()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netobserv-kafka-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

/// How many times each id appears in the members' outputs.
fn ids(outputs: &[&Path]) -> BTreeMap<u64, u32> {
    let mut seen = BTreeMap::new();
    for path in outputs {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                continue; // a line cut by a kill
            };
            if let Some(id) = value["Bytes"].as_u64() {
                *seen.entry(id).or_default() += 1;
            }
        }
    }
    seen
}

/// Waits until every id of `1..=total` appears in `outputs`; returns the counts.
fn wait_all(outputs: &[&Path], total: u64, within: Duration, what: &str) -> BTreeMap<u64, u32> {
    let deadline = Instant::now() + within;
    loop {
        let seen = ids(outputs);
        if (1..=total).all(|id| seen.contains_key(&id)) {
            return seen;
        }
        if Instant::now() > deadline {
            let missing: Vec<u64> = (1..=total).filter(|id| !seen.contains_key(id)).collect();
            panic!(
                "{what}: {} of {total} ids missing after {within:?}, first ones {:?}",
                missing.len(),
                &missing[..missing.len().min(20)]
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn produce_range(broker: &Broker, topic: &str, ids: std::ops::RangeInclusive<u64>) {
    let records = ids
        .map(|id| (Some(id.to_be_bytes().to_vec()), flow(id)))
        .collect();
    broker.produce(topic, records).await;
}

/// What the broker holds, per id (an independent read of the topic).
async fn stored_ids(
    broker: &Broker,
    topic: &str,
    partitions: i32,
    expected: usize,
) -> BTreeMap<u64, u32> {
    let mut out = BTreeMap::new();
    let stored = broker.read_all(topic, partitions, expected).await;
    // Offsets run without holes in every partition (the reader skipped nothing).
    let mut next = BTreeMap::new();
    for s in &stored {
        let expected_offset = next.entry(s.partition).or_insert(s.offset);
        assert_eq!(
            s.offset, *expected_offset,
            "reading back partition {} skipped offsets",
            s.partition
        );
        *expected_offset += 1;
    }
    for stored in stored {
        if let Ok(record) = pbflow::Record::decode(stored.value.as_slice()) {
            *out.entry(record.bytes).or_default() += 1;
        }
    }
    out
}

/// Two members share a 4-partition topic; one is killed (SIGKILL) mid-stream and restarted:
/// every flow arrives, and the duplicates (what the killed member had handled but not
/// committed) stay within a commit interval's worth.
#[test]
fn a_killed_group_member_loses_nothing() {
    const TOTAL: u64 = 10_000;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let broker = Broker::start();
    let topic = "flows-kill";
    runtime.block_on(broker.create_topic(topic, 4));
    let dir = scratch("kill");
    let mut a = Member::start(PIPELINE, &dir, "a", &broker, topic);
    let b = Member::start(PIPELINE, &dir, "b", &broker, topic);
    // The group settles first (two partitions each): a member joining after the flows were
    // produced could find its partitions already read by the other and have nothing to do.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(a.partitions(topic) == 2 && b.partitions(topic) == 2) {
        assert!(
            Instant::now() < deadline,
            "the group did not settle: {}\n{}",
            a.log(),
            b.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut b_joins_at_kill = 0;
    // Produce in steps (about 2,000 flows/s) so that the kill lands mid-stream.
    for step in 0..10u64 {
        runtime.block_on(produce_range(
            &broker,
            topic,
            step * 1000 + 1..=(step + 1) * 1000,
        ));
        std::thread::sleep(Duration::from_millis(500));
        if step == 4 {
            // Both members joined and took partitions (the rebalance takes a few seconds).
            let deadline = Instant::now() + Duration::from_secs(30);
            while ids(&[&a.out]).is_empty() || ids(&[&b.out]).is_empty() {
                assert!(
                    Instant::now() < deadline,
                    "a member consumed nothing: {}\n{}",
                    a.log(),
                    b.log()
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            b_joins_at_kill = b.joins();
            a.kill();
        }
    }
    // The restarted member joins once the broker expired the killed one (10 s session) and b
    // rejoined in that rebalance, as a restarted pod would. tansu 0.6 does not hand a
    // killed member's partitions to the others when it expires it (b keeps its own two), and a
    // member that joined before the expiry was given a stale assignment that left a partition
    // unread (both seen here: broker-side limits). A member joining after the expiry gets a
    // full rebalance, which is what this test needs to show: nothing the killed member had not
    // committed is lost.
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.joins() <= b_joins_at_kill {
        assert!(
            Instant::now() < deadline,
            "the killed member never expired: {}",
            b.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let a2 = Member::start(PIPELINE, &dir, "a2", &broker, topic);
    let stored = runtime.block_on(stored_ids(&broker, topic, 4, TOTAL as usize));
    assert_eq!(
        stored.len() as u64,
        TOTAL,
        "the broker holds every flow once"
    );
    let outputs = [a.out.as_path(), b.out.as_path(), a2.out.as_path()];
    let seen = wait_all(&outputs, TOTAL, Duration::from_secs(60), "after the kill");
    let duplicates: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!("{TOTAL} flows, {duplicates} duplicates after killing one of two members");
    // Up to one commit interval (500 ms, ~1,000 flows here) plus the polls in flight.
    assert!(duplicates <= 2_000, "{duplicates} duplicates");
    let b_log = b.stop();
    let a2_log = a2.stop();
    assert!(b_log.contains("flows ingested"), "{b_log}");
    assert!(a2_log.contains("flows ingested"), "{a2_log}");
}

/// A corrupt message is skipped, counted and logged with its partition and offset; then the
/// broker freezes for 30 s (SIGSTOP) and comes back: the member recovers and every flow
/// produced before and after arrives.
#[test]
fn a_corrupt_message_and_a_frozen_broker_lose_nothing() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let broker = Broker::start();
    let topic = "flows-freeze";
    runtime.block_on(broker.create_topic(topic, 1));
    let dir = scratch("freeze");
    let member = Member::start(PIPELINE, &dir, "m", &broker, topic);
    runtime.block_on(produce_range(&broker, topic, 1..=500));
    runtime.block_on(broker.produce(topic, vec![(None, b"\xff\xffnot a flow".to_vec())]));
    runtime.block_on(produce_range(&broker, topic, 501..=600));
    wait_all(
        &[&member.out],
        600,
        Duration::from_secs(30),
        "before the freeze",
    );
    broker.pause();
    std::thread::sleep(Duration::from_secs(30));
    broker.resume();
    runtime.block_on(produce_range(&broker, topic, 601..=1100));
    let stored = runtime.block_on(stored_ids(&broker, topic, 1, 1101));
    assert_eq!(stored.len(), 1100, "the broker holds every flow");
    let seen = wait_all(
        &[&member.out],
        1100,
        Duration::from_secs(60),
        "after the freeze",
    );
    assert_eq!(
        seen.values().filter(|n| **n > 1).count(),
        0,
        "no duplicates"
    );
    let log = member.stop();
    assert!(
        log.contains("does not decode")
            && log.contains("partition=0")
            && log.contains("offset=500"),
        "the corrupt message is logged with its place:\n{log}"
    );
    assert!(log.contains("1100 flows ingested"), "{log}");
}

/// JSON messages (what the `kafka` encoder and other producers write) ingested with the `json`
/// decoder: every record arrives once, a message that is not JSON is counted and logged with its
/// place.
#[test]
fn json_messages_are_ingested_and_a_bad_one_is_skipped() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let broker = Broker::start();
    let topic = "flows-json";
    runtime.block_on(broker.create_topic(topic, 1));
    let message = |id: u64| {
        format!("{{\"SrcAddr\":\"10.0.0.1\",\"DstAddr\":\"10.0.0.2\",\"Proto\":6,\"Bytes\":{id}}}")
            .into_bytes()
    };
    let mut records: Vec<_> = (1..=200).map(|id| (None, message(id))).collect();
    records.push((None, b"{not json".to_vec()));
    records.extend((201..=400).map(|id| (None, message(id))));
    runtime.block_on(broker.produce(topic, records));
    let dir = scratch("json");
    let member = Member::start_json(PIPELINE, &dir, "json", &broker, topic);
    let seen = wait_all(&[&member.out], 400, Duration::from_secs(60), "JSON topic");
    assert!(seen.values().all(|n| *n == 1), "each record once");
    let out = std::fs::read_to_string(&member.out).expect("output");
    let first: serde_json::Value = out
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect("a JSON line");
    assert_eq!(
        (first["SrcAddr"].as_str(), first["Proto"].as_u64()),
        (Some("10.0.0.1"), Some(6))
    );
    let log = member.stop();
    assert!(
        log.contains("does not decode") && log.contains("offset=200"),
        "the bad message is logged with its place:\n{log}"
    );
    assert!(log.contains("400 flows ingested"), "{log}");
}

/// Kafka over TLS with client certificates (tansu behind the test crate's TLS front): a member
/// trusting the broker's CA and presenting its certificate reads every flow; one trusting
/// another CA refuses the broker, reads nothing, says so in its log, and does not crash.
#[test]
fn tls_members_verify_the_broker_and_present_their_certificate() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let broker = Broker::start_behind_tls();
    let topic = "flows-tls";
    runtime.block_on(broker.create_topic(topic, 1));
    runtime.block_on(produce_range(&broker, topic, 1..=300));
    let files = broker.tls.clone().expect("TLS files");
    let dir = scratch("tls");
    let good = Member::start_tls(PIPELINE, &dir, "good", &broker, topic, &files.ca);
    let seen = wait_all(&[&good.out], 300, Duration::from_secs(60), "over TLS");
    assert!(seen.values().all(|n| *n == 1), "each flow once");
    let wary = Member::start_tls(PIPELINE, &dir, "wary", &broker, topic, &files.other_ca);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !wary.log().to_ascii_lowercase().contains("certificate") {
        assert!(
            Instant::now() < deadline,
            "no certificate error logged: {}",
            wary.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        ids(&[&wary.out]).is_empty(),
        "a member that refused the broker read flows"
    );
    eprintln!(
        "the wary member says: {}",
        wary.log()
            .lines()
            .find(|l| l.to_ascii_lowercase().contains("certificate"))
            .unwrap_or_default()
    );
    wary.stop();
    let log = good.stop();
    assert!(log.contains("300 flows ingested"), "{log}");
}

/// SASL/SCRAM-SHA-512 against a broker that requires it (tansu checks SCRAM passwords against
/// the credentials it stores): a member signing in with the right password reads every flow;
/// one with a wrong password reads none, says why in its log, and does not crash.
#[test]
fn scram_members_sign_in_and_a_wrong_password_is_refused() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let broker = runtime.block_on(Broker::start_with_scram("flp", "flp-secret"));
    let topic = "flows-scram";
    runtime.block_on(broker.create_topic(topic, 1));
    runtime.block_on(produce_range(&broker, topic, 1..=300));
    let dir = scratch("scram");
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("credential file");
        path.display().to_string()
    };
    let user = file("user", "flp\n");
    let sasl = |secret: String| {
        format!(", sasl: {{type: scramSHA512, clientIDPath: {user}, clientSecretPath: {secret}}}")
    };
    let good = Member::start_extra(
        PIPELINE,
        &dir,
        "good",
        &broker,
        topic,
        &sasl(file("secret", "flp-secret\n")),
    );
    let seen = wait_all(&[&good.out], 300, Duration::from_secs(60), "signed in");
    assert!(seen.values().all(|n| *n == 1), "each flow once");
    let bad = Member::start_extra(
        PIPELINE,
        &dir,
        "bad",
        &broker,
        topic,
        &sasl(file("wrong", "not-the-password\n")),
    );
    let refused = |log: &str| {
        let l = log.to_ascii_lowercase();
        l.contains("auth") || l.contains("sasl")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !refused(&bad.log()) {
        assert!(
            Instant::now() < deadline,
            "no authentication error logged: {}",
            bad.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(ids(&[&bad.out]).is_empty(), "a refused member read flows");
    eprintln!(
        "the refused member says: {}",
        bad.log().lines().find(|l| refused(l)).unwrap_or_default()
    );
    bad.stop();
    let log = good.stop();
    assert!(log.contains("300 flows ingested"), "{log}");
}

/// The `kafka` encoder writes each record as one JSON message; with no broker, what it could
/// not send is counted as dropped by exporters in the summary.
#[test]
fn the_encoder_writes_json_records_and_counts_what_it_cannot_send() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let broker = Broker::start();
    runtime.block_on(broker.create_topic("exported", 1));
    let flows: Vec<Record> = (1..=300)
        .map(|i| {
            Record::from_json(&format!(
                "{{\"SrcAddr\":\"10.0.0.1\",\"DstAddr\":\"10.0.0.2\",\"Bytes\":{i}}}"
            ))
            .expect("record")
        })
        .collect();
    // The pipeline binary with these flows on stdin, encoding to `address`.
    let run = |address: &str| {
        let config = serde_json::json!({
            "metricsSettings": {"port": free_port()},
            "pipeline": [{"name": "in"}, {"name": "out", "follows": "in"}],
            "parameters": [
                {"name": "in", "ingest": {"type": "stdin"}},
                {"name": "out", "encode": {"type": "kafka", "kafka": {"address": address, "topic": "exported"}}}
            ]
        });
        Run::start(&config, &flows, "kafka-encode").finish()
    };
    let log = run(&broker.address);
    assert!(
        log.contains("300 exported, 0 dropped by exporters"),
        "{log}"
    );
    let stored = runtime.block_on(broker.read_all("exported", 1, 300));
    let mut got: Vec<u64> = stored
        .iter()
        .map(|s| {
            let v: serde_json::Value = serde_json::from_slice(&s.value).expect("JSON message");
            assert_eq!(v["SrcAddr"], "10.0.0.1");
            v["Bytes"].as_u64().expect("Bytes")
        })
        .collect();
    got.sort_unstable();
    assert_eq!(got, (1..=300).collect::<Vec<u64>>());
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = closed.local_addr().expect("addr").to_string();
    drop(closed);
    let log = run(&address);
    assert!(
        log.contains("0 exported, 300 dropped by exporters"),
        "{log}"
    );
}
