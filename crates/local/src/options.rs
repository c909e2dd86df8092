//! Command-line options of local mode, named as in the FlowCollector (`spec.agent.ebpf.*`,
//! `spec.processor.*`) and the CLI (`--interfaces`, `--sampling`, `--enable-*`), and their
//! translation into the agent's configuration (the upstream environment variables, so that the
//! agent validates them exactly as it does in a cluster).

use clap::Parser;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Observe this machine's network: eBPF agent, flow pipeline, flow store and web console in one
/// process, no cluster needed. Root is required (eBPF).
#[derive(Parser, Debug, Clone)]
#[command(name = "netobserv-local", version, next_line_help = false)]
pub struct Options {
    /// Interfaces to watch (comma-separated names or /regex/); empty: every interface not
    /// excluded.
    #[arg(long, value_delimiter = ',', help_heading = "What to watch")]
    pub interfaces: Vec<String>,
    /// Interfaces never watched (comma-separated names or /regex/). Pass `--exclude-interfaces=`
    /// to watch loopback too.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lo",
        help_heading = "What to watch"
    )]
    pub exclude_interfaces: Vec<String>,
    /// Observe inside this network namespace (a path such as /run/netns/NAME) instead of the
    /// host's.
    #[arg(long, help_heading = "What to watch")]
    pub netns: Option<PathBuf>,
    /// Also watch the interfaces of the network namespaces found in these directories (e.g.
    /// /var/run/netns); default: this namespace only.
    #[arg(long, value_delimiter = ',', help_heading = "What to watch")]
    pub netns_dirs: Vec<PathBuf>,
    /// Sampling: one packet in N is counted (1 = every packet, as local mode's default).
    #[arg(long, default_value_t = 1, help_heading = "What to watch")]
    pub sampling: u32,
    /// Keep only the flows matching this query (the pipeline's `keep_entry_query`, as the CLI's
    /// --query and FlowCollector spec.processor.filters[].query), e.g.
    /// 'Proto = 6 and DstPort = 443' or 'SrcAddr = "10.0.0.1" or DstAddr = "10.0.0.1"'.
    #[arg(long, help_heading = "What to watch")]
    pub query: Option<String>,
    /// Flow filter rules, the agent's FLOW_FILTER_RULES JSON (FlowCollector
    /// spec.agent.ebpf.flowFilter.rules), e.g. '[{"action":"Accept","cidr":"0.0.0.0/0","protocol":"TCP"}]'.
    #[arg(long, help_heading = "What to watch")]
    pub flow_filter_rules: Option<String>,

    /// Agent features (FlowCollector spec.agent.ebpf.features, comma-separated): PacketDrop,
    /// DNSTracking, FlowRTT, PacketTranslation, NetworkEvents (CLI names drops, dns, rtt,
    /// translation, network-events also accepted).
    #[arg(long, value_delimiter = ',', help_heading = "Features")]
    pub features: Vec<String>,
    /// How long a flow is aggregated in the kernel before it is exported (cacheActiveTimeout).
    #[arg(long, default_value = "5s", value_parser = parse_duration, help_heading = "Features")]
    pub cache_active_timeout: Duration,
    /// Flows the kernel map holds between two exports (cacheMaxFlows).
    #[arg(long, default_value_t = 100_000, help_heading = "Features")]
    pub cache_max_flows: u32,

    /// The flow store file (SQLite), created when missing.
    #[arg(
        long,
        default_value = "/var/tmp/netobserv-local/flows.db",
        help_heading = "Store and console"
    )]
    pub store: PathBuf,
    /// Flows older than this are deleted from the store.
    #[arg(long, default_value = "24h", help_heading = "Store and console")]
    pub retention: String,
    /// The store is trimmed to at most this many bytes (0: no size limit).
    #[arg(long, default_value_t = 1 << 30, help_heading = "Store and console")]
    pub store_max_bytes: u64,
    /// Kubernetes metadata for the addresses seen (`SrcK8S_*`, `DstK8S_*`) from this kubeconfig's
    /// cluster. Default: $KUBECONFIG or ~/.kube/config when present and the cluster answers.
    #[arg(long, help_heading = "Store and console")]
    pub kubeconfig: Option<PathBuf>,
    /// Never ask a cluster for Kubernetes metadata, even when a kubeconfig is present.
    #[arg(
        long,
        conflicts_with = "kubeconfig",
        help_heading = "Store and console"
    )]
    pub no_kubernetes: bool,
    /// Where the web console listens.
    #[arg(
        long,
        default_value = "127.0.0.1:9001",
        help_heading = "Store and console"
    )]
    pub console_address: SocketAddr,
    /// Where the pipeline's Prometheus metrics (netobserv_*) are served.
    #[arg(
        long,
        default_value = "127.0.0.1:9102",
        help_heading = "Store and console"
    )]
    pub metrics_address: SocketAddr,

    /// Say which interfaces are watched when no flow has been seen for this long.
    #[arg(long, default_value = "20s", value_parser = parse_duration, help_heading = "Output")]
    pub quiet_hint_after: Duration,
    /// Print a summary line every this often (plain output).
    #[arg(long, default_value = "10s", value_parser = parse_duration, help_heading = "Output")]
    pub summary_every: Duration,
    /// Stop by itself after this long (default: run until Ctrl-C).
    #[arg(long, value_parser = parse_duration, help_heading = "Output")]
    pub duration: Option<Duration>,
    /// Print plain lines even when stdout is a terminal (no live view). The live view writes its
    /// logs to netobserv-local.log beside the store.
    #[arg(long, help_heading = "Output")]
    pub plain: bool,
    /// Log level: trace, debug, info, warn, error.
    #[arg(long, default_value = "info", help_heading = "Output")]
    pub log_level: String,
}

/// A duration written as in the FlowCollector (`500ms`, `5s`, `1m`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    netobserv_agent::config::parse_go_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration (e.g. 500ms, 5s, 1m)"))
}

/// Why the options cannot run.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// A feature name neither the FlowCollector nor the CLI knows.
    #[error(
        "--features: unknown feature `{0}` (known: PacketDrop, DNSTracking, FlowRTT, PacketTranslation, NetworkEvents)"
    )]
    UnknownFeature(String),
    /// The agent refused the translated configuration.
    #[error("{0}")]
    Agent(#[from] netobserv_agent::config::ConfigError),
}

/// The agent variable a feature name turns on.
fn feature_variable(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
        "packetdrop" | "drops" | "pktdrop" => Some("ENABLE_PKT_DROPS"),
        "dnstracking" | "dns" => Some("ENABLE_DNS_TRACKING"),
        "flowrtt" | "rtt" => Some("ENABLE_RTT"),
        "packettranslation" | "translation" | "xlat" => Some("ENABLE_PKT_TRANSLATION"),
        "networkevents" | "netevents" => Some("ENABLE_NETWORK_EVENTS_MONITORING"),
        _ => None,
    }
}

impl Options {
    /// The kubeconfig to try: `--kubeconfig`, else the first of $KUBECONFIG, else ~/.kube/config,
    /// when the file exists (none with `--no-kubernetes`). `env` reads the environment.
    pub fn kubeconfig_candidate(&self, env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
        if let Some(p) = &self.kubeconfig {
            return Some(p.clone());
        }
        if self.no_kubernetes {
            return None;
        }
        let from_env =
            env("KUBECONFIG").and_then(|v| v.split(':').find(|p| !p.is_empty()).map(PathBuf::from));
        let home = env("HOME").map(|h| PathBuf::from(h).join(".kube/config"));
        from_env.or(home).filter(|p| p.is_file())
    }

    /// Where the logs go while the live view has the terminal.
    pub fn log_file(&self) -> PathBuf {
        self.store.with_file_name("netobserv-local.log")
    }

    /// The agent's variables for these options, with `flp_config` as the in-process pipeline.
    pub fn agent_variables(
        &self,
        flp_config: String,
    ) -> Result<HashMap<String, String>, OptionsError> {
        let mut v: HashMap<String, String> = HashMap::new();
        let mut set = |k: &str, val: String| {
            v.insert(k.to_string(), val);
        };
        set("EXPORT", "direct-flp".into());
        set("FLP_CONFIG", flp_config);
        set("INTERFACES", self.interfaces.join(","));
        // An empty exclusion list must stay empty (the agent would put its default `lo` back
        // for an empty variable): a regex matching nothing stands for it.
        let exclude = self
            .exclude_interfaces
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>();
        set(
            "EXCLUDE_INTERFACES",
            if exclude.is_empty() {
                "/^$/".into()
            } else {
                exclude.join(",")
            },
        );
        set("SAMPLING", self.sampling.to_string());
        set(
            "CACHE_ACTIVE_TIMEOUT",
            format!("{}ms", self.cache_active_timeout.as_millis().max(1)),
        );
        set("CACHE_MAX_FLOWS", self.cache_max_flows.to_string());
        set("LOG_LEVEL", self.log_level.clone());
        set("METRICS_ENABLE", "false".into());
        if let Some(ns) = &self.netns {
            set("NETOBSERV_NETNS", ns.display().to_string());
        }
        let dirs: Vec<String> = self
            .netns_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        set(
            "NETNS_DIRS",
            if dirs.is_empty() {
                "none".into()
            } else {
                dirs.join(",")
            },
        );
        if let Some(rules) = &self.flow_filter_rules {
            set("FLOW_FILTER_RULES", rules.clone());
        }
        for f in self.features.iter().filter(|f| !f.is_empty()) {
            let var = feature_variable(f).ok_or_else(|| OptionsError::UnknownFeature(f.clone()))?;
            set(var, "true".into());
        }
        Ok(v)
    }

    /// The agent's configuration for these options.
    pub fn agent_config(
        &self,
        flp_config: String,
    ) -> Result<netobserv_agent::Config, OptionsError> {
        let vars = self.agent_variables(flp_config)?;
        Ok(netobserv_agent::Config::from_lookup(|k| {
            vars.get(k).cloned()
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        let mut all = vec!["netobserv-local"];
        all.extend_from_slice(args);
        Options::try_parse_from(all).expect("options parse")
    }

    #[test]
    fn features_take_flowcollector_and_cli_names() {
        let o = parse(&["--features", "PacketDrop,dns,FlowRTT,translation"]);
        let cfg = o.agent_config("pipeline: []".into()).expect("config");
        assert!(cfg.enable_pkt_drops && cfg.enable_dns_tracking && cfg.enable_rtt);
        assert!(cfg.enable_pkt_translation);
        assert!(!cfg.network_events.enable);
        let bad = parse(&["--features", "Sparkles"]).agent_config(String::new());
        assert!(matches!(bad, Err(OptionsError::UnknownFeature(f)) if f == "Sparkles"));
    }

    #[test]
    fn the_kubeconfig_is_asked_for_found_or_refused() {
        let dir = std::env::temp_dir().join(format!("nobs-kubeconfig-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".kube")).expect("dir");
        std::fs::write(dir.join(".kube/config"), "x").expect("file");
        let home = dir.display().to_string();
        let env = |k: &str| (k == "HOME").then(|| home.clone());
        assert_eq!(
            parse(&[]).kubeconfig_candidate(env),
            Some(dir.join(".kube/config"))
        );
        assert_eq!(parse(&["--no-kubernetes"]).kubeconfig_candidate(env), None);
        assert_eq!(
            parse(&["--kubeconfig", "/k"]).kubeconfig_candidate(env),
            Some(PathBuf::from("/k"))
        );
        // $KUBECONFIG first; a missing file is no candidate.
        let missing = |k: &str| match k {
            "KUBECONFIG" => Some("/nonexistent/config:/other".to_string()),
            _ => None,
        };
        assert_eq!(parse(&[]).kubeconfig_candidate(missing), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn defaults_exclude_loopback_and_stay_in_this_namespace() {
        let cfg = parse(&[]).agent_config("x".into()).expect("config");
        assert!(!cfg.interface_selected("lo"));
        assert!(cfg.interface_selected("eth0"));
        assert!(cfg.netns_dirs.is_empty(), "{:?}", cfg.netns_dirs);
        assert_eq!(cfg.sampling, 1);
        assert_eq!(cfg.export, "direct-flp");
        assert_eq!(cfg.cache_active_timeout, Duration::from_secs(5));
        assert_eq!(cfg.cache_max_flows, 100_000, "the FlowCollector's default");
    }

    #[test]
    fn an_empty_exclusion_watches_loopback() {
        let cfg = parse(&["--exclude-interfaces="])
            .agent_config("x".into())
            .expect("config");
        assert!(cfg.interface_selected("lo"));
        let cfg = parse(&["--interfaces", "eth0,/^veth/", "--sampling", "50"])
            .agent_config("x".into())
            .expect("config");
        assert!(cfg.interface_selected("veth12") && !cfg.interface_selected("wlan0"));
        assert_eq!(cfg.sampling, 50);
    }
}
