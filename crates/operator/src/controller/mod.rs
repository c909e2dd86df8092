//! The FlowCollector reconciler: renders the desired objects, applies them with server-side
//! apply, prunes what is no longer desired, reads the workloads back and writes the status.
//!
//! One reconciler owns the whole FlowCollector because every component shares the single status
//! (one aggregate `Ready`); the per-concern split lives in [`crate::render`], where each component
//! has its own pure render function.

pub mod apply;
pub mod discovery;
pub mod status;

use crate::error::{Error, Result};
use crate::images::Images;
use crate::metrics::Metrics;
use crate::render::{self, ManagedKind, ObjectKey};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use netobserv_api::crd::FLOWCOLLECTOR_NAME;
use netobserv_api::v1alpha1::FlowMetric;
use netobserv_api::v1beta2::{ComponentState, DeploymentModel, FlowCollector, FlowCollectorStatus};
use netobserv_api::validate::{ClusterFacts, validate};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use tracing::{info, instrument, warn};

/// Requeue delay while something is rolling out or unhealthy.
pub const REQUEUE_BUSY: Duration = Duration::from_secs(30);
/// Requeue delay when everything is fine (drift repair also comes from the owned watches).
pub const REQUEUE_IDLE: Duration = Duration::from_secs(300);

/// Shared state of the reconciler.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Operator metrics.
    pub metrics: Arc<Metrics>,
    /// Cluster facts, refreshed by the discovery loop.
    pub facts: Arc<RwLock<ClusterFacts>>,
    /// Operand images.
    pub images: Images,
    /// Event recorder.
    pub recorder: Recorder,
}

impl Context {
    /// A context with the standard event reporter.
    pub fn new(client: Client, metrics: Arc<Metrics>, facts: ClusterFacts, images: Images) -> Self {
        Self::with_shared_facts(client, metrics, Arc::new(RwLock::new(facts)), images)
    }

    /// A context reading facts that something else (the discovery loop, the webhooks) shares.
    pub fn with_shared_facts(
        client: Client,
        metrics: Arc<Metrics>,
        facts: Arc<RwLock<ClusterFacts>>,
        images: Images,
    ) -> Self {
        let reporter = Reporter {
            controller: "netobserv-operator".to_string(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            facts,
            images,
        }
    }
}

/// The reconcile entry point, as kube-runtime calls it.
#[instrument(skip_all, fields(name = %fc.name_any()))]
pub async fn reconcile(fc: Arc<FlowCollector>, ctx: Arc<Context>) -> Result<Action> {
    let start = Instant::now();
    ctx.metrics.reconciles.inc();
    let result = reconcile_inner(&fc, &ctx).await;
    ctx.metrics.observe(start.elapsed(), result.as_ref().err());
    result
}

/// Backoff on errors: retried after a short delay, logged once per failure.
pub fn error_policy(fc: Arc<FlowCollector>, error: &Error, _ctx: Arc<Context>) -> Action {
    warn!(name = %fc.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(15))
}

async fn publish(ctx: &Context, fc: &FlowCollector, type_: EventType, reason: &str, note: String) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &fc.object_ref(&())).await {
        warn!(error = %e, reason, "cannot publish event");
    }
}

async fn reconcile_inner(fc: &FlowCollector, ctx: &Context) -> Result<Action> {
    let name = fc.name_any();
    if name != FLOWCOLLECTOR_NAME {
        warn!(%name, "ignoring FlowCollector not named `cluster`");
        publish(
            ctx,
            fc,
            EventType::Warning,
            "IgnoredFlowCollector",
            format!("only the FlowCollector named `{FLOWCOLLECTOR_NAME}` is reconciled; `{name}` is ignored"),
        )
        .await;
        return Ok(Action::await_change());
    }
    let uid = fc.uid().ok_or(Error::MissingMetadata("uid"))?;
    let facts = ctx.facts.read().await.clone();
    let report = validate(fc, &facts);
    let client = &ctx.client;
    let transformer = fc.spec.deployment_model == DeploymentModel::Kafka;

    let components = if report.is_valid() {
        let ns = render::namespace(&fc.spec).to_string();
        let flow_metrics = match Api::<FlowMetric>::namespaced(client.clone(), &ns)
            .list(&ListParams::default())
            .await
        {
            Ok(list) => list.items,
            Err(kube::Error::Api(e)) if e.code == 404 => Vec::new(),
            Err(e) => {
                warn!(error = %e, "cannot list FlowMetrics; rendering without them");
                Vec::new()
            }
        };
        let rendered = render::render_all(fc, &facts, &ctx.images, &flow_metrics)?;
        let desired = rendered.objects;
        let owner = fc.controller_owner_ref(&());
        let mut keys: BTreeSet<ObjectKey> = desired.iter().map(|o| o.key()).collect();
        // Namespaces first (copies land in them), then copies, then everything else.
        let (namespaces, others): (Vec<_>, Vec<_>) = desired
            .iter()
            .partition(|o| o.kind() == ManagedKind::Namespace);
        for obj in namespaces {
            apply::apply(client, obj).await?;
        }
        for copy in &rendered.copies {
            if apply::copy(client, copy, owner.as_ref()).await? {
                keys.insert(copy.key());
            } else {
                warn!(
                    source = %format!("{}/{}", copy.source_namespace, copy.name),
                    "referenced certificate does not exist yet; pods mounting it will wait"
                );
            }
        }
        for obj in others {
            let mut obj = obj.clone();
            apply::annotate_watched(client, &mut obj).await?;
            apply::apply(client, &obj).await?;
        }
        let register = fc
            .spec
            .console_plugin
            .advanced
            .as_ref()
            .is_none_or(|a| a.register);
        if register && keys.iter().any(|k| k.kind == ManagedKind::ConsolePlugin) {
            match apply::register_console_plugin(client, render::plugin::PLUGIN_NAME).await {
                Ok(true) => {
                    info!("console plugin registered in consoles.operator.openshift.io/cluster")
                }
                Ok(false) => {}
                Err(e) => warn!(error = %e, "cannot register the console plugin"),
            }
        }
        for kind in ManagedKind::ALL {
            if let Some(api) = kind.optional_api()
                && !facts.available_apis.contains(api)
            {
                continue;
            }
            let existing = apply::list_managed(client, *kind).await?;
            for key in apply::prune_set(&keys, &existing, &uid) {
                info!(object = %key, "pruning object no longer desired");
                apply::delete(client, &key).await?;
            }
        }
        let observed = observe(client, fc, &keys).await?;
        Some(status::components(&observed))
    } else {
        warn!(errors = %report.error_message(), "invalid FlowCollector; keeping running components");
        None
    };

    let previous = fc.status.clone();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let mut new = status::compute(
        previous.as_ref(),
        &report,
        components,
        transformer,
        fc.metadata.generation,
        now,
    );
    if report.is_valid() {
        new.integrations = Some(status::integrations(&fc.spec, &facts));
    }
    if previous.as_ref() != Some(&new) {
        let patch = serde_json::json!({"status": new});
        Api::<FlowCollector>::all(client.clone())
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        transition_events(ctx, fc, previous.as_ref(), &new).await;
    }
    Ok(if status::in_progress(&new) {
        Action::requeue(REQUEUE_BUSY)
    } else {
        Action::requeue(REQUEUE_IDLE)
    })
}

async fn transition_events(
    ctx: &Context,
    fc: &FlowCollector,
    old: Option<&FlowCollectorStatus>,
    new: &FlowCollectorStatus,
) {
    let state = |s: Option<&FlowCollectorStatus>, which: &str| {
        s.and_then(|s| s.components.as_ref())
            .and_then(|c| match which {
                "agent" => c.agent.as_ref(),
                "processor" => c.processor.as_ref(),
                _ => c.plugin.as_ref(),
            })
            .and_then(|c| c.state.map(|st| (st, c.message.clone())))
    };
    for which in ["agent", "processor", "plugin"] {
        let before = state(old, which).map(|(s, _)| s);
        let Some((after, message)) = state(Some(new), which) else {
            continue;
        };
        if before == Some(after) {
            continue;
        }
        match after {
            ComponentState::Failure => {
                publish(
                    ctx,
                    fc,
                    EventType::Warning,
                    "ComponentFailure",
                    format!("{which}: {message}"),
                )
                .await;
            }
            ComponentState::Degraded => {
                publish(
                    ctx,
                    fc,
                    EventType::Warning,
                    "ComponentDegraded",
                    format!("{which}: {message}"),
                )
                .await;
            }
            ComponentState::Ready
                if matches!(
                    before,
                    Some(ComponentState::Failure | ComponentState::Degraded)
                ) =>
            {
                publish(
                    ctx,
                    fc,
                    EventType::Normal,
                    "ComponentRecovered",
                    format!("{which} is ready again"),
                )
                .await;
            }
            _ => {}
        }
    }
}

async fn pods(client: &Client, ns: &str, app: &str) -> Result<Vec<Pod>> {
    Ok(Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await?
        .items)
}

async fn observe(
    client: &Client,
    fc: &FlowCollector,
    desired: &BTreeSet<ObjectKey>,
) -> Result<status::ComponentsObserved> {
    use status::{Observed, Workload};
    let ns = render::namespace(&fc.spec).to_string();
    let pns = render::privileged_namespace(&fc.spec);
    let is_desired = |kind, ns: &str, name: &str| {
        desired.contains(&ObjectKey {
            kind,
            namespace: Some(ns.to_string()),
            name: name.to_string(),
        })
    };
    let daemon_set = |ns: String, name: &'static str| async move {
        let ds = Api::<DaemonSet>::namespaced(client.clone(), &ns)
            .get_opt(name)
            .await?;
        let pods = pods(client, &ns, name).await?;
        Ok::<_, Error>(Observed {
            workload: ds.map_or(Workload::Missing("DaemonSet"), |d| {
                Workload::DaemonSet(Box::new(d))
            }),
            pods,
        })
    };
    let deployment = |ns: String, name: &'static str| async move {
        let d = Api::<Deployment>::namespaced(client.clone(), &ns)
            .get_opt(name)
            .await?;
        let pods = pods(client, &ns, name).await?;
        Ok::<_, Error>(Observed {
            workload: d.map_or(Workload::Missing("Deployment"), |d| {
                Workload::Deployment(Box::new(d))
            }),
            pods,
        })
    };
    use render::agent::AGENT_NAME;
    use render::flp::{FLP_NAME, FLP_TRANSFORMER_NAME};
    use render::plugin::PLUGIN_NAME;
    let agent = if is_desired(ManagedKind::DaemonSet, &pns, AGENT_NAME) {
        daemon_set(pns.clone(), AGENT_NAME).await?
    } else {
        Observed::default()
    };
    let processor = if is_desired(ManagedKind::DaemonSet, &ns, FLP_NAME) {
        daemon_set(ns.clone(), FLP_NAME).await?
    } else if is_desired(ManagedKind::Deployment, &ns, FLP_NAME) {
        deployment(ns.clone(), FLP_NAME).await?
    } else if is_desired(ManagedKind::Deployment, &ns, FLP_TRANSFORMER_NAME) {
        deployment(ns.clone(), FLP_TRANSFORMER_NAME).await?
    } else {
        Observed::default()
    };
    let plugin = if is_desired(ManagedKind::Deployment, &ns, PLUGIN_NAME) {
        deployment(ns.clone(), PLUGIN_NAME).await?
    } else {
        Observed::default()
    };
    Ok(status::ComponentsObserved {
        agent,
        processor,
        plugin,
    })
}

/// Runs the controller until `shutdown` resolves: watches FlowCollectors and, for drift repair,
/// the owned kinds (restricted to objects labelled `netobserv-managed=true`).
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let owned = || watcher::Config::default().labels(&format!("{}=true", render::MANAGED_LABEL));
    Controller::new(
        Api::<FlowCollector>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Namespace>::all(client.clone()), owned())
    .owns(Api::<ServiceAccount>::all(client.clone()), owned())
    .owns(Api::<ClusterRoleBinding>::all(client.clone()), owned())
    .owns(Api::<RoleBinding>::all(client.clone()), owned())
    .owns(Api::<ConfigMap>::all(client.clone()), owned())
    .owns(Api::<Service>::all(client.clone()), owned())
    .owns(Api::<Deployment>::all(client.clone()), owned())
    .owns(Api::<DaemonSet>::all(client.clone()), owned())
    .owns(Api::<HorizontalPodAutoscaler>::all(client.clone()), owned())
    .owns(Api::<NetworkPolicy>::all(client.clone()), owned())
    // FlowMetrics feed the pipeline's metric definitions: any change re-renders `cluster`.
    .watches(
        Api::<FlowMetric>::all(client.clone()),
        watcher::Config::default(),
        |_| Some(ObjectRef::<FlowCollector>::new(FLOWCOLLECTOR_NAME)),
    )
    .graceful_shutdown_on(shutdown)
    .run(reconcile, error_policy, ctx)
    .for_each(|res| async move {
        match res {
            Ok((obj, _)) => tracing::debug!(object = %obj.name, "reconciled"),
            Err(e) => tracing::debug!(error = %e, "reconcile error"),
        }
    })
    .await;
}
