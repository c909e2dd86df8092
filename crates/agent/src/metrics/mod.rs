//! Prometheus metrics (`ebpf_agent_*` by default, upstream names where they exist) and the
//! `/status` document telling which hooks are active and why the others are off.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex, PoisonError};

mod document;

pub use document::{
    CaptureStatus, HookStatus, InterfaceStatus, MethodOffStatus, OvsCollectorStatus, Status,
};

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A reason fit for a label value: first line, at most 160 characters.
fn short_reason(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or_default();
    line.chars().take(160).collect()
}

/// Every metric of the agent. Counters are cheap clones sharing their value, so tasks keep
/// their own handles.
pub struct Metrics {
    registry: Registry,
    /// Eviction rounds.
    pub evictions: Counter,
    /// Flows read out of the kernel map.
    pub evicted_flows: Counter,
    /// Flows lost, by source and reason.
    pub dropped: Family<Labels, Counter>,
    /// Filter decisions reported by the kernel.
    pub filtered: Family<Labels, Counter>,
    /// `Send` calls accepted by the collector.
    pub exported_batches: Counter,
    /// Records accepted by the collector.
    pub exported_flows: Counter,
    /// Failed `Send` attempts (each retry counts).
    pub export_errors: Counter,
    /// Errors by component and kind.
    pub errors: Family<Labels, Counter>,
    /// Packets skipped by sampling in the kernel.
    pub sampled_out_packets: Counter,
    /// Configured sampling rate.
    pub sampling_rate: Gauge,
    /// Batches waiting for the exporter.
    pub queue_len: Gauge,
    /// Interfaces currently hooked.
    pub attached_interfaces: Gauge,
    /// Interface notifications by type.
    pub interface_events: Family<Labels, Counter>,
    /// 1 per active hook, 0 per inactive one, labelled with the attach mode.
    pub hook_active: Family<Labels, Gauge>,
    /// 1 per attach method a hook does not use, labelled with why.
    pub hook_method_off: Family<Labels, Gauge>,
    /// NetworkEvents kernel outcomes (`network_events_total{source, reason}`).
    pub network_events: Family<Labels, Counter>,
    /// Duration of draining the flow map.
    pub drain_duration: Histogram,
    /// PacketTranslation conntrack fallback: translated connections currently known.
    pub xlat_conntrack_entries: Gauge,
    /// PacketTranslation conntrack fallback: connections learnt, refused (table full), and
    /// event overflows (each followed by a re-read of the table).
    pub xlat_conntrack_events: Family<Labels, Counter>,
    /// NetworkEvents: 1 while the agent's OVS sample collector set is registered, else 0.
    pub ovs_collector_registered: Gauge,
    /// Per-CPU flow cache flushes, by `outcome`: `flushed` (slots whose sums were moved to the
    /// shared map), `retried` (chunk runs repeated because a classifier was mid-update),
    /// `left_busy` (slots deferred to the next eviction), `failed` (CPUs, or whole flushes,
    /// whose flush failed; their sums wait for the next one).
    pub flow_cache_slots: Family<Labels, Counter>,
    /// Records the kernel sent through the `direct_flows` ring buffer, by `reason`:
    /// `first_packet`, `map_full` or `first_drop` (none of them is a loss).
    pub ringbuf_records: Family<Labels, Counter>,
    /// Packets lost, by source and reason, where they are counted apart from flows.
    pub dropped_packets: Family<Labels, Counter>,
    /// Evictions started before `CACHE_ACTIVE_TIMEOUT` because the flow map reached its
    /// high-water mark.
    pub pressure_evictions: Counter,
    /// Gauges by `name` (`exporter-queue`, `accounter-entries`, `flowmap`, `packet-queue`), as
    /// upstream names them.
    pub buffer_size: Family<Labels, Gauge>,
    /// Packet capture: packets read from the kernel's `packet_record` ring.
    pub captured_packets: Counter,
    /// Packet capture: packets the collector accepted.
    pub exported_packets: Counter,
    losses: crate::losses::LossLog,
    status: Mutex<Status>,
}

/// Registers `metric` under `name` and returns it (metrics are cheap clones sharing a value).
fn reg<M>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    registry.register(name, help, metric.clone());
    metric
}

/// The eviction, export, filter and sampling metrics, registered first.
struct FlowMetricSet {
    evictions: Counter,
    evicted_flows: Counter,
    dropped: Family<Labels, Counter>,
    filtered: Family<Labels, Counter>,
    exported_batches: Counter,
    exported_flows: Counter,
    errors: Family<Labels, Counter>,
    export_errors: Counter,
    sampled_out_packets: Counter,
    sampling_rate: Gauge,
    buffer_size: Family<Labels, Gauge>,
    queue_len: Gauge,
}

impl FlowMetricSet {
    fn register(registry: &mut Registry) -> Self {
        let evictions = reg(
            registry,
            "evictions",
            "Eviction rounds of the flow map",
            Counter::default(),
        );
        let evicted_flows = reg(
            registry,
            "evicted_flows",
            "Flows evicted from the kernel map",
            Counter::default(),
        );
        let dropped = reg(
            registry,
            "dropped_flows",
            "Flows lost, by source and reason",
            Family::<Labels, Counter>::default(),
        );
        let filtered = reg(
            registry,
            "filtered_flows",
            "Packets decided by filter rules",
            Family::<Labels, Counter>::default(),
        );
        let exported_batches = reg(
            registry,
            "exported_batch",
            "Batches accepted by the collector",
            Counter::default(),
        );
        let exported_flows = reg(
            registry,
            "exported_flows",
            "Flows accepted by the collector",
            Counter::default(),
        );
        let errors = reg(
            registry,
            "errors",
            "Errors by component",
            Family::<Labels, Counter>::default(),
        );
        let export_errors = errors
            .get_or_create(&labels(&[
                ("component", "exporter"),
                ("error", "CannotWriteMessage"),
                ("severity", "medium"),
            ]))
            .clone();
        let sampled_out_packets = reg(
            registry,
            "sampled_out_packets",
            "Packets the kernel skipped because of sampling",
            Counter::default(),
        );
        let sampling_rate = reg(
            registry,
            "sampling_rate",
            "Configured sampling rate",
            Gauge::default(),
        );
        let buffer_size = reg(
            registry,
            "buffer_size",
            "Buffer sizes: exporter-queue (batches), accounter-entries (flows aggregated from \
         the ring buffer), flowmap (entries created in the flow map since the last eviction)",
            Family::<Labels, Gauge>::default(),
        );
        let queue_len = buffer_size
            .get_or_create(&labels(&[("name", "exporter-queue")]))
            .clone();
        Self {
            evictions,
            evicted_flows,
            dropped,
            filtered,
            exported_batches,
            exported_flows,
            errors,
            export_errors,
            sampled_out_packets,
            sampling_rate,
            buffer_size,
            queue_len,
        }
    }
}

/// The hook, interface, feature and loss metrics, registered after [`FlowMetricSet`].
struct HookMetricSet {
    attached_interfaces: Gauge,
    interface_events: Family<Labels, Counter>,
    hook_active: Family<Labels, Gauge>,
    hook_method_off: Family<Labels, Gauge>,
    network_events: Family<Labels, Counter>,
    drain_duration: Histogram,
    xlat_conntrack_entries: Gauge,
    xlat_conntrack_events: Family<Labels, Counter>,
    ovs_collector_registered: Gauge,
    flow_cache_slots: Family<Labels, Counter>,
    ringbuf_records: Family<Labels, Counter>,
    dropped_packets: Family<Labels, Counter>,
    pressure_evictions: Counter,
    captured_packets: Counter,
    exported_packets: Counter,
}

impl HookMetricSet {
    fn register(registry: &mut Registry) -> Self {
        let attached_interfaces = reg(
            registry,
            "attached_interfaces",
            "Interfaces with the flow classifiers attached",
            Gauge::default(),
        );
        let interface_events = reg(
            registry,
            "interface_events",
            "Interface notifications",
            Family::<Labels, Counter>::default(),
        );
        let hook_active = reg(
            registry,
            "hook_active",
            "1 when a hook is active, 0 when off",
            Family::<Labels, Gauge>::default(),
        );
        let hook_method_off = reg(
            registry,
            "hook_method_off",
            "1 per attach method a hook does not use, with the reason (first line, shortened)",
            Family::<Labels, Gauge>::default(),
        );
        let network_events = reg(
            registry,
            "network_events",
            "NetworkEvents samples seen by the kernel hook, by outcome",
            Family::<Labels, Counter>::default(),
        );
        let drain_duration = reg(
            registry,
            "lookup_and_delete_map_duration_seconds",
            "Time to drain the flow map",
            Histogram::new([0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0]),
        );
        let xlat_conntrack_entries = reg(
            registry,
            "xlat_conntrack_entries",
            "Translated connections known to the PacketTranslation conntrack fallback",
            Gauge::default(),
        );
        let xlat_conntrack_events = reg(
            registry,
            "xlat_conntrack_events",
            "PacketTranslation conntrack fallback: learnt, refused (table full), overflow",
            Family::<Labels, Counter>::default(),
        );
        let ovs_collector_registered = reg(
            registry,
            "network_events_ovs_collector_registered",
            "1 while the agent's OVS Flow_Sample_Collector_Set (NetworkEvents) is registered",
            Gauge::default(),
        );
        let flow_cache_slots = reg(
            registry,
            "flow_cache_slots",
            "Per-CPU flow cache flush outcomes: flushed, retried, left_busy, failed",
            Family::<Labels, Counter>::default(),
        );
        let ringbuf_records = reg(
            registry,
            "ringbuf_records",
            "Records the kernel sent to user space through the ring buffer, by reason: \
         first_packet (a flow's first packet), map_full (the flow map refused the entry), \
         first_drop (a flow's first dropped packet)",
            Family::<Labels, Counter>::default(),
        );
        let dropped_packets = reg(
            registry,
            "dropped_packets",
            "Packets lost, by source and reason",
            Family::<Labels, Counter>::default(),
        );
        let pressure_evictions = reg(
            registry,
            "pressure_evictions",
            "Evictions started early because the flow map reached its high-water mark",
            Counter::default(),
        );
        let captured_packets = reg(
            registry,
            "captured_packets",
            "Packet capture: packets read from the kernel ring buffer",
            Counter::default(),
        );
        let exported_packets = reg(
            registry,
            "exported_packets",
            "Packet capture: packets accepted by the collector",
            Counter::default(),
        );
        Self {
            captured_packets,
            exported_packets,
            attached_interfaces,
            interface_events,
            hook_active,
            hook_method_off,
            network_events,
            drain_duration,
            xlat_conntrack_entries,
            xlat_conntrack_events,
            ovs_collector_registered,
            flow_cache_slots,
            ringbuf_records,
            dropped_packets,
            pressure_evictions,
        }
    }
}

impl Metrics {
    /// Creates the metrics under `prefix` (`METRICS_PREFIX`, e.g. `ebpf_agent_`).
    pub fn new(prefix: &str) -> Self {
        let mut registry = Registry::with_prefix(prefix.trim_end_matches('_'));
        let flows = FlowMetricSet::register(&mut registry);
        let hooks = HookMetricSet::register(&mut registry);
        Self {
            registry,
            ringbuf_records: hooks.ringbuf_records,
            dropped_packets: hooks.dropped_packets,
            pressure_evictions: hooks.pressure_evictions,
            captured_packets: hooks.captured_packets,
            exported_packets: hooks.exported_packets,
            buffer_size: flows.buffer_size,
            losses: crate::losses::LossLog::default(),
            flow_cache_slots: hooks.flow_cache_slots,
            ovs_collector_registered: hooks.ovs_collector_registered,
            xlat_conntrack_entries: hooks.xlat_conntrack_entries,
            xlat_conntrack_events: hooks.xlat_conntrack_events,
            evictions: flows.evictions,
            evicted_flows: flows.evicted_flows,
            dropped: flows.dropped,
            filtered: flows.filtered,
            exported_batches: flows.exported_batches,
            exported_flows: flows.exported_flows,
            export_errors: flows.export_errors,
            errors: flows.errors,
            sampled_out_packets: flows.sampled_out_packets,
            sampling_rate: flows.sampling_rate,
            queue_len: flows.queue_len,
            attached_interfaces: hooks.attached_interfaces,
            interface_events: hooks.interface_events,
            hook_active: hooks.hook_active,
            hook_method_off: hooks.hook_method_off,
            network_events: hooks.network_events,
            drain_duration: hooks.drain_duration,
            status: Mutex::new(Status::default()),
        }
    }

    /// The drop counter for `source` / `reason`.
    pub fn dropped_flows(&self, source: &str, reason: &str) -> Counter {
        self.dropped
            .get_or_create(&labels(&[("source", source), ("reason", reason)]))
            .clone()
    }

    /// Total flows lost for any reason (lost DNS or drop details of kept flows excluded).
    pub fn dropped_total(&self) -> u64 {
        self.flows_lost().total
    }

    /// Counts a loss (`dropped_flows_total`, and `dropped_packets_total` when `packets` is
    /// given) and logs it as a rate-limited WARN naming its cause and what to raise; `detail`
    /// is appended to the cause.
    pub fn report_loss(
        &self,
        r: &crate::losses::LossReason,
        flows: u64,
        packets: Option<u64>,
        detail: &str,
    ) {
        if flows == 0 && packets.unwrap_or(0) == 0 {
            return;
        }
        self.dropped_flows(r.source, r.reason).inc_by(flows);
        if let Some(p) = packets {
            self.dropped_packets
                .get_or_create(&labels(&[("source", r.source), ("reason", r.reason)]))
                .inc_by(p);
        }
        self.losses.note(r, flows, packets.unwrap_or(0), detail);
    }

    /// Counts captured packets lost (`dropped_packets_total`) and logs them as a rate-limited
    /// WARN naming the cause and the setting to raise; `detail` is appended to the cause.
    pub fn report_packet_loss(&self, r: &crate::losses::LossReason, packets: u64, detail: &str) {
        if packets == 0 {
            return;
        }
        self.dropped_packets
            .get_or_create(&labels(&[("source", r.source), ("reason", r.reason)]))
            .inc_by(packets);
        self.losses.note(r, 0, packets, detail);
    }

    /// The `packets_lost` figure of `/status` (packet mode), read from the loss counters.
    pub fn packets_lost(&self) -> crate::losses::PacketsLost {
        let mut out = crate::losses::PacketsLost::default();
        for r in crate::losses::PACKET_REASONS {
            let packets = self
                .dropped_packets
                .get_or_create(&labels(&[("source", r.source), ("reason", r.reason)]))
                .get();
            out.total += packets;
            out.by_reason.push(crate::losses::PacketLossCount {
                source: r.source,
                reason: r.reason,
                packets,
                cause: r.cause,
                remedy: r.remedy,
            });
        }
        out
    }

    /// Records the packet mode's settings in `/status` (its figures are read when served).
    pub fn set_capture(&self, c: CaptureStatus) {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .packet_capture = Some(c);
    }

    /// The `flows_lost` figure of `/status`, read from the loss counters.
    pub fn flows_lost(&self) -> crate::losses::FlowsLost {
        let mut out = crate::losses::FlowsLost::default();
        for r in crate::losses::REASONS {
            let flows = self.dropped_flows(r.source, r.reason).get();
            let packets = (r == crate::losses::RINGBUF_FULL).then(|| {
                self.dropped_packets
                    .get_or_create(&labels(&[("source", r.source), ("reason", r.reason)]))
                    .get()
            });
            if crate::losses::loses_flows(&r) {
                out.total += flows;
            }
            out.by_reason.push(crate::losses::LossCount {
                source: r.source,
                reason: r.reason,
                flows,
                packets,
                cause: r.cause,
                remedy: r.remedy,
            });
        }
        out
    }

    /// Records the eBPF maps' memory in `/status`.
    pub fn set_map_memory(&self, m: crate::mapmem::MapMemoryStatus) {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bpf_maps = Some(m);
    }

    /// Renders the text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }

    /// Replaces the hook list of `/status` and the `hook_active` gauges.
    pub fn set_hooks(&self, hooks: Vec<HookStatus>) {
        for h in &hooks {
            let mode = h.mode.clone().unwrap_or_default();
            self.hook_active
                .get_or_create(&labels(&[("hook", &h.hook), ("mode", &mode)]))
                .set(i64::from(h.active));
            for o in &h.methods_off {
                self.hook_active
                    .get_or_create(&labels(&[("hook", &h.hook), ("mode", &o.mode)]))
                    .set(0);
                self.hook_method_off
                    .get_or_create(&labels(&[
                        ("hook", &h.hook),
                        ("method", &o.method),
                        ("reason", &short_reason(&o.reason)),
                    ]))
                    .set(1);
            }
        }
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .hooks = hooks;
    }

    /// Replaces (or adds) the `/status` row of one feature whose state changes on its own, away
    /// from the hook list's rebuilds (UDN mapping follows OVSDB), and its `hook_active` gauge.
    pub fn set_hook_row(&self, row: HookStatus) {
        let mode = row.mode.clone().unwrap_or_default();
        self.hook_active
            .get_or_create(&labels(&[("hook", &row.hook), ("mode", &mode)]))
            .set(i64::from(row.active));
        let mut st = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        match st.hooks.iter_mut().find(|h| h.hook == row.hook) {
            Some(h) => *h = row,
            None => st.hooks.push(row),
        }
    }

    /// The `/status` row of `hook`, if there is one.
    pub fn hook_row(&self, hook: &str) -> Option<HookStatus> {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .hooks
            .iter()
            .find(|h| h.hook == hook)
            .cloned()
    }

    /// Replaces the attached-interface list of `/status`.
    pub fn set_interfaces(&self, ifaces: Vec<InterfaceStatus>) {
        self.attached_interfaces.set(ifaces.len() as i64);
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .interfaces = ifaces;
    }

    /// Records in `/status` which clock stamps the end of flows (see [`Status::flow_end_clock`]).
    pub fn set_flow_end_clock(&self, clock: &str) {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flow_end_clock = clock.to_string();
    }

    /// Records the per-CPU flow cache's state in `/status` (see [`Status::flow_cache`]).
    pub fn set_flow_cache(&self, state: &str) {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flow_cache = state.to_string();
    }

    /// Records the OVS sample collector registration in `/status` and its gauge.
    pub fn set_ovs_collector(&self, st: OvsCollectorStatus) {
        self.ovs_collector_registered.set(i64::from(st.registered));
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ovs_sample_collector = Some(st);
    }

    /// Counts one error of `component` (label `error` = `kind`), e.g. a failed registration.
    pub fn count_error(&self, component: &str, kind: &str, severity: &str) {
        self.errors
            .get_or_create(&labels(&[
                ("component", component),
                ("error", kind),
                ("severity", severity),
            ]))
            .inc();
    }

    /// A copy of the `/status` document, with the loss figures as of now.
    pub fn status(&self) -> Status {
        let mut st = self
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        st.flows_lost = self.flows_lost();
        if let Some(c) = st.packet_capture.as_mut() {
            c.captured = self.captured_packets.get();
            c.exported = self.exported_packets.get();
            st.packets_lost = Some(self.packets_lost());
        }
        st
    }
}

/// Serves `/metrics` and `/status` until `shutdown` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    use axum::routing::get;
    let m1 = metrics.clone();
    let m2 = metrics;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m1.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.encode(),
                    )
                }
            }),
        )
        .route(
            "/status",
            get(move || {
                let m = m2.clone();
                async move { axum::Json(m.status()) }
            }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let m = Metrics::new("ebpf_agent_");
        m.evictions.inc();
        m.dropped_flows("limiter", "full").inc_by(3);
        m.set_hooks(vec![HookStatus {
            hook: "FlowRTT".into(),
            active: false,
            mode: None,
            reason: Some("off".into()),
            ..HookStatus::default()
        }]);
        let text = m.encode();
        assert!(text.contains("ebpf_agent_evictions_total 1"), "{text}");
        assert!(
            text.contains("ebpf_agent_dropped_flows_total{source=\"limiter\",reason=\"full\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("ebpf_agent_hook_active{hook=\"FlowRTT\",mode=\"\"} 0"),
            "{text}"
        );
        assert_eq!(m.dropped_total(), 3);
    }

    #[test]
    fn methods_off_show_in_status_and_metrics() {
        let m = Metrics::new("ebpf_agent_");
        m.set_hooks(vec![HookStatus {
            hook: "FlowRTT".into(),
            active: true,
            mode: Some("tp_btf".into()),
            method: Some("tp_btf/tcp_probe".into()),
            reason: Some("fentry is off".into()),
            methods_off: vec![MethodOffStatus {
                method: "fentry/tcp_rcv_established".into(),
                mode: "fentry".into(),
                reason: "EPERM\nverifier log".into(),
            }],
        }]);
        let text = m.encode();
        assert!(
            text.contains("ebpf_agent_hook_active{hook=\"FlowRTT\",mode=\"tp_btf\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ebpf_agent_hook_active{hook=\"FlowRTT\",mode=\"fentry\"} 0"),
            "{text}"
        );
        assert!(
            text.contains(
                "ebpf_agent_hook_method_off{hook=\"FlowRTT\",method=\"fentry/tcp_rcv_established\",reason=\"EPERM\"} 1"
            ),
            "{text}"
        );
        let json = serde_json::to_string(&m.status().hooks).unwrap();
        assert!(
            json.starts_with("[{\"hook\":\"FlowRTT\",\"active\":true,\"mode\":\"tp_btf\""),
            "{json}"
        );
        assert!(
            json.contains("\"methods_off\":[{\"method\":\"fentry/tcp_rcv_established\""),
            "{json}"
        );
    }
}
