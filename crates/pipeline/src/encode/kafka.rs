//! `kafka` encoder: each record as one JSON message on a topic (the FlowCollector's
//! `spec.exporters[].type: Kafka`), sent from a background task like the other exporters.
//!
//! What the queue cannot take, what the brokers never acknowledge within the delivery timeout,
//! and what cannot be sent because no broker answers are counted
//! (`netobserv_exporter_*{sink="kafka"}`); nothing waits on the pipeline worker.

use crate::config::Encode;
use crate::kafka::{Compression, KafkaTarget, REQUEST_TIMEOUT, compression};
use crate::record::Record;
use crate::stage::{BuildError, StageContext, section};
use crate::write::DeliveryStats;
use crate::write::background::{BackgroundSender, Counted};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Batches queued per stage before new ones are dropped (and counted).
pub const QUEUE_BATCHES: usize = 256;
/// Batches whose acknowledgements may be awaited at once.
const IN_FLIGHT_BATCHES: usize = 8;
/// Upstream's default write timeout (seconds).
const DEFAULT_WRITE_TIMEOUT_S: i64 = 10;

/// The encoder's settings, checked.
#[derive(Clone, Debug)]
pub struct KafkaEncodeSettings {
    /// Brokers and security.
    pub target: KafkaTarget,
    /// Destination topic.
    pub topic: String,
    /// Codec of the produced batches.
    pub compression: Compression,
    /// Most bytes per partition batch.
    pub batch_bytes: usize,
    /// How long a message may wait for its acknowledgement before it is counted as lost.
    pub delivery_timeout: Duration,
}

impl KafkaEncodeSettings {
    /// From the stage's parameters.
    pub fn from_params(p: &netobserv_flp_config::EncodeKafka) -> Result<Self, BuildError> {
        if p.topic.trim().is_empty() {
            return Err(BuildError::Invalid("kafka encoder needs a `topic`".into()));
        }
        let target = KafkaTarget {
            brokers: p.address.split(',').map(|b| b.trim().to_string()).collect(),
            tls: p.tls.clone(),
            sasl: p.sasl.clone(),
        };
        target.check()?;
        let compression = compression(p.compression.as_deref().unwrap_or("none"))
            .map_err(|e| BuildError::Invalid(format!("kafka encoder: {e}")))?;
        let write_timeout = p.write_timeout.unwrap_or(DEFAULT_WRITE_TIMEOUT_S).max(1) as u64;
        Ok(Self {
            target,
            topic: p.topic.trim().to_string(),
            compression,
            batch_bytes: p.batch_bytes.unwrap_or(1 << 20).clamp(1024, 64 << 20) as usize,
            // A message must outlive at least one timed-out request and its retry.
            delivery_timeout: Duration::from_secs(write_timeout)
                .max(REQUEST_TIMEOUT + Duration::from_secs(1)),
        })
    }
}

/// One batch of encoded messages.
struct Messages(Vec<Bytes>);

impl Counted for Messages {
    fn items(&self) -> u64 {
        self.0.len() as u64
    }
}

/// A running `kafka` encoder.
pub struct KafkaEncoder {
    sender: BackgroundSender<Messages>,
}

impl KafkaEncoder {
    /// Starts the sending task on `runtime`.
    pub fn start(settings: KafkaEncodeSettings, runtime: &tokio::runtime::Handle) -> Self {
        Self {
            sender: BackgroundSender::start("kafka", QUEUE_BATCHES, runtime, move |rx, stats| {
                run(settings, rx, stats)
            }),
        }
    }
}

impl super::Encoder for KafkaEncoder {
    fn encode(&mut self, batch: &[Record]) {
        if !batch.is_empty() {
            let messages = batch.iter().map(|r| Bytes::from(r.to_json())).collect();
            self.sender.send(Messages(messages));
        }
    }

    fn delivery(&self) -> Option<Arc<DeliveryStats>> {
        Some(self.sender.stats())
    }
}

/// Builder of `kafka`.
pub fn build(
    encode: &Encode,
    ctx: &mut StageContext<'_>,
) -> Result<Box<dyn super::Encoder>, BuildError> {
    let params = section(encode.kafka.as_ref(), "kafka")?;
    let settings = KafkaEncodeSettings::from_params(params)?;
    Ok(Box::new(KafkaEncoder::start(
        settings,
        ctx.shared.runtime(),
    )))
}

async fn producer(settings: &KafkaEncodeSettings) -> Result<krafka::producer::Producer, String> {
    let kafka = settings
        .target
        .connect("netobserv-pipeline-kafka-exporter")
        .await?;
    kafka
        .producer()
        .compression(settings.compression)
        .batch_size(settings.batch_bytes)
        .linger(Duration::from_millis(5))
        .delivery_timeout(settings.delivery_timeout)
        .max_block(REQUEST_TIMEOUT)
        .build()
        .await
        .map_err(|e| format!("cannot start the Kafka producer: {e}"))
}

/// Sends queued batches until the stage goes, counting every message's outcome.
async fn run(
    settings: KafkaEncodeSettings,
    mut rx: mpsc::Receiver<Messages>,
    stats: Arc<DeliveryStats>,
) {
    let mut client = None;
    let mut acks: JoinSet<()> = JoinSet::new();
    while let Some(Messages(messages)) = rx.recv().await {
        let n = messages.len() as u64;
        if client.is_none() {
            match producer(&settings).await {
                Ok(p) => client = Some(p),
                Err(err) => {
                    tracing::warn!(%err, topic = %settings.topic, "Kafka export: {n} records dropped");
                    stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    stats.dropped_after_retries.fetch_add(n, Ordering::Relaxed);
                    continue;
                }
            }
        }
        let Some(producer) = &client else { continue };
        let mut handles = Vec::with_capacity(messages.len());
        let mut refused = 0u64;
        for value in messages {
            match producer
                .enqueue(krafka::Record::new(settings.topic.clone(), value))
                .await
            {
                Ok(handle) => handles.push(handle),
                Err(err) => {
                    if refused == 0 {
                        tracing::warn!(%err, topic = %settings.topic, "Kafka export refused a record");
                    }
                    refused += 1;
                }
            }
        }
        if refused > 0 {
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
            stats
                .dropped_after_retries
                .fetch_add(refused, Ordering::Relaxed);
        }
        while acks.len() >= IN_FLIGHT_BATCHES {
            acks.join_next().await;
        }
        let stats = stats.clone();
        let topic = settings.topic.clone();
        acks.spawn(async move {
            let (mut ok, mut lost) = (0u64, 0u64);
            let mut first_error = None;
            for handle in handles {
                match handle.await {
                    Ok(_) => ok += 1,
                    Err(err) => {
                        lost += 1;
                        first_error.get_or_insert(err.to_string());
                    }
                }
            }
            stats.written.fetch_add(ok, Ordering::Relaxed);
            if let Some(err) = first_error {
                tracing::warn!(%err, %topic, "Kafka export: {lost} records not acknowledged");
                stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                stats
                    .dropped_after_retries
                    .fetch_add(lost, Ordering::Relaxed);
            }
        });
    }
    while acks.join_next().await.is_some() {}
    if let Some(producer) = client {
        let _ = tokio::time::timeout(REQUEST_TIMEOUT, producer.close()).await;
    }
}
