//! The metrics the processor can generate ([`FlpMetric`]) and the default selection of them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Defines [`FlpMetric`] from one table, so the JSON names and [`FlpMetric::ALL`] cannot drift.
macro_rules! flp_metrics {
    ($( $(#[$attr:meta])* $variant:ident => $name:literal, )+) => {
        /// A metric the processor can generate, named as in Prometheus without the `netobserv_`
        /// prefix. More metrics mean more load on Prometheus.
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema,
        )]
        pub enum FlpMetric {
            $( $(#[$attr])* #[serde(rename = $name)] $variant, )+
        }

        impl FlpMetric {
            /// Every metric name, in declaration order.
            pub const ALL: &'static [FlpMetric] = &[$(FlpMetric::$variant,)+];

            /// Name of the metric, without the `netobserv_` prefix.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FlpMetric::$variant => $name,)+
                }
            }
        }
    };
}

flp_metrics! {
    /// Bytes sent, per source and destination namespace.
    #[default]
    NamespaceEgressBytesTotal => "namespace_egress_bytes_total",
    /// Packets sent, per source and destination namespace.
    NamespaceEgressPacketsTotal => "namespace_egress_packets_total",
    /// Bytes received, per source and destination namespace.
    NamespaceIngressBytesTotal => "namespace_ingress_bytes_total",
    /// Packets received, per source and destination namespace.
    NamespaceIngressPacketsTotal => "namespace_ingress_packets_total",
    /// Number of flows, per source and destination namespace.
    NamespaceFlowsTotal => "namespace_flows_total",
    /// Bytes sent, per source and destination node.
    NodeEgressBytesTotal => "node_egress_bytes_total",
    /// Packets sent, per source and destination node.
    NodeEgressPacketsTotal => "node_egress_packets_total",
    /// Bytes received, per source and destination node.
    NodeIngressBytesTotal => "node_ingress_bytes_total",
    /// Packets received, per source and destination node.
    NodeIngressPacketsTotal => "node_ingress_packets_total",
    /// Number of flows, per source and destination node.
    NodeFlowsTotal => "node_flows_total",
    /// Bytes sent, per source and destination workload.
    WorkloadEgressBytesTotal => "workload_egress_bytes_total",
    /// Packets sent, per source and destination workload.
    WorkloadEgressPacketsTotal => "workload_egress_packets_total",
    /// Bytes received, per source and destination workload.
    WorkloadIngressBytesTotal => "workload_ingress_bytes_total",
    /// Packets received, per source and destination workload.
    WorkloadIngressPacketsTotal => "workload_ingress_packets_total",
    /// Number of flows, per source and destination workload.
    WorkloadFlowsTotal => "workload_flows_total",
    /// Dropped bytes, per namespace (needs `PacketDrop`).
    NamespaceDropBytesTotal => "namespace_drop_bytes_total",
    /// Dropped packets, per namespace (needs `PacketDrop`).
    NamespaceDropPacketsTotal => "namespace_drop_packets_total",
    /// Dropped bytes, per node (needs `PacketDrop`).
    NodeDropBytesTotal => "node_drop_bytes_total",
    /// Dropped packets, per node (needs `PacketDrop`).
    NodeDropPacketsTotal => "node_drop_packets_total",
    /// Dropped bytes, per workload (needs `PacketDrop`).
    WorkloadDropBytesTotal => "workload_drop_bytes_total",
    /// Dropped packets, per workload (needs `PacketDrop`).
    WorkloadDropPacketsTotal => "workload_drop_packets_total",
    /// TCP round-trip time histogram, per namespace (needs `FlowRTT`).
    NamespaceRttSeconds => "namespace_rtt_seconds",
    /// TCP round-trip time histogram, per node (needs `FlowRTT`).
    NodeRttSeconds => "node_rtt_seconds",
    /// TCP round-trip time histogram, per workload (needs `FlowRTT`).
    WorkloadRttSeconds => "workload_rtt_seconds",
    /// DNS latency histogram, per namespace (needs `DNSTracking`).
    NamespaceDnsLatencySeconds => "namespace_dns_latency_seconds",
    /// DNS latency histogram, per node (needs `DNSTracking`).
    NodeDnsLatencySeconds => "node_dns_latency_seconds",
    /// DNS latency histogram, per workload (needs `DNSTracking`).
    WorkloadDnsLatencySeconds => "workload_dns_latency_seconds",
    /// Network policy events, per node (needs `NetworkEvents`).
    NodeNetworkPolicyEventsTotal => "node_network_policy_events_total",
    /// Network policy events, per namespace (needs `NetworkEvents`).
    NamespaceNetworkPolicyEventsTotal => "namespace_network_policy_events_total",
    /// Network policy events, per workload (needs `NetworkEvents`).
    WorkloadNetworkPolicyEventsTotal => "workload_network_policy_events_total",
    /// IPsec-encrypted flows, per node (needs `IPSec`).
    NodeIpsecFlowsTotal => "node_ipsec_flows_total",
    /// IPsec-encrypted flows, per namespace (needs `IPSec`).
    NamespaceIpsecFlowsTotal => "namespace_ipsec_flows_total",
    /// IPsec-encrypted flows, per workload (needs `IPSec`).
    WorkloadIpsecFlowsTotal => "workload_ipsec_flows_total",
    /// Flows received by nodes from other nodes, used by the network health views.
    NodeToNodeIngressFlowsTotal => "node_to_node_ingress_flows_total",
    /// Sampling ratio in effect, per workload; only produced when some filter samples flows.
    WorkloadSampling => "workload_sampling",
}

impl fmt::Display for FlpMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metrics generated when `includeList` is unset. Without Loki the list is longer and uses
/// workload granularity, to make up for the missing flow logs.
pub fn default_include_list(loki_enabled: bool) -> Vec<FlpMetric> {
    use FlpMetric as M;
    if loki_enabled {
        vec![
            M::NodeIngressBytesTotal,
            M::NodeEgressBytesTotal,
            M::NodeIngressPacketsTotal,
            M::NodeDropPacketsTotal,
            M::WorkloadSampling,
            M::WorkloadIngressBytesTotal,
            M::WorkloadEgressBytesTotal,
            M::NamespaceFlowsTotal,
            M::NamespaceIngressPacketsTotal,
            M::NamespaceDropPacketsTotal,
            M::NamespaceRttSeconds,
            M::NamespaceDnsLatencySeconds,
            M::NamespaceNetworkPolicyEventsTotal,
            M::NodeIpsecFlowsTotal,
            M::NodeToNodeIngressFlowsTotal,
        ]
    } else {
        vec![
            M::NodeIngressBytesTotal,
            M::NodeEgressBytesTotal,
            M::NodeIngressPacketsTotal,
            M::NodeDropPacketsTotal,
            M::WorkloadIngressBytesTotal,
            M::WorkloadEgressBytesTotal,
            M::WorkloadSampling,
            M::WorkloadIngressPacketsTotal,
            M::WorkloadEgressPacketsTotal,
            M::WorkloadFlowsTotal,
            M::WorkloadDropBytesTotal,
            M::WorkloadDropPacketsTotal,
            M::WorkloadRttSeconds,
            M::WorkloadDnsLatencySeconds,
            M::NamespaceNetworkPolicyEventsTotal,
            M::NodeIpsecFlowsTotal,
            M::NodeToNodeIngressFlowsTotal,
        ]
    }
}
