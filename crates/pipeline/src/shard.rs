//! Spreading flows over the pipeline's worker threads (`--workers N`).
//!
//! Every worker runs its own copy of the stage graph. A flow goes to the worker its **flow key**
//! picks: the two endpoints (address and port) and the protocol, taken in an order that does not
//! depend on the direction, so both directions of a conversation, and every report of it, land on
//! the same worker in the order they arrived. Per-key order is what connection tracking and
//! "first/last value" aggregations need; flows of different keys have no order between them
//! anyway (different agents send concurrently).
//!
//! Each worker has a bounded queue. [`Shards::send`] first reserves room on every queue a batch
//! touches, in worker order, and only then hands the flows over: a call refused at its deadline
//! has queued nothing (so the agent's retry cannot duplicate flows), and reserving in a fixed
//! order means two calls can never each hold the room the other waits for.
//!
//! Agent flows wait in the queues as they arrived (protobuf messages, a few hundred bytes each)
//! and are decoded by the worker that runs them: held flows take several times less memory than
//! decoded records, and decoding is spread over the workers.

use crate::record::{Record, Value};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;

/// What a worker queue carries.
#[derive(Debug)]
pub enum Batch {
    /// Agent flows, decoded by the worker; `received_s` is when the call arrived (Unix s).
    Flows {
        /// The flows.
        flows: Vec<pbflow::Record>,
        /// Arrival time, written as `TimeReceived`.
        received_s: i64,
    },
    /// Records already built (JSON lines, synthetic).
    Records(Vec<Record>),
    /// A batch whose source wants to know when the worker has run it through the stages (the
    /// Kafka ingest commits offsets only then): the token goes when the worker is done.
    Tracked(Box<Batch>, Handled),
}

/// Held by every part of one source batch while workers run them; when the last part is
/// dropped, the source's [`HandledFlag`] turns true.
#[derive(Clone, Debug)]
pub struct Handled(#[allow(dead_code)] Arc<SetOnDrop>);

/// Tells the source that every part of its batch has been run through the stages.
pub type HandledFlag = Arc<AtomicBool>;

#[derive(Debug)]
struct SetOnDrop(HandledFlag);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Handled {
    /// A token to clone into the parts of one batch, and the flag its last drop sets.
    pub fn new() -> (Handled, HandledFlag) {
        let flag = HandledFlag::default();
        (Handled(Arc::new(SetOnDrop(flag.clone()))), flag)
    }
}

impl Batch {
    /// Number of flows or records.
    pub fn len(&self) -> usize {
        match self {
            Batch::Flows { flows, .. } => flows.len(),
            Batch::Records(r) => r.len(),
            Batch::Tracked(b, _) => b.len(),
        }
    }

    /// The batch without its token, and the token, which the worker drops once it ran the batch.
    pub fn untrack(self) -> (Batch, Option<Handled>) {
        match self {
            Batch::Tracked(b, token) => ((*b).untrack().0, Some(token)),
            other => (other, None),
        }
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records, decoding agent flows.
    pub fn into_records(self) -> Vec<Record> {
        match self {
            Batch::Flows { flows, received_s } => flows
                .iter()
                .map(|f| crate::decode::record_from_pbflow(f, received_s))
                .collect(),
            Batch::Records(r) => r,
            Batch::Tracked(b, _) => b.into_records(),
        }
    }
}

/// Why a batch could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// A worker stopped (the pipeline is shutting down).
    Closed,
    /// The queues stayed full until the deadline; nothing was queued.
    Deadline,
}

/// The workers' input queues.
#[derive(Clone, Debug)]
pub struct Shards {
    senders: Vec<mpsc::Sender<Batch>>,
    hasher: foldhash::fast::FixedState,
}

/// Reads how many batches wait in the worker queues, without keeping them open (the queues
/// close, and the workers stop, when the ingest drops its senders).
#[derive(Clone, Debug)]
pub struct QueueGauge(Vec<mpsc::WeakSender<Batch>>);

impl QueueGauge {
    /// Queued batches waiting in all queues (0 once they closed).
    pub fn queued(&self) -> usize {
        self.0
            .iter()
            .filter_map(mpsc::WeakSender::upgrade)
            .map(|s| s.max_capacity() - s.capacity())
            .sum()
    }
}

/// Direction-agnostic hash input of one endpoint: address bytes (IPv4 in the low 4) and port.
type Endpoint = ([u8; 16], u32);

impl Shards {
    /// One worker.
    pub fn single(sender: mpsc::Sender<Batch>) -> Self {
        Self::new(vec![sender])
    }

    /// One queue per worker; a flow goes to `senders[key hash % len]`.
    pub fn new(senders: Vec<mpsc::Sender<Batch>>) -> Self {
        Self {
            senders,
            hasher: foldhash::fast::FixedState::with_seed(0x6e65_746f_6273),
        }
    }

    /// Number of workers.
    pub fn len(&self) -> usize {
        self.senders.len()
    }

    /// Whether there is no worker (never, in practice).
    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }

    /// Queued batches waiting in all queues.
    pub fn queued(&self) -> usize {
        self.senders
            .iter()
            .map(|s| s.max_capacity() - s.capacity())
            .sum()
    }

    /// A handle that reads the queue sizes without keeping the queues open.
    pub fn gauge(&self) -> QueueGauge {
        QueueGauge(self.senders.iter().map(mpsc::Sender::downgrade).collect())
    }

    fn pick(&self, a: Endpoint, b: Endpoint, proto: u32) -> usize {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let mut h = self.hasher.build_hasher();
        h.write(&lo.0);
        h.write_u32(lo.1);
        h.write(&hi.0);
        h.write_u32(hi.1);
        h.write_u32(proto);
        (h.finish() % self.senders.len() as u64) as usize
    }

    /// The worker of an agent flow.
    pub fn shard_of_flow(&self, flow: &pbflow::Record) -> usize {
        if self.senders.len() <= 1 {
            return 0;
        }
        let addr = |ip: Option<&pbflow::Ip>| {
            let mut out = [0u8; 16];
            match ip.and_then(|i| i.ip_family.as_ref()) {
                Some(pbflow::ip::IpFamily::Ipv4(v)) => out[12..].copy_from_slice(&v.to_be_bytes()),
                Some(pbflow::ip::IpFamily::Ipv6(b)) if b.len() == 16 => out.copy_from_slice(b),
                _ => {}
            }
            out
        };
        let network = flow.network.as_ref();
        let transport = flow.transport.as_ref();
        self.pick(
            (
                addr(network.and_then(|n| n.src_addr.as_ref())),
                transport.map_or(0, |t| t.src_port),
            ),
            (
                addr(network.and_then(|n| n.dst_addr.as_ref())),
                transport.map_or(0, |t| t.dst_port),
            ),
            transport.map_or(0, |t| t.protocol),
        )
    }

    /// The worker of a record read from JSON (same key, from the record's fields).
    pub fn shard_of_record(&self, record: &Record) -> usize {
        if self.senders.len() <= 1 {
            return 0;
        }
        let addr = |field: &str| {
            let mut out = [0u8; 16];
            match record.get(field).and_then(Value::as_str).map(str::parse) {
                Some(Ok(std::net::IpAddr::V4(v4))) => out[12..].copy_from_slice(&v4.octets()),
                Some(Ok(std::net::IpAddr::V6(v6))) => out.copy_from_slice(&v6.octets()),
                _ => {}
            }
            out
        };
        let number = |field: &str| {
            record
                .get(field)
                .and_then(Value::as_i64)
                .map_or(0, |n| n as u32)
        };
        self.pick(
            (addr("SrcAddr"), number("SrcPort")),
            (addr("DstAddr"), number("DstPort")),
            number("Proto"),
        )
    }

    /// Splits agent flows into one batch per worker (empty for untouched workers), undecoded.
    pub fn split_flows(&self, flows: Vec<pbflow::Record>, received_s: i64) -> Vec<Batch> {
        let n = self.senders.len();
        if n <= 1 {
            return vec![Batch::Flows { flows, received_s }];
        }
        let mut out: Vec<Vec<pbflow::Record>> = (0..n)
            .map(|_| Vec::with_capacity(flows.len() / n + 8))
            .collect();
        for flow in flows {
            let i = self.shard_of_flow(&flow);
            out[i].push(flow);
        }
        out.into_iter()
            .map(|flows| Batch::Flows { flows, received_s })
            .collect()
    }

    /// Splits records read from JSON or generated, by the same key.
    pub fn split_records(&self, records: Vec<Record>) -> Vec<Vec<Record>> {
        let n = self.senders.len();
        if n <= 1 {
            return vec![records];
        }
        let mut out: Vec<Vec<Record>> = (0..n).map(|_| Vec::new()).collect();
        for record in records {
            let i = self.shard_of_record(&record);
            out[i].push(record);
        }
        out
    }

    /// Queues one batch per worker, waiting for room until `deadline`. Returns whether it had to
    /// wait. On error nothing was queued.
    pub async fn send(&self, batches: Vec<Batch>, deadline: Instant) -> Result<bool, SendError> {
        let mut waited = false;
        let mut permits = Vec::with_capacity(batches.len());
        for (sender, batch) in self.senders.iter().zip(batches) {
            if batch.is_empty() {
                continue;
            }
            let permit = match sender.try_reserve() {
                Ok(p) => p,
                Err(mpsc::error::TrySendError::Closed(())) => return Err(SendError::Closed),
                Err(mpsc::error::TrySendError::Full(())) => {
                    waited = true;
                    match tokio::time::timeout_at(deadline.into(), sender.reserve()).await {
                        Ok(Ok(p)) => p,
                        Ok(Err(_)) => return Err(SendError::Closed),
                        Err(_) => return Err(SendError::Deadline),
                    }
                }
            };
            permits.push((permit, batch));
        }
        for (permit, batch) in permits {
            permit.send(batch);
        }
        Ok(waited)
    }

    /// Queues records from a local source (stdin, file, synthetic): waits without deadline.
    pub async fn send_records(&self, records: Vec<Record>) -> Result<(), SendError> {
        for (sender, batch) in self.senders.iter().zip(self.split_records(records)) {
            if !batch.is_empty() {
                sender
                    .send(Batch::Records(batch))
                    .await
                    .map_err(|_| SendError::Closed)?;
            }
        }
        Ok(())
    }

    /// [`Self::send_records`] from a thread outside the async runtime.
    pub fn blocking_send_records(&self, records: Vec<Record>) -> Result<(), SendError> {
        for (sender, batch) in self.senders.iter().zip(self.split_records(records)) {
            if !batch.is_empty() {
                sender
                    .blocking_send(Batch::Records(batch))
                    .map_err(|_| SendError::Closed)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(src: &str, sport: u32, dst: &str, dport: u32) -> pbflow::Record {
        pbflow::Record {
            network: Some(pbflow::Network {
                src_addr: Some(pbflow::Ip::from_addr(src.parse().expect("ip"))),
                dst_addr: Some(pbflow::Ip::from_addr(dst.parse().expect("ip"))),
                dscp: 0,
            }),
            transport: Some(pbflow::Transport {
                src_port: sport,
                dst_port: dport,
                protocol: 6,
            }),
            ..pbflow::Record::default()
        }
    }

    #[test]
    fn both_directions_and_both_forms_pick_the_same_worker() {
        let (senders, _receivers): (Vec<_>, Vec<_>) = (0..4).map(|_| mpsc::channel(1)).unzip();
        let shards = Shards::new(senders);
        let mut used = [false; 4];
        for i in 0..200u32 {
            let a = format!("10.0.{}.{}", i / 250, i % 250);
            let forward = shards.shard_of_flow(&flow(&a, 40000 + i, "10.1.0.1", 443));
            let back = shards.shard_of_flow(&flow("10.1.0.1", 443, &a, 40000 + i));
            assert_eq!(forward, back);
            let record: Record = serde_json::from_value(serde_json::json!({
                "SrcAddr": "10.1.0.1", "SrcPort": 443, "DstAddr": a, "DstPort": 40000 + i, "Proto": 6
            }))
            .expect("record");
            assert_eq!(shards.shard_of_record(&record), forward);
            used[forward] = true;
        }
        assert_eq!(used, [true; 4], "keys spread over every worker");
    }

    #[tokio::test]
    async fn a_refused_batch_queues_nothing() {
        let (a, mut ra) = mpsc::channel(1);
        let (b, _rb) = mpsc::channel(1);
        let shards = Shards::new(vec![a, b.clone()]);
        // Worker b is full: the batch touching a and b must not leave anything on a.
        b.send(Batch::Records(Vec::new())).await.expect("fills b");
        let deadline = Instant::now() + std::time::Duration::from_millis(50);
        let one = || Batch::Records(vec![Record::default()]);
        let result = shards.send(vec![one(), one()], deadline).await;
        assert_eq!(result, Err(SendError::Deadline));
        assert!(ra.try_recv().is_err(), "nothing queued on worker a");
    }
}
