//! `spec.loki`: the Loki client that stores flows (processor side) and queries them (console
//! side), with one block of settings per way of installing Loki.

use super::common::{ClientTls, mark_required};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How Loki is installed, which decides the block of settings that is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LokiMode {
    /// Every URL and setting is given in `manual`; the most flexible mode.
    Manual,
    /// Loki is managed by the Loki Operator; only the LokiStack name is needed.
    LokiStack,
    /// Loki runs as a single workload, reached through one URL.
    #[default]
    Monolithic,
    /// Loki runs as separate services without the Loki Operator.
    Microservices,
}

/// Where the token sent to Loki comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum LokiAuthToken {
    /// No token is sent.
    #[default]
    Disabled,
    /// The pod's service account token (deprecated).
    Host,
    /// The token of the console user, so that Loki applies that user's permissions. Needed with
    /// the Loki Operator.
    Forward,
}

/// Full connection settings of Loki, for the `Manual` mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct LokiManualParams {
    /// URL the processor pushes flows to. With the Loki Operator, the gateway URL with the
    /// `network` tenant in the path.
    pub ingester_url: String,
    /// URL the console queries flows from. With the Loki Operator, the gateway URL with the
    /// `network` tenant in the path.
    pub querier_url: String,
    /// URL of Loki's `/ready`, `/metrics` and `/config` endpoints, which the console uses to
    /// explain errors. Empty means `querierUrl`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_url: String,
    /// Tenant sent as `X-Scope-OrgID`. With the Loki Operator, `network`.
    #[serde(rename = "tenantID")]
    pub tenant_id: String,
    /// How requests to Loki are authenticated. With the Loki Operator, `Forward`.
    pub auth_token: LokiAuthToken,
    /// TLS of the ingester and querier URLs.
    pub tls: ClientTls,
    /// TLS of the status URL.
    pub status_tls: ClientTls,
}

impl Default for LokiManualParams {
    fn default() -> Self {
        Self {
            ingester_url: "http://loki:3100/".to_string(),
            querier_url: "http://loki:3100/".to_string(),
            status_url: String::new(),
            tenant_id: "netobserv".to_string(),
            auth_token: LokiAuthToken::Disabled,
            tls: ClientTls::default(),
            status_tls: ClientTls::default(),
        }
    }
}

/// Connection settings of a Loki installed as microservices without the Loki Operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct LokiMicroservicesParams {
    /// URL of the distributor, which the processor pushes flows to.
    pub ingester_url: String,
    /// URL of the query frontend, which the console queries.
    pub querier_url: String,
    /// Tenant sent as `X-Scope-OrgID`.
    #[serde(rename = "tenantID")]
    pub tenant_id: String,
    /// TLS of both URLs.
    pub tls: ClientTls,
}

impl Default for LokiMicroservicesParams {
    fn default() -> Self {
        Self {
            ingester_url: "http://loki-distributor:3100/".to_string(),
            querier_url: "http://loki-query-frontend:3100/".to_string(),
            tenant_id: "netobserv".to_string(),
            tls: ClientTls::default(),
        }
    }
}

/// Connection settings of a single-workload Loki.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct LokiMonolithParams {
    /// Makes the operator deploy a throwaway Loki (with its storage) for trials and demos. Not for
    /// production (unsupported).
    pub install_demo_loki: bool,
    /// URL used both to push and to query flows.
    pub url: String,
    /// Tenant sent as `X-Scope-OrgID`.
    #[serde(rename = "tenantID")]
    pub tenant_id: String,
    /// TLS of the URL.
    pub tls: ClientTls,
}

impl Default for LokiMonolithParams {
    fn default() -> Self {
        Self {
            install_demo_loki: false,
            url: "http://loki:3100/".to_string(),
            tenant_id: "netobserv".to_string(),
            tls: ClientTls::default(),
        }
    }
}

/// The LokiStack (Loki Operator) to use; URLs, tenant and certificates are derived from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = loki_stack_required)]
pub struct LokiStackRef {
    /// Name of an existing LokiStack.
    pub name: String,
    /// Namespace of the LokiStack; empty means `spec.namespace`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

impl Default for LokiStackRef {
    fn default() -> Self {
        Self {
            name: "loki".to_string(),
            namespace: String::new(),
        }
    }
}

fn loki_stack_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["name"]);
}

/// Low-level knobs of the Loki clients, for debugging and fine tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct AdvancedLokiConfig {
    /// First wait before retrying a failed push.
    pub write_min_backoff: String,
    /// Longest wait between push retries.
    pub write_max_backoff: String,
    /// Number of retries of a failed push.
    #[schemars(range(min = 0))]
    pub write_max_retries: i32,
    /// Labels added to every flow stored in Loki.
    pub static_labels: BTreeMap<String, String>,
    /// Flow fields that must not become Loki labels (unsupported).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_labels: Vec<String>,
}

impl Default for AdvancedLokiConfig {
    fn default() -> Self {
        Self {
            write_min_backoff: "1s".to_string(),
            write_max_backoff: "5s".to_string(),
            write_max_retries: 2,
            static_labels: BTreeMap::from([(
                "app".to_string(),
                "netobserv-flowcollector".to_string(),
            )]),
            exclude_labels: Vec::new(),
        }
    }
}

/// Settings of the Loki client, which stores flows (processor) and queries them (console).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
#[schemars(transform = loki_required)]
pub struct FlowCollectorLoki {
    /// Stores flows in Loki. Without Loki the console relies on Prometheus metrics only, and loses
    /// raw flows and per-pod views; with neither, no console is deployed.
    pub enable: bool,
    /// How Loki is installed; picks which of the blocks below is read.
    pub mode: LokiMode,
    /// Settings of the `Manual` mode.
    pub manual: LokiManualParams,
    /// Settings of the `Microservices` mode.
    pub microservices: LokiMicroservicesParams,
    /// Settings of the `Monolithic` mode.
    pub monolithic: LokiMonolithParams,
    /// Settings of the `LokiStack` mode.
    pub loki_stack: LokiStackRef,
    /// Time limit of a console query to Loki; `0s` means none.
    pub read_timeout: String,
    /// Time limit of a push to Loki; `0s` means none.
    pub write_timeout: String,
    /// Longest wait before a batch of flows is pushed.
    pub write_batch_wait: String,
    /// Size, in bytes, at which a batch of flows is pushed without waiting.
    #[schemars(range(min = 1))]
    pub write_batch_size: i64,
    /// Low-level knobs, for debugging and fine tuning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advanced: Option<AdvancedLokiConfig>,
}

impl Default for FlowCollectorLoki {
    fn default() -> Self {
        Self {
            enable: true,
            mode: LokiMode::Monolithic,
            manual: LokiManualParams::default(),
            microservices: LokiMicroservicesParams::default(),
            monolithic: LokiMonolithParams::default(),
            loki_stack: LokiStackRef::default(),
            read_timeout: "30s".to_string(),
            write_timeout: "10s".to_string(),
            write_batch_wait: "1s".to_string(),
            write_batch_size: 10_485_760,
            advanced: None,
        }
    }
}

fn loki_required(schema: &mut schemars::Schema) {
    mark_required(schema, &["mode"]);
}
