//! The static document's top-level settings beside the pipeline: log level, health and metrics
//! servers (with the metrics TLS certificate), the dynamic document's location, profiling.

use super::stages::port;
use super::{CONFIG_FILE, PROMETHEUS_PORT, config_map_names};
use crate::render::Inputs;
use crate::render::pod::Volumes;
use netobserv_api::v1beta2::{CertificateReference, LogLevel, MountableType, ServerTlsType};
use netobserv_flp_config as flp;
use netobserv_flp_config::Config;

/// Fills the top-level settings of `static_config` for pipeline workload `workload`.
pub(super) fn top_level(
    static_config: &mut Config,
    inputs: &Inputs<'_>,
    workload: &str,
    volumes: &mut Volumes,
) {
    let flp_spec = &inputs.spec().processor;
    let advanced = flp_spec.advanced.clone().unwrap_or_default();
    let (_, dynamic_name) = config_map_names(workload);
    let metrics_tls = metrics_tls(inputs, workload, volumes);
    static_config.log_level = Some(log_level(flp_spec.log_level));
    static_config.health = Some(flp::HealthSettings {
        port: Some(port(advanced.health_port)),
        ..flp::HealthSettings::default()
    });
    static_config.metrics_settings = Some(flp::MetricsSettings {
        port: Some(port(PROMETHEUS_PORT)),
        prefix: Some("netobserv_".into()),
        no_panic: true,
        tls: metrics_tls,
        ..flp::MetricsSettings::default()
    });
    static_config.dynamic_parameters = Some(flp::DynamicParameters {
        namespace: inputs.ns().to_string(),
        name: dynamic_name,
        file_name: CONFIG_FILE.into(),
        ..flp::DynamicParameters::default()
    });
    static_config.profile = advanced.profile_port.map(|p| flp::ProfileSettings {
        port: Some(port(p)),
    });
}

/// The metrics server's certificate: none, the OpenShift service CA's (`Auto`), or the user's.
fn metrics_tls(
    inputs: &Inputs<'_>,
    workload: &str,
    volumes: &mut Volumes,
) -> Option<flp::ServerTls> {
    let tls = &inputs.spec().processor.metrics.server.tls;
    let prom_cert = match tls.kind {
        ServerTlsType::Disabled => None,
        ServerTlsType::Auto => Some(CertificateReference {
            kind: Some(MountableType::Secret),
            name: format!("{workload}-prom-tls"),
            namespace: String::new(),
            cert_file: "tls.crt".to_string(),
            cert_key: "tls.key".to_string(),
        }),
        ServerTlsType::Provided => tls.provided.clone(),
    };
    prom_cert.map(|cert| {
        let (cert_path, key_path) = volumes.cert("flowlogs-prometheus-certs", &cert);
        flp::ServerTls {
            cert_path,
            key_path,
        }
    })
}

fn log_level(level: LogLevel) -> String {
    serde_json::to_value(level)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "info".to_string())
}
