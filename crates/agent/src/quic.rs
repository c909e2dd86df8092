//! QUIC tracking (`QUIC_TRACKING_MODE`: 0 off, 1 UDP port 443, 2 any UDP port): runs inside the
//! flow classifiers (no hook of its own); user space sizes its map and drains the per-flow QUIC
//! facts at eviction.

use crate::config::Config;
use crate::error::{TracerError, take_hash_map};
use aya::EbpfLoader;
use aya::maps::MapData;
use netobserv_agent_common::{FlowId, QuicMetrics, globals, maps};

/// Sets the tracking mode and sizes the per-flow map: `CACHE_MAX_FLOWS` entries (1 when off).
pub(crate) fn configure<'a>(loader: &mut EbpfLoader<'a>, cfg: &'a Config) {
    loader
        .override_global(globals::QUIC_TRACKING_MODE, &cfg.quic_tracking_mode, true)
        .map_max_entries(
            maps::QUIC_FLOWS,
            if cfg.quic_tracking_mode != 0 {
                cfg.cache_max_flows
            } else {
                1
            },
        );
}

/// The QUIC per-flow map, when tracking is on.
pub(crate) struct QuicMap {
    flows: MapData,
}

impl QuicMap {
    /// Takes the map out of the object when tracking is on.
    pub(crate) fn take(ebpf: &mut aya::Ebpf, cfg: &Config) -> Result<Option<Self>, TracerError> {
        if cfg.quic_tracking_mode == 0 {
            return Ok(None);
        }
        Ok(Some(Self {
            flows: take_hash_map(ebpf, maps::QUIC_FLOWS)?,
        }))
    }

    /// Removes and returns the QUIC entries (one shared entry per flow).
    pub(crate) fn drain(&self, batched: &mut bool) -> Vec<(FlowId, QuicMetrics)> {
        crate::sys::drain_shared::<QuicMetrics>(&self.flows, batched, maps::QUIC_FLOWS)
    }
}
