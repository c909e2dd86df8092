//! Conversation tracking (`extract` type `conntrack`): real flow records through the real
//! stage, with the clock driven by the test (`extract_at` / `tick_at`), never by sleeps.
//!
//! The configuration is the one the operator renders (key src/dst/common, Bytes and Packets
//! summed and split A/B, numFlowLogs, first/min/max fields, TCP flags), with the timeouts each
//! test needs.

mod common;
use common::*;
use netobserv_pipeline::config::{Config, ConntrackConfig};
use netobserv_pipeline::extract::conntrack::{Conntrack, ConntrackMetrics, EndReason};
use netobserv_pipeline::record::{Record, Value};
use netobserv_pipeline::runtime::Pipeline;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The operator's conntrack parameters (all four record types), with `extra` appended.
fn config(types: &str, extra: &str) -> ConntrackConfig {
    let yaml = format!(
        r#"
keyDefinition:
  fieldGroups:
    - {{name: src, fields: [SrcAddr, SrcPort]}}
    - {{name: dst, fields: [DstAddr, DstPort]}}
    - {{name: common, fields: [Proto]}}
  hash: {{fieldGroupRefs: [common], fieldGroupARef: src, fieldGroupBRef: dst}}
outputRecordTypes: [{types}]
outputFields:
  - {{name: Bytes, operation: sum, splitAB: true}}
  - {{name: Packets, operation: sum, splitAB: true}}
  - {{name: numFlowLogs, operation: count}}
  - {{name: TimeFlowStartMs, operation: min, input: TimeFlowStartMs}}
  - {{name: TimeFlowEndMs, operation: max, input: TimeFlowEndMs, reportMissing: true}}
  - {{name: FlowDirection, operation: first, input: FlowDirection}}
  - {{name: AgentIP, operation: first, input: AgentIP}}
tcpFlags: {{fieldName: Flags, detectEndConnection: true, swapAB: true}}
{extra}
"#
    );
    serde_yaml::from_str(&yaml).expect("conntrack parameters parse")
}

const ALL: &str = "newConnection, heartbeat, endConnection, flowLog";
const DEFAULT_SCHEDULING: &str = "scheduling: [{selector: {}, endConnectionTimeout: 10s, \
                                  terminatingTimeout: 5s, heartbeatInterval: 30s}]";

fn stage(types: &str, extra: &str) -> Conntrack {
    Conntrack::new(&config(types, extra), Arc::new(ConntrackMetrics::default())).expect("builds")
}

/// A flow between two endpoints at `t_ms` (flow time).
fn flow(
    src: (&str, u16),
    dst: (&str, u16),
    proto: u8,
    bytes: u64,
    flags: u64,
    t_ms: u64,
) -> Record {
    let mut r = Record::from_json(&format!(
        r#"{{"SrcAddr":"{}","SrcPort":{},"DstAddr":"{}","DstPort":{},"Proto":{proto},"Bytes":{bytes},
            "Packets":{},"TimeFlowStartMs":{t_ms},"TimeFlowEndMs":{},"FlowDirection":1,"AgentIP":"10.0.0.9"}}"#,
        src.0,
        src.1,
        dst.0,
        dst.1,
        bytes.div_ceil(100),
        t_ms + 5
    ))
    .expect("json");
    if flags != 0 {
        r.insert("Flags", flags);
    }
    r
}

const CLIENT: (&str, u16) = ("10.1.0.5", 43210);
const SERVER: (&str, u16) = ("10.2.0.7", 443);

fn kind(r: &Record) -> &str {
    r.get("_RecordType").and_then(Value::as_str).unwrap_or("")
}

fn num(r: &Record, field: &str) -> i64 {
    r.get(field)
        .and_then(Value::as_i64)
        .unwrap_or_else(|| panic!("{field} missing in {}", r.to_json()))
}

fn text(r: &Record, field: &str) -> String {
    r.get(field).map(Value::to_text).unwrap_or_default()
}

fn kinds(records: &[Record]) -> Vec<&str> {
    records.iter().map(kind).collect()
}

#[test]
fn a_tcp_connection_opens_beats_and_ends_on_fin() {
    let mut ct = stage(ALL, DEFAULT_SCHEDULING);
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let mut seen = Vec::new();
    // SYN, then data both ways every 5 s (so the 10 s inactivity never ends it), FIN at 36 s.
    let out = ct.extract_at(&[flow(CLIENT, SERVER, 6, 60, 0x02, 1_000)], at(0));
    assert_eq!(kinds(&out), ["newConnection", "flowLog"]);
    seen.extend(out);
    for s in (5..=35).step_by(5) {
        let batch = [
            flow(CLIENT, SERVER, 6, 1_000, 0x10, 1_000 + s * 1000),
            flow(SERVER, CLIENT, 6, 5_000, 0x10, 1_000 + s * 1000),
        ];
        let out = ct.extract_at(&batch, at(s));
        let expect: &[&str] = if s == 30 {
            &["flowLog", "flowLog", "heartbeat"]
        } else {
            &["flowLog", "flowLog"]
        };
        assert_eq!(kinds(&out), expect, "at {s}s");
        seen.extend(out);
    }
    let fin = ct.extract_at(&[flow(SERVER, CLIENT, 6, 40, 0x11, 37_000)], at(36));
    assert_eq!(kinds(&fin), ["flowLog"]);
    seen.extend(fin);
    // Terminating: 5 s after the FIN, not the 10 s of inactivity.
    assert!(ct.tick_at(at(40)).is_empty());
    let end = ct.tick_at(at(41));
    assert_eq!(kinds(&end), ["endConnection"]);
    seen.extend(end);
    assert_eq!(ct.connections(), 0);

    let records: Vec<&Record> = seen.iter().filter(|r| kind(r) != "flowLog").collect();
    let hash = text(records[0], "_HashId");
    assert_eq!(hash.len(), 16);
    assert!(
        seen.iter().all(|r| text(r, "_HashId") == hash),
        "both directions share the connection's hash"
    );
    let firsts: Vec<bool> = records
        .iter()
        .map(|r| r.get("_IsFirst") == Some(&Value::Bool(true)))
        .collect();
    assert_eq!(firsts, [true, false, false]);
    let end = records[2];
    assert_eq!(text(end, "SrcAddr"), CLIENT.0);
    assert_eq!(num(end, "SrcPort"), i64::from(CLIENT.1));
    assert_eq!(text(end, "DstAddr"), SERVER.0);
    assert_eq!(num(end, "Proto"), 6);
    assert_eq!(num(end, "Bytes_AB"), 60 + 7 * 1_000);
    assert_eq!(num(end, "Bytes_BA"), 7 * 5_000 + 40);
    assert_eq!(num(end, "Packets_AB"), 1 + 7 * 10);
    assert_eq!(num(end, "Packets_BA"), 7 * 50 + 1);
    assert_eq!(num(end, "numFlowLogs"), 16);
    assert_eq!(num(end, "TimeFlowStartMs"), 1_000);
    assert_eq!(num(end, "TimeFlowEndMs"), 37_005);
    assert_eq!(text(end, "AgentIP"), "10.0.0.9");
    assert!(end.get("Bytes").is_none(), "split fields only have _AB/_BA");
    // The heartbeat at 30 s had the totals of then.
    assert_eq!(num(records[1], "Bytes_AB"), 60 + 6 * 1_000);

    let m = ct.metrics().snapshot();
    assert_eq!(m.input, [0, 0, 0, 1], "one newConnection");
    assert_eq!(m.output, [1, 1, 1, 16]);
    assert_eq!(m.tcp_flags, [1, 0], "one FIN detected, no swap");
    assert_eq!(ct.metrics().ended(EndReason::FinFlag), 1);
    assert_eq!(ct.metrics().connections(), 0);
}

#[test]
fn a_first_flow_answering_a_syn_swaps_the_endpoints() {
    for flags in [0x100_u64, 0x12] {
        let mut ct = stage("newConnection, endConnection", DEFAULT_SCHEDULING);
        let t0 = Instant::now();
        let out = ct.extract_at(&[flow(SERVER, CLIENT, 6, 70, flags, 1)], t0);
        assert_eq!(kinds(&out), ["newConnection"]);
        assert_eq!(text(&out[0], "SrcAddr"), CLIENT.0, "flags {flags:#x}");
        assert_eq!(num(&out[0], "DstPort"), 443);
        assert_eq!(
            (num(&out[0], "Bytes_AB"), num(&out[0], "Bytes_BA")),
            (0, 70)
        );
        ct.extract_at(&[flow(CLIENT, SERVER, 6, 10, 0x10, 2)], t0);
        let end = ct.tick_at(t0 + Duration::from_secs(11));
        assert_eq!(
            (num(&end[0], "Bytes_AB"), num(&end[0], "Bytes_BA")),
            (10, 70)
        );
        assert_eq!(ct.metrics().snapshot().tcp_flags, [0, 1]);
    }
}

#[test]
fn udp_exchange_ends_by_its_groups_inactivity_timeout() {
    let scheduling = "scheduling:
  - {selector: {Proto: 17}, endConnectionTimeout: 3s, heartbeatInterval: 30s}
  - {selector: {}, endConnectionTimeout: 10s, heartbeatInterval: 30s}";
    let mut ct = stage("endConnection", scheduling);
    let t0 = Instant::now();
    let dns = ("10.3.0.10", 53);
    ct.extract_at(&[flow(CLIENT, dns, 17, 80, 0, 1)], t0);
    ct.extract_at(
        &[flow(dns, CLIENT, 17, 200, 0, 2)],
        t0 + Duration::from_secs(1),
    );
    // A TCP connection opened at the same time lives by the default group's 10 s.
    ct.extract_at(&[flow(CLIENT, SERVER, 6, 60, 0x02, 1)], t0);
    assert!(ct.tick_at(t0 + Duration::from_millis(3_999)).is_empty());
    let end = ct.tick_at(t0 + Duration::from_secs(4));
    assert_eq!(kinds(&end), ["endConnection"]);
    assert_eq!(num(&end[0], "Proto"), 17);
    assert_eq!(
        (num(&end[0], "Bytes_AB"), num(&end[0], "Bytes_BA")),
        (80, 200)
    );
    assert_eq!(ct.connections(), 1);
    let end = ct.tick_at(t0 + Duration::from_secs(10));
    assert_eq!(num(&end[0], "Proto"), 6);
    let m = ct.metrics().snapshot();
    assert_eq!(m.ends.get(&("Proto=17".to_string(), "timeout")), Some(&1));
    assert_eq!(m.ends.get(&("default".to_string(), "timeout")), Some(&1));
}

#[test]
fn heartbeats_come_at_the_interval_without_bursts() {
    let scheduling =
        "scheduling: [{selector: {}, endConnectionTimeout: 100s, heartbeatInterval: 2s}]";
    let mut ct = stage("heartbeat", scheduling);
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    assert!(
        ct.extract_at(&[flow(CLIENT, SERVER, 6, 1, 0x02, 1)], t0)
            .is_empty()
    );
    // (time, heartbeats due then)
    let table: &[(u64, usize)] = &[
        (1_999, 0),
        (2_000, 1),
        (3_000, 0),
        (4_000, 1),
        (10_000, 1), // a long pause: one beat, not three
        (11_999, 0),
        (12_000, 1),
    ];
    for &(t, n) in table {
        let out = ct.tick_at(ms(t));
        assert_eq!(out.len(), n, "at {t} ms");
        assert!(out.iter().all(|r| kind(r) == "heartbeat"));
        if let Some(r) = out.first() {
            assert_eq!(r.get("_IsFirst"), Some(&Value::Bool(t == 2_000)));
        }
    }
}

#[test]
fn max_connections_bounds_the_table_and_counts_evictions() {
    let mut ct = stage(
        "newConnection, endConnection",
        &format!("maxConnectionsTracked: 100\n{DEFAULT_SCHEDULING}"),
    );
    let t0 = Instant::now();
    let mut ended = 0;
    for i in 0..1_000u16 {
        let now = t0 + Duration::from_millis(u64::from(i));
        let out = ct.extract_at(
            &[flow(("10.9.0.1", 10_000 + i), SERVER, 6, 1, 0x02, 1)],
            now,
        );
        assert!(ct.connections() <= 100, "{} connections", ct.connections());
        ended += kinds(&out)
            .iter()
            .filter(|k| **k == "endConnection")
            .count();
    }
    assert_eq!(ct.connections(), 100);
    assert_eq!(ended, 900, "each evicted connection still reports its end");
    assert_eq!(ct.metrics().ended(EndReason::Evicted), 900);
    assert_eq!(ct.metrics().connections(), 100);
    // The oldest went first: the survivors are the last 100.
    let out = ct.tick_at(t0 + Duration::from_secs(60));
    let mut ports: Vec<i64> = out.iter().map(|r| num(r, "SrcPort")).collect();
    ports.sort_unstable();
    assert_eq!(ports.first(), Some(&10_900));
}

#[test]
fn records_without_the_key_or_duplicates_are_not_tracked() {
    let mut ct = stage(ALL, DEFAULT_SCHEDULING);
    let t0 = Instant::now();
    let icmp =
        Record::from_json(r#"{"SrcAddr":"10.1.0.5","DstAddr":"10.2.0.7","Proto":1,"Bytes":98}"#)
            .expect("json");
    let mut duplicate = flow(CLIENT, SERVER, 6, 500, 0x10, 1);
    duplicate.insert("Duplicate", true);
    let out = ct.extract_at(&[icmp, duplicate], t0);
    assert_eq!(kinds(&out), ["flowLog", "flowLog"], "passed on, untagged");
    assert!(out.iter().all(|r| r.get("_HashId").is_none()));
    assert_eq!(ct.connections(), 0);
    let m = ct.metrics().snapshot();
    assert_eq!(m.input, [0, 1, 1, 0], "one rejected, one duplicate");
    assert_eq!(m.hash_errors.get("SrcPort"), Some(&1));
    // A record with a missing reportMissing field is tracked but counted.
    let mut no_end = flow(CLIENT, SERVER, 6, 5, 0x02, 1);
    no_end.remove("TimeFlowEndMs");
    ct.extract_at(&[no_end], t0);
    let m = ct.metrics().snapshot();
    assert_eq!(m.aggregator_errors.get("TimeFlowEndMs"), Some(&1));
    assert_eq!(ct.connections(), 1);
}

#[test]
fn output_record_types_select_what_is_emitted() {
    // (logTypes as the operator maps them, record types expected over a whole connection)
    let table: &[(&str, &[&str])] = &[
        ("flowLog", &["flowLog", "flowLog", "flowLog"]),
        (
            "newConnection, heartbeat, endConnection",
            &["newConnection", "heartbeat", "endConnection"],
        ),
        ("endConnection", &["endConnection"]),
        (
            ALL,
            &[
                "newConnection",
                "flowLog",
                "flowLog",
                "heartbeat",
                "flowLog",
                "endConnection",
            ],
        ),
    ];
    let scheduling =
        "scheduling: [{selector: {}, endConnectionTimeout: 10s, heartbeatInterval: 5s}]";
    for &(types, expected) in table {
        let mut ct = stage(types, scheduling);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut seen = ct.extract_at(&[flow(CLIENT, SERVER, 6, 60, 0x02, 1)], at(0));
        seen.extend(ct.extract_at(&[flow(SERVER, CLIENT, 6, 60, 0x10, 2)], at(3)));
        seen.extend(ct.tick_at(at(5)));
        seen.extend(ct.extract_at(&[flow(CLIENT, SERVER, 6, 60, 0x10, 3)], at(6)));
        seen.extend(ct.tick_at(at(16)));
        assert_eq!(kinds(&seen), expected, "outputRecordTypes [{types}]");
    }
}

#[test]
fn inconsistent_configurations_are_refused() {
    let bad = [
        "scheduling: [{selector: {Proto: 6}, endConnectionTimeout: 1s}]",
        "scheduling: [{selector: {}}, {selector: {}}]",
        "scheduling: [{selector: {}, endConnectionTimeout: soon}]",
        "scheduling: [{selector: {}, heartbeatInterval: 0s}]",
    ];
    for extra in bad {
        let config = config(ALL, extra);
        assert!(
            Conntrack::new(&config, Arc::default()).is_err(),
            "accepted: {extra}"
        );
    }
    let mut half = config(ALL, "");
    half.key_definition.hash.field_group_b_ref.clear();
    assert!(Conntrack::new(&half, Arc::default()).is_err());
}

const PIPELINE: &str = r#"
pipeline:
  - {name: ingest}
  - {name: extract_conntrack, follows: ingest}
  - {name: out, follows: extract_conntrack}
parameters:
  - {name: ingest, ingest: {type: stdin}}
  - name: extract_conntrack
    extract:
      type: conntrack
      conntrack:
        keyDefinition:
          fieldGroups:
            - {name: src, fields: [SrcAddr, SrcPort]}
            - {name: dst, fields: [DstAddr, DstPort]}
            - {name: common, fields: [Proto]}
          hash: {fieldGroupRefs: [common], fieldGroupARef: src, fieldGroupBRef: dst}
        outputRecordTypes: [newConnection, endConnection, flowLog]
        outputFields:
          - {name: Bytes, operation: sum, splitAB: true}
          - {name: numFlowLogs, operation: count}
        scheduling: [{selector: {}, endConnectionTimeout: 200ms, terminatingTimeout: 50ms, heartbeatInterval: 30s}]
        tcpFlags: {fieldName: Flags, detectEndConnection: true, swapAB: true}
  - {name: out, write: {type: stdout, stdout: {format: json}}}
"#;

#[test]
fn end_to_end_through_the_runtime_with_idle_ticks() {
    let config = Config::parse(PIPELINE).expect("parses");
    let out = Shared::default();
    let sink = out.clone();
    let mut pipeline = Pipeline::build(&config, move || Box::new(sink.clone())).expect("builds");
    pipeline.process(vec![
        flow(CLIENT, SERVER, 6, 100, 0x02, 1),
        flow(SERVER, CLIENT, 6, 300, 0x11, 2),
    ]);
    let interval = pipeline.tick_interval().expect("conntrack asks for ticks");
    assert!(interval <= Duration::from_millis(50), "{interval:?}");
    // No more input: the runtime's idle ticks end the connection (the FIN's 50 ms).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !out.text().contains("endConnection") && Instant::now() < deadline {
        std::thread::sleep(interval);
        pipeline.tick();
    }
    let lines: Vec<serde_json::Value> = out
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let types: Vec<&str> = lines
        .iter()
        .map(|l| l["_RecordType"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        ["newConnection", "flowLog", "flowLog", "endConnection"]
    );
    let end = &lines[3];
    assert_eq!(
        (end["Bytes_AB"].as_u64(), end["Bytes_BA"].as_u64()),
        (Some(100), Some(300))
    );
    assert_eq!(end["numFlowLogs"].as_u64(), Some(2));
    assert_eq!(end["_HashId"], lines[1]["_HashId"]);
}

#[test]
fn a_worker_ticks_the_stage_while_its_queue_is_idle() {
    use netobserv_pipeline::shard::Batch;
    use netobserv_pipeline::workers::Worker;
    let config = Config::parse(PIPELINE).expect("parses");
    let out = Shared::default();
    let sink = out.clone();
    let pipeline = Pipeline::build(&config, move || Box::new(sink.clone())).expect("builds");
    let (tx, queue) = tokio::sync::mpsc::channel(4);
    let (_changes_tx, changes) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        Worker {
            pipeline,
            queue,
            changes,
        }
        .run(0)
    });
    tx.blocking_send(Batch::Records(vec![flow(CLIENT, SERVER, 17, 100, 0, 1)]))
        .expect("queued");
    // Nothing else is sent: only the worker's idle ticks can end the connection (200 ms).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !out.text().contains("endConnection") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(out.text().contains("endConnection"), "{}", out.text());
    drop(tx);
    let pipeline = worker
        .join()
        .expect("the worker stops when its queue closes");
    assert_eq!(pipeline.stats().ingested, 1);
}
