//! The export queue against a real gRPC collector on loopback: while the collector is down,
//! batches wait up to the queue bound; beyond it they are dropped and counted exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::{TestCollector, free_port};
use netobserv_agent::exporter::{self, ExporterConfig};
use netobserv_agent::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;

fn batch(b: u64, n: u64) -> Vec<pbflow::Record> {
    (0..n)
        .map(|i| pbflow::Record {
            bytes: b * 100 + i,
            packets: 1,
            ..Default::default()
        })
        .collect()
}

#[tokio::test]
async fn collector_outage_loses_nothing_up_to_the_bound_and_counts_the_rest() {
    let port = free_port();
    let metrics = Arc::new(Metrics::new("ebpf_agent_"));
    let (sd_tx, sd_rx) = tokio::sync::watch::channel(false);
    let mut cfg = ExporterConfig::new("127.0.0.1", port, 4, 3);
    cfg.min_backoff = Duration::from_millis(20);
    cfg.max_backoff = Duration::from_millis(100);
    let (queue, task) = exporter::start(cfg, metrics.clone(), sd_rx).unwrap();

    // Batch 0 goes in flight and keeps failing while nobody listens.
    assert!(queue.push(batch(0, 5)));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while metrics.export_errors.get() == 0 {
        assert!(std::time::Instant::now() < deadline, "exporter never tried");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Three more fit in the queue; the next six are dropped.
    for b in 1..=9 {
        let queued = queue.push(batch(b, 5));
        assert_eq!(queued, b <= 3, "batch {b}");
    }
    assert_eq!(metrics.dropped_flows("limiter", "full").get(), 30);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let collector = TestCollector::start(port).await;
    collector.wait_for(20, 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut got: Vec<u64> = collector.snapshot().iter().map(|r| r.bytes).collect();
    got.sort_unstable();
    let want: Vec<u64> = (0..=3)
        .flat_map(|b| (0..5).map(move |i| b * 100 + i))
        .collect();
    assert_eq!(
        got, want,
        "exactly the batches within the bound arrive, once each"
    );
    let calls = collector.calls.lock().unwrap().clone();
    assert!(
        calls.iter().all(|n| *n <= 4),
        "GRPC_MESSAGE_MAX_FLOWS respected: {calls:?}"
    );
    assert_eq!(metrics.exported_flows.get(), 20);
    assert_eq!(metrics.dropped_total(), 30, "drop counter equals the loss");

    sd_tx.send(true).unwrap();
    drop(queue);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("exporter stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn batches_are_split_to_the_message_limit() {
    let collector = TestCollector::start(0).await;
    let metrics = Arc::new(Metrics::new("ebpf_agent_"));
    let (_sd_tx, sd_rx) = tokio::sync::watch::channel(false);
    let cfg = ExporterConfig::new("127.0.0.1", collector.port, 10, 2);
    let (queue, _task) = exporter::start(cfg, metrics.clone(), sd_rx).unwrap();
    assert!(queue.push(batch(1, 25)));
    collector.wait_for(25, 10).await;
    let calls = collector.calls.lock().unwrap().clone();
    assert_eq!(calls, vec![10, 10, 5]);
    assert_eq!(metrics.exported_batches.get(), 3);
}
