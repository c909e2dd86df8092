//! NetworkEvents (OVN observability samples): the per-flow value the `psample_sample_packet`
//! hook writes, and the names of its map, programs and load-time globals. Kept in its own module
//! so the feature's kernel/user contract reads in one place.

/// Cookie slots kept per flow (upstream `MAX_NETWORK_EVENTS`).
pub const MAX_NETWORK_EVENTS: usize = 4;
/// Largest sample cookie the hook copies, in bytes (upstream `MAX_EVENT_MD`). OVN cookies are
/// exactly 8 bytes: `{u32 obs_domain_id; u32 obs_point_id}` in network order.
pub const MAX_EVENT_MD: usize = 8;

/// Network events of one flow, written by the hook into the per-CPU
/// `aggregated_flows_network_events` map (upstream `network_events_metrics`, 72 bytes).
///
/// The slots form a small ring: a cookie already present bumps its own counters, a new one goes
/// into slot `network_events_idx`, which then advances modulo [`MAX_NETWORK_EVENTS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkEventsMetrics {
    /// First sample of the flow (monotonic ns).
    pub start_mono_time_ts: u64,
    /// Latest sample of the flow (monotonic ns).
    pub end_mono_time_ts: u64,
    /// Raw cookies, zero-padded to [`MAX_EVENT_MD`] bytes; an all-zero slot is unused.
    pub network_events: [[u8; MAX_EVENT_MD]; MAX_NETWORK_EVENTS],
    /// Sampled bytes per slot (`skb->len`, saturating at 65535).
    pub bytes: [u16; MAX_NETWORK_EVENTS],
    /// Sampled packets per slot (saturating at 65535).
    pub packets: [u16; MAX_NETWORK_EVENTS],
    /// EtherType of the flow (host order).
    pub eth_protocol: u16,
    /// Next slot to fill with a new cookie.
    pub network_events_idx: u8,
    /// Explicit trailing padding to the 8-byte alignment.
    pub pad: [u8; 5],
}

/// Name of the per-CPU hash map `FlowId` → [`NetworkEventsMetrics`].
pub const MAP: &str = "aggregated_flows_network_events";

/// Program attached with `kprobe` to `psample_sample_packet` (the fallback, as upstream).
pub const PROGRAM_KPROBE: &str = "psample_kprobe_netevents";
/// Program attached with `fentry` to `psample_sample_packet` (preferred when the kernel allows).
pub const PROGRAM_FENTRY: &str = "psample_fentry_netevents";
/// The kernel function both programs hook.
pub const HOOKED_FUNCTION: &str = "psample_sample_packet";

/// Load-time globals (`.rodata`) of the hook, set with `EbpfLoader::override_global`.
pub mod globals {
    /// `u32`: psample group whose samples are OVN's (`NETWORK_EVENTS_MONITORING_GROUP_ID`).
    pub const GROUP_ID: &str = "NETEVENTS_GROUP_ID";
    /// `u32`: byte offset of `psample_group.group_num` (0 = unknown: the hook does nothing).
    pub const OFF_GROUP_NUM: &str = "OFF_PSAMPLE_GROUP_NUM";
    /// `u32`: byte offset of `psample_metadata.user_cookie`.
    pub const OFF_USER_COOKIE: &str = "OFF_PSAMPLE_MD_USER_COOKIE";
    /// `u32`: byte offset of `psample_metadata.user_cookie_len`.
    pub const OFF_USER_COOKIE_LEN: &str = "OFF_PSAMPLE_MD_USER_COOKIE_LEN";
    /// `u32`: byte offset of `sk_buff.data` (fallback when `network_header` is unset).
    pub const OFF_SKB_DATA: &str = "OFF_NETEVENTS_SKB_DATA";
    /// `u32`: byte offset of `sk_buff.head`.
    pub const OFF_SKB_HEAD: &str = "OFF_NETEVENTS_SKB_HEAD";
    /// `u32`: byte offset of `sk_buff.network_header`.
    pub const OFF_SKB_NETWORK_HEADER: &str = "OFF_NETEVENTS_SKB_NETWORK_HEADER";
    /// `u32`: byte offset of `sk_buff.len`.
    pub const OFF_SKB_LEN: &str = "OFF_NETEVENTS_SKB_LEN";
}

#[cfg(feature = "user")]
// SAFETY: `#[repr(C)]`, integers and byte arrays only, every padding byte an explicit field.
unsafe impl aya::Pod for NetworkEventsMetrics {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn network_events_metrics_layout_matches_upstream() {
        assert_eq!(size_of::<NetworkEventsMetrics>(), 72);
        assert_eq!(align_of::<NetworkEventsMetrics>(), 8);
        assert_eq!(offset_of!(NetworkEventsMetrics, network_events), 16);
        assert_eq!(offset_of!(NetworkEventsMetrics, bytes), 48);
        assert_eq!(offset_of!(NetworkEventsMetrics, packets), 56);
        assert_eq!(offset_of!(NetworkEventsMetrics, eth_protocol), 64);
        assert_eq!(offset_of!(NetworkEventsMetrics, network_events_idx), 66);
        assert_eq!(offset_of!(NetworkEventsMetrics, pad), 67);
    }
}
