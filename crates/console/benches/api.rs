//! Console API latency over HTTP on a flow store (not a timed test): the routes the UI calls on
//! page load, through the real router and the store source, on loopback.
//!
//! Run by `scripts/bench-store` after the store bench has left `BENCH_DIR/bench.db` (1M flows by
//! default); `BENCH_QUERIES` requests per route (default 200). The store's time span is read
//! from the file, and windows end at its newest flow.
#![allow(clippy::expect_used, missing_docs)]

use netobserv_console::api::{AppState, router};
use netobserv_console::client::{Client, ClientSettings, encode};
use netobserv_console::config::Config;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let dir = std::env::var("BENCH_DIR").unwrap_or_else(|_| "/tmp/fsb1m".into());
    let path = std::path::Path::new(&dir).join("bench.db");
    if !path.exists() {
        eprintln!(
            "no store at {} (run the flowstore bench with BENCH_DIR={dir} first)",
            path.display()
        );
        return;
    }
    let queries: usize = std::env::var("BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let reader = netobserv_flowstore::Reader::open(&path).expect("store");
    let flows = reader.count().expect("count");
    let newest = reader.time_bounds().expect("time bounds").map(|(_, hi)| hi);
    drop(reader);
    let Some(end_ms) = newest else {
        eprintln!("empty store");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = Config::parse(&format!("store:\n  path: {}\n", path.display())).expect("config");
    let state = AppState::new(&config).expect("state");
    let port = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router(Arc::new(state))).await;
        });
        port
    });
    let client = Client::new(
        "console",
        ClientSettings {
            timeout: Duration::from_secs(30),
            ..ClientSettings::default()
        },
    )
    .expect("client");
    let quick = encode(r#"K8S_FlowLayer="app"&SrcK8S_Type="Pod"&DstK8S_Type="Pod""#);
    println!(
        "settings: HTTP on loopback, store of {flows} flows ({}), {queries} requests per route, 5-minute windows ending up to an hour before the newest flow, the console's default quick filters",
        path.display()
    );
    let routes: Vec<(&str, String)> = vec![
        ("flow table page (100 records)", format!("/api/loki/flow/records?limit=100&filters={quick}")),
        ("topology by namespace", format!("/api/flow/metrics?aggregateBy=namespace&type=Bytes&function=rate&step=30s&filters={quick}")),
        ("topology by owner", format!("/api/flow/metrics?aggregateBy=owner&type=Bytes&function=rate&step=30s&filters={quick}")),
        ("topology by resource", format!("/api/flow/metrics?aggregateBy=resource&type=Bytes&function=rate&step=30s&filters={quick}")),
        ("overview: top byte rates by namespace", "/api/flow/metrics?aggregateBy=namespace&type=Bytes&function=rate&step=30s".to_string()),
        ("overview: dropped packets by cause", "/api/flow/metrics?aggregateBy=PktDropLatestDropCause&type=PktDropPackets&function=rate&step=30s".to_string()),
        ("overview: DNS latency by response code", "/api/flow/metrics?aggregateBy=DnsFlagsResponseCode&type=DnsLatencyMs&function=avg&step=30s".to_string()),
        ("overview: RTT p99 by namespace", "/api/flow/metrics?aggregateBy=SrcK8S_Namespace&type=TimeFlowRttNs&function=p99&step=30s".to_string()),
    ];
    for (name, route) in routes {
        let mut times = Vec::with_capacity(queries);
        let mut bytes = 0;
        for i in 0..queries {
            let end_s = (end_ms - (i as i64 * 37_000) % 3_300_000) / 1000;
            let url = format!(
                "http://127.0.0.1:{port}{route}&startTime={}&endTime={end_s}",
                end_s - 300
            );
            let t = Instant::now();
            let body = runtime
                .block_on(client.get(&url, None))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            times.push(t.elapsed());
            bytes += body.len();
        }
        times.sort();
        let pct =
            |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
        println!(
            "  {name}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} KiB per answer)",
            pct(0.5),
            pct(0.95),
            pct(1.0),
            bytes / queries.max(1) / 1024
        );
    }
}
