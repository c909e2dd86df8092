//! Per-flow cost of the exporters on the worker's side. IPFIX: (the NetObserv-shaped enriched flow
//! encoded into messages and queued) and end to end to a UDP collector on loopback that reads
//! and discards, at the FlowCollector's defaults for an IPFIX exporter (UDP, enterprise id set,
//! templates every 1m) in batches of 1000 (the pipeline's gRPC batch). Prints what was lost.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netobserv_pipeline::record::Record;
use netobserv_pipeline::write::ipfix::{IpfixWriter, Settings, Transport};
use std::sync::atomic::Ordering;
use std::time::Duration;

const FLOW: &str = r#"{"AgentIP":"172.18.0.2","Bytes":1500,"DstAddr":"10.129.0.9","DstK8S_HostIP":"172.18.0.3","DstK8S_HostName":"worker-2","DstK8S_Name":"api-7d9f","DstK8S_Namespace":"shop","DstK8S_OwnerName":"api","DstK8S_OwnerType":"Deployment","DstK8S_Type":"Pod","DstMac":"0a:58:0a:81:00:09","DstPort":8080,"Dscp":0,"Etype":2048,"Flags":["SYN","ACK"],"FlowDirection":0,"IfDirections":[0],"Interfaces":["genev_sys_6081"],"Packets":3,"Proto":6,"Sampling":50,"SrcAddr":"10.128.0.17","SrcK8S_HostIP":"172.18.0.2","SrcK8S_HostName":"worker-1","SrcK8S_Name":"web-5c8b","SrcK8S_Namespace":"shop","SrcK8S_OwnerName":"web","SrcK8S_OwnerType":"Deployment","SrcK8S_Type":"Pod","SrcMac":"0a:58:0a:80:00:11","SrcPort":43512,"TimeFlowEndMs":1732200000500,"TimeFlowRttNs":120000,"TimeFlowStartMs":1732200000000,"TimeReceived":1732200001}"#;

fn bench_ipfix(c: &mut Criterion) {
    let flow = Record::from_json(FLOW).expect("flow");
    let batch: Vec<Record> = (0..1000).map(|_| flow.clone()).collect();
    let collector = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = collector.local_addr().expect("addr").port();
    let reader = std::thread::spawn(move || {
        let _ = collector.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = vec![0u8; 65536];
        let mut datagrams = 0u64;
        while collector.recv(&mut buf).is_ok() {
            datagrams += 1;
        }
        datagrams
    });
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let settings = Settings {
        target: format!("127.0.0.1:{port}"),
        transport: Transport::Udp,
        enterprise_id: 2,
        template_interval: Duration::from_secs(60),
    };
    println!(
        "settings: transport UDP, enterpriseID 2, tplSendInterval 1m, batch 1000 flows, queue 4096 messages of <= 1400 bytes"
    );
    let mut writer = IpfixWriter::start(settings, runtime.handle());
    let stats = writer.stats();
    let mut group = c.benchmark_group("ipfix");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("send_batch_udp_1000", |b| {
        b.iter(|| writer.send_batch(&batch));
    });
    group.finish();
    drop(writer);
    let datagrams = reader.join().unwrap_or(0);
    println!(
        "records queued {}, sent {}, dropped (queue full) {}, dropped (send failed) {}; datagrams received {datagrams}",
        stats.queued.load(Ordering::Relaxed),
        stats.written.load(Ordering::Relaxed),
        stats.dropped_buffer_full.load(Ordering::Relaxed),
        stats.dropped_after_retries.load(Ordering::Relaxed),
    );
}

/// `otlplogs`: a batch of 1000 flows as one log export request, encoded to protobuf (what the
/// worker and the sending task do per batch; the gRPC call itself is not measured).
fn bench_otlp_logs(c: &mut Criterion) {
    use prost::Message;
    let flow = Record::from_json(FLOW).expect("flow");
    let batch: Vec<Record> = (0..1000).map(|_| flow.clone()).collect();
    println!("settings: otlplogs, batch 1000 flows, every field an attribute plus the JSON body");
    let mut group = c.benchmark_group("otlp");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("logs_request_1000", |b| {
        b.iter(|| netobserv_pipeline::encode::otlp::logs::request(&batch).encode_to_vec());
    });
    group.finish();
}

criterion_group!(benches, bench_ipfix, bench_otlp_logs);
criterion_main!(benches);
