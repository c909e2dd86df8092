//! The kernel's global counters (`global_counters`, per CPU): read as increments since the
//! previous reading, and published as metrics (losses as counted, logged figures).

use crate::error::{TracerError, take_typed_map};
use crate::metrics::Metrics;
use aya::Ebpf;
use aya::maps::{MapData, PerCpuArray};
use netobserv_agent_common::{counters, maps};

/// Increments of every counter over one period, summed over CPUs, indexed by
/// `netobserv_agent_common::counters`.
pub type Counts = [u64; counters::MAX_COUNTERS as usize];

/// The counters map and the previous per-CPU readings.
pub(crate) struct KernelCounters {
    map: PerCpuArray<MapData, u32>,
    /// Per counter, the per-CPU values read at the previous [`KernelCounters::take`].
    prev: Vec<Vec<u32>>,
}

impl KernelCounters {
    /// Takes the counters map out of the object.
    pub(crate) fn from_object(ebpf: &mut Ebpf) -> Result<Self, TracerError> {
        Ok(Self {
            map: take_typed_map(ebpf, maps::GLOBAL_COUNTERS)?,
            prev: vec![Vec::new(); counters::MAX_COUNTERS as usize],
        })
    }

    /// The increments since the previous call, summed over CPUs. The kernel's per-CPU counters
    /// are never reset (a reset between the read and the write would lose whatever the programs
    /// counted in between); the previous readings are kept instead and the difference taken,
    /// with wrap-around.
    pub(crate) fn take(&mut self) -> Result<Counts, TracerError> {
        let mut out = [0u64; counters::MAX_COUNTERS as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            let now = self.read(i as u32)?;
            let prev = &mut self.prev[i];
            prev.resize(now.len(), 0);
            *slot = now
                .iter()
                .zip(prev.iter())
                .map(|(n, p)| u64::from(n.wrapping_sub(*p)))
                .sum();
            *prev = now;
        }
        Ok(out)
    }

    /// Increments of counter `idx` since the previous [`KernelCounters::take`], without taking
    /// them.
    pub(crate) fn since_take(&self, idx: u32) -> Result<u64, TracerError> {
        let now = self.read(idx)?;
        let prev = &self.prev[idx as usize];
        Ok(now
            .iter()
            .enumerate()
            .map(|(cpu, n)| u64::from(n.wrapping_sub(prev.get(cpu).copied().unwrap_or(0))))
            .sum())
    }

    /// One counter's per-CPU values.
    fn read(&self, idx: u32) -> Result<Vec<u32>, TracerError> {
        let values = self.map.get(&idx, 0).map_err(|source| TracerError::Map {
            name: maps::GLOBAL_COUNTERS,
            source,
        })?;
        Ok(values.iter().copied().collect())
    }
}

/// Turns the kernel counters of one eviction period into metrics, and losses into counted,
/// logged figures; `ringbuf_bytes` names the ring's size in the loss message.
pub(crate) fn publish(metrics: &Metrics, c: &Counts, ringbuf_bytes: u32) {
    let lost = c[counters::RINGBUF_LOST_RECORDS as usize];
    let lost_packets = c[counters::RINGBUF_LOST_PACKETS as usize];
    metrics.report_loss(
        &crate::losses::RINGBUF_FULL,
        lost,
        Some(lost_packets),
        &format!(" (ring buffer of {ringbuf_bytes} bytes)"),
    );
    metrics.report_loss(
        &crate::losses::DNS_MAP_FULL,
        c[counters::HASHMAP_FAIL_UPDATE_DNS as usize],
        None,
        "",
    );
    metrics.report_loss(
        &crate::losses::TLS_MAP_FULL,
        c[counters::HASHMAP_FAIL_UPDATE_TLS as usize],
        None,
        "",
    );
    metrics.report_loss(
        &crate::losses::QUIC_MAP_FULL,
        c[counters::HASHMAP_FAIL_UPDATE_QUIC as usize],
        None,
        "",
    );
    metrics.report_loss(
        &crate::losses::DROPS_MAP_FULL,
        c[counters::HASHMAP_FAIL_UPDATE_DROPS as usize],
        None,
        "",
    );
    for (idx, reason) in [
        (counters::RINGBUF_FIRST_PACKET, "first_packet"),
        (counters::RINGBUF_MAP_FULL, "map_full"),
        (counters::RINGBUF_FIRST_DROP, "first_drop"),
    ] {
        let v = c[idx as usize];
        if v > 0 {
            metrics
                .ringbuf_records
                .get_or_create(&vec![("reason".into(), reason.into())])
                .inc_by(v);
        }
    }
    if c[counters::RINGBUF_MAP_FULL as usize] > 0 {
        tracing::debug!(
            records = c[counters::RINGBUF_MAP_FULL as usize],
            "flow map full: packets went through the ring buffer"
        );
    }
    for (idx, reason) in [
        (counters::FILTER_REJECT, "FilterReject"),
        (counters::FILTER_ACCEPT, "FilterAccept"),
        (counters::FILTER_NOMATCH, "FilterNoMatch"),
    ] {
        let v = c[idx as usize];
        if v > 0 {
            metrics
                .filtered
                .get_or_create(&vec![
                    ("source".into(), "ebpf".into()),
                    ("reason".into(), reason.into()),
                ])
                .inc_by(v);
        }
    }
    metrics
        .sampled_out_packets
        .inc_by(c[counters::SAMPLED_OUT as usize]);
    publish_network_events(metrics, c);
    let missed = c[counters::OBSERVED_INTF_MISSED as usize];
    if missed > 0 {
        metrics
            .errors
            .get_or_create(&vec![
                ("component".into(), "ebpf".into()),
                ("error".into(), "MaxObservedInterfacesReached".into()),
                ("severity".into(), "low".into()),
            ])
            .inc_by(missed);
    }
}

/// Publishes the NetworkEvents kernel counters: `network_events_total{source="ebpf", reason}`,
/// plus overflow and oversized cookies as `errors_total`, as upstream names them.
fn publish_network_events(metrics: &Metrics, c: &[u64]) {
    for (idx, reason) in [
        (counters::NETWORK_EVENTS_GOOD, "Good"),
        (counters::NETWORK_EVENTS_ERR, "Error"),
        (
            counters::NETWORK_EVENTS_ERR_GROUPID_MISMATCH,
            "GroupIDMismatch",
        ),
        (
            counters::NETWORK_EVENTS_ERR_UPDATE_MAP_FLOWS,
            "CannotUpdateMap",
        ),
        (counters::NETWORK_EVENTS_OVERFLOW, "Overflow"),
        (counters::NETWORK_EVENTS_COOKIE_TOO_BIG, "CookieTooBig"),
    ] {
        let v = c.get(idx as usize).copied().unwrap_or(0);
        if v > 0 {
            metrics
                .network_events
                .get_or_create(&vec![
                    ("source".into(), "ebpf".into()),
                    ("reason".into(), reason.into()),
                ])
                .inc_by(v);
        }
    }
    for (idx, error) in [
        (counters::NETWORK_EVENTS_OVERFLOW, "EventsOverflow"),
        (counters::NETWORK_EVENTS_COOKIE_TOO_BIG, "CookieTooBig"),
    ] {
        let v = c.get(idx as usize).copied().unwrap_or(0);
        if v > 0 {
            metrics
                .errors
                .get_or_create(&vec![
                    ("component".into(), "ebpf".into()),
                    ("error".into(), error.into()),
                    ("severity".into(), "low".into()),
                ])
                .inc_by(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_event_kernel_counters_become_metrics() {
        let m = Metrics::new("ebpf_agent_");
        let mut c = [0u64; counters::MAX_COUNTERS as usize];
        c[counters::NETWORK_EVENTS_GOOD as usize] = 5;
        c[counters::NETWORK_EVENTS_ERR_GROUPID_MISMATCH as usize] = 2;
        c[counters::NETWORK_EVENTS_OVERFLOW as usize] = 1;
        publish_network_events(&m, &c);
        let text = m.encode();
        for line in [
            "ebpf_agent_network_events_total{source=\"ebpf\",reason=\"Good\"} 5",
            "ebpf_agent_network_events_total{source=\"ebpf\",reason=\"GroupIDMismatch\"} 2",
            "ebpf_agent_network_events_total{source=\"ebpf\",reason=\"Overflow\"} 1",
            "ebpf_agent_errors_total{component=\"ebpf\",error=\"EventsOverflow\",severity=\"low\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("CookieTooBig"), "{text}");
    }
}
