//! Sub-types that several sections of the FlowCollector spec reuse: references to TLS material,
//! client and server TLS settings, metrics endpoints, scheduling and autoscaling.
//!
//! Conventions used by every v1beta2 type (the CRD is generated from them):
//! - JSON names are upstream's (`rename_all = "camelCase"` plus explicit renames);
//! - every struct has `#[serde(default)]` and a `Default` that holds the upstream defaults, so a
//!   missing field deserialises to the same value the API server's CRD defaulting would write;
//! - fields with no upstream default are `Option`, or are skipped when empty, so that they carry no
//!   `default:` in the CRD.

use k8s_openapi::api::autoscaling::v2::MetricSpec;
use k8s_openapi::api::core::v1::{Affinity, Toleration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Marks `fields` as required in an object schema. Fields with a serde default are optional for
/// schemars, but upstream's CRD requires some of them (the API server fills them from their
/// `default:` first, so a manifest that omits them is still accepted).
pub(crate) fn mark_required(schema: &mut schemars::Schema, fields: &[&str]) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let required = obj
        .entry("required")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if let serde_json::Value::Array(list) = required {
        for field in fields {
            let value = serde_json::Value::String((*field).to_string());
            if !list.contains(&value) {
                list.push(value);
            }
        }
    }
}

/// Kind of Kubernetes object that a [`CertificateReference`] or [`FileReference`] points to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MountableType {
    /// The data is in a ConfigMap.
    #[default]
    #[serde(rename = "configmap")]
    ConfigMap,
    /// The data is in a Secret.
    #[serde(rename = "secret")]
    Secret,
}

/// Points at a certificate held in a ConfigMap or Secret, so that TLS material never sits inline
/// in the FlowCollector.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct CertificateReference {
    /// Whether the certificate is in a `configmap` or a `secret`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<MountableType>,
    /// Name of the ConfigMap or Secret that holds the certificate.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace of the ConfigMap or Secret. Empty means the NetObserv namespace; another namespace
    /// makes the operator copy the object next to the workloads that mount it.
    pub namespace: String,
    /// Key of the certificate inside the ConfigMap or Secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    /// Key of the private key inside the ConfigMap or Secret, when a key is needed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cert_key: String,
}

/// Points at one file (a CA bundle, a credential) held in a ConfigMap or Secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FileReference {
    /// Whether the file is in a `configmap` or a `secret`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<MountableType>,
    /// Name of the ConfigMap or Secret that holds the file.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Namespace of the ConfigMap or Secret. Empty means the NetObserv namespace; another namespace
    /// makes the operator copy the object next to the workloads that mount it.
    pub namespace: String,
    /// Key of the file inside the ConfigMap or Secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
}

/// TLS settings of a client connection (to Loki, Kafka, Prometheus, an exporter).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientTls {
    /// Turns TLS on for the connection.
    pub enable: bool,
    /// Skips the server certificate check; `caCert` is then ignored. Only for tests.
    pub insecure_skip_verify: bool,
    /// Certificate authority used to verify the server.
    pub ca_cert: CertificateReference,
    /// Client certificate and key, for mutual TLS.
    pub user_cert: CertificateReference,
}

/// SASL mechanism for Kafka connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SaslType {
    /// No SASL authentication.
    #[default]
    Disabled,
    /// SASL/PLAIN.
    Plain,
    /// SASL/SCRAM-SHA-512.
    ScramSHA512,
}

/// SASL authentication of a Kafka client (upstream marks it unsupported).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SaslConfig {
    /// SASL mechanism, or `Disabled`.
    #[serde(rename = "type")]
    pub kind: SaslType,
    /// File holding the client id.
    #[serde(rename = "clientIDReference")]
    pub client_id_reference: FileReference,
    /// File holding the client secret.
    pub client_secret_reference: FileReference,
}

/// How a server endpoint (metrics, the pipeline's gRPC ingest) gets its TLS certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ServerTlsType {
    /// Plain text.
    #[default]
    Disabled,
    /// A certificate the user provides.
    Provided,
    /// A certificate generated by the platform (OpenShift service CA annotation).
    Auto,
}

/// TLS of a metrics server that Prometheus scrapes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = server_tls_required)]
pub struct ServerTls {
    /// Where the certificate comes from.
    #[serde(rename = "type")]
    pub kind: ServerTlsType,
    /// Certificate and key when `type` is `Provided`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided: Option<CertificateReference>,
    /// Lets the scraper skip verifying the certificate. Only for tests.
    pub insecure_skip_verify: bool,
    /// CA file for the scraper when `type` is `Provided`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_ca_file: Option<FileReference>,
}

fn server_tls_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["type"]);
}

/// Port and TLS of a metrics endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricsServerConfig {
    /// Port the metrics are served on. Empty means the component's own default.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// TLS of the metrics endpoint.
    pub tls: ServerTls,
}

/// Where a component's pods may be scheduled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct SchedulingConfig {
    /// Taints the pods tolerate. Empty means the component's own default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Node labels the pods must run on.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Node and pod affinity of the pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Priority class of the pods.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub priority_class_name: String,
}

/// Whether a (deprecated) HorizontalPodAutoscaler is deployed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HpaStatus {
    /// No autoscaler.
    #[default]
    Disabled,
    /// An autoscaler manages the replicas.
    Enabled,
}

/// Autoscaler settings of a component (deprecated upstream, still accepted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorHpa {
    /// Whether the autoscaler is deployed.
    pub status: HpaStatus,
    /// Lower replica bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Upper replica bound; cannot be lower than `minReplicas`.
    pub max_replicas: i32,
    /// Metrics the autoscaler follows (autoscaling/v2 `MetricSpec`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricSpec>,
}

impl Default for FlowCollectorHpa {
    fn default() -> Self {
        Self {
            status: HpaStatus::Disabled,
            min_replicas: None,
            max_replicas: 3,
            metrics: Vec::new(),
        }
    }
}

/// TLS material that the user provides for a client/server pair (agents -> pipeline).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientServerTls {
    /// Client certificate, for mutual TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<CertificateReference>,
    /// Server certificate and key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cert: Option<CertificateReference>,
    /// CA that signed the certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<FileReference>,
}
