//! How the processor itself is deployed: its Service and TLS in the `Service` model, and the
//! low-level `advanced` knobs (ports, probes, conversation timeouts, scheduling).

use super::SecondaryNetwork;
use crate::v1beta2::common::{ClientServerTls, SchedulingConfig, mark_required};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// TLS of the agent-to-processor connection in the `Service` deployment model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ProcessorTlsType {
    /// Plain text: simpler, but less secure.
    Disabled,
    /// Certificates that the user provides in `providedCertificates`.
    Provided,
    /// Certificates set up automatically for the platform.
    #[default]
    Auto,
    /// Like `Auto`, with client certificates as well (unsupported).
    #[serde(rename = "Auto-mTLS")]
    AutoMtls,
}

/// Settings of the processor Service, used in the `Service` deployment model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = processor_service_required)]
pub struct ProcessorServiceConfig {
    /// How the agent-to-processor connection is secured.
    #[serde(rename = "tlsType")]
    pub tls_type: ProcessorTlsType,
    /// Certificates used when `tlsType` is `Provided` (the CA and server certificate are needed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_certificates: Option<ClientServerTls>,
}

fn processor_service_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["tlsType"]);
}

/// Low-level knobs of the processor, for debugging and fine tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AdvancedProcessorConfig {
    /// Extra environment variables of the processor (such as `GOGC` or `GOMAXPROCS`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Port that receives flows from the agents (a host port in `Direct` mode). Must be above
    /// 1024 and must not be 4500, 4789 or 6081, which the network stack uses.
    #[schemars(range(min = 1025, max = 65535))]
    pub port: i32,
    /// Port of the health check API, used by the probes.
    #[schemars(range(min = 1, max = 65535))]
    pub health_port: i32,
    /// Port of a pprof profiler; unset means no profiler.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 65535))]
    pub profile_port: Option<i32>,
    /// Adds Kubernetes liveness and startup probes to the processor pods.
    pub enable_kube_probes: bool,
    /// Deprecated and ignored.
    pub drop_unused_fields: bool,
    /// Time between two "tick" events of an ongoing conversation.
    pub conversation_heartbeat_interval: String,
    /// Time without flows after which a conversation is considered ended (TCP flows with a FIN
    /// use `conversationTerminatingTimeout` instead).
    pub conversation_end_timeout: String,
    /// Time between a TCP FIN and the end of the conversation.
    pub conversation_terminating_timeout: String,
    /// Placement of the processor pods; unset means defaults that depend on the deployment model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingConfig>,
    /// Secondary networks whose addresses are mapped to pods. Unique indexes are essential, or
    /// flows get the wrong pod.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secondary_networks: Vec<SecondaryNetwork>,
}

impl Default for AdvancedProcessorConfig {
    fn default() -> Self {
        Self {
            env: BTreeMap::new(),
            port: 2055,
            health_port: 8080,
            profile_port: None,
            enable_kube_probes: true,
            drop_unused_fields: true,
            conversation_heartbeat_interval: "30s".to_string(),
            conversation_end_timeout: "10s".to_string(),
            conversation_terminating_timeout: "5s".to_string(),
            scheduling: None,
            secondary_networks: Vec::new(),
        }
    }
}
