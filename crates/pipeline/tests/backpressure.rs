//! Back-pressure through gRPC: when the pipeline cannot keep up, agents are slowed down, not
//! dropped.
//!
//! The `netobserv-pipeline` binary runs with a small ingest queue and a `stdout` writer whose
//! output nobody reads for a while (a stalled writer: a slow Loki, a full disk): the worker blocks,
//! the queue fills, and the agents' calls must **wait** for room. Senders here behave like
//! upstream's agent: several connections, one call in flight each, no retry: a refused call would
//! be a lost batch.

mod common;

use pbflow::collector_client::CollectorClient;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CONFIG: &str = r#"
pipeline:
  - {name: grpc}
  - {name: out, follows: grpc}
parameters:
  - {name: grpc, ingest: {type: grpc, grpc: {port: 0, bufferLength: 2}}}
  - {name: out, write: {type: stdout, stdout: {format: json}}}
"#;

struct Pipeline {
    child: Child,
    grpc: String,
    metrics_port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(tag: &str) -> Pipeline {
    let dir = std::env::temp_dir().join(format!("netobserv-bp-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("config.yaml"), CONFIG).expect("config");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_netobserv-pipeline"))
        .args(["--config", &dir.join("config.yaml").to_string_lossy()])
        .args(["--metrics-address", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let banner = common::read_until(&mut stderr, "listening on");
    let grpc = banner
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .expect("address")
        .replace("0.0.0.0", "127.0.0.1");
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = stderr.read_to_string(&mut sink);
    });
    Pipeline {
        child,
        grpc,
        metrics_port,
        dir,
    }
}

/// `n` flows whose destination port tags the batch.
fn batch(tag: u32, n: u32) -> pbflow::Records {
    pbflow::Records {
        entries: (0..n)
            .map(|i| pbflow::Record {
                eth_protocol: 0x0800,
                network: Some(pbflow::Network {
                    src_addr: Some(pbflow::Ip::from_addr(
                        std::net::Ipv4Addr::from(0x0a80_0000 + i).into(),
                    )),
                    dst_addr: Some(pbflow::Ip::from_addr("10.129.0.1".parse().expect("ip"))),
                    dscp: 0,
                }),
                transport: Some(pbflow::Transport {
                    src_port: 1000 + i,
                    dst_port: tag,
                    protocol: 6,
                }),
                bytes: 100,
                packets: 1,
                interface: "eth0".into(),
                ..pbflow::Record::default()
            })
            .collect(),
    }
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let text = common::http_get(port, "/metrics");
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Reads the pipeline's stdout (JSON lines) to the end, counting flows per destination port.
fn drain(stdout: std::process::ChildStdout) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .filter_map(|r| r["DstPort"].as_u64())
            .collect()
    })
}

#[test]
fn overload_slows_the_senders_instead_of_losing_flows() {
    let mut p = start("slow");
    let stdout = p.child.stdout.take().expect("stdout");
    const SENDERS: u32 = 4;
    const CALLS: u32 = 10;
    const FLOWS: u32 = 200;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let failed = Arc::new(AtomicU64::new(0));
    let slowest_ms = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (grpc, failed, slowest) = (p.grpc.clone(), failed.clone(), slowest_ms.clone());
            runtime.spawn(async move {
                // One connection per agent, one call in flight, no retry.
                let mut client = CollectorClient::connect(format!("http://{grpc}"))
                    .await
                    .expect("connects");
                for c in 0..CALLS {
                    let t = Instant::now();
                    if client
                        .send(batch(10_000 + s * 100 + c, FLOWS))
                        .await
                        .is_err()
                    {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    slowest.fetch_max(t.elapsed().as_millis() as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Nobody reads the output for 7 s: longer than the wait after which the previous pipeline
    // refused calls (5 s), shorter than the deadline it has now.
    std::thread::sleep(Duration::from_secs(7));
    let reader = drain(stdout);
    for s in senders {
        runtime.block_on(s).expect("sender");
    }
    let elapsed = started.elapsed();
    let waits = metric(p.metrics_port, "netobserv_ingest_backpressure_waits");
    let refused = metric(p.metrics_port, "netobserv_ingest_flows_refused");
    let _ = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status();
    let status = p.child.wait().expect("exits");
    let flows = reader.join().expect("reader");
    assert!(status.success());
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "calls refused: {} of {} flows came out",
        flows.len(),
        SENDERS * CALLS * FLOWS
    );
    assert_eq!(refused, Some(0.0));
    assert_eq!(
        flows.len() as u32,
        SENDERS * CALLS * FLOWS,
        "every flow sent came out"
    );
    // The senders were held back while the output was stalled, instead of being answered (and
    // losing their batches) at once.
    assert!(
        slowest_ms.load(Ordering::Relaxed) >= 5_000,
        "slowest call {} ms",
        slowest_ms.load(Ordering::Relaxed)
    );
    assert!(elapsed >= Duration::from_secs(7), "{elapsed:?}");
    assert!(waits.is_some_and(|w| w >= 1.0), "waits counted: {waits:?}");
}

#[test]
fn a_call_past_its_deadline_is_refused_queues_nothing_and_is_counted() {
    let mut p = start("deadline");
    let stdout = p.child.stdout.take().expect("stdout");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let grpc = p.grpc.clone();
    // Fill the pipe and the queue: the writer blocks on a stdout nobody reads.
    let filler = runtime.spawn(async move {
        let mut client = CollectorClient::connect(format!("http://{grpc}"))
            .await
            .expect("connects");
        for c in 0..6 {
            let _ = client.send(batch(20_000 + c, 300)).await;
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    // An agent with a 1 s deadline: refused with RESOURCE_EXHAUSTED before it expires.
    let grpc = p.grpc.clone();
    let refused = runtime.block_on(async move {
        let mut client = CollectorClient::connect(format!("http://{grpc}"))
            .await
            .expect("connects");
        let mut request = tonic::Request::new(batch(30_000, 50));
        request.set_timeout(Duration::from_secs(1));
        let t = Instant::now();
        let result = client.send(request).await;
        (result.map(|_| ()), t.elapsed())
    });
    let (result, took) = refused;
    let status = result.expect_err("refused while the queue stays full");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let reader = drain(stdout);
    runtime.block_on(filler).expect("filler");
    assert_eq!(
        metric(p.metrics_port, "netobserv_ingest_flows_refused"),
        Some(50.0)
    );
    let text = common::http_get(p.metrics_port, "/metrics");
    assert!(
        text.contains(
            r#"netobserv_ingest_errors{stage="grpc",type="queue_full",code="ResourceExhausted"} 1"#
        ),
        "{text}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status();
    assert!(p.child.wait().expect("exits").success());
    let flows = reader.join().expect("reader");
    assert_eq!(flows.len(), 6 * 300, "the filler's flows all came out");
    assert!(
        !flows.contains(&30_000),
        "a refused batch must not be queued (its retry would duplicate it)"
    );
}

#[test]
fn malformed_batches_are_counted() {
    let p = start("malformed");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let grpc = p.grpc.clone();
    let code = runtime.block_on(async move {
        // Bytes that are not a `pbflow.Records` message, sent as one.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
            .expect("uri")
            .connect()
            .await
            .expect("connects");
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.expect("ready");
        grpc.unary::<bytes::Bytes, pbflow::CollectorReply, _>(
            tonic::Request::new(bytes::Bytes::from_static(&[0x0a, 0xff, 0xff, 0xff, 0x0f])),
            tonic::codegen::http::uri::PathAndQuery::from_static(pbflow::SEND_METHOD_PATH),
            RawCodec,
        )
        .await
        .expect_err("refused")
        .code()
    });
    assert_ne!(code, tonic::Code::Ok);
    // The count is read until it shows (a loaded machine may answer the scrape before the
    // refusal is counted, or before the metrics endpoint serves).
    let counted = |text: &str| {
        text.lines().any(|l| {
            l.starts_with(r#"netobserv_ingest_errors{stage="grpc",type="decode""#)
                && l.ends_with(" 1")
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut text = String::new();
    while !counted(&text) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        text = common::http_body(p.metrics_port, "/metrics").unwrap_or_default();
    }
    assert!(counted(&text), "{text}");
}

/// Sends raw bytes as the request body.
#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct ReplyDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

impl tonic::codec::Decoder for ReplyDecoder {
    type Item = pbflow::CollectorReply;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        _src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, tonic::Status> {
        Ok(Some(pbflow::CollectorReply {}))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = pbflow::CollectorReply;
    type Encoder = RawEncoder;
    type Decoder = ReplyDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ReplyDecoder {
        ReplyDecoder
    }
}
