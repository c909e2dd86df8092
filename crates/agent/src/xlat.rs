//! PacketTranslation (`ENABLE_PKT_TRANSLATION`): which method runs, the `nf_conn` offsets the
//! kernel hook needs, and the merge of its per-CPU map.
//!
//! Methods, tried in this order at start and never fatal:
//! 1. `fentry/nf_nat_manip_pkt`: cheapest; refused by kernels in lockdown;
//! 2. `kprobe/nf_nat_manip_pkt`: upstream's method; needs `CONFIG_KPROBES`;
//! 3. conntrack netlink events in user space ([`crate::conntrack`]): works wherever conntrack
//!    runs, costs a little user-space CPU per new translated connection.

use crate::conntrack;
use crate::tracer::{HookState, Method, MethodOff, choose_method};
use aya::maps::MapData;
use aya::programs::{FEntry, KProbe};
use aya::{Btf, Ebpf};
use netobserv_agent_common::{FlowId, XlatMetrics, globals, programs};
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
        let btf = btf.ok_or("no kernel BTF")?;
        let prog: &mut FEntry = crate::tracer::typed_program(ebpf, programs::NAT_MANIP_FENTRY)?;
        crate::tracer::load_retrying(|| prog.load("nf_nat_manip_pkt", btf))
            .map_err(|e| crate::tracer::error_text(&e))?;
        if let Err(e) = prog.attach() {
            let _ = prog.unload();
            return Err(crate::tracer::error_text(&e));
        }
        return Ok(());
    }
    let prog = kprobe_program(ebpf)?;
    crate::tracer::load_retrying(|| prog.load()).map_err(|e| crate::tracer::error_text(&e))?;
    if let Err(e) = prog.attach("nf_nat_manip_pkt", 0) {
        let _ = prog.unload();
        let mut why = crate::tracer::error_text(&e);
        if why.contains("event_source/devices/kprobe") {
            why.push_str(" (no kprobe PMU: kernel built without CONFIG_KPROBES)");
        }
        return Err(why);
    }
    Ok(())
}

/// The kprobe program of the object.
pub fn kprobe_program(ebpf: &mut Ebpf) -> Result<&mut KProbe, String> {
    crate::tracer::typed_program(ebpf, programs::NAT_MANIP_KPROBE)
}

/// Verifier-loads the kernel methods' programs without attaching them, then unloads them: tells
/// whether this kernel accepts the program types and whether the verifier accepts the code,
/// apart from whether the attach point is usable. One result per kernel method.
pub fn verify_programs(ebpf: &mut Ebpf, btf: Option<&Btf>) -> Vec<(Method, Result<(), String>)> {
    let fentry = (|| {
        let btf = btf.ok_or("no kernel BTF")?;
        let prog: &mut FEntry = crate::tracer::typed_program(ebpf, programs::NAT_MANIP_FENTRY)?;
        crate::tracer::load_retrying(|| prog.load("nf_nat_manip_pkt", btf))
            .map_err(|e| crate::tracer::error_text(&e))?;
        let _ = prog.unload();
        Ok::<(), String>(())
    })();
    let kprobe = (|| {
        let prog = kprobe_program(ebpf)?;
        crate::tracer::load_retrying(|| prog.load()).map_err(|e| crate::tracer::error_text(&e))?;
        let _ = prog.unload();
        Ok::<(), String>(())
    })();
    vec![(XLAT_FENTRY, fentry), (XLAT_KPROBE, kprobe)]
}

/// What [`start`] set up.
pub struct XlatSetup {
    /// Hook state (active method or why off).
    pub state: HookState,
    /// Methods not in use, and why.
    pub off: Vec<MethodOff>,
    /// The conntrack listener when that method is active.
    pub listener: Option<conntrack::Listener>,
}

/// Chooses and starts a PacketTranslation method (see the module doc). `offsets` is the result
/// of [`ct_offsets`]; without them only the conntrack method can work. `grace` is how long
/// destroyed connections stay known (a couple of eviction periods). The conntrack listener
/// runs in `netns` (the observed namespace), since conntrack tables are per namespace.
pub fn start(
    ebpf: &mut Ebpf,
    btf: Option<&Btf>,
    offsets: Result<(), &str>,
    max_entries: usize,
    grace: Duration,
    netns: Option<&Path>,
) -> XlatSetup {
    let table = Arc::new(conntrack::Table::new(max_entries, grace));
    let mut listener = None;
    let (state, off) = choose_method(&XLAT_METHODS, |m| {
        try_method(ebpf, btf, m, offsets, &table, &mut listener, netns)
    });
    for o in &off {
        tracing::info!(method = o.method, reason = %o.reason, "PacketTranslation method off");
    }
    match &state {
        HookState::Active(mode) => tracing::info!(mode, "PacketTranslation active"),
        HookState::Off(why) => tracing::warn!(reason = %why, "PacketTranslation unavailable"),
    }
    XlatSetup {
        state,
        off,
        listener,
    }
}

/// Drains the kernel map (one shared entry per flow).
pub fn drain_map(map: &MapData, batched: &mut bool) -> Vec<(FlowId, XlatMetrics)> {
    let fd = map.fd().as_fd().as_raw_fd();
    crate::sys::drain_hash_map::<FlowId, XlatMetrics>(fd, batched, 0).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "draining aggregated_flows_xlat");
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_down_kernel_without_kprobes_falls_back_to_conntrack() {
        let (state, off) = choose_method(&XLAT_METHODS, |m| match m.mode {
            "fentry" => Err("Operation not permitted (os error 1)".into()),
            "kprobe" => Err("No such file or directory (os error 2)".into()),
            _ => Ok(()),
        });
        assert_eq!(state, HookState::Active("conntrack"));
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
