//! The Loki writer against a receiving HTTP server that stands in for Loki (no Loki can run
//! here): it decodes each push exactly as Loki's `/loki/api/v1/push` does (snappy + protobuf) and
//! can refuse pushes with 503 to play an unavailable Loki.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use netobserv_pipeline::record::Record;
use netobserv_pipeline::write::loki::{LokiWrite, decode_push};
use netobserv_pipeline::write::loki_client::LokiWriter;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct FakeLoki {
    /// Pushes to refuse with 503 before accepting.
    refuse_next: AtomicU64,
    /// Refuse everything while set.
    down: AtomicBool,
    lines: Mutex<Vec<String>>,
    tenants: Mutex<Vec<String>>,
}

fn start_fake_loki(loki: Arc<FakeLoki>) -> (u16, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binds");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new().route(
        "/loki/api/v1/push",
        post(move |headers: HeaderMap, body: Bytes| {
            let loki = loki.clone();
            async move {
                if loki.down.load(Ordering::SeqCst)
                    || loki
                        .refuse_next
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let Ok(push) = decode_push(&body) else {
                    return StatusCode::BAD_REQUEST;
                };
                if let Some(t) = headers.get("X-Scope-OrgID").and_then(|v| v.to_str().ok()) {
                    loki.tenants.lock().expect("lock").push(t.to_string());
                }
                let mut lines = loki.lines.lock().expect("lock");
                for stream in push.streams {
                    for entry in stream.entries {
                        lines.push(format!("{} {}", stream.labels, entry.line));
                    }
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, runtime)
}

fn config(port: u16, max_retries: u32) -> LokiWrite {
    serde_yaml::from_str(&format!(
        "url: http://127.0.0.1:{port}/\ntenantID: netobserv\nbatchWait: 100ms\nbatchSize: 1000000\nminBackoff: 20ms\nmaxBackoff: 50ms\nmaxRetries: {max_retries}\nlabels: [K]"
    ))
    .expect("config")
}

fn record(i: usize) -> Record {
    Record::from_json(&format!(r#"{{"K":"k{}","Seq":{i}}}"#, i % 2)).expect("record")
}

#[test]
fn pushes_arrive_after_transient_errors() {
    let loki = Arc::new(FakeLoki::default());
    loki.refuse_next.store(2, Ordering::SeqCst);
    let (port, _runtime) = start_fake_loki(loki.clone());
    let writer = LokiWriter::start(&config(port, 5), 1000).expect("starts");
    let stats = writer.stats();
    for i in 0..10 {
        writer.send(record(i));
    }
    writer.close();
    let lines = loki.lines.lock().expect("lock").clone();
    assert_eq!(lines.len(), 10, "{lines:#?}");
    assert!(
        lines.contains(&r#"{K="k1"} {"Seq":9}"#.to_string()),
        "{lines:#?}"
    );
    assert_eq!(stats.written.load(Ordering::Relaxed), 10);
    assert_eq!(stats.failed_attempts.load(Ordering::Relaxed), 2);
    assert_eq!(stats.dropped_after_retries.load(Ordering::Relaxed), 0);
    assert!(
        loki.tenants
            .lock()
            .expect("lock")
            .iter()
            .all(|t| t == "netobserv")
    );
}

#[test]
fn an_unavailable_loki_loses_nothing_silently() {
    let loki = Arc::new(FakeLoki::default());
    loki.down.store(true, Ordering::SeqCst);
    let (port, _runtime) = start_fake_loki(loki.clone());
    let writer = LokiWriter::start(&config(port, 1000), 5).expect("starts");
    let stats = writer.stats();
    let sent = 50;
    for i in 0..sent {
        writer.send(record(i));
        std::thread::sleep(Duration::from_millis(5));
    }
    // Loki comes back: what was buffered is delivered, the rest was counted as dropped.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.failed_attempts.load(Ordering::Relaxed) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    loki.down.store(false, Ordering::SeqCst);
    writer.close();
    let received = loki.lines.lock().expect("lock").len() as u64;
    let dropped = stats.dropped_buffer_full.load(Ordering::Relaxed);
    assert!(
        dropped > 0,
        "a 5-record buffer cannot hold 50 records while Loki is down"
    );
    assert!(
        received > 0,
        "the buffered records are delivered once Loki is back"
    );
    assert_eq!(
        received + dropped,
        sent as u64,
        "every record is delivered or counted"
    );
    assert_eq!(stats.dropped_after_retries.load(Ordering::Relaxed), 0);
    assert_eq!(stats.written.load(Ordering::Relaxed), received);
}

#[test]
fn a_batch_that_fails_every_retry_is_counted() {
    let loki = Arc::new(FakeLoki::default());
    loki.down.store(true, Ordering::SeqCst);
    let (port, _runtime) = start_fake_loki(loki.clone());
    let writer = LokiWriter::start(&config(port, 2), 100).expect("starts");
    let stats = writer.stats();
    for i in 0..4 {
        writer.send(record(i));
    }
    writer.close();
    assert_eq!(stats.dropped_after_retries.load(Ordering::Relaxed), 4);
    assert_eq!(
        stats.failed_attempts.load(Ordering::Relaxed),
        3,
        "first try + 2 retries"
    );
    assert!(loki.lines.lock().expect("lock").is_empty());
}
