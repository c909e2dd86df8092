//! A `pbflow.Collector` that only counts what it receives, for `scripts/bench-agent`.
//! Usage: `flow_sink PORT`; prints `records=N calls=M` to stdout every second.

use pbflow::collector_server::{Collector, CollectorServer};
use pbflow::{CollectorReply, Records};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Clone)]
struct Sink {
    records: Arc<AtomicU64>,
    calls: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl Collector for Sink {
    async fn send(
        &self,
        req: tonic::Request<Records>,
    ) -> Result<tonic::Response<CollectorReply>, tonic::Status> {
        let n = req.into_inner().entries.len() as u64;
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
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            println!(
                "records={} calls={}",
                r.load(Ordering::Relaxed),
                c.load(Ordering::Relaxed)
            );
        }
    });
    tonic::transport::Server::builder()
        .add_service(CollectorServer::new(sink))
        .serve(([127, 0, 0, 1], port).into())
        .await?;
    Ok(())
}
