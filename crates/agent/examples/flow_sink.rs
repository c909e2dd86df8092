//! A `pbflow.Collector` that only counts what it receives, for `scripts/bench-agent`.
//! Usage: `flow_sink PORT`; prints `records=N calls=M udp_records=U udp_packets=P` to stdout
//! every second (the UDP figures count the benchmark's load: UDP records and their packets).

use pbflow::collector_server::{Collector, CollectorServer};
use pbflow::{CollectorReply, Records};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Clone)]
struct Sink {
    records: Arc<AtomicU64>,
    calls: Arc<AtomicU64>,
    udp_records: Arc<AtomicU64>,
    udp_packets: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl Collector for Sink {
    async fn send(
        &self,
        req: tonic::Request<Records>,
    ) -> Result<tonic::Response<CollectorReply>, tonic::Status> {
        let entries = req.into_inner().entries;
        let n = entries.len() as u64;
        let (mut ur, mut up) = (0, 0);
        for r in &entries {
            if r.transport.as_ref().is_some_and(|t| t.protocol == 17) {
                ur += 1;
                up += r.packets;
            }
        }
        self.udp_records.fetch_add(ur, Ordering::Relaxed);
        self.udp_packets.fetch_add(up, Ordering::Relaxed);
        self.records.fetch_add(n, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(tonic::Response::new(CollectorReply {}))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or("usage: flow_sink PORT")?
        .parse()?;
    let sink = Sink::default();
    let (r, c) = (sink.records.clone(), sink.calls.clone());
    let (ur, up) = (sink.udp_records.clone(), sink.udp_packets.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            println!(
                "records={} calls={} udp_records={} udp_packets={}",
                r.load(Ordering::Relaxed),
                c.load(Ordering::Relaxed),
                ur.load(Ordering::Relaxed),
                up.load(Ordering::Relaxed)
            );
        }
    });
    tonic::transport::Server::builder()
        .add_service(CollectorServer::new(sink))
        .serve(([127, 0, 0, 1], port).into())
        .await?;
    Ok(())
}
