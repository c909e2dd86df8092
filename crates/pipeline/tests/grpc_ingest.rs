//! gRPC ingest over real loopback gRPC: a `pbflow.Collector` client (as the agents use) sends
//! batches; they arrive decoded; a full queue refuses calls with RESOURCE_EXHAUSTED and counts the
//! refused flows instead of buffering without bound.

use netobserv_pipeline::ingest::grpc::GrpcIngest;
use netobserv_pipeline::record::Value;
use pbflow::collector_client::CollectorClient;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn flow(port: u32) -> pbflow::Record {
    pbflow::Record {
        eth_protocol: 0x0800,
        network: Some(pbflow::Network {
            src_addr: Some(pbflow::Ip::from_addr("10.0.0.1".parse().expect("ip"))),
            dst_addr: Some(pbflow::Ip::from_addr("10.0.0.2".parse().expect("ip"))),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 40000,
            dst_port: port,
            protocol: 17,
        }),
        bytes: 100,
        packets: 1,
        interface: "eth0".into(),
        ..pbflow::Record::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_arrive_decoded_and_a_full_queue_refuses_with_a_count() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let ingest = GrpcIngest::start(
        "127.0.0.1:0".parse().expect("addr"),
        tx,
        Duration::from_millis(200),
    )
    .await
    .expect("binds");
    let mut client = CollectorClient::connect(format!("http://{}", ingest.local_addr))
        .await
        .expect("connects");
    client
        .send(pbflow::Records {
            entries: vec![flow(53), flow(443)],
        })
        .await
        .expect("accepted");
    let batch = rx.recv().await.expect("a batch").into_records();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[1].get("DstPort"), Some(&Value::UInt(443)));
    assert_eq!(batch[0].get("DstAddr"), Some(&Value::from("10.0.0.2")));

    // Nobody consumes now: the first call fills the queue, the second is refused.
    client
        .send(pbflow::Records {
            entries: vec![flow(1)],
        })
        .await
        .expect("queued");
    let refused = client
        .send(pbflow::Records {
            entries: vec![flow(2), flow(3), flow(4)],
        })
        .await
        .expect_err("queue full");
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert_eq!(ingest.stats.refused_flows.load(Ordering::Relaxed), 3);
    assert_eq!(ingest.stats.flows.load(Ordering::Relaxed), 3);
    // Accepted calls; the refused one is counted apart, and under its gRPC code.
    assert_eq!(ingest.stats.batches.load(Ordering::Relaxed), 2);
    assert_eq!(ingest.stats.refused_batches.load(Ordering::Relaxed), 1);
    assert_eq!(ingest.stats.errors().get("ResourceExhausted"), Some(&1));
    // Once the queue drains, calls succeed again.
    assert_eq!(rx.recv().await.expect("queued batch").len(), 1);
    client
        .send(pbflow::Records {
            entries: vec![flow(5)],
        })
        .await
        .expect("accepted again");
    ingest.stop().await;
}
