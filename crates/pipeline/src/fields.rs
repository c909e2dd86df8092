//! The names of the flow fields the agent, the pipeline and the console use (reference §A.6).
//!
//! Records keep these names as `&'static str`, so decoding and cloning a record does not allocate
//! one string per field name.

/// Every well-known field name, sorted, for binary search.
const KNOWN: &[&str] = &[
    "AgentIP",
    "Bytes",
    "DnsErrno",
    "DnsFlags",
    "DnsFlagsResponseCode",
    "DnsId",
    "DnsLatencyMs",
    "DnsName",
    "Dscp",
    "DstAddr",
    "DstK8S_HostIP",
    "DstK8S_HostName",
    "DstK8S_Name",
    "DstK8S_Namespace",
    "DstK8S_NetworkName",
    "DstK8S_OwnerName",
    "DstK8S_OwnerType",
    "DstK8S_Type",
    "DstK8S_Zone",
    "DstMac",
    "DstPort",
    "DstSubnetLabel",
    "Etype",
    "Flags",
    "FlowDirection",
    "IPSecRetCode",
    "IPSecStatus",
    "IcmpCode",
    "IcmpType",
    "IfDirections",
    "Interfaces",
    "K8S_ClusterName",
    "K8S_FlowLayer",
    "NetworkEvents",
    "Packets",
    "PktDropBytes",
    "PktDropLatestDropCause",
    "PktDropLatestFlags",
    "PktDropLatestState",
    "PktDropPackets",
    "Proto",
    "QuicSeenLongHdr",
    "QuicSeenShortHdr",
    "QuicVersion",
    "Sampling",
    "SrcAddr",
    "SrcK8S_HostIP",
    "SrcK8S_HostName",
    "SrcK8S_Name",
    "SrcK8S_Namespace",
    "SrcK8S_NetworkName",
    "SrcK8S_OwnerName",
    "SrcK8S_OwnerType",
    "SrcK8S_Type",
    "SrcK8S_Zone",
    "SrcMac",
    "SrcPort",
    "SrcSubnetLabel",
    "TLSCipherSuite",
    "TLSGroup",
    "TLSTypes",
    "TLSVersion",
    "TimeFlowEndMs",
    "TimeFlowRttNs",
    "TimeFlowStartMs",
    "TimeReceived",
    "Udns",
    "XlatDstAddr",
    "XlatDstK8S_HostIP",
    "XlatDstK8S_HostName",
    "XlatDstK8S_Name",
    "XlatDstK8S_Namespace",
    "XlatDstK8S_NetworkName",
    "XlatDstK8S_OwnerName",
    "XlatDstK8S_OwnerType",
    "XlatDstK8S_Type",
    "XlatDstK8S_Zone",
    "XlatDstPort",
    "XlatSrcAddr",
    "XlatSrcK8S_HostIP",
    "XlatSrcK8S_HostName",
    "XlatSrcK8S_Name",
    "XlatSrcK8S_Namespace",
    "XlatSrcK8S_NetworkName",
    "XlatSrcK8S_OwnerName",
    "XlatSrcK8S_OwnerType",
    "XlatSrcK8S_Type",
    "XlatSrcK8S_Zone",
    "XlatSrcPort",
    "ZoneId",
    "_HashId",
    "_IsFirst",
    "_RecordType",
];

/// The static copy of `name` when it is a well-known field.
pub fn known(name: &str) -> Option<&'static str> {
    KNOWN.binary_search(&name).ok().map(|i| KNOWN[i])
}

/// A `'static` copy of a configured field name, so stages insert it into records without an
/// allocation per record (a `Cow::Owned` key would clone the string every time). Well-known
/// names come from the static list; others are leaked once per distinct name, which bounds the
/// cost by the configuration's vocabulary (reloads reuse the names already interned).
pub fn intern(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock, PoisonError};
    if let Some(k) = known(name) {
        return k;
    }
    static EXTRA: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut set = EXTRA
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(k) = set.get(name) {
        return k;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_is_sorted_and_unique() {
        assert!(super::KNOWN.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(super::known("SrcAddr"), Some("SrcAddr"));
        assert_eq!(super::known("Unknown"), None);
        let a = super::intern("MyCustomField");
        let b = super::intern(&String::from("MyCustomField"));
        assert!(std::ptr::eq(a, b));
        assert!(std::ptr::eq(
            super::intern("SrcAddr"),
            super::known("SrcAddr").unwrap_or("")
        ));
    }
}
