//! The filter, network and generic transforms on real flow records.

use netobserv_pipeline::config::{FilterTransform, NetworkTransform, Transform};
use netobserv_pipeline::record::{Record, Value};
use netobserv_pipeline::transform::{
    self, BuildError, FilterStage, NetworkStage, Sampler, Transformer,
};

fn record(json: &str) -> Record {
    Record::from_json(json).expect("valid record")
}

fn filter(yaml: &str) -> FilterStage {
    let config: FilterTransform = serde_yaml::from_str(yaml).expect("filter config");
    FilterStage::new(config)
        .expect("builds")
        .with_sampler(Sampler::with_seed(7))
}

fn network(yaml: &str) -> NetworkStage {
    let config: NetworkTransform = serde_yaml::from_str(yaml).expect("network config");
    NetworkStage::new(config).expect("builds")
}

const FLOW: &str = r#"{"SrcAddr":"10.1.2.3","DstAddr":"192.168.0.9","SrcPort":40000,"DstPort":443,"Proto":6,"Flags":18,"Bytes":1500,"Packets":3,"Sampling":1,"SrcK8S_Namespace":"netobserv","AgentIP":"172.18.0.2","SrcK8S_HostIP":"172.18.0.2","DstK8S_HostIP":"172.18.0.3","FlowDirection":0}"#;

#[test]
fn remove_rules() {
    let mut f = filter(
        "rules:\n- {type: remove_field, removeField: {input: Bytes}}\n- {type: remove_entry_if_equal, removeEntry: {input: Proto, value: 17}}",
    );
    let out = f.apply(record(FLOW)).expect("kept");
    assert!(!out.contains("Bytes"));
    assert!(f.apply(record(r#"{"Proto":17}"#)).is_none());
    let mut f = filter("rules:\n- {type: remove_entry_if_exists, removeEntry: {input: DnsId}}");
    assert!(f.apply(record(r#"{"DnsId":1}"#)).is_none());
    assert!(f.apply(record(FLOW)).is_some());
    let mut f =
        filter("rules:\n- {type: remove_entry_if_doesnt_exist, removeEntry: {input: DnsId}}");
    assert!(f.apply(record(FLOW)).is_none());
    let mut f = filter(
        "rules:\n- {type: remove_entry_if_not_equal, removeEntry: {input: SrcK8S_Namespace, value: netobserv}}",
    );
    assert!(f.apply(record(FLOW)).is_some());
    assert!(f.apply(record(r#"{"SrcK8S_Namespace":"other"}"#)).is_none());
    // Absent field: nothing to compare, the record stays.
    assert!(f.apply(record(r#"{"Proto":6}"#)).is_some());
    let mut f = filter(
        "rules:\n- type: remove_entry_all_satisfied\n  removeEntryAllSatisfied:\n  - {type: remove_entry_if_equal, removeEntry: {input: Proto, value: 6}}\n  - {type: remove_entry_if_exists, removeEntry: {input: DstK8S_OwnerName}}",
    );
    assert!(f.apply(record(FLOW)).is_some(), "only one of two satisfied");
    assert!(
        f.apply(record(r#"{"Proto":6,"DstK8S_OwnerName":"x"}"#))
            .is_none()
    );
}

#[test]
fn keep_entry_query_with_sampling_scales_the_sampling_field() {
    let mut f = filter(
        "samplingField: Sampling\nrules:\n- {type: keep_entry_query, keepEntryQuery: 'SrcK8S_Namespace=\"netobserv\" and DstPort>=443'}",
    );
    assert!(f.apply(record(FLOW)).is_some());
    assert!(
        f.apply(record(r#"{"SrcK8S_Namespace":"x","DstPort":443}"#))
            .is_none()
    );
    let mut f = filter(
        "samplingField: Sampling\nrules:\n- {type: keep_entry_query, keepEntryQuery: 'Proto=6', keepEntrySampling: 4}",
    );
    let kept: Vec<Record> = (0..4000).filter_map(|_| f.apply(record(FLOW))).collect();
    // Binomial(4000, 1/4): sd ≈ 27; 5 sd either side.
    assert!((865..=1135).contains(&kept.len()), "kept {}", kept.len());
    assert!(
        kept.iter()
            .all(|r| r.get("Sampling") == Some(&Value::UInt(4)))
    );
}

#[test]
fn add_rules() {
    let mut f = filter(
        "rules:\n- {type: add_field, addField: {input: K8S_ClusterName, value: east}}\n- {type: add_field_if_doesnt_exist, addFieldIfDoesntExist: {input: Proto, value: 17}}\n- {type: add_field_if_doesnt_exist, addFieldIfDoesntExist: {input: Zone, value: '3', castInt: true}}\n- {type: add_field_if, addFieldIf: {input: Bytes, output: Big, parameters: '>=1000', assignee: 'yes'}}\n- {type: add_regex_if, addRegexIf: {input: DstAddr, output: Lan, parameters: '^192\\.168\\.'}}",
    );
    let out = f.apply(record(FLOW)).expect("kept");
    assert_eq!(out.get("K8S_ClusterName"), Some(&Value::from("east")));
    assert_eq!(
        out.get("Proto"),
        Some(&Value::UInt(6)),
        "existing field kept"
    );
    assert_eq!(out.get("Zone"), Some(&Value::Int(3)));
    assert_eq!(out.get("Big"), Some(&Value::from("yes")));
    assert_eq!(out.get("Big_Evaluate"), Some(&Value::Bool(true)));
    assert_eq!(out.get("Lan"), Some(&Value::from("192.168.0.9")));
    assert_eq!(out.get("Lan_Matched"), Some(&Value::Bool(true)));
    let out = f
        .apply(record(r#"{"Bytes":10,"DstAddr":"10.0.0.1"}"#))
        .expect("kept");
    assert!(!out.contains("Big") && !out.contains("Lan"));
}

#[test]
fn conditional_sampling_applies_the_first_matching_condition() {
    let mut f = filter(
        "samplingField: Sampling\nrules:\n- type: conditional_sampling\n  conditionalSampling:\n  - value: 10\n    rules: [{type: remove_entry_if_equal, removeEntry: {input: FlowDirection, value: 1}}]\n  - value: 1\n    rules: [{type: remove_entry_if_exists, removeEntry: {input: Proto}}]",
    );
    let egress = r#"{"FlowDirection":1,"Proto":6,"Sampling":2}"#;
    let kept: Vec<Record> = (0..5000).filter_map(|_| f.apply(record(egress))).collect();
    assert!((400..=600).contains(&kept.len()), "kept {}", kept.len());
    assert!(
        kept.iter()
            .all(|r| r.get("Sampling") == Some(&Value::UInt(20)))
    );
    // Second condition: value 1 keeps everything, unscaled.
    assert_eq!((0..100).filter_map(|_| f.apply(record(FLOW))).count(), 100);
}

/// `add_label` / `add_label_if` collect labels into one `labels` field, `name=value` joined by
/// commas (sorted by name here; upstream's order is random), a later rule overriding an earlier one.
#[test]
fn labels_are_collected() {
    let config: Transform = serde_yaml::from_str(
        "type: filter\nfilter:\n  rules:\n  - {type: add_label, addLabel: {input: team, value: net}}\n  - {type: add_label_if, addLabelIf: {input: Bytes, output: size, parameters: '>=1000', assignee: big}}\n  - {type: add_label_if, addLabelIf: {input: Bytes, output: size, parameters: '>=100000', assignee: huge}}\n  - {type: add_label, addLabel: {input: env, value: 3}}",
    )
    .expect("parses");
    let mut f = transform::build(&config).expect("builds");
    let big = f
        .apply(Record::from_json(r#"{"Bytes":5000}"#).expect("json"))
        .expect("kept");
    assert_eq!(
        big.get("labels"),
        Some(&Value::from("env=3,size=big,team=net"))
    );
    let huge = f
        .apply(Record::from_json(r#"{"Bytes":200000}"#).expect("json"))
        .expect("kept");
    assert_eq!(
        huge.get("labels"),
        Some(&Value::from("env=3,size=huge,team=net"))
    );
    let small = f
        .apply(Record::from_json(r#"{"Bytes":10}"#).expect("json"))
        .expect("kept");
    assert_eq!(small.get("labels"), Some(&Value::from("env=3,team=net")));
    let bad: Transform = serde_yaml::from_str(
        "type: filter\nfilter:\n  rules: [{type: add_label_if, addLabelIf: {input: Bytes, output: x, parameters: 'big'}}]",
    )
    .expect("parses");
    assert!(matches!(
        transform::build(&bad),
        Err(BuildError::Invalid(m)) if m.contains("rules[0]")
    ));
}

#[test]
fn unsupported_rules_are_refused_not_ignored() {
    let config: Transform = serde_yaml::from_str(
        "type: network\nnetwork:\n  rules: [{type: add_location, add_location: {input: SrcAddr, output: Src, file_path: db}}]",
    )
    .expect("parses");
    assert!(matches!(
        transform::build(&config),
        Err(BuildError::Unsupported(_))
    ));
}

#[test]
fn subnet_and_subnet_labels() {
    let mut n = network(
        "rules:\n- {type: add_subnet, add_subnet: {input: SrcAddr, output: SrcSubnet, subnet_mask: /16}}\n- {type: add_subnet_label, add_subnet_label: {input: SrcAddr, output: SrcSubnetLabel}}\n- {type: add_subnet_label, add_subnet_label: {input: DstAddr, output: DstSubnetLabel}}\nsubnetLabels:\n- {name: Pods, cidrs: [10.1.0.0/16, 'fd00::/64']}\n- {name: 'EXT:lan', cidrs: [192.168.0.0/16, 10.0.0.0/8]}",
    );
    let out = n.apply(record(FLOW)).expect("kept");
    assert_eq!(out.get("SrcSubnet"), Some(&Value::from("10.1.0.0/16")));
    assert_eq!(
        out.get("SrcSubnetLabel"),
        Some(&Value::from("Pods")),
        "first match wins"
    );
    assert_eq!(out.get("DstSubnetLabel"), Some(&Value::from("EXT:lan")));
    let out = n
        .apply(record(r#"{"SrcAddr":"fd00::5","DstAddr":"8.8.8.8"}"#))
        .expect("kept");
    assert_eq!(out.get("SrcSubnet"), Some(&Value::from("fd00::/16")));
    assert_eq!(out.get("SrcSubnetLabel"), Some(&Value::from("Pods")));
    assert!(
        !out.contains("DstSubnetLabel"),
        "no label for unmatched addresses"
    );
}

#[test]
fn tcp_flags_and_direction() {
    let mut n = network(
        "rules:\n- {type: decode_tcp_flags, decode_tcp_flags: {input: Flags, output: Flags}}\n- {type: reinterpret_direction}\ndirectionInfo: {reporterIPField: AgentIP, srcHostField: SrcK8S_HostIP, dstHostField: DstK8S_HostIP, flowDirectionField: FlowDirection, ifDirectionField: IfDirection}",
    );
    let out = n.apply(record(FLOW)).expect("kept");
    assert_eq!(
        out.get("Flags"),
        Some(&Value::List(vec![Value::from("SYN"), Value::from("ACK")]))
    );
    assert_eq!(
        out.get("FlowDirection"),
        Some(&Value::Int(1)),
        "reporter is the source host"
    );
    assert_eq!(
        out.get("IfDirection"),
        Some(&Value::UInt(0)),
        "interface direction kept"
    );
    let out = n
        .apply(record(
            r#"{"AgentIP":"b","SrcK8S_HostIP":"a","DstK8S_HostIP":"b","FlowDirection":1}"#,
        ))
        .expect("kept");
    assert_eq!(out.get("FlowDirection"), Some(&Value::Int(0)));
    let out = n
        .apply(record(
            r#"{"AgentIP":"a","SrcK8S_HostIP":"a","DstK8S_HostIP":"a","FlowDirection":1}"#,
        ))
        .expect("kept");
    assert_eq!(
        out.get("FlowDirection"),
        Some(&Value::Int(2)),
        "same host: inner"
    );
    let flags = netobserv_pipeline::transform::decode_tcp_flags(0x100 | 0x001);
    assert_eq!(flags, vec![Value::from("FIN"), Value::from("SYN_ACK")]);
}

#[test]
fn service_names_and_flow_layer() {
    let dir = std::env::temp_dir().join(format!("netobserv-services-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let services = dir.join("services");
    std::fs::write(
        &services,
        "# comment\nhttps 443/tcp\nhttps 443/udp http3\ndomain 53/udp\n",
    )
    .expect("write");
    let mut n = network(&format!(
        "servicesFile: {}\nrules:\n- {{type: add_service, add_service: {{input: DstPort, output: DstService, protocol: Proto}}}}\n- type: add_kubernetes_infra\n  kubernetes_infra:\n    output: K8S_FlowLayer\n    namespaceNameFields: [{{namespace: SrcK8S_Namespace, name: SrcK8S_Name}}, {{namespace: DstK8S_Namespace, name: DstK8S_Name}}]\n    infra_prefixes: [netobserv, openshift]\n    infra_refs: [{{namespace: default, name: kubernetes}}]",
        services.display()
    ));
    let out = n.apply(record(FLOW)).expect("kept");
    assert_eq!(out.get("DstService"), Some(&Value::from("https")));
    assert_eq!(out.get("K8S_FlowLayer"), Some(&Value::from("infra")));
    let out = n
        .apply(record(r#"{"DstPort":53,"Proto":17,"SrcK8S_Namespace":"shop","DstK8S_Namespace":"default","DstK8S_Name":"kubernetes"}"#))
        .expect("kept");
    assert_eq!(out.get("DstService"), Some(&Value::from("domain")));
    assert_eq!(out.get("K8S_FlowLayer"), Some(&Value::from("app")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generic_renames() {
    let config: Transform = serde_yaml::from_str(
        "type: generic\ngeneric:\n  policy: replace_keys\n  rules:\n  - {input: Bytes, output: bytes}\n  - {input: TimeFlowRttNs, output: rtt_ms, multiplier: 0.000001}",
    )
    .expect("parses");
    let mut g = transform::build(&config).expect("builds");
    let out = g
        .apply(record(r#"{"Bytes":10,"TimeFlowRttNs":2000000,"Other":1}"#))
        .expect("kept");
    assert_eq!(out.to_json(), r#"{"bytes":10,"rtt_ms":2.0}"#);
}
