//! `follow` against the strict fake API server's `pods/log` (crates/fake-apiserver: the pod
//! must exist and its container have started, as with kube-apiserver). No container runs here,
//! so the test writes the collector's log lines while `follow` reads them.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use kubectl_netobserv::cluster::{self, ClusterError};
use kubectl_netobserv::render::COLLECTOR;
use netobserv_fake_apiserver::FakeApiServer;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const NS: &str = "cap";

/// The fake with the namespace and a collector pod in `phase`.
async fn cluster_with_collector(phase: &str) -> FakeApiServer {
    common::cluster_with_collector(NS, phase).await
}

/// What `follow` wrote, shared with the test while it runs.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Waits (up to 5 s) until `n` lines were written.
    async fn lines(&self, n: usize) -> Vec<String> {
        for _ in 0..500 {
            let t = self.text();
            if t.lines().count() >= n {
                return t.lines().map(str::to_string).collect();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("waited for {n} lines, got {:?}", self.text());
    }
}

#[tokio::test]
async fn lines_appended_while_following_are_printed_in_order_until_interrupted() {
    let fake = cluster_with_collector("Running").await;
    fake.append_log(NS, COLLECTOR, COLLECTOR, "started: flows on :9999\n");
    let sink = Sink::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let client = fake.client();
    let mut out = sink.clone();
    let task = tokio::spawn(async move {
        cluster::follow_to(
            &client,
            NS,
            async {
                let _ = stopped.await;
            },
            &mut out,
        )
        .await
    });
    assert_eq!(sink.lines(1).await, ["started: flows on :9999"]);
    for i in 1..=3 {
        fake.append_log(NS, COLLECTOR, COLLECTOR, &format!("{i}s: {i}00 flows\n"));
    }
    // Two lines in one write, the last without its newline.
    fake.append_log(NS, COLLECTOR, COLLECTOR, "4s: 400 flows\n5s: 500 flows");
    assert_eq!(
        sink.lines(6).await,
        [
            "started: flows on :9999",
            "1s: 100 flows",
            "2s: 200 flows",
            "3s: 300 flows",
            "4s: 400 flows",
            "5s: 500 flows"
        ]
    );
    assert!(!task.is_finished(), "still following");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("returns when interrupted")
        .unwrap()
        .expect("no error");
    // A line after the interruption is not printed.
    fake.append_log(NS, COLLECTOR, COLLECTOR, "6s: 600 flows\n");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sink.text().lines().count(), 6);

    let asked = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/pods/collector/log"))
        .expect("a pods/log request");
    assert_eq!(
        asked.path,
        format!("/api/v1/namespaces/{NS}/pods/{COLLECTOR}/log")
    );
    assert_eq!(asked.query.get("follow").map(String::as_str), Some("true"));
}

#[tokio::test]
async fn follow_returns_when_the_collector_ends_or_its_pod_goes() {
    let fake = cluster_with_collector("Running").await;
    fake.append_log(NS, COLLECTOR, COLLECTOR, "capture done\n");
    fake.end_log(NS, COLLECTOR, COLLECTOR);
    let mut sink = Sink::default();
    tokio::time::timeout(
        Duration::from_secs(5),
        cluster::follow_to(&fake.client(), NS, std::future::pending(), &mut sink),
    )
    .await
    .expect("the log ended")
    .expect("no error");
    assert_eq!(sink.text(), "capture done\n");

    // A deleted pod ends the stream too.
    let fake = cluster_with_collector("Running").await;
    let sink = Sink::default();
    let (client, mut out) = (fake.client(), sink.clone());
    let task = tokio::spawn(async move {
        cluster::follow_to(&client, NS, std::future::pending(), &mut out).await
    });
    fake.append_log(NS, COLLECTOR, COLLECTOR, "running\n");
    sink.lines(1).await;
    fake.delete(&format!("/api/v1/namespaces/{NS}/pods/{COLLECTOR}"))
        .expect("deleted");
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("ends with the pod")
        .unwrap()
        .expect("no error");
}

#[tokio::test]
async fn a_missing_or_pending_collector_is_a_clear_error() {
    let fake = FakeApiServer::start().await.expect("fake API server");
    fake.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .expect("namespace");
    let mut sink = Sink::default();
    let err = cluster::follow_to(&fake.client(), NS, std::future::pending(), &mut sink)
        .await
        .expect_err("no pod");
    assert!(matches!(err, ClusterError::NoCollector { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "no collector pod in namespace cap: is a capture running there? \
         (`kubectl netobserv flows --background` starts one)"
    );

    let fake = cluster_with_collector("Pending").await;
    let err = cluster::follow_to(&fake.client(), NS, std::future::pending(), &mut sink)
        .await
        .expect_err("not started");
    assert_eq!(
        err.to_string(),
        "the collector in namespace cap has not started yet: \
         container \"collector\" in pod \"collector\" is waiting to start: ContainerCreating"
    );
    assert!(sink.text().is_empty());
}

/// The fake's `pods/log` options, read through kube-rs as any client would.
#[tokio::test]
async fn the_fake_serves_logs_like_kube_apiserver() {
    let fake = cluster_with_collector("Running").await;
    fake.append_log(NS, COLLECTOR, COLLECTOR, "a\nb\nc\n");
    let pods: Api<Pod> = Api::namespaced(fake.client(), NS);
    let logs = |p: LogParams| {
        let pods = pods.clone();
        async move { pods.logs(COLLECTOR, &p).await }
    };
    assert_eq!(logs(LogParams::default()).await.unwrap(), "a\nb\nc\n");
    let tail = LogParams {
        tail_lines: Some(2),
        ..LogParams::default()
    };
    assert_eq!(logs(tail).await.unwrap(), "b\nc\n");
    let recent = LogParams {
        since_seconds: Some(3600),
        ..LogParams::default()
    };
    assert_eq!(logs(recent).await.unwrap(), "a\nb\nc\n");
    let stamped = LogParams {
        timestamps: true,
        tail_lines: Some(1),
        ..LogParams::default()
    };
    let line = logs(stamped).await.unwrap();
    let (at, text) = line.split_once(' ').expect("timestamp first");
    assert_eq!(text, "c\n");
    assert!(
        at.parse::<k8s_openapi::jiff::Timestamp>().is_ok() && at.ends_with('Z'),
        "RFC 3339: {at}"
    );
    // The checks before the stream.
    let wrong = LogParams {
        container: Some("sidecar".into()),
        ..LogParams::default()
    };
    let kube::Error::Api(e) = logs(wrong).await.unwrap_err() else {
        panic!("an API error")
    };
    assert_eq!(
        (e.code, e.message.as_str()),
        (400, "container sidecar is not valid for pod collector")
    );
    let since_zero = LogParams {
        since_seconds: Some(0),
        ..LogParams::default()
    };
    let kube::Error::Api(e) = logs(since_zero).await.unwrap_err() else {
        panic!("an API error")
    };
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
    // limitBytes cuts the body, mid-line if need be; 0 is invalid.
    let limited = LogParams {
        limit_bytes: Some(3),
        ..LogParams::default()
    };
    assert_eq!(logs(limited).await.unwrap(), "a\nb");
    let no_bytes = LogParams {
        limit_bytes: Some(0),
        ..LogParams::default()
    };
    let kube::Error::Api(e) = logs(no_bytes).await.unwrap_err() else {
        panic!("an API error")
    };
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
    // sinceTime selects by the runtime's timestamps; with sinceSeconds it is refused.
    let since = |t: k8s_openapi::jiff::Timestamp| LogParams {
        since_time: Some(t),
        ..LogParams::default()
    };
    let now = k8s_openapi::jiff::Timestamp::now();
    let hour = k8s_openapi::jiff::SignedDuration::from_secs(3600);
    assert_eq!(logs(since(now - hour)).await.unwrap(), "a\nb\nc\n");
    assert_eq!(logs(since(now + hour)).await.unwrap(), "");
    let both = http::Request::get(format!(
        "/api/v1/namespaces/{NS}/pods/{COLLECTOR}/log?sinceSeconds=10&sinceTime=2026-01-01T00:00:00Z"
    ))
    .body(Vec::new())
    .unwrap();
    let kube::Error::Api(e) = fake.client().request_text(both).await.unwrap_err() else {
        panic!("an API error")
    };
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
    assert!(
        e.message
            .contains("at most one of `sinceTime` or `sinceSeconds`"),
        "{e:?}"
    );
    let bad_time = http::Request::get(format!(
        "/api/v1/namespaces/{NS}/pods/{COLLECTOR}/log?sinceTime=yesterday"
    ))
    .body(Vec::new())
    .unwrap();
    let kube::Error::Api(e) = fake.client().request_text(bad_time).await.unwrap_err() else {
        panic!("an API error")
    };
    assert_eq!(e.code, 400, "{e:?}");
    // previous: none before a restart (the kubelet's answer), the old log after one.
    let previous = LogParams {
        previous: true,
        ..LogParams::default()
    };
    let kube::Error::Api(e) = logs(previous.clone()).await.unwrap_err() else {
        panic!("an API error")
    };
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            400,
            "previous terminated container \"collector\" in pod \"collector\" not found"
        )
    );
    fake.restart_container(NS, COLLECTOR, COLLECTOR);
    fake.append_log(NS, COLLECTOR, COLLECTOR, "d\n");
    assert_eq!(logs(previous).await.unwrap(), "a\nb\nc\n");
    assert_eq!(logs(LogParams::default()).await.unwrap(), "d\n");
    let missing: Api<Pod> = Api::namespaced(fake.client(), NS);
    let kube::Error::Api(e) = missing
        .logs("nope", &LogParams::default())
        .await
        .unwrap_err()
    else {
        panic!("an API error")
    };
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
}
