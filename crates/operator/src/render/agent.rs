//! The eBPF agent: ServiceAccount, DaemonSet and metrics Service in the privileged namespace.
//!
//! The environment follows the agent-env table of the operator reference (§3.2) in its order,
//! because the order is part of the pod template: reordering would roll every agent for nothing.

use super::pod::{Volumes, pull_policy};
use super::transport::{compression, processor_port, sasl_type};
use super::{Inputs, Object, component_labels, meta, selector_labels, service_account};
use crate::error::Result;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec,
    PodTemplateSpec, SecurityContext, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netobserv_api::v1beta2::{
    AgentFeature, CertificateReference, DeploymentModel, EbpfFlowFilterRule, FlowCollectorSpec,
    MountableType, SaslType, ServerTlsType,
};
use netobserv_api::validate::{OpenShiftVersion, Platform};
use serde_json::{Map, Value, json};

/// Name of the agent DaemonSet, its container and ServiceAccount.
pub const AGENT_NAME: &str = "netobserv-ebpf-agent";
/// Name of the agent metrics Service.
pub const AGENT_METRICS_SERVICE: &str = "ebpf-agent-svc-prom";
/// Default agent metrics port.
pub const AGENT_METRICS_PORT: i32 = 9400;
/// Secret holding the agent metrics serving certificate in `Auto` TLS mode.
pub const AGENT_METRICS_CERT_SECRET: &str = "ebpf-agent-svc-prom";
pub use super::transport::AGENT_CLIENT_CERT_SECRET;
/// Capabilities an unprivileged agent needs.
pub const DEFAULT_CAPABILITIES: &[&str] = &["BPF", "PERFMON", "NET_ADMIN"];

/// Objects of the agent.
pub fn render(inputs: &Inputs<'_>) -> Result<Vec<Object>> {
    let pns = inputs.privileged_ns();
    let labels = component_labels(AGENT_NAME, &inputs.images.agent);
    let mut out = Vec::new();
    if inputs.has_api(super::API_SCC) {
        out.push(scc(inputs, &pns));
    }
    out.push(service_account(AGENT_NAME, &pns, labels.clone()));
    out.push(Object::DaemonSet(daemon_set(inputs, &pns)?));
    if metrics_enabled(inputs.spec()) {
        let mut svc_meta = meta(AGENT_METRICS_SERVICE, Some(&pns), labels);
        if inputs.is_openshift()
            && inputs.spec().agent.ebpf.metrics.server.tls.kind == ServerTlsType::Auto
        {
            // The OpenShift service CA issues the `Auto` metrics certificate.
            svc_meta.annotations = Some(super::string_map(&[(
                "service.beta.openshift.io/serving-cert-secret-name",
                AGENT_METRICS_CERT_SECRET,
            )]));
        }
        out.push(Object::Service(Service {
            metadata: svc_meta,
            spec: Some(ServiceSpec {
                selector: Some(selector_labels(AGENT_NAME)),
                ports: Some(vec![ServicePort {
                    name: Some("metrics".to_string()),
                    port: metrics_port(inputs.spec()),
                    protocol: Some("TCP".to_string()),
                    target_port: Some(IntOrString::Int(metrics_port(inputs.spec()))),
                    ..ServicePort::default()
                }]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }));
    }
    Ok(out)
}

/// The OpenShift SecurityContextConstraints that lets the agent ServiceAccount run on the host
/// network as root with the eBPF capabilities (or privileged). Host paths are always allowed: the
/// agent mounts the BPF filesystem.
fn scc(inputs: &Inputs<'_>, pns: &str) -> Object {
    let ebpf = &inputs.spec().agent.ebpf;
    let caps: Vec<String> = match ebpf.advanced.as_ref().map(|a| &a.cap_override) {
        Some(c) if !c.is_empty() => c.clone(),
        _ => DEFAULT_CAPABILITIES
            .iter()
            .map(|c| (*c).to_string())
            .collect(),
    };
    let mut data = serde_json::json!({
        "allowHostDirVolumePlugin": true,
        "allowHostIPC": false,
        "allowHostNetwork": true,
        "allowHostPID": false,
        "allowHostPorts": false,
        "allowPrivilegeEscalation": ebpf.privileged,
        "allowPrivilegedContainer": ebpf.privileged,
        "readOnlyRootFilesystem": false,
        "runAsUser": {"type": "RunAsAny"},
        "seLinuxContext": {"type": "RunAsAny"},
        "fsGroup": {"type": "RunAsAny"},
        "supplementalGroups": {"type": "RunAsAny"},
        "users": [format!("system:serviceaccount:{pns}:{AGENT_NAME}")],
        "volumes": ["configMap", "csi", "downwardAPI", "emptyDir", "hostPath", "projected", "secret"],
    });
    if !ebpf.privileged
        && let Some(m) = data.as_object_mut()
    {
        m.insert("allowedCapabilities".into(), serde_json::json!(caps));
        m.insert(
            "requiredDropCapabilities".into(),
            serde_json::json!(["ALL"]),
        );
    }
    super::object::dynamic(
        super::ManagedKind::SecurityContextConstraints,
        meta(
            AGENT_NAME,
            None,
            super::string_map(&[(super::PART_OF_LABEL, super::PART_OF_VALUE)]),
        ),
        data,
    )
}

/// Whether the agent exposes Prometheus metrics (unset means yes).
pub fn metrics_enabled(spec: &FlowCollectorSpec) -> bool {
    spec.agent.ebpf.metrics.enable.unwrap_or(true)
}

/// Agent metrics port.
pub fn metrics_port(spec: &FlowCollectorSpec) -> i32 {
    spec.agent
        .ebpf
        .metrics
        .server
        .port
        .unwrap_or(AGENT_METRICS_PORT)
}

fn daemon_set(inputs: &Inputs<'_>, pns: &str) -> Result<DaemonSet> {
    let spec = inputs.spec();
    let ebpf = &spec.agent.ebpf;
    let mut volumes = Volumes::new(pns);
    let env = env_vars(inputs, &mut volumes)?;
    inputs.record_copies(&volumes.copies);
    let scheduling = ebpf.advanced.as_ref().and_then(|a| a.scheduling.clone());
    let labels = component_labels(AGENT_NAME, &inputs.images.agent);
    let mut pod_labels = selector_labels(AGENT_NAME);
    pod_labels.extend(labels.clone());
    let container = Container {
        name: AGENT_NAME.to_string(),
        image: Some(inputs.images.agent.clone()),
        image_pull_policy: Some(pull_policy(ebpf.image_pull_policy)),
        resources: Some(ebpf.resources.clone()),
        security_context: Some(security_context(spec)),
        env: Some(env),
        volume_mounts: (!volumes.mounts.is_empty()).then(|| volumes.mounts.clone()),
        ports: metrics_enabled(spec).then(|| {
            vec![ContainerPort {
                name: Some("metrics".to_string()),
                container_port: metrics_port(spec),
                protocol: Some("TCP".to_string()),
                ..ContainerPort::default()
            }]
        }),
        ..Container::default()
    };
    Ok(DaemonSet {
        metadata: meta(AGENT_NAME, Some(pns), labels),
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(selector_labels(AGENT_NAME)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(AGENT_NAME.to_string()),
                    host_network: Some(true),
                    dns_policy: Some("ClusterFirstWithHostNet".to_string()),
                    containers: vec![container],
                    volumes: (!volumes.volumes.is_empty()).then_some(volumes.volumes),
                    tolerations: Some(
                        scheduling
                            .as_ref()
                            .and_then(|s| s.tolerations.clone())
                            .unwrap_or_else(super::tolerate_all),
                    ),
                    node_selector: scheduling.as_ref().and_then(|s| s.node_selector.clone()),
                    affinity: scheduling.as_ref().and_then(|s| s.affinity.clone()),
                    priority_class_name: scheduling
                        .as_ref()
                        .map(|s| s.priority_class_name.clone())
                        .filter(|p| !p.is_empty()),
                    ..PodSpec::default()
                }),
            },
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    })
}

fn security_context(spec: &FlowCollectorSpec) -> SecurityContext {
    let ebpf = &spec.agent.ebpf;
    let caps = ebpf.advanced.as_ref().map(|a| a.cap_override.as_slice());
    agent_security_context(ebpf.privileged, caps)
}

/// The agent container's security context, shared by the operator's DaemonSet and the CLI's
/// capture DaemonSet: root; privileged, or else no privilege escalation, a read-only root file
/// system and only the capabilities eBPF needs (`cap_override` when given and not empty,
/// [`DEFAULT_CAPABILITIES`] otherwise), everything else dropped.
pub fn agent_security_context(
    privileged: bool,
    cap_override: Option<&[String]>,
) -> SecurityContext {
    if privileged {
        return SecurityContext {
            run_as_user: Some(0),
            privileged: Some(true),
            ..SecurityContext::default()
        };
    }
    let add = match cap_override {
        Some(caps) if !caps.is_empty() => caps.to_vec(),
        _ => DEFAULT_CAPABILITIES
            .iter()
            .map(|c| (*c).to_string())
            .collect(),
    };
    SecurityContext {
        run_as_user: Some(0),
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            add: Some(add),
            drop: Some(vec!["ALL".to_string()]),
        }),
        ..SecurityContext::default()
    }
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn host_ip_env(name: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "status.hostIP".to_string(),
                api_version: None,
            }),
            ..EnvVarSource::default()
        }),
    }
}

fn log_level(level: netobserv_api::v1beta2::LogLevel) -> String {
    serde_json::to_value(level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "info".to_string())
}

/// The agent environment, per the reference table; also fills the volumes the variables point
/// into.
pub fn env_vars(inputs: &Inputs<'_>, volumes: &mut Volumes) -> Result<Vec<EnvVar>> {
    let spec = inputs.spec();
    let mut out = capture_env(spec);
    if metrics_enabled(spec) {
        metrics_env(spec, volumes, &mut out);
    }
    if let Some(rules) = flow_filter_env(spec)? {
        out.push(rules);
    }
    out.push(host_ip_env("AGENT_IP"));
    advanced_env(inputs, &mut out);
    export_env(inputs, volumes, &mut out);
    // Host paths the features need (after env so that mounts follow a stable order).
    host_paths(inputs, volumes);
    Ok(out)
}

/// What the agent captures: cache, interfaces, sampling and the feature switches.
fn capture_env(spec: &FlowCollectorSpec) -> Vec<EnvVar> {
    let ebpf = &spec.agent.ebpf;
    let has = |f| spec.has_feature(f);
    let mut out = Vec::new();
    if !ebpf.cache_active_timeout.is_empty() {
        out.push(env("CACHE_ACTIVE_TIMEOUT", &ebpf.cache_active_timeout));
    }
    if ebpf.cache_max_flows != 0 {
        out.push(env("CACHE_MAX_FLOWS", ebpf.cache_max_flows.to_string()));
    }
    out.push(env("LOG_LEVEL", log_level(ebpf.log_level)));
    if !ebpf.interfaces.is_empty() {
        out.push(env("INTERFACES", ebpf.interfaces.join(",")));
    }
    if !ebpf.exclude_interfaces.is_empty() {
        out.push(env("EXCLUDE_INTERFACES", ebpf.exclude_interfaces.join(",")));
    }
    if ebpf.sampling > 0 {
        out.push(env("SAMPLING", ebpf.sampling.to_string()));
    }
    for (feature, name) in [
        (AgentFeature::FlowRtt, "ENABLE_RTT"),
        (
            AgentFeature::NetworkEvents,
            "ENABLE_NETWORK_EVENTS_MONITORING",
        ),
        (AgentFeature::UdnMapping, "ENABLE_UDN_MAPPING"),
        (AgentFeature::PacketTranslation, "ENABLE_PKT_TRANSLATION"),
        (AgentFeature::EbpfManager, "EBPF_PROGRAM_MANAGER_MODE"),
    ] {
        if has(feature) {
            out.push(env(name, "true"));
        }
    }
    if let Some(limit) = super::quantity::go_mem_limit(&ebpf.resources) {
        out.push(env("GOMEMLIMIT", limit.to_string()));
    }
    if has(AgentFeature::PacketDrop) && (ebpf.privileged || has(AgentFeature::EbpfManager)) {
        out.push(env("ENABLE_PKT_DROPS", "true"));
    }
    for (feature, name) in [
        (AgentFeature::DnsTracking, "ENABLE_DNS_TRACKING"),
        (AgentFeature::IpSec, "ENABLE_IPSEC_TRACKING"),
        (AgentFeature::TlsTracking, "ENABLE_TLS_TRACKING"),
    ] {
        if has(feature) {
            out.push(env(name, "true"));
        }
    }
    out
}

/// The metrics server: port, prefix and, unless disabled, its TLS certificate.
fn metrics_env(spec: &FlowCollectorSpec, volumes: &mut Volumes, out: &mut Vec<EnvVar>) {
    out.push(env("METRICS_ENABLE", "true"));
    out.push(env("METRICS_SERVER_PORT", metrics_port(spec).to_string()));
    out.push(env("METRICS_PREFIX", "netobserv_agent_"));
    let tls = &spec.agent.ebpf.metrics.server.tls;
    let cert = match tls.kind {
        ServerTlsType::Disabled => None,
        ServerTlsType::Auto => Some(CertificateReference {
            kind: Some(MountableType::Secret),
            name: AGENT_METRICS_CERT_SECRET.to_string(),
            namespace: String::new(),
            cert_file: "tls.crt".to_string(),
            cert_key: "tls.key".to_string(),
        }),
        ServerTlsType::Provided => tls.provided.clone(),
    };
    if let Some(cert) = cert {
        let (crt, key) = volumes.cert("prom-certs", &cert);
        out.push(env("METRICS_TLS_KEY_PATH", key));
        out.push(env("METRICS_TLS_CERT_PATH", crt));
    }
}

/// `FLOW_FILTER_RULES`, when the flow filter is enabled: its rules (or its single rule) as JSON.
fn flow_filter_env(spec: &FlowCollectorSpec) -> Result<Option<EnvVar>> {
    let ebpf = &spec.agent.ebpf;
    let Some(filter) = ebpf.flow_filter.as_ref().filter(|f| f.enable == Some(true)) else {
        return Ok(None);
    };
    let rules: Vec<&EbpfFlowFilterRule> = if filter.rules.is_empty() {
        vec![&filter.rule]
    } else {
        filter.rules.iter().collect()
    };
    let json: Vec<Value> = rules.into_iter().map(agent_filter_rule).collect();
    let text = serde_json::to_string(&json).map_err(|source| crate::Error::Serialize {
        what: "FLOW_FILTER_RULES".to_string(),
        source,
    })?;
    Ok(Some(env("FLOW_FILTER_RULES", text)))
}

/// Defaults that `advanced.env` may override in place, then the other advanced keys, sorted.
fn advanced_env(inputs: &Inputs<'_>, out: &mut Vec<EnvVar>) {
    let advanced = inputs
        .spec()
        .agent
        .ebpf
        .advanced
        .as_ref()
        .map(|a| a.env.clone())
        .unwrap_or_default();
    let tc_mode = match &inputs.facts.platform {
        Platform::OpenShift(Some(v)) if *v < OpenShiftVersion::new(4, 16, 0) => "tc",
        _ => "tcx",
    };
    let defaults = [
        ("DNS_TRACKING_PORT", "53"),
        ("NETWORK_EVENTS_MONITORING_GROUP_ID", "10"),
        ("PREFERRED_INTERFACE_FOR_MAC_PREFIX", "0a:58=eth0"),
        ("TC_ATTACH_MODE", tc_mode),
    ];
    for (name, default) in defaults {
        let value = advanced.get(name).map_or(default, String::as_str);
        out.push(env(name, value));
    }
    for (name, value) in &advanced {
        if !defaults.iter().any(|(d, _)| d == name) {
            out.push(env(name, value));
        }
    }
}

/// The export: Kafka, or gRPC to the processor (Service) or to the node (Direct).
fn export_env(inputs: &Inputs<'_>, volumes: &mut Volumes, out: &mut Vec<EnvVar>) {
    let spec = inputs.spec();
    let port = processor_port(spec).to_string();
    match spec.deployment_model {
        DeploymentModel::Kafka => kafka_env(spec, volumes, out),
        DeploymentModel::Direct => {
            out.push(env("EXPORT", "grpc"));
            out.push(host_ip_env("TARGET_HOST"));
            out.push(env("TARGET_PORT", port));
        }
        DeploymentModel::Service => {
            out.push(env("EXPORT", "grpc"));
            out.push(env(
                "TARGET_HOST",
                format!(
                    "{}.{}.svc.cluster.local.",
                    super::transport::FLP_NAME,
                    inputs.ns()
                ),
            ));
            out.push(env("TARGET_PORT", port));
            out.push(env("GRPC_RECONNECT_TIMER", "5m"));
            out.push(env("GRPC_RECONNECT_TIMER_RANDOMIZATION", "30s"));
            let tls = super::transport::service_tls(inputs);
            if let Some(ca) = &tls.ca {
                let path = volumes.file("netobserv-ca", ca);
                out.push(env("TARGET_TLS_CA_CERT_PATH", path));
            }
            if let Some(client) = &tls.agent_client {
                let (crt, key) = volumes.cert("client-certs", client);
                out.push(env("TARGET_TLS_USER_CERT_PATH", crt));
                out.push(env("TARGET_TLS_USER_KEY_PATH", key));
            }
        }
    }
}

/// Host paths the features need: the BPF filesystem always; network namespaces, kernel debug
/// and OVN/OVS sockets only for a privileged agent with the features that read them.
fn host_paths(inputs: &Inputs<'_>, volumes: &mut Volumes) {
    let spec = inputs.spec();
    let has = |f| spec.has_feature(f);
    let privileged = spec.agent.ebpf.privileged;
    volumes.host_path("bpf-fs", "/sys/fs/bpf", "/sys/fs/bpf", false);
    if privileged {
        volumes.host_path("var-run-netns", "/var/run/netns", "/var/run/netns", true);
    }
    if has(AgentFeature::PacketDrop) && !has(AgentFeature::EbpfManager) && privileged {
        volumes.host_path(
            "bpf-kernel-debug",
            "/sys/kernel/debug",
            "/sys/kernel/debug",
            true,
        );
    }
    if (has(AgentFeature::NetworkEvents) || has(AgentFeature::UdnMapping)) && privileged {
        let ovn_host = if inputs.is_openshift() {
            "/var/run/ovn-ic"
        } else {
            "/var/run/openvswitch"
        };
        volumes.host_path("var-run-ovn", ovn_host, "/var/run/ovn", true);
        volumes.host_path(
            "var-run-ovs",
            "/var/run/openvswitch",
            "/var/run/openvswitch",
            true,
        );
    }
}

fn kafka_env(spec: &FlowCollectorSpec, volumes: &mut Volumes, out: &mut Vec<EnvVar>) {
    let kafka = &spec.kafka;
    let batch = spec.agent.ebpf.kafka_batch_size;
    out.push(env("EXPORT", "kafka"));
    out.push(env("KAFKA_BROKERS", &kafka.address));
    out.push(env("KAFKA_TOPIC", &kafka.topic));
    out.push(env("KAFKA_BATCH_SIZE", batch.to_string()));
    out.push(env("KAFKA_BATCH_MESSAGES", (batch / 100).to_string()));
    out.push(env("KAFKA_COMPRESSION", compression(kafka.compression)));
    if kafka.tls.enable {
        out.push(env("KAFKA_ENABLE_TLS", "true"));
        out.push(env(
            "KAFKA_TLS_INSECURE_SKIP_VERIFY",
            kafka.tls.insecure_skip_verify.to_string(),
        ));
        if !kafka.tls.ca_cert.name.is_empty() {
            let (ca, _) = volumes.cert("kafka-certs-ca", &kafka.tls.ca_cert);
            out.push(env("KAFKA_TLS_CA_CERT_PATH", ca));
        }
        if !kafka.tls.user_cert.name.is_empty() {
            let (crt, key) = volumes.cert("kafka-certs-user", &kafka.tls.user_cert);
            out.push(env("KAFKA_TLS_USER_CERT_PATH", crt));
            out.push(env("KAFKA_TLS_USER_KEY_PATH", key));
        }
    }
    if kafka.sasl.kind != SaslType::Disabled {
        out.push(env("KAFKA_ENABLE_SASL", "true"));
        out.push(env("KAFKA_SASL_TYPE", sasl_type(kafka.sasl.kind)));
        let id = volumes.file("kafka-sasl-id", &kafka.sasl.client_id_reference);
        let secret = volumes.file("kafka-sasl-secret", &kafka.sasl.client_secret_reference);
        out.push(env("KAFKA_SASL_CLIENT_ID_PATH", id));
        out.push(env("KAFKA_SASL_CLIENT_SECRET_PATH", secret));
    }
}

/// One flow filter rule in the agent's JSON format (snake_case keys; ports split into single,
/// range and list forms).
pub fn agent_filter_rule(rule: &EbpfFlowFilterRule) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let enum_str = |v: Value| v.as_str().map(str::to_string);
    if !rule.cidr.is_empty() {
        put("ip_cidr", json!(rule.cidr));
    }
    if let Some(a) = rule.action.and_then(|a| enum_str(json!(a))) {
        put("action", json!(a));
    }
    if let Some(p) = rule.protocol.and_then(|p| enum_str(json!(p))) {
        put("protocol", json!(p));
    }
    if let Some(d) = rule.direction.and_then(|d| enum_str(json!(d))) {
        put("direction", json!(d));
    }
    if let Some(f) = rule.tcp_flags.and_then(|f| enum_str(json!(f))) {
        put("tcp_flags", json!(f));
    }
    for (value, single, range, list) in [
        (
            &rule.source_ports,
            "source_port",
            "source_port_range",
            "source_ports",
        ),
        (
            &rule.dest_ports,
            "destination_port",
            "destination_port_range",
            "destination_ports",
        ),
        (&rule.ports, "port", "port_range", "ports"),
    ] {
        match value {
            Some(IntOrString::Int(p)) => put(single, json!(p)),
            Some(IntOrString::String(s)) if s.contains('-') => put(range, json!(s)),
            Some(IntOrString::String(s)) if s.contains(',') => put(list, json!(s)),
            Some(IntOrString::String(s)) => match s.trim().parse::<i32>() {
                Ok(p) => put(single, json!(p)),
                Err(_) => put(list, json!(s)),
            },
            None => {}
        }
    }
    if !rule.peer_ip.is_empty() {
        put("peer_ip", json!(rule.peer_ip));
    }
    if !rule.peer_cidr.is_empty() {
        put("peer_cidr", json!(rule.peer_cidr));
    }
    if let Some(t) = rule.icmp_type {
        put("icmp_type", json!(t));
    }
    if let Some(c) = rule.icmp_code {
        put("icmp_code", json!(c));
    }
    if rule.pkt_drops == Some(true) {
        put("drops", json!(true));
    }
    if let Some(s) = rule.sampling {
        put("sample", json!(s));
    }
    Value::Object(m)
}

/// Labels of the agent pods, for status lookups.
pub fn pod_selector() -> String {
    format!("app={AGENT_NAME}")
}
