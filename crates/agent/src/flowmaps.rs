//! The maps user space drains at every eviction: the flow map (after flushing the per-CPU flow
//! cache), the ring buffer's aggregate (merged into the map's flows), each enabled feature's map
//! (RTT and IPsec, drops, DNS, network events, translation) and the kernel counters. Owned apart from the
//! programs so eviction never waits on an attach in progress. Each feature's map lives in its
//! own module; this one only holds them and drains them in order.

use crate::conntrack::Table as ConntrackTable;
use crate::dns::DnsMaps;
use crate::drops::{DropsMap, PktDropTotals};
use crate::error::{TracerError, take_hash_map};
use crate::flowcache::{CacheReport, CacheSide};
use crate::kcounters::{Counts, KernelCounters};
use crate::netevents::NetworkEventsTotals;
use crate::overflow::RingSide;
use crate::rtt::AdditionalMap;
use crate::xlat::XlatSource;
use aya::Ebpf;
use aya::maps::MapData;
use netobserv_agent_common::{
    AdditionalMetrics, DnsMetrics, FlowId, FlowMetrics, XlatMetrics, counters, maps,
};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex, PoisonError};

/// Each feature's drain side, when the feature is on (see [`FlowMaps::new`]).
pub(crate) struct FeatureMaps {
    pub(crate) additional: Option<AdditionalMap>,
    pub(crate) drops: Option<DropsMap>,
    pub(crate) dns: Option<DnsMaps>,
    pub(crate) tls: Option<crate::tls::TlsMap>,
    pub(crate) quic: Option<crate::quic::QuicMap>,
    pub(crate) network_events: Option<MapData>,
    pub(crate) xlat: Option<XlatSource>,
}

/// The flow map and counters, owned apart from the programs so eviction never waits on an
/// attach in progress.
pub struct FlowMaps {
    flows: MapData,
    /// Whether the flow map drains in batches.
    batched: bool,
    /// Number of flows the previous drain returned (sizes the next drain's buffer).
    flows_hint: usize,
    ncpus: usize,
    /// Whether the per-CPU network events map drains in batches.
    percpu_batched: bool,
    /// Whether the enrichment maps (shared hash maps) drain in batches.
    enrich_batched: bool,
    features: FeatureMaps,
    cache: CacheSide,
    counters: KernelCounters,
    /// The ring buffer of first packets and overflow, and its aggregate.
    ring: Arc<Mutex<RingSide>>,
    /// Flows the ring brought that the last drain appended (not in the map).
    last_ring_only: usize,
}

impl FlowMaps {
    /// Takes the flow map, the ring and the counters out of the loaded object, next to the
    /// features' maps and the flow cache.
    pub(crate) fn new(
        ebpf: &mut Ebpf,
        features: FeatureMaps,
        cache: CacheSide,
    ) -> Result<Self, TracerError> {
        let flows = take_hash_map(ebpf, maps::AGGREGATED_FLOWS)?;
        let ncpus = aya::util::nr_cpus().map_err(|(_, source)| TracerError::Io {
            what: "reading the possible CPUs",
            source,
        })?;
        Ok(Self {
            flows,
            batched: true,
            flows_hint: 0,
            ncpus,
            percpu_batched: true,
            enrich_batched: true,
            features,
            cache,
            counters: KernelCounters::from_object(ebpf)?,
            ring: Arc::new(Mutex::new(RingSide::take(ebpf)?)),
            last_ring_only: 0,
        })
    }

    /// Moves the per-CPU flow cache's sums into the shared map (nothing when the cache is off).
    /// A failure leaves the sums in the cache for the next round; it is logged, not fatal.
    pub fn flush_flow_cache(&mut self) {
        self.cache.flush();
    }

    /// Flush figures and failed flushes since the previous call (for the agent's metrics).
    pub fn take_flow_cache_report(&mut self) -> CacheReport {
        self.cache.take_report()
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
        self.counters.since_take(counters::FLOWS_INSERTED)
    }

    /// Removes and returns the RTT and IPsec enrichment (one shared entry per flow). Empty when
    /// FlowRTT and IPsec are off.
    pub fn drain_additional(&mut self) -> Vec<(FlowId, AdditionalMetrics)> {
        match &self.features.additional {
            Some(m) => m.drain(&mut self.enrich_batched),
            None => Vec::new(),
        }
    }

    /// Removes and returns the drop records: the drops map's (one shared entry per flow,
    /// counted with atomic adds in the kernel) merged with the flows' first drops, which came
    /// through the ring buffer. Empty when PacketDrop is off.
    pub fn drain_pkt_drops(&mut self) -> Vec<(FlowId, PktDropTotals)> {
        let Some(m) = &self.features.drops else {
            return Vec::new();
        };
        let mut out = m.drain(&mut self.enrich_batched);
        // Flows' first drops came through the ring buffer.
        self.ring_side().merge_drops_into(&mut out);
        out
    }

    /// Removes and returns the DNS records (one shared entry per flow) and forgets queries older
    /// than `stale_ns` that never got a response. Empty when DNS tracking is off.
    pub fn drain_dns(&mut self, mono_now: u64, stale_ns: u64) -> Vec<(FlowId, DnsMetrics)> {
        match self.features.dns.as_mut() {
            Some(m) => m.drain(mono_now, stale_ns, &mut self.enrich_batched),
            None => Vec::new(),
        }
    }

    /// Removes and returns the TLS entries (one shared entry per flow). Empty when TLS tracking
    /// is off.
    pub fn drain_tls(&mut self) -> Vec<(FlowId, netobserv_agent_common::TlsMetrics)> {
        match self.features.tls.as_ref() {
            Some(m) => m.drain(&mut self.enrich_batched),
            None => Vec::new(),
        }
    }

    /// Removes and returns the QUIC entries (one shared entry per flow). Empty when QUIC
    /// tracking is off.
    pub fn drain_quic(&mut self) -> Vec<(FlowId, netobserv_agent_common::QuicMetrics)> {
        match self.features.quic.as_ref() {
            Some(m) => m.drain(&mut self.enrich_batched),
            None => Vec::new(),
        }
    }

    /// Removes and returns the network events (per-CPU values merged: distinct cookies, summed
    /// counters). Empty when NetworkEvents is off.
    pub fn drain_network_events(&mut self) -> Vec<(FlowId, NetworkEventsTotals)> {
        match self.features.network_events.as_ref() {
            Some(map) => crate::netevents::kernel::drain(map, self.ncpus, &mut self.percpu_batched),
            None => Vec::new(),
        }
    }

    /// Kernel id of the network events map (`bpftool map show id N`), when the feature is on.
    /// Lets tests and debugging tools write or inspect exactly what the hook would.
    pub fn network_events_map_id(&self) -> Option<u32> {
        self.features
            .network_events
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
    ) -> Vec<(FlowId, XlatMetrics)> {
        match &self.features.xlat {
            Some(x) => x.drain(flows, &mut self.enrich_batched),
            None => Vec::new(),
        }
    }

    /// The conntrack table of the PacketTranslation fallback, when it is the active method.
    pub fn conntrack_table(&self) -> Option<Arc<ConntrackTable>> {
        self.features
            .xlat
            .as_ref()
            .and_then(XlatSource::conntrack_table)
    }

    /// Writes one entry into the PacketTranslation kernel map, as the kernel hook would: lets
    /// tests and diagnostics exercise the drain/merge/export path on kernels where the hook
    /// cannot attach. Fails when PacketTranslation is off.
    pub fn inject_xlat(&mut self, id: &FlowId, value: XlatMetrics) -> Result<(), TracerError> {
        self.features
            .xlat
            .as_ref()
            .ok_or(TracerError::Missing(maps::AGGREGATED_FLOWS_XLAT))?
            .inject(id, value)
    }

    /// Writes one entry into `additional_flow_metrics`, as the FlowRTT or IPsec hook would: lets
    /// tests and diagnostics exercise the drain/merge/export path on kernels where the IPsec
    /// hooks cannot attach. Fails when neither hook is active.
    pub fn inject_additional(
        &mut self,
        id: &FlowId,
        value: AdditionalMetrics,
    ) -> Result<(), TracerError> {
        self.features
            .additional
            .as_ref()
            .ok_or(TracerError::Missing(maps::ADDITIONAL_FLOW_METRICS))?
            .inject(id, value)
    }

    /// The global counters' increments since the previous call, summed over CPUs. The kernel's
    /// per-CPU counters are never reset: the previous readings are kept and the difference
    /// taken, with wrap-around.
    pub fn take_counters(&mut self) -> Result<Counts, TracerError> {
        self.counters.take()
    }
}
