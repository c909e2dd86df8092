//! A small `pbpacket.Collector` (gRPC server) that writes what it receives to a pcapng file
//! through the `netobserv-pcapng` crate: one interface description per interface the agent
//! names, each packet with its nanosecond time stamp, direction and the Kubernetes enrichment a
//! caller-supplied function gives it, as comments. Used by the capture tests and, through
//! `examples/packet_collector.rs`, by `scripts/bench-capture`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use pbflow::pbpacket::collector_server::{Collector, CollectorServer};
use pbflow::pbpacket::{CollectorReply, Packet, Packets};
use pcapng::enrichment::Enrichment;
use pcapng::{Direction, Interface, LINKTYPE_ETHERNET, Writer};
use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The comments of a packet from its bytes: the collector's Kubernetes lookup, formatted.
pub type Enricher = Arc<dyn Fn(&[u8]) -> Arc<Vec<String>> + Send + Sync>;

/// An [`Enricher`] looking each packet up with `f`.
pub fn per_packet(f: impl Fn(&[u8]) -> Enrichment + Send + Sync + 'static) -> Enricher {
    Arc::new(move |frame| Arc::new(f(frame).comments()))
}

/// An [`Enricher`] looking up each IPv4 address pair once with `f` and reusing its comments,
/// as a collector that enriches per flow rather than per packet does.
pub fn per_address_pair(f: impl Fn(&[u8]) -> Enrichment + Send + Sync + 'static) -> Enricher {
    let cache: Mutex<HashMap<[u8; 8], Arc<Vec<String>>>> = Mutex::default();
    Arc::new(move |frame| {
        let Some(key) = frame
            .get(26..34)
            .filter(|_| frame.get(12..14) == Some(&[0x08, 0x00]))
            .and_then(|k| <[u8; 8]>::try_from(k).ok())
        else {
            return Arc::new(f(frame).comments());
        };
        cache
            .lock()
            .unwrap()
            .entry(key)
            .or_insert_with(|| Arc::new(f(frame).comments()))
            .clone()
    })
}

struct Sink {
    writer: Writer<BufWriter<std::fs::File>>,
    /// pcapng interface id by (interface name, index).
    interfaces: HashMap<(String, u32), u32>,
    snaplen: u32,
}

#[derive(Clone)]
struct Svc {
    sink: Arc<Mutex<Option<Sink>>>,
    enrich: Enricher,
    received: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    /// Answer UNIMPLEMENTED to SendBatch, as an upstream collector does.
    unary_only: bool,
    batches: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl Collector for Svc {
    async fn send(
        &self,
        req: tonic::Request<Packet>,
    ) -> Result<tonic::Response<CollectorReply>, tonic::Status> {
        let p = req.into_inner();
        let mut guard = self.sink.lock().unwrap();
        let Some(sink) = guard.as_mut() else {
            return Err(tonic::Status::unavailable("collector closed"));
        };
        self.write(sink, &p)?;
        Ok(tonic::Response::new(CollectorReply {}))
    }

    async fn send_batch(
        &self,
        req: tonic::Request<Packets>,
    ) -> Result<tonic::Response<CollectorReply>, tonic::Status> {
        if self.unary_only {
            return Err(tonic::Status::unimplemented(
                "one Send per packet, as upstream",
            ));
        }
        self.batches.fetch_add(1, Ordering::Relaxed);
        let mut guard = self.sink.lock().unwrap();
        let Some(sink) = guard.as_mut() else {
            return Err(tonic::Status::unavailable("collector closed"));
        };
        for p in &req.into_inner().packets {
            self.write(sink, p)?;
        }
        Ok(tonic::Response::new(CollectorReply {}))
    }
}

impl Svc {
    /// Writes one packet, with its interface described first if new.
    fn write(&self, sink: &mut Sink, p: &Packet) -> Result<(), tonic::Status> {
        let rec = match p.record() {
            Ok(r) => r,
            Err(e) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(tonic::Status::invalid_argument(e.to_string()));
            }
        };
        let comments = (self.enrich)(rec.data);
        let key = (p.interface.clone(), p.if_index);
        let id = match sink.interfaces.get(&key) {
            Some(id) => *id,
            None => {
                let id = sink
                    .writer
                    .add_interface(&Interface {
                        link_type: LINKTYPE_ETHERNET,
                        snap_len: sink.snaplen,
                        name: &p.interface,
                        description: "",
                    })
                    .map_err(|e| tonic::Status::internal(e.to_string()))?;
                sink.interfaces.insert(key, id);
                id
            }
        };
        sink.writer
            .write_packet(&pcapng::Packet {
                interface_id: id,
                timestamp_ns: rec.time_ns,
                orig_len: rec.orig_len,
                data: rec.data,
                direction: Some(if p.direction == 1 {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                }),
                comments: &comments,
            })
            .map_err(|e| tonic::Status::internal(e.to_string()))?;
        self.received.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A running packet collector on 127.0.0.1.
pub struct PacketCollector {
    pub port: u16,
    pub path: PathBuf,
    received: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    batches: Arc<AtomicU64>,
    sink: Arc<Mutex<Option<Sink>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl PacketCollector {
    /// Serves on `port` (0: any free port), writing to `path` with interfaces of `snaplen`.
    pub async fn start(port: u16, path: &Path, snaplen: u32, enrich: Enricher) -> Self {
        Self::start_with(port, path, snaplen, enrich, false).await
    }

    /// [`PacketCollector::start`], refusing batches like an upstream collector when
    /// `unary_only`.
    pub async fn start_with(
        port: u16,
        path: &Path,
        snaplen: u32,
        enrich: Enricher,
        unary_only: bool,
    ) -> Self {
        let file = std::fs::File::create(path).expect("create the pcapng file");
        let writer = Writer::new(
            BufWriter::with_capacity(1 << 20, file),
            "netobserv-rs test collector",
        )
        .expect("pcapng section header");
        let sink = Arc::new(Mutex::new(Some(Sink {
            writer,
            interfaces: HashMap::new(),
            snaplen,
        })));
        let svc = Svc {
            sink: sink.clone(),
            enrich,
            received: Arc::default(),
            refused: Arc::default(),
            unary_only,
            batches: Arc::default(),
        };
        let (received, refused, batches) = (
            svc.received.clone(),
            svc.refused.clone(),
            svc.batches.clone(),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            // Windows larger than HTTP/2's 64 KiB default: a batch of packets is several hundred
            // KiB, and a small window makes the agent wait for a window update every 64 KiB.
            tonic::transport::Server::builder()
                .initial_connection_window_size(16 << 20)
                .initial_stream_window_size(4 << 20)
                .add_service(CollectorServer::new(svc))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    async {
                        let _ = rx.await;
                    },
                )
                .await
                .unwrap();
        });
        Self {
            port,
            path: path.to_path_buf(),
            received,
            refused,
            batches,
            sink,
            stop: Some(tx),
        }
    }

    /// Packets written so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// `SendBatch` calls accepted.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Packets refused as malformed.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Waits until `n` packets were written, panicking after `secs`.
    pub async fn wait_for(&self, n: u64, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while self.received() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "collector wrote {} packets, expected {n}",
                self.received()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Stops serving and closes the file (flushed); returns its path.
    pub fn finish(mut self) -> PathBuf {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(sink) = self.sink.lock().unwrap().take() {
            sink.writer.into_inner().expect("flush the pcapng file");
        }
        self.path.clone()
    }
}

impl Drop for PacketCollector {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
