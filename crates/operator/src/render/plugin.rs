//! The console plugin: Deployment, Services, ConfigMap, RBAC, optional HPA, and the OpenShift
//! `ConsolePlugin` object when that API exists. Without the API the plugin runs standalone
//! (its own UI, no console integration) unless `consolePlugin.standalone` says otherwise.

use super::object::dynamic;
use super::pod::pull_policy;
use super::{
    CONFIG_DIGEST_ANNOTATION, Inputs, ManagedKind, Object, cluster_role_binding, component_labels,
    deployment_hpa, meta, selector_labels, service_account, string_map,
};
use crate::error::Result;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, PodSpec,
    PodTemplateSpec, SecretVolumeSource, SecurityContext, Service, ServicePort, ServiceSpec,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netobserv_api::v1beta2::{
    AgentFeature, FlowCollectorSpec, FlpLogTypes, HpaStatus, LogLevel, LokiAuthToken,
    PrometheusMode, SchedulingConfig,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Name of the plugin Deployment, Service, ServiceAccount and ConsolePlugin.
pub const PLUGIN_NAME: &str = "netobserv-plugin";
/// Name of the plugin ConfigMap.
pub const PLUGIN_CONFIG: &str = "console-plugin-config";
/// Secret of the plugin serving certificate (OpenShift service CA).
pub const PLUGIN_CERT_SECRET: &str = "netobserv-plugin-cert";
/// Metrics port of the plugin.
pub const PLUGIN_METRICS_PORT: i32 = 9002;

/// Plugin serving port.
pub fn plugin_port(spec: &FlowCollectorSpec) -> i32 {
    spec.console_plugin
        .advanced
        .as_ref()
        .map_or(9001, |a| a.port)
}

/// Whether the plugin runs standalone (no OpenShift console).
pub fn standalone(inputs: &Inputs<'_>) -> bool {
    inputs
        .spec()
        .console_plugin
        .standalone
        .unwrap_or(!inputs.has_api(super::API_CONSOLE_PLUGIN))
}

/// Whether the plugin is deployed at all.
pub fn enabled(inputs: &Inputs<'_>) -> bool {
    let spec = inputs.spec();
    spec.console_plugin.enable
        && (spec.use_loki() || spec.prometheus.querier.enable)
        && (inputs.has_api(super::API_CONSOLE_PLUGIN) || standalone(inputs))
}

fn level(l: LogLevel) -> String {
    serde_json::to_value(l)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "info".to_string())
}

/// The plugin's `config.yaml`, as a JSON value (serialised to YAML by the caller).
pub fn config(inputs: &Inputs<'_>) -> Value {
    let spec = inputs.spec();
    let standalone = standalone(inputs);
    let port = plugin_port(spec);
    let server = if standalone {
        json!({"port": port, "metricsPort": PLUGIN_METRICS_PORT, "authCheck": "none"})
    } else {
        json!({
            "port": port, "metricsPort": PLUGIN_METRICS_PORT,
            "certPath": "/var/serving-cert/tls.crt", "keyPath": "/var/serving-cert/tls.key",
        })
    };
    let mut cfg = json!({"server": server});
    if spec.use_loki() {
        let loki = super::loki::settings(inputs);
        let mut l = json!({
            "url": loki.querier_url,
            "labels": super::flp_config::loki_labels(inputs),
            "timeout": spec.loki.read_timeout,
            "tenantID": loki.tenant_id,
            "forwardUserToken": loki.auth_token == LokiAuthToken::Forward,
        });
        if let Some(m) = l.as_object_mut() {
            if !loki.status_url.is_empty() {
                m.insert("statusUrl".into(), json!(loki.status_url));
            }
            if loki.tls.enable {
                if loki.tls.insecure_skip_verify {
                    m.insert("skipTls".into(), json!(true));
                } else if !loki.tls.ca_cert.name.is_empty() {
                    m.insert(
                        "caPath".into(),
                        json!(format!("/var/loki-certs-ca/{}", loki.tls.ca_cert.cert_file)),
                    );
                }
            }
            if loki.auth_token == LokiAuthToken::Host {
                m.insert(
                    "tokenPath".into(),
                    json!("/var/run/secrets/kubernetes.io/serviceaccount/token"),
                );
            }
        }
        if let Some(m) = cfg.as_object_mut() {
            m.insert("loki".into(), l);
        }
    }
    if spec.prometheus.querier.enable {
        let q = &spec.prometheus.querier;
        let (url, forward) = if q.mode == PrometheusMode::Auto && inputs.is_openshift() {
            (
                "https://thanos-querier.openshift-monitoring.svc:9091/".to_string(),
                true,
            )
        } else {
            (q.manual.url.clone(), q.manual.forward_user_token)
        };
        let include = spec.effective_include_list();
        let mut metrics: Vec<Value> = netobserv_api::v1beta2::FlpMetric::ALL
            .iter()
            .map(|m| {
                super::metrics::console_entry(
                    &super::metrics::predefined(inputs, *m),
                    include.contains(m),
                )
            })
            .collect();
        let mut flow_metrics: Vec<&netobserv_api::v1alpha1::FlowMetric> =
            inputs.flow_metrics.iter().collect();
        flow_metrics.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        metrics.extend(
            flow_metrics.into_iter().map(|fm| {
                super::metrics::console_entry(&super::metrics::from_flow_metric(fm), true)
            }),
        );
        if let Some(m) = cfg.as_object_mut() {
            m.insert(
                "prometheus".into(),
                json!({"url": url, "forwardUserToken": forward, "timeout": q.timeout, "metrics": metrics}),
            );
        }
    }
    let features: Vec<&str> = [
        (AgentFeature::PacketDrop, "pktDrop"),
        (AgentFeature::DnsTracking, "dnsTracking"),
        (AgentFeature::FlowRtt, "flowRTT"),
        (AgentFeature::NetworkEvents, "networkEvents"),
        (AgentFeature::PacketTranslation, "packetTranslation"),
        (AgentFeature::UdnMapping, "udnMapping"),
        (AgentFeature::IpSec, "ipsec"),
    ]
    .into_iter()
    .filter(|(f, _)| spec.has_feature(*f))
    .map(|(_, n)| n)
    .chain(
        spec.processor
            .multi_cluster_deployment
            .then_some("multiCluster"),
    )
    .chain((spec.processor.add_zone == Some(true)).then_some("zones"))
    .chain((!spec.processor.subnet_labels.custom_labels.is_empty()).then_some("subnetLabels"))
    .collect();
    let record_types: Vec<&str> = match spec.processor.log_types {
        FlpLogTypes::Flows => vec!["flowLog"],
        FlpLogTypes::Conversations => vec!["newConnection", "heartbeat", "endConnection"],
        FlpLogTypes::EndedConversations => vec!["endConnection"],
        FlpLogTypes::All => vec!["flowLog", "newConnection", "heartbeat", "endConnection"],
    };
    let cp = &spec.console_plugin;
    if let Some(m) = cfg.as_object_mut() {
        m.insert(
            "frontend".into(),
            json!({
                "features": features,
                "recordTypes": record_types,
                "portNaming": cp.port_naming,
                "quickFilters": cp.quick_filters,
                "alertNamespaces": [inputs.ns()],
                "sampling": spec.agent.ebpf.sampling,
            }),
        );
    }
    cfg
}

/// Objects of the console plugin.
pub fn render(inputs: &Inputs<'_>) -> Result<Vec<Object>> {
    if !enabled(inputs) {
        return Ok(Vec::new());
    }
    let cp = &inputs.spec().console_plugin;
    let ns = inputs.ns();
    let labels = component_labels(PLUGIN_NAME, &inputs.images.console_plugin);
    let cfg = config(inputs);
    let yaml = serde_yaml::to_string(&cfg).map_err(|e| crate::Error::Config(e.to_string()))?;
    let digest = super::digest::digest(&yaml);

    let mut out = vec![service_account(PLUGIN_NAME, ns, labels.clone())];
    out.push(cluster_role_binding(
        "netobserv-token-review-plugin",
        "netobserv-token-review",
        PLUGIN_NAME,
        ns,
    ));
    out.push(Object::ConfigMap(ConfigMap {
        metadata: meta(PLUGIN_CONFIG, Some(ns), labels.clone()),
        data: Some(BTreeMap::from([("config.yaml".to_string(), yaml)])),
        ..ConfigMap::default()
    }));
    out.push(Object::Deployment(deployment(inputs, &labels, &digest)));
    out.extend(services(inputs, &labels));
    if cp.autoscaler.status == HpaStatus::Enabled {
        out.push(deployment_hpa(
            PLUGIN_NAME,
            ns,
            labels.clone(),
            &cp.autoscaler,
        ));
    }
    if inputs.has_api(super::API_CONSOLE_PLUGIN) && !standalone(inputs) {
        out.push(console_plugin(inputs, labels));
    }
    Ok(out)
}

/// The plugin Deployment, its pods annotated with the configuration digest so that a
/// configuration change rolls them.
fn deployment(inputs: &Inputs<'_>, labels: &BTreeMap<String, String>, digest: &str) -> Deployment {
    let cp = &inputs.spec().console_plugin;
    let scheduling = cp.advanced.clone().unwrap_or_default().scheduling;
    let mut pod_labels = selector_labels(PLUGIN_NAME);
    pod_labels.extend(labels.clone());
    let hpa = cp.autoscaler.status == HpaStatus::Enabled;
    Deployment {
        metadata: meta(PLUGIN_NAME, Some(inputs.ns()), labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: (!cp.unmanaged_replicas && !hpa).then_some(cp.replicas),
            selector: LabelSelector {
                match_labels: Some(selector_labels(PLUGIN_NAME)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(string_map(&[(CONFIG_DIGEST_ANNOTATION, digest)])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(inputs, scheduling.as_ref())),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The plugin pod: its one container, its volumes and the user's scheduling.
fn pod_spec(inputs: &Inputs<'_>, scheduling: Option<&SchedulingConfig>) -> PodSpec {
    let (volumes, mounts) = volumes(inputs);
    PodSpec {
        service_account_name: Some(PLUGIN_NAME.to_string()),
        containers: vec![container(inputs, mounts)],
        volumes: Some(volumes),
        tolerations: scheduling.and_then(|s| s.tolerations.clone()),
        node_selector: scheduling.and_then(|s| s.node_selector.clone()),
        affinity: scheduling.and_then(|s| s.affinity.clone()),
        priority_class_name: scheduling
            .map(|s| s.priority_class_name.clone())
            .filter(|p| !p.is_empty()),
        ..PodSpec::default()
    }
}

/// Volumes of the plugin pod and their mounts: the configuration, the serving certificate
/// (unless standalone) and Loki's CA (copied into the namespace when elsewhere).
fn volumes(inputs: &Inputs<'_>) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes = vec![Volume {
        name: "config-volume".to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: PLUGIN_CONFIG.to_string(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }];
    let mut mounts = vec![VolumeMount {
        name: "config-volume".to_string(),
        mount_path: "/opt/app-root/".to_string(),
        read_only: Some(true),
        ..VolumeMount::default()
    }];
    if !standalone(inputs) {
        volumes.push(Volume {
            name: "serving-cert".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(PLUGIN_CERT_SECRET.to_string()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "serving-cert".to_string(),
            mount_path: "/var/serving-cert".to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    let loki = super::loki::settings(inputs);
    if inputs.spec().use_loki() && loki.tls.enable && !loki.tls.ca_cert.name.is_empty() {
        let mut v = super::pod::Volumes::new(inputs.ns());
        v.cert("loki-certs-ca", &loki.tls.ca_cert);
        inputs.record_copies(&v.copies);
        volumes.extend(v.volumes);
        mounts.extend(v.mounts);
    }
    (volumes, mounts)
}

/// The plugin container: arguments and environment (the user's appended), ports, and a locked
/// down security context.
fn container(inputs: &Inputs<'_>, mounts: Vec<VolumeMount>) -> Container {
    let cp = &inputs.spec().console_plugin;
    let advanced = cp.advanced.clone().unwrap_or_default();
    let mut args = vec![
        "-loglevel".to_string(),
        level(cp.log_level),
        "-config".to_string(),
        "/opt/app-root/config.yaml".to_string(),
    ];
    args.extend(advanced.args.iter().cloned());
    let mut env = vec![EnvVar {
        name: "GODEBUG".to_string(),
        value: Some("http2server=0".to_string()),
        value_from: None,
    }];
    env.extend(advanced.env.iter().map(|(k, v)| EnvVar {
        name: k.clone(),
        value: Some(v.clone()),
        value_from: None,
    }));
    Container {
        name: PLUGIN_NAME.to_string(),
        image: Some(inputs.images.console_plugin.clone()),
        image_pull_policy: Some(pull_policy(cp.image_pull_policy)),
        args: Some(args),
        env: Some(env),
        resources: Some(cp.resources.clone()),
        ports: Some(vec![
            ContainerPort {
                name: Some("http".to_string()),
                container_port: plugin_port(inputs.spec()),
                protocol: Some("TCP".to_string()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("metrics".to_string()),
                container_port: PLUGIN_METRICS_PORT,
                protocol: Some("TCP".to_string()),
                ..ContainerPort::default()
            },
        ]),
        volume_mounts: Some(mounts),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_string()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

/// The plugin's serving Service (with the OpenShift serving certificate) and metrics Service.
fn services(inputs: &Inputs<'_>, labels: &BTreeMap<String, String>) -> [Object; 2] {
    let ns = inputs.ns();
    let mut svc_meta = meta(PLUGIN_NAME, Some(ns), labels.clone());
    if inputs.is_openshift() {
        svc_meta.annotations = Some(string_map(&[(
            "service.beta.openshift.io/serving-cert-secret-name",
            PLUGIN_CERT_SECRET,
        )]));
    }
    let svc_port = |name: &str, port: i32| ServicePort {
        name: Some(name.to_string()),
        port,
        protocol: Some("TCP".to_string()),
        target_port: Some(IntOrString::Int(port)),
        ..ServicePort::default()
    };
    [
        Object::Service(Service {
            metadata: svc_meta,
            spec: Some(ServiceSpec {
                selector: Some(selector_labels(PLUGIN_NAME)),
                ports: Some(vec![svc_port("main", plugin_port(inputs.spec()))]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }),
        Object::Service(Service {
            metadata: meta(&format!("{PLUGIN_NAME}-metrics"), Some(ns), labels.clone()),
            spec: Some(ServiceSpec {
                selector: Some(selector_labels(PLUGIN_NAME)),
                ports: Some(vec![svc_port("metrics", PLUGIN_METRICS_PORT)]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }),
    ]
}

/// The OpenShift `ConsolePlugin` that makes the console load the plugin through its Service.
fn console_plugin(inputs: &Inputs<'_>, labels: BTreeMap<String, String>) -> Object {
    let ns = inputs.ns();
    let port = plugin_port(inputs.spec());
    dynamic(
        ManagedKind::ConsolePlugin,
        meta(PLUGIN_NAME, None, labels),
        json!({"spec": {
            "displayName": "NetObserv plugin",
            "backend": {"type": "Service", "service": {
                "name": PLUGIN_NAME, "namespace": ns, "port": port, "basePath": "/",
            }},
            "proxy": [{
                "alias": "backend",
                "authorization": "UserToken",
                "endpoint": {"type": "Service", "service": {
                    "name": PLUGIN_NAME, "namespace": ns, "port": port,
                }},
            }],
            "i18n": {"loadType": "Lazy"},
        }}),
    )
}
