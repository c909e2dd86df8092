//! Per-flow cost of conversation tracking (`extract` type `conntrack`) at the operator's default
//! settings: the key and output fields the operator renders, end 10s / terminating 5s /
//! heartbeat 30s, no `maxConnectionsTracked`, FIN detection and swapAB on `Flags`.
//!
//! * `steady_*`: flows of 5,000 live connections (both directions), batches of 1,000, each flow
//!   updating an existing connection: the common case.
//! * `churn_*`: every flow opens a new connection (port scan, short-lived DNS), with
//!   `maxConnectionsTracked: 10000` so the table stays bounded and each new connection evicts one.
//!
//! `Conversations` emits connection records only; `All` also passes every flow on as `flowLog`
//! (by value: the stage takes the batch, so the figure includes no per-flow clone).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use netobserv_pipeline::config::ConntrackConfig;
use netobserv_pipeline::extract::Extractor;
use netobserv_pipeline::extract::conntrack::Conntrack;
use netobserv_pipeline::record::{Record, Value};
use std::hint::black_box;
use std::sync::Arc;

const BATCH: usize = 1_000;
const CONNECTIONS: usize = 5_000;

fn config(types: &str, extra: &str) -> ConntrackConfig {
    serde_yaml::from_str(&format!(
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
  - {{name: IfDirection, operation: first, input: IfDirection}}
  - {{name: AgentIP, operation: first, input: AgentIP}}
scheduling: [{{selector: {{}}, endConnectionTimeout: 10s, terminatingTimeout: 5s, heartbeatInterval: 30s}}]
tcpFlags: {{fieldName: Flags, detectEndConnection: true, swapAB: true}}
{extra}
"#
    ))
    .expect("config")
}

/// An agent flow as the decoder builds it (binary addresses, integer counters).
fn flow(i: usize, reverse: bool) -> Record {
    let client = format!("10.128.{}.{}", (i / 250) % 250, i % 250 + 1);
    let port = 30_000 + (i % 30_000);
    let (src, sport, dst, dport) = if reverse {
        ("10.129.0.9".to_string(), 8080, client, port)
    } else {
        (client, port, "10.129.0.9".to_string(), 8080)
    };
    let mut r = Record::from_json(&format!(
        r#"{{"AgentIP":"172.18.0.2","Bytes":1500,"DstAddr":"{dst}","DstMac":"0a:58:0a:81:00:09","DstPort":{dport},"Etype":2048,"Flags":16,"FlowDirection":0,"IfDirections":[0],"Interfaces":["genev_sys_6081"],"Packets":3,"Proto":6,"Sampling":50,"SrcAddr":"{src}","SrcMac":"0a:58:0a:80:00:11","SrcPort":{sport},"TimeFlowEndMs":1732200000500,"TimeFlowRttNs":120000,"TimeFlowStartMs":1732200000000,"TimeReceived":1732200001}}"#
    ))
    .expect("flow");
    for field in ["SrcAddr", "DstAddr"] {
        if let Some(ip) = r.get(field).and_then(Value::as_ip) {
            r.insert(field, Value::ip(ip));
        }
    }
    r
}

fn stage(types: &str, extra: &str) -> Conntrack {
    Conntrack::new(&config(types, extra), Arc::default()).expect("builds")
}

fn bench(c: &mut Criterion) {
    eprintln!(
        "conntrack settings: operator defaults (8 output fields, endConnectionTimeout 10s, \
         terminatingTimeout 5s, heartbeatInterval 30s, tcpFlags FIN + swapAB), batches of \
         {BATCH}; steady = {CONNECTIONS} live connections; churn = a new connection per flow, \
         maxConnectionsTracked 10000"
    );
    let batches: Vec<Vec<Record>> = (0..2 * CONNECTIONS / BATCH)
        .map(|b| {
            (0..BATCH)
                .map(|j| {
                    let n = b * BATCH + j;
                    flow(n / 2, n % 2 == 1)
                })
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("conntrack");
    group.throughput(Throughput::Elements(BATCH as u64));
    // Conversations: the runtime lends the batch (no flow is passed on), as here.
    let mut ct = stage("newConnection, heartbeat, endConnection", "");
    for b in &batches {
        ct.extract(b);
    }
    let mut next = 0;
    group.bench_function("steady_Conversations", |bench| {
        bench.iter(|| {
            next = (next + 1) % batches.len();
            black_box(ct.extract(&batches[next]))
        })
    });
    assert_eq!(ct.connections(), CONNECTIONS, "connections stay live");
    // All: the runtime hands the batch over and the flows go on as flowLog.
    let mut ct = stage("newConnection, heartbeat, endConnection, flowLog", "");
    group.bench_function("steady_All", |bench| {
        bench.iter_batched(
            || {
                next = (next + 1) % batches.len();
                batches[next].clone()
            },
            |batch| black_box(ct.extract_owned(batch)),
            BatchSize::LargeInput,
        )
    });
    assert_eq!(ct.connections(), CONNECTIONS, "connections stay live");
    let mut ct = stage(
        "newConnection, heartbeat, endConnection",
        "maxConnectionsTracked: 10000",
    );
    let mut serial = 0usize;
    group.bench_function("churn_Conversations_max10000", |bench| {
        bench.iter_batched(
            || {
                serial += BATCH;
                (0..BATCH)
                    .map(|j| flow(serial + j, false))
                    .collect::<Vec<_>>()
            },
            |batch| black_box(ct.extract_owned(batch)),
            BatchSize::LargeInput,
        )
    });
    assert!(ct.connections() <= 10_000);
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
