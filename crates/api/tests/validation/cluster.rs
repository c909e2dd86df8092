//! Warnings that depend on the cluster: node count, CNI, platform and OpenShift version (and the
//! parsing of that version).

use crate::support::{
    assert_clean, assert_no_issue, assert_warning, check, fc, known, openshift, with_cni,
    with_nodes,
};
use netobserv_api::v1beta2::{AgentFeature, FlowCollector};
use netobserv_api::validate::{ClusterFacts, Cni, OpenShiftVersion, Platform, validate};
use pretty_assertions::assert_eq;
use serde_json::json;

/// The CRD spelling of a feature, as the warnings print it.
fn feature_name(feature: AgentFeature) -> String {
    serde_json::to_value(feature)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn direct_model_with_15_or_more_nodes_warns() {
    let direct = fc(json!({"deploymentModel": "Direct"}));
    for n in [15, 16, 500] {
        let report = validate(&direct, &with_nodes(Some(n)));
        assert_warning(
            &report,
            "spec.deploymentModel",
            &format!("with {n} nodes (>= 15)"),
        );
        assert!(report.errors.is_empty(), "{report:#?}");
    }
    for n in [1, 14] {
        let report = validate(&direct, &with_nodes(Some(n)));
        assert_no_issue(&report, "spec.deploymentModel", "");
        assert_clean(&report);
    }
    // Other models do not care about the node count.
    for model in ["Service", "Kafka"] {
        let report = validate(
            &fc(
                json!({"deploymentModel": model, "kafka": {"address": "kafka:9092", "topic": "flows"}}),
            ),
            &with_nodes(Some(100)),
        );
        assert_clean(&report);
    }
}

#[test]
fn direct_model_with_unknown_node_count_warns() {
    let report = validate(&fc(json!({"deploymentModel": "Direct"})), &with_nodes(None));
    assert_warning(&report, "spec.deploymentModel", "node count is not known");
    assert_warning(&report, "spec.deploymentModel", "unknown environment");

    let report = validate(
        &fc(json!({"deploymentModel": "Direct"})),
        &with_nodes(Some(3)),
    );
    assert_no_issue(&report, "spec.deploymentModel", "");
}

#[test]
fn network_policy_enabled_on_openshift_sdn_warns() {
    let facts = with_cni(Some(Cni::OpenShiftSdn));
    let report = validate(&fc(json!({"networkPolicy": {"enable": true}})), &facts);
    assert_warning(&report, "spec.networkPolicy.enable", "OpenShiftSDN");
    assert_warning(&report, "spec.networkPolicy.enable", "ignored");

    for spec in [json!({"networkPolicy": {"enable": false}}), json!({})] {
        let report = validate(&fc(spec), &facts);
        assert_no_issue(&report, "spec.networkPolicy.enable", "");
        assert_clean(&report);
    }
    // On OVN-Kubernetes, enabling them is the tested setup.
    let report = check(json!({"networkPolicy": {"enable": true}}));
    assert_clean(&report);
}

#[test]
fn network_policy_enabled_on_unknown_cni_warns() {
    for cni in [Cni::Unknown, Cni::Other("calico".to_string())] {
        let facts = with_cni(Some(cni));
        let report = validate(&fc(json!({"networkPolicy": {"enable": true}})), &facts);
        assert_warning(&report, "spec.networkPolicy.enable", "unrecognised CNI");

        for spec in [json!({"networkPolicy": {"enable": false}}), json!({})] {
            let report = validate(&fc(spec), &facts);
            assert_no_issue(&report, "spec.networkPolicy.enable", "");
            assert_clean(&report);
        }
    }
}

#[test]
fn undetected_cni_warns() {
    for spec in [json!({}), json!({"networkPolicy": {"enable": true}})] {
        let report = validate(&fc(spec), &with_cni(None));
        assert_warning(
            &report,
            "spec.networkPolicy.enable",
            "CNI could not be detected",
        );
        assert!(report.errors.is_empty(), "{report:#?}");
    }
    let report = validate(&fc(json!({})), &with_cni(Some(Cni::Kindnet)));
    assert_no_issue(&report, "spec.networkPolicy.enable", "");
    assert_clean(&report);
}

const FEATURE_MINIMUMS: [(AgentFeature, OpenShiftVersion); 4] = [
    (AgentFeature::PacketDrop, OpenShiftVersion::new(4, 14, 0)),
    (AgentFeature::UdnMapping, OpenShiftVersion::new(4, 18, 0)),
    (AgentFeature::NetworkEvents, OpenShiftVersion::new(4, 19, 0)),
    (AgentFeature::EbpfManager, OpenShiftVersion::new(4, 19, 0)),
];

/// A privileged agent with one feature, so that only the version check can warn.
fn privileged_with(feature: AgentFeature) -> FlowCollector {
    fc(json!({"agent": {"ebpf": {"privileged": true, "features": [feature]}}}))
}

#[test]
fn feature_below_minimum_openshift_version_warns() {
    for (feature, min) in FEATURE_MINIMUMS {
        let name = feature_name(feature);
        let report = validate(&privileged_with(feature), &openshift(4, 13, 0));
        assert_warning(
            &report,
            "spec.agent.ebpf.features",
            &format!("the {name} feature needs OpenShift {min} or later; this cluster runs 4.13.0"),
        );
        if feature != AgentFeature::EbpfManager {
            assert!(report.errors.is_empty(), "{report:#?}");
        }

        // Just below the minimum still warns; the minimum itself does not.
        let below = if min.minor == 14 {
            openshift(4, 13, 99)
        } else {
            openshift(4, min.minor - 1, 12)
        };
        let report = validate(&privileged_with(feature), &below);
        assert_warning(
            &report,
            "spec.agent.ebpf.features",
            &format!("the {name} feature needs OpenShift"),
        );
        let report = validate(&privileged_with(feature), &openshift(4, min.minor, 0));
        assert_no_issue(&report, "spec.agent.ebpf.features", "needs OpenShift");

        let report = validate(&privileged_with(feature), &openshift(4, 19, 0));
        assert_no_issue(&report, "spec.agent.ebpf.features", "needs OpenShift");
        // EbpfManager is refused (tested below).
        if !matches!(feature, AgentFeature::EbpfManager) {
            assert_clean(&report);
        }
    }
    // Features without a minimum never warn about versions.
    let report = validate(
        &fc(
            json!({"agent": {"ebpf": {"features": ["DNSTracking", "FlowRTT", "PacketTranslation", "IPSec", "TLSTracking"]}}}),
        ),
        &openshift(4, 10, 0),
    );
    assert_no_issue(&report, "spec.agent.ebpf.features", "needs OpenShift");
}

#[test]
fn feature_versions_are_not_checked_on_plain_kubernetes() {
    let facts = ClusterFacts {
        platform: Platform::Kubernetes,
        ..known()
    };
    for (feature, _) in FEATURE_MINIMUMS {
        let report = validate(&privileged_with(feature), &facts);
        assert_no_issue(&report, "spec.agent.ebpf.features", "needs OpenShift");
        assert_no_issue(&report, "spec.agent.ebpf.features", "unknown environment");
    }
}

#[test]
fn unknown_platform_warns_unknown_environment() {
    let facts = ClusterFacts {
        platform: Platform::Unknown,
        ..known()
    };
    for (feature, _) in FEATURE_MINIMUMS {
        let name = feature_name(feature);
        let report = validate(&privileged_with(feature), &facts);
        assert_warning(
            &report,
            "spec.agent.ebpf.features",
            &format!("unknown environment: cannot tell whether the {name} feature is supported"),
        );
        if feature != AgentFeature::EbpfManager {
            assert!(report.errors.is_empty(), "{report:#?}");
        }
    }
    // OpenShift whose version could not be read.
    let facts = ClusterFacts {
        platform: Platform::OpenShift(None),
        ..known()
    };
    let report = validate(&privileged_with(AgentFeature::PacketDrop), &facts);
    assert_warning(
        &report,
        "spec.agent.ebpf.features",
        "the OpenShift version could not be read",
    );
    // Known OpenShift version: no such warning.
    let report = validate(&privileged_with(AgentFeature::PacketDrop), &known());
    assert_no_issue(&report, "spec.agent.ebpf.features", "");
    assert_clean(&report);
}

#[test]
fn openshift_version_parsing() {
    let good = [
        ("4.19.3", (4, 19, 3)),
        ("4.19", (4, 19, 0)),
        ("4", (4, 0, 0)),
        ("v4.14.0-rc.1", (4, 14, 0)),
        ("4.18.0+build.5", (4, 18, 0)),
        (" 4.20.1 ", (4, 20, 1)),
        ("4.16.0-0.nightly-2024-05-01-111315", (4, 16, 0)),
    ];
    for (input, (major, minor, patch)) in good {
        let parsed: OpenShiftVersion = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            parsed,
            OpenShiftVersion::new(major, minor, patch),
            "{input}"
        );
    }
    for bad in [
        "", "v", "four.19", "4.x", "4..1", "4.19.3.1", "4.-1", "-rc.1", "4.19.a",
    ] {
        let err = bad.parse::<OpenShiftVersion>();
        assert!(err.is_err(), "{bad:?} must not parse, got {err:?}");
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("is not an OpenShift version"),
            "{bad:?}"
        );
    }
    // Ordering is numeric, not lexical.
    assert!(OpenShiftVersion::new(4, 9, 0) < OpenShiftVersion::new(4, 10, 0));
    assert!(OpenShiftVersion::new(4, 19, 0) < OpenShiftVersion::new(4, 19, 1));
    assert_eq!(OpenShiftVersion::new(4, 19, 2).to_string(), "4.19.2");
}
