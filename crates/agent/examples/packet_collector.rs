//! A `pbpacket.Collector` writing what it receives to a pcapng file (the test collector of
//! `tests/common/packets.rs`), for `scripts/bench-capture` and for trying packet mode by hand:
//! `packet_collector PORT OUT.pcapng [SNAPLEN]`. Each packet gets the Kubernetes-style comments of
//! a fixed table (10.198.0.1 and 10.198.0.2, the bench's two ends, as pods), looked up once per
//! address pair as a collector enriching per flow would, so that writing them is part of the
//! cost. Prints `received=N refused=M` every second; SIGINT or SIGTERM
//! flushes the file and exits.

#[path = "../tests/common/packets.rs"]
mod packets;

use pcapng::enrichment::{Endpoint, Enrichment};
use tokio::signal::unix::{SignalKind, signal};

fn pod(ip: &[u8]) -> Endpoint {
    let (name, owner, node) = match ip {
        [10, 198, 0, 1] => ("sender-6c4d", "sender", "node-a"),
        [10, 198, 0, 2] => ("receiver-0", "receiver", "node-b"),
        _ => return Endpoint::default(),
    };
    Endpoint {
        namespace: "bench".into(),
        name: name.into(),
        kind: "Pod".into(),
        owner_name: owner.into(),
        owner_kind: "Deployment".into(),
        host_name: node.into(),
        ..Endpoint::default()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 && args.len() != 4 {
        return Err("usage: packet_collector PORT OUT.pcapng [SNAPLEN]".into());
    }
    let port: u16 = args[1].parse()?;
    let snaplen: u32 = args.get(3).map_or(Ok(0), |s| s.parse())?;
    let enrich = packets::per_address_pair(|frame: &[u8]| {
        if frame.len() < 34 || frame[12..14] != [0x08, 0x00] {
            return Enrichment::default();
        }
        Enrichment {
            source: pod(&frame[26..30]),
            destination: pod(&frame[30..34]),
            common: Vec::new(),
        }
    });
    let collector =
        packets::PacketCollector::start(port, std::path::Path::new(&args[2]), snaplen, enrich)
            .await;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => println!("received={} refused={}", collector.received(), collector.refused()),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    let (received, refused) = (collector.received(), collector.refused());
    collector.finish();
    println!("received={received} refused={refused}");
    Ok(())
}
