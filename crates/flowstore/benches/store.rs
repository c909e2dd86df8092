//! Flow store benchmark (not a timed test): ingest rate on one core, then query latency on a
//! store of `BENCH_FLOWS` flows (default 1,000,000) as the console issues them.
//!
//! Run with `scripts/bench-store` (or `cargo bench -p netobserv-flowstore --bench store`).
//! Settings come from the environment: `BENCH_FLOWS`, `BENCH_SPAN_S` (time the flows cover,
//! default 3600), `BENCH_BATCH` (rows per transaction, default 10000), `BENCH_QUERIES` (per
//! query kind, default 200), `BENCH_INGEST_FLOWS` (default 500000), `BENCH_DIR` (default a
//! temporary directory).
#![allow(clippy::expect_used, missing_docs)]

use netobserv_flowstore::filter::Filters;
use netobserv_flowstore::query::{
    MetricFunction, MetricType, MetricsQuery, PacketLoss, RecordType, RecordsQuery, Selection,
    TimeRange,
};
use netobserv_flowstore::synth::{self, Shape};
use netobserv_flowstore::{FlowRow, Reader, Store, StoreOptions};
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let flows = env("BENCH_FLOWS", 1_000_000);
    let span_s = env("BENCH_SPAN_S", 3600) as i64;
    let batch = env("BENCH_BATCH", 10_000) as usize;
    let queries = env("BENCH_QUERIES", 200) as usize;
    let dir = std::env::var("BENCH_DIR").map_or_else(
        |_| std::env::temp_dir().join(format!("flowstore-bench-{}", std::process::id())),
        std::path::PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join("bench.db");
    // BENCH_REUSE=1 keeps the store of a previous run (same settings) and only runs the queries.
    let reuse = std::env::var("BENCH_REUSE").is_ok() && path.exists();
    if !reuse {
        let _ = std::fs::remove_file(&path);
    }
    let shape = Shape::default();
    println!(
        "settings: flows={flows} span={span_s}s batch={batch} rows/transaction, rollup bucket=30s, \
         shape={} namespaces x {} workloads x {} pods on {} nodes, file={}",
        shape.namespaces,
        shape.workloads,
        shape.pods,
        shape.nodes,
        path.display()
    );

    let start_ms: i64 = 1_700_000_000_000;

    if !reuse {
        load(&dir, &path, flows, span_s, batch, shape, start_ms);
    }
    query(&path, flows, span_s, queries, start_ms);
    if std::env::var("BENCH_DIR").is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Measures ingest on a fresh file, then loads the history the queries run on.
fn load(
    dir: &std::path::Path,
    path: &std::path::Path,
    flows: u64,
    span_s: i64,
    batch: usize,
    shape: Shape,
    start_ms: i64,
) {
    // Ingest: flows stamped as they would arrive at 100k flows/s (a batch covers a fraction of a
    // rollup bucket, as in a live pipeline), into a fresh file.
    let ingest_flows = env("BENCH_INGEST_FLOWS", 500_000);
    let ingest_path = dir.join("ingest.db");
    let _ = std::fs::remove_file(&ingest_path);
    let (rows, convert) = rows_for(
        ingest_flows,
        start_ms,
        (ingest_flows as i64 * 1000) / 100_000,
        shape,
    );
    let mut store = Store::open(&ingest_path, StoreOptions::default()).expect("store");
    let t = Instant::now();
    let cpu0 = thread_cpu();
    for b in rows.chunks(batch) {
        store.insert(b).expect("insert");
    }
    let insert = t.elapsed();
    let insert_cpu = thread_cpu().saturating_sub(cpu0);
    drop(store);
    let size = std::fs::metadata(&ingest_path).map_or(0, |m| m.len());
    println!(
        "ingest: {:.0} flows per CPU-second of the writer thread ({:.0} flows/s wall clock on this \
         shared machine; {ingest_flows} flows stamped at 100k flows/s; insert + rollups of 4 levels \
         + the time index, one writer thread, {batch} rows/transaction, WAL, synchronous=NORMAL); \
         converting JSON records to rows: {:.0} flows/s on one core; file {:.1} MiB ({:.0} B/flow); lost 0",
        ingest_flows as f64 / insert_cpu.as_secs_f64().max(1e-9),
        ingest_flows as f64 / insert.as_secs_f64(),
        ingest_flows as f64 / convert.as_secs_f64(),
        size as f64 / 1_048_576.0,
        size as f64 / ingest_flows as f64,
    );
    drop(rows);
    let _ = std::fs::remove_file(&ingest_path);

    // History for the query latencies: `flows` flows over `span_s`.
    let mut store = Store::open(path, StoreOptions::default()).expect("store");
    let chunk = 100_000u64;
    let mut done = 0u64;
    let t = Instant::now();
    while done < flows {
        let n = chunk.min(flows - done);
        let sub_start = start_ms + (done as i64 * span_s * 1000) / flows as i64;
        let sub_span = (n as i64 * span_s * 1000) / flows as i64;
        let (rows, _) = rows_for(n, sub_start, sub_span.max(1), shape);
        for b in rows.chunks(batch) {
            store.insert(b).expect("insert");
        }
        done += n;
    }
    drop(store);
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    println!(
        "history: {flows} flows over {span_s}s loaded in {:.1}s ({:.0} flows/s: sparse in time, so \
         more rollup rows per flow than live ingest); file {:.1} MiB",
        t.elapsed().as_secs_f64(),
        flows as f64 / t.elapsed().as_secs_f64(),
        size as f64 / 1_048_576.0
    );
}

/// One run of a query kind: its index picks the window; returns the rows or series answered.
type Run<'a> = Box<dyn Fn(usize) -> usize + 'a>;

/// The console's default quick filters (applications, pod to pod).
const QUICK: &str = r#"K8S_FlowLayer="app"&SrcK8S_Type="Pod"&DstK8S_Type="Pod""#;

/// Query windows over the stored span: `end_ms` is where the data ends.
struct Windows {
    end_ms: i64,
    span_s: i64,
}

impl Windows {
    /// A `len_s` window for query `i`. Windows end at different points of the data, like a
    /// user moving through time.
    fn window(&self, len_s: i64, i: usize) -> TimeRange {
        let end = self.end_ms - ((i as i64 * 37_000) % (self.span_s * 1000 - len_s * 1000).max(1));
        TimeRange {
            start_ms: end - len_s * 1000,
            end_ms: end,
        }
    }
}

/// A flow-log selection of `filters` (console syntax) over `range`.
fn sel(filters: &str, range: TimeRange) -> Selection {
    Selection {
        filters: Filters::parse(filters).expect("filters"),
        range,
        record_type: RecordType::FlowLog,
        packet_loss: PacketLoss::All,
    }
}

/// A metrics query the console issues: its label, filters, window and aggregation.
struct MetricsKind {
    name: &'static str,
    filters: &'static str,
    window_s: i64,
    labels: &'static [&'static str],
    metric_type: MetricType,
    function: MetricFunction,
    step_s: i64,
}

/// The topology and overview queries, in the order they are reported: the console's defaults
/// (last 5 minutes, step 30 s, top 50), then the same over the last `hour` seconds.
fn metrics_kinds(hour: i64) -> Vec<MetricsKind> {
    use MetricFunction::{Avg, P99, Rate};
    use MetricType::{Bytes, DnsLatencyMs, PktDropPackets, TimeFlowRttNs};
    let scope = |name: &str| netobserv_flowstore::query::scope_labels(name).expect("scope");
    let (ns, owner, resource) = (scope("namespace"), scope("owner"), scope("resource"));
    let kind = |name, filters, window_s, (labels, metric_type, function, step_s)| MetricsKind {
        name,
        filters,
        window_s,
        labels,
        metric_type,
        function,
        step_s,
    };
    vec![
        kind(
            "topology namespaces, bytes rate, quick filters (last 5 min, step 30s)",
            QUICK,
            300,
            (ns, Bytes, Rate, 30),
        ),
        kind(
            "topology owners, bytes rate, quick filters (last 5 min, step 30s)",
            QUICK,
            300,
            (owner, Bytes, Rate, 30),
        ),
        kind(
            "topology resources (raw flows), bytes rate, quick filters (last 5 min, step 30s)",
            QUICK,
            300,
            (resource, Bytes, Rate, 30),
        ),
        kind(
            "overview: drops by cause (last 5 min, step 30s)",
            "",
            300,
            (&["PktDropLatestDropCause"], PktDropPackets, Rate, 30),
        ),
        kind(
            "overview: DNS latency avg by rcode (last 5 min, step 30s)",
            "",
            300,
            (&["DnsFlagsResponseCode"], DnsLatencyMs, Avg, 30),
        ),
        kind(
            "overview: RTT p99 by namespace, raw flows (last 5 min, step 30s)",
            "",
            300,
            (&["SrcK8S_Namespace"], TimeFlowRttNs, P99, 30),
        ),
        kind(
            "topology namespaces, bytes rate, no filter (last 1 h, step 60s)",
            "",
            hour,
            (ns, Bytes, Rate, 60),
        ),
        kind(
            "topology owners, bytes rate, quick filters (last 1 h, step 60s)",
            QUICK,
            hour,
            (owner, Bytes, Rate, 60),
        ),
        kind(
            "overview: drops by cause (last 1 h, step 60s)",
            "",
            hour,
            (&["PktDropLatestDropCause"], PktDropPackets, Rate, 60),
        ),
    ]
}

/// Every query kind, named as reported: flow table pages (limit 100, last 5 minutes), then
/// the metrics queries. Each run parses its filters, as the console does per request.
fn query_kinds<'a>(
    reader: &'a Reader,
    windows: &'a Windows,
    hour: i64,
) -> Vec<(&'static str, Run<'a>)> {
    let page = move |filters: String, i: usize| {
        reader
            .records(&RecordsQuery {
                selection: sel(&filters, windows.window(300, i)),
                limit: 100,
            })
            .expect("records")
            .records
            .len()
    };
    let mut kinds: Vec<(&str, Run)> = vec![
        (
            "flow table page (limit 100, last 5 min)",
            Box::new(move |i| page(String::new(), i)),
        ),
        (
            "flow table page, quick filters + one namespace (limit 100, last 5 min)",
            Box::new(move |i| page(format!("{QUICK}&SrcK8S_Namespace=\"ns-{}\"", i % 20), i)),
        ),
    ];
    for k in metrics_kinds(hour) {
        let run: Run = Box::new(move |i| {
            metrics(
                reader,
                sel(k.filters, windows.window(k.window_s, i)),
                k.labels,
                k.metric_type,
                k.function,
                k.step_s,
            )
        });
        kinds.push((k.name, run));
    }
    kinds
}

/// Runs one query kind `queries` times and prints its wall-clock and CPU percentiles.
fn time_kind(name: &str, run: &Run, queries: usize) {
    let mut times = Vec::with_capacity(queries);
    let mut cpu = Vec::with_capacity(queries);
    let mut results = 0;
    for i in 0..queries {
        let (t, c) = (Instant::now(), thread_cpu());
        results += run(i);
        times.push(t.elapsed());
        cpu.push(thread_cpu().saturating_sub(c));
    }
    times.sort();
    cpu.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  {name}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms wall clock; CPU p50 {:.2} ms, p95 {:.2} ms ({} rows/series per answer on average)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        times.last().map_or(0.0, |d| ms(*d)),
        ms(percentile(&cpu, 0.5)),
        ms(percentile(&cpu, 0.95)),
        results / queries.max(1),
    );
}

/// Query latency on the store at `path`, `queries` runs of every kind the console issues.
fn query(path: &std::path::Path, flows: u64, span_s: i64, queries: usize, start_ms: i64) {
    let _ = flows;
    let reader = Reader::open(path).expect("reader");
    let windows = Windows {
        end_ms: start_ms + span_s * 1000,
        span_s,
    };
    let hour = 3600.min(span_s);
    let kinds = query_kinds(&reader, &windows, hour);
    println!(
        "queries: {queries} per kind, store of {} flows",
        reader.count().expect("count")
    );
    for (name, run) in &kinds {
        time_kind(name, run, queries);
    }
    println!(
        "  (wall clock includes waiting for a core: this machine is shared; CPU is the query's own cost)"
    );
}

/// CPU time of the calling thread (user + system), from `/proc/thread-self/schedstat`, so the
/// per-core figure holds on a machine other builds share.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Rows for `n` synthetic flows, and the time spent converting them from JSON.
fn rows_for(n: u64, start_ms: i64, span_ms: i64, shape: Shape) -> (Vec<FlowRow>, Duration) {
    let mut rows = Vec::with_capacity(n as usize);
    let mut convert = Duration::ZERO;
    let mut done = 0;
    while done < n {
        let k = 50_000.min(n - done);
        let sub_start = start_ms + (done as i64 * span_ms) / n as i64;
        let records = synth::flows(
            k,
            1 + done,
            sub_start,
            ((k as i64 * span_ms) / n as i64).max(1),
            shape,
        );
        let t = Instant::now();
        rows.extend(records.iter().map(FlowRow::from_json));
        convert += t.elapsed();
        done += k;
    }
    (rows, convert)
}

fn metrics(
    reader: &Reader,
    selection: Selection,
    labels: &[&'static str],
    t: MetricType,
    f: MetricFunction,
    step_s: i64,
) -> usize {
    reader
        .metrics(&MetricsQuery {
            selection,
            labels: labels.to_vec(),
            metric_type: t,
            function: f,
            step_s,
            rate_interval_s: 60,
            limit: 50,
        })
        .expect("metrics")
        .series
        .len()
}
