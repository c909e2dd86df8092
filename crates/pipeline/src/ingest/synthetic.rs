//! `synthetic` ingest: a built-in load source (upstream `connections`, `batchMaxLen`,
//! `flowLogsPerMin`) for trying a pipeline configuration or sizing it without agents.
//!
//! It keeps `connections` distinct conversations and cycles through them, emitting flow records
//! shaped like the agents' (addresses, ports, protocol, counters, times, interface, direction),
//! so every transform and writer sees realistic fields. Generation is deterministic for a seed.

use crate::config::{Ingest, IngestSynthetic};
use crate::record::{Record, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `ingest: {type: synthetic, synthetic: {...}}` parameters, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticConfig {
    /// Distinct conversations cycled through (upstream default 100).
    pub connections: usize,
    /// Records per emitted batch (upstream default 10).
    pub batch_max_len: usize,
    /// Records per minute (upstream default 2000).
    pub flow_logs_per_min: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        let d = IngestSynthetic::default();
        Self {
            connections: d.connections,
            batch_max_len: d.batch_max_len,
            flow_logs_per_min: d.flow_logs_per_min,
        }
    }
}

/// Why a `synthetic` configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    /// Bad parameters.
    #[error("synthetic: {0}")]
    Invalid(String),
}

impl SyntheticConfig {
    /// Reads an ingest stage given as JSON (absent `synthetic` object: defaults).
    pub fn from_ingest(ingest: &serde_json::Value) -> Result<Self, SyntheticError> {
        let ingest: Ingest = serde_json::from_value(ingest.clone())
            .map_err(|e| SyntheticError::Invalid(e.to_string()))?;
        Self::from_params(ingest.synthetic.as_ref())
    }

    /// Checks the `synthetic` parameters (absent: defaults).
    pub fn from_params(params: Option<&IngestSynthetic>) -> Result<Self, SyntheticError> {
        let p = params.cloned().unwrap_or_default();
        let config = Self {
            connections: p.connections,
            batch_max_len: p.batch_max_len,
            flow_logs_per_min: p.flow_logs_per_min,
        };
        if config.connections == 0 {
            return Err(SyntheticError::Invalid(
                "connections must be at least 1".into(),
            ));
        }
        if config.batch_max_len == 0 {
            return Err(SyntheticError::Invalid(
                "batchMaxLen must be at least 1".into(),
            ));
        }
        if config.flow_logs_per_min == 0 {
            return Err(SyntheticError::Invalid(
                "flowLogsPerMin must be at least 1".into(),
            ));
        }
        Ok(config)
    }

    /// Time between two batches that keeps the configured rate.
    pub fn batch_interval(&self) -> Duration {
        Duration::from_secs_f64(60.0 * self.batch_max_len as f64 / self.flow_logs_per_min as f64)
    }
}

/// One conversation's fixed fields.
#[derive(Clone, Debug)]
struct Conversation {
    src: String,
    dst: String,
    src_port: u16,
    dst_port: u16,
    proto: u8,
}

/// Produces the synthetic records.
#[derive(Debug)]
pub struct SyntheticSource {
    config: SyntheticConfig,
    conversations: Vec<Conversation>,
    next: usize,
    rng: u64,
}

impl SyntheticSource {
    /// A source with its conversations drawn from `seed`.
    pub fn new(config: SyntheticConfig, seed: u64) -> Self {
        let mut rng = seed | 1;
        let conversations = (0..config.connections)
            .map(|_| {
                let r = xorshift(&mut rng);
                let proto = match r % 10 {
                    0..=5 => 6,
                    6..=8 => 17,
                    _ => 1,
                };
                let (src_port, dst_port) = if proto == 1 {
                    (0, 0)
                } else {
                    (
                        32768 + (xorshift(&mut rng) % 28000) as u16,
                        [80u16, 443, 53, 8080, 5432, 6379][(r >> 8) as usize % 6],
                    )
                };
                Conversation {
                    src: ip(xorshift(&mut rng)),
                    dst: ip(xorshift(&mut rng)),
                    src_port,
                    dst_port,
                    proto,
                }
            })
            .collect();
        Self {
            config,
            conversations,
            next: 0,
            rng,
        }
    }

    /// The parameters in use.
    pub fn config(&self) -> &SyntheticConfig {
        &self.config
    }

    /// The next batch of `batchMaxLen` records, stamped with the current time.
    pub fn next_batch(&mut self) -> Vec<Record> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let end_ms = now.as_millis() as u64;
        (0..self.config.batch_max_len)
            .map(|_| {
                let c = self.conversations[self.next].clone();
                self.next = (self.next + 1) % self.conversations.len();
                let r = xorshift(&mut self.rng);
                let packets = 1 + r % 50;
                let bytes = packets * (64 + (r >> 16) % 1400);
                let mut rec = Record::with_capacity(16);
                rec.push_new("SrcAddr", Value::Str(c.src.into()));
                rec.push_new("DstAddr", Value::Str(c.dst.into()));
                rec.push_new("SrcMac", "0A:58:0A:80:00:01");
                rec.push_new("DstMac", "0A:58:0A:80:00:02");
                rec.push_new("Etype", Value::UInt(0x0800));
                rec.push_new("Proto", Value::UInt(u64::from(c.proto)));
                if c.proto != 1 {
                    rec.push_new("SrcPort", Value::UInt(u64::from(c.src_port)));
                    rec.push_new("DstPort", Value::UInt(u64::from(c.dst_port)));
                }
                rec.push_new("Bytes", Value::UInt(bytes));
                rec.push_new("Packets", Value::UInt(packets));
                rec.push_new("FlowDirection", Value::Int((r >> 24) as i64 % 2));
                rec.push_new(
                    "IfDirections",
                    Value::List(vec![Value::Int((r >> 24) as i64 % 2)]),
                );
                rec.push_new("Interfaces", Value::List(vec![Value::Str("eth0".into())]));
                rec.push_new("AgentIP", "10.0.0.1");
                rec.push_new(
                    "TimeFlowStartMs",
                    Value::UInt(end_ms.saturating_sub(r % 5000)),
                );
                rec.push_new("TimeFlowEndMs", Value::UInt(end_ms));
                rec.push_new("TimeReceived", Value::UInt(now.as_secs()));
                rec
            })
            .collect()
    }
}

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

fn ip(r: u64) -> String {
    format!("10.{}.{}.{}", (r >> 8) % 256, (r >> 16) % 256, 1 + r % 254)
}

/// A `synthetic` ingest, built and not started yet.
pub struct SyntheticIngester(SyntheticConfig);

/// Builder of `synthetic`.
pub fn build(
    ingest: &Ingest,
    _: &mut crate::stage::StageContext<'_>,
) -> Result<Box<dyn super::Ingester>, crate::stage::BuildError> {
    SyntheticConfig::from_params(ingest.synthetic.as_ref())
        .map(|c| Box::new(SyntheticIngester(c)) as Box<dyn super::Ingester>)
        .map_err(|e| crate::stage::BuildError::Invalid(e.to_string()))
}

impl super::Ingester for SyntheticIngester {
    fn start(
        self: Box<Self>,
        shards: crate::shard::Shards,
    ) -> futures::future::BoxFuture<
        'static,
        Result<Box<dyn super::RunningIngest>, crate::stage::BuildError>,
    > {
        use futures::FutureExt;
        let config = self.0;
        tracing::info!(
            "synthetic ingest: {} connections, {} flows/min in batches of {}",
            config.connections,
            config.flow_logs_per_min,
            config.batch_max_len
        );
        let running: Box<dyn super::RunningIngest> = Box::new(emit(config, shards));
        futures::future::ready(Ok(running)).boxed()
    }
}

/// The running synthetic source.
struct RunningSynthetic {
    stats: std::sync::Arc<super::GrpcStats>,
    task: tokio::task::JoinHandle<()>,
}

/// Emits synthetic batches at the configured rate. A full queue delays the source (it counts as
/// back-pressure, not loss: synthetic records have no sender to lose them for).
fn emit(config: SyntheticConfig, shards: crate::shard::Shards) -> RunningSynthetic {
    use std::sync::atomic::Ordering;
    let stats = std::sync::Arc::new(super::GrpcStats::default());
    let counters = stats.clone();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let task = tokio::spawn(async move {
        let mut source = SyntheticSource::new(config, seed);
        let mut tick = tokio::time::interval(source.config().batch_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let batch = source.next_batch();
            let n = batch.len() as u64;
            if shards.send_records(batch).await.is_err() {
                return;
            }
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.flows.fetch_add(n, Ordering::Relaxed);
        }
    });
    RunningSynthetic { stats, task }
}

impl super::RunningIngest for RunningSynthetic {
    fn stats(&self) -> std::sync::Arc<super::GrpcStats> {
        self.stats.clone()
    }

    fn finish(
        self: Box<Self>,
        shutdown: crate::shutdown::Shutdown,
    ) -> futures::future::BoxFuture<'static, Result<Option<super::LineStats>, String>> {
        use futures::FutureExt;
        async move {
            shutdown.wait().await;
            self.task.abort();
            let _ = self.task.await;
            Ok(None)
        }
        .boxed()
    }

    fn abort(self: Box<Self>) -> futures::future::BoxFuture<'static, ()> {
        use futures::FutureExt;
        self.task.abort();
        async move {
            let _ = self.task.await;
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn cycles_through_the_configured_connections() {
        let config = SyntheticConfig {
            connections: 7,
            batch_max_len: 5,
            flow_logs_per_min: 600,
        };
        let mut source = SyntheticSource::new(config, 42);
        let mut seen = HashSet::new();
        for _ in 0..10 {
            let batch = source.next_batch();
            assert_eq!(batch.len(), 5);
            for r in batch {
                let key: Vec<String> = ["SrcAddr", "DstAddr", "SrcPort", "DstPort", "Proto"]
                    .iter()
                    .map(|f| r.get(f).map(|v| v.to_text()).unwrap_or_default())
                    .collect();
                assert!(r.get("Bytes").and_then(Value::as_i64).unwrap_or(0) > 0);
                seen.insert(key);
            }
        }
        assert_eq!(seen.len(), 7);
        assert_eq!(source.config().batch_interval(), Duration::from_millis(500));
    }

    #[test]
    fn parameters_are_checked() {
        let bad = serde_json::json!({"type": "synthetic", "synthetic": {"connections": 0}});
        assert!(SyntheticConfig::from_ingest(&bad).is_err());
        let unknown = serde_json::json!({"type": "synthetic", "synthetic": {"rate": 3}});
        assert!(
            SyntheticConfig::from_ingest(&unknown)
                .expect_err("unknown key")
                .to_string()
                .contains("rate")
        );
        let defaults = serde_json::json!({"type": "synthetic"});
        assert_eq!(
            SyntheticConfig::from_ingest(&defaults).expect("defaults"),
            SyntheticConfig::default()
        );
    }
}
