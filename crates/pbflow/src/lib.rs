//! The `pbflow` wire contract: flow records and the `Collector/Send` gRPC service, generated from
//! `proto/flow.proto`. It is its own crate so the agent (client) and the pipeline (server) share one
//! definition whose field numbers match the upstream NetObserv agent exactly.

#![allow(missing_docs)] // Generated code: the documentation lives in proto/flow.proto.
#![allow(clippy::all)]

tonic::include_proto!("pbflow");

/// The `pbpacket` wire contract of packet capture (`proto/packet.proto`): one captured packet per
/// `pbpacket.Collector/Send` call, as a pcap record in a `google.protobuf.Any` (upstream's), or
/// several per `SendBatch` call (ours). Lives here so the agent and the collectors share one
/// definition with the flow contract.
pub mod pbpacket {
    #![allow(missing_docs)] // Generated code: the documentation lives in proto/packet.proto.
    tonic::include_proto!("pbpacket");

    /// Fully qualified gRPC path of the packet export call, as upstream collectors expect it.
    pub const SEND_METHOD_PATH: &str = "/pbpacket.Collector/Send";

    /// Path of the batch call (a netobserv-rs addition; upstream collectors answer
    /// UNIMPLEMENTED).
    pub const SEND_BATCH_METHOD_PATH: &str = "/pbpacket.Collector/SendBatch";

    /// Length of the classic pcap record header at the start of `Packet.pcap.value`.
    pub const PCAP_RECORD_HEADER_LEN: usize = 16;

    /// A classic pcap record header (little endian): seconds and microseconds of the capture
    /// time, bytes captured, bytes on the wire.
    pub fn pcap_record_header(time_ns: u64, cap_len: u32, orig_len: u32) -> [u8; 16] {
        let secs = (time_ns / 1_000_000_000) as u32;
        let micros = ((time_ns % 1_000_000_000) / 1000) as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&micros.to_le_bytes());
        h[8..12].copy_from_slice(&cap_len.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.to_le_bytes());
        h
    }

    /// The pcap record of a packet, decoded.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Decoded<'a> {
        /// Capture time, ns since the Unix epoch: `timestamp_ns` when set, else the pcap
        /// header's (microsecond precision).
        pub time_ns: u64,
        /// Length of the packet on the wire.
        pub orig_len: u32,
        /// The captured bytes.
        pub data: &'a [u8],
    }

    /// Why a `Packet` cannot be decoded.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum DecodeError {
        /// No `pcap` field.
        Missing,
        /// Shorter than the 16-byte record header.
        Short(usize),
        /// The header's captured length does not match the bytes that follow it.
        Length {
            /// Captured length in the header.
            header: u32,
            /// Bytes after the header.
            actual: usize,
        },
    }

    impl std::fmt::Display for DecodeError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                DecodeError::Missing => write!(f, "packet without its pcap field"),
                DecodeError::Short(n) => {
                    write!(
                        f,
                        "pcap record of {n} bytes, shorter than its 16-byte header"
                    )
                }
                DecodeError::Length { header, actual } => write!(
                    f,
                    "pcap record header says {header} bytes captured, {actual} follow"
                ),
            }
        }
    }

    impl std::error::Error for DecodeError {}

    impl Packet {
        /// The pcap record it carries, with the netobserv-rs time stamp when present (not named
        /// `decode`, which is `prost::Message::decode`).
        pub fn record(&self) -> Result<Decoded<'_>, DecodeError> {
            let v = &self.pcap.as_ref().ok_or(DecodeError::Missing)?.value;
            if v.len() < PCAP_RECORD_HEADER_LEN {
                return Err(DecodeError::Short(v.len()));
            }
            let word = |i: usize| u32::from_le_bytes([v[i], v[i + 1], v[i + 2], v[i + 3]]);
            let (secs, micros, cap_len, orig_len) = (word(0), word(4), word(8), word(12));
            let data = &v[PCAP_RECORD_HEADER_LEN..];
            if cap_len as usize != data.len() {
                return Err(DecodeError::Length {
                    header: cap_len,
                    actual: data.len(),
                });
            }
            let time_ns = if self.timestamp_ns != 0 {
                self.timestamp_ns
            } else {
                u64::from(secs) * 1_000_000_000 + u64::from(micros) * 1000
            };
            Ok(Decoded {
                time_ns,
                orig_len,
                data,
            })
        }
    }
}

/// Fully qualified gRPC path of the flow export call, as upstream collectors expect it.
pub const SEND_METHOD_PATH: &str = "/pbflow.Collector/Send";

/// Offset of network-event drop causes in `pkt_drop_latest_drop_cause`: a subsystem of its own,
/// above every kernel `skb_drop_reason`. The agent injects `NETWORK_EVENT_CAUSE_BASE + index`
/// of [`NETWORK_EVENT_ACTORS`] for ACL drops and the pipeline names it `NetworkEvent_<actor>`,
/// so both the offset and the order are part of the wire contract.
pub const NETWORK_EVENT_CAUSE_BASE: u32 = 1 << 24;

/// ACL owners (OVN-Kubernetes owner types) in the index order of the injected drop causes.
pub const NETWORK_EVENT_ACTORS: [&str; 9] = [
    "NetworkPolicy",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "EgressFirewall",
    "UDNIsolation",
    "MulticastNS",
    "MulticastCluster",
    "NetpolNode",
    "NetpolNamespace",
];

impl Ip {
    /// Builds the wire form of an address: IPv4 as a big-endian `fixed32`, IPv6 as 16 bytes.
    pub fn from_addr(addr: std::net::IpAddr) -> Self {
        let family = match addr {
            std::net::IpAddr::V4(v4) => ip::IpFamily::Ipv4(u32::from(v4)),
            std::net::IpAddr::V6(v6) => ip::IpFamily::Ipv6(v6.octets().to_vec()),
        };
        Ip {
            ip_family: Some(family),
        }
    }

    /// Decodes the address back, if the family is set and well formed.
    pub fn to_addr(&self) -> Option<std::net::IpAddr> {
        match self.ip_family.as_ref()? {
            ip::IpFamily::Ipv4(v) => Some(std::net::IpAddr::V4((*v).into())),
            ip::IpFamily::Ipv6(b) => {
                let octets: [u8; 16] = b.as_slice().try_into().ok()?;
                Some(std::net::IpAddr::V6(octets.into()))
            }
        }
    }
}

/// Packs a MAC address most significant byte first, the `DataLink` wire convention.
pub fn mac_to_u64(mac: [u8; 6]) -> u64 {
    mac.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}
