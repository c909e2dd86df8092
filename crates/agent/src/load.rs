//! Loading the object: sizing its maps from the configuration, loading and attaching the
//! optional hooks (with their fallbacks), the classifiers, the filter rules and the flow cache,
//! and taking out the maps user space drains. Used by [`crate::tracer::Tracer::load`].

use crate::config::{AttachMode, Config};
use crate::filter;
use crate::flowmaps::{FlowMaps, hash_map};
use crate::overflow::RingSide;
use crate::tracer::{HookState, MethodOff, RTT_FENTRY, RTT_TP_BTF, TracerError, choose_method};
use aya::maps::{HashMap as BpfHashMap, LpmTrie, MapData, PerCpuArray, RingBuf, lpm_trie::Key};
use aya::programs::{BtfTracePoint, FEntry, SchedClassifier};
use aya::{Btf, Ebpf, EbpfLoader};
use netobserv_agent_common::{FilterValue, counters, globals, maps, programs};
use std::sync::{Arc, Mutex};

/// Whether TC programs may call `bpf_ktime_get_coarse_ns` (kernel 5.11+), probed by loading a
/// minimal program that calls it. A failed probe means "no": the precise clock always works.
pub(crate) fn coarse_clock_supported() -> bool {
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

/// Sizes the maps from the configuration before load: the flow map and the enrichment maps of
/// the enabled features get `CACHE_MAX_FLOWS` entries (the others 1), the ring buffer
/// [`Config::ringbuf_bytes`].
pub(crate) fn size_maps(loader: &mut EbpfLoader, cfg: &Config, rtt: bool, drops: bool) {
    let per_flow = |on: bool| if on { cfg.cache_max_flows } else { 1 };
    loader
        .map_max_entries(maps::AGGREGATED_FLOWS, cfg.cache_max_flows)
        .map_max_entries(maps::DIRECT_FLOWS, cfg.ringbuf_bytes())
        .map_max_entries(
            maps::AGGREGATED_FLOWS_DNS,
            per_flow(cfg.enable_dns_tracking),
        )
        .map_max_entries(
            maps::DNS_FLOWS,
            if cfg.enable_dns_tracking { 1 << 16 } else { 1 },
        )
        .map_max_entries(maps::ADDITIONAL_FLOW_METRICS, per_flow(rtt))
        .map_max_entries(maps::AGGREGATED_FLOWS_PKT_DROP, per_flow(drops))
        .map_max_entries(
            maps::AGGREGATED_FLOWS_XLAT,
            per_flow(cfg.enable_pkt_translation),
        );
}

/// Loads and attaches the FlowRTT hook: fentry first, tp_btf when the kernel refuses it (direct
/// socket loads first, probe reads where refused). Never fatal: the state says why it is off.
pub(crate) fn attach_rtt(ebpf: &mut Ebpf, btf: Option<&Btf>) -> (HookState, Vec<MethodOff>, bool) {
    let mut probe_reads = false;
    let (state, off) = choose_method(&[RTT_FENTRY, RTT_TP_BTF], |m| {
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
    for o in &off {
        tracing::info!(method = o.method, reason = %o.reason, "FlowRTT method off");
    }
    match &state {
        HookState::Active(mode) => tracing::info!(mode, "FlowRTT hook attached"),
        HookState::Off(why) => tracing::warn!(reason = %why, "FlowRTT hook unavailable"),
    }
    (state, off, probe_reads)
}

/// Loads and attaches the PacketDrop hook: direct BTF loads of the `sk_buff` fields first, the
/// probe-read variant if this kernel's verifier refuses them. Never fatal.
pub(crate) fn attach_drops(ebpf: &mut Ebpf, btf: Option<&Btf>) -> (HookState, bool) {
    let mut probe_reads = false;
    let outcome = load_btf_hook(ebpf, btf, programs::KFREE_SKB_DROP, "kfree_skb").or_else(|e| {
        tracing::info!(error = %e, "PacketDrop: direct sk_buff loads refused; using probe reads");
        probe_reads = true;
        load_btf_hook(ebpf, btf, programs::KFREE_SKB_DROP_COMPAT, "kfree_skb")
    });
    match outcome {
        Err(e) => {
            tracing::warn!(error = %e, "PacketDrop hook unavailable");
            (
                HookState::Off(format!("tp_btf/kfree_skb could not be attached: {e}")),
                probe_reads,
            )
        }
        Ok(()) => {
            tracing::info!(probe_reads, "PacketDrop hook attached on tp_btf/kfree_skb");
            (HookState::Active("tp_btf"), probe_reads)
        }
    }
}

/// Verifier-loads the classifiers of the attach mode.
pub(crate) fn load_classifiers(ebpf: &mut Ebpf, mode: AttachMode) -> Result<(), TracerError> {
    let wanted: &[&'static str] = match mode {
        AttachMode::Tcx => &[programs::TCX_INGRESS, programs::TCX_EGRESS],
        AttachMode::Tc => &[programs::TC_INGRESS, programs::TC_EGRESS],
        AttachMode::Any => &[
            programs::TCX_INGRESS,
            programs::TCX_EGRESS,
            programs::TC_INGRESS,
            programs::TC_EGRESS,
        ],
    };
    for name in wanted {
        let prog: &mut SchedClassifier = ebpf
            .program_mut(name)
            .ok_or(TracerError::Missing(name))?
            .try_into()
            .map_err(|source| TracerError::Program { name, source })?;
        load_retrying(|| prog.load()).map_err(|source| TracerError::Program { name, source })?;
    }
    Ok(())
}

/// Turns the per-CPU flow cache on when wanted and possible; returns it and its `/status` text.
pub(crate) fn enable_flow_cache(
    ebpf: &mut Ebpf,
    wanted: bool,
) -> (Option<crate::flowcache::FlowCache>, String) {
    if !wanted {
        return (None, "off: disabled (FLOW_CACHE is false)".to_string());
    }
    match crate::flowcache::FlowCache::enable(ebpf) {
        Ok(c) => {
            tracing::info!(
                slots_per_cpu = netobserv_agent_common::FLOW_CACHE_SLOTS,
                "per-CPU flow cache on"
            );
            (
                Some(c),
                format!(
                    "on ({} slots per CPU)",
                    netobserv_agent_common::FLOW_CACHE_SLOTS
                ),
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "per-CPU flow cache off: every packet goes to the shared map");
            (None, format!("off: {e}"))
        }
    }
}

/// What [`take_flow_maps`] needs to know besides the configuration.
pub(crate) struct Enrichment {
    pub(crate) rtt: bool,
    pub(crate) drops: bool,
    pub(crate) conntrack: Option<crate::conntrack::Listener>,
    pub(crate) flow_cache: Option<crate::flowcache::FlowCache>,
}

/// Takes the maps user space drains out of the loaded object.
pub(crate) fn take_flow_maps(
    ebpf: &mut Ebpf,
    cfg: &Config,
    e: Enrichment,
) -> Result<FlowMaps, TracerError> {
    let flows = hash_map(ebpf, maps::AGGREGATED_FLOWS)?;
    let additional = e
        .rtt
        .then(|| hash_map(ebpf, maps::ADDITIONAL_FLOW_METRICS))
        .transpose()?;
    let pkt_drops = e
        .drops
        .then(|| hash_map(ebpf, maps::AGGREGATED_FLOWS_PKT_DROP))
        .transpose()?;
    let dns = if cfg.enable_dns_tracking {
        let m = hash_map(ebpf, maps::AGGREGATED_FLOWS_DNS)?;
        let q = ebpf
            .take_map(maps::DNS_FLOWS)
            .ok_or(TracerError::Missing(maps::DNS_FLOWS))?;
        Some((
            m,
            BpfHashMap::try_from(q).map_err(|source| TracerError::Map {
                name: maps::DNS_FLOWS,
                source,
            })?,
        ))
    } else {
        None
    };
    let network_events =
        crate::netevents::kernel::take_map(ebpf, cfg).map_err(TracerError::Missing)?;
    // Drained whichever method is active (empty unless a kernel hook or a test fills it).
    let xlat = cfg
        .enable_pkt_translation
        .then(|| hash_map(ebpf, maps::AGGREGATED_FLOWS_XLAT))
        .transpose()?;
    let ncpus = aya::util::nr_cpus().map_err(|(_, source)| TracerError::Io {
        what: "reading the possible CPUs",
        source,
    })?;
    let counters_map = ebpf
        .take_map(maps::GLOBAL_COUNTERS)
        .ok_or(TracerError::Missing(maps::GLOBAL_COUNTERS))?;
    let counters = PerCpuArray::try_from(counters_map).map_err(|source| TracerError::Map {
        name: maps::GLOBAL_COUNTERS,
        source,
    })?;
    let ring_map = ebpf
        .take_map(maps::DIRECT_FLOWS)
        .ok_or(TracerError::Missing(maps::DIRECT_FLOWS))?;
    let ring = RingBuf::try_from(ring_map).map_err(|source| TracerError::Map {
        name: maps::DIRECT_FLOWS,
        source,
    })?;
    Ok(FlowMaps {
        flows,
        additional,
        pkt_drops,
        dns,
        ncpus,
        percpu_batched: true,
        counters,
        batched: true,
        enrich_batched: true,
        flows_hint: 0,
        network_events,
        xlat,
        conntrack: e.conntrack,
        flow_cache: e.flow_cache,
        flow_cache_report: Default::default(),
        flow_cache_errors: 0,
        ring: Arc::new(Mutex::new(RingSide::new(ring))),
        last_ring_only: 0,
        counters_prev: vec![Vec::new(); counters::MAX_COUNTERS as usize],
    })
}

pub(crate) const N_OFFSETS: usize = 14;

/// Globals receiving kernel struct offsets, with the struct member each one locates.
pub(crate) const OFFSET_GLOBALS: [(&str, &str, &str); N_OFFSETS] = [
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
    (globals::OFF_SKB_HEAD, "sk_buff", "head"),
    (globals::OFF_SKB_NETWORK_HEADER, "sk_buff", "network_header"),
    (globals::OFF_SKB_LEN, "sk_buff", "len"),
    (globals::OFF_SKB_IIF, "sk_buff", "skb_iif"),
    (globals::OFF_SKB_SK, "sk_buff", "sk"),
    (globals::OFF_SKC_STATE, "sock_common", "skc_state"),
];

/// Offsets the tracing hooks need, from the running kernel's BTF (Rust eBPF has no CO-RE).
pub(crate) fn kernel_offsets() -> Result<[u32; N_OFFSETS], String> {
    let btf = crate::btf::Btf::from_sys_fs().map_err(|e| format!("kernel BTF: {e}"))?;
    let mut out = [0u32; N_OFFSETS];
    for (slot, (_, s, m)) in out.iter_mut().zip(OFFSET_GLOBALS) {
        *slot = btf
            .member_offset(s, m)
            .ok_or_else(|| format!("kernel BTF has no {s}.{m}"))?;
    }
    Ok(out)
}

/// Runs a program load again (up to 5 tries) while the kernel answers `EAGAIN`: the verifier
/// gives up with it when a signal is pending for the loading thread (a child exiting under a
/// SIGCHLD handler, say), which says nothing about the program. libbpf retries the same way.
pub(crate) fn load_retrying(
    mut load: impl FnMut() -> Result<(), aya::programs::ProgramError>,
) -> Result<(), aya::programs::ProgramError> {
    let mut tries = 1;
    loop {
        match load() {
            Err(aya::programs::ProgramError::LoadError { io_error, .. })
                if io_error.raw_os_error() == Some(libc::EAGAIN) && tries < 5 =>
            {
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Program `name` of the object as its concrete type (`FEntry`, `KProbe`, ...), or why not.
pub(crate) fn typed_program<'a, P>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut P, String>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or("program missing from the object")?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| e.to_string())
}

pub(crate) fn load_btf_hook(
    ebpf: &mut Ebpf,
    btf: Option<&Btf>,
    program: &str,
    tracepoint: &str,
) -> Result<(), String> {
    let btf = btf.ok_or("no kernel BTF")?;
    let prog: &mut BtfTracePoint = typed_program(ebpf, program)?;
    load_retrying(|| prog.load(tracepoint, btf)).map_err(|e| error_text(&e))?;
    prog.attach().map_err(|e| error_text(&e))?;
    Ok(())
}

pub(crate) fn load_fentry_hook(
    ebpf: &mut Ebpf,
    btf: Option<&Btf>,
    program: &str,
    function: &str,
) -> Result<(), String> {
    let btf = btf.ok_or("no kernel BTF")?;
    let prog: &mut FEntry = typed_program(ebpf, program)?;
    load_retrying(|| prog.load(function, btf)).map_err(|e| error_text(&e))?;
    if let Err(e) = prog.attach() {
        // Loaded but not attachable: release it so only the fallback stays.
        let _ = prog.unload();
        return Err(error_text(&e));
    }
    Ok(())
}

/// A load/attach error as one line, without the empty verifier log a refused load carries.
pub(crate) fn error_text(e: &aya::programs::ProgramError) -> String {
    let s = e.to_string();
    let s = s.trim_end();
    s.strip_suffix("Verifier output:")
        .map_or(s, str::trim_end)
        .to_string()
}

pub(crate) fn program_filters(ebpf: &mut Ebpf, cfg: &Config) -> Result<(), TracerError> {
    let mut entries = Vec::new();
    for (i, r) in cfg.flow_filter_rules.iter().enumerate() {
        entries.push(filter::to_entries(i, r)?);
    }
    {
        let map = ebpf
            .map_mut(maps::FILTER_MAP)
            .ok_or(TracerError::Missing(maps::FILTER_MAP))?;
        let mut trie: LpmTrie<&mut MapData, [u8; 16], FilterValue> = LpmTrie::try_from(map)
            .map_err(|source| TracerError::Map {
                name: maps::FILTER_MAP,
                source,
            })?;
        for (k, v, _) in &entries {
            trie.insert(&Key::new(k.prefix_len, k.ip_data), *v, 0)
                .map_err(|source| TracerError::Map {
                    name: maps::FILTER_MAP,
                    source,
                })?;
        }
    }
    let map = ebpf
        .map_mut(maps::PEER_FILTER_MAP)
        .ok_or(TracerError::Missing(maps::PEER_FILTER_MAP))?;
    let mut trie: LpmTrie<&mut MapData, [u8; 16], u8> =
        LpmTrie::try_from(map).map_err(|source| TracerError::Map {
            name: maps::PEER_FILTER_MAP,
            source,
        })?;
    for (_, _, peer) in &entries {
        if let Some(k) = peer {
            trie.insert(&Key::new(k.prefix_len, k.ip_data), 1, 0)
                .map_err(|source| TracerError::Map {
                    name: maps::PEER_FILTER_MAP,
                    source,
                })?;
        }
    }
    Ok(())
}
