//! Per-flow cost of the filter: this runs on every record in the pipeline's
//! `keep_entry_query` stage, so its speed bounds pipeline throughput.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

/// A flow record as the pipeline sees it after Kubernetes enrichment.
fn flow() -> Map<String, Value> {
    let v = json!({
        "AgentIP": "10.0.1.12",
        "Bytes": 45213,
        "DnsErrno": 0,
        "Dscp": 0,
        "DstAddr": "10.128.2.47",
        "DstK8S_HostIP": "10.0.1.13",
        "DstK8S_HostName": "ip-10-0-1-13.ec2.internal",
        "DstK8S_Name": "loki-0",
        "DstK8S_Namespace": "netobserv",
        "DstK8S_OwnerName": "loki",
        "DstK8S_OwnerType": "StatefulSet",
        "DstK8S_Type": "Pod",
        "DstK8S_Zone": "us-east-1a",
        "DstMac": "0A:58:0A:80:02:2F",
        "DstPort": 3100,
        "Etype": 2048,
        "Flags": ["SYN", "ACK"],
        "FlowDirection": 0,
        "IfDirections": [0, 1],
        "Interfaces": ["genev_sys_6081", "br-ex"],
        "K8S_ClusterName": "prod-east",
        "K8S_FlowLayer": "app",
        "Packets": 37,
        "Proto": 6,
        "Sampling": 50,
        "SrcAddr": "10.129.0.22",
        "SrcK8S_HostIP": "10.0.1.12",
        "SrcK8S_HostName": "ip-10-0-1-12.ec2.internal",
        "SrcK8S_Name": "flowlogs-pipeline-7c9d8",
        "SrcK8S_Namespace": "netobserv",
        "SrcK8S_OwnerName": "flowlogs-pipeline",
        "SrcK8S_OwnerType": "DaemonSet",
        "SrcK8S_Type": "Pod",
        "SrcK8S_Zone": "us-east-1a",
        "SrcMac": "0A:58:0A:81:00:16",
        "SrcPort": 51542,
        "TimeFlowEndMs": 1_718_000_001_250_i64,
        "TimeFlowRttNs": 412_000,
        "TimeFlowStartMs": 1_718_000_000_000_i64,
        "TimeReceived": 1_718_000_002,
    });
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

const TYPICAL: &str = r#"SrcK8S_Namespace="netobserv" and (Proto=6 or DstPort>=1024) and DstK8S_Namespace!~"^openshift-""#;

fn bench(c: &mut Criterion) {
    let record = flow();
    let cases = [
        ("typical_match", TYPICAL),
        (
            "typical_reject_first",
            r#"SrcK8S_Namespace="openshift-dns" and (Proto=6 or DstPort>=1024) and DstK8S_Namespace!~"^openshift-""#,
        ),
        ("string_eq", r#"SrcK8S_Namespace="netobserv""#),
        ("numeric_ge", "DstPort>=1024"),
        ("regex", r"SrcK8S_HostName=~`^ip-10-0-1-1[0-9]\.`"),
        ("regex_on_number", r#"Bytes=~"^45""#),
        (
            "with_without",
            "with(TimeFlowRttNs) and without(DnsLatencyMs)",
        ),
        ("template", r#"SrcK8S_Namespace="$(DstK8S_Namespace)""#),
    ];
    let mut group = c.benchmark_group("eval");
    for (name, query) in cases {
        let filter = match flowdsl::compile(query) {
            Ok(f) => f,
            Err(e) => panic!("benchmark query {name} does not parse: {e}"),
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(&filter).matches(black_box(&record)))
        });
    }
    group.finish();

    c.bench_function("compile/typical", |b| {
        b.iter(|| flowdsl::compile(black_box(TYPICAL)).is_ok())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
