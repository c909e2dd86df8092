//! The command line: upstream's command tree (`flows | packets | metrics | follow | stop | copy |
//! cleanup | version | help`) and options, parsed by clap, plus the bare word `or` that starts a
//! new eBPF filter rule. [`parse`] is the only entry point: it splits the arguments at each `or`,
//! parses the first part as a whole command line and each further part as filter options only,
//! and checks every rule, so every error names the option (and the rule) at fault.

pub mod collector;
pub mod filter;
pub mod values;

use clap::{Args, Parser, Subcommand};
pub use filter::{FilterArgs, MAX_RULES, RuleError};
use std::ffi::OsString;
use std::time::Duration;

/// Namespace the CLI deploys into unless `NETOBSERV_NAMESPACE` says otherwise.
pub const DEFAULT_NAMESPACE: &str = "netobserv-cli";

/// `kubectl netobserv` / `oc netobserv`.
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-netobserv",
    bin_name = "kubectl netobserv",
    version,
    about = "On-demand network flows, packets and metrics from a Kubernetes cluster",
    long_about = "On-demand network flows, packets and metrics from a Kubernetes cluster.\n\n\
        Deploys the eBPF agent and a collector into a namespace of their own, shows what they \
        capture, writes it under ./output, and removes everything on exit.",
    after_help = "Examples:\n  \
        kubectl netobserv flows --enable_dns --protocol=TCP --port=443\n  \
        kubectl netobserv packets --protocol=TCP --port=80 or --protocol=UDP --port=53\n  \
        kubectl netobserv flows --background --max-time=10m && kubectl netobserv copy",
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Capture flows (enriched with Kubernetes names) into JSON and SQLite files.
    Flows(FlowsArgs),
    /// Capture packets into a pcapng file with Kubernetes names as packet comments.
    Packets(PacketsArgs),
    /// Capture on-demand metrics (Prometheus format on each agent).
    Metrics(MetricsArgs),
    /// Follow the collector's output of a background capture.
    Follow(NamespaceArgs),
    /// Stop a background capture's agents (the collector stays for `copy`).
    Stop(NamespaceArgs),
    /// Copy the collector's output files into ./output.
    Copy(CopyArgs),
    /// Remove everything the CLI deployed, including leftovers of a crashed run.
    Cleanup(NamespaceArgs),
    /// Print the version.
    Version,
    /// The collector (runs in the cluster; also runnable locally).
    #[command(hide = true)]
    Collector(collector::CollectorArgs),
    /// Writes a directory as a tar stream on stdout (what `copy` runs in the collector pod).
    #[command(hide = true, name = "export-output")]
    ExportOutput(ExportArgs),
}

/// `export-output`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ExportArgs {
    /// Directory to pack.
    #[arg(long, default_value = "output")]
    pub dir: std::path::PathBuf,
}

/// The namespace option of the commands that find an earlier deployment.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct NamespaceArgs {
    /// Namespace of the capture.
    #[arg(long, env = "NETOBSERV_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
}

/// `copy`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct CopyArgs {
    /// Namespace of the capture.
    #[command(flatten)]
    pub ns: NamespaceArgs,
    /// Local directory the files go to.
    #[arg(long, default_value = "output")]
    pub output: std::path::PathBuf,
}

/// Agent features (flows and metrics).
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = "Features")]
pub struct Features {
    /// Every feature below.
    #[arg(long = "enable_all", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub all: bool,
    /// DNS tracking (DnsId, DnsLatencyMs, DnsFlagsResponseCode, DnsName).
    #[arg(long = "enable_dns", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub dns: bool,
    /// IPsec tracking (passed to the agent as ENABLE_IPSEC_TRACKING).
    #[arg(long = "enable_ipsec", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub ipsec: bool,
    /// Network events (OVN policy verdicts).
    #[arg(long = "enable_network_events", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub network_events: bool,
    /// Packet translation (NAT, service to pod).
    #[arg(long = "enable_pkt_translation", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub pkt_translation: bool,
    /// Packet drops with their kernel cause.
    #[arg(long = "enable_pkt_drop", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub pkt_drop: bool,
    /// TCP round-trip time.
    #[arg(long = "enable_rtt", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub rtt: bool,
    /// User-defined network mapping (passed to the agent as ENABLE_UDN_MAPPING).
    #[arg(long = "enable_udn_mapping", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub udn_mapping: bool,
    /// Keep one packet in N.
    #[arg(long, default_value = "1", value_parser = values::sampling)]
    pub sampling: u32,
    /// Label flow ends Pods, Services or Machines from the cluster's own network configuration
    /// (OpenShift `Network` and install-config).
    #[arg(long = "get-subnets", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub get_subnets: bool,
}

/// Where and how the agents run (all capture commands).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(next_help_heading = "Agents")]
pub struct AgentArgs {
    /// Run the agents privileged instead of with BPF, PERFMON and NET_ADMIN.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub privileged: bool,
    /// Interfaces to watch (comma-separated; default: all).
    #[arg(long, value_name = "NAMES", value_parser = values::interface_list)]
    pub interfaces: Option<values::NameList>,
    /// Interfaces to leave out (comma-separated).
    #[arg(long = "exclude_interfaces", value_name = "NAMES", default_value = "lo", value_parser = values::interface_list)]
    pub exclude_interfaces: values::NameList,
    /// Only on the nodes with this label (`key:value`).
    #[arg(long = "node-selector", value_name = "KEY:VALUE", value_parser = values::node_selector)]
    pub node_selector: Option<values::Label>,
    /// Only on this node (adds a kubernetes.io/hostname node selector).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Only this pod's traffic: its node, and its address as --cidr in every rule (looked up
    /// in the cluster, also for --yaml).
    #[arg(long, value_name = "NAMESPACE/NAME")]
    pub pod: Option<String>,
    /// Log level of the agents and the collector.
    #[arg(long = "log-level", default_value = "info", value_parser = ["trace", "debug", "info", "warn", "error"])]
    pub log_level: String,
    /// Namespace to deploy into.
    #[arg(long, env = "NETOBSERV_NAMESPACE", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
}

/// How a capture runs (flows and packets).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(next_help_heading = "Run")]
pub struct RunArgs {
    /// Run in the cluster without a terminal; `follow`, `copy` and `cleanup` later.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub background: bool,
    /// Copy the output files home at the end.
    #[arg(long, default_value = "prompt", value_parser = ["true", "false", "prompt"])]
    pub copy: String,
    /// Stop after this long.
    #[arg(long = "max-time", default_value = "5m", value_parser = values::duration)]
    pub max_time: Duration,
    /// Stop after writing this many bytes.
    #[arg(long = "max-bytes", default_value = "50000000", value_parser = values::bytes)]
    pub max_bytes: u64,
    /// Print the manifests instead of deploying them.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub yaml: bool,
    /// Keep only the flows matching this pipeline query (e.g. `SrcK8S_Namespace="app"`).
    #[arg(long)]
    pub query: Option<String>,
}

/// `flows`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct FlowsArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub features: Features,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub agent: AgentArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub run: RunArgs,
    /// The first filter rule (the others come after each `or`).
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `packets`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct PacketsArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub agent: AgentArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub run: RunArgs,
    /// Bytes copied of each packet.
    #[arg(long, default_value = "256", value_parser = clap::value_parser!(u32).range(64..=65535), help_heading = "Run")]
    pub snaplen: u32,
    /// The first filter rule (the others come after each `or`).
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `metrics`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct MetricsArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub features: Features,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub agent: AgentArgs,
    /// Stop after this long.
    #[arg(long = "max-time", default_value = "1h", value_parser = values::duration, help_heading = "Run")]
    pub max_time: Duration,
    /// Run in the cluster without a terminal.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL", help_heading = "Run")]
    pub background: bool,
    /// Print the manifests instead of deploying them.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL", help_heading = "Run")]
    pub yaml: bool,
    /// Metrics to produce.
    #[arg(
        long = "include_list",
        value_delimiter = ',',
        help_heading = "Run",
        default_value = "namespace_flows_total,node_ingress_bytes_total,node_egress_bytes_total,workload_ingress_bytes_total"
    )]
    pub include_list: Vec<String>,
    /// The first filter rule (the others come after each `or`).
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Filter options alone: what may follow an `or`.
#[derive(Parser, Debug)]
#[command(name = "or", no_binary_name = true, disable_version_flag = true)]
struct RuleOnly {
    #[command(flatten)]
    filter: FilterArgs,
}

/// A command line that cannot be run, with a message naming the option at fault.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// clap refused it (or it asked for help / version: `is_info` tells).
    #[error("{0}")]
    Clap(#[from] clap::Error),
    /// clap refused a part after an `or`.
    #[error("in filter rule {rule} (after `or` number {after}): {message}")]
    Rule {
        /// 1-based rule number.
        rule: usize,
        /// How many `or` came before.
        after: usize,
        /// clap's message.
        message: String,
    },
    /// A rule's options contradict each other.
    #[error(transparent)]
    Contradiction(#[from] RuleError),
    /// `or` used badly.
    #[error("{0}")]
    Or(String),
    /// `packets` without any filter.
    #[error(
        "packets needs at least one eBPF filter, e.g. --protocol=TCP --port=80 (capturing every packet of every node is refused)"
    )]
    PacketsWithoutFilter,
    /// Too many rules.
    #[error("{0} filter rules given; the agent holds at most {MAX_RULES}")]
    TooManyRules(usize),
}

impl ParseError {
    /// Whether this is a help or version request rather than an error.
    pub fn is_info(&self) -> bool {
        matches!(self, Self::Clap(e) if matches!(e.kind(),
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand))
    }
}

/// A parsed command line: the command and, for capture commands, every filter rule in order.
#[derive(Debug)]
pub struct Invocation {
    /// The command (its `filter` field holds the first rule).
    pub command: Command,
    /// Every rule, first one included; empty when no filter option was given.
    pub rules: Vec<FilterArgs>,
}

/// Parses a command line (`args[0]` is the program name).
pub fn parse<I, T>(args: I) -> Result<Invocation, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut parts: Vec<Vec<OsString>> = vec![Vec::new()];
    for a in args {
        if a == "or" && parts.iter().map(Vec::len).sum::<usize>() > 1 {
            parts.push(Vec::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(a);
        }
    }
    let mut parts = parts.into_iter();
    let first = parts.next().unwrap_or_default();
    let cli = Cli::try_parse_from(first)?;
    let (first_rule, is_packets, takes_rules) = match &cli.command {
        Command::Flows(a) => (a.filter.clone(), false, true),
        // `--pod` makes the pod's address the filter.
        Command::Packets(a) => (a.filter.clone(), a.agent.pod.is_none(), true),
        Command::Metrics(a) => (a.filter.clone(), false, true),
        _ => (FilterArgs::default(), false, false),
    };
    let rest: Vec<Vec<OsString>> = parts.collect();
    if !takes_rules && !rest.is_empty() {
        return Err(ParseError::Or(
            "`or` separates filter rules of flows, packets and metrics; this command takes none"
                .into(),
        ));
    }
    let mut rules = vec![first_rule];
    for (i, part) in rest.into_iter().enumerate() {
        let rule = i + 2;
        if part.is_empty() {
            return Err(ParseError::Or(format!(
                "filter rule {rule} is empty: put filter options after each `or`"
            )));
        }
        let parsed = RuleOnly::try_parse_from(part).map_err(|e| ParseError::Rule {
            rule,
            after: i + 1,
            message: first_line(&e.render().to_string()),
        })?;
        rules.push(parsed.filter);
    }
    if rules.len() > 1 && rules[0].is_empty() {
        return Err(ParseError::Or(
            "filter rule 1 is empty: put filter options before the first `or`".into(),
        ));
    }
    if rules.len() == 1 && rules[0].is_empty() {
        rules.clear();
    }
    if rules.len() > MAX_RULES {
        return Err(ParseError::TooManyRules(rules.len()));
    }
    for (i, r) in rules.iter().enumerate() {
        r.check(i + 1)?;
    }
    if is_packets && rules.is_empty() {
        return Err(ParseError::PacketsWithoutFilter);
    }
    Ok(Invocation {
        command: cli.command,
        rules,
    })
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_string()
}
