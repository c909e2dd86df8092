//! The packet collector: `pbpacket.Collector/Send` and `SendBatch` -> `pcap/<time>.pcapng`, one
//! interface description per interface the agents name, each packet with its nanosecond time,
//! direction and its Kubernetes enrichment as comments (`Source`, `Destination`), until
//! `--max-time`, `--max-bytes` or a stop request.

use super::enrich::{KubeNames, PacketEnricher, packet_record};
use super::{CollectorError, Progress, StopReason, Summary};
use netobserv_pipeline::record::Record;
use pbflow::pbpacket::collector_server::{Collector, CollectorServer};
use pbflow::pbpacket::{CollectorReply, Packet, Packets};
use pcapng::{Direction, Interface, LINKTYPE_ETHERNET, Writer};
use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What a packet capture is told.
pub struct PacketCapture {
    /// Listening address.
    pub addr: SocketAddr,
    /// The pcapng file.
    pub path: PathBuf,
    /// Stop after this long.
    pub max_time: Duration,
    /// Stop after this many bytes of file.
    pub max_bytes: u64,
    /// Snap length written in the interface descriptions (0: unknown).
    pub snaplen: u32,
    /// Enrichment.
    pub names: KubeNames,
    /// Where each written packet is also sent as a record (the TUI), if anywhere.
    pub observer: Option<tokio::sync::mpsc::Sender<Arc<Record>>>,
}

/// A `Write` that counts what goes through it.
struct Counting<W> {
    inner: W,
    bytes: Arc<AtomicU64>,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

struct Sink {
    writer: Writer<Counting<BufWriter<File>>>,
    interfaces: HashMap<(String, u32), u32>,
    enricher: PacketEnricher,
    snaplen: u32,
}

#[derive(Clone)]
struct Svc {
    sink: Arc<Mutex<Option<Sink>>>,
    progress: Arc<Progress>,
    refused: Arc<AtomicU64>,
    full: watch::Sender<bool>,
    max_bytes: u64,
    observer: Option<tokio::sync::mpsc::Sender<Arc<Record>>>,
}

impl Svc {
    fn write_all(&self, packets: &[Packet]) -> Result<(), tonic::Status> {
        let mut guard = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(sink) = guard.as_mut() else {
            return Err(tonic::Status::unavailable("the capture is over"));
        };
        for p in packets {
            let rec = match p.record() {
                Ok(r) => r,
                Err(e) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%e, "packet refused");
                    continue;
                }
            };
            let known = sink.enricher.known(rec.data);
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
                    comments: &known.comments,
                })
                .map_err(|e| tonic::Status::internal(e.to_string()))?;
            self.progress.add_flows(1);
            if let Some(o) = &self.observer {
                // A display that is behind skips packets; the file has them all.
                let _ = o.try_send(Arc::new(packet_record(
                    rec.data,
                    rec.time_ns,
                    rec.orig_len,
                    &p.interface,
                    &known,
                )));
            }
        }
        let bytes = self.progress.bytes();
        if bytes >= self.max_bytes {
            let _ = self.full.send(true);
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Collector for Svc {
    async fn send(
        &self,
        req: tonic::Request<Packet>,
    ) -> Result<tonic::Response<CollectorReply>, tonic::Status> {
        self.write_all(std::slice::from_ref(req.get_ref()))?;
        Ok(tonic::Response::new(CollectorReply {}))
    }

    async fn send_batch(
        &self,
        req: tonic::Request<Packets>,
    ) -> Result<tonic::Response<CollectorReply>, tonic::Status> {
        self.write_all(&req.get_ref().packets)?;
        Ok(tonic::Response::new(CollectorReply {}))
    }
}

/// Runs a packet capture until a stop condition; `bound` gets the listening address.
pub async fn run(
    capture: PacketCapture,
    progress: Arc<Progress>,
    stop: impl Future<Output = ()>,
    bound: impl FnOnce(SocketAddr),
) -> Result<Summary, CollectorError> {
    let out_err = |source| CollectorError::Output {
        path: capture.path.clone(),
        source,
    };
    if let Some(dir) = capture.path.parent() {
        std::fs::create_dir_all(dir).map_err(out_err)?;
    }
    let file = File::create(&capture.path).map_err(out_err)?;
    let counting = Counting {
        inner: BufWriter::with_capacity(1 << 20, file),
        bytes: progress.bytes_counter(),
    };
    let writer = Writer::new(counting, "kubectl-netobserv collector")
        .map_err(|e| out_err(std::io::Error::other(e.to_string())))?;
    let enricher =
        PacketEnricher::new(&capture.names).map_err(|e| CollectorError::Config(e.to_string()))?;
    let sink = Arc::new(Mutex::new(Some(Sink {
        writer,
        interfaces: HashMap::new(),
        enricher,
        snaplen: capture.snaplen,
    })));
    let (full_tx, mut full_rx) = watch::channel(false);
    let svc = Svc {
        sink: sink.clone(),
        progress: progress.clone(),
        refused: Arc::default(),
        full: full_tx,
        max_bytes: capture.max_bytes,
        observer: capture.observer,
    };
    let refused = svc.refused.clone();
    let listener = tokio::net::TcpListener::bind(capture.addr)
        .await
        .map_err(|e| CollectorError::Listen {
            addr: capture.addr,
            source: e,
        })?;
    let local = listener.local_addr().map_err(|e| CollectorError::Listen {
        addr: capture.addr,
        source: e,
    })?;
    bound(local);
    tracing::info!(addr = %local, pcapng = %capture.path.display(), "collecting packets");
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            // Batches of packets are several hundred KiB: windows above HTTP/2's 64 KiB.
            .initial_connection_window_size(16 << 20)
            .initial_stream_window_size(4 << 20)
            .add_service(CollectorServer::new(svc).max_decoding_message_size(16 << 20))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = shutdown_rx.await;
                },
            ),
    );
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + capture.max_time;
    tokio::pin!(stop);
    let reason = tokio::select! {
        () = tokio::time::sleep_until(deadline) => StopReason::MaxTime,
        () = &mut stop => StopReason::Stopped,
        _ = full_rx.wait_for(|f| *f) => StopReason::MaxBytes,
    };
    let _ = shutdown_tx.send(());
    if let Ok(Err(e)) = server.await {
        tracing::warn!(%e, "packet server stopped with an error");
    }
    let sink = sink.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(sink) = sink {
        let mut out = sink
            .writer
            .into_inner()
            .map_err(|e| out_err(std::io::Error::other(e.to_string())))?;
        out.flush().map_err(out_err)?;
    }
    Ok(Summary {
        reason,
        items: progress.flows(),
        bytes: progress.bytes(),
        elapsed: started.elapsed(),
        store_failed_rows: 0,
        refused: refused.load(Ordering::Relaxed),
    })
}
