//! The Loki writer: its stream labels (shared with the console plugin, which queries them) and
//! its client settings (URL, tenant, batching, authentication, TLS).

use super::LOKI_TOKEN_PATH;
use crate::render::Inputs;
use crate::render::loki::LokiSettings;
use crate::render::pod::Volumes;
use netobserv_api::v1beta2::{AgentFeature, LokiAuthToken};
use netobserv_flp_config as flp;

/// Loki stream labels of the configuration; the console plugin queries by the same ones.
pub fn loki_labels(inputs: &Inputs<'_>) -> Vec<String> {
    let spec = inputs.spec();
    let mut labels: Vec<&str> = vec![
        "SrcK8S_Namespace",
        "SrcK8S_OwnerName",
        "SrcK8S_Type",
        "DstK8S_Namespace",
        "DstK8S_OwnerName",
        "DstK8S_Type",
        "K8S_FlowLayer",
        "FlowDirection",
    ];
    if spec.has_conntrack() {
        labels.push("_RecordType");
    }
    if spec.processor.multi_cluster_deployment {
        labels.push("K8S_ClusterName");
    }
    if spec.processor.add_zone == Some(true) {
        labels.extend(["SrcK8S_Zone", "DstK8S_Zone"]);
    }
    if spec.has_feature(AgentFeature::UdnMapping) {
        labels.push("UdnId");
    }
    let excluded = spec
        .loki
        .advanced
        .as_ref()
        .map(|a| a.exclude_labels.clone())
        .unwrap_or_default();
    labels
        .into_iter()
        .filter(|l| !excluded.iter().any(|e| e == l))
        .map(str::to_string)
        .collect()
}

/// The Loki writer's parameters.
pub(super) fn loki_write(
    inputs: &Inputs<'_>,
    loki: &LokiSettings,
    volumes: &mut Volumes,
) -> (flp::LokiWrite, bool) {
    let lk = &inputs.spec().loki;
    let adv = lk.advanced.clone().unwrap_or_default();
    let mut client = flp::ClientConfig {
        follow_redirects: Some(false),
        ..flp::ClientConfig::default()
    };
    let needs_token = matches!(
        loki.auth_token,
        LokiAuthToken::Forward | LokiAuthToken::Host
    );
    if needs_token {
        client.authorization = Some(flp::Authorization {
            kind: Some("Bearer".into()),
            credentials_file: Some(LOKI_TOKEN_PATH.into()),
            ..flp::Authorization::default()
        });
    }
    if loki.tls.enable {
        let mut tls = flp::TlsConfig {
            insecure_skip_verify: loki.tls.insecure_skip_verify,
            ..flp::TlsConfig::default()
        };
        if !loki.tls.insecure_skip_verify && !loki.tls.ca_cert.name.is_empty() {
            let (ca, _) = volumes.cert("loki-certs-ca", &loki.tls.ca_cert);
            tls.ca_file = Some(ca);
        }
        if !loki.tls.user_cert.name.is_empty() {
            let (crt, key) = volumes.cert("loki-certs-user", &loki.tls.user_cert);
            tls.cert_file = Some(crt);
            tls.key_file = Some(key);
        }
        client.tls_config = Some(tls);
    }
    let write = flp::LokiWrite {
        url: loki.ingester_url.clone(),
        tenant_id: loki.tenant_id.clone(),
        batch_size: Some(lk.write_batch_size),
        batch_wait: Some(lk.write_batch_wait.clone()),
        timeout: Some(lk.write_timeout.clone()),
        min_backoff: Some(adv.write_min_backoff.clone()),
        max_backoff: Some(adv.write_max_backoff.clone()),
        max_retries: Some(i64::from(adv.write_max_retries)),
        labels: loki_labels(inputs),
        static_labels: adv.static_labels.clone(),
        timestamp_label: Some("TimeFlowEndMs".into()),
        timestamp_scale: Some("1ms".into()),
        client_config: Some(client),
        ..flp::LokiWrite::default()
    };
    (write, needs_token)
}
