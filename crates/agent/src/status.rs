//! What `/status` and the hook metrics say about the loaded tracer: one row per hook feature
//! (from each feature's [`HookReport`]), the interfaces hooked, the clock and the flow cache; in
//! packet mode, the `PacketCapture` row and every flow feature off.

use crate::config::Config;
use crate::hooks::{HookReport, HookState};
use crate::metrics::{HookStatus, InterfaceStatus, MethodOffStatus, Metrics};
use crate::tracer::{AttachKind, Tracer};

/// Short name of an attach kind, as `/status` shows it.
fn kind_name(k: AttachKind) -> &'static str {
    match k {
        AttachKind::Tcx => "tcx",
        AttachKind::Tc => "tc",
    }
}

/// Publishes the tracer's state: hooks, interfaces, clock and flow cache.
pub(crate) fn publish(cfg: &Config, tracer: &Tracer, metrics: &Metrics) {
    metrics.set_flow_end_clock(if tracer.coarse_clock {
        "coarse"
    } else {
        "precise"
    });
    metrics.set_flow_cache(&tracer.flow_cache);
    let attached = tracer.attached();
    let mut hooks = feature_hooks(cfg, &attached, tracer);
    hooks.push(udn_row(cfg, tracer.packet_mode, metrics));
    metrics.set_hooks(hooks);
    metrics.set_interfaces(
        attached
            .iter()
            .map(|(key, k)| {
                let (netns, name) = match key.rsplit_once(':') {
                    Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
                    None => (None, key.clone()),
                };
                InterfaceStatus {
                    name,
                    mode: kind_name(*k).into(),
                    netns,
                }
            })
            .collect(),
    );
}

/// The `UDNMapping` row: not a hook but a user-space lookup whose state follows OVSDB, so when
/// it is on, the row the mapper last published is kept as it is.
fn udn_row(cfg: &Config, packet_mode: bool, metrics: &Metrics) -> HookStatus {
    let off = |why: &str| HookStatus {
        hook: crate::udn::HOOK.into(),
        active: false,
        reason: Some(why.into()),
        ..HookStatus::default()
    };
    if !cfg.udn.enable {
        return off("disabled (ENABLE_UDN_MAPPING is false)");
    }
    if packet_mode {
        return off("packet capture mode (ENABLE_PCA=true): flows are off");
    }
    metrics
        .hook_row(crate::udn::HOOK)
        .unwrap_or_else(|| off("starting: OVSDB not read yet"))
}

/// One row per hook feature.
fn feature_hooks(
    cfg: &Config,
    attached: &[(String, AttachKind)],
    tracer: &Tracer,
) -> Vec<HookStatus> {
    let mut kinds: Vec<&str> = attached.iter().map(|(_, k)| kind_name(*k)).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let classifiers = HookStatus {
        hook: "FlowCapture".into(),
        active: !attached.is_empty(),
        mode: (!kinds.is_empty()).then(|| kinds.join("+")),
        reason: attached
            .is_empty()
            .then(|| "no selected interface is up yet".to_string()),
        ..HookStatus::default()
    };
    let unavailable = |hook: &str, why: &str| HookStatus {
        hook: hook.into(),
        active: false,
        mode: None,
        reason: Some(why.into()),
        ..HookStatus::default()
    };
    if tracer.packet_mode {
        // The attached classifiers are the capture ones; every flow feature is off.
        let why = "packet capture mode (ENABLE_PCA=true): flows are off";
        let mut rows = vec![HookStatus {
            hook: "PacketCapture".into(),
            ..classifiers
        }];
        rows.extend(
            [
                "FlowCapture",
                "PacketDrop",
                "DNSTracking",
                "TLSTracking",
                "QUICTracking",
                "FlowRTT",
                "NetworkEvents",
                "PacketTranslation",
                "IPsec",
            ]
            .into_iter()
            .map(|h| unavailable(h, why)),
        );
        return rows;
    }
    let flow = classifiers;
    let inline = |hook: &str, enabled: bool, var: &str| {
        if enabled {
            HookStatus {
                hook: hook.into(),
                active: !attached.is_empty(),
                mode: flow.mode.clone(),
                method: flow.mode.as_ref().map(|m| format!("{m}/flow classifiers")),
                reason: attached
                    .is_empty()
                    .then(|| "no selected interface is up yet".to_string()),
                ..HookStatus::default()
            }
        } else {
            unavailable(hook, &format!("disabled ({var} is false)"))
        }
    };
    vec![
        flow.clone(),
        hook_status("PacketDrop", &tracer.drops),
        // DNS, TLS and QUIC tracking run inside the flow classifiers: active wherever they are.
        inline(
            "DNSTracking",
            cfg.enable_dns_tracking,
            "ENABLE_DNS_TRACKING",
        ),
        inline(
            "TLSTracking",
            cfg.enable_tls_tracking,
            "ENABLE_TLS_TRACKING",
        ),
        if cfg.quic_tracking_mode != 0 {
            inline("QUICTracking", true, "QUIC_TRACKING_MODE")
        } else {
            unavailable("QUICTracking", "disabled (QUIC_TRACKING_MODE is 0)")
        },
        hook_status("FlowRTT", &tracer.rtt),
        hook_status("NetworkEvents", &tracer.netevents),
        hook_status("PacketTranslation", &tracer.xlat),
        hook_status("IPsec", &tracer.ipsec),
    ]
}

/// The row of a hook: active method (marked when it uses probe reads), and why each other
/// method is off (e.g. fentry refused by a locked-down kernel, with the load error).
fn hook_status(hook: &str, r: &HookReport) -> HookStatus {
    let methods_off = r
        .methods_off
        .iter()
        .map(|o| MethodOffStatus {
            method: o.method.into(),
            mode: o.method.split('/').next().unwrap_or(o.method).into(),
            reason: o.reason.clone(),
        })
        .collect();
    match &r.state {
        HookState::Active(mode) => {
            let mut method = r
                .methods
                .iter()
                .find(|m| m.mode == *mode)
                .map_or_else(|| (*mode).to_string(), |m| m.name.to_string());
            if r.probe_reads {
                method.push_str(" (probe reads)");
            }
            let reason = (!r.methods_off.is_empty()).then(|| {
                r.methods_off
                    .iter()
                    .map(|o| o.reason.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            });
            HookStatus {
                hook: hook.into(),
                active: true,
                mode: Some((*mode).into()),
                reason,
                method: Some(method),
                methods_off,
            }
        }
        HookState::Off(why) => HookStatus {
            hook: hook.into(),
            active: false,
            mode: None,
            reason: Some(why.clone()),
            method: None,
            methods_off,
        },
    }
}
