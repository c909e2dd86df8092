//! `EXPORT=ipfix+udp` / `ipfix+tcp`: flows as IPFIX (RFC 7011) straight to a collector, as
//! upstream's agent exports them: its two templates (IPv4, IPv6) of IANA elements only, the
//! interface and direction taken from the flow's first interface, observation domain 1.
//!
//! The encoding and the transport are the pipeline's `ipfix` writer (templates resent over UDP
//! and after every TCP reconnection, TCP reconnected with backoff, a bounded message queue): one
//! implementation, tested against tshark there and here. What it could not send is read back
//! from its counters into the agent's own (`exporter/send_failed`, `limiter/full`), so flows
//! the collector never got are counted, never lost silently. Unlike upstream's exporter, ICMP
//! type and code are exported and a lost TCP connection is opened again.

use crate::metrics::Metrics;
use netobserv_pipeline::decode::record_from_pbflow;
use netobserv_pipeline::record::{Record, Value};
use netobserv_pipeline::write::DeliveryStats;
use netobserv_pipeline::write::ipfix::{IpfixWriter, Settings, Transport};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the writer's counters are copied into the agent's metrics between batches.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// The IPFIX destination of the agent.
pub struct IpfixSink {
    writer: Option<IpfixWriter>,
    sync: Arc<CounterSync>,
    ticker: tokio::task::JoinHandle<()>,
    target: String,
}

impl IpfixSink {
    /// Starts the writer towards `host:port` over `transport` (no enterprise elements: the agent
    /// has no Kubernetes names to put in them) and the task copying its counters.
    pub fn start(host: &str, port: u16, transport: Transport, metrics: Arc<Metrics>) -> Self {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let settings = Settings {
            target: format!("{host}:{port}"),
            transport,
            enterprise_id: 0,
            template_interval: Duration::from_secs(60),
        };
        let target = settings.target.clone();
        let writer = IpfixWriter::start(settings, &tokio::runtime::Handle::current());
        let sync = Arc::new(CounterSync::new(writer.stats(), metrics));
        let ticking = sync.clone();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SYNC_INTERVAL);
            loop {
                tick.tick().await;
                ticking.copy();
            }
        });
        Self {
            writer: Some(writer),
            sync,
            ticker,
            target,
        }
    }

    /// `host:port` of the collector, for logs and `/status`.
    pub fn describe(&self) -> String {
        self.target.clone()
    }

    /// Encodes `flows` into messages and queues them for the collector; never waits.
    pub fn send(&mut self, flows: &[pbflow::Record]) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let received = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let records: Vec<Record> = flows
            .iter()
            .map(|f| with_flow_direction(record_from_pbflow(f, received)))
            .collect();
        writer.send_batch(&records);
    }

    /// Sends what is queued (or counts it as lost when the collector cannot be reached), then
    /// copies the final counters.
    pub async fn close(&mut self) {
        if let Some(writer) = self.writer.take() {
            // Dropping the writer waits for its task: off the async workers.
            let _ = tokio::task::spawn_blocking(move || drop(writer)).await;
        }
        self.ticker.abort();
        self.sync.copy();
    }
}

/// upstream's `flowDirection`: the direction on the flow's first interface.
fn with_flow_direction(mut record: Record) -> Record {
    if !record.contains("FlowDirection") {
        let first = match record.get("IfDirections") {
            Some(Value::List(dirs)) => dirs.first().cloned(),
            _ => None,
        };
        if let Some(direction) = first {
            record.insert("FlowDirection", direction);
        }
    }
    record
}

/// Copies the growth of the writer's counters into the agent's: delivered flows count as
/// exported, dropped ones as losses with their reason.
struct CounterSync {
    stats: Arc<DeliveryStats>,
    metrics: Arc<Metrics>,
    /// Written, dropped (queue full), dropped (send failed), failed attempts already copied.
    seen: Mutex<[u64; 4]>,
}

impl CounterSync {
    fn new(stats: Arc<DeliveryStats>, metrics: Arc<Metrics>) -> Self {
        Self {
            stats,
            metrics,
            seen: Mutex::new([0; 4]),
        }
    }

    fn copy(&self) {
        let now = [
            self.stats.written.load(Ordering::Relaxed),
            self.stats.dropped_buffer_full.load(Ordering::Relaxed),
            self.stats.dropped_after_retries.load(Ordering::Relaxed),
            self.stats.failed_attempts.load(Ordering::Relaxed),
        ];
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let grown: Vec<u64> = now.iter().zip(seen.iter()).map(|(n, s)| n - s).collect();
        *seen = now;
        drop(seen);
        if grown[0] > 0 {
            self.metrics.exported_flows.inc_by(grown[0]);
        }
        if grown[1] > 0 {
            let r = &crate::losses::EXPORT_QUEUE_FULL;
            self.metrics.report_loss(r, grown[1], None, "");
        }
        if grown[2] > 0 {
            let r = &crate::losses::EXPORT_SEND_FAILED;
            self.metrics.report_loss(r, grown[2], None, "");
        }
        if grown[3] > 0 {
            self.metrics.export_errors.inc_by(grown[3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_direction_is_the_first_interface_s() {
        let mut r = Record::default();
        r.insert(
            "IfDirections",
            Value::List(vec![Value::Int(1), Value::Int(0)]),
        );
        let direction = |r: Record| r.get("FlowDirection").and_then(Value::as_i64);
        assert_eq!(direction(with_flow_direction(r)), Some(1));
        let mut r = Record::default();
        r.insert("FlowDirection", Value::Int(0));
        r.insert("IfDirections", Value::List(vec![Value::Int(1)]));
        assert_eq!(
            direction(with_flow_direction(r)),
            Some(0),
            "a direction already there stays"
        );
    }
}
