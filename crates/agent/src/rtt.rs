//! FlowRTT (`ENABLE_RTT`): the largest smoothed RTT of each TCP flow, kept by a kernel hook on
//! `fentry/tcp_rcv_established` (preferred, as upstream) or `tp_btf/tcp_probe` (where fentry is
//! refused, e.g. lockdown), with direct socket loads or, where a verifier refuses them, probe
//! reads. Nothing here is fatal: the report says why the hook is off.

use crate::config::Config;
use crate::error::{TracerError, take_hash_map};
use crate::hooks::{
    HookReport, HookState, Method, choose_method, load_btf_hook, load_fentry_hook,
    verify_btf_program,
};
use aya::maps::MapData;
use aya::{Btf, Ebpf, EbpfLoader};
use netobserv_agent_common::{AdditionalMetrics, FlowId, globals, maps, programs};

/// FlowRTT on `fentry/tcp_rcv_established` (preferred, as upstream).
pub const RTT_FENTRY: Method = Method {
    mode: "fentry",
    name: "fentry/tcp_rcv_established",
};
/// FlowRTT on `tp_btf/tcp_probe` (fallback: works where fentry is refused, e.g. lockdown).
pub const RTT_TP_BTF: Method = Method {
    mode: "tp_btf",
    name: "tp_btf/tcp_probe",
};
/// Every method, in the order they are tried.
pub const METHODS: [Method; 2] = [RTT_FENTRY, RTT_TP_BTF];

const N_OFFSETS: usize = 8;

/// Globals receiving kernel struct offsets, with the struct member each one locates.
const OFFSET_GLOBALS: [(&str, &str, &str); N_OFFSETS] = [
    (globals::OFF_SKC_FAMILY, "sock_common", "skc_family"),
    (globals::OFF_SKC_DADDR, "sock_common", "skc_daddr"),
    (globals::OFF_SKC_RCV_SADDR, "sock_common", "skc_rcv_saddr"),
    (globals::OFF_SKC_DPORT, "sock_common", "skc_dport"),
    (globals::OFF_SKC_NUM, "sock_common", "skc_num"),
    (globals::OFF_SKC_V6_DADDR, "sock_common", "skc_v6_daddr"),
    (
        globals::OFF_SKC_V6_RCV_SADDR,
        "sock_common",
        "skc_v6_rcv_saddr",
    ),
    (globals::OFF_TCP_SRTT_US, "tcp_sock", "srtt_us"),
];

/// FlowRTT before the object is loaded: the socket offsets its programs read (Rust eBPF has no
/// CO-RE), or why the hook is off.
pub(crate) struct RttPlan {
    offsets: Result<[u32; N_OFFSETS], HookReport>,
}

impl RttPlan {
    /// Reads the offsets from the running kernel's BTF when FlowRTT is enabled.
    pub(crate) fn new(cfg: &Config) -> Self {
        let offsets = if cfg.enable_rtt {
            crate::btf::kernel_member_offsets(OFFSET_GLOBALS.map(|(_, s, m)| (s, m)))
                .map_err(|e| HookReport::off(&METHODS, e))
        } else {
            Err(HookReport::off(&METHODS, "disabled (ENABLE_RTT is false)"))
        };
        Self { offsets }
    }

    /// Whether the hook will be tried.
    pub(crate) fn wanted(&self) -> bool {
        self.offsets.is_ok()
    }

    /// Sets the offset globals and sizes the RTT map (`CACHE_MAX_FLOWS` entries when wanted,
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
        loader.map_max_entries(maps::ADDITIONAL_FLOW_METRICS, entries);
    }

    /// Loads and attaches the hook: fentry first, tp_btf when the kernel refuses it (direct
    /// socket loads first, probe reads where refused). Never fatal.
    pub(crate) fn start(&self, ebpf: &mut Ebpf, btf: Option<&Btf>) -> HookReport {
        if let Err(off) = &self.offsets {
            return off.clone();
        }
        let mut probe_reads = false;
        let mut report = choose_method(&METHODS, |m| {
            if m == RTT_FENTRY {
                load_fentry_hook(
                    ebpf,
                    btf,
                    programs::TCP_RCV_FENTRY_RTT,
                    "tcp_rcv_established",
                )
            } else {
                load_btf_hook(ebpf, btf, programs::TCP_PROBE_RTT, "tcp_probe").or_else(|e| {
                    tracing::info!(error = %e, "FlowRTT: direct socket loads refused; using probe reads");
                    probe_reads = true;
                    load_btf_hook(ebpf, btf, programs::TCP_PROBE_RTT_COMPAT, "tcp_probe")
                })
            }
        });
        report.probe_reads = probe_reads;
        for o in &report.methods_off {
            tracing::info!(method = o.method, reason = %o.reason, "FlowRTT method off");
        }
        match &report.state {
            HookState::Active(mode) => tracing::info!(mode, "FlowRTT hook attached"),
            HookState::Off(why) => tracing::warn!(reason = %why, "FlowRTT hook unavailable"),
        }
        report
    }
}

/// Verifier-loads the probe-read fallback without attaching it (the agent only loads it when
/// the direct-load variant is refused, which no test kernel does); tests.
pub(crate) fn verify_compat_program(ebpf: &mut Ebpf) -> Result<(), String> {
    verify_btf_program(ebpf, programs::TCP_PROBE_RTT_COMPAT, "tcp_probe")
}

/// The map of FlowRTT and IPsec results user space drains (one shared entry per flow,
/// `additional_flow_metrics` as upstream), taken when either hook is active.
pub(crate) struct AdditionalMap {
    map: MapData,
}

impl AdditionalMap {
    /// Takes the map out of the object when one of the reports (FlowRTT, IPsec) says its hook
    /// runs.
    pub(crate) fn take(
        ebpf: &mut Ebpf,
        reports: [&HookReport; 2],
    ) -> Result<Option<Self>, TracerError> {
        if !reports.iter().any(|r| r.is_active()) {
            return Ok(None);
        }
        Ok(Some(Self {
            map: take_hash_map(ebpf, maps::ADDITIONAL_FLOW_METRICS)?,
        }))
    }

    /// Writes one entry, as a hook would (tests and diagnostics).
    pub(crate) fn inject(&self, id: &FlowId, value: AdditionalMetrics) -> Result<(), TracerError> {
        use std::os::fd::{AsFd, AsRawFd};
        crate::sys::update_elem(self.map.fd().as_fd().as_raw_fd(), id, &value).map_err(|source| {
            TracerError::Io {
                what: "writing additional_flow_metrics",
                source,
            }
        })
    }

    /// Removes and returns every flow's RTT and IPsec result.
    pub(crate) fn drain(&self, batched: &mut bool) -> Vec<(FlowId, AdditionalMetrics)> {
        let mut out = crate::sys::drain_shared::<AdditionalMetrics>(
            &self.map,
            batched,
            maps::ADDITIONAL_FLOW_METRICS,
        );
        out.retain(|(_, a)| a.flow_rtt > 0 || a.ipsec_encrypted != 0 || a.ipsec_encrypted_ret != 0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::MethodOff;

    #[test]
    fn fentry_failure_falls_back_to_tp_btf() {
        let mut tried = Vec::new();
        let r = choose_method(&METHODS, |m| {
            tried.push(m.mode);
            if m == RTT_FENTRY {
                Err(
                    "the BPF_PROG_LOAD syscall returned Operation not permitted (os error 1)"
                        .into(),
                )
            } else {
                Ok(())
            }
        });
        assert_eq!(tried, ["fentry", "tp_btf"]);
        assert_eq!(r.state, HookState::Active("tp_btf"));
        let off = r.methods_off;
        assert_eq!(off.len(), 1);
        assert_eq!(off[0].method, "fentry/tcp_rcv_established");
        assert!(off[0].reason.contains("Operation not permitted"), "{off:?}");
    }

    #[test]
    fn fentry_success_skips_tp_btf() {
        let mut tried = Vec::new();
        let r = choose_method(&METHODS, |m| {
            tried.push(m.mode);
            Ok(())
        });
        assert_eq!(
            tried,
            ["fentry"],
            "the fallback is not loaded when fentry works"
        );
        assert_eq!(r.state, HookState::Active("fentry"));
        assert_eq!(
            r.methods_off,
            [MethodOff {
                method: "tp_btf/tcp_probe",
                reason: "not needed: fentry/tcp_rcv_established is active".into(),
            }]
        );
    }

    #[test]
    fn every_method_failing_turns_the_hook_off_without_error() {
        let r = choose_method(&METHODS, |m| Err(format!("no {}", m.mode)));
        assert_eq!(r.methods_off.len(), 2);
        match r.state {
            HookState::Off(why) => {
                assert!(
                    why.contains("no fentry") && why.contains("no tp_btf"),
                    "{why}"
                );
            }
            HookState::Active(m) => panic!("active via {m}"),
        }
    }
}
