//! `netobserv-ebpf-agent`: the node agent binary. Configuration comes from the upstream
//! environment variables; SIGTERM or SIGINT detaches every hook before exiting.

use netobserv_agent::{Agent, Config};
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};

fn init_logs(level: &str) {
    let level = match level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "warn" | "warning" => "warn",
        "error" | "fatal" | "panic" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

async fn run() -> Result<(), String> {
    let cfg = Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    init_logs(&cfg.log_level);
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let agent = Agent::start(cfg).await.map_err(|e| e.to_string())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    agent.shutdown().await.map_err(|e| e.to_string())
}

/// `--version` and `--help`: the agent is configured by environment variables only, but an image
/// check or a person still needs these two answers.
fn answer_flags() -> Option<ExitCode> {
    let arg = std::env::args().nth(1)?;
    match arg.as_str() {
        "--version" | "-V" => println!("netobserv-ebpf-agent {}", env!("CARGO_PKG_VERSION")),
        "--help" | "-h" => println!(
            "netobserv-ebpf-agent {}: eBPF network flow agent.\n\
             Configured by environment variables (upstream NetObserv names): EXPORT, TARGET_HOST, \
             TARGET_PORT, SAMPLING, CACHE_ACTIVE_TIMEOUT, CACHE_MAX_FLOWS, INTERFACES, \
             EXCLUDE_INTERFACES, ENABLE_* feature switches, LOG_LEVEL, ...",
            env!("CARGO_PKG_VERSION")
        ),
        other => {
            eprintln!(
                "netobserv-ebpf-agent: unknown argument {other} (configuration comes from the environment)"
            );
            return Some(ExitCode::from(2));
        }
    }
    Some(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    if let Some(code) = answer_flags() {
        return code;
    }
    // Few malloc arenas: eviction batches are built on short-lived blocking threads, and one
    // arena per thread would keep their freed pages resident.
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    // A fixed 1 MiB mmap threshold: the per-eviction buffers (flow drain, enrichment table,
    // record chunks: several MiB each at 50,000 flows/s) get their own mappings, returned to
    // the kernel as soon as they are freed. With glibc's default dynamic threshold, the first
    // such free raises the threshold so later ones come from the arenas, where they fragment
    // and stay resident until the next trim.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("netobserv-ebpf-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netobserv-ebpf-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
