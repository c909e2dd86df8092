//! Errors in the eBPF agent flow filter: duplicate rules, CIDRs, IP addresses and port forms.

use crate::support::{
    RULE0, assert_clean, assert_error, assert_no_issue, check, errors_at, flow_filter,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

/// An enabled flow filter with one rule whose `field` is `value`.
fn one_rule_with(field: &str, value: Value) -> Value {
    let mut rule = serde_json::Map::new();
    rule.insert(field.to_string(), value);
    flow_filter(json!([rule]))
}

#[test]
fn flow_filter_duplicate_cidr_and_peer_cidr_is_an_error() {
    let report = check(flow_filter(json!([
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16"},
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16", "action": "Reject"},
    ])));
    assert_error(
        &report,
        "spec.agent.ebpf.flowFilter.rules[1]",
        "rules[0] already has cidr `10.0.0.0/8` and peerCIDR `192.168.0.0/16`",
    );
    assert_eq!(report.errors.len(), 1, "{report:#?}");

    // Same cidr, different peerCIDR: allowed.
    let report = check(flow_filter(json!([
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16"},
        {"cidr": "10.0.0.0/8", "peerCIDR": "172.16.0.0/12"},
    ])));
    assert_no_issue(
        &report,
        "spec.agent.ebpf.flowFilter.rules[1]",
        "already has",
    );
    assert_clean(&report);
}

#[test]
fn flow_filter_duplicates_are_not_checked_when_filter_is_disabled() {
    let rules = json!([
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16"},
        {"cidr": "10.0.0.0/8", "peerCIDR": "192.168.0.0/16"},
    ]);
    for enable in [json!(false), Value::Null] {
        let mut filter = json!({"rules": rules});
        if !enable.is_null() {
            filter["enable"] = enable.clone();
        }
        let report = check(json!({"agent": {"ebpf": {"flowFilter": filter}}}));
        assert_no_issue(
            &report,
            "spec.agent.ebpf.flowFilter.rules[1]",
            "already has",
        );
        assert_clean(&report);
    }
}

#[test]
fn flow_filter_invalid_cidr_is_an_error() {
    for bad in [
        "10.0.0.0/33",
        "not-a-cidr",
        "10.0.0.0",
        "300.0.0.0/8",
        "fd00::/129",
    ] {
        let report = check(one_rule_with("cidr", json!(bad)));
        assert_error(&report, &format!("{RULE0}.cidr"), "is not a CIDR");
        assert_error(&report, &format!("{RULE0}.cidr"), bad);
    }
    for good in ["10.0.0.0/8", "0.0.0.0/0", "fd00::/64", "10.1.2.3/8"] {
        let report = check(one_rule_with("cidr", json!(good)));
        assert_no_issue(&report, &format!("{RULE0}.cidr"), "");
        assert_clean(&report);
    }
}

#[test]
fn flow_filter_invalid_peer_cidr_is_an_error() {
    for bad in ["192.168.0.0/40", "peer", "192.168.0.1"] {
        let report = check(one_rule_with("peerCIDR", json!(bad)));
        assert_error(&report, &format!("{RULE0}.peerCIDR"), "is not a CIDR");
    }
    for good in ["192.168.0.0/16", "::/0"] {
        let report = check(one_rule_with("peerCIDR", json!(good)));
        assert_no_issue(&report, &format!("{RULE0}.peerCIDR"), "");
        assert_clean(&report);
    }
}

#[test]
fn flow_filter_invalid_peer_ip_is_an_error() {
    for bad in ["10.0.0.300", "10.0.0.0/8", "host"] {
        let report = check(one_rule_with("peerIP", json!(bad)));
        assert_error(&report, &format!("{RULE0}.peerIP"), "is not an IP address");
    }
    for good in ["10.0.0.1", "fd00::1"] {
        let report = check(one_rule_with("peerIP", json!(good)));
        assert_no_issue(&report, &format!("{RULE0}.peerIP"), "");
        assert_clean(&report);
    }
}

/// Checks a bad and a good port value in `ports`, `sourcePorts` and `destPorts`.
#[track_caller]
fn check_port_forms(bad: &[(Value, &str)], good: &[Value]) {
    for field in ["ports", "sourcePorts", "destPorts"] {
        let path = format!("{RULE0}.{field}");
        for (value, phrase) in bad {
            let report = check(one_rule_with(field, value.clone()));
            assert_error(&report, &path, phrase);
            assert_eq!(errors_at(&report, &path), 1, "{value}: {report:#?}");
        }
        for value in good {
            let report = check(one_rule_with(field, value.clone()));
            assert_no_issue(&report, &path, "");
            assert_clean(&report);
        }
    }
}

#[test]
fn flow_filter_port_range_must_start_below_its_end() {
    check_port_forms(
        &[
            (json!("100-80"), "must start below its end"),
            (json!("80-80"), "must start below its end"),
        ],
        &[json!("80-100"), json!("1-65535")],
    );
}

#[test]
fn flow_filter_port_range_with_non_number_is_an_error() {
    check_port_forms(
        &[
            (json!("80-abc"), "end of range `80-abc`"),
            (json!("abc-80"), "start of range `abc-80`"),
            (json!("80-"), "end of range"),
            (json!("80-70000"), "end of range"),
            (json!("0-80"), "port 0"),
        ],
        &[json!("80-100")],
    );
}

#[test]
fn flow_filter_port_pair_must_list_exactly_two_ports() {
    check_port_forms(
        &[
            (json!("80,443,8080"), "exactly two ports"),
            (json!("80,abc"), "second port of `80,abc`"),
            (json!("0,443"), "first port of `0,443`"),
        ],
        &[json!("80,443")],
    );
}

#[test]
fn flow_filter_port_zero_string_is_an_error() {
    check_port_forms(
        &[(json!("0"), "port 0"), (json!("http"), "is not a port")],
        &[json!("443"), json!("")],
    );
}

#[test]
fn flow_filter_port_int_zero_means_unset() {
    check_port_forms(&[], &[json!(0)]);
    // 0 is unset, so it does not conflict with sourcePorts.
    let report = check(flow_filter(json!([{"ports": 0, "sourcePorts": 80}])));
    assert_clean(&report);
}

#[test]
fn flow_filter_port_int_out_of_range_is_an_error() {
    check_port_forms(
        &[
            (json!(70000), "70000 is not a port"),
            (json!(-1), "-1 is not a port"),
        ],
        &[json!(443), json!(65535), json!(1)],
    );
}

#[test]
fn flow_filter_port_valid_forms_pass() {
    check_port_forms(
        &[],
        &[json!("80-100"), json!("80,443"), json!(443), json!("443")],
    );
}

#[test]
fn flow_filter_ports_with_source_ports_is_an_error() {
    let path = format!("{RULE0}.ports");
    let report = check(flow_filter(
        json!([{"ports": 80, "sourcePorts": "1000-2000"}]),
    ));
    assert_error(&report, &path, "ports and sourcePorts cannot be combined");
    assert_no_issue(&report, &path, "destPorts");

    // sourcePorts with destPorts is fine, and so is ports alone.
    for rule in [
        json!({"sourcePorts": "1000-2000", "destPorts": 80}),
        json!({"ports": 80}),
    ] {
        let report = check(flow_filter(json!([rule])));
        assert_no_issue(&report, &path, "cannot be combined");
        assert_clean(&report);
    }
}

#[test]
fn flow_filter_ports_with_dest_ports_is_an_error() {
    let path = format!("{RULE0}.ports");
    let report = check(flow_filter(json!([{"ports": "80,443", "destPorts": 8080}])));
    assert_error(&report, &path, "ports and destPorts cannot be combined");
    assert_no_issue(&report, &path, "sourcePorts");

    let report = check(flow_filter(
        json!([{"ports": "80,443", "sourcePorts": 8080, "destPorts": 9090}]),
    ));
    assert_error(&report, &path, "ports and destPorts cannot be combined");
    assert_error(&report, &path, "ports and sourcePorts cannot be combined");

    let report = check(flow_filter(json!([{"destPorts": 8080}])));
    assert_clean(&report);
}

#[test]
fn flow_filter_deprecated_inline_rule_is_validated_too() {
    let base = "spec.agent.ebpf.flowFilter";
    let report = check(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true,
        "cidr": "10.0.0.0/99",
        "peerCIDR": "peer",
        "peerIP": "nope",
        "ports": "0",
        "sourcePorts": 53,
    }}}}));
    assert_error(&report, &format!("{base}.cidr"), "is not a CIDR");
    assert_error(&report, &format!("{base}.peerCIDR"), "is not a CIDR");
    assert_error(&report, &format!("{base}.peerIP"), "is not an IP address");
    assert_error(&report, &format!("{base}.ports"), "port 0");
    assert_error(
        &report,
        &format!("{base}.ports"),
        "ports and sourcePorts cannot be combined",
    );

    // Also validated alongside `rules`.
    let report = check(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true,
        "cidr": "bad",
        "rules": [{"cidr": "10.0.0.0/8"}],
    }}}}));
    assert_error(&report, &format!("{base}.cidr"), "is not a CIDR");

    // A valid inline rule passes.
    let report = check(json!({"agent": {"ebpf": {"flowFilter": {
        "enable": true,
        "cidr": "10.0.0.0/8",
        "ports": "80-8080",
        "peerIP": "10.0.0.1",
    }}}}));
    assert_clean(&report);
}
