//! Conntrack's operational metrics (`conntrack_*`), shared by the workers' copies of the stage.
//!
//! Each copy counts into a private [`Tallies`] while it processes a batch and adds it to the
//! shared [`ConntrackMetrics`] once at the end of the batch: one lock per batch, none per flow.
//! The connection gauge is kept as signed deltas, so the copies' contributions add up to the
//! number of connections all workers hold.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// How an input record was classified (`conntrack_input_records{classification}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    /// The record could not be tracked (kept for upstream's label set; this stage evicts
    /// instead of discarding, so it stays 0).
    Discarded = 0,
    /// A key field was missing: the record is not part of any connection.
    Rejected = 1,
    /// The record is a duplicate report (`Duplicate: true`), not added to its connection.
    Duplicate = 2,
    /// The record opened a new connection.
    NewConnection = 3,
}

/// Labels of [`Classification`], by index.
pub const CLASSIFICATIONS: [&str; 4] = ["discarded", "rejected", "duplicate", "newConnection"];

/// Output record types, by index (`conntrack_output_records{type}`).
pub const RECORD_TYPES: [&str; 4] = ["newConnection", "heartbeat", "endConnection", "flowLog"];

/// TCP flag actions, by index (`conntrack_tcp_flags{action}`).
pub const TCP_ACTIONS: [&str; 2] = ["detectEndConnection", "swapAB"];

/// Why a connection ended (`conntrack_end_connections{reason}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// No flow for the group's `endConnectionTimeout`.
    Timeout,
    /// A FIN or RST was seen and the `terminatingTimeout` passed.
    FinFlag,
    /// The table was full (`maxConnectionsTracked`): the connection closest to its end made
    /// room for a new one.
    Evicted,
}

impl EndReason {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::FinFlag => "FIN_flag",
            EndReason::Evicted => "max_connections",
        }
    }
}

/// Connection phases of the memory gauge.
pub const PHASES: [&str; 2] = ["active", "terminating"];

/// Counts of one stage copy since its last flush, or (in [`ConntrackMetrics`]) since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tallies {
    /// Input records by [`CLASSIFICATIONS`] index.
    pub input: [u64; 4],
    /// Output records by [`RECORD_TYPES`] index.
    pub output: [u64; 4],
    /// TCP flag actions by [`TCP_ACTIONS`] index.
    pub tcp_flags: [u64; 2],
    /// Records whose key could not be computed, by missing field.
    pub hash_errors: BTreeMap<String, u64>,
    /// Output field inputs missing (with `reportMissing`) or not numeric, by field.
    pub aggregator_errors: BTreeMap<String, u64>,
    /// Ended connections by (scheduling group, reason).
    pub ends: BTreeMap<(String, &'static str), u64>,
    /// Change of the connections held, by (scheduling group, phase).
    pub memory: BTreeMap<(String, &'static str), i64>,
}

impl Tallies {
    fn is_empty(&self) -> bool {
        *self == Tallies::default()
    }

    fn add(&mut self, other: &Tallies) {
        for (a, b) in self.input.iter_mut().zip(other.input) {
            *a += b;
        }
        for (a, b) in self.output.iter_mut().zip(other.output) {
            *a += b;
        }
        for (a, b) in self.tcp_flags.iter_mut().zip(other.tcp_flags) {
            *a += b;
        }
        for (k, v) in &other.hash_errors {
            *self.hash_errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.aggregator_errors {
            *self.aggregator_errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.ends {
            *self.ends.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.memory {
            *self.memory.entry(k.clone()).or_default() += v;
        }
    }
}

/// The totals every copy of a conntrack stage adds to.
#[derive(Debug, Default)]
pub struct ConntrackMetrics {
    totals: Mutex<Tallies>,
}

impl ConntrackMetrics {
    /// Adds a copy's counts and resets them.
    pub fn flush(&self, pending: &mut Tallies) {
        if pending.is_empty() {
            return;
        }
        let mut totals = self.totals.lock().unwrap_or_else(PoisonError::into_inner);
        totals.add(pending);
        *pending = Tallies::default();
    }

    /// The totals so far (the memory entries are the connections held now).
    pub fn snapshot(&self) -> Tallies {
        self.totals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Connections held now, summed over groups, phases and workers.
    pub fn connections(&self) -> i64 {
        self.snapshot().memory.values().sum()
    }

    /// Ended connections for `reason`, summed over groups.
    pub fn ended(&self, reason: EndReason) -> u64 {
        self.snapshot()
            .ends
            .iter()
            .filter(|((_, r), _)| *r == reason.as_str())
            .map(|(_, n)| n)
            .sum()
    }
}

/// The metrics of every conntrack stage of a graph, by stage name, shared by the workers'
/// copies and read by the `/metrics` endpoint.
#[derive(Clone, Debug, Default)]
pub struct ConntrackRegistry {
    stages: Arc<Mutex<BTreeMap<String, Arc<ConntrackMetrics>>>>,
}

impl ConntrackRegistry {
    /// The metrics of stage `name`, created on first use (reloaded copies keep counting into
    /// the same totals).
    pub fn stage(&self, name: &str) -> Arc<ConntrackMetrics> {
        let mut stages = self.stages.lock().unwrap_or_else(PoisonError::into_inner);
        stages.entry(name.to_string()).or_default().clone()
    }

    /// The totals over every stage.
    pub fn totals(&self) -> Tallies {
        let stages = self.stages.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Tallies::default();
        for m in stages.values() {
            out.add(&m.snapshot());
        }
        out
    }

    /// Whether any conntrack stage was built.
    pub fn is_empty(&self) -> bool {
        self.stages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}
