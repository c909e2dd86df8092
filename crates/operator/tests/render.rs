//! Behavioural tests of the pure rendering: the agent environment table, privilege handling,
//! per-model object sets, optional-API gating and the configuration digest.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, EnvVar};
use netobserv_api::v1beta2::{AgentFeature, DeploymentModel, ExecutionMode, FlowCollector};
use netobserv_api::validate::{ClusterFacts, OpenShiftVersion, Platform};
use netobserv_operator::Images;
use netobserv_operator::render::{
    self, API_CONSOLE_PLUGIN, API_PROMETHEUS_RULE, API_SERVICE_MONITOR, CONFIG_DIGEST_ANNOTATION,
    ManagedKind, Object, ObjectKey,
};

fn fc() -> FlowCollector {
    let mut fc = FlowCollector::new("cluster", Default::default());
    fc.metadata.uid = Some("uid-1".to_string());
    fc
}

fn facts(apis: &[&str]) -> ClusterFacts {
    ClusterFacts {
        platform: Platform::Kubernetes,
        available_apis: apis.iter().map(|s| (*s).to_string()).collect(),
        ..ClusterFacts::default()
    }
}

fn objects(fc: &FlowCollector, facts: &ClusterFacts) -> Vec<Object> {
    render::render(fc, facts, &Images::for_tests(), &[]).expect("renders")
}

fn keys(objs: &[Object]) -> Vec<String> {
    objs.iter().map(|o| o.key().to_string()).collect()
}

fn agent(objs: &[Object]) -> DaemonSet {
    objs.iter()
        .find_map(|o| match o {
            Object::DaemonSet(ds)
                if ds.metadata.name.as_deref() == Some("netobserv-ebpf-agent") =>
            {
                Some(ds.clone())
            }
            _ => None,
        })
        .expect("agent DaemonSet")
}

fn env(ds: &DaemonSet) -> Vec<EnvVar> {
    ds.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers[0].env.clone().unwrap_or_default())
        .unwrap_or_default()
}

fn env_names(ds: &DaemonSet) -> Vec<String> {
    env(ds).into_iter().map(|e| e.name).collect()
}

fn env_value(ds: &DaemonSet, name: &str) -> Option<String> {
    env(ds)
        .into_iter()
        .find(|e| e.name == name)
        .and_then(|e| e.value)
}

#[test]
fn agent_env_follows_the_reference_table_order() {
    let mut fc = fc();
    fc.spec.agent.ebpf.features = vec![
        AgentFeature::FlowRtt,
        AgentFeature::DnsTracking,
        AgentFeature::PacketDrop,
        AgentFeature::NetworkEvents,
    ];
    fc.spec.agent.ebpf.privileged = true;
    fc.spec.agent.ebpf.interfaces = vec!["eth0".to_string()];
    let mut adv = netobserv_api::v1beta2::AdvancedAgentConfig::default();
    adv.env
        .insert("DNS_TRACKING_PORT".to_string(), "5353".to_string());
    adv.env.insert("ZZZ_EXTRA".to_string(), "1".to_string());
    adv.env.insert("AAA_EXTRA".to_string(), "2".to_string());
    fc.spec.agent.ebpf.advanced = Some(adv);
    let ds = agent(&objects(&fc, &facts(&[])));
    assert_eq!(
        env_names(&ds),
        [
            "CACHE_ACTIVE_TIMEOUT",
            "CACHE_MAX_FLOWS",
            "LOG_LEVEL",
            "INTERFACES",
            "EXCLUDE_INTERFACES",
            "SAMPLING",
            "ENABLE_RTT",
            "ENABLE_NETWORK_EVENTS_MONITORING",
            "GOMEMLIMIT",
            "ENABLE_PKT_DROPS",
            "ENABLE_DNS_TRACKING",
            "METRICS_ENABLE",
            "METRICS_SERVER_PORT",
            "METRICS_PREFIX",
            "AGENT_IP",
            "DNS_TRACKING_PORT",
            "NETWORK_EVENTS_MONITORING_GROUP_ID",
            "PREFERRED_INTERFACE_FOR_MAC_PREFIX",
            "TC_ATTACH_MODE",
            "AAA_EXTRA",
            "ZZZ_EXTRA",
            "EXPORT",
            "TARGET_HOST",
            "TARGET_PORT",
            "GRPC_RECONNECT_TIMER",
            "GRPC_RECONNECT_TIMER_RANDOMIZATION",
            "TARGET_TLS_CA_CERT_PATH",
        ]
    );
    assert_eq!(env_value(&ds, "DNS_TRACKING_PORT").as_deref(), Some("5353"));
    // 90% of the default 800Mi limit.
    assert_eq!(env_value(&ds, "GOMEMLIMIT").as_deref(), Some("754974720"));
}

#[test]
fn packet_drops_need_privilege() {
    let mut fc = fc();
    fc.spec.agent.ebpf.features = vec![AgentFeature::PacketDrop];
    let ds = agent(&objects(&fc, &facts(&[])));
    assert_eq!(env_value(&ds, "ENABLE_PKT_DROPS"), None);
    fc.spec.agent.ebpf.privileged = true;
    let ds = agent(&objects(&fc, &facts(&[])));
    assert_eq!(env_value(&ds, "ENABLE_PKT_DROPS").as_deref(), Some("true"));
    let pod = ds.spec.and_then(|s| s.template.spec).expect("pod");
    let sc = pod.containers[0].security_context.clone().expect("sc");
    assert_eq!(sc.privileged, Some(true));
    let vols: Vec<String> = pod
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert!(vols.contains(&"bpf-kernel-debug".to_string()), "{vols:?}");
    assert!(vols.contains(&"var-run-netns".to_string()), "{vols:?}");
}

#[test]
fn capabilities_default_and_override() {
    let mut fc = fc();
    let caps = |fc: &FlowCollector| {
        let ds = agent(&objects(fc, &facts(&[])));
        let pod = ds.spec.and_then(|s| s.template.spec).expect("pod");
        let sc = pod.containers[0].security_context.clone().expect("sc");
        assert_eq!(sc.privileged, None);
        assert_eq!(pod.host_network, Some(true));
        sc.capabilities.and_then(|c| c.add).unwrap_or_default()
    };
    assert_eq!(caps(&fc), ["BPF", "PERFMON", "NET_ADMIN"]);
    fc.spec.agent.ebpf.advanced = Some(netobserv_api::v1beta2::AdvancedAgentConfig {
        cap_override: vec!["SYS_ADMIN".to_string()],
        ..Default::default()
    });
    assert_eq!(caps(&fc), ["SYS_ADMIN"]);
}

#[test]
fn network_events_mount_ovs_and_ovn_sockets() {
    let mut fc = fc();
    fc.spec.agent.ebpf.features = vec![AgentFeature::NetworkEvents];
    fc.spec.agent.ebpf.privileged = true;
    let ds = agent(&objects(&fc, &facts(&[])));
    let pod = ds.spec.and_then(|s| s.template.spec).expect("pod");
    let paths: Vec<String> = pod
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.host_path.map(|h| h.path))
        .collect();
    assert!(
        paths.contains(&"/var/run/openvswitch".to_string()),
        "{paths:?}"
    );
}

/// The first value under `key` anywhere in `v`.
fn find_key(v: &serde_json::Value, key: &str) -> Option<serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .cloned()
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

/// UDNMapping end to end in the rendering: the agent gets `ENABLE_UDN_MAPPING` and, privileged,
/// the OVS socket directory it reads the interface table from; the pipeline indexes pods by UDN
/// (`ovn-kubernetes` secondary network, index `udn`) and labels Loki streams with `UdnId`.
/// Unprivileged, the env stays but no host path is mounted (validation warns about it).
#[test]
fn udn_mapping_renders_agent_env_mounts_and_pipeline_index() {
    let mut fc = fc();
    fc.spec.agent.ebpf.features = vec![AgentFeature::UdnMapping];
    fc.spec.agent.ebpf.privileged = true;
    let objs = objects(&fc, &facts(&[]));
    let ds = agent(&objs);
    assert_eq!(
        env_value(&ds, "ENABLE_UDN_MAPPING").as_deref(),
        Some("true")
    );
    let pod = ds.spec.and_then(|s| s.template.spec).expect("pod");
    let mounts: Vec<(String, String)> = pod.containers[0]
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.name, m.mount_path))
        .collect();
    for (name, path) in [
        ("var-run-ovs", "/var/run/openvswitch"),
        ("var-run-ovn", "/var/run/ovn"),
    ] {
        assert!(
            mounts.contains(&(name.to_string(), path.to_string())),
            "{mounts:?}"
        );
    }
    let flp: serde_json::Value =
        serde_json::from_str(&config_json(&objs, "flowlogs-pipeline-config")).expect("json");
    let text = flp.to_string();
    let networks = find_key(&flp, "secondaryNetworks").expect("secondaryNetworks");
    assert_eq!(
        networks,
        serde_json::json!([{"name": "ovn-kubernetes", "index": {"udn": {}}}])
    );
    assert!(text.contains(r#""udnsField":"Udns""#), "{text}");
    assert!(text.contains(r#""UdnId""#), "{text}");

    fc.spec.agent.ebpf.privileged = false;
    let ds = agent(&objects(&fc, &facts(&[])));
    assert_eq!(
        env_value(&ds, "ENABLE_UDN_MAPPING").as_deref(),
        Some("true")
    );
    let pod = ds.spec.and_then(|s| s.template.spec).expect("pod");
    let vols: Vec<String> = pod
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert!(!vols.contains(&"var-run-ovs".to_string()), "{vols:?}");
}

#[test]
fn old_openshift_uses_tc_attach() {
    let f = ClusterFacts {
        platform: Platform::OpenShift(Some(OpenShiftVersion::new(4, 14, 0))),
        ..ClusterFacts::default()
    };
    let ds = agent(&objects(&fc(), &f));
    assert_eq!(env_value(&ds, "TC_ATTACH_MODE").as_deref(), Some("tc"));
}

#[test]
fn each_model_renders_its_own_workload() {
    let mut fc = fc();
    let has = |objs: &[Object], kind: ManagedKind, name: &str| {
        objs.iter()
            .any(|o| o.kind() == kind && o.meta().name.as_deref() == Some(name))
    };
    fc.spec.deployment_model = DeploymentModel::Service;
    let objs = objects(&fc, &facts(&[]));
    assert!(has(&objs, ManagedKind::Deployment, "flowlogs-pipeline"));
    assert!(has(&objs, ManagedKind::Service, "flowlogs-pipeline"));
    assert!(!has(&objs, ManagedKind::DaemonSet, "flowlogs-pipeline"));

    fc.spec.deployment_model = DeploymentModel::Direct;
    let objs = objects(&fc, &facts(&[]));
    assert!(has(&objs, ManagedKind::DaemonSet, "flowlogs-pipeline"));
    assert!(!has(&objs, ManagedKind::Deployment, "flowlogs-pipeline"));
    let ds = agent(&objs);
    let target = env(&ds)
        .into_iter()
        .find(|e| e.name == "TARGET_HOST")
        .expect("TARGET_HOST");
    assert_eq!(
        target
            .value_from
            .and_then(|v| v.field_ref)
            .map(|f| f.field_path)
            .as_deref(),
        Some("status.hostIP")
    );

    fc.spec.deployment_model = DeploymentModel::Kafka;
    fc.spec.kafka.address = "kafka:9092".to_string();
    fc.spec.kafka.topic = "flows".to_string();
    fc.spec.processor.kafka_consumer_autoscaler.status = netobserv_api::v1beta2::HpaStatus::Enabled;
    let objs = objects(&fc, &facts(&[]));
    assert!(has(
        &objs,
        ManagedKind::Deployment,
        "flowlogs-pipeline-transformer"
    ));
    assert!(has(
        &objs,
        ManagedKind::HorizontalPodAutoscaler,
        "flowlogs-pipeline-transformer"
    ));
    assert!(!has(&objs, ManagedKind::Deployment, "flowlogs-pipeline"));
    let ds = agent(&objs);
    assert_eq!(env_value(&ds, "EXPORT").as_deref(), Some("kafka"));
    assert_eq!(
        env_value(&ds, "KAFKA_BROKERS").as_deref(),
        Some("kafka:9092")
    );
    // With the HPA on, replicas are left to the autoscaler.
    let dep: Deployment = objs
        .iter()
        .find_map(|o| match o {
            Object::Deployment(d) => Some(d.clone()),
            _ => None,
        })
        .expect("deployment");
    assert_eq!(dep.spec.and_then(|s| s.replicas), None);
}

#[test]
fn optional_kinds_only_with_their_api() {
    let fc = fc();
    let none = objects(&fc, &facts(&[]));
    assert!(
        none.iter().all(|o| o.kind().optional_api().is_none()),
        "{:?}",
        keys(&none)
    );
    let all = objects(
        &fc,
        &facts(&[API_SERVICE_MONITOR, API_PROMETHEUS_RULE, API_CONSOLE_PLUGIN]),
    );
    for kind in [
        ManagedKind::ServiceMonitor,
        ManagedKind::PrometheusRule,
        ManagedKind::ConsolePlugin,
    ] {
        assert!(
            all.iter().any(|o| o.kind() == kind),
            "{kind:?} missing: {:?}",
            keys(&all)
        );
    }
}

#[test]
fn network_policies_follow_the_switch() {
    let mut fc = fc();
    fc.spec.network_policy.enable = Some(true);
    let objs = objects(&fc, &facts(&[]));
    assert_eq!(
        objs.iter()
            .filter(|o| o.kind() == ManagedKind::NetworkPolicy)
            .count(),
        2
    );
    fc.spec.network_policy.enable = Some(false);
    let objs = objects(&fc, &facts(&[]));
    assert_eq!(
        objs.iter()
            .filter(|o| o.kind() == ManagedKind::NetworkPolicy)
            .count(),
        0
    );
}

fn digest(objs: &[Object]) -> String {
    objs.iter()
        .find_map(|o| match o {
            Object::Deployment(d) if d.metadata.name.as_deref() == Some("flowlogs-pipeline") => d
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.annotations.as_ref())
                .and_then(|a| a.get(CONFIG_DIGEST_ANNOTATION).cloned()),
            _ => None,
        })
        .expect("digest annotation")
}

fn config_json(objs: &[Object], name: &str) -> String {
    objs.iter()
        .find_map(|o| match o {
            Object::ConfigMap(ConfigMap { metadata, data, .. })
                if metadata.name.as_deref() == Some(name) =>
            {
                data.as_ref().and_then(|d| d.get("config.json").cloned())
            }
            _ => None,
        })
        .expect("config map")
}

#[test]
fn static_config_change_changes_digest_dynamic_does_not() {
    let mut fc = fc();
    let f = facts(&[]);
    // A processor filter: the stage is part of the (static) graph, its rules are dynamic.
    fc.spec
        .processor
        .filters
        .push(netobserv_api::v1beta2::FlpFilterSet {
            query: "SrcK8S_Namespace=\"a\"".to_string(),
            ..Default::default()
        });
    let before = objects(&fc, &f);
    assert_eq!(
        digest(&before),
        digest(&objects(&fc, &f)),
        "digest is deterministic"
    );
    // Editing the filter query only touches the dynamic ConfigMap: no rollout.
    fc.spec.processor.filters[0].query = "SrcK8S_Namespace=\"b\"".to_string();
    let edited = objects(&fc, &f);
    assert_eq!(digest(&before), digest(&edited));
    assert_ne!(
        config_json(&before, "flowlogs-pipeline-config-dynamic"),
        config_json(&edited, "flowlogs-pipeline-config-dynamic")
    );
    assert_eq!(
        config_json(&before, "flowlogs-pipeline-config"),
        config_json(&edited, "flowlogs-pipeline-config")
    );
    // The Loki URL is static: rollout.
    fc.spec.loki.monolithic.url = "http://other-loki:3100/".to_string();
    let changed = objects(&fc, &f);
    assert_ne!(digest(&before), digest(&changed));
}

#[test]
fn on_hold_keeps_only_namespaces() {
    let mut fc = fc();
    fc.spec.execution.mode = ExecutionMode::OnHold;
    let objs = objects(&fc, &facts(&[]));
    assert!(
        objs.iter().all(|o| o.kind() == ManagedKind::Namespace),
        "{:?}",
        keys(&objs)
    );
}

#[test]
fn everything_but_the_main_namespace_is_owned_and_labelled() {
    let objs = objects(&fc(), &facts(&[API_SERVICE_MONITOR]));
    for o in &objs {
        let m = o.meta();
        assert_eq!(
            m.labels
                .as_ref()
                .and_then(|l| l.get("netobserv-managed"))
                .map(String::as_str),
            Some("true"),
            "{}",
            o.key()
        );
        let owned = m
            .owner_references
            .as_ref()
            .is_some_and(|r| r.iter().any(|r| r.uid == "uid-1"));
        let main_ns = o.key()
            == ObjectKey {
                kind: ManagedKind::Namespace,
                namespace: None,
                name: "netobserv".to_string(),
            };
        assert_eq!(owned, !main_ns, "{}", o.key());
    }
}

#[test]
fn no_cluster_roles_are_rendered() {
    // Component roles ship statically (config/rbac/component_roles.yaml); only bindings are ours.
    let objs = objects(&fc(), &facts(&[]));
    let text = serde_json::to_string(
        &objs
            .iter()
            .map(|o| o.to_value().expect("json"))
            .collect::<Vec<_>>(),
    )
    .expect("json");
    assert!(!text.contains("\"kind\":\"ClusterRole\",\"metadata\""));
    let roles: Vec<String> = objs
        .iter()
        .filter_map(|o| match o {
            Object::ClusterRoleBinding(b) => Some(b.role_ref.name.clone()),
            Object::RoleBinding(b) => Some(b.role_ref.name.clone()),
            _ => None,
        })
        .collect();
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/rbac/component_roles.yaml"
    ))
    .expect("roles file");
    for r in roles {
        assert!(
            shipped.contains(&format!("name: {r}\n")),
            "{r} is not a shipped component role"
        );
    }
}

#[test]
fn demo_loki_only_when_requested() {
    let mut fc = fc();
    let count = |fc: &FlowCollector| {
        objects(fc, &facts(&[]))
            .iter()
            .filter(|o| {
                o.key().to_string().ends_with("/loki")
                    || o.kind() == ManagedKind::PersistentVolumeClaim
            })
            .count()
    };
    assert_eq!(count(&fc), 0);
    fc.spec.loki.monolithic.install_demo_loki = true;
    // Deployment, Service and PVC (the ConfigMap is `loki-config`).
    assert_eq!(count(&fc), 3);
}

#[test]
fn openshift_gets_an_agent_scc() {
    let fc = fc();
    let objs = objects(&fc, &facts(&[netobserv_operator::render::API_SCC]));
    let scc = objs
        .iter()
        .find(|o| o.kind() == ManagedKind::SecurityContextConstraints)
        .expect("SCC");
    let v = scc.to_value().expect("json");
    assert_eq!(
        v["users"][0],
        "system:serviceaccount:netobserv-privileged:netobserv-ebpf-agent"
    );
    assert_eq!(
        v["allowedCapabilities"],
        serde_json::json!(["BPF", "PERFMON", "NET_ADMIN"])
    );
    assert!(
        objects(&fc, &facts(&[]))
            .iter()
            .all(|o| o.kind() != ManagedKind::SecurityContextConstraints)
    );
}
