//! PacketDrop (`ENABLE_PKT_DROPS`): packets the kernel frees with a drop reason, per flow, from
//! a hook on `tp_btf/kfree_skb` (direct `sk_buff` loads, or probe reads where a verifier refuses
//! them). A flow's first drop comes through the ring buffer ([`crate::overflow`]); later ones
//! from the drops map, merged at eviction. Nothing here is fatal: the report says why the hook
//! is off.

use crate::config::Config;
use crate::error::{TracerError, take_hash_map};
use crate::hooks::{HookReport, HookState, Method, load_btf_hook, verify_btf_program};
use aya::maps::MapData;
use aya::{Btf, Ebpf, EbpfLoader};
use netobserv_agent_common::{FlowId, PktDropMetrics, globals, maps, programs};

/// PacketDrop on `tp_btf/kfree_skb`, its only method.
pub const DROPS_TP_BTF: Method = Method {
    mode: "tp_btf",
    name: "tp_btf/kfree_skb",
};
/// Every method.
pub const METHODS: [Method; 1] = [DROPS_TP_BTF];

const N_OFFSETS: usize = 6;

/// Globals receiving kernel struct offsets, with the struct member each one locates.
const OFFSET_GLOBALS: [(&str, &str, &str); N_OFFSETS] = [
    (globals::OFF_SKB_HEAD, "sk_buff", "head"),
    (globals::OFF_SKB_NETWORK_HEADER, "sk_buff", "network_header"),
    (globals::OFF_SKB_LEN, "sk_buff", "len"),
    (globals::OFF_SKB_IIF, "sk_buff", "skb_iif"),
    (globals::OFF_SKB_SK, "sk_buff", "sk"),
    (globals::OFF_SKC_STATE, "sock_common", "skc_state"),
];

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

impl PktDropTotals {
    /// Adds a later record of the same flow: counts added, flags OR-ed, the latest cause and
    /// state kept.
    pub fn merge(&mut self, r: &PktDropTotals) {
        self.bytes += r.bytes;
        self.packets += r.packets;
        self.flags |= r.flags;
        if r.start < self.start || self.start == 0 {
            self.start = r.start;
        }
        if r.end >= self.end {
            self.end = r.end;
            self.cause = r.cause;
            self.state = r.state;
        }
        if self.eth_protocol == 0 {
            self.eth_protocol = r.eth_protocol;
        }
    }
}

/// PacketDrop before the object is loaded: the `sk_buff` offsets its programs read (Rust eBPF
/// has no CO-RE), or why the hook is off.
pub(crate) struct DropsPlan {
    offsets: Result<[u32; N_OFFSETS], HookReport>,
}

impl DropsPlan {
    /// Reads the offsets from the running kernel's BTF when PacketDrop is enabled.
    pub(crate) fn new(cfg: &Config) -> Self {
        let offsets = if cfg.enable_pkt_drops {
            crate::btf::kernel_member_offsets(OFFSET_GLOBALS.map(|(_, s, m)| (s, m)))
                .map_err(|e| HookReport::off(&METHODS, e))
        } else {
            Err(HookReport::off(
                &METHODS,
                "disabled (ENABLE_PKT_DROPS is false)",
            ))
        };
        Self { offsets }
    }

    /// Whether the hook will be tried.
    pub(crate) fn wanted(&self) -> bool {
        self.offsets.is_ok()
    }

    /// Sets the offset globals and sizes the drops map (`CACHE_MAX_FLOWS` entries when wanted,
    /// 1 otherwise).
    pub(crate) fn configure<'a>(&'a self, loader: &mut EbpfLoader<'a>, cfg: &Config) {
        if let Ok(offsets) = &self.offsets {
            for ((name, _, _), v) in OFFSET_GLOBALS.iter().zip(offsets.iter()) {
                loader.override_global(name, v, true);
            }
        }
        let entries = if self.wanted() {
            cfg.cache_max_flows
        } else {
            1
        };
        loader.map_max_entries(maps::AGGREGATED_FLOWS_PKT_DROP, entries);
    }

    /// Loads and attaches the hook: direct BTF loads of the `sk_buff` fields first, the
    /// probe-read variant if this kernel's verifier refuses them. Never fatal.
    pub(crate) fn start(&self, ebpf: &mut Ebpf, btf: Option<&Btf>) -> HookReport {
        if let Err(off) = &self.offsets {
            return off.clone();
        }
        let mut probe_reads = false;
        let outcome =
            load_btf_hook(ebpf, btf, programs::KFREE_SKB_DROP, "kfree_skb").or_else(|e| {
                tracing::info!(error = %e, "PacketDrop: direct sk_buff loads refused; using probe reads");
                probe_reads = true;
                load_btf_hook(ebpf, btf, programs::KFREE_SKB_DROP_COMPAT, "kfree_skb")
            });
        let state = match outcome {
            Err(e) => {
                tracing::warn!(error = %e, "PacketDrop hook unavailable");
                HookState::Off(format!("tp_btf/kfree_skb could not be attached: {e}"))
            }
            Ok(()) => {
                tracing::info!(probe_reads, "PacketDrop hook attached on tp_btf/kfree_skb");
                HookState::Active(DROPS_TP_BTF.mode)
            }
        };
        HookReport {
            state,
            methods: &METHODS,
            methods_off: Vec::new(),
            probe_reads,
        }
    }
}

/// Verifier-loads the probe-read fallback without attaching it (the agent only loads it when
/// the direct-load variant is refused, which no test kernel does); tests.
pub(crate) fn verify_compat_program(ebpf: &mut Ebpf) -> Result<(), String> {
    verify_btf_program(ebpf, programs::KFREE_SKB_DROP_COMPAT, "kfree_skb")
}

/// The drops map user space drains (one shared entry per flow, counted with atomic adds in the
/// kernel), taken when the hook is active.
pub(crate) struct DropsMap {
    map: MapData,
}

impl DropsMap {
    /// Takes the map out of the object when `report` says the hook runs.
    pub(crate) fn take(ebpf: &mut Ebpf, report: &HookReport) -> Result<Option<Self>, TracerError> {
        if !report.is_active() {
            return Ok(None);
        }
        Ok(Some(Self {
            map: take_hash_map(ebpf, maps::AGGREGATED_FLOWS_PKT_DROP)?,
        }))
    }

    /// Removes and returns the map's drop records (without the first drops, which came through
    /// the ring buffer).
    pub(crate) fn drain(&self, batched: &mut bool) -> Vec<(FlowId, PktDropTotals)> {
        crate::sys::drain_shared::<PktDropMetrics>(
            &self.map,
            batched,
            maps::AGGREGATED_FLOWS_PKT_DROP,
        )
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
        .collect()
    }
}
