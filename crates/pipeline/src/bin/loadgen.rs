//! `netobserv-loadgen`: sends `pbflow.Records` batches to any `pbflow.Collector/Send` endpoint
//! (our pipeline, upstream flowlogs-pipeline, anything implementing the contract), at a target
//! rate, over a chosen number of distinct flows, for a duration.
//!
//! With `--kafka-topic`, `--target` is a list of Kafka brokers instead, and each flow is produced
//! as one `pbflow.Record` message (what the agents' `EXPORT=kafka` writes), every
//! acknowledgement awaited: the Kafka ingest benchmark fills a topic with it.
//!
//! Batches are encoded once before the run and sent as raw bytes, so the generator spends its CPU
//! on the network, not on protobuf encoding, and measures the receiver rather than itself.

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Status, codegen::http::uri::PathAndQuery};

const USAGE: &str = "usage: netobserv-loadgen --target HOST:PORT [--rate FLOWS_PER_S] [--batch FLOWS] [--flows DISTINCT] [--duration SECONDS] [--concurrency N] [--kafka-topic TOPIC]";

/// Run settings.
#[derive(Debug)]
struct Options {
    target: String,
    rate: u64,
    batch: usize,
    flows: usize,
    duration: Duration,
    concurrency: usize,
    kafka_topic: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        target: String::new(),
        rate: 10_000,
        batch: 1000,
        flows: 10_000,
        duration: Duration::from_secs(10),
        concurrency: 4,
        kafka_topic: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{arg}: `{v}` is not a number"))
        };
        match arg.as_str() {
            "--target" => o.target = value()?,
            "--rate" => o.rate = number(value()?)?,
            "--batch" => o.batch = number(value()?)? as usize,
            "--flows" => o.flows = number(value()?)? as usize,
            "--duration" => o.duration = Duration::from_secs(number(value()?)?),
            "--concurrency" => o.concurrency = number(value()?)? as usize,
            "--kafka-topic" => o.kafka_topic = Some(value()?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if o.target.is_empty() {
        return Err(USAGE.to_string());
    }
    if o.rate == 0 || o.batch == 0 || o.flows == 0 || o.concurrency == 0 {
        return Err("rate, batch, flows and concurrency must be positive".into());
    }
    Ok(o)
}

/// One synthetic flow; `i` picks a distinct 5-tuple.
fn flow(i: usize, now: SystemTime) -> pbflow::Record {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let ts = |offset_ms: u64| {
        let t = since.saturating_sub(Duration::from_millis(offset_ms));
        prost_types::Timestamp {
            seconds: t.as_secs() as i64,
            nanos: t.subsec_nanos() as i32,
        }
    };
    let i32_ = i as u32;
    let src = Ipv4Addr::from(0x0A80_0000 | (i32_ % 4096));
    let dst = Ipv4Addr::from(0x0A81_0000 | ((i32_ / 4096) % 4096));
    pbflow::Record {
        eth_protocol: 0x0800,
        direction: (i % 2) as i32,
        time_flow_start: Some(ts(5000)),
        time_flow_end: Some(ts(0)),
        data_link: Some(pbflow::DataLink {
            src_mac: 0x0a58_0a80_0000 | u64::from(i32_ % 4096),
            dst_mac: 0x0a58_0a81_0000 | u64::from(i32_ % 4096),
        }),
        network: Some(pbflow::Network {
            src_addr: Some(pbflow::Ip::from_addr(IpAddr::V4(src))),
            dst_addr: Some(pbflow::Ip::from_addr(IpAddr::V4(dst))),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 1024 + (i32_ % 60_000),
            dst_port: [80, 443, 8080, 53][i % 4],
            protocol: if i % 4 == 3 { 17 } else { 6 },
        }),
        bytes: 64 + (i as u64 % 1400),
        packets: 1 + (i as u64 % 10),
        interface: "eth0".into(),
        agent_ip: Some(pbflow::Ip::from_addr(IpAddr::V4(Ipv4Addr::new(
            172, 18, 0, 2,
        )))),
        flags: 0x12,
        sampling: 1,
        time_flow_rtt: Some(prost_types::Duration {
            seconds: 0,
            nanos: 50_000 + (i as i32 % 100_000),
        }),
        ..pbflow::Record::default()
    }
}

/// Sends pre-encoded `Records` bytes and decodes the empty reply.
#[derive(Clone, Copy, Default)]
struct PreEncoded;

struct BytesEncoder;
struct ReplyDecoder;

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for ReplyDecoder {
    type Item = pbflow::CollectorReply;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        pbflow::CollectorReply::decode(bytes)
            .map(Some)
            .map_err(|e| Status::internal(format!("bad reply: {e}")))
    }
}

impl Codec for PreEncoded {
    type Encode = Bytes;
    type Decode = pbflow::CollectorReply;
    type Encoder = BytesEncoder;
    type Decoder = ReplyDecoder;
    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }
    fn decoder(&mut self) -> ReplyDecoder {
        ReplyDecoder
    }
}

fn main() -> ExitCode {
    netobserv_logging::init(None, netobserv_logging::Format::Text);
    let options = match parse_args() {
        Ok(o) => o,
        Err(message) => {
            tracing::error!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(err) => {
            tracing::error!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(o: Options) -> Result<(), String> {
    if let Some(topic) = o.kafka_topic.clone() {
        return produce(o, topic).await;
    }
    let now = SystemTime::now();
    let payloads: Vec<Bytes> = (0..o.flows.div_ceil(o.batch))
        .map(|b| {
            let entries = (b * o.batch..((b + 1) * o.batch).min(o.flows))
                .map(|i| flow(i, now))
                .collect();
            Bytes::from(pbflow::Records { entries }.encode_to_vec())
        })
        .collect();
    let sizes: Vec<u64> = (0..payloads.len())
        .map(|b| (((b + 1) * o.batch).min(o.flows) - b * o.batch) as u64)
        .collect();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", o.target))
        .map_err(|e| format!("--target: {e}"))?
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", o.target))?;
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let interval = Duration::from_secs_f64(o.batch as f64 / o.rate as f64);
    let permits = Arc::new(tokio::sync::Semaphore::new(o.concurrency));
    let start = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut next = 0usize;
    while start.elapsed() < o.duration {
        ticker.tick().await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let payload = payloads[next % payloads.len()].clone();
        let n = sizes[next % sizes.len()];
        next += 1;
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        let (sent, failed) = (sent.clone(), failed.clone());
        tokio::spawn(async move {
            let ok = match grpc.ready().await {
                Ok(()) => grpc
                    .unary::<Bytes, pbflow::CollectorReply, _>(
                        tonic::Request::new(payload),
                        PathAndQuery::from_static(pbflow::SEND_METHOD_PATH),
                        PreEncoded,
                    )
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if ok {
                sent.fetch_add(n, Ordering::Relaxed)
            } else {
                failed.fetch_add(n, Ordering::Relaxed)
            };
            drop(permit);
        });
    }
    // Let in-flight calls finish.
    let _ = permits.acquire_many(o.concurrency as u32).await;
    let elapsed = start.elapsed().as_secs_f64();
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "netobserv-loadgen: sent {sent} flows in {elapsed:.1}s ({:.0} flows/s), {} flows failed, {} distinct flows, batches of {}",
        sent as f64 / elapsed,
        failed.load(Ordering::Relaxed),
        o.flows,
        o.batch
    );
    Ok(())
}

/// `--kafka-topic`: one message per flow, keyed as the agent does, `batch` messages per tick.
async fn produce(o: Options, topic: String) -> Result<(), String> {
    let now = SystemTime::now();
    let messages: Vec<(Bytes, Bytes)> = (0..o.flows)
        .map(|i| {
            let record = flow(i, now);
            let key = netobserv_pipeline::kafka::conversation_key(&record).to_vec();
            (Bytes::from(key), Bytes::from(record.encode_to_vec()))
        })
        .collect();
    let kafka = krafka::Kafka::builder(o.target.clone())
        .client_id("netobserv-loadgen")
        .connect()
        .await
        .map_err(|e| format!("cannot connect to Kafka {}: {e}", o.target))?;
    // Created when missing (brokers without automatic topic creation), 4 partitions.
    let topic_spec =
        krafka::admin::NewTopic::new(topic.clone(), 4, 1).map_err(|e| e.to_string())?;
    if let Ok(results) = kafka
        .admin()
        .create_topics([topic_spec], krafka::admin::CreateTopicsOptions::default())
        .await
    {
        for (name, result) in results {
            if let Err(err) = result {
                tracing::info!("topic {name}: {err}");
            }
        }
    }
    let producer = kafka
        .producer()
        .linger(Duration::from_millis(5))
        .build()
        .await
        .map_err(|e| format!("Kafka producer: {e}"))?;
    let (mut sent, mut failed) = (0u64, 0u64);
    let interval = Duration::from_secs_f64(o.batch as f64 / o.rate as f64);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut next = 0usize;
    let mut pending = std::collections::VecDeque::new();
    while start.elapsed() < o.duration {
        ticker.tick().await;
        let mut handles = Vec::with_capacity(o.batch);
        for _ in 0..o.batch {
            let (key, value) = messages[next % messages.len()].clone();
            next += 1;
            match producer
                .enqueue(krafka::Record::new(topic.clone(), value).key(key))
                .await
            {
                Ok(h) => handles.push(h),
                Err(_) => failed += 1,
            }
        }
        pending.push_back(handles);
        while pending.len() > o.concurrency {
            for h in pending.pop_front().unwrap_or_default() {
                if h.await.is_ok() {
                    sent += 1
                } else {
                    failed += 1
                }
            }
        }
    }
    for handles in pending {
        for h in handles {
            if h.await.is_ok() {
                sent += 1
            } else {
                failed += 1
            }
        }
    }
    let _ = producer.close().await;
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "netobserv-loadgen: produced {sent} flows to Kafka topic {topic} in {elapsed:.1}s ({:.0} flows/s), {failed} flows failed, {} distinct flows",
        sent as f64 / elapsed,
        o.flows
    );
    Ok(())
}
