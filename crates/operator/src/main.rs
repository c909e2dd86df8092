//! `netobserv-operator`: connects to the cluster (kubeconfig or in-cluster), optionally wins the
//! leader Lease, discovers the optional APIs, then runs the FlowCollector controller with health
//! probes and Prometheus metrics, until SIGTERM/SIGINT.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use netobserv_api::validate::ClusterFacts;
use netobserv_operator::controller::{self, Context, WatchHealth, discovery};
use netobserv_operator::leader::LeaderElector;
use netobserv_operator::metrics::Metrics;
use netobserv_operator::{Error, Images, webhook};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// How long in-flight reconciles get after SIGTERM before the process exits regardless.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Command-line options (the flags of config/manager/manager.yaml).
#[derive(Debug)]
struct Options {
    leader_elect: bool,
    health_addr: SocketAddr,
    metrics_addr: SocketAddr,
    webhook_port: Option<u16>,
    webhook_bind: std::net::IpAddr,
    webhook_cert_dir: String,
}

fn parse_addr(flag: &str, value: &str) -> Result<SocketAddr, Error> {
    let value = if value.starts_with(':') {
        format!("0.0.0.0{value}")
    } else {
        value.to_string()
    };
    value
        .parse()
        .map_err(|e| Error::Config(format!("{flag}={value}: {e}")))
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, Error> {
    let mut opts = Options {
        leader_elect: false,
        health_addr: parse_addr("--health-probe-bind-address", ":8081")?,
        metrics_addr: parse_addr("--metrics-bind-address", ":8443")?,
        webhook_port: None,
        webhook_bind: std::net::IpAddr::from([0, 0, 0, 0]),
        webhook_cert_dir: "/tmp/k8s-webhook-server/serving-certs".to_string(),
    };
    for arg in args {
        let (flag, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        match flag {
            "--leader-elect" => opts.leader_elect = value.is_empty() || value == "true",
            "--health-probe-bind-address" => opts.health_addr = parse_addr(flag, value)?,
            "--metrics-bind-address" => opts.metrics_addr = parse_addr(flag, value)?,
            "--webhook-port" => {
                opts.webhook_port = Some(
                    value
                        .parse()
                        .map_err(|e| Error::Config(format!("--webhook-port={value}: {e}")))?,
                );
            }
            "--webhook-cert-dir" => opts.webhook_cert_dir = value.to_string(),
            "--webhook-bind-address" => {
                opts.webhook_bind = value.parse().map_err(|e| {
                    Error::Config(format!(
                        "--webhook-bind-address={value}: {e} (an IP address)"
                    ))
                })?;
            }
            "--version" | "-V" => {
                println!("netobserv-operator {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            "--help" | "-h" => {
                println!(
                    "netobserv-operator [--leader-elect] [--health-probe-bind-address=:8081] \
                     [--metrics-bind-address=:8443] [--webhook-port=9443] \
                     [--webhook-bind-address=0.0.0.0] \
                     [--webhook-cert-dir=/tmp/k8s-webhook-server/serving-certs]\n\
                     Images come from RELATED_IMAGE_EBPF_AGENT, RELATED_IMAGE_FLOWLOGS_PIPELINE, \
                     RELATED_IMAGE_CONSOLE_PLUGIN (required) and RELATED_IMAGE_DEMO_LOKI.\n\
                     The cluster comes from KUBECONFIG / ~/.kube/config, or the in-cluster service account."
                );
                std::process::exit(0);
            }
            other => return Err(Error::Config(format!("unknown argument {other}"))),
        }
    }
    Ok(opts)
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    ready: Arc<AtomicBool>,
    watch: Arc<WatchHealth>,
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready once the controller runs and its FlowCollector watch has a complete list; not ready
/// while that watch fails (CRD missing, API server unreachable).
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if !state.ready.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: starting")
    } else if !state.watch.is_listed() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: FlowCollectors cannot be listed (see the operator log)",
        )
    } else {
        (StatusCode::OK, "ok")
    }
}

async fn metrics_handler(State(state): State<AppState>) -> (StatusCode, String) {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &state.registry) {
        Ok(()) => (StatusCode::OK, out),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn serve(
    addr: SocketAddr,
    router: Router,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(|e| Error::Config(format!("server on {addr}: {e}")))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn run() -> Result<(), Error> {
    let opts = parse_args(std::env::args().skip(1))?;
    let images = Images::from_env()?;
    let client = connect().await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let ready = Arc::new(AtomicBool::new(false));
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::default().register(&mut registry));
    let watch_health = Arc::new(WatchHealth::default());
    let state = AppState {
        registry: Arc::new(registry),
        ready: ready.clone(),
        watch: watch_health.clone(),
    };
    let http_tasks = spawn_http_servers(&opts, state, &stop_rx);
    let shutdown = spawn_shutdown_listener(stop_tx.clone());

    // Webhooks run on every replica (not only the leader): the API server calls any endpoint.
    let facts = Arc::new(tokio::sync::RwLock::new(ClusterFacts::default()));
    if let Some(port) = opts.webhook_port {
        serve_webhooks(&opts, port, facts.clone(), &stop_rx).await?;
    }
    if opts.leader_elect && !win_leadership(&client, &stop_tx, &stop_rx).await {
        return Ok(());
    }

    let mut stop = stop_rx.clone();
    let unknown = ClusterFacts::default();
    let discovered = tokio::select! {
        facts = discovery::discover(&client, &unknown) => facts,
        _ = stop.wait_for(|s| *s) => return Ok(()),
    };
    info!(apis = ?discovered.available_apis, platform = ?discovered.platform, "cluster discovery done");
    *facts.write().await = discovered;
    let mut ctx = Context::with_shared_facts(client.clone(), metrics, facts, images);
    ctx.health = watch_health;
    let ctx = Arc::new(ctx);
    spawn_rediscovery(ctx.clone(), stop_rx.clone());
    ready.store(true, Ordering::Relaxed);
    run_controller(ctx, &stop_rx).await;
    let _ = stop_tx.send(true);
    shutdown.abort();
    for task in http_tasks {
        match task.await {
            Ok(Err(e)) => error!(error = %e, "HTTP server failed"),
            Err(e) => error!(error = %e, "HTTP server task panicked"),
            Ok(Ok(())) => {}
        }
    }
    info!("stopped");
    Ok(())
}

/// A client of the configured cluster, checked by asking the API server its version, so that
/// a wrong or unreachable cluster fails the start rather than every reconcile.
async fn connect() -> Result<kube::Client, Error> {
    let client = kube::Client::try_default().await.map_err(|e| {
        Error::Config(format!(
            "no Kubernetes cluster configured (KUBECONFIG, ~/.kube/config or in-cluster): {e}"
        ))
    })?;
    let version = tokio::time::timeout(Duration::from_secs(10), client.apiserver_version())
        .await
        .map_err(|_| {
            Error::Config("the Kubernetes API server did not answer within 10s".to_string())
        })?
        .map_err(|e| Error::Config(format!("the Kubernetes API server is not reachable: {e}")))?;
    info!(version = %version.git_version, "connected to the Kubernetes API server");
    Ok(client)
}

/// The health-probe and metrics servers, until stopped.
fn spawn_http_servers(
    opts: &Options,
    state: AppState,
    stop_rx: &watch::Receiver<bool>,
) -> [tokio::task::JoinHandle<Result<(), Error>>; 2] {
    let health = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state.clone());
    let metrics_router = Router::new()
        .route("/metrics", get(metrics_handler))
        .with_state(state);
    let health_task = tokio::spawn(serve(opts.health_addr, health, stop_rx.clone()));
    let metrics_task = tokio::spawn(serve(opts.metrics_addr, metrics_router, stop_rx.clone()));
    [health_task, metrics_task]
}

/// The first SIGTERM/SIGINT asks everything to stop; a second one exits at once.
fn spawn_shutdown_listener(stop_tx: watch::Sender<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutdown requested");
        let _ = stop_tx.send(true);
        shutdown_signal().await;
        warn!("second shutdown signal: exiting now");
        std::process::exit(1);
    })
}

/// Serves the admission and conversion webhooks on `port` over HTTPS when the certificate
/// directory holds a key pair; without one the webhooks are skipped with a warning.
async fn serve_webhooks(
    opts: &Options,
    port: u16,
    facts: Arc<tokio::sync::RwLock<ClusterFacts>>,
    stop_rx: &watch::Receiver<bool>,
) -> Result<(), Error> {
    let dir = std::path::Path::new(&opts.webhook_cert_dir);
    match (
        std::fs::read(dir.join("tls.crt")),
        std::fs::read(dir.join("tls.key")),
    ) {
        (Ok(cert), Ok(key)) => {
            let tls = webhook::tls_config(&cert, &key)?;
            let addr = SocketAddr::new(opts.webhook_bind, port);
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
            let router = webhook::router(webhook::WebhookState { facts });
            tokio::spawn(webhook::serve_tls(listener, tls, router, stop_rx.clone()));
            info!(%addr, "admission and conversion webhooks served over HTTPS");
        }
        _ => warn!(
            dir = %dir.display(),
            "no tls.crt/tls.key in the webhook certificate directory; admission and conversion webhooks are not served (the status still reports validation errors)"
        ),
    }
    Ok(())
}

/// Waits until this replica holds the leader Lease, then keeps renewing it in the background
/// (stopping everything when it is lost); false when a stop came first.
async fn win_leadership(
    client: &kube::Client,
    stop_tx: &watch::Sender<bool>,
    stop_rx: &watch::Receiver<bool>,
) -> bool {
    let namespace = std::env::var("NAMESPACE").unwrap_or_else(|_| "netobserv".to_string());
    let identity = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("netobserv-operator-{}", std::process::id()));
    let elector = LeaderElector::new(client.clone(), &namespace, &identity);
    info!(%identity, lease = netobserv_operator::leader::LEASE_NAME, "waiting for leadership");
    let mut stop = stop_rx.clone();
    loop {
        let attempt = tokio::select! {
            attempt = elector.try_acquire_or_renew() => attempt,
            _ = stop.wait_for(|s| *s) => return false,
        };
        match attempt {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => warn!(error = %e, "leader election attempt failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {},
            _ = stop.wait_for(|s| *s) => return false,
        }
    }
    info!("leadership acquired");
    spawn_lease_renewal(elector, stop_tx.clone(), stop_rx.clone());
    true
}

/// Renews the Lease every 5 s; stops everything when another replica took it or when it could
/// not be renewed for 15 s.
fn spawn_lease_renewal(
    elector: LeaderElector,
    stop_tx: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(5)) => {},
                _ = stop.wait_for(|s| *s) => return,
            }
            match elector.try_acquire_or_renew().await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => {
                    error!("leadership lost to another replica; stopping");
                    let _ = stop_tx.send(true);
                    return;
                }
                Err(e) if last_ok.elapsed() > Duration::from_secs(15) => {
                    error!(error = %e, "cannot renew the leader Lease; stopping");
                    let _ = stop_tx.send(true);
                    return;
                }
                Err(e) => warn!(error = %e, "leader Lease renewal failed; retrying"),
            }
        }
    });
}

/// Discovers the cluster again every 10 minutes (APIs installed or removed later).
fn spawn_rediscovery(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(600)) => {},
                _ = stop.wait_for(|s| *s) => return,
            }
            let previous = ctx.facts.read().await.clone();
            let facts = discovery::discover(&ctx.client, &previous).await;
            *ctx.facts.write().await = facts;
        }
    });
}

/// Runs the controller until a stop, giving in-flight reconciles [`SHUTDOWN_GRACE`] to finish.
async fn run_controller(ctx: Arc<Context>, stop_rx: &watch::Receiver<bool>) {
    let mut stop = stop_rx.clone();
    let controller = controller::run(ctx, async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    let mut stop = stop_rx.clone();
    tokio::select! {
        () = controller => {},
        () = async {
            let _ = stop.wait_for(|s| *s).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => warn!(grace = ?SHUTDOWN_GRACE, "the controller did not stop in time; exiting anyway"),
    }
}

#[tokio::main]
async fn main() {
    // JSON lines by default (LOG_FORMAT=text for people), level from LOG_LEVEL or RUST_LOG.
    netobserv_logging::init(None, netobserv_logging::Format::Json);
    let code = match run().await {
        Ok(()) => 0,
        Err(e) => {
            error!(error = %e, "netobserv-operator cannot run");
            1
        }
    };
    // Exit here rather than by dropping the runtime, which would wait for any task still blocked
    // (a request to an API server that stopped answering) and hang the pod's termination.
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Options, Error> {
        parse_args(list.iter().map(|s| (*s).to_string()))
    }

    #[test]
    fn parses_manager_yaml_flags() {
        let o = args(&[
            "--leader-elect",
            "--health-probe-bind-address=:8081",
            "--metrics-bind-address=127.0.0.1:9999",
            "--webhook-port=9443",
            "--webhook-bind-address=127.0.0.1",
        ])
        .expect("parses");
        assert_eq!(o.webhook_bind, std::net::IpAddr::from([127, 0, 0, 1]));
        assert!(o.leader_elect);
        assert_eq!(o.health_addr, "0.0.0.0:8081".parse().expect("addr"));
        assert_eq!(o.metrics_addr, "127.0.0.1:9999".parse().expect("addr"));
        assert_eq!(o.webhook_port, Some(9443));
    }

    #[test]
    fn rejects_unknown_and_malformed_flags() {
        assert!(args(&["--nope"]).is_err());
        assert!(args(&["--webhook-port=abc"]).is_err());
        assert!(args(&["--metrics-bind-address=nowhere"]).is_err());
        assert!(args(&["--webhook-bind-address=localhost:9443"]).is_err());
    }
}
