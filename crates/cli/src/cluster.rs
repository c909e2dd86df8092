//! The cluster side of a capture, through kube-rs (no kubectl or oc at run time): applying the
//! rendered objects (server-side apply), the run's Lease, and removing everything by label —
//! on exit, on Ctrl-C, by `cleanup`, and as leftovers of a crashed run, recognised by an expired
//! Lease when a later run starts.

use crate::options::Command;
use crate::render::{self, MANAGED_BY, MANAGED_BY_LABEL, NAME, Plan, RUN_LABEL};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Field manager of the CLI's server-side applies.
pub const FIELD_MANAGER: &str = "kubectl-netobserv";
/// How long a foreground run's Lease lasts without renewal: a crashed run's objects count as
/// leftovers this long after its last renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(30);
/// How often a foreground run renews its Lease.
pub const LEASE_RENEW: Duration = Duration::from_secs(10);

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The API server refused or could not be reached.
    #[error("{action}: {source}")]
    Api {
        /// What was being done.
        action: String,
        /// The error.
        source: kube::Error,
    },
    /// Another run holds the namespace.
    #[error(
        "a capture (run {holder}) is running in namespace {namespace}; stop it or run `kubectl netobserv cleanup --namespace={namespace}`"
    )]
    Busy {
        /// Namespace.
        namespace: String,
        /// The other run.
        holder: String,
    },
    /// An object the render produced has no kind this module knows.
    #[error("cannot apply a {0}")]
    UnknownKind(String),
    /// No collector pod to follow.
    #[error(
        "no collector pod in namespace {namespace}: is a capture running there? (`kubectl netobserv flows --background` starts one)"
    )]
    NoCollector {
        /// Namespace.
        namespace: String,
    },
    /// The collector pod exists but serves no log yet (e.g. its image is still being pulled).
    #[error("the collector in namespace {namespace} has not started yet: {message}")]
    CollectorNotReady {
        /// Namespace.
        namespace: String,
        /// The API server's reason.
        message: String,
    },
    /// `copy` got no usable files.
    #[error("copy: {0}")]
    Copy(String),
}

fn api_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> ClusterError {
    let action = action.into();
    move |source| ClusterError::Api { action, source }
}

/// A new run identifier (time and process, unique enough for labels).
pub fn new_run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("r{:x}{:04x}", now.as_millis(), std::process::id() & 0xffff)
}

/// The kinds the CLI deploys: (apiVersion, kind, plural, namespaced), in deletion order.
const KINDS: &[(&str, &str, &str, bool)] = &[
    ("apps/v1", "DaemonSet", "daemonsets", true),
    ("v1", "Pod", "pods", true),
    ("v1", "Service", "services", true),
    (
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        "servicemonitors",
        true,
    ),
    // The `metrics` dashboard, in the console's namespace (see `home_namespace`).
    ("v1", "ConfigMap", "configmaps", true),
    ("coordination.k8s.io/v1", "Lease", "leases", true),
    ("v1", "ServiceAccount", "serviceaccounts", true),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    ("v1", "Namespace", "namespaces", false),
];

fn resource(api_version: &str, kind: &str) -> Option<(ApiResource, bool)> {
    let (_, _, plural, namespaced) = KINDS
        .iter()
        .find(|(v, k, _, _)| *v == api_version && *k == kind)?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Some((ApiResource::from_gvk_with_plural(&gvk, plural), *namespaced))
}

/// The namespace a namespaced kind of capture `ns` lives in, and the one name it must have
/// when it is not the capture's namespace: the dashboard ConfigMap sits in the console's.
fn home_namespace(kind: &str, ns: &str) -> (String, Option<String>) {
    if kind == "ConfigMap" {
        (
            render::monitoring::DASHBOARD_NAMESPACE.to_string(),
            Some(render::monitoring::dashboard_name(ns)),
        )
    } else {
        (ns.to_string(), None)
    }
}

fn api_for(client: &Client, ar: &ApiResource, ns: Option<&str>) -> Api<DynamicObject> {
    match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    }
}

/// Server-side applies one rendered object.
pub async fn apply(client: &Client, object: &Value) -> Result<(), ClusterError> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let (ar, namespaced) =
        resource(api_version, kind).ok_or_else(|| ClusterError::UnknownKind(kind.to_string()))?;
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let ns = object["metadata"]["namespace"]
        .as_str()
        .filter(|_| namespaced);
    let api = api_for(client, &ar, ns);
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .map_err(api_err(format!("apply {kind} {name}")))?;
    Ok(())
}

fn micro_time(t: SystemTime) -> MicroTime {
    MicroTime(
        k8s_openapi::jiff::Timestamp::try_from(t)
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    )
}

/// State of a namespace before a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Occupancy {
    /// Nothing of the CLI's there.
    Free,
    /// A live run holds the Lease.
    Running {
        /// Its run identifier.
        holder: String,
    },
    /// Objects of a run whose Lease expired (or that has none): leftovers of a crash.
    Leftovers {
        /// Its run identifier, when known.
        holder: Option<String>,
    },
}

/// Looks at the namespace's Lease (and, without one, at labelled cluster-scoped objects).
pub async fn occupancy(
    client: &Client,
    ns: &str,
    now: SystemTime,
) -> Result<Occupancy, ClusterError> {
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), ns);
    match leases
        .get_opt(NAME)
        .await
        .map_err(api_err("read the Lease"))?
    {
        Some(lease) => {
            let spec = lease.spec.unwrap_or_default();
            let holder = spec.holder_identity.unwrap_or_default();
            let renewed = spec.renew_time.map(|t| SystemTime::from(t.0));
            let duration = Duration::from_secs(
                u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
            );
            let live = renewed.is_some_and(|r| r + duration > now);
            Ok(if live {
                Occupancy::Running { holder }
            } else {
                Occupancy::Leftovers {
                    holder: Some(holder),
                }
            })
        }
        None => {
            let found = labelled(client, ns).await?;
            Ok(if found.is_empty() {
                Occupancy::Free
            } else {
                Occupancy::Leftovers { holder: None }
            })
        }
    }
}

/// The CLI's objects of namespace `ns` (and its cluster-scoped ones): (apiVersion, kind, name).
pub async fn labelled(
    client: &Client,
    ns: &str,
) -> Result<Vec<(String, String, String)>, ClusterError> {
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY}");
    let mut out = Vec::new();
    for (api_version, kind, _, namespaced) in KINDS {
        let Some((ar, _)) = resource(api_version, kind) else {
            continue;
        };
        let (home, only) = home_namespace(kind, ns);
        let api = api_for(client, &ar, namespaced.then_some(home.as_str()));
        let list = match api.list(&ListParams::default().labels(&selector)).await {
            Ok(l) => l,
            // A namespace (or a kind, as ServiceMonitor without the Prometheus Operator) that
            // does not exist has nothing in it.
            Err(kube::Error::Api(e)) if e.code == 404 => continue,
            Err(e) => return Err(api_err(format!("list {kind}"))(e)),
        };
        for o in list.items {
            let name = o.metadata.name.clone().unwrap_or_default();
            // Cluster-scoped objects belong to this namespace's capture when named after it.
            if (!namespaced && name != ns) || only.as_ref().is_some_and(|o| *o != name) {
                continue;
            }
            out.push((api_version.to_string(), kind.to_string(), name));
        }
    }
    Ok(out)
}

/// Deletes every object of the CLI in `ns` (and its cluster-scoped ones), agents first; returns
/// how many were deleted.
pub async fn cleanup(client: &Client, ns: &str) -> Result<usize, ClusterError> {
    let mut n = 0;
    for (api_version, kind, name) in labelled(client, ns).await? {
        let Some((ar, namespaced)) = resource(&api_version, &kind) else {
            continue;
        };
        let (home, _) = home_namespace(&kind, ns);
        let api = api_for(client, &ar, namespaced.then_some(home.as_str()));
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => n += 1,
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(api_err(format!("delete {kind} {name}"))(e)),
        }
    }
    Ok(n)
}

/// Deletes the agents only (`stop`): the collector keeps its files.
pub async fn stop_agents(client: &Client, ns: &str) -> Result<(), ClusterError> {
    let api: Api<k8s_openapi::api::apps::v1::DaemonSet> = Api::namespaced(client.clone(), ns);
    match api.delete(NAME, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(api_err("delete the agents")(e)),
    }
}

/// Deploys a run: refuses when another live run holds the namespace, removes a crashed run's
/// leftovers, then applies the rendered objects and the Lease (`lease_for` long from `now`).
pub async fn deploy(
    client: &Client,
    plan: &Plan,
    objects: &[Value],
    now: SystemTime,
    lease_for: Duration,
) -> Result<(), ClusterError> {
    let ns = plan.namespace();
    match occupancy(client, ns, now).await? {
        Occupancy::Free => {}
        Occupancy::Running { holder } if holder != plan.run_id => {
            return Err(ClusterError::Busy {
                namespace: ns.to_string(),
                holder,
            });
        }
        Occupancy::Running { .. } => {}
        Occupancy::Leftovers { holder } => {
            let n = cleanup(client, ns).await?;
            tracing::warn!(
                namespace = ns,
                run = holder.as_deref().unwrap_or("unknown"),
                removed = n,
                "removed the leftovers of a run that did not end cleanly"
            );
        }
    }
    for o in objects {
        apply(client, o).await?;
    }
    apply(client, &render::lease(plan, micro_time(now), lease_for)).await
}

/// Renews the run's Lease at `now`.
pub async fn renew(client: &Client, plan: &Plan, now: SystemTime) -> Result<(), ClusterError> {
    let patch = serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": NAME, "namespace": plan.namespace(),
                     "labels": {MANAGED_BY_LABEL: MANAGED_BY, RUN_LABEL: plan.run_id}},
        "spec": {"holderIdentity": plan.run_id, "renewTime": micro_time(now),
                 "leaseDurationSeconds": LEASE_DURATION.as_secs()}
    });
    apply(client, &patch).await
}

/// A foreground or background capture: deploy, then (foreground) renew the Lease until the
/// capture's time is up or `interrupted` fires, and remove everything.
pub async fn capture(
    plan: &Plan,
    objects: &[Value],
    command: &Command,
    interrupted: impl Future<Output = ()>,
    show: Show,
) -> Result<(), ClusterError> {
    let client = Client::try_default()
        .await
        .map_err(api_err("connect to the cluster"))?;
    let background = match command {
        Command::Flows(a) => a.run.background,
        Command::Packets(a) => a.run.background,
        Command::Metrics(a) => a.background,
        _ => false,
    };
    if background {
        // Nobody renews a background run's Lease: it covers the capture and a margin to copy.
        let lease = plan.max_time + Duration::from_secs(600);
        deploy(&client, plan, objects, SystemTime::now(), lease).await?;
        println!(
            "capture running in the background in namespace {ns}: `kubectl netobserv follow`, \
             `kubectl netobserv copy`, then `kubectl netobserv cleanup`",
            ns = plan.namespace()
        );
        return Ok(());
    }
    run_foreground_with(&client, plan, objects, interrupted, show).await
}

/// What a foreground run shows while the capture runs.
pub enum Show {
    /// The collector's progress lines, printed.
    Log,
    /// The agents' metrics, scraped every 2 s and sent to the charts.
    Metrics(tokio::sync::mpsc::Sender<crate::metrics::scrape::Round>),
    /// The collector's live records and progress, read from its log into the table
    /// ([`crate::live`]); `closed` fires once the table gave the terminal back.
    Table {
        /// Where the followed log goes.
        feed: crate::live::LiveFeed,
        /// The table's end.
        closed: tokio::sync::oneshot::Receiver<()>,
    },
}

/// Deploys, renews the Lease until `max_time` (plus the collector's start) or `interrupted`,
/// then cleans up whatever happened in between.
pub async fn run_foreground(
    client: &Client,
    plan: &Plan,
    objects: &[Value],
    interrupted: impl Future<Output = ()>,
) -> Result<(), ClusterError> {
    run_foreground_with(client, plan, objects, interrupted, Show::Log).await
}

/// [`run_foreground`], showing what `show` says while the capture runs.
pub async fn run_foreground_with(
    client: &Client,
    plan: &Plan,
    objects: &[Value],
    interrupted: impl Future<Output = ()>,
    show: Show,
) -> Result<(), ClusterError> {
    let deployed = deploy(client, plan, objects, SystemTime::now(), LEASE_DURATION).await;
    let result = match deployed {
        Ok(()) => {
            tracing::info!(namespace = plan.namespace(), run = %plan.run_id,
                "capture deployed; Ctrl-C stops it and removes everything");
            // Show the collector's progress lines once its pod runs (best effort: a cluster
            // that serves no logs only loses the display).
            let (shower, table_closed) = start_showing(client, plan, show);
            let end = tokio::time::sleep(plan.max_time + Duration::from_secs(30));
            tokio::pin!(end);
            tokio::pin!(interrupted);
            let mut tick = tokio::time::interval(LEASE_RENEW);
            tick.tick().await;
            let r = loop {
                tokio::select! {
                    () = &mut end => break Ok(()),
                    () = &mut interrupted => {
                        tracing::info!("interrupted: removing the capture");
                        break Ok(());
                    }
                    _ = tick.tick() => {
                        if let Err(e) = renew(client, plan, SystemTime::now()).await {
                            tracing::warn!(%e, "cannot renew the run's Lease");
                        }
                    }
                }
            };
            shower.abort();
            // The feed went with the task: the table closes; the terminal is back before
            // the copy may prompt.
            if let Some(closed) = table_closed {
                let _ = tokio::time::timeout(Duration::from_secs(2), closed).await;
            }
            r
        }
        Err(e) => Err(e),
    };
    if result.is_ok() {
        copy_home(client, plan).await;
    }
    let cleaned = cleanup(client, plan.namespace()).await;
    result?;
    cleaned.map(|_| ())
}

/// Starts the task that shows the run (see [`Show`]); with the table, also what fires once the
/// table closed.
fn start_showing(
    client: &Client,
    plan: &Plan,
    show: Show,
) -> (
    tokio::task::JoinHandle<()>,
    Option<tokio::sync::oneshot::Receiver<()>>,
) {
    let (client_, ns) = (client.clone(), plan.namespace().to_string());
    let follow_into = |mut out: Box<dyn std::io::Write + Send>| async move {
        let client = client_;
        loop {
            match follow_to(&client, &ns, std::future::pending(), &mut out).await {
                Ok(()) => return,
                Err(e) => tracing::debug!(%e, "collector log not available yet"),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    };
    match show {
        Show::Metrics(tx) => {
            let (k, v) = render::AGENT_LABEL;
            let task = tokio::spawn(crate::metrics::scrape::run(
                client.clone(),
                plan.namespace().to_string(),
                format!("{k}={v}"),
                Duration::from_secs(2),
                tx,
            ));
            (task, None)
        }
        Show::Log => (tokio::spawn(follow_into(Box::new(std::io::stdout()))), None),
        Show::Table { feed, closed } => (tokio::spawn(follow_into(Box::new(feed))), Some(closed)),
    }
}

/// Follows the collector's log (its progress lines) on standard output until it ends or
/// `interrupted`.
pub async fn follow(
    client: &Client,
    ns: &str,
    interrupted: impl Future<Output = ()>,
) -> Result<(), ClusterError> {
    follow_to(client, ns, interrupted, &mut std::io::stdout()).await
}

/// [`follow`], writing each line to `out` (flushed per line, so a terminal or a test sees it
/// at once). A missing collector pod and one that has not started are told apart from other
/// API errors, since both mean "no capture to follow (yet)" rather than a broken cluster.
pub async fn follow_to<W: std::io::Write>(
    client: &Client,
    ns: &str,
    interrupted: impl Future<Output = ()>,
    out: &mut W,
) -> Result<(), ClusterError> {
    use futures::{AsyncBufReadExt, TryStreamExt};
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), ns);
    let params = kube::api::LogParams {
        follow: true,
        container: Some(render::COLLECTOR.to_string()),
        ..kube::api::LogParams::default()
    };
    let stream = pods
        .log_stream(render::COLLECTOR, &params)
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 404 => ClusterError::NoCollector {
                namespace: ns.to_string(),
            },
            kube::Error::Api(s) if s.code == 400 => ClusterError::CollectorNotReady {
                namespace: ns.to_string(),
                message: s.message.clone(),
            },
            other => api_err("follow the collector")(other),
        })?;
    let mut lines = stream.lines();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            () = &mut interrupted => return Ok(()),
            line = lines.try_next() => match line {
                Ok(Some(l)) => {
                    let written = writeln!(out, "{l}").and_then(|()| out.flush());
                    if let Err(e) = written {
                        // A closed pipe (`follow | head`) ends the command, quietly.
                        tracing::debug!(%e, "output closed");
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    tracing::warn!(%e, "collector log ended");
                    return Ok(());
                }
            }
        }
    }
}

/// Where a foreground run copies the collector's files.
pub const LOCAL_OUTPUT: &str = "output";

/// At the end of a foreground run, before the collector goes: copies its files into
/// [`LOCAL_OUTPUT`] as `--copy` says (asking on a terminal for `prompt`). A failed copy is
/// reported, not fatal: the run's cleanup must still happen.
async fn copy_home(client: &Client, plan: &Plan) {
    use std::io::IsTerminal;
    let wanted = match plan.copy {
        render::CopyHome::No => false,
        render::CopyHome::Yes => true,
        render::CopyHome::Ask if !std::io::stdin().is_terminal() => {
            tracing::info!("no terminal to ask on: the files are not copied (use --copy=true)");
            false
        }
        render::CopyHome::Ask => tokio::task::spawn_blocking(|| {
            use std::io::{BufRead, Write};
            print!("Copy the capture's files into ./{LOCAL_OUTPUT}? [y/N] ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            matches!(line.trim(), "y" | "Y" | "yes")
        })
        .await
        .unwrap_or(false),
    };
    if !wanted {
        return;
    }
    match copy(client, plan.namespace(), std::path::Path::new(LOCAL_OUTPUT)).await {
        Ok(files) => {
            for f in files {
                println!("copied {}", f.display());
            }
        }
        Err(e) => tracing::warn!(%e, "the capture's files were not copied"),
    }
}

/// `copy`: runs `export-output` in the collector pod through `pods/exec` (the WebSocket
/// remote-command stream, as `kubectl cp` does; no kubectl needed) and unpacks its tar stream
/// below `output`. Returns the files written.
pub async fn copy(
    client: &Client,
    ns: &str,
    output: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, ClusterError> {
    use tokio::io::AsyncReadExt;
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), ns);
    let command = [
        "/kubectl-netobserv".to_string(),
        "export-output".to_string(),
        format!("--dir={}", render::COLLECTOR_OUTPUT),
    ];
    let params = kube::api::AttachParams::default()
        .container(render::COLLECTOR)
        .stdin(false)
        .stdout(true)
        .stderr(true);
    let mut process = pods
        .exec(render::COLLECTOR, command, &params)
        .await
        .map_err(api_err(format!(
            "copy: exec into pod {ns}/{}",
            render::COLLECTOR
        )))?;
    let status = process.take_status();
    let (mut stdout, mut stderr) = (process.stdout(), process.stderr());
    let read_out = async {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            s.read_to_end(&mut buf).await?;
        }
        Ok::<_, std::io::Error>(buf)
    };
    let read_err = async {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            s.read_to_end(&mut buf).await?;
        }
        Ok::<_, std::io::Error>(buf)
    };
    let (tar, err) = tokio::join!(read_out, read_err);
    let tar = tar.map_err(|e| ClusterError::Copy(format!("reading the stream: {e}")))?;
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    let _ = process.join().await;
    if let Some(st) = status.filter(|s| s.status.as_deref() != Some("Success")) {
        let stderr = String::from_utf8_lossy(&err.unwrap_or_default())
            .trim()
            .to_string();
        return Err(ClusterError::Copy(format!(
            "the collector could not pack {}: {}{}",
            render::COLLECTOR_OUTPUT,
            st.message.unwrap_or_default(),
            if stderr.is_empty() {
                String::new()
            } else {
                format!(" ({stderr})")
            }
        )));
    }
    crate::transfer::unpack(tar.as_slice(), output).map_err(|e| ClusterError::Copy(e.to_string()))
}

/// What the cluster offers `metrics`: ServiceMonitors (the Prometheus Operator's CRD is
/// served) and the OpenShift console's dashboard namespace. Anything unreadable counts as
/// absent: the capture then runs without them.
pub async fn detect_monitoring(client: &Client) -> render::Monitoring {
    let service_monitor = client
        .list_api_group_resources("monitoring.coreos.com/v1")
        .await
        .is_ok_and(|r| r.resources.iter().any(|r| r.name == "servicemonitors"));
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let dashboard = namespaces
        .get_opt(render::monitoring::DASHBOARD_NAMESPACE)
        .await
        .is_ok_and(|n| n.is_some());
    render::Monitoring {
        service_monitor,
        dashboard,
    }
}
