//! Prometheus metrics of the operator itself: reconcile count, errors and duration.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// Label of the error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Error category.
    pub error: String,
}

/// The operator's metrics, registered once and shared by the reconcilers.
#[derive(Debug)]
pub struct Metrics {
    /// Reconciles started.
    pub reconciles: Counter,
    /// Reconcile failures, by cause.
    pub failures: Family<ErrorLabels, Counter>,
    /// Reconcile duration in seconds.
    pub duration: Histogram,
    /// Failed LIST or WATCH of FlowCollectors (CRD missing, API server unreachable).
    pub watch_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            reconciles: Counter::default(),
            failures: Family::default(),
            duration: Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]),
            watch_failures: Counter::default(),
        }
    }
}

impl Metrics {
    /// Registers the metrics (prefix `netobserv_operator_`).
    pub fn register(self, registry: &mut Registry) -> Self {
        let sub = registry.sub_registry_with_prefix("netobserv_operator");
        sub.register(
            "reconciliations",
            "Reconciliations started",
            self.reconciles.clone(),
        );
        sub.register(
            "reconcile_failures",
            "Reconciliations that failed, by cause",
            self.failures.clone(),
        );
        sub.register(
            "reconcile_duration_seconds",
            "Duration of reconciliations",
            self.duration.clone(),
        );
        sub.register(
            "flowcollector_watch_failures",
            "Failed lists or watches of FlowCollectors (CRD missing, API server unreachable)",
            self.watch_failures.clone(),
        );
        self
    }

    /// Records the end of a reconcile.
    pub fn observe(&self, elapsed: Duration, error: Option<&crate::Error>) {
        self.duration.observe(elapsed.as_secs_f64());
        if let Some(e) = error {
            self.failures
                .get_or_create(&ErrorLabels {
                    error: e.metric_label().to_string(),
                })
                .inc();
        }
    }
}
