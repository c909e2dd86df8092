//! Indexes of the per-CPU `global_counters` array. 0–12 are upstream's; 13 and above are ours.

/// An existing flow could not be updated after an insert race.
pub const HASHMAP_FAIL_UPDATE_FLOW: u32 = 0;
/// A new flow could not be inserted (map full, typically): the packet was not counted.
pub const HASHMAP_FAIL_CREATE_FLOW: u32 = 1;
/// The DNS map could not be updated.
pub const HASHMAP_FAIL_UPDATE_DNS: u32 = 2;
/// A filter rule rejected the packet.
pub const FILTER_REJECT: u32 = 3;
/// A filter rule accepted the packet.
pub const FILTER_ACCEPT: u32 = 4;
/// No filter rule matched.
pub const FILTER_NOMATCH: u32 = 5;
/// Network events: generic error.
pub const NETWORK_EVENTS_ERR: u32 = 6;
/// Network events: psample group mismatch.
pub const NETWORK_EVENTS_ERR_GROUPID_MISMATCH: u32 = 7;
/// Network events: map update failed.
pub const NETWORK_EVENTS_ERR_UPDATE_MAP_FLOWS: u32 = 8;
/// Network events: recorded.
pub const NETWORK_EVENTS_GOOD: u32 = 9;
/// Network events: cookie ring overflowed.
pub const NETWORK_EVENTS_OVERFLOW: u32 = 10;
/// Network events: cookie too big.
pub const NETWORK_EVENTS_COOKIE_TOO_BIG: u32 = 11;
/// A flow crossed more interfaces than `observed_intf` can hold.
pub const OBSERVED_INTF_MISSED: u32 = 12;
/// Packets skipped by sampling (not in upstream, which does not count them).
pub const SAMPLED_OUT: u32 = 13;
/// First packets of flows sent to user space through the ring buffer (not a loss).
pub const RINGBUF_FIRST_PACKET: u32 = 14;
/// Records sent through the ring buffer because the flow map refused an entry (not a loss).
pub const RINGBUF_MAP_FULL: u32 = 15;
/// Records lost because the ring buffer was full: user space did not keep up.
pub const RINGBUF_LOST_RECORDS: u32 = 16;
/// Packets in those lost records.
pub const RINGBUF_LOST_PACKETS: u32 = 17;
/// New entries created in the flow map (user space reads it between evictions to evict
/// early when the map nears its high-water mark).
pub const FLOWS_INSERTED: u32 = 18;
/// The drops map could not take a new flow (full): that flow's drop details are lost.
pub const HASHMAP_FAIL_UPDATE_DROPS: u32 = 19;
/// First drops of flows sent to user space through the ring buffer (not a loss).
pub const RINGBUF_FIRST_DROP: u32 = 20;
/// Packet capture: packets written into `packet_record`.
pub const PCA_CAPTURED: u32 = 21;
/// Packet capture: packets lost because `packet_record` was full (user space did not keep
/// up).
pub const PCA_LOST: u32 = 22;
/// The TLS map could not take a new flow (full): that flow's TLS details are lost.
pub const HASHMAP_FAIL_UPDATE_TLS: u32 = 23;
/// The QUIC map could not take a new flow (full): that flow's QUIC details are lost.
pub const HASHMAP_FAIL_UPDATE_QUIC: u32 = 24;
/// Number of counters (size of the array).
pub const MAX_COUNTERS: u32 = 25;
