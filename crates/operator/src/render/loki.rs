//! Loki client settings, resolved from the mode-specific block of `spec.loki`, shared by the
//! pipeline (writes) and the console plugin (reads).

use super::Inputs;
use netobserv_api::v1beta2::{
    CertificateReference, ClientTls, LokiAuthToken, LokiMode, MountableType,
};

/// Where and how to reach Loki, whatever the installation mode.
#[derive(Clone, Debug, PartialEq)]
pub struct LokiSettings {
    /// Push endpoint base URL (pipeline).
    pub ingester_url: String,
    /// Query endpoint base URL (console plugin).
    pub querier_url: String,
    /// Status endpoint (ring, build info), when different from the querier.
    pub status_url: String,
    /// Tenant (`X-Scope-OrgID`).
    pub tenant_id: String,
    /// How a bearer token is sent.
    pub auth_token: LokiAuthToken,
    /// TLS to the ingester and querier.
    pub tls: ClientTls,
    /// TLS to the status endpoint.
    pub status_tls: ClientTls,
}

fn cm(name: &str, namespace: &str, file: &str) -> CertificateReference {
    CertificateReference {
        kind: Some(MountableType::ConfigMap),
        name: name.to_string(),
        namespace: namespace.to_string(),
        cert_file: file.to_string(),
        cert_key: String::new(),
    }
}

/// Resolves the Loki settings of the FlowCollector.
pub fn settings(inputs: &Inputs<'_>) -> LokiSettings {
    let loki = &inputs.spec().loki;
    match loki.mode {
        LokiMode::Manual => LokiSettings {
            ingester_url: loki.manual.ingester_url.clone(),
            querier_url: loki.manual.querier_url.clone(),
            status_url: loki.manual.status_url.clone(),
            tenant_id: loki.manual.tenant_id.clone(),
            auth_token: loki.manual.auth_token,
            tls: loki.manual.tls.clone(),
            status_tls: loki.manual.status_tls.clone(),
        },
        LokiMode::Monolithic => LokiSettings {
            ingester_url: loki.monolithic.url.clone(),
            querier_url: loki.monolithic.url.clone(),
            status_url: String::new(),
            tenant_id: loki.monolithic.tenant_id.clone(),
            auth_token: LokiAuthToken::Disabled,
            tls: loki.monolithic.tls.clone(),
            status_tls: ClientTls::default(),
        },
        LokiMode::Microservices => LokiSettings {
            ingester_url: loki.microservices.ingester_url.clone(),
            querier_url: loki.microservices.querier_url.clone(),
            status_url: String::new(),
            tenant_id: loki.microservices.tenant_id.clone(),
            auth_token: LokiAuthToken::Disabled,
            tls: loki.microservices.tls.clone(),
            status_tls: ClientTls::default(),
        },
        LokiMode::LokiStack => {
            let name = &loki.loki_stack.name;
            let ns = if loki.loki_stack.namespace.is_empty() {
                inputs.ns()
            } else {
                &loki.loki_stack.namespace
            };
            let gateway = format!(
                "https://{name}-gateway-http.{ns}.svc.cluster.local.:8080/api/logs/v1/network/"
            );
            LokiSettings {
                ingester_url: gateway.clone(),
                querier_url: gateway,
                status_url: format!(
                    "https://{name}-query-frontend-http.{ns}.svc.cluster.local.:3100/"
                ),
                tenant_id: "network".to_string(),
                auth_token: LokiAuthToken::Forward,
                tls: ClientTls {
                    enable: true,
                    insecure_skip_verify: false,
                    ca_cert: cm(&format!("{name}-gateway-ca-bundle"), ns, "service-ca.crt"),
                    user_cert: CertificateReference::default(),
                },
                status_tls: ClientTls {
                    enable: true,
                    insecure_skip_verify: false,
                    ca_cert: cm(&format!("{name}-ca-bundle"), ns, "service-ca.crt"),
                    user_cert: CertificateReference {
                        kind: Some(MountableType::Secret),
                        name: format!("{name}-query-frontend-http"),
                        namespace: ns.to_string(),
                        cert_file: "tls.crt".to_string(),
                        cert_key: "tls.key".to_string(),
                    },
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::Images;
    use netobserv_api::v1beta2::FlowCollector;
    use netobserv_api::validate::ClusterFacts;

    fn resolve(f: impl FnOnce(&mut FlowCollector)) -> LokiSettings {
        let mut fc = FlowCollector::new("cluster", Default::default());
        f(&mut fc);
        let facts = ClusterFacts::default();
        let images = Images::for_tests();
        settings(&Inputs {
            fc: &fc,
            facts: &facts,
            images: &images,
            flow_metrics: &[],
            copies: &Default::default(),
        })
    }

    #[test]
    fn lokistack_uses_gateway_network_tenant_and_tls() {
        let s = resolve(|fc| {
            fc.spec.loki.mode = LokiMode::LokiStack;
            fc.spec.loki.loki_stack.namespace = "loki-ns".to_string();
        });
        assert_eq!(
            s.ingester_url,
            "https://loki-gateway-http.loki-ns.svc.cluster.local.:8080/api/logs/v1/network/"
        );
        assert_eq!(s.tenant_id, "network");
        assert_eq!(s.auth_token, LokiAuthToken::Forward);
        assert!(s.tls.enable);
        assert_eq!(s.tls.ca_cert.name, "loki-gateway-ca-bundle");
    }

    #[test]
    fn microservices_split_urls() {
        let s = resolve(|fc| fc.spec.loki.mode = LokiMode::Microservices);
        assert_eq!(s.ingester_url, "http://loki-distributor:3100/");
        assert_eq!(s.querier_url, "http://loki-query-frontend:3100/");
        assert_eq!(s.tenant_id, "netobserv");
    }

    #[test]
    fn manual_keeps_tenant_and_auth() {
        let s = resolve(|fc| {
            fc.spec.loki.mode = LokiMode::Manual;
            fc.spec.loki.manual.tenant_id = "t1".to_string();
            fc.spec.loki.manual.auth_token = LokiAuthToken::Host;
        });
        assert_eq!(s.tenant_id, "t1");
        assert_eq!(s.auth_token, LokiAuthToken::Host);
    }
}
