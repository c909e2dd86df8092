//! The fixture's conversations: repeated reports of each flow run through the pipeline's
//! `conntrack` extract, with the time each report arrives played back on the stage's clock.

use netobserv_pipeline::config::ConntrackConfig;
use netobserv_pipeline::extract::conntrack::Conntrack;
use netobserv_pipeline::record::{Record, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reports of one connection, this far apart: within the end timeout (10 s), so they make one
/// conversation lasting past a heartbeat interval (30 s).
const REPORT_EVERY_MS: i64 = 5_000;
const REPORTS: i64 = 8;

/// The `conntrack` parameters the operator renders for `processor.logTypes: All` with the
/// default conversation timeouts (`crates/operator/src/render/flp_config/conntrack.rs`).
const CONNTRACK: &str = r#"{
  "keyDefinition": {
    "fieldGroups": [
      {"name": "src", "fields": ["SrcAddr", "SrcPort"]},
      {"name": "dst", "fields": ["DstAddr", "DstPort"]},
      {"name": "common", "fields": ["Proto"]}
    ],
    "hash": {"fieldGroupRefs": ["common"], "fieldGroupARef": "src", "fieldGroupBRef": "dst"}
  },
  "outputFields": [
    {"name": "Bytes", "operation": "sum", "splitAB": true},
    {"name": "Packets", "operation": "sum", "splitAB": true},
    {"name": "numFlowLogs", "operation": "count"},
    {"name": "TimeFlowStartMs", "operation": "min", "input": "TimeFlowStartMs"},
    {"name": "TimeFlowEndMs", "operation": "max", "input": "TimeFlowEndMs", "reportMissing": true},
    {"name": "FlowDirection", "operation": "first", "input": "FlowDirection"},
    {"name": "AgentIP", "operation": "first", "input": "AgentIP"},
    {"name": "DnsLatencyMs", "operation": "max"},
    {"name": "MaxTimeFlowRttNs", "operation": "max", "input": "TimeFlowRttNs"}
  ],
  "outputRecordTypes": ["newConnection", "heartbeat", "endConnection", "flowLog"],
  "scheduling": [
    {"selector": {}, "endConnectionTimeout": "10s", "terminatingTimeout": "5s", "heartbeatInterval": "30s"}
  ],
  "tcpFlags": {"fieldName": "Flags", "detectEndConnection": true, "swapAB": true}
}"#;

/// The flow logs and connection records of `flows` (each reported [`REPORTS`] times) as the
/// `conntrack` stage emits them, every conversation ended by the last report's end timeout.
pub fn track(flows: Vec<Record>, start_ms: i64) -> Result<Vec<Record>, String> {
    let config: ConntrackConfig = serde_json::from_str(CONNTRACK).map_err(|e| e.to_string())?;
    let mut stage = Conntrack::new(&config, Arc::default()).map_err(|e| e.to_string())?;
    let mut reports: Vec<(i64, Record)> = flows
        .into_iter()
        .flat_map(|flow| {
            let end = end_ms(&flow);
            (0..REPORTS).map(move |k| {
                let mut report = flow.clone();
                shift(&mut report, k * REPORT_EVERY_MS);
                (end + k * REPORT_EVERY_MS, report)
            })
        })
        .collect();
    reports.sort_by_key(|(at, _)| *at);
    let base = Instant::now();
    let clock = |at_ms: i64| base + Duration::from_millis((at_ms - start_ms).max(0) as u64);
    let mut out = Vec::new();
    let mut last = start_ms;
    // One batch per second of reports, as an ingest hands them on.
    for chunk in reports.chunk_by(|(a, _), (b, _)| a / 1000 == b / 1000) {
        last = chunk[0].0;
        let batch: Vec<Record> = chunk.iter().map(|(_, r)| r.clone()).collect();
        out.extend(stage.extract_owned_at(batch, clock(last)));
    }
    out.extend(stage.tick_at(clock(last + 60_000)));
    Ok(out)
}

fn end_ms(flow: &Record) -> i64 {
    flow.get("TimeFlowEndMs")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The same flow reported `by_ms` later.
fn shift(flow: &mut Record, by_ms: i64) {
    for field in ["TimeFlowStartMs", "TimeFlowEndMs"] {
        if let Some(ms) = flow.get(field).and_then(Value::as_i64) {
            flow.insert(field, Value::Int(ms + by_ms));
        }
    }
}
