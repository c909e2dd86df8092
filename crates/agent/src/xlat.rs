//! PacketTranslation (`ENABLE_PKT_TRANSLATION`): which method runs, the `nf_conn` offsets the
//! kernel hook needs, and the merge of its per-CPU map.
//!
//! Methods, tried in this order at start and never fatal:
//! 1. `fentry/nf_nat_manip_pkt`: cheapest; refused by kernels in lockdown;
//! 2. `kprobe/nf_nat_manip_pkt`: upstream's method; needs `CONFIG_KPROBES`;
//! 3. conntrack netlink events in user space ([`crate::conntrack`]): works wherever conntrack
//!    runs, costs a little user-space CPU per new translated connection.

use crate::config::Config;
use crate::conntrack;
use crate::error::{TracerError, take_hash_map};
use crate::hooks::{
    HookReport, HookState, Method, choose_method, error_text, load_fentry_hook, load_retrying,
    typed_program,
};
use aya::maps::MapData;
use aya::programs::{FEntry, KProbe};
use aya::{Btf, Ebpf, EbpfLoader};
use netobserv_agent_common::{FlowId, XlatMetrics, globals, maps, programs};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// PacketTranslation on `fentry/nf_nat_manip_pkt` (preferred).
pub const XLAT_FENTRY: Method = Method {
    mode: "fentry",
    name: "fentry/nf_nat_manip_pkt",
};
/// PacketTranslation on `kprobe/nf_nat_manip_pkt` (upstream's method).
pub const XLAT_KPROBE: Method = Method {
    mode: "kprobe",
    name: "kprobe/nf_nat_manip_pkt",
};
/// PacketTranslation from conntrack netlink events (user-space fallback).
pub const XLAT_CONNTRACK: Method = Method {
    mode: "conntrack",
    name: "netlink/conntrack-events",
};
/// Every method, in the order they are tried.
pub const XLAT_METHODS: [Method; 3] = [XLAT_FENTRY, XLAT_KPROBE, XLAT_CONNTRACK];

/// Number of `nf_conn` offset globals.
pub const N_CT_OFFSETS: usize = 9;

/// Names of the offset globals, in the order of [`ct_offsets`]' result.
pub const CT_OFFSET_GLOBALS: [&str; N_CT_OFFSETS] = [
    globals::OFF_CT_TUPLE_ORIG,
    globals::OFF_CT_TUPLE_REPLY,
    globals::OFF_CT_ZONE_ID,
    globals::OFF_TUPLE_SRC_ADDR,
    globals::OFF_TUPLE_SRC_PORT,
    globals::OFF_TUPLE_L3NUM,
    globals::OFF_TUPLE_DST_ADDR,
    globals::OFF_TUPLE_DST_PORT,
    globals::OFF_TUPLE_PROTONUM,
];

/// The `nf_conn` offsets the kernel hook reads, from the running kernel's BTF (Rust eBPF gets
/// no CO-RE relocations). The zone offset is 0 when the kernel has no conntrack zones.
pub fn ct_offsets(btf: &crate::btf::Btf) -> Result<[u32; N_CT_OFFSETS], String> {
    let missing = |what: &str| format!("kernel BTF has no {what}");
    let tuplehash = btf
        .member_offset("nf_conn", "tuplehash")
        .ok_or_else(|| missing("nf_conn.tuplehash"))?;
    let hash_size = btf
        .struct_size("nf_conntrack_tuple_hash")
        .ok_or_else(|| missing("struct nf_conntrack_tuple_hash"))?;
    let tuple_in_hash = btf
        .member_offset("nf_conntrack_tuple_hash", "tuple")
        .ok_or_else(|| missing("nf_conntrack_tuple_hash.tuple"))?;
    let zone = match (
        btf.member_offset("nf_conn", "zone"),
        btf.member_offset("nf_conntrack_zone", "id"),
    ) {
        (Some(z), Some(id)) => z + id,
        _ => 0,
    };
    let t = |path: &[&str]| {
        btf.member_path_offset("nf_conntrack_tuple", path)
            .ok_or_else(|| missing(&format!("nf_conntrack_tuple.{}", path.join("."))))
    };
    Ok([
        tuplehash + tuple_in_hash,
        tuplehash + hash_size + tuple_in_hash,
        zone,
        t(&["src", "u3"])?,
        t(&["src", "u"])?,
        t(&["src", "l3num"])?,
        t(&["dst", "u3"])?,
        t(&["dst", "u"])?,
        t(&["dst", "protonum"])?,
    ])
}

/// Loads and attaches one kernel method, or starts the conntrack listener.
fn try_method(
    ebpf: &mut Ebpf,
    btf: Option<&Btf>,
    m: Method,
    offsets_ok: Result<(), &str>,
    table: &Arc<conntrack::Table>,
    listener: &mut Option<conntrack::Listener>,
    netns: Option<&Path>,
) -> Result<(), String> {
    if m == XLAT_CONNTRACK {
        let t = table.clone();
        let l = crate::netns::in_netns(netns, move || conntrack::Listener::start(t))
            .and_then(|r| r)
            .map_err(|e| format!("conntrack netlink: {e}"))?;
        *listener = Some(l);
        return Ok(());
    }
    offsets_ok.map_err(str::to_string)?;
    if m == XLAT_FENTRY {
        return load_fentry_hook(ebpf, btf, programs::NAT_MANIP_FENTRY, "nf_nat_manip_pkt");
    }
    let prog = kprobe_program(ebpf)?;
    load_retrying(|| prog.load()).map_err(|e| error_text(&e))?;
    if let Err(e) = prog.attach("nf_nat_manip_pkt", 0) {
        let _ = prog.unload();
        let mut why = error_text(&e);
        if why.contains("event_source/devices/kprobe") {
            why.push_str(" (no kprobe PMU: kernel built without CONFIG_KPROBES)");
        }
        return Err(why);
    }
    Ok(())
}

/// The kprobe program of the object.
pub fn kprobe_program(ebpf: &mut Ebpf) -> Result<&mut KProbe, String> {
    typed_program(ebpf, programs::NAT_MANIP_KPROBE)
}

/// Verifier-loads the kernel methods' programs without attaching them, then unloads them: tells
/// whether this kernel accepts the program types and whether the verifier accepts the code,
/// apart from whether the attach point is usable. One result per kernel method.
pub fn verify_programs(ebpf: &mut Ebpf, btf: Option<&Btf>) -> Vec<(Method, Result<(), String>)> {
    let fentry = (|| {
        let btf = btf.ok_or("no kernel BTF")?;
        let prog: &mut FEntry = typed_program(ebpf, programs::NAT_MANIP_FENTRY)?;
        load_retrying(|| prog.load("nf_nat_manip_pkt", btf)).map_err(|e| error_text(&e))?;
        let _ = prog.unload();
        Ok::<(), String>(())
    })();
    let kprobe = (|| {
        let prog = kprobe_program(ebpf)?;
        load_retrying(|| prog.load()).map_err(|e| error_text(&e))?;
        let _ = prog.unload();
        Ok::<(), String>(())
    })();
    vec![(XLAT_FENTRY, fentry), (XLAT_KPROBE, kprobe)]
}

/// PacketTranslation before the object is loaded: the `nf_conn` offsets the kernel hook reads
/// (without them only the conntrack method can work), or that it is disabled.
pub(crate) struct XlatPlan {
    enabled: bool,
    offsets: Result<[u32; N_CT_OFFSETS], String>,
}

/// What [`XlatPlan::start`] set up.
pub(crate) struct XlatSetup {
    /// Active method or why off, and the methods not in use.
    pub(crate) report: HookReport,
    /// The conntrack listener when that method is active.
    pub(crate) listener: Option<conntrack::Listener>,
}

impl XlatPlan {
    /// Reads the offsets from the running kernel's BTF when PacketTranslation is enabled.
    pub(crate) fn new(cfg: &Config) -> Self {
        let offsets = if cfg.enable_pkt_translation {
            crate::btf::Btf::from_sys_fs()
                .map_err(|e| format!("kernel BTF: {e}"))
                .and_then(|b| ct_offsets(&b))
        } else {
            Err("disabled".to_string())
        };
        Self {
            enabled: cfg.enable_pkt_translation,
            offsets,
        }
    }

    /// Sets the offset globals and sizes the translation map (`CACHE_MAX_FLOWS` entries when
    /// enabled, 1 otherwise).
    pub(crate) fn configure<'a>(&'a self, loader: &mut EbpfLoader<'a>, cfg: &Config) {
        if let Ok(ct) = &self.offsets {
            for (name, v) in CT_OFFSET_GLOBALS.iter().zip(ct.iter()) {
                loader.override_global(name, v, true);
            }
        }
        let entries = if self.enabled { cfg.cache_max_flows } else { 1 };
        loader.map_max_entries(maps::AGGREGATED_FLOWS_XLAT, entries);
    }

    /// Chooses and starts a method (see the module doc) when enabled. Connections stay known for
    /// a couple of eviction periods after conntrack destroys them; the conntrack listener runs
    /// in the observed namespace, since conntrack tables are per namespace.
    pub(crate) fn start(&self, ebpf: &mut Ebpf, btf: Option<&Btf>, cfg: &Config) -> XlatSetup {
        if !self.enabled {
            return XlatSetup {
                report: HookReport::off(
                    &XLAT_METHODS,
                    "disabled (ENABLE_PKT_TRANSLATION is false)",
                ),
                listener: None,
            };
        }
        start(
            ebpf,
            btf,
            self.offsets.as_ref().map(|_| ()).map_err(String::as_str),
            cfg.cache_max_flows as usize * 4,
            cfg.cache_active_timeout * 2 + Duration::from_secs(5),
            cfg.netns.as_deref(),
        )
    }
}

/// Chooses and starts a PacketTranslation method (see the module doc). `offsets` is the result
/// of [`ct_offsets`]; without them only the conntrack method can work. `grace` is how long
/// destroyed connections stay known (a couple of eviction periods). The conntrack listener
/// runs in `netns` (the observed namespace), since conntrack tables are per namespace.
fn start(
    ebpf: &mut Ebpf,
    btf: Option<&Btf>,
    offsets: Result<(), &str>,
    max_entries: usize,
    grace: Duration,
    netns: Option<&Path>,
) -> XlatSetup {
    let table = Arc::new(conntrack::Table::new(max_entries, grace));
    let mut listener = None;
    let report = choose_method(&XLAT_METHODS, |m| {
        try_method(ebpf, btf, m, offsets, &table, &mut listener, netns)
    });
    for o in &report.methods_off {
        tracing::info!(method = o.method, reason = %o.reason, "PacketTranslation method off");
    }
    match &report.state {
        HookState::Active(mode) => tracing::info!(mode, "PacketTranslation active"),
        HookState::Off(why) => tracing::warn!(reason = %why, "PacketTranslation unavailable"),
    }
    XlatSetup { report, listener }
}

/// What user space drains: the kernel map (whichever method is active: empty unless a kernel
/// hook or a test fills it) and, when that fallback is active, the conntrack listener.
pub(crate) struct XlatSource {
    map: MapData,
    conntrack: Option<conntrack::Listener>,
}

impl XlatSource {
    /// Takes the kernel map out of the object when PacketTranslation is enabled.
    pub(crate) fn take(
        ebpf: &mut Ebpf,
        cfg: &Config,
        conntrack: Option<conntrack::Listener>,
    ) -> Result<Option<Self>, TracerError> {
        if !cfg.enable_pkt_translation {
            return Ok(None);
        }
        Ok(Some(Self {
            map: take_hash_map(ebpf, maps::AGGREGATED_FLOWS_XLAT)?,
            conntrack,
        }))
    }

    /// Removes and returns the translation of the given flows (and of flows only the hook saw):
    /// from the kernel map when a kernel method is active, else from the conntrack table.
    pub(crate) fn drain<'a>(
        &self,
        flows: impl Iterator<Item = &'a FlowId>,
        batched: &mut bool,
    ) -> Vec<(FlowId, XlatMetrics)> {
        let mut out = crate::sys::drain_shared::<XlatMetrics>(
            &self.map,
            batched,
            maps::AGGREGATED_FLOWS_XLAT,
        );
        if let Some(l) = &self.conntrack {
            if out.is_empty() {
                out = l.table().lookup(flows);
            } else {
                let seen: std::collections::HashSet<FlowId> = out.iter().map(|(k, _)| *k).collect();
                out.extend(l.table().lookup(flows.filter(|f| !seen.contains(*f))));
            }
        }
        out
    }

    /// The conntrack table of the fallback, when it is the active method.
    pub(crate) fn conntrack_table(&self) -> Option<Arc<conntrack::Table>> {
        self.conntrack.as_ref().map(|l| l.table().clone())
    }

    /// Writes one entry into the kernel map, as the kernel hook would.
    pub(crate) fn inject(&self, id: &FlowId, value: XlatMetrics) -> Result<(), TracerError> {
        crate::sys::update_elem(self.map.fd().as_fd().as_raw_fd(), id, &value).map_err(|source| {
            TracerError::Io {
                what: "writing aggregated_flows_xlat",
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_down_kernel_without_kprobes_falls_back_to_conntrack() {
        let r = choose_method(&XLAT_METHODS, |m| match m.mode {
            "fentry" => Err("Operation not permitted (os error 1)".into()),
            "kprobe" => Err("No such file or directory (os error 2)".into()),
            _ => Ok(()),
        });
        assert_eq!(r.state, HookState::Active("conntrack"));
        let off = r.methods_off;
        let methods: Vec<_> = off.iter().map(|o| o.method).collect();
        assert_eq!(
            methods,
            ["fentry/nf_nat_manip_pkt", "kprobe/nf_nat_manip_pkt"]
        );
        assert!(off[0].reason.contains("Operation not permitted"));
    }

    #[test]
    fn conntrack_offsets_from_the_running_kernel() {
        let btf = crate::btf::Btf::from_sys_fs().expect("kernel BTF");
        let off = ct_offsets(&btf).expect("nf_conn offsets");
        assert!(off[1] > off[0], "reply tuple after the original: {off:?}");
        assert_eq!(&off[3..], &[0, 16, 18, 20, 36, 38]);
    }
}
