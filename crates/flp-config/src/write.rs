//! `write` stages: terminal writers (Loki, standard output, IPFIX, gRPC).

use crate::common::{check_duration, is_false, needs};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The write types upstream has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteKind {
    /// Loki's push API.
    #[default]
    Loki,
    /// Standard output.
    Stdout,
    /// IPFIX export.
    Ipfix,
    /// `genericmap.Collector/Send` (the CLI's collector).
    Grpc,
    /// Discards records.
    None,
    /// Discards records (upstream's test writer).
    Fake,
    /// A flow store file (`netobserv-flowstore`) the console and the CLI read. Ours, not
    /// upstream's.
    Sqlite,
}

impl WriteKind {
    /// The upstream type name.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteKind::Loki => "loki",
            WriteKind::Stdout => "stdout",
            WriteKind::Ipfix => "ipfix",
            WriteKind::Grpc => "grpc",
            WriteKind::None => "none",
            WriteKind::Fake => "fake",
            WriteKind::Sqlite => "sqlite",
        }
    }
}

/// A write stage: its `type` and the sub-object that type reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Write {
    /// Which writer runs.
    #[serde(rename = "type")]
    pub kind: WriteKind,
    /// For `loki`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loki: Option<LokiWrite>,
    /// For `stdout` (absent: `printf` format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<StdoutWrite>,
    /// For `ipfix`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipfix: Option<IpfixWrite>,
    /// For `grpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcWrite>,
    /// For `sqlite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite: Option<SqliteWrite>,
}

impl Write {
    /// A `loki` writer.
    pub fn loki(loki: LokiWrite) -> Self {
        Self {
            kind: WriteKind::Loki,
            loki: Some(loki),
            ..Self::default()
        }
    }

    /// A `stdout` writer.
    pub fn stdout(format: StdoutFormat) -> Self {
        Self {
            kind: WriteKind::Stdout,
            stdout: Some(StdoutWrite {
                format: Some(format),
            }),
            ..Self::default()
        }
    }

    /// Checks that the sub-object `type` needs is there and well formed.
    pub fn check(&self) -> Result<(), String> {
        let kind = self.kind.as_str();
        match self.kind {
            WriteKind::Loki => needs("write", kind, self.loki.as_ref())?.check(),
            WriteKind::Ipfix => needs("write", kind, self.ipfix.as_ref()).map(|_| ()),
            WriteKind::Grpc => needs("write", kind, self.grpc.as_ref()).map(|_| ()),
            WriteKind::Sqlite => needs("write", kind, self.sqlite.as_ref())?.check(),
            WriteKind::Stdout | WriteKind::None | WriteKind::Fake => Ok(()),
        }
    }
}

/// Line formats of the `stdout` writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StdoutFormat {
    /// `key=value` pairs, sorted by key (upstream's default).
    #[default]
    Printf,
    /// Same as `printf` here.
    Fields,
    /// One JSON object per line, keys sorted.
    Json,
    /// Aligned columns for a person watching flows (ours, for local mode).
    Table,
}

/// `stdout` parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutWrite {
    /// Line format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<StdoutFormat>,
}

/// `ipfix` writer parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpfixWrite {
    /// Collector host.
    #[serde(default)]
    pub target_host: String,
    /// Collector port.
    #[serde(default)]
    pub target_port: u16,
    /// `tcp` or `udp`.
    #[serde(default)]
    pub transport: String,
    /// Private Enterprise Number of the non-standard fields.
    #[serde(rename = "enterpriseId", default)]
    pub enterprise_id: i64,
    /// Template resend period (Go duration, default 1m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpl_send_interval: Option<String>,
}

/// `grpc` writer parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcWrite {
    /// Collector host.
    #[serde(default)]
    pub target_host: String,
    /// Collector port.
    #[serde(default)]
    pub target_port: u16,
}

/// `loki` writer parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LokiWrite {
    /// Base URL; pushes go to `<url>/loki/api/v1/push`.
    #[serde(default)]
    pub url: String,
    /// Sent as `X-Scope-OrgID` (empty: not sent).
    #[serde(default, rename = "tenantID")]
    pub tenant_id: String,
    /// Longest wait before a non-full batch is sent (Go duration, default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_wait: Option<String>,
    /// Batch size in bytes of lines (default 100 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<i64>,
    /// Request timeout (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// First retry delay (default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_backoff: Option<String>,
    /// Longest retry delay (default 1s upstream; NetObserv sets 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<String>,
    /// Retries after the first attempt (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i64>,
    /// Record fields promoted to stream labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Labels added to every stream.
    #[serde(default)]
    pub static_labels: BTreeMap<String, String>,
    /// Fields removed from lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_list: Vec<String>,
    /// HTTP client settings (TLS, auth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_config: Option<ClientConfig>,
    /// Field holding the entry time (default `TimeReceived`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_label: Option<String>,
    /// Unit of that field (default `1s`; NetObserv uses `TimeFlowEndMs` with `1ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_scale: Option<String>,
    /// Line format: `json` (default), `printf` or `fields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Whether the JSON line's keys are written in alphabetical order; otherwise they keep the
    /// record's order.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reorder: bool,
    /// `http` (default) or `grpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_protocol: Option<String>,
    /// Keep-alive settings of the `grpc` protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_config: Option<LokiGrpcConfig>,
}

impl LokiWrite {
    /// Checks the durations and numbers.
    pub fn check(&self) -> Result<(), String> {
        for (key, value) in [
            ("loki.batchWait", &self.batch_wait),
            ("loki.timeout", &self.timeout),
            ("loki.minBackoff", &self.min_backoff),
            ("loki.maxBackoff", &self.max_backoff),
            ("loki.timestampScale", &self.timestamp_scale),
        ] {
            check_duration(key, value.as_deref())?;
        }
        if self.batch_size.is_some_and(|n| n < 0) {
            return Err("loki.batchSize must not be negative".into());
        }
        if self.max_retries.is_some_and(|n| n < 0) {
            return Err("loki.maxRetries must not be negative".into());
        }
        Ok(())
    }
}

/// `grpcConfig` of the Loki writer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LokiGrpcConfig {
    /// Keep-alive period (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<String>,
    /// Keep-alive timeout (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_alive_timeout: Option<String>,
}

/// `clientConfig`: the subset of Prometheus' HTTP client configuration Loki writers use (its
/// snake_case keys).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// TLS towards Loki.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// `Authorization: <type> <credentials>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Older spelling of a Bearer credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// Older spelling of a Bearer credential read from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// HTTP basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Whether redirects are followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// HTTP/2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    /// A proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// `clientConfig.tls_config`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Accept any server certificate (the FlowCollector's `insecureSkipVerify`).
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// PEM file of the CAs that sign Loki's certificate (default: the public web roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Inline PEM of those CAs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// Client certificate (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    /// Client key (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// Name checked against Loki's certificate instead of the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Lowest TLS version (`TLS12` or `TLS13`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
}

/// `clientConfig.authorization`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// Scheme, `Bearer` when empty.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Inline credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// File holding the credentials (read before each push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

/// `clientConfig.basic_auth`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Inline password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// File holding the password (read before each push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// `sqlite` writer parameters (ours): a flow store file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqliteWrite {
    /// The store file, created when missing.
    #[serde(default)]
    pub path: String,
    /// Rows per transaction (default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Longest wait before a transaction (Go duration, default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_interval: Option<String>,
    /// Retention by age (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// Retention by size, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Rollup bucket of a new file (Go duration, default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollup_bucket: Option<String>,
    /// Whether a new file also keeps the per-peer rollup level (default false: see the
    /// flow store's `peer_rollup`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_rollup: Option<bool>,
}

impl SqliteWrite {
    /// Checks the path and durations.
    pub fn check(&self) -> Result<(), String> {
        if self.path.is_empty() {
            return Err("sqlite: `path` is required".into());
        }
        check_duration("sqlite.flushInterval", self.flush_interval.as_deref())?;
        check_duration("sqlite.maxAge", self.max_age.as_deref())?;
        check_duration("sqlite.rollupBucket", self.rollup_bucket.as_deref())
    }
}
