//! Which certificates the `Auto` TLS modes need and who provides them.
//!
//! On OpenShift the service CA issues them (the Services carry the serving-cert annotation) and
//! the `openshift-service-ca.crt` ConfigMap carries the trust. Elsewhere nothing did: the default
//! Service model (`processor.service.tlsType: Auto`) mounted Secret `flowlogs-pipeline-cert` and
//! ConfigMap `netobserv-ca` that no one created, and the pods never started. There the operator
//! is the issuer: this module lists what it must issue, `controller::certs` issues it.

use super::Inputs;
use super::agent::{AGENT_CLIENT_CERT_SECRET, AGENT_METRICS_CERT_SECRET, AGENT_METRICS_SERVICE};
use super::flp::{FLP_CERT_SECRET, FLP_NAME, workload_name};
use netobserv_api::v1beta2::{DeploymentModel, ProcessorTlsType, ServerTlsType};

/// ConfigMap (key [`CA_BUNDLE_KEY`]) holding the CA certificates agents and the pipeline trust in
/// `Auto` modes, in each namespace that mounts it.
pub const CA_BUNDLE_CONFIG_MAP: &str = "netobserv-ca";
/// Key of the CA bundle in [`CA_BUNDLE_CONFIG_MAP`] (the name OpenShift's service CA uses).
pub const CA_BUNDLE_KEY: &str = "service-ca.crt";
/// Secret, in the FlowCollector namespace, holding the operator's CA key and certificate.
pub const CA_SECRET: &str = "netobserv-operator-ca";

/// One certificate to issue into a `kubernetes.io/tls` Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRequest {
    /// Secret name.
    pub secret: String,
    /// Secret namespace.
    pub namespace: String,
    /// Subject common name.
    pub common_name: String,
    /// DNS names of a serving certificate (every form a client may dial: `svc`, `svc.ns`,
    /// `svc.ns.svc`, `svc.ns.svc.cluster.local`); empty for a client certificate.
    pub dns_names: Vec<String>,
}

/// Everything the operator must issue for one FlowCollector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertPlan {
    /// Leaf certificates.
    pub certificates: Vec<CertRequest>,
    /// Namespaces that need the [`CA_BUNDLE_CONFIG_MAP`].
    pub bundle_namespaces: Vec<String>,
}

impl CertPlan {
    /// Nothing to issue.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty() && self.bundle_namespaces.is_empty()
    }
}

fn service_names(service: &str, ns: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{ns}"),
        format!("{service}.{ns}.svc"),
        format!("{service}.{ns}.svc.cluster.local"),
    ]
}

fn serving(secret: &str, service: &str, ns: &str) -> CertRequest {
    CertRequest {
        secret: secret.to_string(),
        namespace: ns.to_string(),
        common_name: format!("{service}.{ns}.svc"),
        dns_names: service_names(service, ns),
    }
}

/// What the operator must issue (nothing on OpenShift, where the service CA does it).
pub fn plan(inputs: &Inputs<'_>) -> CertPlan {
    let mut out = CertPlan::default();
    if inputs.is_openshift() {
        return out;
    }
    let spec = inputs.spec();
    let ns = inputs.ns().to_string();
    let pns = inputs.privileged_ns();
    if spec.deployment_model == DeploymentModel::Service {
        let tls = spec.processor.service.clone().unwrap_or_default().tls_type;
        if matches!(tls, ProcessorTlsType::Auto | ProcessorTlsType::AutoMtls) {
            out.certificates
                .push(serving(FLP_CERT_SECRET, FLP_NAME, &ns));
            out.bundle_namespaces.push(pns.clone());
        }
        if tls == ProcessorTlsType::AutoMtls {
            out.certificates.push(CertRequest {
                secret: AGENT_CLIENT_CERT_SECRET.to_string(),
                namespace: pns.clone(),
                common_name: super::agent::AGENT_NAME.to_string(),
                dns_names: Vec::new(),
            });
            out.bundle_namespaces.push(ns.clone());
        }
    }
    if super::agent::metrics_enabled(spec)
        && spec.agent.ebpf.metrics.server.tls.kind == ServerTlsType::Auto
    {
        out.certificates.push(serving(
            AGENT_METRICS_CERT_SECRET,
            AGENT_METRICS_SERVICE,
            &pns,
        ));
    }
    if spec.processor.metrics.server.tls.kind == ServerTlsType::Auto {
        let workload = workload_name(spec.deployment_model);
        out.certificates.push(serving(
            &format!("{workload}-prom-tls"),
            &format!("{workload}-prom"),
            &ns,
        ));
    }
    out.bundle_namespaces.sort();
    out.bundle_namespaces.dedup();
    out
}
