//! `spec.loki` in v1beta1: a single flat client configuration, which v1beta2 calls the `Manual`
//! mode.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ClientTls;

/// How the Loki clients authenticate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LokiAuthToken {
    /// No token.
    #[default]
    #[serde(rename = "DISABLED")]
    Disabled,
    /// The pod's service account token (deprecated).
    #[serde(rename = "HOST")]
    Host,
    /// The token of the console user, forwarded.
    #[serde(rename = "FORWARD")]
    Forward,
}

/// Client settings of the Loki flow store. They correspond to the v1beta2 `Manual` mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowCollectorLoki {
    /// Stores flows in Loki.
    pub enable: bool,
    /// Address flows are pushed to (with the Loki Operator: the gateway with the `network`
    /// tenant in the path).
    pub url: String,
    /// Address of the querier, when it differs from `url`. Empty means `url`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub querier_url: String,
    /// Address of the `/ready`, `/metrics` and `/config` endpoints, when it differs from the
    /// querier. Empty means the querier address.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_url: String,
    /// Loki tenant (`X-Scope-OrgID`); `network` with the Loki Operator.
    #[serde(rename = "tenantID")]
    pub tenant_id: String,
    /// How the clients get a token; `FORWARD` with the Loki Operator.
    pub auth_token: LokiAuthToken,
    /// Longest wait before a batch is sent.
    pub batch_wait: String,
    /// Largest batch, in bytes, accumulated before sending.
    #[schemars(range(min = 1))]
    pub batch_size: i64,
    /// Time limit of a query; zero means none.
    pub read_timeout: String,
    /// Time limit of a push connection or request; zero means none.
    pub timeout: String,
    /// First backoff between push retries.
    pub min_backoff: String,
    /// Longest backoff between push retries.
    pub max_backoff: String,
    /// Number of push retries.
    #[schemars(range(min = 0))]
    pub max_retries: i32,
    /// Labels set on every flow stored.
    pub static_labels: BTreeMap<String, String>,
    /// TLS of the connection to `url` (and `querierUrl`).
    pub tls: ClientTls,
    /// TLS of the connection to `statusUrl`.
    pub status_tls: ClientTls,
}

impl Default for FlowCollectorLoki {
    fn default() -> Self {
        Self {
            enable: true,
            url: "http://loki:3100/".to_string(),
            querier_url: String::new(),
            status_url: String::new(),
            tenant_id: "netobserv".to_string(),
            auth_token: LokiAuthToken::default(),
            batch_wait: "1s".to_string(),
            batch_size: 102_400,
            read_timeout: "30s".to_string(),
            timeout: "10s".to_string(),
            min_backoff: "1s".to_string(),
            max_backoff: "5s".to_string(),
            max_retries: 2,
            static_labels: BTreeMap::from([(
                "app".to_string(),
                "netobserv-flowcollector".to_string(),
            )]),
            tls: ClientTls::default(),
            status_tls: ClientTls::default(),
        }
    }
}
