//! IPsec (`ENABLE_IPSEC_TRACKING`): whether the kernel's IPsec layer encrypted or decrypted each
//! flow's packets, and its error code when it failed, from entry and return hooks on
//! `xfrm_input` and `xfrm_output` (see the kernel module `ipsec` for what they record). The
//! result lands in `additional_flow_metrics`, shared with FlowRTT, and becomes the record's
//! `ipsec_encrypted` / `ipsec_encrypted_ret` (the pipeline's `IPSecStatus`, `IPSecRetCode`).
//!
//! Methods, tried in this order at start and never fatal:
//! 1. `fentry` + `fexit`: cheapest, and the exit program sees the call's arguments, so calls in
//!    flight are told apart by skb; refused by kernels in lockdown;
//! 2. `kprobe` + `kretprobe`: upstream's method; needs `CONFIG_KPROBES`.
//!
//! There is no user-space fallback: nothing outside these functions says, per packet, whether
//! its transformation succeeded. Where neither method attaches, `/status` says why.

use crate::config::Config;
use crate::hooks::{
    HookReport, HookState, Method, choose_method, error_text, load_retrying, typed_program,
};
use aya::programs::{FEntry, FExit, KProbe};
use aya::{Btf, Ebpf, EbpfLoader};
use netobserv_agent_common::{globals, maps, programs};

/// IPsec on `fentry`/`fexit` (preferred).
pub const IPSEC_FENTRY: Method = Method {
    mode: "fentry",
    name: "fentry+fexit/xfrm_input,xfrm_output",
};
/// IPsec on `kprobe`/`kretprobe` (upstream's method).
pub const IPSEC_KPROBE: Method = Method {
    mode: "kprobe",
    name: "kprobe+kretprobe/xfrm_input,xfrm_output",
};
/// Every method, in the order they are tried.
pub const METHODS: [Method; 2] = [IPSEC_FENTRY, IPSEC_KPROBE];

/// Entry programs with their kernel function, per method.
const FENTRY_PROGRAMS: [(&str, &str); 2] = [
    (programs::XFRM_INPUT_FENTRY, "xfrm_input"),
    (programs::XFRM_OUTPUT_FENTRY, "xfrm_output"),
];
/// Return programs (fexit) with their kernel function.
const FEXIT_PROGRAMS: [(&str, &str); 2] = [
    (programs::XFRM_INPUT_FEXIT, "xfrm_input"),
    (programs::XFRM_OUTPUT_FEXIT, "xfrm_output"),
];
/// kprobe and kretprobe programs with their kernel function.
const KPROBE_PROGRAMS: [(&str, &str); 4] = [
    (programs::XFRM_INPUT_KPROBE, "xfrm_input"),
    (programs::XFRM_INPUT_KRETPROBE, "xfrm_input"),
    (programs::XFRM_OUTPUT_KPROBE, "xfrm_output"),
    (programs::XFRM_OUTPUT_KRETPROBE, "xfrm_output"),
];

const N_OFFSETS: usize = 2;

/// Globals receiving `sk_buff` offsets (shared with PacketDrop, same values).
const OFFSET_GLOBALS: [(&str, &str, &str); N_OFFSETS] = [
    (globals::OFF_SKB_HEAD, "sk_buff", "head"),
    (globals::OFF_SKB_NETWORK_HEADER, "sk_buff", "network_header"),
];

/// How many calls may be in flight between an entry and a return hook at once (per direction).
const PENDING_CALLS: u32 = 16384;

/// IPsec before the object is loaded: the `sk_buff` offsets its programs read, or why off.
pub(crate) struct IpsecPlan {
    offsets: Result<[u32; N_OFFSETS], HookReport>,
}

impl IpsecPlan {
    /// Reads the offsets from the running kernel's BTF when IPsec tracking is enabled.
    pub(crate) fn new(cfg: &Config) -> Self {
        let offsets = if cfg.enable_ipsec_tracking {
            crate::btf::kernel_member_offsets(OFFSET_GLOBALS.map(|(_, s, m)| (s, m)))
                .map_err(|e| HookReport::off(&METHODS, e))
        } else {
            Err(HookReport::off(
                &METHODS,
                "disabled (ENABLE_IPSEC_TRACKING is false)",
            ))
        };
        Self { offsets }
    }

    /// Sets the offset globals and sizes the pending-call maps (1 entry when off). When wanted,
    /// `additional_flow_metrics` gets `CACHE_MAX_FLOWS` entries whatever FlowRTT asked: call
    /// this after FlowRTT's `configure`.
    pub(crate) fn configure<'a>(&'a self, loader: &mut EbpfLoader<'a>, cfg: &Config) {
        let pending = if let Ok(offsets) = &self.offsets {
            for ((name, _, _), v) in OFFSET_GLOBALS.iter().zip(offsets.iter()) {
                loader.override_global(name, v, true);
            }
            loader.map_max_entries(maps::ADDITIONAL_FLOW_METRICS, cfg.cache_max_flows);
            PENDING_CALLS
        } else {
            1
        };
        loader.map_max_entries(maps::IPSEC_INGRESS_MAP, pending);
        loader.map_max_entries(maps::IPSEC_EGRESS_MAP, pending);
    }

    /// Loads and attaches the hooks: fentry/fexit first, kprobe/kretprobe when refused. Never
    /// fatal.
    pub(crate) fn start(&self, ebpf: &mut Ebpf, btf: Option<&Btf>) -> HookReport {
        if let Err(off) = &self.offsets {
            return off.clone();
        }
        let report = choose_method(&METHODS, |m| try_method(ebpf, btf, m, true));
        for o in &report.methods_off {
            tracing::info!(method = o.method, reason = %o.reason, "IPsec method off");
        }
        match &report.state {
            HookState::Active(mode) => tracing::info!(mode, "IPsec hooks attached"),
            HookState::Off(why) => tracing::warn!(reason = %why, "IPsec tracking unavailable"),
        }
        report
    }
}

/// Loads every program of method `m` and, with `attach`, attaches them; on any failure every
/// program of the method is unloaded again (links go with them), so no half method stays.
fn try_method(ebpf: &mut Ebpf, btf: Option<&Btf>, m: Method, attach: bool) -> Result<(), String> {
    let r = if m == IPSEC_FENTRY {
        load_tracing(ebpf, btf, attach)
    } else {
        load_kprobes(ebpf, attach)
    };
    if r.is_err() || !attach {
        unload_method(ebpf, m);
    }
    r
}

/// The fentry and fexit programs.
fn load_tracing(ebpf: &mut Ebpf, btf: Option<&Btf>, attach: bool) -> Result<(), String> {
    let btf = btf.ok_or("no kernel BTF")?;
    for (name, function) in FENTRY_PROGRAMS {
        let prog: &mut FEntry = typed_program(ebpf, name)?;
        load_retrying(|| prog.load(function, btf))
            .map_err(|e| format!("{name}: {}", error_text(&e)))?;
        if attach {
            prog.attach()
                .map_err(|e| format!("{name}: {}", error_text(&e)))?;
        }
    }
    for (name, function) in FEXIT_PROGRAMS {
        let prog: &mut FExit = typed_program(ebpf, name)?;
        load_retrying(|| prog.load(function, btf))
            .map_err(|e| format!("{name}: {}", error_text(&e)))?;
        if attach {
            prog.attach()
                .map_err(|e| format!("{name}: {}", error_text(&e)))?;
        }
    }
    Ok(())
}

/// The kprobe and kretprobe programs.
fn load_kprobes(ebpf: &mut Ebpf, attach: bool) -> Result<(), String> {
    for (name, function) in KPROBE_PROGRAMS {
        let prog: &mut KProbe = typed_program(ebpf, name)?;
        load_retrying(|| prog.load()).map_err(|e| format!("{name}: {}", error_text(&e)))?;
        if attach && let Err(e) = prog.attach(function, 0) {
            let mut why = format!("{name}: {}", error_text(&e));
            if why.contains("event_source/devices/kprobe") {
                why.push_str(" (no kprobe PMU: kernel built without CONFIG_KPROBES)");
            }
            return Err(why);
        }
    }
    Ok(())
}

/// Unloads every program of method `m` that is loaded (detaching its links).
fn unload_method(ebpf: &mut Ebpf, m: Method) {
    let names: Vec<&str> = if m == IPSEC_FENTRY {
        FENTRY_PROGRAMS
            .iter()
            .chain(FEXIT_PROGRAMS.iter())
            .map(|(n, _)| *n)
            .collect()
    } else {
        KPROBE_PROGRAMS.iter().map(|(n, _)| *n).collect()
    };
    for name in names {
        if let Some(p) = ebpf.program_mut(name)
            && p.fd().is_ok()
        {
            let _ = match p {
                aya::programs::Program::FEntry(p) => p.unload(),
                aya::programs::Program::FExit(p) => p.unload(),
                aya::programs::Program::KProbe(p) => p.unload(),
                _ => Ok(()),
            };
        }
    }
}

/// Verifier-loads both methods' programs without attaching them, then unloads them: whether
/// this kernel accepts the program types and the verifier the code, apart from whether the
/// attach points are usable. One result per method; diagnostics and tests.
pub fn verify_programs(ebpf: &mut Ebpf, btf: Option<&Btf>) -> Vec<(Method, Result<(), String>)> {
    METHODS
        .iter()
        .map(|m| (*m, try_method(ebpf, btf, *m, false)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_down_kernel_falls_back_to_kprobes() {
        let r = choose_method(&METHODS, |m| match m.mode {
            "fentry" => Err("Operation not permitted (os error 1)".into()),
            _ => Ok(()),
        });
        assert_eq!(r.state, HookState::Active("kprobe"));
        assert_eq!(r.methods_off.len(), 1);
        assert_eq!(r.methods_off[0].method, IPSEC_FENTRY.name);
    }

    #[test]
    fn neither_method_turns_tracking_off_with_both_reasons() {
        let r = choose_method(&METHODS, |m| Err(format!("no {}", m.mode)));
        match r.state {
            HookState::Off(why) => assert!(why.contains("no fentry") && why.contains("no kprobe")),
            HookState::Active(m) => panic!("active via {m}"),
        }
    }

    #[test]
    fn disabled_is_off_without_trying() {
        let plan = IpsecPlan::new(&Config::default());
        match plan.offsets {
            Err(r) => assert_eq!(
                r.state,
                HookState::Off("disabled (ENABLE_IPSEC_TRACKING is false)".into())
            ),
            Ok(_) => panic!("offsets read while disabled"),
        }
    }
}
