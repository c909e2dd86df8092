//! Packet capture, the agent's packet mode (`ENABLE_PCA=true`, upstream's PCA): the capture
//! classifiers (kernel module `capture` of `crates/agent-ebpf`) copy the first `PCA_SNAPLEN`
//! bytes of every packet the flow filter rules keep (every frame when there is no rule) into the
//! `packet_record` ring buffer; this module sets them up before load, keeps the ring drained
//! ([`ring`]) and sends each packet to a `pbpacket.Collector` ([`export`]). Every loss (ring
//! full, export queue full, collector gone at shutdown) is counted in
//! `dropped_packets_total`, shown in `/status` (`packets_lost`) and logged as a rate-limited
//! WARN naming the setting to raise.
//!
//! As upstream, packet mode replaces flows: the flow classifiers and features stay unloaded
//! (their maps shrunk to nothing), and `TARGET_HOST:TARGET_PORT` is a packet collector.

pub mod export;
pub mod ring;

use crate::config::Config;
use crate::error::TracerError;
use crate::ifaces::Names;
use crate::kcounters::KernelCounters;
use crate::metrics::{CaptureStatus, Metrics};
use aya::EbpfLoader;
use netobserv_agent_common::capture::{PACKET_RECORD_MAP, globals};
use netobserv_agent_common::counters;
use ring::PacketRing;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the ring is drained when no wakeup came (the kernel wakes user space each time a
/// quarter of the ring fills).
const POLL: Duration = Duration::from_millis(100);
/// How often the kernel's counters (ring losses, filter and sampling decisions) are read.
const COUNTERS_EVERY: Duration = Duration::from_millis(500);
/// Records read per pass before the names' lock is released and the task yields.
const CHUNK: usize = 4096;

/// The capture classifiers' load-time settings, kept for the loader to borrow.
pub(crate) struct CapturePlan {
    snaplen: u32,
    wakeup_shift: u32,
    ringbuf_bytes: u32,
}

impl CapturePlan {
    /// Reads the settings the capture classifiers need.
    pub(crate) fn new(cfg: &Config) -> Self {
        let ringbuf_bytes = cfg.capture.ringbuf_bytes;
        Self {
            snaplen: cfg.capture.snaplen,
            wakeup_shift: (ringbuf_bytes / 4).trailing_zeros(),
            ringbuf_bytes,
        }
    }

    /// Sets the snap length and wakeup step, and sizes the ring (`PCA_RINGBUF_BYTES`).
    pub(crate) fn configure<'a>(&'a self, loader: &mut EbpfLoader<'a>) {
        loader
            .override_global(globals::PCA_SNAPLEN, &self.snaplen, true)
            .override_global(globals::PCA_WAKEUP_SHIFT, &self.wakeup_shift, true)
            .map_max_entries(PACKET_RECORD_MAP, self.ringbuf_bytes);
    }
}

/// The flow side's settings in packet mode: every flow feature off and the flow maps and ring
/// at their smallest, since nothing writes them.
pub(crate) fn flows_off(cfg: &Config) -> Config {
    let mut c = cfg.clone();
    c.enable_rtt = false;
    c.enable_pkt_drops = false;
    c.enable_dns_tracking = false;
    c.enable_pkt_translation = false;
    c.enable_ipsec_tracking = false;
    c.network_events.enable = false;
    c.flow_cache = false;
    c.cache_max_flows = 1;
    c.ringbuf_bytes_setting = Some(4096);
    c
}

/// The flow features asked for that packet mode leaves off, for the start-up log.
pub(crate) fn ignored_features(cfg: &Config) -> Vec<&'static str> {
    [
        (cfg.enable_rtt, "ENABLE_RTT"),
        (cfg.enable_pkt_drops, "ENABLE_PKT_DROPS"),
        (cfg.enable_dns_tracking, "ENABLE_DNS_TRACKING"),
        (cfg.enable_pkt_translation, "ENABLE_PKT_TRANSLATION"),
        (cfg.enable_ipsec_tracking, "ENABLE_IPSEC_TRACKING"),
        (
            cfg.network_events.enable,
            "ENABLE_NETWORK_EVENTS_MONITORING",
        ),
        (cfg.udn.enable, "ENABLE_UDN_MAPPING"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// What packet mode reads from the loaded object: the ring and the kernel counters.
pub struct PacketSource {
    ring: PacketRing,
    counters: KernelCounters,
}

impl PacketSource {
    /// Takes the ring and the counters out of the loaded object.
    pub(crate) fn take(ebpf: &mut aya::Ebpf) -> Result<Self, TracerError> {
        Ok(Self {
            ring: PacketRing::take(ebpf)?,
            counters: KernelCounters::from_object(ebpf)?,
        })
    }
}

/// The drain task's state: the ring, the queue it fills, and what it reports.
struct Drainer {
    source: PacketSource,
    queue: export::PacketQueue,
    names: Names,
    metrics: Arc<Metrics>,
    /// For the loss messages.
    ringbuf_bytes: u32,
    snaplen: u32,
    counters_read: Instant,
}

impl Drainer {
    /// Reads every waiting record into the queue, counting what the full queue refused; reads
    /// the kernel counters when due (or when `counters_now`).
    fn drain(&mut self, counters_now: bool) {
        let mut refused = 0u64;
        loop {
            let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
            let queue = &self.queue;
            let n = self.source.ring.drain(&names, CHUNK, |p| {
                if !queue.push(p) {
                    refused += 1;
                }
            });
            drop(names);
            self.metrics.captured_packets.inc_by(n as u64);
            if n < CHUNK {
                break;
            }
        }
        self.metrics
            .report_packet_loss(&crate::losses::PCA_QUEUE_FULL, refused, "");
        if counters_now || self.counters_read.elapsed() >= COUNTERS_EVERY {
            self.read_counters();
        }
    }

    /// Publishes the kernel counters since the last reading: the ring's losses, filter and
    /// sampling decisions.
    fn read_counters(&mut self) {
        self.counters_read = Instant::now();
        match self.source.counters.take() {
            Ok(c) => {
                crate::kcounters::publish(&self.metrics, &c, 0);
                self.metrics.report_packet_loss(
                    &crate::losses::PCA_RINGBUF_FULL,
                    c[counters::PCA_LOST as usize],
                    &format!(
                        " (PCA_RINGBUF_BYTES={}, PCA_SNAPLEN={})",
                        self.ringbuf_bytes, self.snaplen
                    ),
                );
            }
            Err(e) => tracing::warn!(error = %e, "reading the kernel counters"),
        }
        if self.source.ring.malformed > 0 {
            self.metrics
                .count_error("capture", "MalformedRecord", "high");
            self.source.ring.malformed = 0;
        }
    }

    /// Keeps the ring drained until `shutdown`: on each kernel wakeup, and every [`POLL`].
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Self {
        let afd = self.source.ring.notify_fd().and_then(|fd| {
            // SAFETY: the descriptor is owned by the AsyncFd for its whole life, so it stays
            // open and refers to the same ring while registered.
            unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
            }
            .map_err(|e| std::io::Error::other(e.to_string()))
        });
        let afd = match afd {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!(error = %e, "packet ring: no wakeups, polling only");
                None
            }
        };
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = async { afd.as_ref()?.readable().await.ok() }, if afd.is_some() => {
                    if let Some(mut g) = r {
                        g.clear_ready();
                    }
                }
                _ = poll.tick() => {}
                res = shutdown.changed() => {
                    if res.is_err() || *shutdown.borrow() {
                        return self;
                    }
                }
            }
            self.drain(false);
        }
    }
}

/// Packet mode running: the drain task and the exporter.
pub struct Capture {
    drainer: JoinHandle<Drainer>,
    exporter: JoinHandle<()>,
    exporter_stop: watch::Sender<bool>,
}

impl Capture {
    /// Starts the exporter towards `target` and the task that keeps the ring drained (until
    /// `shutdown`); publishes the settings in `/status`.
    pub(crate) fn start(
        cfg: &Config,
        target: crate::exporter::ExporterConfig,
        source: PacketSource,
        metrics: Arc<Metrics>,
        names: Names,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, crate::exporter::ExporterError> {
        let (exporter_stop, stop_rx) = watch::channel(false);
        let (queue, exporter) = export::start(
            export::PacketExportConfig {
                target,
                queue: cfg.capture.queue_packets,
                in_flight: cfg.capture.in_flight,
                batch: cfg.capture.batch,
                snaplen: cfg.capture.snaplen,
            },
            metrics.clone(),
            stop_rx,
        )?;
        metrics.set_capture(CaptureStatus {
            snaplen: cfg.capture.snaplen,
            ringbuf_bytes: cfg.capture.ringbuf_bytes,
            export_queue: cfg.capture.queue_packets,
            export_in_flight: cfg.capture.in_flight,
            export_batch: cfg.capture.batch,
            filtered: !cfg.flow_filter_rules.is_empty(),
            ..CaptureStatus::default()
        });
        let drainer = Drainer {
            source,
            queue,
            names,
            metrics,
            ringbuf_bytes: cfg.capture.ringbuf_bytes,
            snaplen: cfg.capture.snaplen,
            counters_read: Instant::now(),
        };
        Ok(Self {
            drainer: tokio::spawn(drainer.run(shutdown)),
            exporter,
            exporter_stop,
        })
    }

    /// After the shutdown signal and the detach: reads what the ring still holds, then lets the
    /// exporter send what is queued (one attempt each; failures are counted as lost) and waits
    /// for it, at most `grace`.
    pub(crate) async fn finish(self, grace: Duration) {
        match self.drainer.await {
            Ok(mut d) => {
                d.drain(true);
                drop(d);
            }
            Err(e) => tracing::warn!(error = %e, "packet drain task failed"),
        }
        let _ = self.exporter_stop.send(true);
        if tokio::time::timeout(grace, self.exporter).await.is_err() {
            tracing::warn!("packet exporter did not finish within {grace:?}");
        }
    }
}
