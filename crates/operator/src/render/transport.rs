//! How agents reach the processor: its gRPC port and Service name, the Service-model TLS
//! material, and the Kafka settings both sides share. The agent, the pipeline and its config
//! all render from here, so none of them depends on another.

use super::Inputs;
use netobserv_api::v1beta2::{
    CertificateReference, FileReference, FlowCollectorSpec, KafkaCompression, MountableType,
    ProcessorTlsType, SaslType,
};

/// Name of the processor's Deployment / DaemonSet and Service (Service and Direct models).
pub const FLP_NAME: &str = "flowlogs-pipeline";
/// Secret FLP serves gRPC TLS with in `Auto` modes.
pub const FLP_CERT_SECRET: &str = "flowlogs-pipeline-cert";
/// Secret of the agent client certificate in `Auto-mTLS` mode.
pub const AGENT_CLIENT_CERT_SECRET: &str = "ebpf-agent-cert";

/// Port of the processor's gRPC ingest.
pub fn processor_port(spec: &FlowCollectorSpec) -> i32 {
    spec.processor.advanced.as_ref().map_or(2055, |a| a.port)
}

/// Kafka compression codec name.
pub fn compression(c: KafkaCompression) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "none".to_string())
}

/// SASL mechanism as the agent and the pipeline name it.
pub fn sasl_type(kind: SaslType) -> &'static str {
    match kind {
        SaslType::ScramSHA512 => "scramSHA512",
        _ => "plain",
    }
}

/// TLS material between agents and the processor in the Service model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceTls {
    /// CA the agents trust.
    pub ca: Option<FileReference>,
    /// Agent client certificate (mTLS).
    pub agent_client: Option<CertificateReference>,
    /// Processor serving certificate.
    pub server: Option<CertificateReference>,
    /// CA the processor checks client certificates with (mTLS).
    pub client_ca: Option<FileReference>,
}

/// Resolves `processor.service.tlsType` (default `Auto`).
pub fn service_tls(inputs: &Inputs<'_>) -> ServiceTls {
    let service = inputs.spec().processor.service.clone().unwrap_or_default();
    let secret = |name: &str| CertificateReference {
        kind: Some(MountableType::Secret),
        name: name.to_string(),
        namespace: String::new(),
        cert_file: "tls.crt".to_string(),
        cert_key: "tls.key".to_string(),
    };
    let auto_ca = FileReference {
        kind: Some(MountableType::ConfigMap),
        name: if inputs.is_openshift() {
            "openshift-service-ca.crt".to_string()
        } else {
            "netobserv-ca".to_string()
        },
        namespace: String::new(),
        file: "service-ca.crt".to_string(),
    };
    match service.tls_type {
        ProcessorTlsType::Disabled => ServiceTls::default(),
        ProcessorTlsType::Auto => ServiceTls {
            ca: Some(auto_ca),
            server: Some(secret(FLP_CERT_SECRET)),
            ..ServiceTls::default()
        },
        ProcessorTlsType::AutoMtls => ServiceTls {
            ca: Some(auto_ca.clone()),
            agent_client: Some(secret(AGENT_CLIENT_CERT_SECRET)),
            server: Some(secret(FLP_CERT_SECRET)),
            client_ca: Some(auto_ca),
        },
        ProcessorTlsType::Provided => {
            let certs = service.provided_certificates.unwrap_or_default();
            ServiceTls {
                client_ca: certs.client_cert.as_ref().and(certs.ca_file.clone()),
                ca: certs.ca_file,
                agent_client: certs.client_cert,
                server: certs.server_cert,
            }
        }
    }
}
