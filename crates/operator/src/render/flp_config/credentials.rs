//! Client credentials the Kafka reader, the Kafka and OpenTelemetry exporters share: TLS
//! certificates and SASL secrets, mounted as files the configuration points to.

use crate::render::pod::Volumes;
use crate::render::transport::sasl_type;
use netobserv_api::v1beta2::{ClientTls, SaslConfig, SaslType};
use netobserv_flp_config as flp;

fn client_tls(volumes: &mut Volumes, prefix: &str, tls: &ClientTls) -> flp::ClientTls {
    let mut out = flp::ClientTls {
        insecure_skip_verify: tls.insecure_skip_verify,
        ..flp::ClientTls::default()
    };
    if !tls.ca_cert.name.is_empty() {
        let (ca, _) = volumes.cert(&format!("{prefix}-ca"), &tls.ca_cert);
        out.ca_cert_path = ca;
    }
    if !tls.user_cert.name.is_empty() {
        let (crt, key) = volumes.cert(&format!("{prefix}-user"), &tls.user_cert);
        out.user_cert_path = crt;
        out.user_key_path = key;
    }
    out
}

/// TLS settings when enabled.
pub(super) fn enabled_tls(
    volumes: &mut Volumes,
    prefix: &str,
    tls: &ClientTls,
) -> Option<flp::ClientTls> {
    tls.enable.then(|| client_tls(volumes, prefix, tls))
}

/// SASL settings when enabled.
pub(super) fn sasl(volumes: &mut Volumes, prefix: &str, sasl: &SaslConfig) -> Option<flp::Sasl> {
    if sasl.kind == SaslType::Disabled {
        return None;
    }
    let client_id_path = volumes.file(&format!("{prefix}-sasl-id"), &sasl.client_id_reference);
    let client_secret_path = volumes.file(
        &format!("{prefix}-sasl-secret"),
        &sasl.client_secret_reference,
    );
    let kind = match sasl_type(sasl.kind) {
        "scramSHA512" => flp::SaslKind::ScramSha512,
        _ => flp::SaslKind::Plain,
    };
    Some(flp::Sasl {
        kind,
        client_id_path,
        client_secret_path,
    })
}
