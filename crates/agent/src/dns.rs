//! DNS tracking (`ENABLE_DNS_TRACKING`): runs inside the flow classifiers (no hook of its own);
//! user space sizes its maps, drains the per-flow DNS records at eviction and forgets queries
//! that never got a response.

use crate::config::Config;
use crate::error::{TracerError, take_hash_map, take_typed_map};
use aya::maps::{HashMap as BpfHashMap, MapData};
use aya::{Ebpf, EbpfLoader};
use netobserv_agent_common::{DnsFlowId, DnsMetrics, FlowId, globals, maps};

/// How long a query waits for its response before it is forgotten (ns).
pub(crate) const STALE_QUERY_NS: u64 = 5_000_000_000;

/// Sets the tracking switch and the extra DNS port, and sizes the maps: per-flow records
/// `CACHE_MAX_FLOWS`, outstanding queries 65,536 (1 each when tracking is off).
pub(crate) fn configure<'a>(loader: &mut EbpfLoader<'a>, cfg: &'a Config, enabled: &'a u8) {
    let on = cfg.enable_dns_tracking;
    loader
        .override_global(globals::ENABLE_DNS_TRACKING, enabled, true)
        .override_global(globals::DNS_PORT, &cfg.dns_tracking_port, true)
        .map_max_entries(
            maps::AGGREGATED_FLOWS_DNS,
            if on { cfg.cache_max_flows } else { 1 },
        )
        .map_max_entries(maps::DNS_FLOWS, if on { 1 << 16 } else { 1 });
}

/// The DNS per-flow records and the outstanding queries.
pub(crate) struct DnsMaps {
    flows: MapData,
    queries: BpfHashMap<MapData, DnsFlowId, u64>,
}

impl DnsMaps {
    /// Takes both maps out of the object when tracking is on.
    pub(crate) fn take(ebpf: &mut Ebpf, cfg: &Config) -> Result<Option<Self>, TracerError> {
        if !cfg.enable_dns_tracking {
            return Ok(None);
        }
        Ok(Some(Self {
            flows: take_hash_map(ebpf, maps::AGGREGATED_FLOWS_DNS)?,
            queries: take_typed_map(ebpf, maps::DNS_FLOWS)?,
        }))
    }

    /// Removes and returns the DNS records (one shared entry per flow) and forgets queries older
    /// than `stale_ns` that never got a response.
    pub(crate) fn drain(
        &mut self,
        mono_now: u64,
        stale_ns: u64,
        batched: &mut bool,
    ) -> Vec<(FlowId, DnsMetrics)> {
        let out = crate::sys::drain_shared::<DnsMetrics>(
            &self.flows,
            batched,
            maps::AGGREGATED_FLOWS_DNS,
        );
        let stale: Vec<DnsFlowId> = self
            .queries
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, ts)| mono_now.saturating_sub(*ts) > stale_ns)
            .map(|(k, _)| k)
            .collect();
        for k in stale {
            let _ = self.queries.remove(&k);
        }
        out
    }
}
