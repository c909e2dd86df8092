//! One local-mode run: start the agent with its in-process pipeline, then the console; print
//! what is seen; on the first Ctrl-C (or SIGTERM, or `--duration`) detach every hook and flush
//! the store; a second Ctrl-C exits at once.

use crate::console::{Console, ConsoleError};
use crate::flp::{self, PipelineTargets};
use crate::live::LiveState;
use crate::live::terminal::Ended;
use crate::options::{Options, OptionsError};
use crate::watch::{Say, Watch};
use netobserv_agent::Agent;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};

/// Where the host names its ports.
const SERVICES: &str = "/etc/services";

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad options.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The agent (eBPF load, attach, in-process pipeline) failed.
    #[error("agent: {0}")]
    Agent(#[from] netobserv_agent::AgentError),
    /// The console failed.
    #[error(transparent)]
    Console(#[from] ConsoleError),
    /// `--kubeconfig`'s cluster cannot enrich flows.
    #[error("--kubeconfig {0}")]
    Kubernetes(String),
    /// Files and signals.
    #[error("{what}: {source}")]
    Io {
        /// Operation.
        what: String,
        /// Cause.
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// Why the run stops.
enum Stop {
    Interrupt,
    Terminate,
    Duration,
}

/// Runs until interrupted (or `--duration`), then stops cleanly; `live` shows the live view
/// (the caller checked that stdout is a terminal and sent the logs elsewhere).
pub async fn run(opts: Options, live: bool) -> Result<(), RunError> {
    if let Some(dir) = opts.store.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let kubeconfig = kubernetes(&opts).await?;
    let host_addresses = crate::host_addrs::host_addresses(opts.netns.as_deref())
        .map_err(io("reading the observed namespace's addresses"))?;
    let flp_config = flp::config(&PipelineTargets {
        store: &opts.store,
        retention: &opts.retention,
        max_bytes: opts.store_max_bytes,
        metrics: opts.metrics_address,
        netns: opts.netns.as_deref(),
        query: opts.query.as_deref(),
        services: Some(std::path::Path::new(SERVICES)).filter(|p| p.exists()),
        kubeconfig: kubeconfig.as_deref(),
        host_addresses: &host_addresses,
    });
    let cfg = opts.agent_config(flp_config)?;
    let mut int = signal(SignalKind::interrupt()).map_err(io("SIGINT handler"))?;
    let mut term = signal(SignalKind::terminate()).map_err(io("SIGTERM handler"))?;
    let agent = Agent::start(cfg).await?;
    let console = match Console::start(opts.console_address, &opts.store).await {
        Ok(c) => c,
        Err(e) => {
            // Nothing may stay attached when the console cannot start.
            let _ = agent.shutdown().await;
            return Err(e.into());
        }
    };
    println!("console at http://{}", console.addr);
    println!(
        "metrics at http://{}/metrics; flow store {}",
        opts.metrics_address,
        opts.store.display()
    );
    if !console.has_ui {
        println!(
            "(the web UI is not built into this binary: `make ui`, then rebuild; the API works)"
        );
    }
    println!("observing {}; Ctrl-C to stop", scope(&opts));

    let mut output = match Output::start(&opts, live, format!("http://{}", console.addr)) {
        Ok(o) => o,
        Err(e) => {
            console.stop();
            let _ = agent.shutdown().await;
            return Err(e);
        }
    };
    let stop = watch_until_stopped(&opts, &agent, &mut output, &mut int, &mut term).await;
    output.finish();
    if matches!(stop, Stop::Interrupt) {
        println!("stopping: detaching hooks and flushing the store (Ctrl-C again to exit at once)");
        tokio::spawn(async move {
            if int.recv().await.is_some() {
                eprintln!("netobserv-local: second Ctrl-C, exiting now");
                std::process::exit(130);
            }
        });
    } else {
        println!("stopping: detaching hooks and flushing the store");
    }
    console.stop();
    let flows = agent.metrics().evicted_flows.get();
    agent.shutdown().await?;
    println!(
        "stopped: every hook detached, {flows} flows in {}",
        opts.store.display()
    );
    Ok(())
}

/// The kubeconfig to enrich with, when its cluster answers now: asked for (`--kubeconfig`, an
/// error if it does not answer) or found (a note, and no Kubernetes metadata, if it does not).
async fn kubernetes(opts: &Options) -> Result<Option<std::path::PathBuf>, RunError> {
    let Some(path) = opts.kubeconfig_candidate(|k| std::env::var(k).ok()) else {
        return Ok(None);
    };
    let text = path.display().to_string();
    match netobserv_pipeline::kubernetes::probe(&text, KUBE_PROBE_TIMEOUT).await {
        Ok(url) => {
            println!("Kubernetes metadata from {url} (kubeconfig {text})");
            Ok(Some(path))
        }
        Err(e) if opts.kubeconfig.is_some() => Err(RunError::Kubernetes(format!("{text}: {e}"))),
        Err(e) => {
            println!("no Kubernetes metadata: kubeconfig {text}: {e} (--no-kubernetes skips this)");
            Ok(None)
        }
    }
}

/// Longest wait for a kubeconfig's cluster at start.
const KUBE_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What is observed, in words.
fn scope(opts: &Options) -> String {
    let ns = opts.netns.as_ref().map_or("this host".to_string(), |p| {
        format!("namespace {}", p.display())
    });
    let ifaces = if opts.interfaces.is_empty() {
        "every interface".to_string()
    } else {
        opts.interfaces.join(", ")
    };
    let excluded: Vec<&str> = opts
        .exclude_interfaces
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    if excluded.is_empty() {
        format!("{ns}, {ifaces}")
    } else {
        format!("{ns}, {ifaces} except {}", excluded.join(", "))
    }
}

/// Where the run reports while it runs.
enum Output {
    /// Plain lines on stdout.
    Plain,
    /// The live view on its own thread: its status, and its end (a stop key).
    Live {
        status: tokio::sync::watch::Sender<LiveState>,
        ended: tokio::sync::oneshot::Receiver<std::io::Result<Ended>>,
        thread: std::thread::JoinHandle<()>,
    },
}

impl Output {
    /// The live view over `opts.store` when `live`, else plain lines.
    fn start(opts: &Options, live: bool, console: String) -> Result<Self, RunError> {
        if !live {
            return Ok(Output::Plain);
        }
        let (status, rx) = tokio::sync::watch::channel(LiveState {
            scope: scope(opts),
            console,
            ..Default::default()
        });
        let (done, ended) = tokio::sync::oneshot::channel();
        let store = opts.store.clone();
        let thread = std::thread::Builder::new()
            .name("live-view".into())
            .spawn(move || {
                let _ = done.send(crate::live::terminal::run(&store, rx));
            })
            .map_err(io("starting the live view"))?;
        Ok(Output::Live {
            status,
            ended,
            thread,
        })
    }

    /// Closes the live view (the terminal is restored before anything else is printed).
    fn finish(self) {
        if let Output::Live { status, thread, .. } = self {
            drop(status);
            let _ = thread.join();
        }
    }
}

/// Reports every second (summaries and the quiet hint as lines, or the live view's status) until
/// a signal, a stop key in the live view, or the duration.
async fn watch_until_stopped(
    opts: &Options,
    agent: &Agent,
    output: &mut Output,
    int: &mut tokio::signal::unix::Signal,
    term: &mut tokio::signal::unix::Signal,
) -> Stop {
    let started = Instant::now();
    let mut watch = Watch::new(opts.quiet_hint_after, opts.summary_every, started);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let until = opts.duration.map(|d| tokio::time::Instant::now() + d);
    let deadline = async move {
        match until {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut hint: Option<String> = None;
    loop {
        let view_ended = async {
            match output {
                Output::Live { ended, .. } => ended.await.ok(),
                Output::Plain => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = int.recv() => return Stop::Interrupt,
            _ = term.recv() => return Stop::Terminate,
            _ = &mut deadline => return Stop::Duration,
            ended = view_ended => match ended {
                Some(Ok(Ended::Interrupted)) => return Stop::Interrupt,
                other => {
                    // The terminal failed under the view: go on with plain lines.
                    let why = match other {
                        Some(Err(e)) => e.to_string(),
                        _ => "it stopped".into(),
                    };
                    eprintln!("netobserv-local: live view closed ({why}); printing plain lines");
                    std::mem::replace(output, Output::Plain).finish();
                }
            },
            _ = ticker.tick() => {
                let attached: Vec<String> = agent.attached().into_iter().map(|(n, _)| n).collect();
                let count = agent.metrics().evicted_flows.get();
                let said = watch.tick(Instant::now(), count, &attached, &opts.exclude_interfaces);
                match output {
                    Output::Plain => print_lines(said),
                    Output::Live { status, .. } => {
                        for say in said {
                            match say {
                                Say::Quiet(h) => hint = Some(h),
                                Say::Summary { .. } => hint = None,
                            }
                        }
                        status.send_modify(|s| {
                            s.elapsed = started.elapsed();
                            s.flows = count;
                            s.interfaces = attached.len();
                            s.hint = hint.clone();
                        });
                    }
                }
            }
        }
    }
}

fn print_lines(said: Vec<Say>) {
    for say in said {
        match say {
            Say::Summary {
                new_flows,
                total,
                interfaces,
            } => println!("{new_flows} new flows ({total} since start) on {interfaces} interfaces"),
            Say::Quiet(hint) => println!("{hint}"),
        }
    }
}
