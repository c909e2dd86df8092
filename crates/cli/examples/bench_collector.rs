//! The flow collector for `scripts/bench-cli-collector`: `bench_collector PORT OUTDIR SECONDS
//! [PODS]` collects for SECONDS (or until SIGINT/SIGTERM) into OUTDIR's JSON and flow store,
//! enriching with an index of PODS pods (default 8192) on the addresses `netobserv-loadgen` uses
//! (10.128.0.0/20 and 10.129.0.0/20), as the collector in a cluster would with its watchers'
//! index; then prints `flows=N bytes=B elapsed_s=S`.

use k8s_openapi::api::core::v1::Pod;
use kubectl_netobserv::collector::enrich::{KubeNames, network_config};
use kubectl_netobserv::collector::files::OutputPaths;
use kubectl_netobserv::collector::{Progress, flows};
use netobserv_pipeline::transform::NetworkStage;
use netobserv_pipeline::transform::kubernetes::KubeIndex;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

fn pod(i: u32) -> Result<Pod, serde_json::Error> {
    let ip = std::net::Ipv4Addr::from(if i < 4096 {
        0x0A80_0000 | i
    } else {
        0x0A81_0000 | (i - 4096)
    });
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": format!("ns-{}", i % 50)},
        "spec": {"nodeName": format!("node-{}", i % 20), "containers": [{"name": "c"}]},
        "status": {"hostIP": "172.18.0.2", "podIP": ip.to_string(), "podIPs": [{"ip": ip.to_string()}]}
    }))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .init();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: bench_collector PORT OUTDIR SECONDS [PODS]".into());
    }
    let port: u16 = args[1].parse()?;
    let secs: u64 = args[3].parse()?;
    let pods: u32 = args.get(4).map_or(Ok(8192), |s| s.parse())?;
    let settings = NetworkStage::kube_index_settings(&network_config())?;
    let mut index = KubeIndex::new(settings);
    for i in 0..pods.min(8192) {
        index.apply(&pod(i)?);
    }
    let progress = Arc::new(Progress::default());
    let capture = flows::FlowCapture {
        addr: format!("127.0.0.1:{port}").parse()?,
        paths: OutputPaths::new(std::path::Path::new(&args[2]), SystemTime::now()),
        max_time: Duration::from_secs(secs),
        max_bytes: u64::MAX,
        names: KubeNames::Index(Arc::new(RwLock::new(index))),
        query: None,
        subnet_labels: Vec::new(),
        observer: None,
    };
    let stop = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    let summary = flows::run(capture, progress, stop, |_| {}).await?;
    println!(
        "flows={} bytes={} elapsed_s={:.2} store_failed_rows={}",
        summary.items,
        summary.bytes,
        summary.elapsed.as_secs_f64(),
        summary.store_failed_rows
    );
    Ok(())
}
