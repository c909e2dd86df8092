//! `netobserv-local`: observe this machine (see the crate documentation and `--help`).

use clap::Parser;
use netobserv_local::options::Options;
use std::process::ExitCode;

fn main() -> ExitCode {
    let opts = Options::parse();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "netobserv-local: loading eBPF programs needs root; run `sudo make run` (or `sudo {}`)",
            std::env::args()
                .next()
                .unwrap_or_else(|| "netobserv-local".into())
        );
        return ExitCode::from(1);
    }
    netobserv_logging::init(Some(&opts.log_level), netobserv_logging::Format::Text);
    // As the agent binary: few malloc arenas and a fixed mmap threshold, so the per-eviction
    // buffers go back to the kernel when freed instead of staying resident.
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
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
            eprintln!("netobserv-local: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(netobserv_local::run::run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netobserv-local: {e}");
            ExitCode::FAILURE
        }
    }
}
