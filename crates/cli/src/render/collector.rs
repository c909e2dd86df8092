//! The collector Pod (this CLI's image running `kubectl-netobserv collector`) and the Service
//! the agents send to.

use super::{COLLECTOR, COLLECTOR_OUTPUT, COLLECTOR_PORT, Capture, NAME, Plan};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, Pod, PodSpec, Service, ServicePort,
    ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use netobserv_operator::render::meta;
use std::collections::BTreeMap;

/// Pod label of the collector (upstream's), selected by its Service.
pub const COLLECTOR_LABEL: (&str, &str) = ("run", COLLECTOR);

/// The collector's command line.
pub fn args(plan: &Plan) -> Vec<String> {
    let mode = match plan.capture {
        // Metrics have no collector (`render` does not call this for them).
        Capture::Flows(_) | Capture::Metrics { .. } => "flows",
        Capture::Packets { .. } => "packets",
    };
    let mut a = vec![
        "collector".to_string(),
        format!("--mode={mode}"),
        format!("--port={COLLECTOR_PORT}"),
        format!("--output={COLLECTOR_OUTPUT}"),
        format!("--max-time={}s", plan.max_time.as_secs()),
        format!("--max-bytes={}", plan.max_bytes),
        "--kubernetes".to_string(),
        "--linger".to_string(),
        format!("--log-level={}", plan.agent.log_level),
    ];
    if let Capture::Packets { snaplen } = plan.capture {
        a.push(format!("--snaplen={snaplen}"));
    }
    if let Some(q) = &plan.query {
        a.push(format!("--query={q}"));
    }
    if plan.live {
        a.push("--live".to_string());
    }
    for label in &plan.subnet_labels {
        a.push(format!("--subnet-label={}", label.to_flag()));
    }
    a
}

/// The collector Pod.
pub fn pod(plan: &Plan) -> Pod {
    let mut labels = plan.labels();
    labels.insert(COLLECTOR_LABEL.0.into(), COLLECTOR_LABEL.1.into());
    Pod {
        metadata: meta(COLLECTOR, Some(plan.namespace()), labels),
        spec: Some(PodSpec {
            service_account_name: Some(NAME.to_string()),
            restart_policy: Some("Never".to_string()),
            containers: vec![Container {
                name: COLLECTOR.to_string(),
                image: Some(plan.collector_image.clone()),
                image_pull_policy: Some("IfNotPresent".to_string()),
                command: Some(vec!["/kubectl-netobserv".to_string()]),
                args: Some(args(plan)),
                ports: Some(vec![ContainerPort {
                    name: Some("grpc".to_string()),
                    container_port: i32::from(COLLECTOR_PORT),
                    protocol: Some("TCP".to_string()),
                    ..ContainerPort::default()
                }]),
                volume_mounts: Some(vec![VolumeMount {
                    name: "output".to_string(),
                    mount_path: COLLECTOR_OUTPUT.to_string(),
                    ..VolumeMount::default()
                }]),
                ..Container::default()
            }],
            volumes: Some(vec![Volume {
                name: "output".to_string(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

/// The Service in front of the collector.
pub fn service(plan: &Plan) -> Service {
    Service {
        metadata: meta(COLLECTOR, Some(plan.namespace()), plan.labels()),
        spec: Some(ServiceSpec {
            selector: Some(BTreeMap::from([(
                COLLECTOR_LABEL.0.to_string(),
                COLLECTOR_LABEL.1.to_string(),
            )])),
            ports: Some(vec![ServicePort {
                name: Some("grpc".to_string()),
                port: i32::from(COLLECTOR_PORT),
                protocol: Some("TCP".to_string()),
                target_port: Some(IntOrString::Int(i32::from(COLLECTOR_PORT))),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
