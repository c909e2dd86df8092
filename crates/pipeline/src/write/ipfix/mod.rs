//! The `ipfix` writer: flows as IPFIX (RFC 7011) to a collector over UDP or TCP, with the
//! Kubernetes names as NetObserv's enterprise-specific elements when an enterprise id is set.
//!
//! Messages are encoded on the pipeline worker's thread, then handed to a background task
//! through a bounded queue, as the Loki writer does: a collector that is down or slow never
//! slows the other branches (Loki, metrics). What the queue cannot take is dropped and counted;
//! so is what the transport fails to send. The task sends the templates first, again every
//! `tplSendInterval` over UDP (a collector that restarts learns them again), and after every
//! TCP reconnection (a new session), and reconnects with backoff.

pub mod elements;
pub mod message;

use super::background::BackgroundSender;
use super::{DeliveryStats, Written};
use crate::config::{IpfixWrite, Write, parse_go_duration};
use crate::record::Record;
use crate::stage::{BuildError, StageContext, section};
use elements::{Element, Family};
use message::MessageBuilder;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Largest message sent: fits one datagram on a 1500-byte MTU with IPv6 and UDP headers.
pub const MAX_MESSAGE: usize = 1400;
/// Messages queued per writer before new ones are dropped (about 5 MiB).
pub const QUEUE_MESSAGES: usize = 4096;
/// Observation domain of the messages (as upstream's exporter).
pub const DOMAIN: u32 = 1;

/// Transport to the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One message per datagram.
    Udp,
    /// A stream of messages (the default, as the FlowCollector's).
    Tcp,
}

/// The writer's settings, checked.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `host:port` of the collector.
    pub target: String,
    /// UDP or TCP.
    pub transport: Transport,
    /// Enterprise number of NetObserv's elements; 0 leaves them out.
    pub enterprise_id: u32,
    /// Template resend period over UDP.
    pub template_interval: Duration,
}

impl Settings {
    /// From the stage parameters, refusing what cannot work.
    pub fn from_params(p: &IpfixWrite) -> Result<Self, BuildError> {
        if p.target_host.is_empty() || p.target_port == 0 {
            return Err(BuildError::Invalid(
                "ipfix: targetHost and targetPort are required".into(),
            ));
        }
        let transport = match p.transport.to_ascii_lowercase().as_str() {
            "udp" => Transport::Udp,
            "tcp" | "" => Transport::Tcp,
            other => {
                return Err(BuildError::Invalid(format!(
                    "ipfix: transport `{other}` is neither tcp nor udp"
                )));
            }
        };
        let enterprise_id = u32::try_from(p.enterprise_id).map_err(|_| {
            BuildError::Invalid(format!(
                "ipfix: enterpriseId {} is not a 32-bit enterprise number",
                p.enterprise_id
            ))
        })?;
        let template_interval = match &p.tpl_send_interval {
            Some(t) => parse_go_duration(t)
                .map_err(|e| BuildError::Invalid(format!("ipfix: tplSendInterval: {e}")))?,
            None => Duration::from_secs(60),
        };
        let host = if p.target_host.contains(':') && !p.target_host.starts_with('[') {
            format!("[{}]", p.target_host)
        } else {
            p.target_host.clone()
        };
        Ok(Self {
            target: format!("{host}:{}", p.target_port),
            transport,
            enterprise_id,
            template_interval: template_interval.max(Duration::from_secs(1)),
        })
    }
}

/// An encoded message and the data records it carries.
pub struct Message {
    bytes: Vec<u8>,
    records: u32,
}

impl super::background::Counted for Message {
    fn items(&self) -> u64 {
        u64::from(self.records)
    }
}

/// A running `ipfix` writer.
pub struct IpfixWriter {
    sender: BackgroundSender<Message>,
    messages: MessageBuilder,
    templates: [(Family, Vec<Element>); 2],
}

impl IpfixWriter {
    /// Starts the sending task on `runtime`.
    pub fn start(settings: Settings, runtime: &tokio::runtime::Handle) -> Self {
        let enterprise = settings.enterprise_id != 0;
        let templates = [
            (Family::V4, elements::template(Family::V4, enterprise)),
            (Family::V6, elements::template(Family::V6, enterprise)),
        ];
        let messages = MessageBuilder::new(DOMAIN, settings.enterprise_id);
        let template_bytes = messages.templates(&templates, 0);
        let sender = BackgroundSender::start("ipfix", QUEUE_MESSAGES, runtime, |rx, stats| {
            send_loop(settings, rx, template_bytes, stats)
        });
        Self {
            sender,
            messages,
            templates,
        }
    }

    /// The delivery counters.
    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.sender.stats()
    }

    fn queue(&self, bytes: Vec<u8>, records: u32) {
        self.sender.send(Message { bytes, records });
    }

    /// Encodes `batch` into messages (per address family) and queues them.
    pub fn send_batch(&mut self, batch: &[Record]) {
        let now = export_secs();
        for t in 0..self.templates.len() {
            let family = self.templates[t].0;
            let mut msg = self.messages.data(family, now);
            for record in batch.iter().filter(|r| Family::of(r) == family) {
                if !msg.push(record, &self.templates[t].1, MAX_MESSAGE) {
                    let (bytes, n) = msg.finish();
                    self.queue(bytes, n);
                    msg = self.messages.data(family, now);
                    msg.push(record, &self.templates[t].1, MAX_MESSAGE);
                }
            }
            if !msg.is_empty() {
                let (bytes, n) = msg.finish();
                self.queue(bytes, n);
            }
        }
    }
}

/// Counts what is still queued when the writer closes and the collector cannot be reached.
fn drop_queued(rx: &mut mpsc::Receiver<Message>, stats: &DeliveryStats) {
    while let Ok(Message { records, .. }) = rx.try_recv() {
        stats
            .dropped_after_retries
            .fetch_add(u64::from(records), Ordering::Relaxed);
    }
}

fn export_secs() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// Sets a message's export time and sequence number (templates reuse one encoding).
fn restamp(template: &[u8], sequence: u32) -> Vec<u8> {
    let mut t = template.to_vec();
    t[4..8].copy_from_slice(&export_secs().to_be_bytes());
    t[8..12].copy_from_slice(&sequence.to_be_bytes());
    t
}

/// The sequence number in a data message's header.
fn sequence_of(message: &[u8]) -> u32 {
    u32::from_be_bytes([message[8], message[9], message[10], message[11]])
}

/// Sends queued messages until the writer is dropped.
async fn send_loop(
    settings: Settings,
    mut rx: mpsc::Receiver<Message>,
    templates: Vec<u8>,
    stats: Arc<DeliveryStats>,
) {
    match settings.transport {
        Transport::Udp => udp::run(&settings, &mut rx, &templates, &stats).await,
        Transport::Tcp => tcp::run(&settings, &mut rx, &templates, &stats).await,
    }
}

mod udp {
    use super::*;

    /// One datagram per message from an unconnected socket: a collector that is down makes
    /// no error here (the datagrams are lost on the wire, as UDP export accepts).
    pub(super) async fn run(
        settings: &Settings,
        rx: &mut mpsc::Receiver<Message>,
        templates: &[u8],
        stats: &DeliveryStats,
    ) {
        let mut socket: Option<(tokio::net::UdpSocket, std::net::SocketAddr)> = None;
        let mut last_templates: Option<tokio::time::Instant> = None;
        while let Some(Message {
            bytes: message,
            records,
        }) = rx.recv().await
        {
            if socket.is_none() {
                socket = open(&settings.target).await;
            }
            let Some((sock, addr)) = &socket else {
                stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                stats
                    .dropped_after_retries
                    .fetch_add(u64::from(records), Ordering::Relaxed);
                continue;
            };
            let due = last_templates.is_none_or(|t| t.elapsed() >= settings.template_interval);
            if due {
                let t = restamp(templates, sequence_of(&message));
                if sock.send_to(&t, addr).await.is_ok() {
                    last_templates = Some(tokio::time::Instant::now());
                }
            }
            match sock.send_to(&message, addr).await {
                Ok(_) => {
                    stats
                        .written
                        .fetch_add(u64::from(records), Ordering::Relaxed);
                }
                Err(err) => {
                    tracing::warn!(%err, target = %settings.target, "IPFIX datagram not sent");
                    stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    stats
                        .dropped_after_retries
                        .fetch_add(u64::from(records), Ordering::Relaxed);
                    socket = None;
                }
            }
        }
    }

    async fn open(target: &str) -> Option<(tokio::net::UdpSocket, std::net::SocketAddr)> {
        let addr = match tokio::net::lookup_host(target).await {
            Ok(mut addrs) => addrs.next()?,
            Err(err) => {
                tracing::warn!(%err, target, "cannot resolve the IPFIX collector");
                return None;
            }
        };
        let bind = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        match tokio::net::UdpSocket::bind(bind).await {
            Ok(s) => Some((s, addr)),
            Err(err) => {
                tracing::warn!(%err, "cannot open a UDP socket for IPFIX");
                None
            }
        }
    }
}

mod tcp {
    use super::*;

    /// Longest wait between two connection attempts.
    const MAX_BACKOFF: Duration = Duration::from_secs(5);

    /// A stream of messages; templates once per connection (RFC 7011 §8: a reliable session
    /// keeps them). While the collector is unreachable, messages wait in the queue (bounded:
    /// the writer drops and counts what does not fit); a message whose write fails is counted
    /// as dropped and the connection is opened again.
    pub(super) async fn run(
        settings: &Settings,
        rx: &mut mpsc::Receiver<Message>,
        templates: &[u8],
        stats: &DeliveryStats,
    ) {
        let mut stream: Option<tokio::net::TcpStream> = None;
        let mut backoff = Duration::from_millis(100);
        while let Some(Message {
            bytes: message,
            records,
        }) = rx.recv().await
        {
            let n = u64::from(records);
            if stream.as_ref().is_some_and(closed_by_peer) {
                // Seen before writing: the message goes on a new session instead of into a
                // socket the collector will never read.
                tracing::info!(target = %settings.target, "the IPFIX collector closed the connection; reconnecting");
                stream = None;
            }
            if stream.is_none() {
                loop {
                    match connect(&settings.target, templates, sequence_of(&message)).await {
                        Ok(s) => {
                            stream = Some(s);
                            backoff = Duration::from_millis(100);
                            break;
                        }
                        Err(err) => {
                            tracing::warn!(%err, target = %settings.target,
                                "cannot reach the IPFIX collector; retrying");
                            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                            if rx.is_closed() {
                                stats.dropped_after_retries.fetch_add(n, Ordering::Relaxed);
                                drop_queued(rx, stats);
                                return;
                            }
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                }
            }
            let Some(s) = stream.as_mut() else { continue };
            match s.write_all(&message).await {
                Ok(()) => {
                    stats.written.fetch_add(n, Ordering::Relaxed);
                }
                Err(err) => {
                    tracing::warn!(%err, target = %settings.target, "IPFIX connection lost");
                    stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    stats.dropped_after_retries.fetch_add(n, Ordering::Relaxed);
                    stream = None;
                }
            }
        }
        if let Some(mut s) = stream {
            let _ = s.shutdown().await;
        }
    }

    /// Whether the collector closed its end (or reset it). A collector never sends anything
    /// to an exporter, so a readable socket means end of stream; without this check the first
    /// message after a clean close would be accepted by the kernel and silently lost.
    fn closed_by_peer(stream: &tokio::net::TcpStream) -> bool {
        let mut byte = [0u8; 1];
        match stream.try_read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }

    async fn connect(
        target: &str,
        templates: &[u8],
        sequence: u32,
    ) -> std::io::Result<tokio::net::TcpStream> {
        let mut s = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(target),
        )
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
        s.set_nodelay(true)?;
        s.write_all(&restamp(templates, sequence)).await?;
        Ok(s)
    }
}

/// An `ipfix` writer as a stage of one worker's graph.
struct IpfixStage(IpfixWriter);

impl super::Writer for IpfixStage {
    fn write(&mut self, batch: &[Record]) -> Written {
        self.0.send_batch(batch);
        Written::default()
    }

    fn delivery(&self) -> Option<Arc<DeliveryStats>> {
        Some(self.0.stats())
    }
}

/// Builder of `ipfix`.
pub fn build(
    write: &Write,
    ctx: &mut StageContext<'_>,
) -> Result<Box<dyn super::Writer>, BuildError> {
    let params = section(write.ipfix.as_ref(), "ipfix")?;
    let settings = Settings::from_params(params)?;
    Ok(Box::new(IpfixStage(IpfixWriter::start(
        settings,
        ctx.shared.runtime(),
    ))))
}
