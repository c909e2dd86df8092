//! What the console asks of a flow source, independent of the source: raw records in a time
//! range, or time series aggregated by labels. The store answers these with SQL; the console's
//! Loki and Prometheus sources with LogQL and PromQL.

use crate::filter::Filters;
use std::collections::BTreeMap;
use std::str::FromStr;

/// A half-open time range `[start, end)` in Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Start, inclusive.
    pub start_ms: i64,
    /// End, exclusive.
    pub end_ms: i64,
}

impl TimeRange {
    /// Length in seconds (at least 1).
    pub fn seconds(&self) -> i64 {
        ((self.end_ms - self.start_ms) / 1000).max(1)
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The value as the API spells it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$v),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " `{}` (expected one of: {})"),
                        other,
                        [$($s),+].join(", ")
                    )),
                }
            }
        }
    };
}

string_enum!(
    /// `recordType`: which records of the conntrack stage to read.
    RecordType, "recordType" {
        /// Plain flow logs (also records with no `_RecordType`).
        FlowLog = "flowLog",
        /// Connection start.
        NewConnection = "newConnection",
        /// Periodic connection report.
        Heartbeat = "heartbeat",
        /// Connection end.
        EndConnection = "endConnection",
        /// Any connection record.
        AllConnections = "allConnections",
    }
);

string_enum!(
    /// `packetLoss`: flows by drop status.
    PacketLoss, "packetLoss" {
        /// Every flow.
        All = "all",
        /// Flows whose packets were all dropped.
        Dropped = "dropped",
        /// Flows with at least one drop.
        HasDrops = "hasDrops",
        /// Flows without drops.
        Sent = "sent",
    }
);

string_enum!(
    /// `type`: the value a metric query aggregates.
    MetricType, "type" {
        /// Bytes.
        Bytes = "Bytes",
        /// Packets.
        Packets = "Packets",
        /// Flow records.
        Flows = "Flows",
        /// Flow records with DNS tracking.
        DnsFlows = "DnsFlows",
        /// Dropped bytes.
        PktDropBytes = "PktDropBytes",
        /// Dropped packets.
        PktDropPackets = "PktDropPackets",
        /// DNS latency in ms (zero excluded).
        DnsLatencyMs = "DnsLatencyMs",
        /// TCP smoothed RTT, reported in ms (zero excluded).
        TimeFlowRttNs = "TimeFlowRttNs",
    }
);

string_enum!(
    /// `function`: how values combine per step.
    MetricFunction, "function" {
        /// Per-second rate over the step.
        Rate = "rate",
        /// Number of records.
        Count = "count",
        /// Sum.
        Sum = "sum",
        /// Mean per record.
        Avg = "avg",
        /// Minimum per record.
        Min = "min",
        /// Maximum per record.
        Max = "max",
        /// 90th percentile.
        P90 = "p90",
        /// 99th percentile.
        P99 = "p99",
    }
);

impl MetricType {
    /// Whether values are latencies (averaged, not summed, and zero excluded).
    pub fn is_latency(self) -> bool {
        matches!(self, MetricType::DnsLatencyMs | MetricType::TimeFlowRttNs)
    }

    /// The record field the value comes from, if any (`Flows` counts records).
    pub fn field(self) -> Option<&'static str> {
        match self {
            MetricType::Flows | MetricType::DnsFlows => None,
            other => Some(other.as_str()),
        }
    }
}

/// Filters shared by record and metric queries.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// The parsed `filters`.
    pub filters: Filters,
    /// The time range.
    pub range: TimeRange,
    /// `recordType`.
    pub record_type: RecordType,
    /// `packetLoss`.
    pub packet_loss: PacketLoss,
}

/// A raw record query (the flow table, CSV export).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordsQuery {
    /// What to select.
    pub selection: Selection,
    /// At most this many records, newest first.
    pub limit: usize,
}

/// An aggregated time-series query (topology, overview).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsQuery {
    /// What to select.
    pub selection: Selection,
    /// Fields the series are grouped by.
    pub labels: Vec<&'static str>,
    /// The value.
    pub metric_type: MetricType,
    /// The combination per step.
    pub function: MetricFunction,
    /// Step between points, seconds.
    pub step_s: i64,
    /// Window of `rate` in Loki and Prometheus, seconds.
    pub rate_interval_s: i64,
    /// At most this many series (top by value; bottom for `min`).
    pub limit: usize,
}

/// One aggregated series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Label values, empty ones left out (as Prometheus and Loki do).
    pub labels: BTreeMap<String, String>,
    /// `(Unix seconds at the end of the step, value)`, in time order.
    pub values: Vec<(i64, f64)>,
}

impl Series {
    /// Sum of the values times the step: the total over the range for a rate.
    pub fn total(&self) -> f64 {
        self.values.iter().map(|(_, v)| v).sum()
    }
}

/// Sorts series for a top-N (bottom-N for `min`) and keeps `limit`.
pub fn top_series(mut series: Vec<Series>, function: MetricFunction, limit: usize) -> Vec<Series> {
    let score = |s: &Series| -> f64 {
        let vals = s.values.iter().map(|(_, v)| *v);
        match function {
            MetricFunction::Rate | MetricFunction::Sum | MetricFunction::Count => vals.sum(),
            MetricFunction::Avg => {
                let n = s.values.len().max(1) as f64;
                vals.sum::<f64>() / n
            }
            MetricFunction::Min => vals.fold(f64::INFINITY, f64::min),
            _ => vals.fold(f64::NEG_INFINITY, f64::max),
        }
    };
    let mut scored: Vec<(f64, Series)> = series.drain(..).map(|s| (score(&s), s)).collect();
    scored.sort_by(|a, b| {
        let ord = if function == MetricFunction::Min {
            a.0.total_cmp(&b.0)
        } else {
            b.0.total_cmp(&a.0)
        };
        ord.then_with(|| a.1.labels.cmp(&b.1.labels))
    });
    scored.into_iter().take(limit).map(|(_, s)| s).collect()
}

/// The labels each console scope (`aggregateBy`, `groups`: `namespace`, `owner`, `resource`,
/// ...) aggregates by, `None` for an unknown scope. One list for the console's sources, the
/// store's tests and its benches, so a scope means the same everywhere.
pub fn scope_labels(scope: &str) -> Option<&'static [&'static str]> {
    Some(match scope {
        "app" => &[],
        "cluster" | "clusters" => &["K8S_ClusterName"],
        "zone" | "zones" => &["SrcK8S_Zone", "DstK8S_Zone"],
        "host" | "hosts" => &["SrcK8S_HostName", "DstK8S_HostName"],
        "namespace" | "namespaces" => &["SrcK8S_Namespace", "DstK8S_Namespace"],
        "network" | "networks" => &["SrcK8S_NetworkName", "DstK8S_NetworkName"],
        "owner" | "owners" => &[
            "SrcK8S_OwnerName",
            "SrcK8S_OwnerType",
            "SrcK8S_Namespace",
            "DstK8S_OwnerName",
            "DstK8S_OwnerType",
            "DstK8S_Namespace",
        ],
        "process" | "processes" => &["SrcProcessName", "SrcAddr", "DstProcessName", "DstAddr"],
        "resource" | "resources" => &[
            "SrcK8S_Name",
            "SrcK8S_Type",
            "SrcK8S_OwnerName",
            "SrcK8S_OwnerType",
            "SrcK8S_Namespace",
            "SrcAddr",
            "SrcK8S_HostName",
            "DstK8S_Name",
            "DstK8S_Type",
            "DstK8S_OwnerName",
            "DstK8S_OwnerType",
            "DstK8S_Namespace",
            "DstAddr",
            "DstK8S_HostName",
        ],
        _ => return None,
    })
}
