//! What the live view shows, read from the flow store the way the console reads it (read-only,
//! beside the writer): the busiest peer pairs of the last minute and the newest flows. Reading the
//! store rather than tapping the pipeline keeps the view off the flow path: a slow terminal never
//! slows the agent.

use netobserv_flowstore::Reader;
use netobserv_flowstore::filter::Filters;
use netobserv_flowstore::query::{
    MetricFunction, MetricType, MetricsQuery, PacketLoss, RecordType, RecordsQuery, Selection,
    TimeRange,
};
use serde_json::{Map, Value};

/// Seconds of history the view summarises.
pub const WINDOW_S: i64 = 60;
/// Busiest pairs shown.
pub const TOP_TALKERS: usize = 8;
/// Newest flows shown.
pub const RECENT_FLOWS: usize = 12;

/// One peer pair and the bytes it carried over the window.
#[derive(Clone, Debug, PartialEq)]
pub struct Talker {
    /// Source address, with the local process when the host named it.
    pub source: String,
    /// Destination address, with the local process when the host named it.
    pub destination: String,
    /// Bytes over the window.
    pub bytes: f64,
}

/// One flow as a table row: `address:port/service (process)` per end.
#[derive(Clone, Debug, PartialEq)]
pub struct RecentFlow {
    /// `HH:MM:SS` (UTC) of the flow's end.
    pub time: String,
    /// `TCP`, `UDP`, `ICMP` or the protocol number.
    pub proto: String,
    /// `address:port (process)`.
    pub source: String,
    /// `address:port (process)`.
    pub destination: String,
    /// Bytes.
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
}

/// Everything one refresh of the view reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Busiest pairs, largest first.
    pub talkers: Vec<Talker>,
    /// Newest flows first.
    pub recent: Vec<RecentFlow>,
}

/// Why a refresh failed (shown in the view; the next refresh tries again).
pub type SnapshotError = netobserv_flowstore::Error;

/// Reads the view's data for the window ending at `now_ms`.
pub fn read(reader: &Reader, now_ms: i64) -> Result<Snapshot, SnapshotError> {
    let selection = Selection {
        filters: Filters::default(),
        range: TimeRange {
            start_ms: now_ms - WINDOW_S * 1000,
            end_ms: now_ms + 1,
        },
        record_type: RecordType::FlowLog,
        packet_loss: PacketLoss::All,
    };
    let talkers = reader
        .metrics(&MetricsQuery {
            selection: selection.clone(),
            labels: vec!["SrcAddr", "SrcProcessName", "DstAddr", "DstProcessName"],
            metric_type: MetricType::Bytes,
            function: MetricFunction::Sum,
            step_s: WINDOW_S,
            rate_interval_s: WINDOW_S,
            limit: TOP_TALKERS,
        })?
        .series
        .into_iter()
        .map(|s| {
            let side = |addr: &str, process: &str| {
                let a = s.labels.get(addr).cloned().unwrap_or_default();
                match s.labels.get(process) {
                    Some(p) => format!("{a} ({p})"),
                    None => a,
                }
            };
            Talker {
                source: side("SrcAddr", "SrcProcessName"),
                destination: side("DstAddr", "DstProcessName"),
                bytes: s.total(),
            }
        })
        .collect();
    let recent = reader
        .records(&RecordsQuery {
            selection,
            limit: RECENT_FLOWS,
        })?
        .records
        .iter()
        .map(recent_flow)
        .collect();
    Ok(Snapshot { talkers, recent })
}

fn recent_flow(r: &Map<String, Value>) -> RecentFlow {
    let text = |k: &str| match r.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    };
    let int = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
    let side = |addr: &str, port: &str, port_name: &str, process: &str| {
        let a = text(addr);
        let mut s = if a.contains(':') { format!("[{a}]") } else { a };
        if let Some(p) = r.get(port).and_then(Value::as_u64).filter(|p| *p > 0) {
            s.push_str(&format!(":{p}"));
            let name = text(port_name);
            if !name.is_empty() {
                s.push_str(&format!("/{name}"));
            }
        }
        let name = text(process);
        if !name.is_empty() {
            s.push_str(&format!(" ({name})"));
        }
        s
    };
    RecentFlow {
        time: clock(r.get("TimeFlowEndMs").and_then(Value::as_i64).unwrap_or(0)),
        proto: proto_name(int("Proto")),
        source: side("SrcAddr", "SrcPort", "SrcPortName", "SrcProcessName"),
        destination: side("DstAddr", "DstPort", "DstPortName", "DstProcessName"),
        bytes: int("Bytes"),
        packets: int("Packets"),
    }
}

/// `HH:MM:SS` of a Unix time in ms (UTC: the store and the console's API speak UTC).
fn clock(ms: i64) -> String {
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The usual name of an IP protocol number.
pub fn proto_name(p: u64) -> String {
    match p {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        58 => "ICMPv6".into(),
        132 => "SCTP".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flows_read_as_rows_with_ports_and_processes() {
        let r = json!({
            "TimeFlowEndMs": 3_723_000_i64, "Proto": 6, "SrcAddr": "10.0.0.1", "SrcPort": 40000,
            "DstAddr": "fd00::2", "DstPort": 443, "DstPortName": "https", "SrcProcessName": "curl",
            "Bytes": 1500, "Packets": 3
        });
        let Value::Object(m) = r else {
            unreachable!("a JSON object")
        };
        let f = recent_flow(&m);
        assert_eq!(f.time, "01:02:03");
        assert_eq!(f.proto, "TCP");
        assert_eq!(f.source, "10.0.0.1:40000 (curl)");
        assert_eq!(f.destination, "[fd00::2]:443/https");
        assert_eq!((f.bytes, f.packets), (1500, 3));
    }
}
