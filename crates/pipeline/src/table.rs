//! One aligned row per flow, for people watching flows live (`make run`): the end time,
//! interfaces and direction, the 5-tuple, volumes, TCP flags and whatever the agent's features
//! added (drop cause, RTT, DNS), without the JSON noise.

use crate::record::{Record, Value};
use std::fmt::Write as _;

/// Column titles, aligned with [`row`].
pub const HEADER: &str = "TIME(UTC)     IFACE(DIR)        PROTO  SOURCE                         DESTINATION                        BYTES  PKTS  FLAGS        DETAILS";

fn text(r: &Record, field: &str) -> String {
    r.get(field).map(Value::to_text).unwrap_or_default()
}

fn protocol(r: &Record) -> String {
    match r.get("Proto").and_then(Value::as_i64) {
        Some(1) => "ICMP".into(),
        Some(6) => "TCP".into(),
        Some(17) => "UDP".into(),
        Some(58) => "ICMP6".into(),
        Some(132) => "SCTP".into(),
        Some(n) => n.to_string(),
        None => format!(
            "0x{:04x}",
            r.get("Etype").and_then(Value::as_i64).unwrap_or(0)
        ),
    }
}

fn endpoint(r: &Record, addr: &str, port: &str) -> String {
    let a = text(r, addr);
    match r.get(port).and_then(Value::as_i64) {
        Some(p) if a.contains(':') => format!("[{a}]:{p}"),
        Some(p) => format!("{a}:{p}"),
        None => a,
    }
}

/// `HH:MM:SS.mmm` of a Unix time in milliseconds.
fn clock(ms: i64) -> String {
    let ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The record as one table row.
pub fn row(r: &Record) -> String {
    let interfaces = match r.get("Interfaces") {
        Some(Value::List(names)) => names
            .iter()
            .map(Value::to_text)
            .collect::<Vec<_>>()
            .join(","),
        _ => text(r, "Interface"),
    };
    // The node's direction when `reinterpret_direction` ran, else the first interface's.
    let first_interface = match r.get("IfDirections") {
        Some(Value::List(d)) => d.first().and_then(Value::as_i64),
        _ => None,
    };
    let direction = match r
        .get("FlowDirection")
        .and_then(Value::as_i64)
        .or(first_interface)
    {
        Some(0) => "in",
        Some(1) => "out",
        Some(2) => "inner",
        _ => "?",
    };
    let flags = match r.get("Flags") {
        Some(Value::List(names)) => names
            .iter()
            .map(Value::to_text)
            .collect::<Vec<_>>()
            .join(","),
        Some(v) => v.to_text(),
        None => String::new(),
    };
    let mut details = String::new();
    if let Some(cause) = r.get("PktDropLatestDropCause") {
        let _ = write!(
            details,
            "drop={} ({} pkts) ",
            cause.to_text(),
            text(r, "PktDropPackets")
        );
    }
    if let Some(rtt) = r.get("TimeFlowRttNs").and_then(Value::as_f64) {
        let _ = write!(details, "rtt={:.3}ms ", rtt / 1e6);
    }
    if r.contains("DnsId") {
        let _ = write!(
            details,
            "dns={} {} {}ms ",
            text(r, "DnsName"),
            text(r, "DnsFlagsResponseCode"),
            text(r, "DnsLatencyMs")
        );
    }
    for label in ["SrcSubnetLabel", "DstSubnetLabel"] {
        if let Some(v) = r.get(label) {
            let _ = write!(details, "{}={} ", &label[..3].to_lowercase(), v.to_text());
        }
    }
    format!(
        "{:<13} {:<17} {:<6} {:<30} {:<30} {:>10} {:>5}  {:<12} {}",
        clock(r.get("TimeFlowEndMs").and_then(Value::as_i64).unwrap_or(0)),
        format!("{interfaces}({direction})"),
        protocol(r),
        endpoint(r, "SrcAddr", "SrcPort"),
        endpoint(r, "DstAddr", "DstPort"),
        text(r, "Bytes"),
        text(r, "Packets"),
        flags,
        details.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tcp_flow_reads_as_a_row() {
        let r = Record::from_json(r#"{"TimeFlowEndMs":1732200000123,"Interfaces":["eth0"],"FlowDirection":1,"Proto":6,"SrcAddr":"10.0.0.1","SrcPort":40000,"DstAddr":"fd00::2","DstPort":443,"Bytes":1500,"Packets":3,"Flags":["SYN","ACK"],"TimeFlowRttNs":120000}"#).expect("record");
        let row = row(&r);
        assert!(row.starts_with("14:40:00.123  eth0(out)"), "{row}");
        assert!(row.contains("TCP    10.0.0.1:40000"), "{row}");
        assert!(row.contains("[fd00::2]:443"), "{row}");
        assert!(row.contains("SYN,ACK"), "{row}");
        assert!(row.ends_with("rtt=0.120ms"), "{row}");
    }
}
