//! `metrics`, end to end on this machine: the pipeline the agents run in process for `metrics`
//! (the CLI's own `FLP_CONFIG`, built by the same function the DaemonSet's variable comes from;
//! only its port and kubeconfig path differ) is started embedded, as the agent starts it with
//! `EXPORT=direct-flp`, with Kubernetes enrichment from the strict fake API server (pods created
//! through the API, status written through the status subresource, as a kubelet does). Flows
//! go in through the same `preset-ingester` the agent feeds; the CLI's scraper reads the
//! pipeline's real `/metrics` endpoint over HTTP; the rates are charted into ratatui's
//! `TestBackend`. In a cluster the scrape goes through the API server's pod proxy, which the
//! fake API server does not implement: that path is not exercised here.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kubectl_netobserv::metrics::{flp, history::History, scrape};
use kubectl_netobserv::tui::metrics::{MetricsApp, draw};
use netobserv_api::v1beta2::FlpMetric;
use netobserv_fake_apiserver::FakeApiServer;
use netobserv_pipeline::embedded::{EmbeddedOptions, InProcess};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

async fn seed(fake: &FakeApiServer) {
    let client = fake.client();
    let post = PostParams::default();
    for ns in ["shop", "db"] {
        Api::<Namespace>::all(client.clone())
            .create(
                &post,
                &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
            )
            .await
            .expect("namespace");
    }
    for (ns, name, ip) in [("shop", "web", "10.128.0.10"), ("db", "pg", "10.128.0.20")] {
        let pods = Api::<Pod>::namespaced(client.clone(), ns);
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": "node-a", "containers": [{"name": name, "image": "img:1"}]}
        }))
        .expect("pod");
        pods.create(&post, &pod).await.expect("pod");
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"status": {"phase": "Running", "hostIP": "172.18.0.2",
                "podIP": ip, "podIPs": [{"ip": ip}]}}),
            ),
        )
        .await
        .expect("pod status");
    }
}

/// A flow from the `web` pod to the `pg` pod of `bytes` bytes.
fn flow(bytes: u64) -> pbflow::Record {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ts = prost_types::Timestamp {
        seconds: now.as_secs() as i64,
        nanos: 0,
    };
    let ip = |a: [u8; 4]| Some(pbflow::Ip::from_addr(IpAddr::V4(Ipv4Addr::from(a))));
    pbflow::Record {
        eth_protocol: 0x0800,
        direction: 0,
        time_flow_start: Some(ts),
        time_flow_end: Some(ts),
        network: Some(pbflow::Network {
            src_addr: ip([10, 128, 0, 10]),
            dst_addr: ip([10, 128, 0, 20]),
            dscp: 0,
        }),
        transport: Some(pbflow::Transport {
            src_port: 40000,
            dst_port: 5432,
            protocol: 6,
        }),
        bytes,
        packets: 1,
        interface: "eth0".into(),
        agent_ip: ip([172, 18, 0, 2]),
        sampling: 1,
        ..pbflow::Record::default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Scrapes until `namespace_flows_total` for shop -> db reaches `want`.
async fn scrape_until(client: &kube::Client, want: f64) -> scrape::Round {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let parsed = scrape::scrape(client, "/metrics").await;
        if let Ok(p) = &parsed {
            let got: f64 = p
                .samples
                .iter()
                .filter(|s| s.name == "on_demand_netobserv_namespace_flows_total")
                .filter(|s| s.labels.get("SrcK8S_Namespace").map(String::as_str) == Some("shop"))
                .filter(|s| s.labels.get("DstK8S_Namespace").map(String::as_str) == Some("db"))
                .map(|s| s.value)
                .sum();
            if got >= want {
                return scrape::Round {
                    t: 0.0,
                    scrapes: vec![("agent-node-a".into(), p.clone())],
                    failures: 0,
                };
            }
        }
        assert!(
            Instant::now() < deadline,
            "the pipeline never counted {want} flows: {parsed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn screen(app: &MetricsApp) -> String {
    let mut terminal = Terminal::new(TestBackend::new(110, 32)).expect("terminal");
    terminal.draw(|f| draw(f, app)).expect("draw");
    let buffer = terminal.backend().buffer().clone();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_show_the_rates_the_agents_pipeline_serves() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let fake = FakeApiServer::start().await.expect("fake API server");
    seed(&fake).await;
    let dir = std::env::temp_dir().join(format!("cli-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).expect("kubeconfig");
    let include = [
        FlpMetric::NamespaceFlowsTotal,
        FlpMetric::WorkloadIngressBytesTotal,
    ];
    let port = free_port();
    let config = flp::config(
        &include,
        "netobserv-cli",
        port,
        &kubeconfig.display().to_string(),
    );
    let pipeline = InProcess::start(config, EmbeddedOptions::default())
        .await
        .expect("the agents' pipeline starts");
    let sender = pipeline.sender().expect("preset ingester");
    let client = kube::Client::try_from(kube::Config::new(
        format!("http://127.0.0.1:{port}").parse().expect("uri"),
    ))
    .expect("client");

    let names: Vec<String> = include.iter().map(|m| m.as_str().to_string()).collect();
    let mut app = MetricsApp::new(History::new(flp::PREFIX, &names));
    // Round 1: 10 flows counted; round 2, "4 s later": 40 more, 100 bytes each.
    sender
        .send((0..10).map(|_| flow(100)).collect())
        .await
        .expect("send");
    let mut first = scrape_until(&client, 10.0).await;
    first.t = 0.0;
    app.apply(&first);
    sender
        .send((0..40).map(|_| flow(100)).collect())
        .await
        .expect("send");
    let mut second = scrape_until(&client, 50.0).await;
    second.t = 4.0;
    app.apply(&second);

    let panel = app.current().expect("a panel");
    assert_eq!(panel.metric, "namespace_flows_total");
    assert_eq!(panel.points.back(), Some(&(4.0, 10.0)), "40 flows in 4 s");
    assert!(panel.top[0].0.starts_with("shop → db"), "{:?}", panel.top);
    let text = screen(&app);
    assert!(
        text.contains("namespace_flows_total — total 10.0 flows/s"),
        "{text}"
    );
    assert!(text.contains("shop → db"), "{text}");
    assert!(
        text.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)),
        "the chart draws its line in braille dots:\n{text}"
    );

    // The next panel: bytes into the `pg` workload, 40 x 100 B in 4 s.
    app.key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Right,
    ));
    let text = screen(&app);
    assert!(
        text.contains("workload_ingress_bytes_total — total 1.0 kB/s"),
        "{text}"
    );
    assert!(text.contains("pg"), "{text}");
    // The queues close (and the pipeline stops) once every sender is gone.
    drop(sender);
    pipeline.stop().await.expect("stops");
    let _ = std::fs::remove_dir_all(&dir);
}
