//! Warnings and errors about the agent's privileges for the features that need them.

use crate::support::{assert_clean, assert_no_issue, assert_warning, check, errors_at};
use pretty_assertions::assert_eq;
use serde_json::json;

const PRIVILEGED: &str = "spec.agent.ebpf.privileged";

#[test]
fn udn_mapping_or_network_events_without_privileged_warns() {
    for feature in ["UDNMapping", "NetworkEvents"] {
        let report = check(json!({"agent": {"ebpf": {"features": [feature]}}}));
        assert_warning(
            &report,
            PRIVILEGED,
            &format!("the {feature} feature needs the eBPF agent to run privileged"),
        );
        assert!(report.errors.is_empty(), "{report:#?}");

        let report = check(json!({"agent": {"ebpf": {"privileged": true, "features": [feature]}}}));
        assert_no_issue(&report, PRIVILEGED, "");
        if feature == "NetworkEvents" {
            assert_clean(&report);
        }
    }
    // EbpfManager does not stand in for privileged here.
    let report = check(json!({"agent": {"ebpf": {"features": ["UDNMapping", "EbpfManager"]}}}));
    assert_warning(&report, PRIVILEGED, "the UDNMapping feature needs");
}

#[test]
fn packet_drop_without_privileged_or_ebpf_manager_warns() {
    let report = check(json!({"agent": {"ebpf": {"features": ["PacketDrop"]}}}));
    assert_warning(
        &report,
        PRIVILEGED,
        "the PacketDrop feature needs the eBPF agent to run privileged (or the EbpfManager feature)",
    );
    assert!(report.errors.is_empty(), "{report:#?}");

    let report =
        check(json!({"agent": {"ebpf": {"privileged": true, "features": ["PacketDrop"]}}}));
    assert_clean(&report);
    // EbpfManager would stand in for privileged, but is refused itself.
    let report = check(json!({"agent": {"ebpf": {"features": ["PacketDrop", "EbpfManager"]}}}));
    assert_no_issue(&report, PRIVILEGED, "");
    assert_eq!(
        errors_at(&report, "spec.agent.ebpf.features"),
        1,
        "{report:#?}"
    );
}

/// EbpfManager cannot work with this agent (it loads its own programs; no bpfman runs here to
/// test against), so it is refused with what to do; every other feature the CRD accepts is
/// implemented and applies cleanly.
#[test]
fn ebpf_manager_is_refused_and_other_features_apply() {
    let report =
        check(json!({"agent": {"ebpf": {"privileged": true, "features": ["EbpfManager"]}}}));
    assert_eq!(
        errors_at(&report, "spec.agent.ebpf.features"),
        1,
        "{report:#?}"
    );
    assert!(
        report
            .error_message()
            .contains("remove EbpfManager from spec.agent.ebpf.features"),
        "{report:#?}"
    );
    let report = check(
        json!({"agent": {"ebpf": {"privileged": true, "features": ["PacketDrop", "DNSTracking", "FlowRTT", "NetworkEvents", "PacketTranslation", "TLSTracking", "IPSec", "UDNMapping"]}}}),
    );
    assert_clean(&report);
}
