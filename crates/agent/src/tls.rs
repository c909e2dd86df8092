//! TLS tracking (`ENABLE_TLS_TRACKING`): runs inside the flow classifiers (no hook of its own);
//! user space sizes its map and drains the per-flow TLS facts at eviction.

use crate::config::Config;
use crate::error::{TracerError, take_hash_map};
use aya::EbpfLoader;
use aya::maps::MapData;
use netobserv_agent_common::{FlowId, TlsMetrics, globals, maps};

/// Sets the tracking switch and sizes the per-flow map: `CACHE_MAX_FLOWS` entries (1 when
/// tracking is off).
pub(crate) fn configure<'a>(loader: &mut EbpfLoader<'a>, cfg: &'a Config, enabled: &'a u8) {
    loader
        .override_global(globals::ENABLE_TLS_TRACKING, enabled, true)
        .map_max_entries(
            maps::AGGREGATED_FLOWS_TLS,
            if cfg.enable_tls_tracking {
                cfg.cache_max_flows
            } else {
                1
            },
        );
}

/// The TLS per-flow map, when tracking is on.
pub(crate) struct TlsMap {
    flows: MapData,
}

impl TlsMap {
    /// Takes the map out of the object when tracking is on.
    pub(crate) fn take(ebpf: &mut aya::Ebpf, cfg: &Config) -> Result<Option<Self>, TracerError> {
        if !cfg.enable_tls_tracking {
            return Ok(None);
        }
        Ok(Some(Self {
            flows: take_hash_map(ebpf, maps::AGGREGATED_FLOWS_TLS)?,
        }))
    }

    /// Removes and returns the TLS entries (one shared entry per flow).
    pub(crate) fn drain(&self, batched: &mut bool) -> Vec<(FlowId, TlsMetrics)> {
        crate::sys::drain_shared::<TlsMetrics>(&self.flows, batched, maps::AGGREGATED_FLOWS_TLS)
    }
}
