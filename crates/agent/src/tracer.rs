//! Loading the kernel object: the flow classifiers and each enabled feature's hooks (every
//! feature in its own module: [`crate::rtt`], [`crate::drops`], [`crate::dns`],
//! [`crate::xlat`], [`crate::ipsec`], [`crate::netevents::kernel`], [`crate::flowcache`], [`crate::filter`]),
//! with what each one reports; attaching the classifiers to interfaces
//! ([`crate::classifiers`]); handing the maps user space drains to [`FlowMaps`]. In packet mode
//! ([`Tracer::load_packets`]) the capture classifiers take the flow classifiers' place
//! ([`crate::capture`]).

use crate::capture::{CapturePlan, PacketSource};
use crate::classifiers::{Attachments, ClassifierPlan, ProgramSet};
use crate::config::Config;
use crate::drops::{DropsMap, DropsPlan};
use crate::error::TracerError;
use crate::flowcache::CacheSide;
use crate::flowmaps::{FeatureMaps, FlowMaps};
use crate::hooks::{HookReport, Method};
use crate::ipsec::IpsecPlan;
use crate::rtt::{AdditionalMap, RttPlan};
use crate::xlat::{XlatPlan, XlatSource};
use aya::{Btf, Ebpf, EbpfLoader};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

pub use crate::classifiers::AttachKind;

/// The loaded object: programs to attach and what each optional hook reports.
pub struct Tracer {
    ebpf: Ebpf,
    /// FlowRTT.
    pub rtt: HookReport,
    /// PacketDrop.
    pub drops: HookReport,
    /// NetworkEvents.
    pub netevents: HookReport,
    /// PacketTranslation (kernel hook, conntrack fallback, or off).
    pub xlat: HookReport,
    /// IPsec.
    pub ipsec: HookReport,
    /// Whether the classifiers stamp a flow's later packets with the coarse (tick) clock.
    pub coarse_clock: bool,
    /// The per-CPU flow cache: `on (N slots per CPU)` or `off: why`, for `/status`.
    pub flow_cache: String,
    /// Whether the capture classifiers are the ones attached (`ENABLE_PCA=true`).
    pub packet_mode: bool,
    attachments: Attachments,
}

/// Every feature's state before the object is loaded (kernel offsets, globals to set), kept
/// for the loader to borrow.
struct Plans {
    classifiers: ClassifierPlan,
    rtt: RttPlan,
    drops: DropsPlan,
    xlat: XlatPlan,
    ipsec: IpsecPlan,
    netevents: Result<crate::netevents::kernel::Offsets, String>,
    netevents_globals: crate::netevents::kernel::Offsets,
}

impl Plans {
    fn new(cfg: &Config) -> Self {
        let netevents = if cfg.network_events.enable {
            crate::netevents::kernel::offsets_from_kernel()
        } else {
            Ok(Default::default())
        };
        Self {
            classifiers: ClassifierPlan::new(cfg),
            rtt: RttPlan::new(cfg),
            drops: DropsPlan::new(cfg),
            xlat: XlatPlan::new(cfg),
            ipsec: IpsecPlan::new(cfg),
            netevents_globals: netevents.clone().unwrap_or_default(),
            netevents,
        }
    }

    /// Globals and map sizes of every part, before load. IPsec comes after FlowRTT: it sizes
    /// the map they share when it needs it.
    fn configure<'a>(&'a self, loader: &mut EbpfLoader<'a>, cfg: &'a Config) {
        self.classifiers.configure(loader, cfg);
        self.rtt.configure(loader, cfg);
        self.ipsec.configure(loader, cfg);
        self.drops.configure(loader, cfg);
        self.xlat.configure(loader, cfg);
        crate::netevents::kernel::configure(loader, cfg, &self.netevents_globals);
    }
}

impl Tracer {
    /// Loads the object with the configured sampling, map sizes and filter rules, starts the
    /// enabled features' hooks (a hook that cannot run is reported, never fatal), and verifies
    /// the classifiers for the attach mode in use.
    pub fn load(cfg: &Config) -> Result<(Self, FlowMaps), TracerError> {
        let btf = Btf::from_sys_fs().ok();
        let plans = Plans::new(cfg);
        let mut loader = EbpfLoader::new();
        loader.btf(btf.as_ref());
        plans.configure(&mut loader, cfg);
        let mut ebpf = loader.load(crate::object::ebpf_object())?;
        let rtt = plans.rtt.start(&mut ebpf, btf.as_ref());
        let drops = plans.drops.start(&mut ebpf, btf.as_ref());
        let netevents =
            crate::netevents::kernel::attach(&mut ebpf, btf.as_ref(), cfg, &plans.netevents);
        let xlat = plans.xlat.start(&mut ebpf, btf.as_ref(), cfg);
        let ipsec = plans.ipsec.start(&mut ebpf, btf.as_ref());
        crate::classifiers::load(&mut ebpf, cfg.tc_attach_mode, ProgramSet::FLOWS)?;
        if !cfg.flow_filter_rules.is_empty() {
            crate::filter::program(&mut ebpf, &cfg.flow_filter_rules)?;
        }
        let cache = CacheSide::start(&mut ebpf, cfg.flow_cache);
        let flow_cache = cache.status().to_string();
        let features = FeatureMaps {
            additional: AdditionalMap::take(&mut ebpf, [&rtt, &ipsec])?,
            drops: DropsMap::take(&mut ebpf, &drops)?,
            dns: crate::dns::DnsMaps::take(&mut ebpf, cfg)?,
            tls: crate::tls::TlsMap::take(&mut ebpf, cfg)?,
            quic: crate::quic::QuicMap::take(&mut ebpf, cfg)?,
            network_events: crate::netevents::kernel::take_map(&mut ebpf, cfg)
                .map_err(TracerError::Missing)?,
            xlat: XlatSource::take(&mut ebpf, cfg, xlat.listener)?,
        };
        let flow_maps = FlowMaps::new(&mut ebpf, features, cache)?;
        Ok((
            Self {
                ebpf,
                rtt,
                drops,
                netevents,
                xlat: xlat.report,
                ipsec,
                coarse_clock: plans.classifiers.coarse_clock,
                flow_cache,
                packet_mode: false,
                attachments: Attachments::new(cfg.tc_attach_mode, cfg.direction, ProgramSet::FLOWS),
            },
            flow_maps,
        ))
    }

    /// Loads the object for packet mode (`ENABLE_PCA=true`): the capture classifiers with the
    /// snap length, ring size and filter rules, the flow side shrunk and its features off.
    pub fn load_packets(cfg: &Config) -> Result<(Self, PacketSource), TracerError> {
        let btf = Btf::from_sys_fs().ok();
        let flows_off = crate::capture::flows_off(cfg);
        let plans = Plans::new(&flows_off);
        let capture = CapturePlan::new(cfg);
        let mut loader = EbpfLoader::new();
        loader.btf(btf.as_ref());
        plans.configure(&mut loader, &flows_off);
        capture.configure(&mut loader);
        let mut ebpf = loader.load(crate::object::ebpf_object())?;
        crate::classifiers::load(&mut ebpf, cfg.tc_attach_mode, ProgramSet::PACKETS)?;
        if !cfg.flow_filter_rules.is_empty() {
            crate::filter::program(&mut ebpf, &cfg.flow_filter_rules)?;
        }
        let source = PacketSource::take(&mut ebpf)?;
        let off = HookReport::off(&[], "packet capture mode (ENABLE_PCA=true): flows are off");
        Ok((
            Self {
                ebpf,
                rtt: off.clone(),
                drops: off.clone(),
                netevents: off.clone(),
                xlat: off.clone(),
                ipsec: off,
                coarse_clock: false,
                flow_cache: "off: packet capture mode (ENABLE_PCA=true)".into(),
                packet_mode: true,
                attachments: Attachments::new(
                    cfg.tc_attach_mode,
                    cfg.direction,
                    ProgramSet::PACKETS,
                ),
            },
            source,
        ))
    }

    /// Verifier-loads the PacketTranslation kernel programs without attaching them (see
    /// [`crate::xlat::verify_programs`]); diagnostics and tests.
    pub fn verify_xlat_programs(&mut self) -> Vec<(Method, Result<(), String>)> {
        let btf = Btf::from_sys_fs().ok();
        crate::xlat::verify_programs(&mut self.ebpf, btf.as_ref())
    }

    /// Verifier-loads both IPsec methods' programs without attaching them (see
    /// [`crate::ipsec::verify_programs`]); diagnostics and tests. Call it on a tracer whose
    /// IPsec hooks are off: an attached method's programs would be unloaded.
    pub fn verify_ipsec_programs(&mut self) -> Vec<(Method, Result<(), String>)> {
        let btf = Btf::from_sys_fs().ok();
        crate::ipsec::verify_programs(&mut self.ebpf, btf.as_ref())
    }

    /// Verifier-loads the PacketDrop probe-read fallback without attaching it (the agent only
    /// loads it when the direct-load variant is refused, which no test kernel does); tests.
    pub fn verify_drop_compat_program(&mut self) -> Result<(), String> {
        if self.drops.probe_reads {
            return Ok(()); // loaded and attached already
        }
        crate::drops::verify_compat_program(&mut self.ebpf)
    }

    /// Verifier-loads the FlowRTT probe-read fallback without attaching it, like
    /// [`Tracer::verify_drop_compat_program`]; tests.
    pub fn verify_rtt_compat_program(&mut self) -> Result<(), String> {
        if self.rtt.probe_reads {
            return Ok(()); // loaded and attached already
        }
        crate::rtt::verify_compat_program(&mut self.ebpf)
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
        let fd = crate::classifiers::program(&mut self.ebpf, name)?
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
        netns: Option<&Path>,
    ) -> Result<AttachKind, TracerError> {
        self.attachments.attach(&mut self.ebpf, key, iface, netns)
    }

    /// Detaches the classifiers from `iface` (calling thread's namespace). Errors are ignored
    /// when the interface is already gone, which removes its hooks anyway.
    pub fn detach(&mut self, iface: &str) -> bool {
        self.attachments.detach(&mut self.ebpf, iface)
    }

    /// Forgets an interface of a secondary namespace that disappeared (or whose namespace did):
    /// its kernel hooks went with the device.
    pub fn forget_gone(&mut self, key: &str) {
        self.attachments.forget_gone(&mut self.ebpf, key);
    }

    /// Keys of the attachments made in secondary namespace `netns`.
    pub fn attached_in(&self, netns: &Path) -> Vec<String> {
        self.attachments.attached_in(netns)
    }

    /// Forgets an interface that disappeared: its kernel hooks went with it.
    pub fn forget(&mut self, iface: &str) {
        self.attachments.forget(&mut self.ebpf, iface);
    }

    /// Detaches everything (shutdown); interfaces of secondary namespaces are detached from
    /// inside their namespace, or forgotten when it is gone.
    pub fn detach_all(&mut self) {
        self.attachments.detach_all(&mut self.ebpf);
    }

    /// Interfaces currently hooked, with how.
    pub fn attached(&self) -> Vec<(String, AttachKind)> {
        self.attachments.list()
    }
}
