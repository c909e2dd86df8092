//! The maps user space drains at every eviction: the flow map (after flushing the per-CPU flow
//! cache), the ring buffer's aggregate (merged into the map's flows), the enrichment maps
//! (RTT, drops, DNS, network events, translation) and the kernel counters. Owned apart from the
//! programs so eviction never waits on an attach in progress.

use crate::overflow::RingSide;
use crate::tracer::TracerError;
use aya::Ebpf;
use aya::maps::{HashMap as BpfHashMap, Map, MapData, PerCpuArray};
use netobserv_agent_common::{
    AdditionalMetrics, DnsFlowId, DnsMetrics, FlowId, FlowMetrics, PktDropMetrics, counters, maps,
};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex, PoisonError};

/// Drops of one flow, merged over CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PktDropTotals {
    /// Dropped bytes.
    pub bytes: u64,
    /// Dropped packets.
    pub packets: u64,
    /// OR of the TCP flag bits of dropped packets.
    pub flags: u32,
    /// TCP state at the latest drop.
    pub state: u32,
    /// Kernel drop reason of the latest drop.
    pub cause: u32,
    /// First drop (monotonic ns).
    pub start: u64,
    /// Latest drop (monotonic ns).
    pub end: u64,
    /// EtherType.
    pub eth_protocol: u16,
}

/// DNS per-flow records and outstanding queries.
type DnsMaps = (MapData, BpfHashMap<MapData, DnsFlowId, u64>);

/// The `MapData` of a (shared) hash map taken out of the object.
pub(crate) fn hash_map(ebpf: &mut Ebpf, name: &'static str) -> Result<MapData, TracerError> {
    match ebpf.take_map(name) {
        Some(Map::HashMap(m)) => Ok(m),
        _ => Err(TracerError::Missing(name)),
    }
}

/// The flow map and counters, owned apart from the programs so eviction never waits on an
/// attach in progress.
pub struct FlowMaps {
    pub(crate) flows: MapData,
    pub(crate) additional: Option<MapData>,
    pub(crate) pkt_drops: Option<MapData>,
    pub(crate) dns: Option<DnsMaps>,
    pub(crate) ncpus: usize,
    pub(crate) percpu_batched: bool,
    pub(crate) counters: PerCpuArray<MapData, u32>,
    pub(crate) batched: bool,
    /// Whether the enrichment maps (shared hash maps) drain in batches.
    pub(crate) enrich_batched: bool,
    /// Number of flows the previous drain returned (sizes the next drain's buffer).
    pub(crate) flows_hint: usize,
    pub(crate) network_events: Option<MapData>,
    /// PacketTranslation kernel map, when a kernel method is active.
    pub(crate) xlat: Option<MapData>,
    /// PacketTranslation conntrack listener, when that fallback is active.
    pub(crate) conntrack: Option<crate::conntrack::Listener>,
    /// The per-CPU flow cache's flush, when the cache is on.
    pub(crate) flow_cache: Option<crate::flowcache::FlowCache>,
    /// Flush figures since the last [`FlowMaps::take_flow_cache_report`].
    pub(crate) flow_cache_report: crate::flowcache::FlushReport,
    /// Flushes that failed since the last [`FlowMaps::take_flow_cache_report`].
    pub(crate) flow_cache_errors: u64,
    /// The ring buffer of first packets and overflow, and its aggregate.
    pub(crate) ring: Arc<Mutex<RingSide>>,
    /// Flows the ring brought that the last drain appended (not in the map).
    pub(crate) last_ring_only: usize,
    /// Per counter, the per-CPU values read at the previous [`FlowMaps::take_counters`].
    pub(crate) counters_prev: Vec<Vec<u32>>,
}

/// Drains a shared enrichment map; errors are logged and end the drain (the hook's data for
/// this round is lost, the flows themselves are not).
fn drain_shared<V: Copy + Default>(map: &MapData, batched: &mut bool) -> Vec<(FlowId, V)> {
    let fd = map.fd().as_fd().as_raw_fd();
    match crate::sys::drain_hash_map::<FlowId, V>(fd, batched, 0) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "draining an enrichment map");
            Vec::new()
        }
    }
}

impl FlowMaps {
    /// Moves the per-CPU flow cache's sums into the shared map (nothing when the cache is off).
    /// A failure leaves the sums in the cache for the next round; it is logged, not fatal.
    pub fn flush_flow_cache(&mut self) {
        let Some(cache) = &self.flow_cache else {
            return;
        };
        match cache.flush() {
            Ok(r) => {
                if r.left_busy > 0 {
                    tracing::debug!(
                        slots = r.left_busy,
                        "flow cache slots busy; flushed next round"
                    );
                }
                self.flow_cache_report.add(&r);
            }
            Err(e) => {
                tracing::warn!(error = %e, "flushing the per-CPU flow cache");
                self.flow_cache_errors += 1;
            }
        }
    }

    /// Flush figures and failed flushes since the previous call (for the agent's metrics).
    pub fn take_flow_cache_report(&mut self) -> (crate::flowcache::FlushReport, u64) {
        (
            std::mem::take(&mut self.flow_cache_report),
            std::mem::take(&mut self.flow_cache_errors),
        )
    }

    /// Removes and returns every flow: the kernel map's, after moving the per-CPU flow cache's
    /// sums into it, merged with what the ring buffer brought (read after the map, so a packet
    /// sent to the ring before the map was drained is in this round).
    pub fn drain(&mut self) -> Result<Vec<(FlowId, FlowMetrics)>, TracerError> {
        self.flush_flow_cache();
        let fd = self.flows.fd().as_fd().as_raw_fd();
        // Room for a bit more than the previous drain: a steady load drains in one allocation.
        let hint = self.flows_hint + self.flows_hint / 8;
        let mut out =
            crate::sys::drain_hash_map::<FlowId, FlowMetrics>(fd, &mut self.batched, hint)
                .map_err(|source| TracerError::Io {
                    what: "draining aggregated_flows",
                    source,
                })?;
        // Merged under the ring's lock, in place: the aggregate keeps its allocation for the
        // next period (the ring itself has room for the few milliseconds this takes).
        let ring_only = self.ring_side().merge_into(&mut out);
        self.last_ring_only = ring_only;
        self.flows_hint = out.len();
        Ok(out)
    }

    /// The ring buffer side, shared with the task that keeps the ring drained.
    pub fn ring(&self) -> Arc<Mutex<RingSide>> {
        self.ring.clone()
    }

    fn ring_side(&self) -> std::sync::MutexGuard<'_, RingSide> {
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Flows the last drain found only in the ring buffer's aggregate.
    pub fn last_ring_only(&self) -> usize {
        self.last_ring_only
    }

    /// Entries created in the flow map since the counters were last taken (each eviction takes
    /// them): with the ring's aggregate, what the next eviction will hold, which the agent
    /// watches to evict before the map fills.
    pub fn inserted_since_eviction(&self) -> Result<u64, TracerError> {
        let idx = counters::FLOWS_INSERTED;
        let now = self.read_counter(idx)?;
        let prev = &self.counters_prev[idx as usize];
        Ok(now
            .iter()
            .enumerate()
            .map(|(cpu, n)| u64::from(n.wrapping_sub(prev.get(cpu).copied().unwrap_or(0))))
            .sum())
    }

    /// Removes and returns the RTT enrichment (one shared entry per flow). Empty when FlowRTT
    /// is off.
    pub fn drain_additional(&mut self) -> Vec<(FlowId, AdditionalMetrics)> {
        let Some(map) = self.additional.as_ref() else {
            return Vec::new();
        };
        let mut out = drain_shared::<AdditionalMetrics>(map, &mut self.enrich_batched);
        out.retain(|(_, a)| a.flow_rtt > 0);
        out
    }

    /// Removes and returns the drop records: the drops map's (one shared entry per flow,
    /// counted with atomic adds in the kernel) merged with the flows' first drops, which came
    /// through the ring buffer. Empty when PacketDrop is off.
    pub fn drain_pkt_drops(&mut self) -> Vec<(FlowId, PktDropTotals)> {
        let Some(map) = self.pkt_drops.as_ref() else {
            return Vec::new();
        };
        let mut out: Vec<(FlowId, PktDropTotals)> =
            drain_shared::<PktDropMetrics>(map, &mut self.enrich_batched)
                .into_iter()
                .filter(|(_, v)| v.packets > 0)
                .map(|(k, v)| {
                    (
                        k,
                        PktDropTotals {
                            bytes: v.bytes,
                            packets: u64::from(v.packets),
                            flags: u32::from(v.latest_flags),
                            state: u32::from(v.latest_state),
                            cause: v.latest_drop_cause,
                            start: v.start_mono_time_ts,
                            end: v.end_mono_time_ts,
                            eth_protocol: v.eth_protocol,
                        },
                    )
                })
                .collect();
        // Flows' first drops came through the ring buffer.
        self.ring_side().merge_drops_into(&mut out);
        out
    }

    /// Removes and returns the DNS records (one shared entry per flow) and forgets queries older
    /// than `stale_ns` that never got a response. Empty when DNS tracking is off.
    pub fn drain_dns(&mut self, mono_now: u64, stale_ns: u64) -> Vec<(FlowId, DnsMetrics)> {
        let Some((map, queries)) = self.dns.as_mut() else {
            return Vec::new();
        };
        let out = drain_shared::<DnsMetrics>(map, &mut self.enrich_batched);
        let stale: Vec<DnsFlowId> = queries
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, ts)| mono_now.saturating_sub(*ts) > stale_ns)
            .map(|(k, _)| k)
            .collect();
        for k in stale {
            let _ = queries.remove(&k);
        }
        out
    }

    /// Removes and returns the network events (per-CPU values merged: distinct cookies, summed
    /// counters). Empty when NetworkEvents is off.
    pub fn drain_network_events(&mut self) -> Vec<(FlowId, crate::netevents::NetworkEventsTotals)> {
        match self.network_events.as_ref() {
            Some(map) => crate::netevents::kernel::drain(map, self.ncpus, &mut self.percpu_batched),
            None => Vec::new(),
        }
    }

    /// Kernel id of the network events map (`bpftool map show id N`), when the feature is on.
    /// Lets tests and debugging tools write or inspect exactly what the hook would.
    pub fn network_events_map_id(&self) -> Option<u32> {
        self.network_events
            .as_ref()
            .and_then(|m| m.info().ok())
            .map(|i| i.id())
    }

    /// Removes and returns the PacketTranslation of the given flows (and of flows only the hook
    /// saw): from the kernel map when a kernel method is active, else from the conntrack table.
    /// Empty when PacketTranslation is off.
    pub fn drain_xlat<'a>(
        &mut self,
        flows: impl Iterator<Item = &'a FlowId>,
    ) -> Vec<(FlowId, netobserv_agent_common::XlatMetrics)> {
        let mut out = match self.xlat.as_ref() {
            Some(map) => crate::xlat::drain_map(map, &mut self.enrich_batched),
            None => return Vec::new(),
        };
        if let Some(l) = &self.conntrack {
            if out.is_empty() {
                out = l.table().lookup(flows);
            } else {
                let seen: std::collections::HashSet<FlowId> = out.iter().map(|(k, _)| *k).collect();
                out.extend(l.table().lookup(flows.filter(|f| !seen.contains(*f))));
            }
        }
        out
    }

    /// The conntrack table of the PacketTranslation fallback, when it is the active method.
    pub fn conntrack_table(&self) -> Option<std::sync::Arc<crate::conntrack::Table>> {
        self.conntrack.as_ref().map(|l| l.table().clone())
    }

    /// Writes one entry into the PacketTranslation kernel map, as the kernel hook would: lets
    /// tests and diagnostics exercise the drain/merge/export path on kernels where the hook
    /// cannot attach. Fails when PacketTranslation is off.
    pub fn inject_xlat(
        &mut self,
        id: &FlowId,
        value: netobserv_agent_common::XlatMetrics,
    ) -> Result<(), TracerError> {
        let map = self
            .xlat
            .as_ref()
            .ok_or(TracerError::Missing(maps::AGGREGATED_FLOWS_XLAT))?;
        crate::sys::update_elem(map.fd().as_fd().as_raw_fd(), id, &value).map_err(|source| {
            TracerError::Io {
                what: "writing aggregated_flows_xlat",
                source,
            }
        })
    }

    /// The global counters' increments since the previous call, summed over CPUs. The kernel's
    /// per-CPU counters are never reset (a reset between the read and the write would lose
    /// whatever the programs counted in between); the previous readings are kept instead and
    /// the difference taken, with wrap-around.
    pub fn take_counters(&mut self) -> Result<[u64; counters::MAX_COUNTERS as usize], TracerError> {
        let mut out = [0u64; counters::MAX_COUNTERS as usize];
        for (i, slot) in out.iter_mut().enumerate() {
            let now = self.read_counter(i as u32)?;
            let prev = &mut self.counters_prev[i];
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

    /// One counter's per-CPU values.
    fn read_counter(&self, idx: u32) -> Result<Vec<u32>, TracerError> {
        let values = self
            .counters
            .get(&idx, 0)
            .map_err(|source| TracerError::Map {
                name: maps::GLOBAL_COUNTERS,
                source,
            })?;
        Ok(values.iter().copied().collect())
    }
}
