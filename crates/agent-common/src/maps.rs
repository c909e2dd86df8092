//! Names of the maps in the eBPF object (upstream names, so tooling output reads the same).

/// Shared hash map `FlowId` → `FlowMetrics`.
pub const AGGREGATED_FLOWS: &str = "aggregated_flows";
/// Per-CPU array of `u32` counters indexed by [`crate::counters`].
pub const GLOBAL_COUNTERS: &str = "global_counters";
/// LPM trie `FilterKey` → `FilterValue`.
pub const FILTER_MAP: &str = "filter_map";
/// LPM trie `FilterKey` → `u8` of peer CIDRs.
pub const PEER_FILTER_MAP: &str = "peer_filter_map";
/// Hash `FlowId` → `AdditionalMetrics` (RTT and IPsec).
pub const ADDITIONAL_FLOW_METRICS: &str = "additional_flow_metrics";
/// Per-CPU hash `FlowId` → `DnsMetrics`.
pub const AGGREGATED_FLOWS_DNS: &str = "aggregated_flows_dns";
/// Hash `DnsFlowId` → query timestamp.
pub const DNS_FLOWS: &str = "dns_flows";
/// Per-CPU hash `FlowId` → `PktDropMetrics`.
pub const AGGREGATED_FLOWS_PKT_DROP: &str = "aggregated_flows_pkt_drop";
/// Per-CPU hash `FlowId` → `XlatMetrics` (PacketTranslation).
pub const AGGREGATED_FLOWS_XLAT: &str = "aggregated_flows_xlat";
/// TLS handshake facts per flow (TLS tracking).
pub const AGGREGATED_FLOWS_TLS: &str = "aggregated_flows_tls";
/// QUIC facts per flow (QUIC tracking).
pub const QUIC_FLOWS: &str = "quic_flows";
/// Hash of the inbound flows between the entry and the return of `xfrm_input` (IPsec).
pub const IPSEC_INGRESS_MAP: &str = "ipsec_ingress_map";
/// Hash of the outbound flows between the entry and the return of `xfrm_output` (IPsec).
pub const IPSEC_EGRESS_MAP: &str = "ipsec_egress_map";
/// Per-CPU array of [`crate::CachedFlow`] (not upstream; see that type).
pub const FLOW_CACHE: &str = "flow_cache";
/// Per-CPU `u32`: 1 when the classifiers may use this CPU's flow cache, 0 when off or while
/// the flush program runs on the CPU.
pub const FLOW_CACHE_CTL: &str = "flow_cache_ctl";
/// Ring buffer of [`crate::FlowEvent`]s (first packets, and what the flow map refused).
pub const DIRECT_FLOWS: &str = "direct_flows";
/// Shared array of `u32` fingerprints of recently seen flows (see [`crate::FlowEvent`]).
pub const FLOW_SEEN: &str = "flow_seen";
