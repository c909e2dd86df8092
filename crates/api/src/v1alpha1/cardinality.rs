//! How many Prometheus series a flow field may create when it becomes a metric label: the
//! `CardinalityWarning` of a FlowMetric's status (and its printer column), and the webhook's
//! warnings. Every label multiplies the series count, and Prometheus memory with it.

use super::FlowMetricSpec;
use std::fmt;

/// Cardinality class of a label, from harmless to harmful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cardinality {
    /// A small, bounded set of values (protocols, namespaces, node names, zones).
    Fine,
    /// Grows with the cluster's workloads (owner names, interfaces, network names).
    Careful,
    /// A field this table does not know.
    Unknown,
    /// One value per endpoint, connection or measurement (addresses, ports, times, sizes).
    Avoid,
}

impl Cardinality {
    /// The word shown in the status reason and the printer column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fine => "Fine",
            Self::Careful => "Careful",
            Self::Unknown => "Unknown",
            Self::Avoid => "Avoid",
        }
    }
}

impl fmt::Display for Cardinality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const FINE: &[&str] = &[
    "Proto",
    "Etype",
    "Dscp",
    "FlowDirection",
    "IfDirections",
    "Flags",
    "IcmpType",
    "IcmpCode",
    "Sampling",
    "K8S_FlowLayer",
    "K8S_ClusterName",
    "K8S_Namespace",
    "K8S_Type",
    "K8S_OwnerType",
    "K8S_HostName",
    "K8S_Zone",
    "SubnetLabel",
    "DnsFlagsResponseCode",
    "DnsErrno",
    "DnsFlags",
    "PktDropLatestState",
    "PktDropLatestDropCause",
    "PktDropLatestFlags",
    "IPSecStatus",
    "IPSecRetCode",
    "TLSVersion",
    "TLSTypes",
    "TLSCipherSuite",
    "TLSGroup",
    "QuicVersion",
    "_RecordType",
    "Udns",
];

const CAREFUL: &[&str] = &[
    "K8S_OwnerName",
    "K8S_HostIP",
    "K8S_NetworkName",
    "Interfaces",
    "AgentIP",
    "ZoneId",
    "NetworkEvents",
];

const AVOID: &[&str] = &[
    "Addr",
    "Port",
    "Mac",
    "K8S_Name",
    "DnsId",
    "DnsName",
    "DnsLatencyMs",
    "TimeFlowStartMs",
    "TimeFlowEndMs",
    "TimeReceived",
    "TimeFlowRttNs",
    "Bytes",
    "Packets",
    "PktDropBytes",
    "PktDropPackets",
    "_HashId",
];

/// The class of one flow field. Source / destination / translated variants share their base
/// field's class (`SrcK8S_Namespace`, `XlatDstK8S_Name`).
pub fn of_field(field: &str) -> Cardinality {
    let base = field.strip_prefix("Xlat").unwrap_or(field);
    let base = base
        .strip_prefix("Src")
        .or_else(|| base.strip_prefix("Dst"))
        .unwrap_or(base);
    if FINE.contains(&base) {
        Cardinality::Fine
    } else if CAREFUL.contains(&base) {
        Cardinality::Careful
    } else if AVOID.contains(&base) {
        Cardinality::Avoid
    } else {
        Cardinality::Unknown
    }
}

impl FlowMetricSpec {
    /// The labels (and flattened fields) that are not `Fine`, each with its class.
    pub fn risky_labels(&self) -> Vec<(String, Cardinality)> {
        self.labels
            .iter()
            .chain(self.flatten.iter())
            .map(|f| (f.clone(), of_field(f)))
            .filter(|(_, c)| *c != Cardinality::Fine)
            .collect()
    }

    /// The metric's overall class: its worst label.
    pub fn cardinality(&self) -> Cardinality {
        self.labels
            .iter()
            .chain(self.flatten.iter())
            .map(|f| of_field(f))
            .max()
            .unwrap_or(Cardinality::Fine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_share_their_base_class() {
        assert_eq!(of_field("SrcK8S_Namespace"), Cardinality::Fine);
        assert_eq!(of_field("XlatDstK8S_Name"), Cardinality::Avoid);
        assert_eq!(of_field("DstK8S_OwnerName"), Cardinality::Careful);
        assert_eq!(of_field("SrcPort"), Cardinality::Avoid);
        assert_eq!(of_field("Whatever"), Cardinality::Unknown);
    }

    #[test]
    fn the_worst_label_decides() {
        let mut spec = FlowMetricSpec {
            labels: vec!["SrcK8S_Namespace".into(), "DstK8S_Namespace".into()],
            ..FlowMetricSpec::default()
        };
        assert_eq!(spec.cardinality(), Cardinality::Fine);
        assert!(spec.risky_labels().is_empty());
        spec.labels.push("DstK8S_OwnerName".into());
        assert_eq!(spec.cardinality(), Cardinality::Careful);
        spec.flatten.push("SrcAddr".into());
        assert_eq!(spec.cardinality(), Cardinality::Avoid);
        assert_eq!(spec.risky_labels().len(), 2);
    }
}
