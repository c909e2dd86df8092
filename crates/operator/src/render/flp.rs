//! The processor (flowlogs-pipeline) in its three deployment models:
//! - **Service**: Deployment `flowlogs-pipeline` behind Service `flowlogs-pipeline` (gRPC ingest,
//!   TLS per `processor.service.tlsType`);
//! - **Direct**: DaemonSet `flowlogs-pipeline` on the host network, each agent sending to its
//!   node;
//! - **Kafka**: Deployment `flowlogs-pipeline-transformer` consuming the topic, with optional HPA.
//!
//! Each model gets its ServiceAccount, RBAC bindings to the static component roles, static and
//! dynamic ConfigMaps, and a `-prom` metrics Service. Objects of the other models are simply not
//! rendered; pruning removes them.

use super::flp_config::{self, CONFIG_DIR, CONFIG_FILE, PROMETHEUS_PORT};
use super::pod::{Volumes, pull_policy};
use super::transport::processor_port;
use super::{
    CONFIG_DIGEST_ANNOTATION, Inputs, Object, cluster_role_binding, component_labels,
    deployment_hpa, meta, role_binding, sa_subject, selector_labels, service_account, string_map,
};
use crate::error::Result;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar,
    HTTPGetAction, PodSpec, PodTemplateSpec, Probe, ProjectedVolumeSource, SecurityContext,
    Service, ServiceAccountTokenProjection, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netobserv_api::v1beta2::{DeploymentModel, HpaStatus, LokiMode, ProcessorTlsType};
use std::collections::BTreeMap;

pub use super::transport::{FLP_CERT_SECRET, FLP_NAME, ServiceTls, service_tls};
/// Name of the Kafka consumer.
pub const FLP_TRANSFORMER_NAME: &str = "flowlogs-pipeline-transformer";
/// Default processor replicas.
pub const DEFAULT_REPLICAS: i32 = 3;

/// Name of the pipeline workload for the model.
pub fn workload_name(model: DeploymentModel) -> &'static str {
    if model == DeploymentModel::Kafka {
        FLP_TRANSFORMER_NAME
    } else {
        FLP_NAME
    }
}

/// Objects of the processor.
pub fn render(inputs: &Inputs<'_>) -> Result<Vec<Object>> {
    let spec = inputs.spec();
    let ns = inputs.ns();
    let model = spec.deployment_model;
    let name = workload_name(model);
    let suffix = if model == DeploymentModel::Kafka {
        "flptransfo"
    } else {
        "flp"
    };
    let labels = component_labels(name, &inputs.images.flowlogs_pipeline);
    let loki = super::loki::settings(inputs);
    let config = flp_config::render(inputs, name, &loki);
    inputs.record_copies(&config.volumes.copies);
    let static_text = pretty("pipeline config", &config.static_config)?;
    let dynamic_text = pretty("dynamic pipeline config", &config.dynamic_config)?;
    let digest = super::digest::digest(&static_text);
    let (static_name, dynamic_name) = flp_config::config_map_names(name);

    let mut out = vec![service_account(name, ns, labels.clone())];
    out.push(cluster_role_binding(
        &format!("netobserv-informers-{suffix}"),
        "netobserv-informers",
        name,
        ns,
    ));
    if inputs.is_openshift() && model == DeploymentModel::Direct {
        out.push(cluster_role_binding(
            "netobserv-hostnetwork-flp",
            "netobserv-hostnetwork",
            name,
            ns,
        ));
    }
    if spec.use_loki() && spec.loki.mode == LokiMode::LokiStack {
        out.push(cluster_role_binding(
            &format!("netobserv-loki-writer-{suffix}"),
            "netobserv-loki-writer",
            name,
            ns,
        ));
    }
    out.push(role_binding(
        &format!("netobserv-config-watcher-{suffix}"),
        ns,
        "netobserv-config-watcher",
        sa_subject(name, ns),
    ));
    out.push(config_map(&static_name, ns, &labels, static_text));
    out.push(config_map(&dynamic_name, ns, &labels, dynamic_text));

    let pod = pod_template(
        inputs,
        name,
        &labels,
        &digest,
        config.volumes,
        config.needs_loki_token,
        &static_name,
    );
    let selector = LabelSelector {
        match_labels: Some(selector_labels(name)),
        ..LabelSelector::default()
    };
    let flp = &spec.processor;
    match model {
        DeploymentModel::Direct => out.push(Object::DaemonSet(DaemonSet {
            metadata: meta(name, Some(ns), labels.clone()),
            spec: Some(DaemonSetSpec {
                selector,
                template: pod,
                ..DaemonSetSpec::default()
            }),
            ..DaemonSet::default()
        })),
        DeploymentModel::Service | DeploymentModel::Kafka => {
            let hpa = model == DeploymentModel::Kafka
                && flp.kafka_consumer_autoscaler.status == HpaStatus::Enabled;
            // With unmanaged replicas or an HPA, replicas are left out of the applied object, so
            // server-side apply never fights the user or the autoscaler.
            let replicas = (!flp.unmanaged_replicas && !hpa).then(|| replicas(inputs));
            out.push(Object::Deployment(Deployment {
                metadata: meta(name, Some(ns), labels.clone()),
                spec: Some(DeploymentSpec {
                    replicas,
                    selector,
                    template: pod,
                    ..DeploymentSpec::default()
                }),
                ..Deployment::default()
            }));
            if hpa {
                out.push(deployment_hpa(
                    name,
                    ns,
                    labels.clone(),
                    &flp.kafka_consumer_autoscaler,
                ));
            }
        }
    }
    if model == DeploymentModel::Service {
        let mut svc_meta = meta(name, Some(ns), labels.clone());
        if inputs.is_openshift()
            && matches!(
                flp.service.clone().unwrap_or_default().tls_type,
                ProcessorTlsType::Auto | ProcessorTlsType::AutoMtls
            )
        {
            svc_meta.annotations = Some(string_map(&[(
                "service.beta.openshift.io/serving-cert-secret-name",
                FLP_CERT_SECRET,
            )]));
        }
        out.push(Object::Service(Service {
            metadata: svc_meta,
            spec: Some(ServiceSpec {
                selector: Some(selector_labels(name)),
                ports: Some(vec![port("flp", processor_port(spec))]),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        }));
    }
    let mut prom_meta = meta(&format!("{name}-prom"), Some(ns), labels.clone());
    if inputs.is_openshift()
        && flp.metrics.server.tls.kind == netobserv_api::v1beta2::ServerTlsType::Auto
    {
        prom_meta.annotations = Some(string_map(&[(
            "service.beta.openshift.io/serving-cert-secret-name",
            &format!("{name}-prom-tls"),
        )]));
    }
    out.push(Object::Service(Service {
        metadata: prom_meta,
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(name)),
            ports: Some(vec![port("prometheus", PROMETHEUS_PORT)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }));
    Ok(out)
}

/// Indented JSON, so that ConfigMaps read (and diff) well.
/// Indented JSON with keys in alphabetical order (the model goes through `serde_json::Value`,
/// whose maps are sorted), so the text and its digest only change when the content does.
fn pretty(what: &str, value: &impl serde::Serialize) -> Result<String> {
    let fail = |source| crate::Error::Serialize {
        what: what.to_string(),
        source,
    };
    let value = serde_json::to_value(value).map_err(fail)?;
    serde_json::to_string_pretty(&value).map_err(fail)
}

/// Desired processor replicas: `consumerReplicas`, else `kafkaConsumerReplicas`, else 3.
pub fn replicas(inputs: &Inputs<'_>) -> i32 {
    let flp = &inputs.spec().processor;
    flp.consumer_replicas
        .unwrap_or(if flp.kafka_consumer_replicas > 0 {
            flp.kafka_consumer_replicas
        } else {
            DEFAULT_REPLICAS
        })
}

fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_string()),
        port,
        protocol: Some("TCP".to_string()),
        target_port: Some(IntOrString::Int(port)),
        ..ServicePort::default()
    }
}

fn config_map(name: &str, ns: &str, labels: &BTreeMap<String, String>, text: String) -> Object {
    Object::ConfigMap(ConfigMap {
        metadata: meta(name, Some(ns), labels.clone()),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_string(), text)])),
        ..ConfigMap::default()
    })
}

#[allow(clippy::too_many_arguments)]
fn pod_template(
    inputs: &Inputs<'_>,
    name: &str,
    labels: &BTreeMap<String, String>,
    digest: &str,
    mut volumes: Volumes,
    loki_token: bool,
    static_cm: &str,
) -> PodTemplateSpec {
    let spec = inputs.spec();
    let advanced = spec.processor.advanced.clone().unwrap_or_default();
    let model = spec.deployment_model;
    mount_config(&mut volumes, static_cm);
    if loki_token {
        mount_loki_token(&mut volumes);
    }
    let container = container(inputs, volumes.mounts);
    let scheduling = advanced.scheduling.clone();
    let host_network = model == DeploymentModel::Direct && !inputs.is_openshift();
    let mut pod_labels = selector_labels(name);
    pod_labels.extend(labels.clone());
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: Some(string_map(&[
                ("prometheus.io/scrape", "true"),
                ("prometheus.io/scrape_port", &PROMETHEUS_PORT.to_string()),
                (CONFIG_DIGEST_ANNOTATION, digest),
            ])),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(name.to_string()),
            host_network: host_network.then_some(true),
            dns_policy: host_network.then(|| "ClusterFirstWithHostNet".to_string()),
            containers: vec![container],
            volumes: Some(volumes.volumes),
            tolerations: scheduling.as_ref().and_then(|s| s.tolerations.clone()),
            node_selector: scheduling.as_ref().and_then(|s| s.node_selector.clone()),
            affinity: scheduling.as_ref().and_then(|s| s.affinity.clone()),
            priority_class_name: scheduling
                .as_ref()
                .map(|s| s.priority_class_name.clone())
                .filter(|p| !p.is_empty()),
            ..PodSpec::default()
        }),
    }
}

/// Mounts the static configuration ConfigMap `static_cm`, first among the volumes.
fn mount_config(volumes: &mut Volumes, static_cm: &str) {
    volumes.volumes.insert(
        0,
        Volume {
            name: "config-volume".to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: static_cm.to_string(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
    );
    volumes.mounts.insert(
        0,
        VolumeMount {
            name: "config-volume".to_string(),
            mount_path: CONFIG_DIR.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
    );
}

/// Mounts the projected, hourly renewed ServiceAccount token the Loki client authenticates with.
fn mount_loki_token(volumes: &mut Volumes) {
    volumes.volumes.push(Volume {
        name: FLP_NAME.to_string(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    path: FLP_NAME.to_string(),
                    expiration_seconds: Some(3600),
                    audience: None,
                }),
                ..VolumeProjection::default()
            }]),
            ..ProjectedVolumeSource::default()
        }),
        ..Volume::default()
    });
    volumes.mounts.push(VolumeMount {
        name: FLP_NAME.to_string(),
        mount_path: "/var/run/secrets/tokens".to_string(),
        read_only: Some(true),
        ..VolumeMount::default()
    });
}

/// The pipeline container: the configuration file as argument, probes on the health port when
/// enabled, and a locked down security context.
fn container(inputs: &Inputs<'_>, mounts: Vec<VolumeMount>) -> Container {
    let flp = &inputs.spec().processor;
    let advanced = flp.advanced.clone().unwrap_or_default();
    let probe = |path: &str, failure: Option<i32>| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("health".to_string()),
            ..HTTPGetAction::default()
        }),
        timeout_seconds: Some(5),
        period_seconds: Some(10),
        failure_threshold: failure,
        ..Probe::default()
    };
    Container {
        name: FLP_NAME.to_string(),
        image: Some(inputs.images.flowlogs_pipeline.clone()),
        image_pull_policy: Some(pull_policy(flp.image_pull_policy)),
        args: Some(vec![format!("--config={CONFIG_DIR}/{CONFIG_FILE}")]),
        resources: Some(flp.resources.clone()),
        env: Some(container_env(inputs)),
        ports: Some(container_ports(inputs)),
        volume_mounts: Some(mounts),
        liveness_probe: advanced.enable_kube_probes.then(|| probe("/live", None)),
        startup_probe: advanced
            .enable_kube_probes
            .then(|| probe("/ready", Some(5))),
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

/// The user's `advanced.env`, then the Go runtime settings.
fn container_env(inputs: &Inputs<'_>) -> Vec<EnvVar> {
    let flp = &inputs.spec().processor;
    let advanced = flp.advanced.clone().unwrap_or_default();
    let mut env: Vec<EnvVar> = advanced
        .env
        .iter()
        .map(|(k, v)| EnvVar {
            name: k.clone(),
            value: Some(v.clone()),
            value_from: None,
        })
        .collect();
    env.push(EnvVar {
        name: "GODEBUG".to_string(),
        value: Some("http2server=0".to_string()),
        value_from: None,
    });
    if let Some(limit) = super::quantity::go_mem_limit(&flp.resources) {
        env.push(EnvVar {
            name: "GOMEMLIMIT".to_string(),
            value: Some(limit.to_string()),
            value_from: None,
        });
    }
    env
}

/// Ingest (not when consuming Kafka; on the host in the Direct model), health, Prometheus and
/// the optional profiling port.
fn container_ports(inputs: &Inputs<'_>) -> Vec<ContainerPort> {
    let spec = inputs.spec();
    let advanced = spec.processor.advanced.clone().unwrap_or_default();
    let model = spec.deployment_model;
    let mut ports = Vec::new();
    if model != DeploymentModel::Kafka {
        let p = processor_port(spec);
        ports.push(ContainerPort {
            name: Some("flp".to_string()),
            container_port: p,
            host_port: (model == DeploymentModel::Direct).then_some(p),
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        });
    }
    ports.push(ContainerPort {
        name: Some("health".to_string()),
        container_port: advanced.health_port,
        protocol: Some("TCP".to_string()),
        ..ContainerPort::default()
    });
    ports.push(ContainerPort {
        name: Some("prometheus".to_string()),
        container_port: PROMETHEUS_PORT,
        protocol: Some("TCP".to_string()),
        ..ContainerPort::default()
    });
    if let Some(p) = advanced.profile_port {
        ports.push(ContainerPort {
            name: Some("pprof".to_string()),
            container_port: p,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        });
    }
    ports
}
