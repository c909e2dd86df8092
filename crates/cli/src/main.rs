//! `kubectl netobserv` / `oc netobserv`: parses the command line, then runs the command.

use kubectl_netobserv::cluster::Show;
use kubectl_netobserv::collector::{self, Progress, enrich::KubeNames};
use kubectl_netobserv::options::{self, Command};
use kubectl_netobserv::render::{self, Plan};
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let invocation = match options::parse(std::env::args_os()) {
        Ok(i) => i,
        Err(options::ParseError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let level = match &invocation.command {
        Command::Flows(a) => a.agent.log_level.clone(),
        Command::Packets(a) => a.agent.log_level.clone(),
        Command::Collector(a) => a.log_level.clone(),
        _ => "info".to_string(),
    };
    // Log lines would tear the terminal table apart: none while it shows.
    let quiet = matches!(&invocation.command, Command::Collector(a) if a.tui)
        || matches!(&invocation.command, Command::Metrics(a) if !a.background && !a.yaml)
        || table_of(&invocation.command).is_some();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(if quiet {
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::sink)
        } else {
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr)
        })
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(invocation)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn run(invocation: options::Invocation) -> Result<(), Box<dyn std::error::Error>> {
    let rules = invocation.rules;
    match &invocation.command {
        Command::Version => {
            println!("kubectl-netobserv {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Collector(args) => run_collector(args).await,
        Command::ExportOutput(args) => {
            let stdout = std::io::stdout().lock();
            kubectl_netobserv::transfer::pack(&args.dir, std::io::BufWriter::new(stdout))?;
            Ok(())
        }
        cmd @ (Command::Flows(_) | Command::Packets(_) | Command::Metrics(_)) => {
            run_capture(cmd, &rules).await
        }
        Command::Cleanup(ns) => {
            let client = kube::Client::try_default().await?;
            let n = kubectl_netobserv::cluster::cleanup(&client, &ns.namespace).await?;
            println!("removed {n} objects");
            Ok(())
        }
        Command::Stop(ns) => {
            let client = kube::Client::try_default().await?;
            kubectl_netobserv::cluster::stop_agents(&client, &ns.namespace).await?;
            println!("agents stopped; the collector keeps its files for `copy`");
            Ok(())
        }
        Command::Follow(ns) => {
            let client = kube::Client::try_default().await?;
            kubectl_netobserv::cluster::follow(&client, &ns.namespace, interrupted()).await?;
            Ok(())
        }
        Command::Copy(args) => {
            let client = kube::Client::try_default().await?;
            let files =
                kubectl_netobserv::cluster::copy(&client, &args.ns.namespace, &args.output).await?;
            for f in files {
                println!("{}", f.display());
            }
            Ok(())
        }
    }
}

/// The collector: receives from the agents, writes the files, shows the table or progress
/// lines; in the cluster it lingers afterwards so `copy` can fetch the files.
async fn run_collector(
    args: &options::collector::CollectorArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let names = if args.kubernetes {
        KubeNames::Cluster
    } else {
        KubeNames::None
    };
    let progress = Arc::new(Progress::default());
    let (observer, ui) = if args.tui {
        let (tx, rx) = tokio::sync::mpsc::channel(10_000);
        let p = progress.clone();
        let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();
        let mode = args.mode;
        let thread = std::thread::spawn(move || {
            let title = match mode {
                collector::Mode::Flows => "Flows",
                collector::Mode::Packets => "Packets",
            };
            if let Ok(true) = kubectl_netobserv::tui::terminal::run(title, rx, p) {
                let _ = quit_tx.send(());
            }
        });
        (Some(tx), Some((quit_rx, thread)))
    } else if args.live {
        (Some(print_live()), None)
    } else {
        (None, None)
    };
    let (ui, thread) = match ui {
        Some((q, t)) => (Some(q), Some(t)),
        None => (None, None),
    };
    let stop = async move {
        match ui {
            Some(quit) => {
                tokio::select! {
                    () = interrupted() => {}
                    _ = quit => {}
                }
            }
            None => interrupted().await,
        }
    };
    // Without the table, a progress line every 5 s (what `follow` shows of a cluster run).
    let ticker = (!args.tui).then(|| {
        let p = progress.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                println!("{}", p.line(started.elapsed()));
            }
        })
    });
    let summary = collector::run(args, names, observer, progress, stop, |addr| {
        tracing::info!(%addr, "collector listening");
    })
    .await?;
    if let Some(t) = ticker {
        t.abort();
    }
    // The table gives the terminal back before the summary is printed.
    if let Some(t) = thread {
        let _ = t.join();
    }
    println!(
        "capture ended ({:?}): {} {} written, {} bytes, in {:.1}s",
        summary.reason,
        summary.items,
        match args.mode {
            collector::Mode::Flows => "flows",
            collector::Mode::Packets => "packets",
        },
        summary.bytes,
        summary.elapsed.as_secs_f64()
    );
    if args.linger && summary.reason != collector::StopReason::Stopped {
        tracing::info!("capture ended; staying up for `copy` until the pod is deleted");
        interrupted().await;
    }
    Ok(())
}

/// `--live`: each record the collector writes, also on standard output as one
/// `LIVE <JSON>` line (from a thread of its own: a slow reader of the pod's log only makes the
/// observer channel skip rows, never the capture wait).
fn print_live() -> tokio::sync::mpsc::Sender<Arc<netobserv_pipeline::record::Record>> {
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<Arc<netobserv_pipeline::record::Record>>(10_000);
    std::thread::spawn(move || {
        use std::io::Write;
        while let Some(record) = rx.blocking_recv() {
            let line = format!("{}{}\n", collector::LIVE_PREFIX, record.to_json());
            let mut out = std::io::stdout().lock();
            if out
                .write_all(line.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return;
            }
        }
    });
    tx
}

/// `flows`, `packets`, `metrics`: render, then print (`--yaml`) or deploy and run.
async fn run_capture(
    cmd: &Command,
    rules: &[options::FilterArgs],
) -> Result<(), Box<dyn std::error::Error>> {
    let run_id = kubectl_netobserv::cluster::new_run_id();
    let mut plan = Plan::for_command(
        cmd,
        rules,
        &run_id,
        render::default_images(|k| std::env::var(k).ok()),
    )?;
    if let Some(pod) = plan.agent.pod.clone() {
        let client = kube::Client::try_default().await?;
        let target = kubectl_netobserv::target::resolve(&client, &pod).await?;
        kubectl_netobserv::target::apply(&mut plan, &target)?;
    }
    let get_subnets = match &plan.capture {
        render::Capture::Flows(f) | render::Capture::Metrics { features: f, .. } => f.get_subnets,
        render::Capture::Packets { .. } => false,
    };
    if get_subnets {
        let client = kube::Client::try_default().await?;
        plan.subnet_labels = kubectl_netobserv::subnets::discover(&client).await?;
    }
    let yaml_only = match cmd {
        Command::Flows(a) => a.run.yaml,
        Command::Packets(a) => a.run.yaml,
        Command::Metrics(a) => a.yaml,
        _ => false,
    };
    if matches!(plan.capture, render::Capture::Metrics { .. }) && !yaml_only {
        let client = kube::Client::try_default().await?;
        plan.monitoring = kubectl_netobserv::cluster::detect_monitoring(&client).await;
    }
    let table_title = table_of(cmd);
    plan.live = table_title.is_some() && !yaml_only;
    let objects = render::render(&plan);
    if yaml_only {
        print!("{}", render::to_yaml(&objects));
        return Ok(());
    }
    // Foreground on a terminal: metrics as charts fed by the scrapes, flows and packets as the
    // table fed by the collector's log. Quitting either (Ctrl-C there) stops the capture
    // like Ctrl-C outside them.
    let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();
    let (show, thread) = match (cmd, &plan.capture) {
        (Command::Metrics(a), render::Capture::Metrics { include, .. }) if !a.background => {
            let names: Vec<String> = include.iter().map(|m| m.as_str().to_string()).collect();
            let app = kubectl_netobserv::tui::metrics::MetricsApp::new(
                kubectl_netobserv::metrics::history::History::new(
                    kubectl_netobserv::metrics::flp::PREFIX,
                    &names,
                ),
            );
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            let thread = std::thread::spawn(move || {
                if let Ok(true) = kubectl_netobserv::tui::terminal::run_metrics(app, rx) {
                    let _ = quit_tx.send(());
                }
            });
            (Show::Metrics(tx), Some(thread))
        }
        _ => match table_title {
            Some(title) => {
                let (tx, rx) = tokio::sync::mpsc::channel(10_000);
                let progress = Arc::new(Progress::default());
                let feed = kubectl_netobserv::live::LiveFeed::new(tx, progress.clone());
                let (closed_tx, closed) = tokio::sync::oneshot::channel();
                let thread = std::thread::spawn(move || {
                    if let Ok(true) = kubectl_netobserv::tui::terminal::run(title, rx, progress) {
                        let _ = quit_tx.send(());
                    }
                    let _ = closed_tx.send(());
                });
                (Show::Table { feed, closed }, Some(thread))
            }
            None => (Show::Log, None),
        },
    };
    let stop = async move {
        tokio::select! {
            () = interrupted() => {}
            Ok(()) = quit_rx => {}
        }
    };
    let result = kubectl_netobserv::cluster::capture(&plan, &objects, cmd, stop, show).await;
    if let Some(t) = thread {
        let _ = t.join();
    }
    result?;
    Ok(())
}

/// The table's title when `cmd` is a foreground `flows` / `packets` run on a terminal (the
/// collector's records are then shown as they come).
fn table_of(cmd: &Command) -> Option<&'static str> {
    use std::io::IsTerminal;
    let title = match cmd {
        Command::Flows(a) if !a.run.background && !a.run.yaml => "Flows",
        Command::Packets(a) if !a.run.background && !a.run.yaml => "Packets",
        _ => return None,
    };
    std::io::stdout().is_terminal().then_some(title)
}
