//! The Information Elements the `ipfix` writer exports and how each is read from a record:
//! the IANA ones upstream's exporter sends (RFC 7012 numbers), then, when an enterprise id is
//! configured, NetObserv's enterprise-specific ones (Kubernetes names, RTT, interfaces,
//! translation; the numbers upstream documents, so collectors set up for it keep working).
//!
//! Where upstream leaves a field out (ICMP flows without ports, the Kubernetes names, an
//! interface list of more than one entry) we export it: unknown values are zero or empty, never
//! a missing record.

use crate::record::{Record, Value};
use std::net::IpAddr;

/// Length marking a variable-length element in a template (RFC 7011 §7).
pub const VARIABLE: u16 = 0xffff;

/// Address family of a template: one per family, as addresses have fixed lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// IPv4 flows (template 256).
    V4,
    /// IPv6 flows (template 257).
    V6,
}

impl Family {
    /// The template id of this family's data sets.
    pub fn template_id(self) -> u16 {
        match self {
            Family::V4 => 256,
            Family::V6 => 257,
        }
    }

    /// The family of a record: its source address's, IPv4 when it has none.
    pub fn of(record: &Record) -> Family {
        match record.get("SrcAddr").and_then(Value::as_ip) {
            Some(IpAddr::V6(_)) => Family::V6,
            _ => Family::V4,
        }
    }
}

/// How a value is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Unsigned big-endian integer of the element's length (1, 2, 4 or 8 bytes).
    Unsigned,
    /// A MAC address (6 bytes) from `aa:bb:cc:dd:ee:ff` text.
    Mac,
    /// An address of the template's family.
    Address,
    /// A UTF-8 string, variable length; a list is joined with commas.
    Text,
    /// The first item of a list (or the string) as [`Encoding::Text`].
    FirstText,
    /// TCP flags: the bit field, also from the names `decode_tcp_flags` leaves.
    TcpFlags,
}

/// One element of a template and the record field it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element {
    /// Element id (without the enterprise bit).
    pub id: u16,
    /// Encoded length ([`VARIABLE`] for text).
    pub length: u16,
    /// Whether it is enterprise-specific (then the configured enterprise number follows).
    pub enterprise: bool,
    /// Record field read.
    pub field: &'static str,
    /// How it is encoded.
    pub encoding: Encoding,
}

const fn iana(id: u16, length: u16, field: &'static str, encoding: Encoding) -> Element {
    Element {
        id,
        length,
        enterprise: false,
        field,
        encoding,
    }
}

const fn private(id: u16, length: u16, field: &'static str, encoding: Encoding) -> Element {
    Element {
        id,
        length,
        enterprise: true,
        field,
        encoding,
    }
}

use Encoding::{Address, FirstText, Mac, TcpFlags, Text, Unsigned};

/// IANA elements common to both families, before the addresses.
const HEAD: [Element; 4] = [
    iana(256, 2, "Etype", Unsigned),        // ethernetType
    iana(61, 1, "FlowDirection", Unsigned), // flowDirection
    iana(56, 6, "SrcMac", Mac),             // sourceMacAddress
    iana(80, 6, "DstMac", Mac),             // destinationMacAddress
];

/// IANA elements common to both families, after the family-specific ones.
const TAIL: [Element; 8] = [
    iana(7, 2, "SrcPort", Unsigned),             // sourceTransportPort
    iana(11, 2, "DstPort", Unsigned),            // destinationTransportPort
    iana(1, 8, "Bytes", Unsigned),               // octetDeltaCount
    iana(6, 2, "Flags", TcpFlags),               // tcpControlBits
    iana(152, 8, "TimeFlowStartMs", Unsigned),   // flowStartMilliseconds
    iana(153, 8, "TimeFlowEndMs", Unsigned),     // flowEndMilliseconds
    iana(2, 8, "Packets", Unsigned),             // packetDeltaCount
    iana(82, VARIABLE, "Interfaces", FirstText), // interfaceName (the first interface)
];

const V4: [Element; 5] = [
    iana(8, 4, "SrcAddr", Address),     // sourceIPv4Address
    iana(12, 4, "DstAddr", Address),    // destinationIPv4Address
    iana(4, 1, "Proto", Unsigned),      // protocolIdentifier
    iana(176, 1, "IcmpType", Unsigned), // icmpTypeIPv4
    iana(177, 1, "IcmpCode", Unsigned), // icmpCodeIPv4
];

const V6: [Element; 5] = [
    iana(27, 16, "SrcAddr", Address),   // sourceIPv6Address
    iana(28, 16, "DstAddr", Address),   // destinationIPv6Address
    iana(193, 1, "Proto", Unsigned),    // nextHeaderIPv6
    iana(178, 1, "IcmpType", Unsigned), // icmpTypeIPv6
    iana(179, 1, "IcmpCode", Unsigned), // icmpCodeIPv6
];

/// NetObserv's enterprise-specific elements, both families.
const PRIVATE: [Element; 11] = [
    private(7733, VARIABLE, "SrcK8S_Namespace", Text),
    private(7734, VARIABLE, "SrcK8S_Name", Text),
    private(7735, VARIABLE, "DstK8S_Namespace", Text),
    private(7736, VARIABLE, "DstK8S_Name", Text),
    private(7737, VARIABLE, "SrcK8S_HostName", Text),
    private(7738, VARIABLE, "DstK8S_HostName", Text),
    private(7740, 8, "TimeFlowRttNs", Unsigned),
    private(7741, VARIABLE, "Interfaces", Text), // every interface, comma-separated
    private(7742, VARIABLE, "IfDirections", Text),
    private(7743, 2, "XlatSrcPort", Unsigned),
    private(7744, 2, "XlatDstPort", Unsigned),
];

const PRIVATE_V4: [Element; 2] = [
    private(7745, 4, "XlatSrcAddr", Address),
    private(7746, 4, "XlatDstAddr", Address),
];

const PRIVATE_V6: [Element; 2] = [
    private(7747, 16, "XlatSrcAddr", Address),
    private(7748, 16, "XlatDstAddr", Address),
];

/// The elements of a family's template, in order; enterprise ones only with `enterprise`.
pub fn template(family: Family, enterprise: bool) -> Vec<Element> {
    let (ips, xlat) = match family {
        Family::V4 => (&V4, &PRIVATE_V4),
        Family::V6 => (&V6, &PRIVATE_V6),
    };
    let mut out: Vec<Element> = HEAD.iter().chain(ips).copied().collect();
    out.extend(TAIL);
    if enterprise {
        out.extend(PRIVATE.iter().chain(xlat).copied());
    }
    out
}
