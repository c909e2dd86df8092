//! Agent configuration from the upstream environment variables (names and defaults of the
//! upstream agent), so existing deployments and the operator can drive this agent unchanged.

mod capture;
pub mod kafka;
mod netevents;
mod udn;

use crate::filter::FilterRule;
pub use crate::ifaces::NameMatcher;
pub use capture::CaptureConfig;
pub use netevents::NetworkEventsConfig;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
pub use udn::UdnConfig;

/// Why the configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable holds a value of the wrong shape.
    #[error("invalid value {value:?} for {name}: {reason}")]
    Invalid {
        /// Variable name.
        name: &'static str,
        /// Value found.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A required variable is missing.
    #[error("{0} is required when EXPORT={1}")]
    Missing(&'static str, String),
    /// The option exists upstream but this agent does not implement it.
    #[error("{name}={value} is not supported by this agent: {reason}")]
    Unsupported {
        /// Variable name.
        name: &'static str,
        /// Value found.
        value: String,
        /// What is supported instead.
        reason: &'static str,
    },
}

/// Bytes one `FlowEvent` takes in the ring buffer (96-byte record + 8-byte header).
pub const RINGBUF_RECORD_BYTES: u64 = 104;

/// Which direction hooks to attach (`DIRECTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ingress only.
    Ingress,
    /// Egress only.
    Egress,
    /// Both (default).
    Both,
}

/// How to attach the classifiers (`TC_ATTACH_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// TCX links only.
    Tcx,
    /// Legacy clsact filters only.
    Tc,
    /// TCX, falling back to clsact per interface.
    Any,
}

/// The whole agent configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `EXPORT`: `grpc` (to a separate pipeline), `kafka`, `ipfix+udp` / `ipfix+tcp` (to an
    /// IPFIX collector at `TARGET_HOST:TARGET_PORT`) or `direct-flp` (the pipeline in process,
    /// configured by `FLP_CONFIG`).
    pub export: String,
    /// The `KAFKA_*` settings, for `EXPORT=kafka`.
    pub kafka: Option<kafka::KafkaConfig>,
    /// `FLP_CONFIG`: the in-process pipeline's configuration (upstream flowlogs-pipeline JSON or
    /// YAML, its first stages following `preset-ingester`), for `EXPORT=direct-flp`.
    pub flp_config: String,
    /// `TARGET_HOST`.
    pub target_host: String,
    /// `TARGET_PORT`.
    pub target_port: u16,
    /// `GRPC_MESSAGE_MAX_FLOWS`: most records per `Send` call.
    pub grpc_message_max_flows: usize,
    /// `BUFFERS_LENGTH`.
    pub buffers_length: usize,
    /// `EXPORTER_BUFFER_LENGTH`: evicted batches queued before the exporter; beyond, batches are
    /// dropped and counted.
    pub exporter_buffer_length: usize,
    /// `CACHE_ACTIVE_TIMEOUT`: eviction period.
    pub cache_active_timeout: Duration,
    /// `CACHE_MAX_FLOWS`: size of the kernel flow map.
    pub cache_max_flows: u32,
    /// `SAMPLING`: 1 packet in N (0 or 1 = all).
    pub sampling: u32,
    /// `INTERFACES`: empty = all.
    pub interfaces: Vec<NameMatcher>,
    /// `EXCLUDE_INTERFACES`: takes priority over `interfaces`.
    pub exclude_interfaces: Vec<NameMatcher>,
    /// `DIRECTION`.
    pub direction: Direction,
    /// `LOG_LEVEL`.
    pub log_level: String,
    /// `TC_ATTACH_MODE`.
    pub tc_attach_mode: AttachMode,
    /// `TC_ATTACH_RETRIES`.
    pub tc_attach_retries: u32,
    /// `METRICS_ENABLE`.
    pub metrics_enable: bool,
    /// `METRICS_SERVER_ADDRESS` (empty = all addresses).
    pub metrics_server_address: String,
    /// `METRICS_SERVER_PORT`.
    pub metrics_server_port: u16,
    /// `METRICS_PREFIX`.
    pub metrics_prefix: String,
    /// `FLOW_FILTER_RULES` (JSON array).
    pub flow_filter_rules: Vec<FilterRule>,
    /// `ENABLE_RTT`.
    pub enable_rtt: bool,
    /// `ENABLE_PKT_DROPS`.
    pub enable_pkt_drops: bool,
    /// `ENABLE_DNS_TRACKING`.
    pub enable_dns_tracking: bool,
    /// `ENABLE_TLS_TRACKING`: TLS versions, cipher suite, key share group and record types per
    /// flow, read inline from the handshakes.
    pub enable_tls_tracking: bool,
    /// `QUIC_TRACKING_MODE`: 0 off, 1 QUIC on UDP port 443, 2 on any UDP port.
    pub quic_tracking_mode: u8,
    /// `ENABLE_PKT_TRANSLATION`: report NAT translations (Xlat fields) per flow.
    pub enable_pkt_translation: bool,
    /// `ENABLE_IPSEC_TRACKING`: whether the kernel's IPsec layer encrypted (or failed to
    /// encrypt) each flow, from hooks on `xfrm_input` / `xfrm_output`.
    pub enable_ipsec_tracking: bool,
    /// `DNS_TRACKING_PORT`: watched besides 53.
    pub dns_tracking_port: u16,
    /// `AGENT_IP`: reported agent address; discovered when unset.
    pub agent_ip: Option<IpAddr>,
    /// Not an upstream variable: run interface discovery and attachment inside this network
    /// namespace (a path like `/run/netns/NAME`). Tests use it to observe a namespace from a
    /// process that stays in the root namespace. `NETOBSERV_NETNS` sets it.
    pub netns: Option<PathBuf>,
    /// Directories of named network namespaces whose interfaces are watched too (secondary
    /// interfaces: Multus, SR-IOV), like upstream's watcher over `/var/run/netns`, which the
    /// operator mounts only for a privileged agent. Not an upstream variable: `NETNS_DIRS`
    /// (comma-separated; `none` disables) adds e.g. a container runtime's netns directory.
    /// Ignored when `netns` is set.
    pub netns_dirs: Vec<PathBuf>,
    /// Whether the classifiers may sum a flow's packets in the per-CPU flow cache before the
    /// shared map (see `flowcache`). Not an upstream variable: `FLOW_CACHE=false` turns it off
    /// (benchmarks compare both; the cache also stays off on kernels that cannot flush it).
    pub flow_cache: bool,
    /// `TARGET_TLS_CA_CERT_PATH`: CA of the collector; set means gRPC over TLS.
    pub target_tls_ca_cert_path: String,
    /// `TARGET_TLS_USER_CERT_PATH`: client certificate for mutual TLS.
    pub target_tls_user_cert_path: String,
    /// `TARGET_TLS_USER_KEY_PATH`: client key for mutual TLS.
    pub target_tls_user_key_path: String,
    /// NetworkEvents settings (`ENABLE_NETWORK_EVENTS_MONITORING` and friends).
    pub network_events: NetworkEventsConfig,
    /// UDN mapping settings (`ENABLE_UDN_MAPPING` and friends).
    pub udn: UdnConfig,
    /// Size of the ring buffer that carries flows' first packets and what a full flow map
    /// refuses to user space (see [`Config::ringbuf_bytes`]). Not an upstream variable:
    /// `FLOWS_RINGBUF_BYTES`; unset = derived from `CACHE_MAX_FLOWS`.
    pub ringbuf_bytes_setting: Option<u32>,
    /// Profiling only, never from the environment: the classifiers return at this section
    /// boundary of their per-packet path (0 = never; see `examples/prog_profile.rs`).
    pub profile_stop: u8,
    /// Packet capture (`ENABLE_PCA` and friends): packet mode instead of flows when enabled.
    pub capture: CaptureConfig,
}

impl Default for Config {
    fn default() -> Self {
        // An empty environment only fails on required values, which have no default.
        Self {
            export: "grpc".into(),
            kafka: None,
            flp_config: String::new(),
            target_host: String::new(),
            target_port: 0,
            grpc_message_max_flows: 10_000,
            buffers_length: 50,
            exporter_buffer_length: 50,
            cache_active_timeout: Duration::from_secs(5),
            cache_max_flows: 5000,
            sampling: 0,
            interfaces: Vec::new(),
            exclude_interfaces: vec![NameMatcher::Exact("lo".into())],
            direction: Direction::Both,
            log_level: "info".into(),
            tc_attach_mode: AttachMode::Tcx,
            tc_attach_retries: 4,
            metrics_enable: false,
            metrics_server_address: String::new(),
            metrics_server_port: 9090,
            metrics_prefix: "ebpf_agent_".into(),
            flow_filter_rules: Vec::new(),
            enable_rtt: false,
            enable_pkt_drops: false,
            enable_dns_tracking: false,
            enable_tls_tracking: false,
            quic_tracking_mode: 0,
            enable_pkt_translation: false,
            enable_ipsec_tracking: false,
            dns_tracking_port: 53,
            agent_ip: None,
            netns: None,
            netns_dirs: vec![PathBuf::from("/var/run/netns")],
            flow_cache: true,
            target_tls_ca_cert_path: String::new(),
            target_tls_user_cert_path: String::new(),
            target_tls_user_key_path: String::new(),
            network_events: NetworkEventsConfig::default(),
            udn: UdnConfig::default(),
            ringbuf_bytes_setting: None,
            profile_stop: 0,
            capture: CaptureConfig::default(),
        }
    }
}

/// Parses a Go `time.Duration` string (`300ms`, `5s`, `1m30s`, `1h`).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs_f64(total))
}

fn parse_bool(name: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => Err(invalid(name, v, "expected true or false")),
    }
}

fn invalid(name: &'static str, v: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: v.to_string(),
        reason: reason.into(),
    }
}

fn parse_num<T: std::str::FromStr>(name: &'static str, v: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    v.trim()
        .parse()
        .map_err(|e: T::Err| invalid(name, v, e.to_string()))
}

fn parse_list(name: &'static str, v: &str) -> Result<Vec<NameMatcher>, ConfigError> {
    v.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| NameMatcher::parse(s).map_err(|e| invalid(name, v, e.to_string())))
        .collect()
}

/// How the sections below read a variable: its value, `None` when unset or empty.
type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the exporter: where and how flows are sent.
fn read_exporter(c: &mut Config, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("EXPORT") {
        c.export = v;
    }
    if c.export == "kafka" {
        c.kafka = Some(kafka::read(var)?);
    }
    if let Some(v) = var("FLP_CONFIG") {
        c.flp_config = v;
    }
    if let Some(v) = var("TARGET_HOST").or_else(|| var("FLOWS_TARGET_HOST")) {
        c.target_host = v;
    }
    if let Some(v) = var("TARGET_PORT").or_else(|| var("FLOWS_TARGET_PORT")) {
        c.target_port = parse_num("TARGET_PORT", &v)?;
    }
    if let Some(v) = var("GRPC_MESSAGE_MAX_FLOWS") {
        c.grpc_message_max_flows = parse_num("GRPC_MESSAGE_MAX_FLOWS", &v)?;
        if c.grpc_message_max_flows == 0 {
            return Err(invalid("GRPC_MESSAGE_MAX_FLOWS", &v, "must be > 0"));
        }
    }
    if let Some(v) = var("BUFFERS_LENGTH") {
        c.buffers_length = parse_num("BUFFERS_LENGTH", &v)?;
    }
    c.exporter_buffer_length = match var("EXPORTER_BUFFER_LENGTH") {
        Some(v) => parse_num("EXPORTER_BUFFER_LENGTH", &v)?,
        None => c.buffers_length,
    };
    if c.exporter_buffer_length == 0 {
        c.exporter_buffer_length = 1;
    }
    Ok(())
}

/// Reads the kernel flow cache: eviction period, size, sampling.
fn read_cache(c: &mut Config, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("CACHE_ACTIVE_TIMEOUT") {
        c.cache_active_timeout = parse_go_duration(&v)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| invalid("CACHE_ACTIVE_TIMEOUT", &v, "expected a duration like 5s"))?;
    }
    if let Some(v) = var("CACHE_MAX_FLOWS") {
        c.cache_max_flows = parse_num("CACHE_MAX_FLOWS", &v)?;
        if c.cache_max_flows == 0 {
            return Err(invalid("CACHE_MAX_FLOWS", &v, "must be > 0"));
        }
    }
    if let Some(v) = var("SAMPLING") {
        c.sampling = parse_num("SAMPLING", &v)?;
    }
    Ok(())
}

/// Reads which interfaces are hooked, how and in which direction (and the log level).
fn read_interfaces(c: &mut Config, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("INTERFACES") {
        c.interfaces = parse_list("INTERFACES", &v)?;
    }
    if let Some(v) = var("EXCLUDE_INTERFACES") {
        c.exclude_interfaces = parse_list("EXCLUDE_INTERFACES", &v)?;
    }
    if let Some(v) = var("DIRECTION") {
        c.direction = match v.to_ascii_lowercase().as_str() {
            "ingress" => Direction::Ingress,
            "egress" => Direction::Egress,
            "both" => Direction::Both,
            _ => return Err(invalid("DIRECTION", &v, "expected ingress, egress or both")),
        };
    }
    if let Some(v) = var("LOG_LEVEL") {
        c.log_level = v;
    }
    if let Some(v) = var("TC_ATTACH_MODE") {
        c.tc_attach_mode = match v.to_ascii_lowercase().as_str() {
            "tcx" => AttachMode::Tcx,
            "tc" => AttachMode::Tc,
            "any" => AttachMode::Any,
            _ => return Err(invalid("TC_ATTACH_MODE", &v, "expected tcx, tc or any")),
        };
    }
    if let Some(v) = var("TC_ATTACH_RETRIES") {
        c.tc_attach_retries = parse_num("TC_ATTACH_RETRIES", &v)?;
    }
    Ok(())
}

/// Reads the metrics and `/status` server.
fn read_metrics(c: &mut Config, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("METRICS_ENABLE") {
        c.metrics_enable = parse_bool("METRICS_ENABLE", &v)?;
    }
    if let Some(v) = var("METRICS_SERVER_ADDRESS") {
        c.metrics_server_address = v;
    }
    if let Some(v) = var("METRICS_SERVER_PORT") {
        c.metrics_server_port = parse_num("METRICS_SERVER_PORT", &v)?;
    }
    if let Some(v) = var("METRICS_PREFIX") {
        c.metrics_prefix = v;
    }
    Ok(())
}

/// Reads filter rules, the optional features and the ring buffer.
fn read_features(c: &mut Config, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("FLOW_FILTER_RULES") {
        c.flow_filter_rules = crate::filter::parse_rules(&v)
            .map_err(|e| invalid("FLOW_FILTER_RULES", &v, e.to_string()))?;
    }
    if let Some(v) = var("ENABLE_RTT") {
        c.enable_rtt = parse_bool("ENABLE_RTT", &v)?;
    }
    if let Some(v) = var("ENABLE_PKT_DROPS") {
        c.enable_pkt_drops = parse_bool("ENABLE_PKT_DROPS", &v)?;
    }
    if let Some(v) = var("ENABLE_DNS_TRACKING") {
        c.enable_dns_tracking = parse_bool("ENABLE_DNS_TRACKING", &v)?;
    }
    if let Some(v) = var("ENABLE_TLS_TRACKING") {
        c.enable_tls_tracking = parse_bool("ENABLE_TLS_TRACKING", &v)?;
    }
    if let Some(v) = var("QUIC_TRACKING_MODE") {
        c.quic_tracking_mode = match v.trim() {
            "0" => 0,
            "1" => 1,
            "2" => 2,
            other => {
                return Err(ConfigError::Invalid {
                    name: "QUIC_TRACKING_MODE",
                    value: other.to_string(),
                    reason: "expected 0 (off), 1 (UDP port 443) or 2 (any UDP port)".into(),
                });
            }
        };
    }
    if let Some(v) = var("ENABLE_PKT_TRANSLATION") {
        c.enable_pkt_translation = parse_bool("ENABLE_PKT_TRANSLATION", &v)?;
    }
    if let Some(v) = var("ENABLE_IPSEC_TRACKING") {
        c.enable_ipsec_tracking = parse_bool("ENABLE_IPSEC_TRACKING", &v)?;
    }
    if let Some(v) = var("DNS_TRACKING_PORT") {
        c.dns_tracking_port = parse_num("DNS_TRACKING_PORT", &v)?;
    }
    if let Some(v) = var("AGENT_IP") {
        c.agent_ip = Some(parse_num("AGENT_IP", &v)?);
    }
    if let Some(v) = var("FLOWS_RINGBUF_BYTES") {
        let n: u32 = parse_num("FLOWS_RINGBUF_BYTES", &v)?;
        if n == 0 {
            return Err(invalid("FLOWS_RINGBUF_BYTES", &v, "must be > 0"));
        }
        c.ringbuf_bytes_setting = Some(n);
    }
    if let Some(v) = var("FLOW_CACHE") {
        c.flow_cache = parse_bool("FLOW_CACHE", &v)?;
    }
    Ok(())
}

/// Reads the observed namespace, the netns directories and the exporter's TLS files.
fn read_namespaces(c: &mut Config, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("NETOBSERV_NETNS") {
        c.netns = Some(PathBuf::from(v));
    }
    if let Some(v) = var("NETNS_DIRS") {
        c.netns_dirs = if v.trim() == "none" {
            Vec::new()
        } else {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect()
        };
    }
    if let Some(v) = var("TARGET_TLS_CA_CERT_PATH") {
        c.target_tls_ca_cert_path = v;
    }
    if let Some(v) = var("TARGET_TLS_USER_CERT_PATH") {
        c.target_tls_user_cert_path = v;
    }
    if let Some(v) = var("TARGET_TLS_USER_KEY_PATH") {
        c.target_tls_user_key_path = v;
    }
    Ok(())
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get`; an unset or empty variable takes its default,
    /// as with upstream's env library.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let mut c = Config::default();
        read_exporter(&mut c, &var)?;
        read_cache(&mut c, &var)?;
        read_interfaces(&mut c, &var)?;
        read_metrics(&mut c, &var)?;
        read_features(&mut c, &var)?;
        read_namespaces(&mut c, &var)?;
        netevents::read(&mut c.network_events, &var)?;
        udn::read(&mut c.udn, &var)?;
        capture::read(&mut c.capture, &var)?;
        match c.export.as_str() {
            "grpc" | "ipfix+udp" | "ipfix+tcp" => {
                if c.target_host.is_empty() {
                    return Err(ConfigError::Missing("TARGET_HOST", c.export));
                }
                if c.target_port == 0 {
                    return Err(ConfigError::Missing("TARGET_PORT", c.export));
                }
            }
            "direct-flp" => {
                if c.flp_config.trim().is_empty() {
                    return Err(ConfigError::Missing("FLP_CONFIG", c.export));
                }
            }
            // Read (and checked) with the exporter settings.
            "kafka" => {}
            other => {
                return Err(ConfigError::Unsupported {
                    name: "EXPORT",
                    value: other.to_string(),
                    reason: "the exporters are grpc, kafka, ipfix+udp, ipfix+tcp and direct-flp",
                });
            }
        }
        Ok(c)
    }

    /// Size of the `direct_flows` ring buffer, in bytes: `FLOWS_RINGBUF_BYTES` when set
    /// (rounded up to a power of two, 4 KiB to 1 GiB), else derived from `CACHE_MAX_FLOWS`: room
    /// for a quarter of the map's entries as ring records (104 bytes each with the ring's
    /// header), rounded up to a power of two, at least 256 KiB and at most 64 MiB. The default
    /// map of 100,000 flows gets 4 MiB: about 40,000 records, which user space (woken at each
    /// quarter filled, and polling every 100 ms) drains long before a burst fills it.
    pub fn ringbuf_bytes(&self) -> u32 {
        if let Some(b) = self.ringbuf_bytes_setting {
            return b.clamp(4 << 10, 1 << 30).next_power_of_two();
        }
        let want = u64::from(self.cache_max_flows) * RINGBUF_RECORD_BYTES / 4;
        want.clamp(256 << 10, 64 << 20).next_power_of_two() as u32
    }

    /// High-water mark of the flow map: when the entries created since the last eviction plus
    /// the flows waiting in the ring buffer's aggregate reach it, the agent evicts at once
    /// instead of waiting for `CACHE_ACTIVE_TIMEOUT` (75 % of `CACHE_MAX_FLOWS`).
    pub fn high_water_flows(&self) -> u64 {
        (u64::from(self.cache_max_flows) * 3 / 4).max(1)
    }

    /// Whether an interface is selected by `INTERFACES` and not excluded by
    /// `EXCLUDE_INTERFACES` (exclusion wins).
    pub fn interface_selected(&self, name: &str) -> bool {
        if self.exclude_interfaces.iter().any(|m| m.matches(name)) {
            return false;
        }
        self.interfaces.is_empty() || self.interfaces.iter().any(|m| m.matches(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn ring_buffer_size_follows_the_map_unless_set() {
        let mut c = Config {
            cache_max_flows: 100_000,
            ..Config::default()
        };
        assert_eq!(c.ringbuf_bytes(), 4 << 20);
        c.cache_max_flows = 1000;
        assert_eq!(c.ringbuf_bytes(), 256 << 10);
        c.cache_max_flows = u32::MAX;
        assert_eq!(c.ringbuf_bytes(), 64 << 20);
        let set = |v: &str| {
            Config::from_lookup(|k| match k {
                "TARGET_HOST" => Some("h".into()),
                "TARGET_PORT" => Some("1".into()),
                "FLOWS_RINGBUF_BYTES" => Some(v.into()),
                _ => None,
            })
        };
        assert_eq!(set("10000").unwrap().ringbuf_bytes(), 16 << 10);
        assert_eq!(set("1").unwrap().ringbuf_bytes(), 4 << 10);
        assert!(set("0").is_err());
        assert!(set("lots").is_err());
        assert_eq!(c.high_water_flows(), u64::from(u32::MAX) * 3 / 4);
    }

    #[test]
    fn defaults_follow_upstream() {
        let c = cfg(&[("TARGET_HOST", "127.0.0.1"), ("TARGET_PORT", "9999")]).unwrap();
        assert_eq!(c.cache_active_timeout, Duration::from_secs(5));
        assert_eq!(c.cache_max_flows, 5000);
        assert_eq!(c.sampling, 0);
        assert_eq!(c.grpc_message_max_flows, 10_000);
        assert_eq!(c.exporter_buffer_length, 50);
        assert_eq!(c.metrics_server_port, 9090);
        assert_eq!(c.metrics_prefix, "ebpf_agent_");
        assert_eq!(c.tc_attach_mode, AttachMode::Tcx);
        assert!(!c.interface_selected("lo"));
        assert!(c.interface_selected("eth0"));
        assert!(!c.enable_pkt_translation);
        assert_eq!(c.netns_dirs, vec![PathBuf::from("/var/run/netns")]);
    }

    #[test]
    fn packet_translation_and_netns_dirs() {
        let c = cfg(&[
            ("TARGET_HOST", "h"),
            ("TARGET_PORT", "1"),
            ("ENABLE_PKT_TRANSLATION", "true"),
            ("NETNS_DIRS", "/var/run/netns, /run/containerd/netns"),
        ])
        .unwrap();
        assert!(c.enable_pkt_translation);
        assert_eq!(
            c.netns_dirs,
            vec![
                PathBuf::from("/var/run/netns"),
                PathBuf::from("/run/containerd/netns")
            ]
        );
        let c = cfg(&[
            ("TARGET_HOST", "h"),
            ("TARGET_PORT", "1"),
            ("NETNS_DIRS", "none"),
        ])
        .unwrap();
        assert!(c.netns_dirs.is_empty());
    }

    #[test]
    fn direct_flp_needs_a_pipeline_config_and_no_target() {
        assert!(matches!(
            cfg(&[("EXPORT", "direct-flp")]),
            Err(ConfigError::Missing("FLP_CONFIG", _))
        ));
        let c = cfg(&[
            ("EXPORT", "direct-flp"),
            ("FLP_CONFIG", "{\"pipeline\":[]}"),
        ])
        .expect("valid");
        assert_eq!(
            (c.export.as_str(), c.flp_config.as_str()),
            ("direct-flp", "{\"pipeline\":[]}")
        );
    }

    #[test]
    fn grpc_and_ipfix_need_a_target() {
        assert!(matches!(
            cfg(&[]),
            Err(ConfigError::Missing("TARGET_HOST", _))
        ));
        assert!(matches!(
            cfg(&[("TARGET_HOST", "h")]),
            Err(ConfigError::Missing("TARGET_PORT", _))
        ));
        assert!(matches!(
            cfg(&[("EXPORT", "ipfix+tcp"), ("TARGET_HOST", "h")]),
            Err(ConfigError::Missing("TARGET_PORT", _))
        ));
        let c = cfg(&[
            ("EXPORT", "ipfix+udp"),
            ("TARGET_HOST", "h"),
            ("TARGET_PORT", "4739"),
        ])
        .expect("ipfix over udp");
        assert_eq!((c.export.as_str(), c.target_port), ("ipfix+udp", 4739));
        assert!(matches!(
            cfg(&[
                ("EXPORT", "ipfix+sctp"),
                ("TARGET_HOST", "h"),
                ("TARGET_PORT", "1")
            ]),
            Err(ConfigError::Unsupported { name: "EXPORT", .. })
        ));
        assert!(matches!(
            cfg(&[("EXPORT", "kafka")]),
            Err(ConfigError::Missing("KAFKA_BROKERS", _))
        ));
        let c = cfg(&[("EXPORT", "kafka"), ("KAFKA_BROKERS", "k:9092")]).expect("kafka");
        assert_eq!(c.kafka.expect("kafka settings").topic, "network-flows");
    }

    #[test]
    fn interface_lists_and_regexes() {
        let c = cfg(&[
            ("TARGET_HOST", "h"),
            ("TARGET_PORT", "1"),
            ("INTERFACES", "/^veth/,eth0"),
            ("EXCLUDE_INTERFACES", "/skip$/"),
            ("CACHE_ACTIVE_TIMEOUT", "1m30s"),
            ("SAMPLING", "50"),
        ])
        .unwrap();
        assert!(c.interface_selected("veth12"));
        assert!(c.interface_selected("eth0"));
        assert!(!c.interface_selected("eth1"));
        assert!(!c.interface_selected("veth-skip"));
        assert_eq!(c.cache_active_timeout, Duration::from_secs(90));
        assert_eq!(c.sampling, 50);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("x"), None);
    }

    #[test]
    fn invalid_values_are_reported() {
        let e = cfg(&[
            ("TARGET_HOST", "h"),
            ("TARGET_PORT", "1"),
            ("SAMPLING", "abc"),
        ]);
        assert!(matches!(
            e,
            Err(ConfigError::Invalid {
                name: "SAMPLING",
                ..
            })
        ));
        let e = cfg(&[
            ("TARGET_HOST", "h"),
            ("TARGET_PORT", "1"),
            ("INTERFACES", "/(/"),
        ]);
        assert!(matches!(
            e,
            Err(ConfigError::Invalid {
                name: "INTERFACES",
                ..
            })
        ));
    }
}
