//! Loading the kernel programs, attaching them to interfaces (TCX, or clsact as fallback) and
//! draining the flow map.

use crate::config::{AttachMode, Config, Direction};
use crate::filter;
pub use crate::flowmaps::{FlowMaps, PktDropTotals};
use crate::load::*;
pub(crate) use crate::load::{error_text, load_retrying, typed_program};
use aya::programs::tc::{self, NlOptions, SchedClassifierLinkId, TcAttachOptions};
use aya::programs::{BtfTracePoint, LinkOrder, SchedClassifier, TcAttachType};
use aya::{Btf, Ebpf, EbpfLoader};
use netobserv_agent_common::{globals, programs};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};

/// The compiled kernel object, built by `build.rs`.
static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/netobserv-agent-ebpf"));

/// Errors of the eBPF layer.
#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    /// Loading the object or creating its maps failed.
    #[error("loading the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    /// Verifying/loading a program or attaching it failed.
    #[error("program {name}: {source}")]
    Program {
        /// Program name.
        name: &'static str,
        /// Cause.
        source: aya::programs::ProgramError,
    },
    /// A map operation failed.
    #[error("map {name}: {source}")]
    Map {
        /// Map name.
        name: &'static str,
        /// Cause.
        source: aya::maps::MapError,
    },
    /// A map or program is missing from the object (build mismatch).
    #[error("{0} missing from the eBPF object")]
    Missing(&'static str),
    /// A raw syscall failed.
    #[error("{what}: {source}")]
    Io {
        /// Operation.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// Invalid filter rules.
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
}

/// How an interface got its classifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachKind {
    /// TCX links (kernel ≥ 6.6).
    Tcx,
    /// Legacy clsact `bpf` filters.
    Tc,
}

struct Attached {
    kind: AttachKind,
    links: Vec<(&'static str, SchedClassifierLinkId)>,
    /// Namespace of the interface when it is not the observed one (secondary interfaces).
    netns: Option<std::path::PathBuf>,
}

/// Whether an optional hook runs, and how or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookState {
    /// Attached, with the attach method.
    Active(&'static str),
    /// Not running, with the reason.
    Off(String),
}

/// An attach method of a hook that is not in use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodOff {
    /// Method, e.g. `fentry/tcp_rcv_established`.
    pub method: &'static str,
    /// Why it is not in use (the load/attach error, or that another method is active).
    pub reason: String,
}

/// One way of attaching a hook: short mode (`/status` `mode`, metric label) and full name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// Short mode, e.g. `fentry`.
    pub mode: &'static str,
    /// Program type and attach point, e.g. `fentry/tcp_rcv_established`.
    pub name: &'static str,
}

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

/// Tries `methods` in order and keeps the first one `try_method` loads and attaches. Returns the
/// hook state and, for every other method, why it is not in use. A failure is never fatal.
pub fn choose_method(
    methods: &[Method],
    mut try_method: impl FnMut(Method) -> Result<(), String>,
) -> (HookState, Vec<MethodOff>) {
    let mut off = Vec::new();
    let mut active: Option<Method> = None;
    for m in methods {
        if let Some(a) = active {
            off.push(MethodOff {
                method: m.name,
                reason: format!("not needed: {} is active", a.name),
            });
            continue;
        }
        match try_method(*m) {
            Ok(()) => active = Some(*m),
            Err(e) => off.push(MethodOff {
                method: m.name,
                reason: format!("{} could not be loaded/attached: {e}", m.name),
            }),
        }
    }
    let state = match active {
        Some(m) => HookState::Active(m.mode),
        None => HookState::Off(
            off.iter()
                .map(|o| o.reason.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    (state, off)
}

/// The compiled kernel object (for loaders outside [`Tracer::load`], e.g. verifier checks).
pub fn ebpf_object() -> &'static [u8] {
    EBPF_OBJECT
}

/// The loaded object: programs to attach and the maps user space reads.
pub struct Tracer {
    ebpf: Ebpf,
    /// FlowRTT hook state.
    pub rtt: HookState,
    /// FlowRTT attach methods not in use, and why.
    pub rtt_methods_off: Vec<MethodOff>,
    /// Whether the FlowRTT hook is the probe-read variant (the verifier refused direct loads).
    pub rtt_probe_reads: bool,
    /// PacketDrop hook state.
    pub drops: HookState,
    /// Whether the PacketDrop hook is the variant that reads `sk_buff` fields with
    /// `bpf_probe_read_kernel` (the verifier refused direct loads).
    pub drops_probe_reads: bool,
    /// NetworkEvents hook state.
    pub netevents: HookState,
    /// NetworkEvents attach methods not in use, and why.
    pub netevents_methods_off: Vec<MethodOff>,
    /// PacketTranslation state (kernel hook, conntrack fallback, or off).
    pub xlat: HookState,
    /// PacketTranslation methods not in use, and why.
    pub xlat_methods_off: Vec<MethodOff>,
    /// Whether the classifiers stamp a flow's later packets with the coarse (tick) clock.
    pub coarse_clock: bool,
    /// The per-CPU flow cache: `on (N slots per CPU)` or `off: why`, for `/status`.
    pub flow_cache: String,
    mode: AttachMode,
    direction: Direction,
    attached: HashMap<String, Attached>,
}

impl Tracer {
    /// Loads the object with the configured sampling, map size and filter rules, and verifies
    /// the programs for the attach mode in use.
    pub fn load(cfg: &Config) -> Result<(Self, FlowMaps), TracerError> {
        let btf = Btf::from_sys_fs().ok();
        let offsets = if cfg.enable_rtt || cfg.enable_pkt_drops {
            kernel_offsets()
        } else {
            Ok([0; N_OFFSETS])
        };
        let feature = |enabled: bool, var: &str, mode: &'static str| match (&offsets, enabled) {
            (_, false) => HookState::Off(format!("disabled ({var} is false)")),
            (Ok(_), true) => HookState::Active(mode),
            (Err(e), true) => HookState::Off(e.clone()),
        };
        let mut rtt = feature(cfg.enable_rtt, "ENABLE_RTT", "tp_btf");
        let mut drops = feature(cfg.enable_pkt_drops, "ENABLE_PKT_DROPS", "tp_btf");
        let offsets = offsets.unwrap_or([0; N_OFFSETS]);
        let ct_offsets = if cfg.enable_pkt_translation {
            crate::btf::Btf::from_sys_fs()
                .map_err(|e| format!("kernel BTF: {e}"))
                .and_then(|b| crate::xlat::ct_offsets(&b))
        } else {
            Err("disabled".to_string())
        };
        let rtt_wanted = matches!(rtt, HookState::Active(_));
        let drops_wanted = matches!(drops, HookState::Active(_));
        let has_rules = !cfg.flow_filter_rules.is_empty();
        let filter_sampling = cfg.flow_filter_rules.iter().any(|r| r.sample > 0);
        let netevents_offsets = if cfg.network_events.enable {
            crate::netevents::kernel::offsets_from_kernel()
        } else {
            Ok(Default::default())
        };
        let netevents_globals = netevents_offsets.clone().unwrap_or_default();
        let coarse_clock = coarse_clock_supported();
        let mut loader = EbpfLoader::new();
        for ((name, _, _), v) in OFFSET_GLOBALS.iter().zip(offsets.iter()) {
            loader.override_global(name, v, true);
        }
        crate::netevents::kernel::configure(&mut loader, cfg, &netevents_globals);
        if let Ok(ct) = &ct_offsets {
            for (name, v) in crate::xlat::CT_OFFSET_GLOBALS.iter().zip(ct.iter()) {
                loader.override_global(name, v, true);
            }
        }
        let (coarse, rules, rule_sampling, dns) = (
            u8::from(coarse_clock),
            u8::from(has_rules),
            u8::from(filter_sampling),
            u8::from(cfg.enable_dns_tracking),
        );
        let wakeup_shift = (cfg.ringbuf_bytes() / 4).trailing_zeros();
        loader
            .btf(btf.as_ref())
            .override_global(globals::SAMPLING, &cfg.sampling, true)
            .override_global(globals::COARSE_CLOCK, &coarse, true)
            .override_global(globals::PROFILE_STOP, &cfg.profile_stop, true)
            .override_global(globals::ENABLE_FLOWS_FILTERING, &rules, true)
            .override_global(globals::HAS_FILTER_SAMPLING, &rule_sampling, true)
            .override_global(globals::ENABLE_DNS_TRACKING, &dns, true)
            .override_global(globals::DNS_PORT, &cfg.dns_tracking_port, true)
            .override_global(globals::RINGBUF_WAKEUP_SHIFT, &wakeup_shift, true);
        size_maps(&mut loader, cfg, rtt_wanted, drops_wanted);
        let mut ebpf = loader.load(EBPF_OBJECT)?;
        let mut rtt_methods_off = Vec::new();
        let mut rtt_probe_reads = false;
        if rtt_wanted {
            (rtt, rtt_methods_off, rtt_probe_reads) = attach_rtt(&mut ebpf, btf.as_ref());
        }
        let mut drops_probe_reads = false;
        if drops_wanted {
            (drops, drops_probe_reads) = attach_drops(&mut ebpf, btf.as_ref());
        }
        let (netevents, netevents_methods_off) =
            crate::netevents::kernel::attach(&mut ebpf, btf.as_ref(), cfg, &netevents_offsets);
        let (xlat, xlat_methods_off, conntrack) = if cfg.enable_pkt_translation {
            let setup = crate::xlat::start(
                &mut ebpf,
                btf.as_ref(),
                ct_offsets.as_ref().map(|_| ()).map_err(String::as_str),
                cfg.cache_max_flows as usize * 4,
                cfg.cache_active_timeout * 2 + std::time::Duration::from_secs(5),
                cfg.netns.as_deref(),
            );
            (setup.state, setup.off, setup.listener)
        } else {
            (
                HookState::Off("disabled (ENABLE_PKT_TRANSLATION is false)".into()),
                Vec::new(),
                None,
            )
        };
        load_classifiers(&mut ebpf, cfg.tc_attach_mode)?;
        if has_rules {
            program_filters(&mut ebpf, cfg)?;
        }
        let (flow_cache, flow_cache_state) = enable_flow_cache(&mut ebpf, cfg.flow_cache);
        let enrich = Enrichment {
            rtt: matches!(rtt, HookState::Active(_)),
            drops: matches!(drops, HookState::Active(_)),
            conntrack,
            flow_cache,
        };
        let flow_maps = take_flow_maps(&mut ebpf, cfg, enrich)?;
        Ok((
            Self {
                ebpf,
                rtt,
                rtt_methods_off,
                rtt_probe_reads,
                drops,
                drops_probe_reads,
                netevents,
                netevents_methods_off,
                xlat,
                xlat_methods_off,
                coarse_clock,
                flow_cache: flow_cache_state,
                mode: cfg.tc_attach_mode,
                direction: cfg.direction,
                attached: HashMap::new(),
            },
            flow_maps,
        ))
    }

    /// Verifier-loads the PacketTranslation kernel programs without attaching them (see
    /// [`crate::xlat::verify_programs`]); diagnostics and tests.
    pub fn verify_xlat_programs(&mut self) -> Vec<(Method, Result<(), String>)> {
        let btf = Btf::from_sys_fs().ok();
        crate::xlat::verify_programs(&mut self.ebpf, btf.as_ref())
    }

    /// Verifier-loads the PacketDrop probe-read fallback without attaching it (the agent only
    /// loads it when the direct-load variant is refused, which no test kernel does); tests.
    pub fn verify_drop_compat_program(&mut self) -> Result<(), String> {
        if self.drops_probe_reads {
            return Ok(()); // loaded and attached already
        }
        self.verify_btf_program(programs::KFREE_SKB_DROP_COMPAT, "kfree_skb")
    }

    /// Verifier-loads the FlowRTT probe-read fallback without attaching it, like
    /// [`Tracer::verify_drop_compat_program`]; tests.
    pub fn verify_rtt_compat_program(&mut self) -> Result<(), String> {
        if self.rtt_probe_reads {
            return Ok(()); // loaded and attached already
        }
        self.verify_btf_program(programs::TCP_PROBE_RTT_COMPAT, "tcp_probe")
    }

    /// Loads a `tp_btf` program through the verifier and unloads it.
    fn verify_btf_program(&mut self, name: &str, tracepoint: &str) -> Result<(), String> {
        let btf = Btf::from_sys_fs().map_err(|e| e.to_string())?;
        let prog: &mut BtfTracePoint = typed_program(&mut self.ebpf, name)?;
        load_retrying(|| prog.load(tracepoint, &btf)).map_err(|e| error_text(&e))?;
        let _ = prog.unload();
        Ok(())
    }

    /// Kernel ids of the maps the loaded programs use (for [`crate::mapmem::measure`]).
    pub fn map_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .ebpf
            .programs()
            .filter_map(|(_, p)| p.info().ok())
            .filter_map(|i| i.map_ids().ok().flatten())
            .flatten()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Runs classifier `name` (loaded, attached or not) once per repeat on the packet `frame`
    /// with `BPF_PROG_TEST_RUN`, as if it arrived on the loopback device, and returns the
    /// kernel's mean run time in ns: the profiling harness (`examples/prog_profile.rs`).
    pub fn test_run_classifier(
        &mut self,
        name: &'static str,
        frame: &[u8],
        repeat: u32,
    ) -> Result<u32, TracerError> {
        let fd = self
            .prog(name)?
            .fd()
            .map_err(|source| TracerError::Program { name, source })?;
        let raw = fd.as_fd().as_raw_fd();
        crate::sys::test_run_packet(raw, frame, repeat)
            .map(|(_, ns)| ns)
            .map_err(|source| TracerError::Io {
                what: "BPF_PROG_TEST_RUN",
                source,
            })
    }

    /// Attaches the classifiers to `iface` in the calling thread's network namespace.
    pub fn attach(&mut self, iface: &str) -> Result<AttachKind, TracerError> {
        self.attach_keyed(iface, iface, None)
    }

    /// Attaches the classifiers to `iface` in the calling thread's network namespace, which is
    /// `netns` (a watched secondary namespace) or the observed one (`None`), and records the
    /// attachment under `key` (names repeat across namespaces).
    pub fn attach_keyed(
        &mut self,
        key: &str,
        iface: &str,
        netns: Option<&std::path::Path>,
    ) -> Result<AttachKind, TracerError> {
        if let Some(a) = self.attached.get(key) {
            return Ok(a.kind);
        }
        let result = match self.mode {
            AttachMode::Tcx => self.attach_kind(iface, AttachKind::Tcx),
            AttachMode::Tc => self.attach_kind(iface, AttachKind::Tc),
            AttachMode::Any => match self.attach_kind(iface, AttachKind::Tcx) {
                Ok(a) => Ok(a),
                Err(e) => {
                    tracing::info!(iface, error = %e, "TCX attach failed, falling back to clsact");
                    self.attach_kind(iface, AttachKind::Tc)
                }
            },
        };
        let mut attached = result?;
        attached.netns = netns.map(std::path::Path::to_path_buf);
        let kind = attached.kind;
        self.attached.insert(key.to_string(), attached);
        Ok(kind)
    }

    fn attach_kind(&mut self, iface: &str, kind: AttachKind) -> Result<Attached, TracerError> {
        let mut hooks: Vec<(&'static str, TcAttachType)> = Vec::new();
        let (ing, eg) = match kind {
            AttachKind::Tcx => (programs::TCX_INGRESS, programs::TCX_EGRESS),
            AttachKind::Tc => (programs::TC_INGRESS, programs::TC_EGRESS),
        };
        if self.direction != Direction::Egress {
            hooks.push((ing, TcAttachType::Ingress));
        }
        if self.direction != Direction::Ingress {
            hooks.push((eg, TcAttachType::Egress));
        }
        if kind == AttachKind::Tc {
            // Fails harmlessly when the qdisc already exists.
            let _ = tc::qdisc_add_clsact(iface);
        }
        let mut links = Vec::new();
        for (name, at) in hooks {
            let res = self.prog(name).and_then(|p| {
                let opts = match kind {
                    AttachKind::Tcx => TcAttachOptions::TcxOrder(LinkOrder::default()),
                    AttachKind::Tc => TcAttachOptions::Netlink(NlOptions::default()),
                };
                p.attach_with_options(iface, at, opts)
                    .map_err(|source| TracerError::Program { name, source })
            });
            match res {
                Ok(id) => links.push((name, id)),
                Err(e) => {
                    // Undo the half-done attachment so nothing leaks.
                    for (n, id) in links {
                        if let Ok(p) = self.prog(n) {
                            let _ = p.detach(id);
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(Attached {
            kind,
            links,
            netns: None,
        })
    }

    fn prog(&mut self, name: &'static str) -> Result<&mut SchedClassifier, TracerError> {
        self.ebpf
            .program_mut(name)
            .ok_or(TracerError::Missing(name))?
            .try_into()
            .map_err(|source| TracerError::Program { name, source })
    }

    /// Detaches the classifiers from `iface` (calling thread's namespace). Errors are ignored
    /// when the interface is already gone, which removes its hooks anyway.
    pub fn detach(&mut self, iface: &str) -> bool {
        let Some(a) = self.attached.remove(iface) else {
            return false;
        };
        for (name, id) in a.links {
            match self.prog(name) {
                Ok(p) => {
                    if let Err(e) = p.detach(id) {
                        tracing::debug!(iface, program = name, error = %e, "detach");
                    }
                }
                Err(e) => tracing::warn!(iface, error = %e, "detach"),
            }
        }
        true
    }

    /// Forgets an interface of a secondary namespace that disappeared (or whose namespace did):
    /// its kernel hooks went with the device. TCX links are released by closing their fd; clsact
    /// filters are left to the kernel, since a netlink delete by index from this thread's
    /// namespace could hit an unrelated interface.
    pub fn forget_gone(&mut self, key: &str) {
        let Some(a) = self.attached.remove(key) else {
            return;
        };
        for (name, id) in a.links {
            if let Ok(p) = self.prog(name)
                && let Ok(link) = p.take_link(id)
            {
                if a.kind == AttachKind::Tc {
                    std::mem::forget(link);
                } else {
                    drop(link);
                }
            }
        }
    }

    /// Keys of the attachments made in secondary namespace `netns`.
    pub fn attached_in(&self, netns: &std::path::Path) -> Vec<String> {
        self.attached
            .iter()
            .filter(|(_, a)| a.netns.as_deref() == Some(netns))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Forgets an interface that disappeared: its kernel hooks went with it.
    pub fn forget(&mut self, iface: &str) {
        if self.attached.get(iface).is_some_and(|a| a.netns.is_some()) {
            self.forget_gone(iface);
            return;
        }
        if let Some(a) = self.attached.remove(iface) {
            for (name, id) in a.links {
                if let Ok(p) = self.prog(name) {
                    // Closing the TCX link fd / netlink delete on a dead ifindex: both harmless.
                    let _ = p.detach(id);
                }
            }
        }
    }

    /// Detaches everything (shutdown); interfaces of secondary namespaces are detached from
    /// inside their namespace, or forgotten when it is gone.
    pub fn detach_all(&mut self) {
        let names: Vec<(String, Option<std::path::PathBuf>)> = self
            .attached
            .iter()
            .map(|(k, a)| (k.clone(), a.netns.clone()))
            .collect();
        for (n, ns) in names {
            match ns {
                None => {
                    self.detach(&n);
                }
                Some(path) => {
                    if crate::netns::in_netns(Some(&path), || self.detach(&n)).is_err() {
                        self.forget_gone(&n);
                    }
                }
            }
        }
    }

    /// Interfaces currently hooked, with how.
    pub fn attached(&self) -> Vec<(String, AttachKind)> {
        let mut v: Vec<_> = self
            .attached
            .iter()
            .map(|(n, a)| (n.clone(), a.kind))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fentry_failure_falls_back_to_tp_btf() {
        let mut tried = Vec::new();
        let (state, off) = choose_method(&[RTT_FENTRY, RTT_TP_BTF], |m| {
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
        assert_eq!(state, HookState::Active("tp_btf"));
        assert_eq!(off.len(), 1);
        assert_eq!(off[0].method, "fentry/tcp_rcv_established");
        assert!(off[0].reason.contains("Operation not permitted"), "{off:?}");
    }

    #[test]
    fn fentry_success_skips_tp_btf() {
        let mut tried = Vec::new();
        let (state, off) = choose_method(&[RTT_FENTRY, RTT_TP_BTF], |m| {
            tried.push(m.mode);
            Ok(())
        });
        assert_eq!(
            tried,
            ["fentry"],
            "the fallback is not loaded when fentry works"
        );
        assert_eq!(state, HookState::Active("fentry"));
        assert_eq!(
            off,
            [MethodOff {
                method: "tp_btf/tcp_probe",
                reason: "not needed: fentry/tcp_rcv_established is active".into(),
            }]
        );
    }

    #[test]
    fn every_method_failing_turns_the_hook_off_without_error() {
        let (state, off) =
            choose_method(&[RTT_FENTRY, RTT_TP_BTF], |m| Err(format!("no {}", m.mode)));
        assert_eq!(off.len(), 2);
        match state {
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
