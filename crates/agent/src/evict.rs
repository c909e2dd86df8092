//! Eviction: draining the kernel maps (and the ring buffer's aggregate) into export batches,
//! on the active timeout or sooner when the flow map nears its high-water mark; keeping the
//! ring buffer drained between evictions; turning the kernel counters into metrics, and losses
//! into counted, logged figures.

use crate::conntrack::TableCounts;
use crate::convert::{Clock, EnrichMap, FlowBatch};
use crate::drops::PktDropTotals;
use crate::error::TracerError;
use crate::exporter::{Batch, ExportQueue};
use crate::flowcache::CacheReport;
use crate::flowmaps::FlowMaps;
use crate::ifaces::Names;
use crate::kcounters::Counts;
use crate::lock;
use crate::metrics::Metrics;
use crate::netevents::{NetDecoder, NetworkEventsTotals};
use crate::overflow::RingSide;
use netobserv_agent_common::{AdditionalMetrics, DnsMetrics, FlowId, FlowMetrics, XlatMetrics};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// How often the flow map's fill level is checked between evictions, and the ring buffer
/// drained when no wakeup came.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// The shared handles an eviction needs.
pub(crate) struct Evictor {
    pub(crate) maps: Arc<Mutex<FlowMaps>>,
    pub(crate) queue: ExportQueue,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) names: Names,
    pub(crate) agent_ip: pbflow::Ip,
    pub(crate) decoder: NetDecoder,
    /// The UDN mapping, when `ENABLE_UDN_MAPPING` is on.
    pub(crate) udn: Option<Arc<crate::udn::UdnMapper>>,
    /// Size of the ring buffer, for the loss message.
    pub(crate) ringbuf_bytes: u32,
    /// Map ids and their bytes at start, to refresh the map memory figure of `/status`.
    pub(crate) map_ids: Vec<u32>,
    pub(crate) map_base: Vec<(u32, u64)>,
}

/// The conntrack fallback's table size and what it did since the last eviction.
struct ConntrackFigures {
    entries: usize,
    counts: TableCounts,
}

/// What one drain of the kernel maps returned.
struct Drained {
    flows: Result<Vec<(FlowId, FlowMetrics)>, TracerError>,
    ring_only: usize,
    cache: CacheReport,
    rtt: Vec<(FlowId, AdditionalMetrics)>,
    drops: Vec<(FlowId, PktDropTotals)>,
    netevents: Vec<(FlowId, NetworkEventsTotals)>,
    dns: Vec<(FlowId, DnsMetrics)>,
    tls: Vec<(FlowId, netobserv_agent_common::TlsMetrics)>,
    quic: Vec<(FlowId, netobserv_agent_common::QuicMetrics)>,
    xlat: Vec<(FlowId, XlatMetrics)>,
    ct: Option<ConntrackFigures>,
    counters: Result<Counts, TracerError>,
    clock: Clock,
}

/// Drains every map (blocking: `bpf(2)` calls and the flow-cache flush).
fn drain_all(maps: &mut FlowMaps) -> Drained {
    let flows = maps.drain();
    let ring_only = maps.last_ring_only();
    let cache = maps.take_flow_cache_report();
    let rtt = maps.drain_additional();
    let drops = maps.drain_pkt_drops();
    let netevents = maps.drain_network_events();
    let clock = Clock::now();
    let dns = maps.drain_dns(clock.mono_ns(), crate::dns::STALE_QUERY_NS);
    let tls = maps.drain_tls();
    let quic = maps.drain_quic();
    let counters = maps.take_counters();
    let xlat = match &flows {
        Ok(f) => maps.drain_xlat(f.iter().map(|(k, _)| k)),
        Err(_) => maps.drain_xlat(std::iter::empty()),
    };
    let ct = maps.conntrack_table().map(|t| ConntrackFigures {
        entries: t.len(),
        counts: t.take_counts(),
    });
    Drained {
        flows,
        ring_only,
        cache,
        rtt,
        drops,
        netevents,
        dns,
        tls,
        quic,
        xlat,
        ct,
        counters,
        clock,
    }
}

impl Evictor {
    /// Drains the kernel maps and queues the flows for export; returns how many flows.
    pub(crate) async fn evict_once(&self) -> usize {
        let m = self.maps.clone();
        let started = Instant::now();
        let Ok(d) = tokio::task::spawn_blocking(move || drain_all(&mut lock(&m))).await else {
            return 0;
        };
        let metrics = &self.metrics;
        record_cache(metrics, d.cache, d.ct);
        metrics
            .drain_duration
            .observe(started.elapsed().as_secs_f64());
        metrics.evictions.inc();
        match &d.counters {
            Ok(c) => crate::kcounters::publish(metrics, c, self.ringbuf_bytes),
            Err(e) => tracing::warn!(error = %e, "reading kernel counters"),
        }
        if !self.map_ids.is_empty() {
            metrics.set_map_memory(crate::mapmem::measure(&self.map_ids, Some(&self.map_base)));
        }
        let flows = match d.flows {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "draining the flow map");
                return 0;
            }
        };
        let n = flows.len();
        metrics.evicted_flows.inc_by(n as u64);
        metrics
            .buffer_size
            .get_or_create(&vec![("name".into(), "accounter-entries".into())])
            .set(d.ring_only as i64);
        if n == 0
            && d.rtt.is_empty()
            && d.drops.is_empty()
            && d.dns.is_empty()
            && d.tls.is_empty()
            && d.quic.is_empty()
            && d.netevents.is_empty()
            && d.xlat.is_empty()
        {
            return 0;
        }
        // Sized once for the worst case (no flow in two maps): growing a table of ~50,000
        // entries rehashes and copies it several times.
        let mut enrich = EnrichMap::with_capacity_and_hasher(
            d.rtt.len()
                + d.dns.len()
                + d.tls.len()
                + d.quic.len()
                + d.drops.len()
                + d.netevents.len()
                + d.xlat.len(),
            Default::default(),
        );
        for (id, a) in d.rtt {
            enrich.entry(id).or_default().rtt = Some(a);
        }
        for (id, x) in d.dns {
            enrich.entry(id).or_default().dns = Some(Box::new(x));
        }
        for (id, x) in d.tls {
            enrich.entry(id).or_default().tls = Some(Box::new(x));
        }
        for (id, x) in d.quic {
            enrich.entry(id).or_default().quic = Some(x);
        }
        for (id, x) in d.drops {
            enrich.entry(id).or_default().drops = Some(x);
        }
        if let Some(decoder) = &self.decoder {
            for (id, t) in d.netevents {
                enrich.entry(id).or_default().network_events =
                    Some(Box::new(decoder.decode_flow(&t).await));
            }
        }
        for (id, x) in d.xlat {
            enrich.entry(id).or_default().xlat = Some(x);
        }
        let names = self
            .names
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.queue.push_batch(Batch::Flows(
            FlowBatch::from_enrichment(
                flows,
                enrich,
                d.clock,
                Arc::new(names.by_index),
                self.agent_ip.clone(),
            )
            .with_mac_names(Arc::new(names.by_mac))
            .with_udns(self.udn.as_ref().map(|u| u.snapshot())),
        ));
        n
    }

    /// Whether the entries created in the flow map since the last eviction plus the flows the
    /// ring buffer brought reach the high-water mark.
    fn under_pressure(&self, high_water: u64) -> bool {
        let maps = lock(&self.maps);
        let inserted = match maps.inserted_since_eviction() {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "reading the flow map's fill level");
                0
            }
        };
        let ring = maps.ring();
        drop(maps);
        let pending = ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pending() as u64;
        self.metrics
            .buffer_size
            .get_or_create(&vec![("name".into(), "flowmap".into())])
            .set(inserted as i64);
        inserted + pending >= high_water
    }
}

/// Flow-cache flush outcomes and the conntrack fallback's figures as metrics.
fn record_cache(metrics: &Metrics, cache: CacheReport, ct: Option<ConntrackFigures>) {
    let flush = cache.flush;
    for (outcome, v) in [
        ("flushed", flush.flushed as u64),
        ("retried", flush.retries as u64),
        ("left_busy", flush.left_busy as u64),
        ("failed", cache.failed_flushes + flush.failed_cpus as u64),
    ] {
        if v > 0 {
            metrics
                .flow_cache_slots
                .get_or_create(&vec![("outcome".to_string(), outcome.to_string())])
                .inc_by(v);
        }
    }
    if let Some(ct) = ct {
        metrics.xlat_conntrack_entries.set(ct.entries as i64);
        for (kind, v) in [
            ("learnt", ct.counts.learnt),
            ("refused", ct.counts.refused),
            ("overflow", ct.counts.overflows),
        ] {
            metrics
                .xlat_conntrack_events
                .get_or_create(&vec![("kind".to_string(), kind.to_string())])
                .inc_by(v);
        }
    }
}

/// Evicts every `CACHE_ACTIVE_TIMEOUT`, and at once whenever the flow map and the ring
/// buffer's aggregate together reach the high-water mark (checked every [`POLL`], or when the
/// ring side signals it), for as long as the pressure lasts.
pub(crate) async fn evict_loop(
    ev: Arc<Evictor>,
    active_timeout: Duration,
    high_water: u64,
    pressure: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut next = tokio::time::Instant::now() + active_timeout;
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let early = tokio::select! {
            _ = tokio::time::sleep_until(next) => false,
            _ = pressure.notified() => {
                if !ev.under_pressure(high_water) {
                    continue;
                }
                true
            }
            _ = poll.tick() => {
                if !ev.under_pressure(high_water) {
                    continue;
                }
                true
            }
            res = shutdown.changed() => {
                if res.is_err() || *shutdown.borrow() {
                    return;
                }
                continue;
            }
        };
        if early {
            ev.metrics.pressure_evictions.inc();
        }
        ev.evict_once().await;
        next = tokio::time::Instant::now() + active_timeout;
    }
}

/// Keeps the ring buffer drained into its aggregate between evictions: on the kernel's wakeups
/// (each quarter of the ring filled) and every [`POLL`]. Signals `pressure` when the aggregate
/// alone reaches the high-water mark.
pub(crate) async fn keep_ring_drained(
    ring: Arc<Mutex<RingSide>>,
    high_water: u64,
    pressure: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let fd = ring
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .notify_fd();
    let fd = match fd {
        Ok(fd) => fd,
        Err(e) => {
            tracing::warn!(error = %e, "ring buffer: no wakeups, polling only");
            return poll_ring(ring, high_water, pressure, shutdown).await;
        }
    };
    // SAFETY: the descriptor is owned by the AsyncFd for its whole life, so it stays open and
    // refers to the same ring while registered.
    let afd = match unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
    } {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "ring buffer: no wakeups, polling only");
            return poll_ring(ring, high_water, pressure, shutdown).await;
        }
    };
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = afd.readable() => match r {
                Ok(mut g) => g.clear_ready(),
                Err(e) => {
                    tracing::warn!(error = %e, "ring buffer: no wakeups, polling only");
                    return poll_ring(ring, high_water, pressure, shutdown).await;
                }
            },
            _ = poll.tick() => {}
            res = shutdown.changed() => {
                if res.is_err() || *shutdown.borrow() {
                    return;
                }
            }
        }
        drain_ring(&ring, high_water, &pressure);
    }
}

fn drain_ring(ring: &Mutex<RingSide>, high_water: u64, pressure: &Notify) {
    let pending = {
        let mut r = ring.lock().unwrap_or_else(PoisonError::into_inner);
        r.drain();
        r.pending() as u64
    };
    if pending >= high_water {
        pressure.notify_one();
    }
}

/// [`keep_ring_drained`] without wakeups (if the ring's descriptor cannot be polled).
async fn poll_ring(
    ring: Arc<Mutex<RingSide>>,
    high_water: u64,
    pressure: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut poll = tokio::time::interval(POLL / 2);
    loop {
        tokio::select! {
            _ = poll.tick() => drain_ring(&ring, high_water, &pressure),
            res = shutdown.changed() => {
                if res.is_err() || *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}
