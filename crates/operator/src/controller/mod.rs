//! The FlowCollector reconciler: renders the desired objects, applies them with server-side
//! apply, prunes what is no longer desired, reads the workloads back and writes the status.
//!
//! One reconciler owns the whole FlowCollector because every component shares the single status
//! (one aggregate `Ready`); the per-concern split lives in [`crate::render`], where each component
//! has its own pure render function.

pub mod apply;
pub mod cache;
pub mod certs;
pub mod discovery;
pub mod flowmetric;
pub mod observe;
pub mod observed;
pub mod run;
pub mod status;

pub use run::{WatchHealth, run};

use crate::error::{Error, Result};
use crate::images::Images;
use crate::metrics::Metrics;
use crate::render::{self, ManagedKind, ObjectKey};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource, ResourceExt};
use netobserv_api::crd::FLOWCOLLECTOR_NAME;
use netobserv_api::v1alpha1::FlowMetric;
use netobserv_api::v1beta2::{
    ComponentState, DeploymentModel, FlowCollector, FlowCollectorComponentsStatus,
    FlowCollectorStatus,
};
use netobserv_api::validate::{ClusterFacts, Issue, Report, validate};
use observed::{Decoded, ObservedFlowCollector};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use tracing::{info, instrument, warn};

/// Requeue delay while something is rolling out or unhealthy.
pub const REQUEUE_BUSY: Duration = Duration::from_secs(30);
/// Requeue delay when everything is fine (drift repair also comes from the owned watches).
pub const REQUEUE_IDLE: Duration = Duration::from_secs(300);

/// When to look again without a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requeue {
    /// While something is rolling out or unhealthy.
    pub busy: Duration,
    /// When everything is fine.
    pub idle: Duration,
}

impl Default for Requeue {
    fn default() -> Self {
        Self {
            busy: REQUEUE_BUSY,
            idle: REQUEUE_IDLE,
        }
    }
}

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
    /// Requeue delays.
    pub requeue: Requeue,
    /// Health of the main watch (readiness), shared with the health server.
    pub health: Arc<WatchHealth>,
    /// Watch-backed caches, set when the controller starts (empty: everything asked from the API).
    pub caches: std::sync::OnceLock<cache::Caches>,
}

impl Context {
    /// The watch caches (empty before the controller runs, as in unit tests).
    pub fn caches(&self) -> &cache::Caches {
        static NONE: std::sync::OnceLock<cache::Caches> = std::sync::OnceLock::new();
        self.caches
            .get()
            .unwrap_or_else(|| NONE.get_or_init(cache::Caches::default))
    }

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
            requeue: Requeue::default(),
            health: Arc::new(WatchHealth::default()),
            caches: std::sync::OnceLock::new(),
        }
    }
}

/// The reconcile entry point, as kube-runtime calls it.
#[instrument(skip_all, fields(name = %fc.name_any()))]
pub async fn reconcile(fc: Arc<FlowCollector>, ctx: Arc<Context>) -> Result<Action> {
    let start = Instant::now();
    ctx.metrics.reconciles.inc();
    let result = reconcile_inner(&fc, &ctx, Vec::new()).await;
    let result = deleted_meanwhile(result, &fc, &ctx).await;
    ctx.metrics.observe(start.elapsed(), result.as_ref().err());
    result
}

/// A reconcile that ran into `NotFound` (a namespace deleted under it) because the FlowCollector
/// itself was deleted meanwhile is not a failure: its children are being garbage-collected.
async fn deleted_meanwhile(
    result: Result<Action>,
    fc: &FlowCollector,
    ctx: &Context,
) -> Result<Action> {
    let Err(Error::Kube(kube::Error::Api(e))) = &result else {
        return result;
    };
    if e.code != 404 {
        return result;
    }
    match Api::<ObservedFlowCollector>::all(ctx.client.clone())
        .get_opt(&fc.name_any())
        .await
    {
        Ok(None) => {
            info!(name = %fc.name_any(), "FlowCollector deleted during its reconcile; stopping");
            Ok(Action::await_change())
        }
        _ => result,
    }
}

/// The controller's entry point: the watched object decoded leniently (see [`observed`]). A
/// v1beta1-shaped object stored without conversion is reconciled from its converted form with a
/// warning; an object that decodes neither way is reported (log, Event, status) and left alone.
pub async fn reconcile_observed(
    obs: Arc<ObservedFlowCollector>,
    ctx: Arc<Context>,
) -> Result<Action> {
    match &obs.decoded {
        Decoded::Current(fc) => reconcile(Arc::new((**fc).clone()), ctx).await,
        Decoded::FromV1beta1(fc, why) => {
            warn!(name = %obs.name_any(), reason = %why, "FlowCollector is stored in its v1beta1 form (no conversion webhook); reconciling its v1beta2 conversion");
            let note = Issue::new(
                why.path.clone(),
                format!(
                    "stored in the v1beta1 form ({}); reconciled from its conversion to v1beta2: re-apply it as flows.netobserv.io/v1beta2 or install the conversion webhook",
                    why.message
                ),
            );
            let start = Instant::now();
            ctx.metrics.reconciles.inc();
            let result = reconcile_inner(fc, &ctx, vec![note]).await;
            let result = deleted_meanwhile(result, fc, &ctx).await;
            ctx.metrics.observe(start.elapsed(), result.as_ref().err());
            result
        }
        Decoded::Invalid(why) => {
            ctx.metrics.reconciles.inc();
            ctx.metrics
                .failures
                .get_or_create(&crate::metrics::ErrorLabels {
                    error: "decode".into(),
                })
                .inc();
            report_undecodable(&obs, why, &ctx).await;
            Ok(Action::await_change())
        }
    }
}

/// Tells the user, in the three places they look, that the object cannot be read: a WARN log
/// naming the object and field (not the object's JSON), a Warning Event, and the
/// `ConfigurationIssue` condition.
async fn report_undecodable(
    obs: &ObservedFlowCollector,
    why: &observed::DecodeError,
    ctx: &Context,
) {
    let name = obs.name_any();
    warn!(%name, field = %why.path, error = %why.message, "cannot decode FlowCollector; leaving its components as they are");
    let message = format!("cannot decode the FlowCollector: {why}");
    let reference = obs.object_ref(&());
    let event = Event {
        type_: EventType::Warning,
        reason: "InvalidFlowCollector".to_string(),
        note: Some(message.clone()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &reference).await {
        warn!(error = %e, "cannot publish event");
    }
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let status = serde_json::json!({"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "Failure", "message": message,
         "lastTransitionTime": now, "observedGeneration": obs.metadata.generation},
        {"type": "ConfigurationIssue", "status": "True", "reason": "Error", "message": message,
         "lastTransitionTime": now, "observedGeneration": obs.metadata.generation},
    ]}});
    if let Err(e) = Api::<ObservedFlowCollector>::all(ctx.client.clone())
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
    {
        warn!(error = %e, "cannot write the FlowCollector status");
    }
}

/// Backoff on errors: retried after a short delay, logged once per failure.
pub fn error_policy(fc: Arc<ObservedFlowCollector>, error: &Error, _ctx: Arc<Context>) -> Action {
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

async fn reconcile_inner(fc: &FlowCollector, ctx: &Context, notes: Vec<Issue>) -> Result<Action> {
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
    let mut report = validate(fc, &facts);
    report.warnings.extend(notes);

    let ns = render::namespace(&fc.spec).to_string();
    let all_flow_metrics = list_flow_metrics(ctx).await;
    let components = if report.is_valid() {
        let flow_metrics: Vec<FlowMetric> = all_flow_metrics
            .iter()
            .filter(|fm| fm.metadata.namespace.as_deref() == Some(ns.as_str()))
            .cloned()
            .collect();
        let synced = sync_components(fc, ctx, &facts, &flow_metrics, &uid, &mut report).await?;
        Some(synced)
    } else {
        warn!(errors = %report.error_message(), "invalid FlowCollector; keeping running components");
        None
    };

    flowmetric::write_statuses(&ctx.client, &all_flow_metrics, &ns, report.is_valid()).await;
    write_status(fc, ctx, &facts, &report, components).await
}

/// Every FlowMetric (the cache's, else listed; none when the CRD is missing or the list fails:
/// the render goes on without them).
async fn list_flow_metrics(ctx: &Context) -> Vec<FlowMetric> {
    match ctx.caches().flow_metrics() {
        Some(cached) => cached,
        None => match Api::<FlowMetric>::all(ctx.client.clone())
            .list(&ListParams::default())
            .await
        {
            Ok(list) => list.items,
            Err(kube::Error::Api(e)) if e.code == 404 => Vec::new(),
            Err(e) => {
                warn!(error = %e, "cannot list FlowMetrics; rendering without them");
                Vec::new()
            }
        },
    }
}

/// Brings the cluster to the valid FlowCollector's desired state (certificates, objects,
/// console registration, pruning) and observes the components' state.
async fn sync_components(
    fc: &FlowCollector,
    ctx: &Context,
    facts: &ClusterFacts,
    flow_metrics: &[FlowMetric],
    uid: &str,
    report: &mut Report,
) -> Result<FlowCollectorComponentsStatus> {
    let client = &ctx.client;
    let ns = render::namespace(&fc.spec).to_string();
    let rendered = render::render_all(fc, facts, &ctx.images, flow_metrics)?;
    let mut desired = rendered.objects;
    let cert_plan = render::certs::plan(&render::Inputs {
        fc,
        facts,
        images: &ctx.images,
        flow_metrics,
        copies: &Default::default(),
    });
    // Certificates first, so the workloads' watched-volume digests see them.
    let mut issued = certs::issue(client, &cert_plan, &ns).await?;
    for obj in &mut issued {
        render::mark_managed(obj, fc);
    }
    desired.splice(0..0, issued);
    let keys = apply_desired(fc, client, &desired, &rendered.copies, report).await?;
    register_console_plugin(fc, client, &keys).await;
    prune(ctx, facts, &keys, uid).await?;
    let observed = observe::observe(client, ctx.caches(), fc, &keys).await?;
    Ok(status::components(&observed))
}

/// Applies `desired` and the certificate `copies`; returns the keys of what is now desired in
/// the cluster. Referenced Secrets and ConfigMaps that do not exist yet become warnings.
async fn apply_desired(
    fc: &FlowCollector,
    client: &Client,
    desired: &[render::Object],
    copies: &[render::CertCopy],
    report: &mut Report,
) -> Result<BTreeSet<ObjectKey>> {
    let owner = fc.controller_owner_ref(&());
    let mut keys: BTreeSet<ObjectKey> = desired.iter().map(|o| o.key()).collect();
    // Namespaces first (copies land in them), then copies, then everything else.
    let (namespaces, others): (Vec<_>, Vec<_>) = desired
        .iter()
        .partition(|o| o.kind() == ManagedKind::Namespace);
    for obj in namespaces {
        apply::apply(client, obj).await?;
    }
    for copy in copies {
        if apply::copy(client, copy, owner.as_ref()).await? {
            keys.insert(copy.key());
        } else {
            // Named in the status below (the pods mounting the copy wait for it).
            tracing::debug!(
                source = %format!("{}/{}", copy.source_namespace, copy.name),
                "referenced certificate does not exist yet"
            );
        }
    }
    let mut missing = Vec::new();
    for obj in others {
        let mut obj = obj.clone();
        missing.extend(apply::annotate_watched(client, &mut obj).await?);
        apply::apply(client, &obj).await?;
    }
    missing.sort();
    missing.dedup();
    report
        .warnings
        .extend(missing.into_iter().map(|m| Issue::new("", m)));
    Ok(keys)
}

/// Registers the rendered ConsolePlugin in the OpenShift console, unless the user opted out;
/// a failure is only logged (the plugin can be enabled by hand).
async fn register_console_plugin(fc: &FlowCollector, client: &Client, keys: &BTreeSet<ObjectKey>) {
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
}

/// Deletes the managed objects of this FlowCollector that are no longer in `keys`, for every
/// kind whose API the cluster serves.
async fn prune(
    ctx: &Context,
    facts: &ClusterFacts,
    keys: &BTreeSet<ObjectKey>,
    uid: &str,
) -> Result<()> {
    let client = &ctx.client;
    for kind in ManagedKind::ALL {
        if let Some(api) = kind.optional_api()
            && !facts.available_apis.contains(api)
        {
            continue;
        }
        let existing = ctx.caches().managed_or_list(client, *kind).await?;
        for key in apply::prune_set(keys, &existing, uid) {
            info!(object = %key, "pruning object no longer desired");
            apply::delete(client, &key).await?;
        }
    }
    Ok(())
}

/// Writes the status computed from the report and the components when it changed (with an
/// Event per component transition); the requeue delay follows whether something is in progress.
async fn write_status(
    fc: &FlowCollector,
    ctx: &Context,
    facts: &ClusterFacts,
    report: &Report,
    components: Option<FlowCollectorComponentsStatus>,
) -> Result<Action> {
    let transformer = fc.spec.deployment_model == DeploymentModel::Kafka;
    let previous = fc.status.clone();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let mut new = status::compute(
        previous.as_ref(),
        report,
        components,
        transformer,
        fc.metadata.generation,
        now,
    );
    if report.is_valid() {
        new.integrations = Some(status::integrations(&fc.spec, facts));
    }
    if previous.as_ref() != Some(&new) {
        let patch = serde_json::json!({"status": new});
        match Api::<ObservedFlowCollector>::all(ctx.client.clone())
            .patch_status(
                &fc.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {}
            // Deleted while this reconcile ran: its children go with it, nothing to report.
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        }
        transition_events(ctx, fc, previous.as_ref(), &new).await;
    }
    Ok(if status::in_progress(&new) {
        Action::requeue(ctx.requeue.busy)
    } else {
        Action::requeue(ctx.requeue.idle)
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
