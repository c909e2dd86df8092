//! NetworkEvents: keeping the OVS sample collector set registered for the agent's lifetime
//! (without it OVS delivers OVN's samples nowhere), and publishing each outcome in `/status`
//! and the metrics.

use crate::config::Config;
use crate::metrics::{Metrics, OvsCollectorStatus};
use crate::netevents::collector::{CollectorConfig, Registration, SampleCollector};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

fn collector_status(
    c: &CollectorConfig,
    state: &str,
    registered: bool,
    reason: Option<String>,
) -> OvsCollectorStatus {
    OvsCollectorStatus {
        state: state.into(),
        registered,
        socket: c.socket.display().to_string(),
        bridge: c.bridge.clone(),
        set_id: c.set_id,
        local_group_id: c.group_id,
        reason,
    }
}

/// Outcome of the previous registration attempt, so that only changes are logged and published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LastAttempt {
    /// No attempt yet.
    None,
    /// The set was in place and ours.
    Registered,
    /// It failed, for this reason.
    Failed(String),
}

/// One registration attempt (also the periodic check that the set is still there): publishes
/// the outcome in `/status` and the gauge, counts a failure in
/// `errors{component="ovs_collector"}`, and logs only changes from `last`, so periodic attempts
/// neither flood the log nor rewrite a `registered` state that still holds.
async fn try_register(c: &mut SampleCollector, metrics: &Metrics, last: &mut LastAttempt) -> bool {
    let ccfg = c.config().clone();
    let was_ok = *last == LastAttempt::Registered;
    match c.register().await {
        Ok(Registration::AlreadyRegistered { .. }) if was_ok => true,
        Ok(r) => {
            let state = match (&r, was_ok) {
                (Registration::Created { .. }, false) => "registered",
                // It vanished (OVS database reset, someone deleted it) and was put back.
                (Registration::Created { .. }, true) => "re_registered",
                (Registration::AlreadyRegistered { .. }, _) => "already_registered",
            };
            tracing::info!(
                socket = %ccfg.socket.display(),
                bridge = %ccfg.bridge,
                set_id = ccfg.set_id,
                local_group_id = ccfg.group_id,
                uuid = r.uuid(),
                state,
                "NetworkEvents: OVS sample collector set in place"
            );
            metrics.set_ovs_collector(collector_status(&ccfg, state, true, None));
            *last = LastAttempt::Registered;
            true
        }
        Err(e) => {
            let reason = e.to_string();
            if !matches!(last, LastAttempt::Failed(r) if *r == reason) {
                tracing::warn!(
                    socket = %ccfg.socket.display(),
                    error = %reason,
                    "NetworkEvents: cannot register the OVS sample collector set (will retry); \
                     OVS will not deliver OVN samples unless something else registers it"
                );
            } else {
                tracing::debug!(error = %reason, "NetworkEvents: OVS collector set still not registered");
            }
            metrics.count_error("ovs_collector", e.kind(), "high");
            metrics.set_ovs_collector(collector_status(
                &ccfg,
                "error",
                false,
                Some(reason.clone()),
            ));
            *last = LastAttempt::Failed(reason);
            false
        }
    }
}

/// NetworkEvents: registers the OVS sample collector set (without it OVS delivers OVN's samples
/// nowhere). The first attempt is made before `start` returns, so `/status` tells the outcome at
/// once; never fatal. Returns the registrar and the attempt's outcome (see [`try_register`]),
/// or `None` when NetworkEvents is off or the registration is disabled.
pub(crate) async fn register_ovs_collector(
    cfg: &Config,
    metrics: &Metrics,
) -> Option<(SampleCollector, LastAttempt)> {
    let ne = &cfg.network_events;
    if !ne.enable {
        return None;
    }
    let ccfg = CollectorConfig::new(&ne.ovs_socket, ne.group_id);
    if !ne.register_ovs_collector {
        tracing::info!(
            "NetworkEvents: not registering the OVS sample collector set \
             (NETWORK_EVENTS_REGISTER_OVS_COLLECTOR=false)"
        );
        metrics.set_ovs_collector(collector_status(
            &ccfg,
            "disabled",
            false,
            Some("NETWORK_EVENTS_REGISTER_OVS_COLLECTOR=false".into()),
        ));
        return None;
    }
    let mut collector = SampleCollector::new(ccfg);
    let mut last = LastAttempt::None;
    try_register(&mut collector, metrics, &mut last).await;
    Some((collector, last))
}

/// Keeps the collector set registered for the agent's lifetime: every `interval` it registers
/// again, which retries a failed registration (Open vSwitch or br-int not up yet at node boot,
/// another owner's set that may go away) and puts back a set that vanished (OVS database reset),
/// and is a read-only check otherwise. At shutdown it removes the set if it was ever ours
/// (the removal matches our owner only, so it is safe even if the last check failed).
pub(crate) async fn keep_ovs_collector(
    mut c: SampleCollector,
    mut last: LastAttempt,
    interval: Duration,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ever_registered = last == LastAttempt::Registered;
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            r = shutdown.changed() => if r.is_err() { break } else { continue },
        }
        ever_registered |= try_register(&mut c, &metrics, &mut last).await;
    }
    if !ever_registered {
        return;
    }
    let ccfg = c.config().clone();
    match c.unregister().await {
        Ok(n) => {
            tracing::info!(rows = n, "NetworkEvents: OVS sample collector set removed");
            metrics.set_ovs_collector(collector_status(&ccfg, "unregistered", false, None));
        }
        Err(e) => {
            tracing::warn!(error = %e, "NetworkEvents: cannot remove the OVS sample collector set");
            metrics.count_error("ovs_collector", e.kind(), "medium");
            metrics.set_ovs_collector(collector_status(
                &ccfg,
                "error",
                false,
                Some(format!("removing at shutdown: {e}")),
            ));
        }
    }
}
