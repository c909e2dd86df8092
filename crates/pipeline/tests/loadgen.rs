//! The load generator against a real `pbflow.Collector` server (our gRPC ingest on loopback): it
//! delivers what it reports, at about the requested rate, over the requested distinct flows.

use netobserv_pipeline::ingest::grpc::GrpcIngest;
use std::collections::HashSet;
use std::time::Duration;

#[test]
fn loadgen_delivers_what_it_reports() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
    let ingest = runtime
        .block_on(GrpcIngest::start(
            "127.0.0.1:0".parse().expect("addr"),
            tx,
            Duration::from_secs(5),
        ))
        .expect("binds");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_netobserv-loadgen"))
        .args(["--target", &ingest.local_addr.to_string()])
        .args([
            "--rate",
            "4000",
            "--batch",
            "500",
            "--flows",
            "2000",
            "--duration",
            "2",
        ])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8_lossy(&output.stdout).to_string();
    let sent: u64 = report
        .split("sent ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in `{report}`"));
    assert!(report.contains(", 0 flows failed"), "{report}");
    // 4000 flows/s for 2 s, with the first tick immediate: 8000 give or take a batch or two.
    assert!((7000..=9000).contains(&sent), "{report}");
    let mut received = 0u64;
    let mut distinct = HashSet::new();
    while let Ok(batch) = rx.try_recv() {
        let batch = batch.into_records();
        received += batch.len() as u64;
        for r in batch {
            distinct.insert((
                r.get("SrcAddr").map(|v| v.to_text()),
                r.get("DstAddr").map(|v| v.to_text()),
                r.get("SrcPort").map(|v| v.to_text()),
            ));
        }
    }
    assert_eq!(
        received, sent,
        "the collector got exactly what the generator reports"
    );
    assert_eq!(distinct.len(), 2000);
    runtime.block_on(ingest.stop());
}
