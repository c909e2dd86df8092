//! `netobserv-local`: observe this machine (see the crate documentation and `--help`).

use clap::Parser;
use netobserv_local::options::Options;
use std::io::IsTerminal;
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
    // The live view owns the terminal: log lines go to a file beside the store instead.
    let mut live = !opts.plain && std::io::stdout().is_terminal();
    if live {
        let file = opts.log_file();
        let opened = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| netobserv_logging::init_to_file(Some(&opts.log_level), &file));
        if let Err(e) = opened {
            eprintln!(
                "netobserv-local: cannot write logs to {} ({e}): printing plain lines",
                file.display()
            );
            live = false;
        }
    }
    if !live {
        netobserv_logging::init(Some(&opts.log_level), netobserv_logging::Format::Text);
    }
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
    match rt.block_on(netobserv_local::run::run(opts, live)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netobserv-local: {e}");
            ExitCode::FAILURE
        }
    }
}
