//! Writes the web UI's test fixture: a flow store file filled by the pipeline's own `sqlite`
//! writer (the stage `write: {type: sqlite}` runs) with the deterministic cluster-shaped records
//! of `netobserv_flowstore::synth` (pods, Services with translated endpoints, DNS, RTT, drops and
//! network-policy events).
//!
//! `cargo run -p netobserv-console --example ui_fixture -- OUT.db [START_MS] [COUNT] [--conversations]`
//! (START_MS defaults to five minutes ago, so the UI's default time range shows the flows).
//!
//! With `--conversations`, each synthetic flow is reported eight times 5 s apart (an agent's
//! active timeout on a long connection), and the reports go through the pipeline's own
//! `conntrack` extract configured as the operator renders it for `processor.logTypes: All`: the
//! store then holds the flow logs tagged with their conversation and the `newConnection`,
//! `heartbeat` and `endConnection` records, as a FlowCollector with conversation tracking
//! writes them.

mod conversations;

use netobserv_flowstore::synth::{self, Shape};
use netobserv_pipeline::record::Record;
use netobserv_pipeline::write::sqlite::{SqliteWrite, SqliteWriter};
use std::process::ExitCode;

/// Records span this long after the start.
const SPAN_MS: i64 = 240_000;

fn main() -> ExitCode {
    netobserv_logging::init(None, netobserv_logging::Format::Text);
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let with_conversations = args.iter().any(|a| a == "--conversations");
    args.retain(|a| a != "--conversations");
    let Some(out) = args.first() else {
        eprintln!("usage: ui_fixture OUT.db [START_MS] [COUNT] [--conversations]");
        return ExitCode::from(2);
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let start: i64 = match args.get(1).map(|s| s.parse()) {
        None => now_ms - 300_000,
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            eprintln!("START_MS `{}`: {e}", args[1]);
            return ExitCode::from(2);
        }
    };
    let count: u64 = match args.get(2).map(|s| s.parse()) {
        None => 2000,
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            eprintln!("COUNT `{}`: {e}", args[2]);
            return ExitCode::from(2);
        }
    };
    let _ = std::fs::remove_file(out);
    let shape = Shape {
        namespaces: 6,
        workloads: 4,
        pods: 2,
        nodes: 3,
    };
    let records: Vec<Record> = synth::flows(count, 17, start, SPAN_MS, shape)
        .into_iter()
        .filter_map(|m| {
            let text = serde_json::Value::Object(m).to_string();
            Record::from_json(&text)
                .map_err(|e| tracing::error!(error = %e, "synthetic record refused"))
                .ok()
        })
        .collect();
    let records = if with_conversations {
        match conversations::track(records, start) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("conversation tracking: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        records
    };
    let writer = match SqliteWriter::start(&SqliteWrite {
        path: out.clone(),
        ..SqliteWrite::default()
    }) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("cannot open {out}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for chunk in records.chunks(500) {
        writer.write(chunk);
    }
    writer.flush();
    let stats = writer.stats();
    // The writer keeps its connection (and the WAL) open for the life of the process; fold the
    // WAL into the file so the one file can be copied or uploaded as a capture.
    let checkpoint =
        netobserv_flowstore::Store::open(std::path::Path::new(out), Default::default())
            .map_err(|e| e.to_string())
            .and_then(|s| {
                s.connection()
                    .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(|e| e.to_string())
            });
    if let Err(e) = checkpoint {
        eprintln!("cannot checkpoint {out}: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "{out}: {} records from {start} ms over {SPAN_MS} ms; writer stats: {stats:?}",
        records.len()
    );
    ExitCode::SUCCESS
}
