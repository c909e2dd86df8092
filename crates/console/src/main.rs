//! `netobserv-console`: the console backend. Takes the operator's arguments as rendered
//! (`-loglevel info -config /opt/app-root/config.yaml`, Go-style single-dash flags) as well as
//! `--config`; `--store FILE` serves a flow store or capture file without a configuration.

use clap::Parser;
use netobserv_console::api::{AppState, router};
use netobserv_console::config::{AuthCheck, Config, StoreConfig};
use netobserv_console::server::{self, Metrics};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Console backend: the NetObserv console API over Loki, Prometheus and the SQLite flow store.
#[derive(Parser, Debug)]
#[command(name = "netobserv-console", version)]
struct Args {
    /// Configuration file (upstream's keys: server, loki, prometheus, frontend; plus store).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log level: trace, debug, info, warn, error.
    #[arg(long, default_value = "info")]
    loglevel: String,
    /// A flow store or capture file to serve (read-only), in addition to the configuration.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Port, overriding server.port.
    #[arg(long)]
    port: Option<u16>,
    /// Metrics port, overriding server.metricsPort.
    #[arg(long)]
    metrics_port: Option<u16>,
    /// Address to bind, overriding server.address (default 0.0.0.0).
    #[arg(long)]
    address: Option<String>,
}

/// Go's flag package accepts `-name`; clap wants `--name`.
fn normalise(args: impl Iterator<Item = String>) -> Vec<String> {
    args.enumerate()
        .map(|(i, a)| {
            let long = [
                "-config",
                "-loglevel",
                "-store",
                "-port",
                "-metrics-port",
                "-address",
            ];
            if i > 0
                && (long.contains(&a.as_str())
                    || long.iter().any(|l| a.starts_with(&format!("{l}="))))
            {
                format!("-{a}")
            } else if i > 0 && a == "-v" {
                "--version".into()
            } else {
                a
            }
        })
        .collect()
}

fn main() -> ExitCode {
    let args = Args::parse_from(normalise(std::env::args()));
    let level = match args.loglevel.as_str() {
        l @ ("trace" | "debug" | "info" | "warn" | "error") => l.to_string(),
        other => {
            eprintln!(
                "netobserv-console: -loglevel `{other}` is not one of trace, debug, info, warn, error"
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("netobserv-console: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => Config::load(path).map_err(|e| e.to_string())?,
        None if args.store.is_some() => Config::default(),
        None => {
            return Err(
                "nothing to serve: give -config FILE (the operator's config.yaml) or --store FILE (a flow store or capture file)"
                    .into(),
            );
        }
    };
    if let Some(store) = args.store {
        config.store = Some(StoreConfig {
            path: store,
            labels: None,
        });
    }
    if let Some(p) = args.port {
        config.server.port = p;
    }
    if let Some(p) = args.metrics_port {
        config.server.metrics_port = p;
    }
    if let Some(a) = args.address {
        config.server.address = Some(a);
    }
    let mut state = AppState::new(&config).map_err(|e| e.to_string())?;
    if matches!(state.auth, AuthCheck::Authenticated | AuthCheck::Admin) {
        let client = kube::Client::try_default().await.map_err(|e| {
            format!(
                "authCheck {:?} needs the Kubernetes API (in-cluster or a kubeconfig): {e}",
                state.auth
            )
        })?;
        state.reviewer = Some(netobserv_console::auth::Reviewer::new(client));
    }
    let tls = match (&config.server.cert_path, &config.server.key_path) {
        (Some(c), Some(k)) => Some(server::tls_config(c, k).map_err(|e| e.to_string())?),
        _ => None,
    };
    let metrics = Metrics::default();
    let m = metrics.clone();
    let cors = server::Cors::new(&config.server);
    let app = router(Arc::new(state))
        .layer(axum::middleware::from_fn(move |req, next| {
            m.clone().count(req, next)
        }))
        .layer(axum::middleware::from_fn(move |req, next| {
            cors.clone().apply(req, next)
        }));
    let address = config
        .server
        .address
        .clone()
        .unwrap_or_else(|| "0.0.0.0".into());
    let bind = |port: u16| {
        let addr = format!("{address}:{port}");
        async move {
            tokio::net::TcpListener::bind(&addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))
        }
    };
    let api = bind(config.server.port).await?;
    let metrics_listener = bind(config.server.metrics_port).await?;
    let api_addr = api.local_addr().map_err(|e| e.to_string())?;
    let metrics_addr = metrics_listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        api = %api_addr,
        metrics = %metrics_addr,
        tls = tls.is_some(),
        loki = config.loki.as_ref().map(|l| l.url.as_str()),
        prometheus = config.prometheus.as_ref().map(|p| p.url.as_str()),
        store = config.store.as_ref().map(|s| s.path.display().to_string()),
        "console backend listening"
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    tokio::select! {
        r = server::serve(api, app, tls) => r.map_err(|e| format!("API server: {e}")),
        r = axum::serve(metrics_listener, server::metrics_router(metrics)) => r.map_err(|e| format!("metrics server: {e}")),
        _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted, stopping"); Ok(()) }
        _ = term.recv() => { tracing::info!("SIGTERM, stopping"); Ok(()) }
    }
}
