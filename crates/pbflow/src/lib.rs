//! The `pbflow` wire contract: flow records and the `Collector/Send` gRPC service, generated from
//! `proto/flow.proto`. It is its own crate so the agent (client) and the pipeline (server) share one
//! definition whose field numbers match the upstream NetObserv agent exactly.

#![allow(missing_docs)] // Generated code: the documentation lives in proto/flow.proto.
#![allow(clippy::all)]

tonic::include_proto!("pbflow");

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
