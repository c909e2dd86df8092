//! Per-flow cost of the pieces every record goes through: JSON decode/encode of a record and the
//! NetObserv-shaped transforms (subnet labels ×2, direction, TCP flags, a query filter).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netobserv_pipeline::config::{FilterTransform, NetworkTransform, PromEncode};
use netobserv_pipeline::encode::PromEncoder;
use netobserv_pipeline::record::Record;
use netobserv_pipeline::transform::{FilterStage, NetworkStage, Transformer};
use netobserv_pipeline::write::loki::{LokiEncoder, LokiWrite, encode_push};
use std::hint::black_box;

const FLOW: &str = r#"{"AgentIP":"172.18.0.2","Bytes":1500,"DstAddr":"10.129.0.9","DstK8S_HostIP":"172.18.0.3","DstK8S_Name":"api-7d9f","DstK8S_Namespace":"shop","DstK8S_OwnerName":"api","DstK8S_OwnerType":"Deployment","DstK8S_Type":"Pod","DstMac":"0a:58:0a:81:00:09","DstPort":8080,"Dscp":0,"Etype":2048,"Flags":18,"FlowDirection":0,"IfDirections":[0],"Interfaces":["genev_sys_6081"],"Packets":3,"Proto":6,"Sampling":50,"SrcAddr":"10.128.0.17","SrcK8S_HostIP":"172.18.0.2","SrcK8S_Name":"web-5c8b","SrcK8S_Namespace":"shop","SrcK8S_OwnerName":"web","SrcK8S_OwnerType":"Deployment","SrcK8S_Type":"Pod","SrcMac":"0a:58:0a:80:00:11","SrcPort":43512,"TimeFlowEndMs":1732200000500,"TimeFlowRttNs":120000,"TimeFlowStartMs":1732200000000,"TimeReceived":1732200001}"#;

fn network() -> NetworkStage {
    let config: NetworkTransform = serde_yaml::from_str(
        "rules:\n- {type: add_subnet_label, add_subnet_label: {input: SrcAddr, output: SrcSubnetLabel}}\n- {type: add_subnet_label, add_subnet_label: {input: DstAddr, output: DstSubnetLabel}}\n- {type: reinterpret_direction}\n- {type: decode_tcp_flags, decode_tcp_flags: {input: Flags, output: Flags}}\nsubnetLabels:\n- {name: Pods, cidrs: [10.128.0.0/14]}\n- {name: Services, cidrs: [172.30.0.0/16]}\n- {name: 'EXT:cloud', cidrs: [0.0.0.0/0]}\ndirectionInfo: {reporterIPField: AgentIP, srcHostField: SrcK8S_HostIP, dstHostField: DstK8S_HostIP, flowDirectionField: FlowDirection, ifDirectionField: IfDirection}",
    )
    .expect("config");
    NetworkStage::new(config).expect("builds")
}

fn filter() -> FilterStage {
    let config: FilterTransform = serde_yaml::from_str(
        "samplingField: Sampling\nrules:\n- {type: keep_entry_query, keepEntryQuery: 'SrcK8S_Namespace=\"shop\" and (DstPort>=1024 or Proto=17) and DstK8S_Namespace!~\"^openshift-\"'}",
    )
    .expect("config");
    FilterStage::new(config).expect("builds")
}

/// An agent flow as it arrives over gRPC, encoded.
fn pbflow_bytes() -> Vec<u8> {
    use prost::Message;
    let ip = |s: &str| Some(pbflow::Ip::from_addr(s.parse().expect("ip")));
    let flow = pbflow::Record {
        eth_protocol: 0x0800,
        direction: 1,
        time_flow_start: Some(prost_types::Timestamp {
            seconds: 1_732_200_000,
            nanos: 0,
        }),
        time_flow_end: Some(prost_types::Timestamp {
            seconds: 1_732_200_000,
            nanos: 500_000_000,
        }),
        data_link: Some(pbflow::DataLink {
            src_mac: 0x0a58_0a80_0011,
            dst_mac: 0x0a58_0a81_0009,
        }),
        network: Some(pbflow::Network {
            src_addr: ip("10.128.0.17"),
            dst_addr: ip("10.129.0.9"),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 43512,
            dst_port: 8080,
            protocol: 6,
        }),
        bytes: 1500,
        packets: 3,
        agent_ip: ip("172.18.0.2"),
        flags: 0x12,
        sampling: 50,
        dup_list: vec![pbflow::DupMapEntry {
            interface: "genev_sys_6081".into(),
            direction: 1,
            udn: String::new(),
        }],
        time_flow_rtt: Some(prost_types::Duration {
            seconds: 0,
            nanos: 120_000,
        }),
        ..pbflow::Record::default()
    };
    flow.encode_to_vec()
}

fn bench(c: &mut Criterion) {
    let record = Record::from_json(FLOW).expect("record");
    let mut group = c.benchmark_group("per_flow");
    group.throughput(Throughput::Elements(1));
    let wire = pbflow_bytes();
    group.bench_function("decode_pbflow", |b| {
        b.iter(|| {
            use prost::Message;
            let flow = pbflow::Record::decode(black_box(wire.as_slice())).expect("decodes");
            netobserv_pipeline::decode::record_from_pbflow(&flow, 1_732_200_001)
        })
    });
    group.bench_function("decode_json", |b| {
        b.iter(|| Record::from_json(black_box(FLOW)).expect("decodes"))
    });
    group.bench_function("encode_json", |b| b.iter(|| black_box(&record).to_json()));
    let mut net = network();
    group.bench_function("network_enrich", |b| {
        b.iter(|| net.apply(black_box(record.clone())))
    });
    let mut keep = filter();
    group.bench_function("filter_query", |b| {
        b.iter(|| keep.apply(black_box(record.clone())))
    });
    let prom: PromEncode = serde_yaml::from_str(
        "prefix: netobserv_\nmetrics:\n- {name: workload_ingress_bytes_total, type: counter, valueKey: Bytes, filters: [{key: FlowDirection, value: '1', type: not_equal}], labels: [SrcK8S_Namespace, DstK8S_Namespace, SrcK8S_OwnerName, DstK8S_OwnerName, SrcK8S_OwnerType, DstK8S_OwnerType]}\n- {name: namespace_flows_total, type: counter, labels: [SrcK8S_Namespace, DstK8S_Namespace]}\n- {name: namespace_rtt_seconds, type: histogram, valueKey: TimeFlowRttNs, valueScale: 1000000000, filters: [{key: TimeFlowRttNs, type: presence}], labels: [SrcK8S_Namespace, DstK8S_Namespace], buckets: [0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 1]}",
    )
    .expect("prom config");
    let mut prom = PromEncoder::new(&prom).expect("builds");
    group.bench_function("prom_encode_3_metrics", |b| {
        b.iter(|| prom.encode(black_box(&record)))
    });
    let loki: LokiWrite = serde_yaml::from_str(
        "labels: [SrcK8S_Namespace, SrcK8S_OwnerName, SrcK8S_Type, DstK8S_Namespace, DstK8S_OwnerName, DstK8S_Type, K8S_FlowLayer, FlowDirection]\nstaticLabels: {app: netobserv-flowcollector}\ntimestampLabel: TimeFlowEndMs\ntimestampScale: 1ms\nbatchSize: 1000000000",
    )
    .expect("loki config");
    let mut loki = LokiEncoder::new(&loki).expect("builds");
    // One push of 1000 flows per iteration, reported per flow.
    group.throughput(Throughput::Elements(1000));
    group.bench_function("loki_push_1000_flows", |b| {
        b.iter(|| {
            for _ in 0..1000 {
                loki.add(black_box(&record));
            }
            let request = loki.take_request().expect("batch");
            encode_push(&request).expect("compresses")
        })
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("clone_only", |b| b.iter(|| black_box(record.clone())));
    group.finish();
}

/// A cluster of 200 nodes, 10 000 pods (one ReplicaSet each) and 2 000 services.
fn kube_index(config: &NetworkTransform) -> netobserv_pipeline::transform::kubernetes::KubeIndex {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::{Node, Pod, Service};
    use serde_json::json;
    let settings = NetworkStage::kube_index_settings(config).expect("settings");
    let mut index = netobserv_pipeline::transform::kubernetes::KubeIndex::new(settings);
    for n in 0..200u32 {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": format!("node-{n}"), "labels": {"topology.kubernetes.io/zone": format!("zone-{}", n % 3)}},
            "status": {"addresses": [{"type": "InternalIP", "address": format!("172.18.{}.{}", n / 250, n % 250 + 1)}]}
        }))
        .expect("node");
        index.apply(&node);
    }
    for p in 0..10_000u32 {
        let n = p % 200;
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("app-{p}-x"), "namespace": format!("ns-{}", p % 50),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("app-{p}"), "uid": "u"}]},
            "spec": {"nodeName": format!("node-{n}"), "containers": [{"name": "c"}]},
            "status": {"hostIP": format!("172.18.{}.{}", n / 250, n % 250 + 1), "podIPs": [{"ip": format!("10.128.{}.{}", p / 250, p % 250 + 1)}]}
        }))
        .expect("pod");
        index.apply(&pod);
        let rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": format!("app-{p}"), "namespace": format!("ns-{}", p % 50),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": format!("app-{p}-deploy"), "uid": "u"}]}
        }))
        .expect("replica set");
        index.apply(&rs);
    }
    for s in 0..2_000u32 {
        let ip = format!("172.30.{}.{}", s / 250, s % 250 + 1);
        let service: Service = serde_json::from_value(json!({
            "metadata": {"name": format!("svc-{s}"), "namespace": format!("ns-{}", s % 50)},
            "spec": {"clusterIP": ip, "clusterIPs": [ip]}
        }))
        .expect("service");
        index.apply(&service);
    }
    index
}

/// `add_kubernetes` for source and destination, configured as the operator does, on a flow from
/// a pod to a service; with and without secondary-network keys to build per flow.
fn bench_kubernetes(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_flow");
    group.throughput(Throughput::Elements(1));
    let record = Record::from_json(
        r#"{"SrcAddr":"10.128.20.17","DstAddr":"172.30.3.9","SrcMac":"0a:58:0a:80:14:11","DstMac":"0a:58:0a:80:00:01","Interfaces":["genev_sys_6081"],"Bytes":1500,"Packets":3,"Proto":6}"#,
    )
    .expect("record");
    for (name, kube_config) in [
        (
            "kubernetes_enrich_src_dst",
            "{trackedKinds: [ReplicaSet, Deployment, Gateway]}",
        ),
        (
            "kubernetes_enrich_src_dst_secondary_keys",
            "{secondaryNetworks: [{name: '', index: {interface: {}, ip: {}}}], trackedKinds: [ReplicaSet, Deployment, Gateway]}",
        ),
    ] {
        let config: NetworkTransform = serde_yaml::from_str(&format!(
            "kubeConfig: {kube_config}\nrules:\n- {{type: add_kubernetes, kubernetes: {{add_zone: true, interfacesField: Interfaces, ipField: SrcAddr, macField: SrcMac, output: SrcK8S, udnsField: Udns}}}}\n- {{type: add_kubernetes, kubernetes: {{add_zone: true, interfacesField: Interfaces, ipField: DstAddr, macField: DstMac, output: DstK8S, udnsField: Udns}}}}"
        ))
        .expect("config");
        let index = std::sync::Arc::new(std::sync::RwLock::new(kube_index(&config)));
        let mut stage = NetworkStage::with_kube_index(config, index).expect("builds");
        let out = stage.apply(record.clone()).expect("kept");
        assert_eq!(
            out.get("SrcK8S_OwnerName").and_then(|v| v.as_str()),
            Some("app-5016-deploy")
        );
        assert_eq!(
            out.get("DstK8S_Name").and_then(|v| v.as_str()),
            Some("svc-758")
        );
        group.bench_function(name, |b| b.iter(|| stage.apply(black_box(record.clone()))));
    }
    group.finish();
}

/// The NetObserv-shaped graph on one gRPC batch of 1000 agent flows, everything after the gRPC
/// transport: protobuf decode → the operator's `enrich` stage (add_kubernetes ×2 on a 10 000-pod
/// index, reinterpret_direction, decode_tcp_flags, add_kubernetes_infra) → a query filter →
/// Prometheus encoding with the operator's default metrics → Loki lines with the operator's
/// labels, one push request built and snappy-compressed. Reported per flow.
fn bench_graph(c: &mut Criterion) {
    use prost::Message;
    let mut group = c.benchmark_group("per_flow");
    let enrich: NetworkTransform = serde_yaml::from_str(
        "kubeConfig: {trackedKinds: [ReplicaSet, Deployment, Gateway]}\ndirectionInfo: {reporterIPField: AgentIP, srcHostField: SrcK8S_HostIP, dstHostField: DstK8S_HostIP, flowDirectionField: FlowDirection, ifDirectionField: IfDirection}\nrules:\n- {type: add_kubernetes, kubernetes: {add_zone: false, interfacesField: Interfaces, ipField: SrcAddr, macField: SrcMac, output: SrcK8S, udnsField: Udns}}\n- {type: add_kubernetes, kubernetes: {add_zone: false, interfacesField: Interfaces, ipField: DstAddr, macField: DstMac, output: DstK8S, udnsField: Udns}}\n- {type: reinterpret_direction}\n- {type: decode_tcp_flags, decode_tcp_flags: {input: Flags, output: Flags}}\n- type: add_kubernetes_infra\n  kubernetes_infra:\n    infra_prefixes: [netobserv, openshift]\n    infra_refs: [{name: kubernetes, namespace: default}, {name: openshift, namespace: default}]\n    namespaceNameFields: [{name: SrcK8S_Name, namespace: SrcK8S_Namespace}, {name: DstK8S_Name, namespace: DstK8S_Namespace}]\n    output: K8S_FlowLayer",
    )
    .expect("enrich config");
    let index = std::sync::Arc::new(std::sync::RwLock::new(kube_index(&enrich)));
    let mut net = NetworkStage::with_kube_index(enrich, index).expect("builds");
    // A user filter the way the operator renders one (keep_entry_query), keeping every flow.
    let keep: FilterTransform = serde_yaml::from_str(
        "samplingField: Sampling\nrules:\n- {type: keep_entry_query, keepEntryQuery: 'SrcK8S_Namespace=~\"^ns-\" and (DstPort>=1024 or Proto=17)'}",
    )
    .expect("config");
    let mut keep = FilterStage::new(keep).expect("builds");
    let workload = "[SrcK8S_Namespace, DstK8S_Namespace, K8S_FlowLayer, SrcSubnetLabel, DstSubnetLabel, SrcK8S_OwnerName, DstK8S_OwnerName, SrcK8S_OwnerType, DstK8S_OwnerType, SrcK8S_Type, DstK8S_Type]";
    let namespace =
        "[SrcK8S_Namespace, DstK8S_Namespace, K8S_FlowLayer, SrcSubnetLabel, DstSubnetLabel]";
    let nodes = "[SrcK8S_HostName, DstK8S_HostName]";
    let prom: PromEncode = serde_yaml::from_str(&format!(
        "prefix: netobserv_\nmetrics:\n\
         - {{name: node_ingress_bytes_total, type: counter, valueKey: Bytes, filters: [{{key: FlowDirection, value: '0|2', type: match_regex}}], labels: {nodes}}}\n\
         - {{name: node_egress_bytes_total, type: counter, valueKey: Bytes, filters: [{{key: FlowDirection, value: '1|2', type: match_regex}}], labels: {nodes}}}\n\
         - {{name: node_ingress_packets_total, type: counter, valueKey: Packets, filters: [{{key: FlowDirection, value: '0|2', type: match_regex}}], labels: {nodes}}}\n\
         - {{name: workload_ingress_bytes_total, type: counter, valueKey: Bytes, filters: [{{key: FlowDirection, value: '0|2', type: match_regex}}], labels: {workload}}}\n\
         - {{name: workload_egress_bytes_total, type: counter, valueKey: Bytes, filters: [{{key: FlowDirection, value: '1|2', type: match_regex}}], labels: {workload}}}\n\
         - {{name: namespace_flows_total, type: counter, labels: {namespace}}}\n\
         - {{name: namespace_ingress_packets_total, type: counter, valueKey: Packets, filters: [{{key: FlowDirection, value: '0|2', type: match_regex}}], labels: {namespace}}}\n\
         - {{name: node_to_node_ingress_flows_total, type: counter, filters: [{{key: FlowDirection, value: '2', type: not_equal}}, {{key: SrcK8S_HostName, type: presence}}, {{key: DstK8S_HostName, type: presence}}], labels: {nodes}}}\n\
         - {{name: namespace_rtt_seconds, type: histogram, valueKey: TimeFlowRttNs, valueScale: 1000000000, filters: [{{key: TimeFlowRttNs, type: presence}}], labels: {namespace}, buckets: [0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 1]}}"
    ))
    .expect("prom config");
    let mut prom = PromEncoder::new(&prom).expect("builds");
    let loki: LokiWrite = serde_yaml::from_str(
        "labels: [SrcK8S_Namespace, SrcK8S_OwnerName, SrcK8S_Type, DstK8S_Namespace, DstK8S_OwnerName, DstK8S_Type, K8S_FlowLayer, FlowDirection]\nstaticLabels: {app: netobserv-flowcollector}\ntimestampLabel: TimeFlowEndMs\ntimestampScale: 1ms\nbatchSize: 1000000000",
    )
    .expect("loki config");
    let mut loki = LokiEncoder::new(&loki).expect("builds");
    // 1000 flows between pods of the index and services, reported by their nodes.
    let one = pbflow::Record::decode(pbflow_bytes().as_slice()).expect("flow");
    let entries = (0..1000u32)
        .map(|i| {
            let mut f = one.clone();
            let p = (i * 7) % 10_000;
            let ip = |s: String| Some(pbflow::Ip::from_addr(s.parse().expect("ip")));
            f.network = Some(pbflow::Network {
                src_addr: ip(format!("10.128.{}.{}", p / 250, p % 250 + 1)),
                dst_addr: ip(format!("172.30.{}.{}", i % 8, i % 250 + 1)),
                dscp: 0,
            });
            f.agent_ip = ip(format!("172.18.0.{}", p % 200 + 1));
            f.transport = Some(pbflow::Transport {
                src_port: 40_000 + i,
                dst_port: 8080,
                protocol: 6,
            });
            f
        })
        .collect();
    let wire = pbflow::Records { entries }.encode_to_vec();
    group.throughput(Throughput::Elements(1000));
    group.bench_function("netobserv_graph_1000_flows", |b| {
        b.iter(|| {
            let batch = pbflow::Records::decode(black_box(wire.as_slice())).expect("decodes");
            let records: Vec<Record> = batch
                .entries
                .iter()
                .map(|f| netobserv_pipeline::decode::record_from_pbflow(f, 1_732_200_001))
                .filter_map(|r| net.apply(r))
                .filter_map(|r| keep.apply(r))
                .collect();
            prom.encode_batch(&records);
            for r in &records {
                loki.add(r);
            }
            let request = loki.take_request().expect("batch");
            encode_push(&request).expect("compresses")
        })
    });
    group.finish();
    // Every flow was enriched, kept and counted.
    let text = prom.render();
    assert!(
        text.contains("netobserv_namespace_flows_total{SrcK8S_Namespace=\"ns-"),
        "{text}"
    );
}

criterion_group!(benches, bench, bench_kubernetes, bench_graph);
criterion_main!(benches);
