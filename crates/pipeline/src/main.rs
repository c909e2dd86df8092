//! `netobserv-pipeline`: runs a flowlogs-pipeline configuration, started with upstream's flags
//! (`--config=FILE` or `--config FILE`, `--log-level`, `--health.port`, `--metricsSettings`, ...;
//! `--help` lists them all).
//!
//! Ingest: `grpc` (the agents' `pbflow.Collector/Send`), `stdin` and `file` (JSON lines),
//! `synthetic`. Everything after the ingest is whatever the library runtime builds
//! ([`netobserv_pipeline::runtime`]); a configuration using a stage this pipeline does not run
//! is refused at start with the stage and type named, rather than run half-way.

use clap::Parser;
use netobserv_pipeline::cli::Args;
use netobserv_pipeline::service;
use netobserv_pipeline::settings::log_filter;
use std::io::IsTerminal;
use std::process::ExitCode;

/// mimalloc: records are built on the gRPC threads and freed on the worker threads, a pattern
/// glibc's allocator handles poorly (it was a quarter of the pipeline's CPU time in profiles).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match args.load_config() {
        Ok(c) => c,
        Err(err) => {
            eprintln!("netobserv-pipeline: {err}");
            return ExitCode::FAILURE;
        }
    };
    let (level, note) = log_filter(config.log_level.as_deref());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    if let Some(note) = note {
        tracing::warn!("{note}");
    }
    if args.profile_port.is_some_and(|p| p != 0) || args.pprof_addr.is_some() {
        tracing::warn!("profiling flags are accepted for compatibility and ignored (see README)");
    }
    match service::run(&args, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}
