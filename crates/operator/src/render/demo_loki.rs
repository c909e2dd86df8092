//! The demo Loki (`loki.monolithic.installDemoLoki`): a single-binary Loki with filesystem
//! storage on a 10Gi PVC, for trying NetObserv without a Loki installation. Not for production.

use super::{Inputs, Object, component_labels, meta, selector_labels};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec,
    PodTemplateSpec, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netobserv_api::v1beta2::LokiMode;
use std::collections::BTreeMap;

/// Name of the demo Loki Deployment and Service.
pub const DEMO_LOKI_NAME: &str = "loki";

const CONFIG: &str = r#"auth_enabled: false
server:
  http_listen_port: 3100
  grpc_listen_port: 9096
common:
  path_prefix: /loki-store
  storage:
    filesystem:
      chunks_directory: /loki-store/chunks
      rules_directory: /loki-store/rules
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
schema_config:
  configs:
    - from: 2024-01-01
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
limits_config:
  reject_old_samples: true
  reject_old_samples_max_age: 168h
  ingestion_rate_mb: 16
  ingestion_burst_size_mb: 32
  retention_period: 24h
compactor:
  working_directory: /loki-store/compactor
  retention_enabled: true
  delete_request_store: filesystem
"#;

/// Whether the demo Loki is requested.
pub fn enabled(inputs: &Inputs<'_>) -> bool {
    let loki = &inputs.spec().loki;
    loki.enable && loki.mode == LokiMode::Monolithic && loki.monolithic.install_demo_loki
}

/// Objects of the demo Loki.
pub fn render(inputs: &Inputs<'_>) -> Vec<Object> {
    if !enabled(inputs) {
        return Vec::new();
    }
    let ns = inputs.ns();
    let labels = component_labels(DEMO_LOKI_NAME, &inputs.images.demo_loki);
    let mut pod_labels = selector_labels(DEMO_LOKI_NAME);
    pod_labels.extend(labels.clone());
    let config = Object::ConfigMap(ConfigMap {
        metadata: meta("loki-config", Some(ns), labels.clone()),
        data: Some(BTreeMap::from([(
            "local-config.yaml".to_string(),
            CONFIG.to_string(),
        )])),
        ..ConfigMap::default()
    });
    let pvc = Object::Pvc(PersistentVolumeClaim {
        metadata: meta("loki-store", Some(ns), labels.clone()),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity("10Gi".to_string()),
                )])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    });
    let deployment = Object::Deployment(Deployment {
        metadata: meta(DEMO_LOKI_NAME, Some(ns), labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            // The volume is ReadWriteOnce: never run two pods on it.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_string()),
                rolling_update: None,
            }),
            selector: LabelSelector {
                match_labels: Some(selector_labels(DEMO_LOKI_NAME)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    security_context: Some(PodSecurityContext {
                        fs_group: Some(10001),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![Container {
                        name: DEMO_LOKI_NAME.to_string(),
                        image: Some(inputs.images.demo_loki.clone()),
                        args: Some(vec!["-config.file=/etc/loki/local-config.yaml".to_string()]),
                        ports: Some(vec![ContainerPort {
                            name: Some("http".to_string()),
                            container_port: 3100,
                            protocol: Some("TCP".to_string()),
                            ..ContainerPort::default()
                        }]),
                        volume_mounts: Some(vec![
                            VolumeMount {
                                name: "loki-config".to_string(),
                                mount_path: "/etc/loki".to_string(),
                                read_only: Some(true),
                                ..VolumeMount::default()
                            },
                            VolumeMount {
                                name: "loki-store".to_string(),
                                mount_path: "/loki-store".to_string(),
                                ..VolumeMount::default()
                            },
                        ]),
                        ..Container::default()
                    }],
                    volumes: Some(vec![
                        Volume {
                            name: "loki-config".to_string(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: "loki-config".to_string(),
                                ..ConfigMapVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        Volume {
                            name: "loki-store".to_string(),
                            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                                claim_name: "loki-store".to_string(),
                                read_only: None,
                            }),
                            ..Volume::default()
                        },
                    ]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    });
    let service = Object::Service(Service {
        metadata: meta(DEMO_LOKI_NAME, Some(ns), labels),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(DEMO_LOKI_NAME)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_string()),
                port: 3100,
                protocol: Some("TCP".to_string()),
                target_port: Some(IntOrString::Int(3100)),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    });
    vec![config, pvc, deployment, service]
}
