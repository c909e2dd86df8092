//! The flow classifiers (TC/TCX, ingress/egress): their load-time settings and map sizes,
//! loading them through the verifier for the attach mode in use, and attaching them to
//! interfaces (TCX, or clsact as fallback), in the observed namespace or a secondary one. Packet
//! capture attaches its own classifiers the same way ([`ProgramSet::PACKETS`]).

use crate::config::{AttachMode, Config, Direction};
use crate::error::TracerError;
use crate::hooks::load_retrying;
use aya::programs::tc::{self, NlOptions, SchedClassifierLinkId, TcAttachOptions};
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
use aya::{Ebpf, EbpfLoader};
use netobserv_agent_common::{capture, globals, maps, programs};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How an interface got its classifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachKind {
    /// TCX links (kernel ≥ 6.6).
    Tcx,
    /// Legacy clsact `bpf` filters.
    Tc,
}

/// The four classifiers (TC and TCX, ingress and egress) the agent attaches to interfaces: the
/// flow classifiers, or the packet capture ones in packet mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramSet {
    /// Legacy TC ingress program.
    pub tc_ingress: &'static str,
    /// Legacy TC egress program.
    pub tc_egress: &'static str,
    /// TCX ingress program.
    pub tcx_ingress: &'static str,
    /// TCX egress program.
    pub tcx_egress: &'static str,
}

impl ProgramSet {
    /// The flow classifiers.
    pub const FLOWS: Self = Self {
        tc_ingress: programs::TC_INGRESS,
        tc_egress: programs::TC_EGRESS,
        tcx_ingress: programs::TCX_INGRESS,
        tcx_egress: programs::TCX_EGRESS,
    };
    /// The packet capture classifiers (`ENABLE_PCA=true`).
    pub const PACKETS: Self = Self {
        tc_ingress: capture::programs::TC_INGRESS,
        tc_egress: capture::programs::TC_EGRESS,
        tcx_ingress: capture::programs::TCX_INGRESS,
        tcx_egress: capture::programs::TCX_EGRESS,
    };

    /// (ingress, egress) programs of an attach kind.
    fn of(&self, kind: AttachKind) -> (&'static str, &'static str) {
        match kind {
            AttachKind::Tcx => (self.tcx_ingress, self.tcx_egress),
            AttachKind::Tc => (self.tc_ingress, self.tc_egress),
        }
    }
}

/// Whether TC programs may call `bpf_ktime_get_coarse_ns` (kernel 5.11+), probed by loading a
/// minimal program that calls it. A failed probe means "no": the precise clock always works.
fn coarse_clock_supported() -> bool {
    match aya::sys::is_helper_supported(
        aya::programs::ProgramType::SchedClassifier,
        aya::sys::BpfHelper::BPF_FUNC_ktime_get_coarse_ns,
    ) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, "probing bpf_ktime_get_coarse_ns failed; using the precise clock");
            false
        }
    }
}

/// The classifiers' load-time globals, kept for the loader to borrow.
pub(crate) struct ClassifierPlan {
    /// Whether the classifiers stamp a flow's later packets with the coarse (tick) clock.
    pub(crate) coarse_clock: bool,
    coarse: u8,
    rules: u8,
    rule_sampling: u8,
    dns: u8,
    tls: u8,
    wakeup_shift: u32,
}

impl ClassifierPlan {
    /// Probes the kernel and reads the settings the classifiers need.
    pub(crate) fn new(cfg: &Config) -> Self {
        let coarse_clock = coarse_clock_supported();
        Self {
            coarse_clock,
            coarse: u8::from(coarse_clock),
            rules: u8::from(!cfg.flow_filter_rules.is_empty()),
            rule_sampling: u8::from(cfg.flow_filter_rules.iter().any(|r| r.sample > 0)),
            dns: u8::from(cfg.enable_dns_tracking),
            tls: u8::from(cfg.enable_tls_tracking),
            wakeup_shift: (cfg.ringbuf_bytes() / 4).trailing_zeros(),
        }
    }

    /// Sets the globals (sampling, clock, filter switches, ring wakeup step, profiling stop,
    /// DNS, TLS and QUIC tracking's) and sizes the flow map (`CACHE_MAX_FLOWS`) and the ring buffer
    /// ([`Config::ringbuf_bytes`]).
    pub(crate) fn configure<'a>(&'a self, loader: &mut EbpfLoader<'a>, cfg: &'a Config) {
        loader
            .override_global(globals::SAMPLING, &cfg.sampling, true)
            .override_global(globals::COARSE_CLOCK, &self.coarse, true)
            .override_global(globals::PROFILE_STOP, &cfg.profile_stop, true)
            .override_global(globals::ENABLE_FLOWS_FILTERING, &self.rules, true)
            .override_global(globals::HAS_FILTER_SAMPLING, &self.rule_sampling, true)
            .override_global(globals::RINGBUF_WAKEUP_SHIFT, &self.wakeup_shift, true)
            .map_max_entries(maps::AGGREGATED_FLOWS, cfg.cache_max_flows)
            .map_max_entries(maps::DIRECT_FLOWS, cfg.ringbuf_bytes());
        crate::dns::configure(loader, cfg, &self.dns);
        crate::tls::configure(loader, cfg, &self.tls);
        crate::quic::configure(loader, cfg);
    }
}

/// Verifier-loads the classifiers of `set` for the attach mode.
pub(crate) fn load(ebpf: &mut Ebpf, mode: AttachMode, set: ProgramSet) -> Result<(), TracerError> {
    let (tcx, tc) = (set.of(AttachKind::Tcx), set.of(AttachKind::Tc));
    let wanted: Vec<&'static str> = match mode {
        AttachMode::Tcx => vec![tcx.0, tcx.1],
        AttachMode::Tc => vec![tc.0, tc.1],
        AttachMode::Any => vec![tcx.0, tcx.1, tc.0, tc.1],
    };
    for name in wanted {
        let prog = program(ebpf, name)?;
        load_retrying(|| prog.load()).map_err(|source| TracerError::Program { name, source })?;
    }
    Ok(())
}

/// Classifier `name` of the object.
pub(crate) fn program<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, TracerError> {
    ebpf.program_mut(name)
        .ok_or(TracerError::Missing(name))?
        .try_into()
        .map_err(|source| TracerError::Program { name, source })
}

struct Attached {
    kind: AttachKind,
    links: Vec<(&'static str, SchedClassifierLinkId)>,
    /// Namespace of the interface when it is not the observed one (secondary interfaces).
    netns: Option<PathBuf>,
}

/// The interfaces the classifiers are attached to, by key (the name in the observed namespace,
/// `NETNS_PATH:name` elsewhere), with their links.
pub(crate) struct Attachments {
    mode: AttachMode,
    direction: Direction,
    set: ProgramSet,
    attached: HashMap<String, Attached>,
}

impl Attachments {
    /// No interface yet; attaches the programs of `set` with `mode` in `direction`.
    pub(crate) fn new(mode: AttachMode, direction: Direction, set: ProgramSet) -> Self {
        Self {
            mode,
            direction,
            set,
            attached: HashMap::new(),
        }
    }

    /// Attaches the classifiers to `iface` in the calling thread's network namespace, which is
    /// `netns` (a watched secondary namespace) or the observed one (`None`), and records the
    /// attachment under `key`.
    pub(crate) fn attach(
        &mut self,
        ebpf: &mut Ebpf,
        key: &str,
        iface: &str,
        netns: Option<&Path>,
    ) -> Result<AttachKind, TracerError> {
        if let Some(a) = self.attached.get(key) {
            return Ok(a.kind);
        }
        let result = match self.mode {
            AttachMode::Tcx => self.attach_kind(ebpf, iface, AttachKind::Tcx),
            AttachMode::Tc => self.attach_kind(ebpf, iface, AttachKind::Tc),
            AttachMode::Any => match self.attach_kind(ebpf, iface, AttachKind::Tcx) {
                Ok(a) => Ok(a),
                Err(e) => {
                    tracing::info!(iface, error = %e, "TCX attach failed, falling back to clsact");
                    self.attach_kind(ebpf, iface, AttachKind::Tc)
                }
            },
        };
        let mut attached = result?;
        attached.netns = netns.map(Path::to_path_buf);
        let kind = attached.kind;
        self.attached.insert(key.to_string(), attached);
        Ok(kind)
    }

    fn attach_kind(
        &self,
        ebpf: &mut Ebpf,
        iface: &str,
        kind: AttachKind,
    ) -> Result<Attached, TracerError> {
        let mut hooks: Vec<(&'static str, TcAttachType)> = Vec::new();
        let (ing, eg) = self.set.of(kind);
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
            let res = program(ebpf, name).and_then(|p| {
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
                        if let Ok(p) = program(ebpf, n) {
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

    /// Detaches the classifiers from `key` (calling thread's namespace). Errors are ignored
    /// when the interface is already gone, which removes its hooks anyway.
    pub(crate) fn detach(&mut self, ebpf: &mut Ebpf, key: &str) -> bool {
        let Some(a) = self.attached.remove(key) else {
            return false;
        };
        for (name, id) in a.links {
            match program(ebpf, name) {
                Ok(p) => {
                    if let Err(e) = p.detach(id) {
                        tracing::debug!(iface = key, program = name, error = %e, "detach");
                    }
                }
                Err(e) => tracing::warn!(iface = key, error = %e, "detach"),
            }
        }
        true
    }

    /// Forgets an interface of a secondary namespace that disappeared (or whose namespace did):
    /// its kernel hooks went with the device. TCX links are released by closing their fd; clsact
    /// filters are left to the kernel, since a netlink delete by index from this thread's
    /// namespace could hit an unrelated interface.
    pub(crate) fn forget_gone(&mut self, ebpf: &mut Ebpf, key: &str) {
        let Some(a) = self.attached.remove(key) else {
            return;
        };
        for (name, id) in a.links {
            if let Ok(p) = program(ebpf, name)
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

    /// Forgets an interface that disappeared: its kernel hooks went with it.
    pub(crate) fn forget(&mut self, ebpf: &mut Ebpf, key: &str) {
        if self.attached.get(key).is_some_and(|a| a.netns.is_some()) {
            self.forget_gone(ebpf, key);
            return;
        }
        if let Some(a) = self.attached.remove(key) {
            for (name, id) in a.links {
                if let Ok(p) = program(ebpf, name) {
                    // Closing the TCX link fd / netlink delete on a dead ifindex: both harmless.
                    let _ = p.detach(id);
                }
            }
        }
    }

    /// Detaches everything (shutdown); interfaces of secondary namespaces are detached from
    /// inside their namespace, or forgotten when it is gone.
    pub(crate) fn detach_all(&mut self, ebpf: &mut Ebpf) {
        let keys: Vec<(String, Option<PathBuf>)> = self
            .attached
            .iter()
            .map(|(k, a)| (k.clone(), a.netns.clone()))
            .collect();
        for (key, ns) in keys {
            match ns {
                None => {
                    self.detach(ebpf, &key);
                }
                Some(path) => {
                    if crate::netns::in_netns(Some(&path), || self.detach(ebpf, &key)).is_err() {
                        self.forget_gone(ebpf, &key);
                    }
                }
            }
        }
    }

    /// Keys of the attachments made in secondary namespace `netns`.
    pub(crate) fn attached_in(&self, netns: &Path) -> Vec<String> {
        self.attached
            .iter()
            .filter(|(_, a)| a.netns.as_deref() == Some(netns))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Interfaces currently hooked, with how, sorted.
    pub(crate) fn list(&self) -> Vec<(String, AttachKind)> {
        let mut v: Vec<_> = self
            .attached
            .iter()
            .map(|(n, a)| (n.clone(), a.kind))
            .collect();
        v.sort();
        v
    }
}
