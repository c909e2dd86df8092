//! The collector's options (`kubectl-netobserv collector`, what the collector pod runs).

use super::values;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// What a collector receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// pbflow records.
    Flows,
    /// pbpacket packets.
    Packets,
}

/// The collector's options (`kubectl-netobserv collector`, the command the collector pod runs).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct CollectorArgs {
    /// What to receive.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// gRPC port the agents send to.
    #[arg(long, default_value = "9999")]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub address: String,
    /// Directory of the output files (`flow/`, `pcap/` below it).
    #[arg(long, default_value = "output")]
    pub output: PathBuf,
    /// Stop after this long.
    #[arg(long = "max-time", default_value = "5m", value_parser = values::duration)]
    pub max_time: Duration,
    /// Stop after writing this many bytes.
    #[arg(long = "max-bytes", default_value = "50000000", value_parser = values::bytes)]
    pub max_bytes: u64,
    /// Keep only the flows matching this pipeline query.
    #[arg(long)]
    pub query: Option<String>,
    /// Enrich with Kubernetes names from the API server (in the cluster).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub kubernetes: bool,
    /// Show the flows (or packets) in a terminal table while collecting.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub tui: bool,
    /// Also print each flow (or packet) on standard output, one `LIVE <JSON record>` line
    /// each: a foreground `flows` / `packets` run reads them from the pod's log into its table.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub live: bool,
    /// Snap length of the agents, written in the pcapng interface descriptions.
    #[arg(long, default_value = "256")]
    pub snaplen: u32,
    /// Log level.
    #[arg(long = "log-level", default_value = "info")]
    pub log_level: String,
    /// Stay up after the capture ends (until the pod is deleted), so `copy` can still fetch
    /// the files from the pod: a finished container cannot be exec'd into.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub linger: bool,
    /// A subnet label for both ends of each flow, `NAME=CIDR[,CIDR...]` (repeatable; written
    /// in `SrcSubnetLabel` / `DstSubnetLabel`).
    #[arg(long = "subnet-label", value_name = "NAME=CIDRS", value_parser = crate::subnets::SubnetLabel::parse)]
    pub subnet_labels: Vec<crate::subnets::SubnetLabel>,
}
