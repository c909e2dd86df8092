//! Flow filter rules as the kernel programs read them (`FLOW_FILTER_RULES`): LPM-trie keys and
//! the 52-byte rule value, laid out as upstream's `filter_value_t`.

/// Filter actions (upstream `filter_action_t`).
pub mod filter_action {
    /// Keep matching packets.
    pub const ACCEPT: u32 = 0;
    /// Skip matching packets.
    pub const REJECT: u32 = 1;
    /// No action configured.
    pub const UNSET: u32 = 2;
}

/// Most filter rules the LPM tries hold.
pub const MAX_FILTER_ENTRIES: u32 = 16;

/// Key of the filter LPM tries: prefix length then address. IPv4 rules use the 4 raw bytes (not
/// v4-mapped) with a prefix ≤ 32, as upstream does.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterKey {
    /// Number of significant bits of `ip_data`.
    pub prefix_len: u32,
    /// Address bytes: 4 for IPv4 (rest zero), 16 for IPv6.
    pub ip_data: [u8; 16],
}

/// One filter rule (value of `filter_map`), laid out as upstream's 52-byte `filter_value_t`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterValue {
    /// IP protocol to match; 0 = any.
    pub protocol: u8,
    /// Explicit padding.
    pub pad0: u8,
    /// Destination port range start (inclusive); 0 = unset.
    pub dst_port_start: u16,
    /// Destination port range end (inclusive).
    pub dst_port_end: u16,
    /// First of two alternative destination ports.
    pub dst_port1: u16,
    /// Second of two alternative destination ports.
    pub dst_port2: u16,
    /// Source port range start.
    pub src_port_start: u16,
    /// Source port range end.
    pub src_port_end: u16,
    /// First of two alternative source ports.
    pub src_port1: u16,
    /// Second of two alternative source ports.
    pub src_port2: u16,
    /// Either-side port range start.
    pub port_start: u16,
    /// Either-side port range end.
    pub port_end: u16,
    /// First of two alternative either-side ports.
    pub port1: u16,
    /// Second of two alternative either-side ports.
    pub port2: u16,
    /// ICMP type to match when bit 0 of `icmp_set` is set.
    pub icmp_type: u8,
    /// ICMP code to match when bit 1 of `icmp_set` is set.
    pub icmp_code: u8,
    /// Direction to match, or [`crate::DIRECTION_ANY`].
    pub direction: u32,
    /// [`filter_action`] value.
    pub action: u32,
    /// TCP flag bit (see [`crate::tcp_flags`]) to match exactly; 0 = any.
    pub tcp_flags: u32,
    /// Match only dropped packets (PacketDrop hook).
    pub filter_drops: u8,
    /// Bit 0: `icmp_type` is set; bit 1: `icmp_code` is set. Lives in upstream's padding so that
    /// type/code 0 (echo reply) can be matched, which upstream cannot express.
    pub icmp_set: u8,
    /// Explicit padding.
    pub pad1: [u8; 2],
    /// Per-rule sampling rate; 0 = use the global one.
    pub sample: u32,
    /// 1 when the rule also requires the peer address to be in `peer_filter_map`.
    pub do_peer_cidr_lookup: u8,
    /// Explicit trailing padding.
    pub pad2: [u8; 3],
}
