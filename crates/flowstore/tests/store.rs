//! The store end to end on files: written in batches, read back (records round-trip field for
//! field), rollups equal to raw aggregation and to sums computed here from the input, retention
//! by age and size, and capture files made by the `sqlite3` CLI (the CLI's own table and the
//! documented schema) opened read-only.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use netobserv_flowstore::filter::Filters;
use netobserv_flowstore::query::scope_labels;
use netobserv_flowstore::query::{
    MetricFunction, MetricType, MetricsQuery, PacketLoss, RecordType, RecordsQuery, Selection,
    TimeRange,
};
use netobserv_flowstore::synth::{self, Shape};
use netobserv_flowstore::{
    BackgroundWriter, BatchOptions, FlowRow, Reader, Retention, Store, StoreOptions,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The console's resource scope (the widest label set the rollups answer).
fn resource() -> &'static [&'static str] {
    scope_labels("resource").expect("scope")
}

const START: i64 = 1_700_000_000_000;
const SPAN: i64 = 600_000;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowstore-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("flows.db")
}

fn fill(path: &Path, records: &[Map<String, Value>]) {
    let options = StoreOptions {
        peer_rollup: true,
        ..StoreOptions::default()
    };
    let mut store = Store::open(path, options).expect("opens");
    for chunk in records.chunks(1000) {
        let rows: Vec<FlowRow> = chunk.iter().map(FlowRow::from_json).collect();
        store.insert(&rows).expect("inserts");
    }
}

fn selection(filters: &str, range: TimeRange) -> Selection {
    Selection {
        filters: Filters::parse(filters).expect("filters"),
        range,
        record_type: RecordType::FlowLog,
        packet_loss: PacketLoss::All,
    }
}

const ALL: TimeRange = TimeRange {
    start_ms: START,
    end_ms: START + SPAN,
};

#[test]
fn records_round_trip_and_filters_select_the_right_ones() {
    let path = tmp("roundtrip");
    let mut records = synth::flows(5000, 7, START, SPAN, Shape::default());
    records[0].insert("SrcK8S_labels_app".into(), json!("web"));
    fill(&path, &records);
    let reader = Reader::open(&path).expect("opens read-only");
    assert_eq!(reader.count().expect("count"), 5000);
    assert_eq!(
        reader.time_bounds().expect("bounds"),
        Some((
            START,
            records[4999]["TimeFlowEndMs"].as_i64().expect("time")
        ))
    );

    // All of them, newest first, every field as written (Extra fields merged back).
    let got = reader
        .records(&RecordsQuery {
            selection: selection("", ALL),
            limit: 10_000,
        })
        .expect("records");
    assert!(!got.limit_reached);
    let mut want = records.clone();
    want.reverse();
    for (g, w) in got.records.iter().zip(&want) {
        let mut w = w.clone();
        // The CLI-compatible singular column is derived from the list.
        if let Some(Value::Array(ifs)) = w.get("Interfaces") {
            let joined: Vec<&str> = ifs.iter().filter_map(Value::as_str).collect();
            w.insert("Interface".into(), json!(joined.join(",")));
        }
        assert_eq!(g, &w);
    }

    // Filters select exactly the records a predicate here selects.
    type Pred = fn(&Map<String, Value>) -> bool;
    let cases: Vec<(&str, Pred)> = vec![
        (r#"SrcK8S_Namespace="ns-3""#, |r| {
            r["SrcK8S_Namespace"] == "ns-3"
        }),
        (r#"DstK8S_Type="Service"&DstPort=80"#, |r| {
            r.get("DstK8S_Type") == Some(&json!("Service")) && r.get("DstPort") == Some(&json!(80))
        }),
        ("NetworkEvents=deny", |r| r.contains_key("NetworkEvents")),
        (r#"network_events="drop""#, |r| {
            r.contains_key("NetworkEvents")
        }),
        ("XlatDstPort=8080&ZoneId=2", |r| {
            r.get("XlatDstPort") == Some(&json!(8080)) && r.get("ZoneId") == Some(&json!(2))
        }),
        ("DstAddr=203.0.113.0/28", |r| {
            r["DstAddr"]
                .as_str()
                .and_then(|a| a.strip_prefix("203.0.113."))
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| n < 16)
        }),
        ("DnsFlagsResponseCode=nxdomain|PktDropPackets>=5", |r| {
            r.get("DnsFlagsResponseCode") == Some(&json!("NXDomain"))
                || r.get("PktDropPackets").and_then(Value::as_i64).unwrap_or(0) >= 5
        }),
        (r#"DstK8S_Namespace!="ns-1""#, |r| {
            r.get("DstK8S_Namespace") != Some(&json!("ns-1"))
        }),
        ("DnsName~^svc-1\\.", |r| {
            r.get("DnsName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("svc-1."))
        }),
    ];
    for (filters, pred) in cases {
        let got = reader
            .records(&RecordsQuery {
                selection: selection(filters, ALL),
                limit: 10_000,
            })
            .expect(filters);
        let want = records.iter().filter(|r| pred(r)).count();
        assert!(want > 0, "{filters} selects something in the fixture");
        assert_eq!(got.records.len(), want, "{filters}");
        assert!(got.records.iter().all(pred), "{filters}");
    }

    // A page: the newest `limit`, and the limit is reported.
    let page = reader
        .records(&RecordsQuery {
            selection: selection("", ALL),
            limit: 50,
        })
        .expect("page");
    assert!(page.limit_reached);
    assert_eq!(
        page.records[0]["TimeFlowEndMs"],
        records[4999]["TimeFlowEndMs"]
    );
}

fn query(labels: &[&'static str], t: MetricType, f: MetricFunction, step_s: i64) -> MetricsQuery {
    MetricsQuery {
        selection: selection("", ALL),
        labels: labels.to_vec(),
        metric_type: t,
        function: f,
        step_s,
        rate_interval_s: 60,
        limit: 1000,
    }
}

fn totals(series: &[netobserv_flowstore::query::Series]) -> BTreeMap<String, f64> {
    series
        .iter()
        .map(|s| (format!("{:?}", s.labels), s.total()))
        .collect()
}

/// The raw and rolled-up answers of `q` are the same series.
fn same_answer(reader: &Reader, q: &MetricsQuery) -> bool {
    let rolled = reader.metrics(q).expect("metrics");
    let raw = reader.metrics_with(q, false).expect("raw");
    totals(&rolled.series) == totals(&raw.series)
}

/// A store written before the `peer` level (no `rollup_levels` in its metadata) answers the
/// resource scope from raw flows, before and after a new writer appends to it, and the new
/// writer keeps its other levels.
#[test]
fn a_store_from_before_the_peer_level_reads_addresses_from_raw_flows() {
    let path = tmp("legacy-levels");
    let records = synth::flows(4_000, 5, START, SPAN, Shape::default());
    fill(&path, &records[..2_000]);
    // What an older build left: no level list, no peer rows.
    sqlite3(
        &path,
        "DELETE FROM store_meta WHERE key = 'rollup_levels'; DELETE FROM flow_rollup WHERE Level = 5;\n",
    );
    let count = |sql: &str| -> String {
        let out = std::process::Command::new("sqlite3")
            .arg(&path)
            .arg(sql)
            .output()
            .expect("sqlite3");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(
        count("SELECT count(*) FROM flow_rollup WHERE Level = 5"),
        "0"
    );
    let q = query(resource(), MetricType::Bytes, MetricFunction::Sum, 60);
    let ns = query(
        &["SrcK8S_Namespace", "DstK8S_Namespace"],
        MetricType::Bytes,
        MetricFunction::Sum,
        60,
    );
    let reader = Reader::open(&path).expect("opens");
    assert!(!reader.metrics(&q).expect("resource").from_rollup);
    assert!(reader.metrics(&ns).expect("namespace").from_rollup);
    drop(reader);
    fill(&path, &records[2_000..]);
    let reader = Reader::open(&path).expect("opens");
    assert!(!reader.metrics(&q).expect("resource").from_rollup);
    assert!(reader.metrics(&ns).expect("namespace").from_rollup);
    assert!(
        same_answer(&reader, &ns),
        "the old and new namespace rollups add up"
    );
    assert_eq!(
        count("SELECT count(*) FROM flow_rollup WHERE Level = 5"),
        "0"
    );
}

#[test]
fn rollups_agree_with_raw_flows_and_with_the_input() {
    let path = tmp("rollups");
    let records = synth::flows(20_000, 11, START, SPAN, Shape::default());
    fill(&path, &records);
    let reader = Reader::open(&path).expect("opens");
    let ns = ["SrcK8S_Namespace", "DstK8S_Namespace"];
    for (labels, t, f) in [
        (&ns[..], MetricType::Bytes, MetricFunction::Sum),
        (&ns[..], MetricType::Packets, MetricFunction::Rate),
        (
            &["SrcK8S_HostName", "DstK8S_HostName"][..],
            MetricType::Flows,
            MetricFunction::Count,
        ),
        (
            &["PktDropLatestDropCause"][..],
            MetricType::PktDropPackets,
            MetricFunction::Sum,
        ),
        (
            &["DnsFlagsResponseCode"][..],
            MetricType::DnsLatencyMs,
            MetricFunction::Avg,
        ),
        (
            &["DnsFlagsResponseCode"][..],
            MetricType::DnsLatencyMs,
            MetricFunction::Max,
        ),
        (
            &["SrcK8S_OwnerName"][..],
            MetricType::TimeFlowRttNs,
            MetricFunction::Min,
        ),
        (
            &["DstK8S_Type"][..],
            MetricType::DnsFlows,
            MetricFunction::Count,
        ),
        (resource(), MetricType::Bytes, MetricFunction::Sum),
        (
            scope_labels("process").expect("scope"),
            MetricType::Packets,
            MetricFunction::Rate,
        ),
    ] {
        let q = query(labels, t, f, 60);
        let rolled = reader.metrics(&q).expect("rollup");
        assert!(rolled.from_rollup, "{t:?} {f:?} reads the rollups");
        let raw = reader.metrics_with(&q, false).expect("raw");
        assert!(!raw.from_rollup);
        assert_eq!(rolled.series.len(), raw.series.len(), "{t:?} {f:?}");
        for (a, b) in rolled.series.iter().zip(&raw.series) {
            assert_eq!(a.labels, b.labels, "{t:?} {f:?}");
            assert_eq!(a.values.len(), b.values.len(), "{t:?} {f:?} {:?}", a.labels);
            for (x, y) in a.values.iter().zip(&b.values) {
                assert_eq!(x.0, y.0);
                assert!(
                    (x.1 - y.1).abs() <= 1e-6 * y.1.abs().max(1.0),
                    "{t:?} {f:?}: {x:?} vs {y:?}"
                );
            }
        }
    }

    // Bytes per namespace pair, de-duplicated as the console does, summed here from the input.
    let mut want: BTreeMap<String, f64> = BTreeMap::new();
    for r in &records {
        let dir = r.get("FlowDirection").and_then(Value::as_i64);
        let dst_type = r.get("DstK8S_Type").and_then(Value::as_str).unwrap_or("");
        if !(matches!(dir, None | Some(0) | Some(2))
            || (dir == Some(1) && matches!(dst_type, "" | "Service")))
        {
            continue;
        }
        let mut labels = BTreeMap::new();
        for l in ns {
            if let Some(v) = r.get(l).and_then(Value::as_str) {
                labels.insert(l.to_string(), v.to_string());
            }
        }
        *want.entry(format!("{labels:?}")).or_default() += r["Bytes"].as_f64().unwrap_or(0.0);
    }
    let got = reader
        .metrics(&query(&ns, MetricType::Bytes, MetricFunction::Sum, 60))
        .expect("sum");
    assert_eq!(totals(&got.series), want);

    // Top 5 by rate are the 5 largest totals.
    let mut q = query(&ns, MetricType::Bytes, MetricFunction::Rate, 60);
    q.limit = 5;
    let top = reader.metrics(&q).expect("top");
    assert_eq!(top.series.len(), 5);
    let mut best: Vec<f64> = want.values().copied().collect();
    best.sort_by(|a, b| b.total_cmp(a));
    for (s, w) in top.series.iter().zip(best) {
        assert!(
            (s.total() * 60.0 - w).abs() < 1e-3 * w,
            "{} vs {w}",
            s.total() * 60.0
        );
    }

    // p99 comes from raw values.
    let p = reader
        .metrics(&query(
            &["DnsFlagsResponseCode"],
            MetricType::DnsLatencyMs,
            MetricFunction::P99,
            600,
        ))
        .expect("p99");
    assert!(!p.from_rollup);
    assert!(
        p.series
            .iter()
            .all(|s| s.values.iter().all(|(_, v)| (1.0..=40.0).contains(v)))
    );

    // Autocompletion values.
    let names = reader
        .label_values("SrcK8S_Namespace", &Filters::default(), Some(ALL), 100)
        .expect("values");
    assert_eq!(names.len(), 20);
    assert_eq!(names[0], "ns-0");
    let owners = reader
        .label_values(
            "DstK8S_OwnerName",
            &Filters::parse(r#"DstK8S_Namespace="ns-3"&DstK8S_OwnerType="Deployment""#).expect("f"),
            Some(ALL),
            100,
        )
        .expect("owner names");
    assert!(
        !owners.is_empty() && owners.iter().all(|o| o.starts_with("app-3-")),
        "{owners:?}"
    );
}

#[test]
fn retention_deletes_by_age_and_by_size() {
    let path = tmp("retention");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // Half the flows are two hours old, half recent.
    let old = synth::flows(2000, 3, now - 7_200_000, 60_000, Shape::default());
    let recent = synth::flows(2000, 4, now - 60_000, 60_000, Shape::default());
    let mut store = Store::open(
        &path,
        StoreOptions {
            retention: Retention {
                max_age: Some(Duration::from_secs(3600)),
                max_bytes: None,
            },
            ..StoreOptions::default()
        },
    )
    .expect("opens");
    for set in [&old, &recent] {
        let rows: Vec<FlowRow> = set.iter().map(FlowRow::from_json).collect();
        store.insert(&rows).expect("inserts");
    }
    let report = store.apply_retention(now).expect("retention");
    assert_eq!(report.aged_out, 2000);
    let reader = Reader::open(&path).expect("reader");
    assert_eq!(reader.count().expect("count"), 2000);
    let rolled: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row(
            "SELECT count(*) FROM flow_rollup WHERE Bucket < ?1",
            [now - 3_600_000 - 15_000],
            |r| r.get(0),
        )
        .expect("rollup count");
    assert_eq!(rolled, 0, "old rollups go with their flows");

    // By size: keep under 2 MB, newest kept.
    let path = tmp("retention-size");
    let limit = 2_000_000;
    let mut store = Store::open(
        &path,
        StoreOptions {
            retention: Retention {
                max_age: None,
                max_bytes: Some(limit),
            },
            ..StoreOptions::default()
        },
    )
    .expect("opens");
    let many = synth::flows(20_000, 5, now - 600_000, 600_000, Shape::default());
    for chunk in many.chunks(2000) {
        let rows: Vec<FlowRow> = chunk.iter().map(FlowRow::from_json).collect();
        store.insert(&rows).expect("inserts");
        store.apply_retention(now).expect("retention");
    }
    let used = store.data_bytes().expect("size");
    assert!(used <= limit, "{used} bytes in use, limit {limit}");
    let file = std::fs::metadata(&path).expect("file").len();
    assert!(
        file <= limit + limit / 4,
        "file {file} bytes after incremental vacuum"
    );
    let reader = Reader::open(&path).expect("reader");
    let kept = reader.count().expect("count");
    assert!(kept > 1000 && kept < 20_000, "{kept} kept");
    let newest = reader
        .records(&RecordsQuery {
            selection: selection(
                "",
                TimeRange {
                    start_ms: 0,
                    end_ms: i64::MAX,
                },
            ),
            limit: 1,
        })
        .expect("newest");
    assert_eq!(
        newest.records[0]["TimeFlowEndMs"],
        many[19_999]["TimeFlowEndMs"]
    );
}

#[test]
fn background_writer_commits_everything_from_several_threads() {
    let path = tmp("background");
    let writer = BackgroundWriter::start(
        &path,
        StoreOptions::default(),
        BatchOptions {
            batch_rows: 700,
            flush_interval: Duration::from_millis(50),
            queue_batches: 4,
            retention_interval: Duration::from_secs(60),
        },
    )
    .expect("starts");
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let w = writer.clone();
            std::thread::spawn(move || {
                let recs = synth::flows(3000, 100 + t, START, SPAN, Shape::default());
                for c in recs.chunks(250) {
                    assert!(w.send(c.iter().map(FlowRow::from_json).collect()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("sender");
    }
    writer.flush();
    let stats = writer.stats();
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(stats.received.load(Relaxed), 9000);
    assert_eq!(stats.written.load(Relaxed), 9000);
    assert_eq!(stats.failed.load(Relaxed), 0);
    // Read while the writer is open (WAL: readers do not block it).
    assert_eq!(
        Reader::open(&path).expect("reader").count().expect("count"),
        9000
    );
    writer.close();
}

fn sqlite3(path: &Path, script: &str) {
    let out = Command::new("sqlite3")
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())?;
            c.wait_with_output()
        })
        .expect("sqlite3 runs (scripts/prerequisites.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The CLI's capture file (reference §C.3): a narrow `flow` table, no time column, RTT spelled
/// `TimeFlowRTTNs`, made here by the `sqlite3` CLI, opened read-only.
#[test]
fn cli_capture_file_opens_read_only_and_answers() {
    let path = tmp("cli");
    sqlite3(
        &path,
        "CREATE TABLE flow (DnsErrno INTEGER, Dscp INTEGER, DstAddr TEXT, DstPort INTEGER, Interface TEXT, \
         Proto INTEGER, SrcAddr TEXT, SrcPort INTEGER, Bytes INTEGER, Packets INTEGER, \
         PktDropLatestDropCause TEXT, PktDropBytes INTEGER, PktDropPackets INTEGER, DnsId INTEGER, \
         DnsName TEXT, DnsFlagsResponseCode TEXT, DnsLatencyMs TIMESTAMP, TimeFlowRTTNs TIMESTAMP);\n\
         INSERT INTO flow VALUES (NULL, 0, '10.0.0.2', 53, NULL, 17, '10.0.0.1', 40000, 80, 1, NULL, NULL, NULL, 4242, 'example.com', 'NoError', 3, NULL);\n\
         INSERT INTO flow VALUES (NULL, 0, '10.0.0.3', 443, NULL, 6, '10.0.0.1', 40001, 5000, 6, 'SKB_DROP_REASON_TCP_CSUM', 120, 2, NULL, NULL, NULL, NULL, 2500000);\n",
    );
    let before = std::fs::read(&path).expect("bytes");
    let reader = Reader::open(&path).expect("opens the capture file");
    assert!(!reader.info().has_rollup);
    let all = reader
        .records(&RecordsQuery {
            selection: selection("", ALL),
            limit: 10,
        })
        .expect("records (no time column: the range cannot apply)");
    assert_eq!(all.records.len(), 2);
    assert_eq!(
        all.records[0]["TimeFlowRttNs"],
        json!(2_500_000),
        "CLI spelling read"
    );
    let dns = reader
        .records(&RecordsQuery {
            selection: selection(r#"DnsName=example&DstPort=53"#, ALL),
            limit: 10,
        })
        .expect("filtered");
    assert_eq!(dns.records.len(), 1);
    assert_eq!(dns.records[0]["DnsLatencyMs"], json!(3));
    let err = reader
        .records(&RecordsQuery {
            selection: selection(r#"SrcK8S_Namespace="a""#, ALL),
            limit: 10,
        })
        .expect_err("no Kubernetes columns in the CLI file");
    assert!(err.is_client_error());
    assert!(
        err.to_string().contains("no `SrcK8S_Namespace` column"),
        "{err}"
    );
    let m = reader
        .metrics(&query(
            &["DstAddr"],
            MetricType::Bytes,
            MetricFunction::Sum,
            600,
        ))
        .expect("metrics from raw flows");
    assert!(!m.from_rollup);
    assert_eq!(
        totals(&m.series).values().sum::<f64>(),
        5080.0,
        "no time column: every flow in one step"
    );
    drop(reader);
    assert_eq!(
        std::fs::read(&path).expect("bytes"),
        before,
        "read-only: file unchanged"
    );
}

#[test]
fn files_that_are_not_stores_are_named() {
    let path = tmp("garbage");
    std::fs::write(
        &path,
        b"this is not an SQLite file, just text long enough to have a header....",
    )
    .expect("file");
    let err = Reader::open(&path).err().expect("refused").to_string();
    assert!(
        err.contains(&path.display().to_string()) && err.contains("not a database"),
        "{err}"
    );
    let empty = tmp("no-flow-table");
    sqlite3(&empty, "CREATE TABLE other (x INTEGER);\n");
    let err = Reader::open(&empty).err().expect("refused").to_string();
    assert!(err.contains("no `flow` table"), "{err}");
    let err = Reader::open(Path::new("/nonexistent/flows.db"))
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}

/// `crates/flowstore/schema.sql` is the documented schema; a file made from it by `sqlite3`
/// (as another tool would) opens and answers, from raw flows since nothing maintains its rollups.
#[test]
fn file_made_by_sqlite3_from_the_documented_schema_answers() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.sql"))
        .expect("schema.sql");
    assert_eq!(
        doc,
        netobserv_flowstore::schema::ddl(),
        "schema.sql is the schema the code creates; regenerate it with `cargo run -p netobserv-flowstore --example schema > crates/flowstore/schema.sql`"
    );
    let path = tmp("documented");
    sqlite3(
        &path,
        &format!(
            "{doc}\nINSERT INTO flow (TimeFlowEndMs, SrcAddr, DstAddr, SrcK8S_Namespace, DstK8S_Namespace, Bytes, Packets, FlowDirection, NetworkEvents, XlatDstAddr, Interfaces) VALUES \
             ({}, '10.128.0.5', '172.30.0.1', 'a', 'b', 1000, 2, 0, '[{{\"Action\":\"allow\",\"Type\":\"NetworkPolicy\",\"Name\":\"allow-b\"}}]', '10.129.0.7', '[\"eth0\"]'),\
             ({}, '10.128.0.6', '10.129.0.8', 'a', 'c', 500, 1, 0, NULL, NULL, '[\"eth0\"]');\n",
            START + 1000,
            START + 2000
        ),
    );
    let reader = Reader::open(&path).expect("opens");
    assert!(
        !reader.info().has_rollup,
        "rollups not maintained in a hand-made file"
    );
    let got = reader
        .records(&RecordsQuery {
            selection: selection(r#"network_events="allow-b""#, ALL),
            limit: 10,
        })
        .expect("records");
    assert_eq!(got.records.len(), 1);
    assert_eq!(got.records[0]["XlatDstAddr"], "10.129.0.7");
    assert_eq!(got.records[0]["NetworkEvents"][0]["Action"], "allow");
    let m = reader
        .metrics(&query(
            &["SrcK8S_Namespace", "DstK8S_Namespace"],
            MetricType::Bytes,
            MetricFunction::Sum,
            60,
        ))
        .expect("metrics");
    assert!(!m.from_rollup);
    assert_eq!(totals(&m.series).values().sum::<f64>(), 1500.0);
}

/// `rollups: false` (the CLI's capture files): no rollup rows, the file says it has none, and
/// readers count its flows from the raw table; a later writer asking for rollups on that file
/// does not start maintaining them halfway (they would miss the first flows).
#[test]
fn a_store_without_rollups_is_read_from_its_raw_flows() {
    let path = tmp("no-rollups");
    let flows = synth::flows(500, 7, 1_700_000_000_000, 60_000, Shape::default());
    let rows: Vec<FlowRow> = flows.iter().map(FlowRow::from_json).collect();
    let options = StoreOptions {
        rollups: false,
        ..StoreOptions::default()
    };
    Store::open(&path, options)
        .expect("opens")
        .insert(&rows)
        .expect("inserts");
    let rollup_rows = |p: &Path| -> i64 {
        rusqlite::Connection::open(p)
            .expect("open")
            .query_row("SELECT count(*) FROM flow_rollup", [], |r| r.get(0))
            .expect("count")
    };
    assert_eq!(rollup_rows(&path), 0);
    let reader = Reader::open(&path).expect("reader");
    assert!(!reader.info().has_rollup);
    assert_eq!(reader.count().expect("count"), 500);
    Store::open(&path, StoreOptions::default())
        .expect("reopens")
        .insert(&rows)
        .expect("inserts");
    assert_eq!(rollup_rows(&path), 0, "rollups stay off for this file");
    assert_eq!(
        Reader::open(&path).expect("reader").count().expect("count"),
        1000
    );
}
