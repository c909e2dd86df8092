//! Flows the agent could not deliver: every way a flow can be lost, with its cause and the
//! setting that would have avoided it, so that a loss is counted (`dropped_flows_total`), shown
//! in `/status` (`flows_lost`) and logged as a rate-limited WARN that says what to raise.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One way flows get lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossReason {
    /// `source` label of `dropped_flows_total`.
    pub source: &'static str,
    /// `reason` label of `dropped_flows_total`.
    pub reason: &'static str,
    /// What happened, for the log and `/status`.
    pub cause: &'static str,
    /// The setting to raise (or what to do) so it does not happen.
    pub remedy: &'static str,
}

/// The kernel's ring buffer was full when a packet had to go through it.
pub const RINGBUF_FULL: LossReason = LossReason {
    source: "ebpf",
    reason: "RingBufferFull",
    cause: "the ring buffer that carries first packets and what the full flow map refused was \
            full: user space did not drain it in time",
    remedy: "raise FLOWS_RINGBUF_BYTES (FlowCollector spec.agent.ebpf.advanced.env; by default \
             derived from CACHE_MAX_FLOWS, spec.agent.ebpf.cacheMaxFlows) or the agent's CPU \
             limit",
};

/// The export queue was full: the collector did not keep up.
pub const EXPORT_QUEUE_FULL: LossReason = LossReason {
    source: "limiter",
    reason: "full",
    cause: "the export queue was full: the collector did not accept flows as fast as they were \
            evicted",
    remedy: "raise EXPORTER_BUFFER_LENGTH (FlowCollector spec.agent.ebpf.advanced.env) or the \
             collector's capacity",
};

/// Batches still unsent when the agent stopped.
pub const EXPORT_SHUTDOWN: LossReason = LossReason {
    source: "exporter",
    reason: "shutdown",
    cause: "the collector could not be reached before the agent stopped",
    remedy: "check the collector (TARGET_HOST, TARGET_PORT)",
};

/// The destination never got the flows: Kafka brokers that did not acknowledge them within the
/// delivery timeout, or an IPFIX collector whose connection failed while they were sent.
pub const EXPORT_SEND_FAILED: LossReason = LossReason {
    source: "exporter",
    reason: "send_failed",
    cause: "the destination did not take the flows (Kafka brokers that did not acknowledge them \
            within the delivery timeout, or a failed connection to the IPFIX collector)",
    remedy: "check the destination (KAFKA_BROKERS, or TARGET_HOST and TARGET_PORT for IPFIX) \
             and its capacity",
};

/// The exporter had stopped.
pub const EXPORT_CLOSED: LossReason = LossReason {
    source: "exporter",
    reason: "closed",
    cause: "the exporter had already stopped",
    remedy: "none: only happens while the agent stops",
};

/// DNS details of a flow could not be kept (the DNS map was full).
pub const DNS_MAP_FULL: LossReason = LossReason {
    source: "ebpf",
    reason: "CannotUpdateDNSHashMap",
    cause: "the DNS map was full: a flow lost its DNS details (the flow itself is kept)",
    remedy: "raise CACHE_MAX_FLOWS, which sizes the DNS map",
};

/// TLS details of a flow could not be kept (the TLS map was full).
pub const TLS_MAP_FULL: LossReason = LossReason {
    source: "ebpf",
    reason: "CannotUpdateTLSHashMap",
    cause: "the TLS map was full: a flow lost its TLS details (the flow itself is kept)",
    remedy: "raise CACHE_MAX_FLOWS, which sizes the TLS map",
};

/// QUIC details of a flow could not be kept (the QUIC map was full).
pub const QUIC_MAP_FULL: LossReason = LossReason {
    source: "ebpf",
    reason: "CannotUpdateQUICHashMap",
    cause: "the QUIC map was full: a flow lost its QUIC details (the flow itself is kept)",
    remedy: "raise CACHE_MAX_FLOWS, which sizes the QUIC map",
};

/// Drop details of a flow could not be kept (the drops map was full).
pub const DROPS_MAP_FULL: LossReason = LossReason {
    source: "ebpf",
    reason: "CannotUpdateDropsHashMap",
    cause: "the packet-drop map was full: a flow lost its drop details (the flow itself is kept)",
    remedy: "raise CACHE_MAX_FLOWS, which sizes the packet-drop map",
};

/// Packet capture: the kernel's `packet_record` ring was full when a packet had to go through it.
pub const PCA_RINGBUF_FULL: LossReason = LossReason {
    source: "ebpf",
    reason: "PacketRingBufferFull",
    cause: "the packet capture ring buffer was full: user space did not read the captured \
            packets in time",
    remedy: "raise PCA_RINGBUF_BYTES, lower PCA_SNAPLEN, narrow FLOW_FILTER_RULES or SAMPLING, \
             or raise the agent's CPU limit",
};

/// Packet capture: the queue of packets waiting for the collector was full.
pub const PCA_QUEUE_FULL: LossReason = LossReason {
    source: "limiter",
    reason: "PacketQueueFull",
    cause: "the packet export queue was full: the collector did not accept packets as fast as \
            they were captured",
    remedy: "raise PCA_EXPORT_QUEUE or PCA_EXPORT_IN_FLIGHT, or the collector's capacity",
};

/// Packet capture: packets still unsent when the agent stopped.
pub const PCA_EXPORT_SHUTDOWN: LossReason = LossReason {
    source: "exporter",
    reason: "PacketsUnsentAtShutdown",
    cause: "the collector could not be reached before the agent stopped",
    remedy: "check the collector (TARGET_HOST, TARGET_PORT)",
};

/// Every way captured packets get lost, in `/status` order.
pub const PACKET_REASONS: [LossReason; 3] = [PCA_RINGBUF_FULL, PCA_QUEUE_FULL, PCA_EXPORT_SHUTDOWN];

/// The `packets_lost` part of `/status` in packet mode.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PacketsLost {
    /// Captured packets lost since the agent started, all reasons.
    pub total: u64,
    /// Per reason, zeros included.
    pub by_reason: Vec<PacketLossCount>,
}

/// One reason in `packets_lost`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PacketLossCount {
    /// `source` label of `dropped_packets_total`.
    pub source: &'static str,
    /// `reason` label.
    pub reason: &'static str,
    /// Packets lost.
    pub packets: u64,
    /// What happened.
    pub cause: &'static str,
    /// What to raise.
    pub remedy: &'static str,
}

/// Every loss reason the agent reports, in `/status` order.
pub const REASONS: [LossReason; 9] = [
    RINGBUF_FULL,
    EXPORT_QUEUE_FULL,
    EXPORT_SHUTDOWN,
    EXPORT_SEND_FAILED,
    EXPORT_CLOSED,
    DNS_MAP_FULL,
    TLS_MAP_FULL,
    QUIC_MAP_FULL,
    DROPS_MAP_FULL,
];

/// The `flows_lost` part of `/status`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FlowsLost {
    /// Flows lost since the agent started, all reasons (DNS and drop details excluded: the
    /// flows themselves were kept).
    pub total: u64,
    /// Per reason, zeros included.
    pub by_reason: Vec<LossCount>,
}

/// One reason in `/status`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LossCount {
    /// `source` label.
    pub source: &'static str,
    /// `reason` label.
    pub reason: &'static str,
    /// Flows (or flow records) lost.
    pub flows: u64,
    /// Packets lost with them, where the kernel counts them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    /// What happened.
    pub cause: &'static str,
    /// What to raise.
    pub remedy: &'static str,
}

/// Whether a reason loses flows (rather than details of kept flows).
pub fn loses_flows(r: &LossReason) -> bool {
    *r != DNS_MAP_FULL && *r != DROPS_MAP_FULL
}

/// When a reason was last logged, and flows and packets lost since.
type Pending = (Option<Instant>, u64, u64);

/// Rate limiter of the loss WARNs: the first loss of a reason is logged at once, later ones at
/// most every `interval`, summed.
#[derive(Debug)]
pub struct LossLog {
    interval: Duration,
    /// Per reason: when it was last logged, flows and packets lost since.
    state: Mutex<HashMap<&'static str, Pending>>,
}

impl Default for LossLog {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl LossLog {
    /// A limiter logging each reason at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::default(),
        }
    }

    /// Notes `flows` (and `packets`) lost for `r`; logs a WARN when due. Returns whether it did.
    pub fn note(&self, r: &LossReason, flows: u64, packets: u64, detail: &str) -> bool {
        if flows == 0 && packets == 0 {
            return false;
        }
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let entry = st.entry(r.reason).or_insert((None, 0, 0));
        entry.1 += flows;
        entry.2 += packets;
        if entry
            .0
            .is_some_and(|t| now.duration_since(t) < self.interval)
        {
            return false;
        }
        let (f, p) = (entry.1, entry.2);
        *entry = (Some(now), 0, 0);
        drop(st);
        if f == 0 {
            tracing::warn!(
                source = r.source,
                reason = r.reason,
                lost_packets = p,
                "packets lost since the last warning: {}{detail}; {}",
                r.cause,
                r.remedy
            );
            return true;
        }
        tracing::warn!(
            source = r.source,
            reason = r.reason,
            lost_flows = f,
            lost_packets = p,
            "flows lost since the last warning: {}{detail}; {}",
            r.cause,
            r.remedy
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_loss_warns_then_later_ones_wait_for_the_interval() {
        let log = LossLog::new(Duration::from_millis(200));
        assert!(log.note(&RINGBUF_FULL, 3, 3, ""));
        assert!(!log.note(&RINGBUF_FULL, 2, 2, ""), "rate-limited");
        assert!(
            log.note(&EXPORT_QUEUE_FULL, 1, 0, ""),
            "reasons are limited apart"
        );
        assert!(
            !log.note(&RINGBUF_FULL, 0, 0, ""),
            "nothing lost, nothing logged"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(log.note(&RINGBUF_FULL, 1, 1, ""));
    }

    #[test]
    fn every_reason_names_a_remedy() {
        for r in REASONS {
            assert!(!r.cause.is_empty() && !r.remedy.is_empty(), "{r:?}");
        }
        assert!(RINGBUF_FULL.remedy.contains("FLOWS_RINGBUF_BYTES"));
        assert!(EXPORT_QUEUE_FULL.remedy.contains("EXPORTER_BUFFER_LENGTH"));
        for r in PACKET_REASONS {
            assert!(!r.cause.is_empty() && !r.remedy.is_empty(), "{r:?}");
            assert!(!REASONS.iter().any(|f| f.reason == r.reason), "{r:?}");
        }
        assert!(PCA_RINGBUF_FULL.remedy.contains("PCA_RINGBUF_BYTES"));
        assert!(PCA_QUEUE_FULL.remedy.contains("PCA_EXPORT_QUEUE"));
    }
}
