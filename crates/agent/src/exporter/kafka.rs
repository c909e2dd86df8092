//! `EXPORT=kafka`: each flow as one `pbflow.Record` message, keyed as upstream so that both
//! directions of a conversation land in the same partition, and every acknowledgement awaited
//! so that what the brokers never got is counted (`exporter/send_failed`), not lost silently.

use crate::config::kafka::KafkaConfig;
use krafka::producer::Producer;
pub use netobserv_pipeline::kafka::conversation_key;
use pbflow::Record;
use prost::Message;
use std::time::Duration;

/// How long a message may wait for its acknowledgement (retries included) before it counts as
/// lost. Long enough to ride out a broker restart; the export queue in front counts what waits
/// beyond its length.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// The Kafka destination: a producer, connected on first use and again after a failure.
pub struct KafkaSink {
    config: KafkaConfig,
    producer: Option<Producer>,
}

impl KafkaSink {
    /// A sink for `config`; nothing connects yet.
    pub fn new(config: KafkaConfig) -> Self {
        Self {
            config,
            producer: None,
        }
    }

    /// Where it sends, for logs.
    pub fn describe(&self) -> String {
        format!(
            "Kafka topic {} on {}",
            self.config.topic,
            self.config.target.brokers.join(",")
        )
    }

    async fn producer(&mut self) -> Result<&Producer, String> {
        if self.producer.is_none() {
            let kafka = self.config.target.connect("netobserv-ebpf-agent").await?;
            let producer = kafka
                .producer()
                .compression(self.config.compression)
                .batch_size(self.config.batch_bytes)
                .linger(Duration::from_millis(5))
                .delivery_timeout(DELIVERY_TIMEOUT)
                .max_block(Duration::from_secs(10))
                .build()
                .await
                .map_err(|e| format!("cannot start the Kafka producer: {e}"))?;
            self.producer = Some(producer);
        }
        self.producer
            .as_ref()
            .ok_or_else(|| "no Kafka producer".to_string())
    }

    /// Sends `records` and waits for every acknowledgement. `Ok(n)`: `n` of them were not
    /// acknowledged (lost); `Err`: nothing was sent (no connection), the caller may retry all.
    pub async fn send(&mut self, records: &[Record]) -> Result<u64, String> {
        let topic = self.config.topic.clone();
        let producer = match self.producer().await {
            Ok(p) => p,
            Err(e) => {
                self.producer = None;
                return Err(e);
            }
        };
        let mut handles = Vec::with_capacity(records.len());
        let mut lost = 0u64;
        let mut first_error = None;
        for record in records {
            let message = krafka::Record::new(topic.clone(), record.encode_to_vec())
                .key(conversation_key(record).to_vec());
            match producer.enqueue(message).await {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    lost += 1;
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        for handle in handles {
            if let Err(e) = handle.await {
                lost += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
        if let Some(err) = first_error {
            tracing::warn!(%err, lost, "Kafka did not acknowledge flows");
        }
        Ok(lost)
    }

    /// Sends what the producer still holds, then closes it.
    pub async fn close(&mut self) {
        if let Some(producer) = self.producer.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), producer.close()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(src: &str, dst: &str) -> Record {
        Record {
            network: Some(pbflow::Network {
                src_addr: Some(pbflow::Ip::from_addr(src.parse().expect("ip"))),
                dst_addr: Some(pbflow::Ip::from_addr(dst.parse().expect("ip"))),
                dscp: 0,
            }),
            ..Record::default()
        }
    }

    #[test]
    fn both_directions_share_a_key() {
        let there = conversation_key(&flow("10.0.0.2", "10.0.0.1"));
        let back = conversation_key(&flow("10.0.0.1", "10.0.0.2"));
        assert_eq!(there, back);
        let mut expected = [0u8; 32];
        expected[10..16].copy_from_slice(&[0xff, 0xff, 10, 0, 0, 1]);
        expected[26..32].copy_from_slice(&[0xff, 0xff, 10, 0, 0, 2]);
        assert_eq!(there, expected);
        assert_ne!(there, conversation_key(&flow("10.0.0.1", "10.0.0.3")));
    }
}
