//! Where the flow collector's CPU goes, stage by stage (a profile, not a test):
//! `collector_stages [FLOWS] [PODS]` builds FLOWS synthetic pbflow records (the shape
//! `netobserv-loadgen` sends, batches of 1000), then times, single-threaded, each step the
//! collector runs on them: protobuf decoding, pbflow -> record, Kubernetes enrichment (an index of
//! PODS pods on the load's addresses), the JSON line, the store row, and the store's
//! transaction (raw rows + rollups, on a file under /tmp). Prints CPU ns per flow for each
//! (thread CPU time, so other processes on the machine do not count).

use k8s_openapi::api::core::v1::Pod;
use kubectl_netobserv::collector::enrich::{FlowStages, KubeNames, network_config};
use kubectl_netobserv::collector::files::JsonArray;
use netobserv_flowstore::{Store, StoreOptions};
use netobserv_pipeline::decode::record_from_pbflow;
use netobserv_pipeline::transform::NetworkStage;
use netobserv_pipeline::transform::kubernetes::KubeIndex;
use netobserv_pipeline::write::sqlite::row_of;
use prost::Message;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BATCH: usize = 1000;

fn pod(i: u32) -> Result<Pod, serde_json::Error> {
    let ip = Ipv4Addr::from(if i < 4096 {
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

/// The flow `netobserv-loadgen` sends as number `i`.
fn flow(i: usize, now: SystemTime) -> pbflow::Record {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let ts = |offset_ms: u64| {
        let t = since.saturating_sub(Duration::from_millis(offset_ms));
        prost_types::Timestamp {
            seconds: t.as_secs() as i64,
            nanos: t.subsec_nanos() as i32,
        }
    };
    let n = i as u32;
    let src = Ipv4Addr::from(0x0A80_0000 | (n % 4096));
    let dst = Ipv4Addr::from(0x0A81_0000 | ((n / 4096) % 4096));
    pbflow::Record {
        eth_protocol: 0x0800,
        direction: (i % 2) as i32,
        time_flow_start: Some(ts(5000)),
        time_flow_end: Some(ts(0)),
        data_link: Some(pbflow::DataLink {
            src_mac: 0x0a58_0a80_0000 | u64::from(n % 4096),
            dst_mac: 0x0a58_0a81_0000 | u64::from(n % 4096),
        }),
        network: Some(pbflow::Network {
            src_addr: Some(pbflow::Ip::from_addr(IpAddr::V4(src))),
            dst_addr: Some(pbflow::Ip::from_addr(IpAddr::V4(dst))),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 1024 + (n % 60_000),
            dst_port: [80, 443, 8080, 53][i % 4],
            protocol: if i % 4 == 3 { 17 } else { 6 },
        }),
        bytes: 64 + (i as u64 % 1400),
        packets: 1 + (i as u64 % 10),
        interface: "eth0".into(),
        agent_ip: Some(pbflow::Ip::from_addr(IpAddr::V4(Ipv4Addr::new(
            172, 18, 0, 2,
        )))),
        flags: 0x12,
        sampling: 1,
        time_flow_rtt: Some(prost_types::Duration {
            seconds: 0,
            nanos: 50_000 + (i as i32 % 100_000),
        }),
        ..pbflow::Record::default()
    }
}

/// CPU time of this thread (the machine is shared: wall time would count other processes).
fn cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Instant(Duration);

impl Instant {
    fn now() -> Self {
        Self(cpu())
    }
    fn elapsed(&self) -> Duration {
        cpu().saturating_sub(self.0)
    }
}

fn report(name: &str, d: Duration, flows: usize) {
    println!(
        "{name:<28} {:>8.0} ns/flow",
        d.as_nanos() as f64 / flows as f64
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flows: usize = args.get(1).map_or(Ok(200_000), |s| s.parse())?;
    let pods: u32 = args.get(2).map_or(Ok(8192), |s| s.parse())?;
    let settings = NetworkStage::kube_index_settings(&network_config())?;
    let mut index = KubeIndex::new(settings);
    for i in 0..pods.min(8192) {
        index.apply(&pod(i)?);
    }
    let names = KubeNames::Index(Arc::new(RwLock::new(index)));
    let now = SystemTime::now();
    let wire: Vec<Vec<u8>> = (0..flows / BATCH)
        .map(|b| {
            pbflow::Records {
                entries: (0..BATCH).map(|i| flow(b * BATCH + i, now)).collect(),
            }
            .encode_to_vec()
        })
        .collect();
    let n = wire.len() * BATCH;
    println!("{n} flows in batches of {BATCH}, {pods} pods indexed");

    let t = Instant::now();
    let decoded: Vec<pbflow::Records> = wire
        .iter()
        .map(|w| pbflow::Records::decode(w.as_slice()))
        .collect::<Result<_, _>>()?;
    report("protobuf decode", t.elapsed(), n);

    let t = Instant::now();
    let records: Vec<Vec<_>> = decoded
        .iter()
        .map(|b| b.entries.iter().map(|f| record_from_pbflow(f, 0)).collect())
        .collect();
    report("pbflow -> record", t.elapsed(), n);

    let mut stages = FlowStages::new(&names, None, &[])?;
    let t = Instant::now();
    let enriched: Vec<Vec<_>> = records
        .into_iter()
        .map(|b: Vec<_>| b.into_iter().filter_map(|r| stages.apply(r)).collect())
        .collect();
    report("kubernetes enrichment", t.elapsed(), n);

    let dir = std::env::temp_dir().join(format!("collector-stages-{}", std::process::id()));
    let mut json = JsonArray::create(&dir.join("flows.json"))?;
    let t = Instant::now();
    for b in &enriched {
        for r in b {
            json.push(&serde_json::to_vec(&r.sorted())?)?;
        }
    }
    json.finish()?;
    report("JSON line + write", t.elapsed(), n);

    let t = Instant::now();
    let rows: Vec<Vec<_>> = enriched
        .iter()
        .map(|b| b.iter().map(row_of).collect())
        .collect();
    report("record -> store row", t.elapsed(), n);

    let rows: Vec<_> = rows.into_iter().flatten().collect();
    for (name, rollups) in [
        ("store transaction (rollups)", true),
        ("store transaction (raw)", false),
    ] {
        let options = StoreOptions {
            rollups,
            ..StoreOptions::default()
        };
        let mut store = Store::open(&dir.join(format!("flows-{rollups}.db")), options)?;
        let t = Instant::now();
        for chunk in rows.chunks(10_000) {
            store.insert(chunk)?;
        }
        report(name, t.elapsed(), n);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
