//! The controller's wiring: what it watches, how a watched child maps to the FlowCollector, and
//! the health of the main watch (readiness and failure metrics come from it).
//!
//! Every managed child maps to the one cluster-scoped `cluster` object. kube-runtime's `owns()`
//! maps a namespaced child to (owner name, child's namespace), which for a cluster-scoped owner
//! names an object that does not exist; a real API server showed three concurrent reconciles per
//! requeue from it (`cluster`, `cluster.netobserv`, `cluster.netobserv-privileged`).

use super::cache::Caches;
use super::observed::ObservedFlowCollector;
use super::{Context, error_policy, reconcile_observed};
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::{debug, info, warn};

/// Whether the main FlowCollector watch currently has a complete list.
#[derive(Debug, Default)]
pub struct WatchHealth {
    listed: AtomicBool,
}

impl WatchHealth {
    /// True once the FlowCollectors were listed, until the watch fails.
    pub fn is_listed(&self) -> bool {
        self.listed.load(Ordering::Relaxed)
    }

    fn observe(
        &self,
        ctx: &Context,
        event: &Result<watcher::Event<ObservedFlowCollector>, watcher::Error>,
    ) {
        match event {
            Ok(watcher::Event::InitDone) => {
                if !self.listed.swap(true, Ordering::Relaxed) {
                    info!("FlowCollectors listed; watching");
                }
            }
            Ok(_) => {}
            Err(error) => {
                self.listed.store(false, Ordering::Relaxed);
                ctx.metrics.watch_failures.inc();
                warn!(%error, "cannot list or watch FlowCollectors (is the FlowCollector CRD installed?); retrying with backoff");
            }
        }
    }
}

/// Runs the controller until `shutdown` resolves: watches FlowCollectors and, for drift repair
/// and status, the managed kinds (labelled `netobserv-managed=true`), the components' pods and
/// FlowMetrics, through the caches the reconcile then reads (see [`super::cache`]).
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let client = ctx.client.clone();
    let apis = ctx.facts.read().await.available_apis.clone();
    let (caches, triggers) = Caches::start(&client, &apis);
    if ctx.caches.set(caches).is_err() {
        warn!("the controller's caches were already set; this context runs a second controller");
    }
    let (reader, writer) = reflector::store::<ObservedFlowCollector>();
    let health_ctx = ctx.clone();
    let main = watcher(
        Api::<ObservedFlowCollector>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .inspect(move |event| health_ctx.health.observe(&health_ctx, event))
    .reflect(writer)
    .applied_objects();
    let mut controller = Controller::for_stream(main, reader);
    for trigger in triggers {
        controller = controller.reconcile_on(trigger);
    }
    controller
        .graceful_shutdown_on(shutdown)
        .run(reconcile_observed, error_policy, ctx)
        .for_each(|res| async move {
            match res {
                Ok((obj, _)) => debug!(object = %obj.name, "reconciled"),
                Err(e) => debug!(error = %e, "controller event"),
            }
        })
        .await;
}
