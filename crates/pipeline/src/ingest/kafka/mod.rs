//! `kafka` ingest: one member of a consumer group on the flows topic (the FlowCollector's
//! `deploymentModel: Kafka`), decoding `pbflow.Record` (protobuf) or JSON messages.
//!
//! - **Nothing lost on a restart.** Auto-commit is off: offsets are committed every
//!   `commitInterval`, and only up to polls the workers have run through the stages
//!   ([`commit::CommitTracker`]). A member that dies hands its partitions over at the first
//!   record it had not handled; what it handled but had not committed comes again (duplicates
//!   bounded by one commit interval).
//! - **Back-pressure, not loss.** Polls wait for room in the worker queues.
//! - **Skipped records are read again** ([`positions::Positions`]).
//! - **Bad input is counted.** A message that does not decode is skipped, counted
//!   (`ingest_errors{type="decode"}`) and logged with its topic, partition and offset; broker
//!   and commit failures are counted too (`type="broker"`, `type="commit"`).
//! - On stop: the workers finish what they hold, the last offsets are committed, and the
//!   member leaves the group so that the others take its partitions at once.

pub mod commit;
pub mod positions;

use super::GrpcStats;
use super::grpc::{KAFKA_BROKER, KAFKA_COMMIT, KAFKA_DECODE};
use crate::config::Ingest;
use crate::kafka::{KafkaTarget, REQUEST_TIMEOUT};
use crate::record::Record;
use crate::shard::{Batch, Handled, Shards};
use crate::shutdown::Shutdown;
use crate::stage::{BuildError, StageContext, section};
use commit::{CommitTracker, Partition};
use futures::FutureExt;
use futures::future::BoxFuture;
use krafka::consumer::{AutoOffsetReset, Consumer, ConsumerRecord, OffsetAndMetadata};
use netobserv_flp_config::DecoderKind;
use positions::Positions;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// How long the stop waits for the workers to finish what was handed on before committing.
const DRAIN_WAIT: Duration = Duration::from_secs(30);
/// Pause after a failed poll before the next.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The ingest's settings, with upstream's defaults applied.
#[derive(Clone, Debug)]
pub struct KafkaIngestSettings {
    /// Brokers and security.
    pub target: KafkaTarget,
    /// The topic.
    pub topic: String,
    /// Consumer group.
    pub group_id: String,
    /// Where a group without committed offsets starts.
    pub start_offset: AutoOffsetReset,
    /// Longest wait for a poll to fill.
    pub batch_read_timeout: Duration,
    /// Message format.
    pub decoder: DecoderKind,
    /// Records per batch handed to the workers.
    pub batch_max_len: usize,
    /// Most bytes per fetch.
    pub pull_max_bytes: i32,
    /// How often offsets are committed.
    pub commit_interval: Duration,
    /// Batches each worker queue holds.
    pub queue_batches: usize,
}

fn positive(value: Option<i64>, default: i64) -> i64 {
    value.filter(|v| *v > 0).unwrap_or(default)
}

impl KafkaIngestSettings {
    /// From the stage's parameters.
    pub fn from_params(p: &netobserv_flp_config::IngestKafka) -> Result<Self, BuildError> {
        if p.topic.trim().is_empty() {
            return Err(BuildError::Invalid("kafka ingest needs a `topic`".into()));
        }
        let target = KafkaTarget {
            brokers: p.brokers.clone(),
            tls: p.tls.clone(),
            sasl: p.sasl.clone(),
        };
        target.check()?;
        let start_offset = match p.start_offset.as_str() {
            "" | "FirstOffset" => AutoOffsetReset::Earliest,
            "LastOffset" => AutoOffsetReset::Latest,
            other => {
                return Err(BuildError::Invalid(format!(
                    "kafka ingest: startOffset `{other}` (FirstOffset or LastOffset)"
                )));
            }
        };
        let group_id = match p.group_id.trim() {
            "" => "flowlogs-pipeline".to_string(),
            g => g.to_string(),
        };
        Ok(Self {
            target,
            topic: p.topic.trim().to_string(),
            group_id,
            start_offset,
            batch_read_timeout: Duration::from_millis(positive(p.batch_read_timeout, 1000) as u64),
            decoder: p.decoder.map(|d| d.kind).unwrap_or_default(),
            batch_max_len: positive(p.batch_max_len, 500).min(100_000) as usize,
            pull_max_bytes: positive(p.pull_max_bytes, 10_000_000).min(i64::from(i32::MAX)) as i32,
            commit_interval: Duration::from_millis(
                p.commit_interval.filter(|v| *v >= 0).unwrap_or(500) as u64,
            ),
            queue_batches: positive(p.pull_queue_capacity, 100).min(10_000) as usize,
        })
    }
}

/// A `kafka` ingest, built and not started yet.
pub struct KafkaIngester {
    settings: KafkaIngestSettings,
}

/// Builder of `kafka`.
pub fn build(
    ingest: &Ingest,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn super::Ingester>, BuildError> {
    let params = section(ingest.kafka.as_ref(), "kafka")?;
    Ok(Box::new(KafkaIngester {
        settings: KafkaIngestSettings::from_params(params)?,
    }))
}

impl super::Ingester for KafkaIngester {
    fn queue_batches(&self) -> usize {
        self.settings.queue_batches
    }

    fn start(
        self: Box<Self>,
        shards: Shards,
    ) -> BoxFuture<'static, Result<Box<dyn super::RunningIngest>, BuildError>> {
        async move {
            let stats = Arc::new(GrpcStats::default());
            let (stop, stopped) = watch::channel(false);
            tracing::info!(
                topic = %self.settings.topic,
                group = %self.settings.group_id,
                brokers = ?self.settings.target.brokers,
                "Kafka ingest starting, {} worker(s)",
                shards.len()
            );
            let member = Member {
                settings: self.settings,
                shards,
                stats: stats.clone(),
                stopped,
            };
            let task = tokio::spawn(member.run());
            Ok(Box::new(RunningKafka { stats, stop, task }) as Box<dyn super::RunningIngest>)
        }
        .boxed()
    }
}

/// A running Kafka ingest.
pub struct RunningKafka {
    stats: Arc<GrpcStats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl super::RunningIngest for RunningKafka {
    fn stats(&self) -> Arc<GrpcStats> {
        self.stats.clone()
    }

    fn finish(
        self: Box<Self>,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<Option<super::LineStats>, String>> {
        async move {
            shutdown.wait().await;
            let _ = self.stop.send(true);
            self.task
                .await
                .map_err(|e| format!("Kafka ingest task failed: {e}"))?;
            Ok(None)
        }
        .boxed()
    }

    fn abort(self: Box<Self>) -> BoxFuture<'static, ()> {
        async move {
            let _ = self.stop.send(true);
            self.task.abort();
            let _ = self.task.await;
        }
        .boxed()
    }
}

/// One consumer-group member feeding the workers.
struct Member {
    settings: KafkaIngestSettings,
    shards: Shards,
    stats: Arc<GrpcStats>,
    stopped: watch::Receiver<bool>,
}

impl Member {
    async fn run(mut self) {
        let Some(consumer) = self.join().await else {
            return;
        };
        let mut tracker = CommitTracker::default();
        let mut positions = Positions::default();
        let mut assigned: BTreeSet<Partition> = BTreeSet::new();
        let mut last_commit = Instant::now();
        let mut failing_since: Option<Instant> = None;
        loop {
            let polled = tokio::select! {
                _ = self.stopped.changed() => break,
                polled = consumer.poll(self.settings.batch_read_timeout) => polled,
            };
            match polled {
                Ok(records) => {
                    if let Some(since) = failing_since.take() {
                        tracing::info!(
                            "Kafka ingest: brokers answer again after {:?}",
                            since.elapsed()
                        );
                    }
                    let now_assigned = assignment(&consumer).await;
                    if now_assigned != assigned {
                        tracing::info!(partitions = ?now_assigned, "Kafka ingest: assignment changed");
                        positions.keep_only(&now_assigned);
                        assigned = now_assigned;
                    }
                    if !records.is_empty()
                        && !self
                            .hand_on(&consumer, records, &mut positions, &mut tracker)
                            .await
                    {
                        break;
                    }
                }
                Err(err) => {
                    self.stats.count_named(KAFKA_BROKER);
                    if failing_since.is_none() {
                        tracing::warn!(%err, "Kafka ingest: poll failed, retrying");
                        failing_since = Some(Instant::now());
                    }
                    tokio::select! {
                        _ = self.stopped.changed() => break,
                        () = tokio::time::sleep(RETRY_PAUSE) => {}
                    }
                }
            }
            if last_commit.elapsed() >= self.settings.commit_interval {
                self.commit(&consumer, &mut tracker, &assigned).await;
                last_commit = Instant::now();
            }
        }
        self.leave(consumer, tracker, assigned).await;
    }

    /// Connects and subscribes, retrying until it works or the ingest is stopped.
    async fn join(&mut self) -> Option<Consumer> {
        loop {
            match self.connect().await {
                Ok(consumer) => return Some(consumer),
                Err(err) => {
                    self.stats.count_named(KAFKA_BROKER);
                    tracing::warn!(%err, "Kafka ingest cannot join its group yet, retrying");
                }
            }
            tokio::select! {
                _ = self.stopped.changed() => return None,
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    async fn connect(&self) -> Result<Consumer, String> {
        let s = &self.settings;
        let kafka = s.target.connect("netobserv-pipeline").await?;
        let consumer = kafka
            .consumer(s.group_id.clone())
            .auto_offset_reset(s.start_offset)
            .enable_auto_commit(false)
            // Unlimited polls (bounded by `pullMaxBytes`), cut into `batchMaxLen` batches here:
            // krafka 0.28 loses its place where a poll's record budget cuts a broker batch
            // (it skipped or stalled at that offset against tansu; tests/kafka.rs).
            .max_poll_records(-1)
            .fetch_max_bytes(s.pull_max_bytes)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(3))
            .max_poll_interval(Duration::from_secs(300))
            .build()
            .await
            .map_err(|e| format!("consumer: {e}"))?;
        consumer
            .subscribe([s.topic.as_str()])
            .await
            .map_err(|e| format!("subscribe to {}: {e}", s.topic))?;
        Ok(consumer)
    }

    /// Decodes one poll and queues it on the workers, tracking its offsets. False when the
    /// workers are gone.
    async fn hand_on(
        &self,
        consumer: &Consumer,
        records: Vec<ConsumerRecord>,
        positions: &mut Positions,
        tracker: &mut CommitTracker,
    ) -> bool {
        let places: Vec<_> = records
            .iter()
            .map(|r| ((r.topic.to_string(), r.partition), r.offset))
            .collect();
        let verdict = positions.check(&places);
        for ((topic, partition), offset) in &verdict.seek {
            tracing::warn!(%topic, partition, offset, "Kafka ingest: records skipped by the client, reading again from the last one handed on");
            if let Err(err) = consumer.seek(topic, *partition, *offset).await {
                tracing::warn!(%err, %topic, partition, "Kafka ingest: seek failed");
            }
        }
        let mut next: BTreeMap<Partition, i64> = BTreeMap::new();
        let mut kept = Vec::with_capacity(verdict.keep.len());
        let mut slots: Vec<Option<ConsumerRecord>> = records.into_iter().map(Some).collect();
        for i in verdict.keep {
            if let Some(record) = slots.get_mut(i).and_then(Option::take) {
                next.insert(places[i].0.clone(), record.offset + 1);
                kept.push(record);
            }
        }
        let (handled, flag) = Handled::new();
        tracker.polled(flag, next);
        let mut decoded = 0;
        let mut rest = kept;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(self.settings.batch_max_len));
            let (batches, n) = self.decode(std::mem::replace(&mut rest, tail));
            decoded += n;
            let batches: Vec<Batch> = batches
                .into_iter()
                .map(|b| {
                    if b.is_empty() {
                        b
                    } else {
                        Batch::Tracked(Box::new(b), handled.clone())
                    }
                })
                .collect();
            if !self.queue(batches).await {
                return false;
            }
        }
        drop(handled);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats.flows.fetch_add(decoded, Ordering::Relaxed);
        true
    }

    /// One batch per worker, and how many records decoded.
    fn decode(&self, records: Vec<ConsumerRecord>) -> (Vec<Batch>, u64) {
        let received_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        match self.settings.decoder {
            DecoderKind::Protobuf => {
                let flows: Vec<pbflow::Record> = records
                    .iter()
                    .filter_map(|r| {
                        let value = r.value.as_deref().unwrap_or_default();
                        <pbflow::Record as prost::Message>::decode(value)
                            .map_err(|e| self.undecodable(r, &e.to_string()))
                            .ok()
                    })
                    .collect();
                let n = flows.len() as u64;
                (self.shards.split_flows(flows, received_s), n)
            }
            DecoderKind::Json => {
                let decoded: Vec<Record> = records
                    .iter()
                    .filter_map(|r| {
                        let value = r.value.as_deref().unwrap_or_default();
                        std::str::from_utf8(value)
                            .map_err(|e| e.to_string())
                            .and_then(|text| Record::from_json(text).map_err(|e| e.to_string()))
                            .map_err(|e| self.undecodable(r, &e))
                            .ok()
                    })
                    .collect();
                let n = decoded.len() as u64;
                let batches = self
                    .shards
                    .split_records(decoded)
                    .into_iter()
                    .map(Batch::Records)
                    .collect();
                (batches, n)
            }
        }
    }

    fn undecodable(&self, record: &ConsumerRecord, err: &str) {
        self.stats.count_named(KAFKA_DECODE);
        tracing::warn!(
            topic = %record.topic,
            partition = record.partition,
            offset = record.offset,
            "Kafka ingest: skipped a message that does not decode as {:?}: {err}",
            self.settings.decoder
        );
    }

    /// Waits for room in the worker queues (back-pressure). False when the workers are gone.
    async fn queue(&self, batches: Vec<Batch>) -> bool {
        let started = Instant::now();
        match self
            .shards
            .send(batches, started + Duration::from_secs(3600))
            .await
        {
            Ok(waited) => {
                if waited {
                    self.stats.waited_batches.fetch_add(1, Ordering::Relaxed);
                    self.stats.wait_us.fetch_add(
                        started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64,
                        Ordering::Relaxed,
                    );
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Commits what the workers are done with, for the partitions still assigned.
    async fn commit(
        &self,
        consumer: &Consumer,
        tracker: &mut CommitTracker,
        assigned: &BTreeSet<Partition>,
    ) {
        let mut offsets = tracker.take_committable();
        // Partitions handed to another member: it starts at the last commit, and committing
        // over its progress would make it read again what it already did.
        offsets.retain(|p, _| assigned.contains(p));
        if offsets.is_empty() {
            return;
        }
        let request: Vec<_> = offsets
            .iter()
            .map(|((topic, partition), offset)| {
                (
                    krafka::consumer::TopicPartition::new(topic.clone(), *partition),
                    OffsetAndMetadata::new(*offset),
                )
            })
            .collect();
        let result = tokio::time::timeout(REQUEST_TIMEOUT, consumer.commit_offsets(request)).await;
        let err = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {REQUEST_TIMEOUT:?}"),
        };
        self.stats.count_named(KAFKA_COMMIT);
        tracing::warn!(%err, "Kafka ingest: offset commit failed, retrying at the next interval");
        tracker.retry(offsets);
    }

    /// Lets the workers finish, commits, and leaves the group.
    async fn leave(
        &self,
        consumer: Consumer,
        mut tracker: CommitTracker,
        assigned: BTreeSet<Partition>,
    ) {
        let deadline = Instant::now() + DRAIN_WAIT;
        loop {
            self.commit(&consumer, &mut tracker, &assigned).await;
            if tracker.in_flight() == 0 || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if tracker.in_flight() > 0 {
            tracing::warn!(
                "Kafka ingest: {} poll(s) not done by the workers after {DRAIN_WAIT:?}; they will be read again",
                tracker.in_flight()
            );
        }
        if let Err(err) = tokio::time::timeout(REQUEST_TIMEOUT, consumer.close()).await {
            tracing::warn!(%err, "Kafka ingest: leaving the group timed out");
        }
    }
}

async fn assignment(consumer: &Consumer) -> BTreeSet<Partition> {
    consumer
        .assignment()
        .await
        .into_iter()
        .flat_map(|(topic, partitions)| partitions.into_iter().map(move |p| (topic.clone(), p)))
        .collect()
}
