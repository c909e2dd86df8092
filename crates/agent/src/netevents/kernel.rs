//! Loading the NetworkEvents hook: kernel struct offsets from BTF, load-time globals, and the
//! run-time choice between `fentry` and `kprobe` on `psample_sample_packet`. Nothing here is
//! fatal: a kernel without psample, kprobes or fentry leaves the hook off, with the reason.

use super::NetworkEventsTotals;
use crate::config::Config;
use crate::hooks::{
    HookReport, HookState, Method, MethodOff, choose_method, load_fentry_hook, load_kprobe_hook,
    load_retrying, typed_program,
};
use aya::maps::{Map, MapData};
use aya::programs::{FEntry, KProbe};
use aya::{Btf, Ebpf, EbpfLoader};
use netobserv_agent_common::FlowId;
use netobserv_agent_common::netevents::{
    HOOKED_FUNCTION, MAP, NetworkEventsMetrics, PROGRAM_FENTRY, PROGRAM_KPROBE, globals,
};
use std::os::fd::{AsFd, AsRawFd};

/// NetworkEvents on `fentry/psample_sample_packet` (preferred: cheaper than a kprobe).
pub const FENTRY: Method = Method {
    mode: "fentry",
    name: "fentry/psample_sample_packet",
};
/// NetworkEvents on `kprobe/psample_sample_packet` (upstream's method; needs `CONFIG_KPROBES`).
pub const KPROBE: Method = Method {
    mode: "kprobe",
    name: "kprobe/psample_sample_packet",
};

/// Byte offsets of the kernel struct members the hook reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offsets {
    /// `psample_group.group_num`.
    pub group_num: u32,
    /// `psample_metadata.user_cookie`.
    pub user_cookie: u32,
    /// `psample_metadata.user_cookie_len`.
    pub user_cookie_len: u32,
    /// `sk_buff.head`.
    pub skb_head: u32,
    /// `sk_buff.data`.
    pub skb_data: u32,
    /// `sk_buff.network_header`.
    pub skb_network_header: u32,
    /// `sk_buff.len`.
    pub skb_len: u32,
}

/// Reads the offsets from the running kernel's BTF: vmlinux, then the `psample` module's split
/// BTF (psample is a module on most distributions). The error says what is missing; on a kernel
/// without psample it explains that the hook has nothing to attach to.
pub fn offsets_from_kernel() -> Result<Offsets, String> {
    let vmlinux = crate::btf::Btf::from_sys_fs().map_err(|e| format!("kernel BTF: {e}"))?;
    let module = crate::btf::Btf::module_from_sys_fs("psample", &vmlinux).ok();
    let find = |s: &str, m: &str| {
        vmlinux
            .member_offset(s, m)
            .or_else(|| module.as_ref().and_then(|b| b.member_offset(s, m)))
    };
    let psample = |m: &str, s: &str| {
        find(s, m).ok_or_else(|| {
            format!(
                "kernel BTF has no {s}.{m}: this kernel has no psample (CONFIG_PSAMPLE), or one \
                 too old for sample cookies (psample_metadata.user_cookie, Linux 6.11 / RHEL 9.6)"
            )
        })
    };
    let skb = |m: &str| find("sk_buff", m).ok_or_else(|| format!("kernel BTF has no sk_buff.{m}"));
    Ok(Offsets {
        group_num: psample("group_num", "psample_group")?,
        user_cookie: psample("user_cookie", "psample_metadata")?,
        user_cookie_len: psample("user_cookie_len", "psample_metadata")?,
        skb_head: skb("head")?,
        skb_data: skb("data")?,
        skb_network_header: skb("network_header")?,
        skb_len: skb("len")?,
    })
}

/// Sets the hook's load-time globals and sizes its map (`CACHE_MAX_FLOWS` when the feature is
/// on, 1 entry otherwise, to cost nothing).
pub fn configure<'a>(loader: &mut EbpfLoader<'a>, cfg: &'a Config, offsets: &'a Offsets) {
    let ne = &cfg.network_events;
    loader
        .override_global(globals::GROUP_ID, &ne.group_id, true)
        .override_global(globals::OFF_GROUP_NUM, &offsets.group_num, true)
        .override_global(globals::OFF_USER_COOKIE, &offsets.user_cookie, true)
        .override_global(globals::OFF_USER_COOKIE_LEN, &offsets.user_cookie_len, true)
        .override_global(globals::OFF_SKB_HEAD, &offsets.skb_head, true)
        .override_global(globals::OFF_SKB_DATA, &offsets.skb_data, true)
        .override_global(
            globals::OFF_SKB_NETWORK_HEADER,
            &offsets.skb_network_header,
            true,
        )
        .override_global(globals::OFF_SKB_LEN, &offsets.skb_len, true)
        .map_max_entries(MAP, if ne.enable { cfg.cache_max_flows } else { 1 });
}

/// Loads (through the verifier) and attaches one method's program.
fn try_method(ebpf: &mut Ebpf, btf: Option<&Btf>, m: Method) -> Result<(), String> {
    if m == FENTRY {
        load_fentry_hook(ebpf, btf, PROGRAM_FENTRY, HOOKED_FUNCTION)
    } else {
        load_kprobe_hook(ebpf, PROGRAM_KPROBE, HOOKED_FUNCTION)
    }
}

/// Every method, in the order they are tried.
pub const METHODS: [Method; 2] = [FENTRY, KPROBE];

/// Chooses the attach method at run time (fentry, then kprobe) when the offsets are known, and
/// logs the outcome.
pub fn attach(
    ebpf: &mut Ebpf,
    btf: Option<&Btf>,
    cfg: &Config,
    offsets: &Result<Offsets, String>,
) -> HookReport {
    if !cfg.network_events.enable {
        return HookReport::off(
            &METHODS,
            "disabled (ENABLE_NETWORK_EVENTS_MONITORING is false)",
        );
    }
    let report = match offsets {
        Err(why) => HookReport {
            methods_off: METHODS
                .iter()
                .map(|m| MethodOff {
                    method: m.name,
                    reason: format!("{} not tried: {why}", m.name),
                })
                .collect(),
            ..HookReport::off(&METHODS, why.clone())
        },
        Ok(_) => choose_method(&METHODS, |m| try_method(ebpf, btf, m)),
    };
    for o in &report.methods_off {
        tracing::info!(method = o.method, reason = %o.reason, "NetworkEvents method off");
    }
    match &report.state {
        HookState::Active(mode) => tracing::info!(mode, "NetworkEvents hook attached"),
        HookState::Off(why) => tracing::warn!(
            reason = %why,
            "NetworkEvents hook unavailable; the agent runs without it"
        ),
    }
    report
}

/// Loads the hook programs through the verifier with the given offsets, without attaching, and
/// reports per method whether the kernel accepted it. Exists so tests (and operators) can check
/// the programs against a kernel that has no psample to attach to.
pub fn verify_programs(cfg: &Config, offsets: &Offsets) -> Vec<(Method, Result<(), String>)> {
    let btf = Btf::from_sys_fs().ok();
    let mut loader = EbpfLoader::new();
    configure(&mut loader, cfg, offsets);
    let mut ebpf = match loader.btf(btf.as_ref()).load(crate::object::ebpf_object()) {
        Ok(e) => e,
        Err(e) => {
            let msg = e.to_string();
            return vec![(FENTRY, Err(msg.clone())), (KPROBE, Err(msg))];
        }
    };
    let mut out = Vec::new();
    let fentry = (|| -> Result<(), String> {
        let btf = btf.as_ref().ok_or("no kernel BTF")?;
        let prog: &mut FEntry = typed_program(&mut ebpf, PROGRAM_FENTRY)?;
        load_retrying(|| prog.load(HOOKED_FUNCTION, btf)).map_err(|e| format!("{e:#}"))
    })();
    out.push((FENTRY, fentry));
    let kprobe = (|| -> Result<(), String> {
        let prog: &mut KProbe = typed_program(&mut ebpf, PROGRAM_KPROBE)?;
        load_retrying(|| prog.load()).map_err(|e| format!("{e:#}"))
    })();
    out.push((KPROBE, kprobe));
    out
}

/// Takes the per-CPU events map out of the object when the feature is on. The map is drained
/// even when no method could attach: it is the contract between the hook and user space, and
/// an empty map costs one batch lookup per eviction.
pub fn take_map(ebpf: &mut Ebpf, cfg: &Config) -> Result<Option<MapData>, &'static str> {
    if !cfg.network_events.enable {
        return Ok(None);
    }
    match ebpf.take_map(MAP) {
        Some(Map::PerCpuHashMap(m)) => Ok(Some(m)),
        _ => Err(MAP),
    }
}

/// Removes and returns every flow's events, per-CPU values merged.
pub fn drain(
    map: &MapData,
    ncpus: usize,
    batched: &mut bool,
) -> Vec<(FlowId, NetworkEventsTotals)> {
    let fd = map.fd().as_fd().as_raw_fd();
    let entries =
        crate::sys::drain_percpu_hash_map::<FlowId, NetworkEventsMetrics>(fd, ncpus, batched)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "draining the network events map");
                Vec::new()
            });
    entries
        .into_iter()
        .filter_map(|(k, values)| NetworkEventsTotals::merge(&values).map(|t| (k, t)))
        .collect()
}
