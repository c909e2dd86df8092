//! `add_kubernetes`: the index fed with real k8s-openapi objects, queried through a built
//! `network` stage configured the way the operator configures it.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use netobserv_pipeline::config::NetworkTransform;
use netobserv_pipeline::record::Record;
use netobserv_pipeline::transform::kubernetes::{KubeIndex, SharedIndex};
use netobserv_pipeline::transform::{BuildError, NetworkStage, Transformer};
use pretty_assertions::assert_eq;
use serde_json::{Value as Json, json};
use std::sync::{Arc, RwLock};

/// The operator's enrichment rules (v1beta2 "full" sample: zones on, secondary networks indexed
/// by interface + IP), plus the packet translation rules.
fn operator_config(index: Json) -> NetworkTransform {
    serde_json::from_value(json!({
        "kubeConfig": {
            "secondaryNetworks": [{"index": index, "name": ""}],
            "trackedKinds": ["ReplicaSet", "Deployment", "Gateway"]
        },
        "rules": [
            {"type": "add_kubernetes", "kubernetes": {"add_zone": true, "interfacesField": "Interfaces", "ipField": "SrcAddr", "macField": "SrcMac", "output": "SrcK8S", "udnsField": "Udns"}},
            {"type": "add_kubernetes", "kubernetes": {"add_zone": true, "interfacesField": "Interfaces", "ipField": "DstAddr", "macField": "DstMac", "output": "DstK8S", "udnsField": "Udns"}},
            {"type": "add_kubernetes", "kubernetes": {"ipField": "XlatSrcAddr", "output": "XlatSrcK8S"}},
            {"type": "add_kubernetes", "kubernetes": {"ipField": "XlatDstAddr", "output": "XlatDstK8S"}}
        ]
    }))
    .expect("operator network config")
}

fn pod(v: Json) -> Pod {
    serde_json::from_value(v).expect("pod")
}

fn app_pod(name: &str, ip: &str) -> Pod {
    pod(json!({
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5c8b", "uid": "rs-1", "controller": true}]},
        "spec": {"nodeName": "node-a", "containers": [{"name": "web"}]},
        "status": {"hostIP": "172.18.0.2", "podIP": ip, "podIPs": [{"ip": ip}]}
    }))
}

fn host_network_pod() -> Pod {
    pod(json!({
        "metadata": {"name": "ovnkube-node-x1", "namespace": "openshift-ovn-kubernetes",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ovnkube-node", "uid": "ds-1"}]},
        "spec": {"nodeName": "node-a", "hostNetwork": true, "containers": [{"name": "ovn"}]},
        "status": {"hostIP": "172.18.0.2", "podIP": "172.18.0.2", "podIPs": [{"ip": "172.18.0.2"}]}
    }))
}

/// A VM-like pod attached to a Multus secondary network.
fn multus_pod() -> Pod {
    let status = json!([
        {"name": "ovn-kubernetes", "interface": "eth0", "ips": ["10.128.0.50"], "mac": "0a:58:0a:80:00:32", "default": true},
        {"name": "vms/bridge-net", "interface": "net1", "ips": ["192.168.10.5"], "mac": "02:AB:CD:EF:00:01"}
    ]);
    pod(json!({
        "metadata": {"name": "vm-1", "namespace": "vms",
            "annotations": {"k8s.v1.cni.cncf.io/network-status": status.to_string()}},
        "spec": {"nodeName": "node-b", "containers": [{"name": "vm"}]},
        "status": {"hostIP": "172.18.0.3", "podIPs": [{"ip": "10.128.0.50"}]}
    }))
}

fn node(name: &str, ip: &str, zone: &str, subnet: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": zone},
            "annotations": {"k8s.ovn.org/node-subnets": json!({"default": [subnet]}).to_string()}},
        "status": {"addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}]}
    }))
    .expect("node")
}

fn service(name: &str, ips: &[&str]) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"clusterIP": ips.first().copied().unwrap_or("None"), "clusterIPs": ips}
    }))
    .expect("service")
}

fn replica_set() -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": "web-5c8b", "namespace": "shop",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "dep-1", "controller": true}]}
    }))
    .expect("replica set")
}

/// An index holding the test cluster, and the stage reading it.
fn cluster(config: NetworkTransform) -> (SharedIndex, NetworkStage) {
    let settings = NetworkStage::kube_index_settings(&config).expect("settings");
    let mut index = KubeIndex::new(settings);
    index.apply(&node("node-a", "172.18.0.2", "eu-west-1a", "10.128.0.0/23"));
    index.apply(&node("node-b", "172.18.0.3", "eu-west-1b", "10.128.2.0/23"));
    index.apply(&replica_set());
    index.apply(&app_pod("web-5c8b-x7k2p", "10.128.0.17"));
    index.apply(&host_network_pod());
    index.apply(&multus_pod());
    index.apply(&service("api", &["172.30.0.10"]));
    index.apply(&service("headless", &["None"]));
    let index = Arc::new(RwLock::new(index));
    let stage = NetworkStage::with_kube_index(config, index.clone()).expect("builds");
    (index, stage)
}

/// The fields the stage added to `flow`, as a JSON object.
fn enriched(stage: &mut NetworkStage, flow: Json) -> Json {
    let before: Record = serde_json::from_value(flow.clone()).expect("record");
    let after = stage.apply(before).expect("kept");
    let mut out: serde_json::Map<String, Json> =
        serde_json::from_str(&after.to_json()).expect("json");
    if let Json::Object(input) = flow {
        for k in input.keys() {
            out.remove(k);
        }
    }
    Json::Object(out)
}

#[test]
fn pod_owned_by_deployment_and_service_cluster_ip() {
    let (_, mut stage) = cluster(operator_config(json!({"interface": {}, "ip": {}})));
    let added = enriched(
        &mut stage,
        json!({"SrcAddr": "10.128.0.17", "DstAddr": "172.30.0.10", "SrcMac": "0a:58:0a:80:00:11", "DstMac": "0a:58:0a:80:00:01", "Interfaces": ["genev_sys_6081"]}),
    );
    assert_eq!(
        added,
        json!({
            "SrcK8S_Namespace": "shop", "SrcK8S_Name": "web-5c8b-x7k2p", "SrcK8S_Type": "Pod",
            "SrcK8S_OwnerName": "web", "SrcK8S_OwnerType": "Deployment", "SrcK8S_NetworkName": "primary",
            "SrcK8S_HostIP": "172.18.0.2", "SrcK8S_HostName": "node-a", "SrcK8S_Zone": "eu-west-1a",
            "DstK8S_Namespace": "shop", "DstK8S_Name": "api", "DstK8S_Type": "Service",
            "DstK8S_OwnerName": "api", "DstK8S_OwnerType": "Service", "DstK8S_NetworkName": "primary"
        })
    );
}

#[test]
fn host_network_pod_resolves_to_its_node() {
    let (_, mut stage) = cluster(operator_config(json!({"interface": {}, "ip": {}})));
    // 172.18.0.2 is both node-a's InternalIP and the host-network pod's IP: the node wins.
    // 10.128.0.1 is node-a's OVN management port (first host of its node subnet).
    let added = enriched(
        &mut stage,
        json!({"SrcAddr": "172.18.0.2", "DstAddr": "10.128.0.1", "Interfaces": ["br-ex"]}),
    );
    let node_a = |side: &str| {
        json!({
            format!("{side}_Name"): "node-a", format!("{side}_Type"): "Node",
            format!("{side}_OwnerName"): "node-a", format!("{side}_OwnerType"): "Node",
            format!("{side}_NetworkName"): "primary", format!("{side}_HostIP"): "172.18.0.2",
            format!("{side}_HostName"): "node-a", format!("{side}_Zone"): "eu-west-1a"
        })
    };
    let mut expected = node_a("SrcK8S");
    if let (Json::Object(e), Json::Object(d)) = (&mut expected, node_a("DstK8S")) {
        e.extend(d);
    }
    assert_eq!(added, expected);
}

#[test]
fn translated_addresses_use_their_own_prefix_without_zone() {
    let (_, mut stage) = cluster(operator_config(json!({"interface": {}, "ip": {}})));
    let added = enriched(
        &mut stage,
        json!({"XlatSrcAddr": "10.128.0.17", "XlatDstAddr": "172.18.0.3"}),
    );
    assert_eq!(
        added,
        json!({
            "XlatSrcK8S_Namespace": "shop", "XlatSrcK8S_Name": "web-5c8b-x7k2p", "XlatSrcK8S_Type": "Pod",
            "XlatSrcK8S_OwnerName": "web", "XlatSrcK8S_OwnerType": "Deployment", "XlatSrcK8S_NetworkName": "primary",
            "XlatSrcK8S_HostIP": "172.18.0.2", "XlatSrcK8S_HostName": "node-a",
            "XlatDstK8S_Name": "node-b", "XlatDstK8S_Type": "Node", "XlatDstK8S_OwnerName": "node-b",
            "XlatDstK8S_OwnerType": "Node", "XlatDstK8S_NetworkName": "primary",
            "XlatDstK8S_HostIP": "172.18.0.3", "XlatDstK8S_HostName": "node-b"
        })
    );
}

#[test]
fn multus_secondary_network_by_interface_and_ip() {
    let (_, mut stage) = cluster(operator_config(json!({"interface": {}, "ip": {}})));
    let added = enriched(
        &mut stage,
        json!({"SrcAddr": "192.168.10.5", "DstAddr": "192.168.10.99", "SrcMac": "02:ab:cd:ef:00:01", "DstMac": "02:ab:cd:ef:00:09", "Interfaces": ["br-ex", "net1"]}),
    );
    assert_eq!(
        added,
        json!({
            "SrcK8S_Namespace": "vms", "SrcK8S_Name": "vm-1", "SrcK8S_Type": "Pod",
            "SrcK8S_OwnerName": "vm-1", "SrcK8S_OwnerType": "Pod", "SrcK8S_NetworkName": "vms/bridge-net",
            "SrcK8S_HostIP": "172.18.0.3", "SrcK8S_HostName": "node-b", "SrcK8S_Zone": "eu-west-1b"
        })
    );
    // Same IP seen on another interface: not this attachment, and not a primary IP either.
    let added = enriched(
        &mut stage,
        json!({"SrcAddr": "192.168.10.5", "Interfaces": ["eth7"]}),
    );
    assert_eq!(added, json!({}));
    // The pod's primary address still resolves on the default network.
    let added = enriched(
        &mut stage,
        json!({"SrcAddr": "10.128.0.50", "Interfaces": ["genev_sys_6081"]}),
    );
    assert_eq!(added["SrcK8S_Name"], "vm-1");
    assert_eq!(added["SrcK8S_NetworkName"], "primary");
}

#[test]
fn multus_secondary_network_by_mac() {
    // The operator's secondary-interfaces sample indexes by MAC only; the annotation's MAC is
    // upper case, flows carry lower case.
    let (_, mut stage) = cluster(operator_config(json!({"mac": {}})));
    let added = enriched(
        &mut stage,
        json!({"SrcAddr": "192.168.10.5", "SrcMac": "02:ab:cd:ef:00:01", "Interfaces": ["eth7"]}),
    );
    assert_eq!(added["SrcK8S_Name"], "vm-1");
    assert_eq!(added["SrcK8S_Namespace"], "vms");
    assert_eq!(added["SrcK8S_NetworkName"], "vms/bridge-net");
    let added = enriched(
        &mut stage,
        json!({"SrcAddr": "192.168.10.5", "SrcMac": "02:ab:cd:ef:00:02"}),
    );
    assert_eq!(added, json!({}));
}

#[test]
fn deleted_and_changed_pods_leave_the_index() {
    let (index, mut stage) = cluster(operator_config(json!({"interface": {}, "ip": {}})));
    let flow = json!({"SrcAddr": "10.128.0.17"});
    assert_eq!(
        enriched(&mut stage, flow.clone())["SrcK8S_Name"],
        "web-5c8b-x7k2p"
    );
    index
        .write()
        .expect("lock")
        .delete(&app_pod("web-5c8b-x7k2p", "10.128.0.17"));
    assert_eq!(enriched(&mut stage, flow.clone()), json!({}));
    // Re-created with another IP: the old one stays unknown, the new one resolves.
    index
        .write()
        .expect("lock")
        .apply(&app_pod("web-5c8b-x7k2p", "10.128.0.18"));
    index
        .write()
        .expect("lock")
        .apply(&app_pod("web-5c8b-x7k2p", "10.128.0.19"));
    assert_eq!(enriched(&mut stage, flow), json!({}));
    assert_eq!(
        enriched(&mut stage, json!({"SrcAddr": "10.128.0.18"})),
        json!({})
    );
    assert_eq!(
        enriched(&mut stage, json!({"SrcAddr": "10.128.0.19"}))["SrcK8S_OwnerName"],
        "web"
    );
    // Secondary keys go with the pod.
    index.write().expect("lock").delete(&multus_pod());
    assert_eq!(
        enriched(
            &mut stage,
            json!({"SrcAddr": "192.168.10.5", "Interfaces": ["net1"]})
        ),
        json!({})
    );
    assert_eq!(index.read().expect("lock").counts(), (2, 2, 2, 1));
}

#[test]
fn owner_falls_back_when_replica_set_unknown_and_host_name_from_node() {
    let config = operator_config(json!({"interface": {}, "ip": {}}));
    let mut index = KubeIndex::new(NetworkStage::kube_index_settings(&config).expect("settings"));
    // No ReplicaSet and no nodeName yet: owner stays the ReplicaSet, host name comes from the
    // node owning the host IP.
    let mut p = app_pod("web-5c8b-x7k2p", "10.128.0.17");
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = None;
    }
    index.apply(&p);
    index.apply(&node("node-a", "172.18.0.2", "eu-west-1a", "10.128.0.0/23"));
    let index = Arc::new(RwLock::new(index));
    let mut stage = NetworkStage::with_kube_index(config, index.clone()).expect("builds");
    let added = enriched(&mut stage, json!({"SrcAddr": "10.128.0.17"}));
    assert_eq!(added["SrcK8S_OwnerType"], "ReplicaSet");
    assert_eq!(added["SrcK8S_OwnerName"], "web-5c8b");
    assert_eq!(added["SrcK8S_HostName"], "node-a");
    assert_eq!(added["SrcK8S_Zone"], "eu-west-1a");
    // The ReplicaSet arrives later: resolution happens at lookup time.
    index.write().expect("lock").apply(&replica_set());
    let added = enriched(&mut stage, json!({"SrcAddr": "10.128.0.17"}));
    assert_eq!(added["SrcK8S_OwnerType"], "Deployment");
    assert_eq!(added["SrcK8S_OwnerName"], "web");
}

#[test]
fn labels_with_prefix() {
    let config: NetworkTransform = serde_json::from_value(json!({
        "rules": [{"type": "add_kubernetes", "kubernetes": {"ipField": "SrcAddr", "output": "SrcK8S", "labels_prefix": "SrcK8S_Labels"}}]
    }))
    .expect("config");
    let (_, mut stage) = cluster(config);
    let added = enriched(&mut stage, json!({"SrcAddr": "10.128.0.17"}));
    assert_eq!(added["SrcK8S_Labels_app"], "web");
    assert!(added.get("SrcK8S_Zone").is_none());
}

#[test]
fn otel_and_annotations_are_refused() {
    for extra in [
        json!({"assignee": "otel"}),
        json!({"annotations_prefix": "A"}),
    ] {
        let mut rule = json!({"ipField": "SrcAddr", "output": "SrcK8S"});
        if let (Json::Object(r), Json::Object(e)) = (&mut rule, extra) {
            r.extend(e);
        }
        let config: NetworkTransform = serde_json::from_value(json!({
            "rules": [{"type": "add_kubernetes", "kubernetes": rule}]
        }))
        .expect("config");
        let index = Arc::new(RwLock::new(KubeIndex::default()));
        assert!(matches!(
            NetworkStage::with_kube_index(config, index),
            Err(BuildError::Unsupported(_))
        ));
    }
}

/// Waits up to 10 s for `check` on the stage's pending reason (`None` = synced).
fn wait_pending(
    pending: impl Fn() -> Option<String>,
    check: impl Fn(&Option<String>) -> bool,
) -> Option<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = pending();
        if check(&now) || std::time::Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// An API server that does not answer does not stop the pipeline from starting (in a cluster
/// that would be a crash loop): the build returns at once, and what the enrichment waits for
/// names the address and the cause.
#[test]
fn unreachable_cluster_is_waited_for_and_named() {
    let dir = std::env::temp_dir().join(format!("netobserv-kube-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: dead, user: u}\ncurrent-context: c\n",
    )
    .expect("kubeconfig");
    let pipeline = format!(
        "pipeline:\n- name: ingest\n- name: enrich\n  follows: ingest\nparameters:\n- name: ingest\n  ingest: {{type: stdin}}\n- name: enrich\n  transform:\n    type: network\n    network:\n      kubeConfig: {{configPath: '{}'}}\n      rules:\n      - {{type: add_kubernetes, kubernetes: {{ipField: SrcAddr, output: SrcK8S}}}}\n",
        path.display()
    );
    let config = netobserv_pipeline::config::Config::parse(&pipeline).expect("config parses");
    let started = std::time::Instant::now();
    let pipeline =
        netobserv_pipeline::runtime::Pipeline::build(&config, || Box::new(std::io::sink()))
            .expect("builds without the API server");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let why = wait_pending(
        || pipeline.pending_sync(),
        |p| p.as_deref().is_some_and(|p| p.contains("unreachable")),
    )
    .expect("not synced");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(why.contains("stage `enrich`"), "{why}");
    assert!(why.contains("unreachable"), "{why}");
    assert!(why.contains("127.0.0.1:1"), "{why}");
    // The cause, not just "client error (Connect)".
    assert!(why.to_lowercase().contains("connection refused"), "{why}");
}

/// A minimal API server: `/version`, one listing per kind, and watches that deliver one more
/// pod then stay open. With `forbid_replica_sets`, listing ReplicaSets is refused (RBAC).
fn fake_api_server(forbid_replica_sets: bool) -> std::net::SocketAddr {
    use axum::body::Body;
    use axum::http::{Request, Response};
    use futures::StreamExt;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    let list = |kind: &str, items: Json| json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "10"}, "items": items});
    let pods = list("PodList", json!([app_pod("web-5c8b-x7k2p", "10.128.0.17")]));
    let nodes = list(
        "NodeList",
        json!([node("node-a", "172.18.0.2", "eu-west-1a", "10.128.0.0/23")]),
    );
    let services = list("ServiceList", json!([service("api", &["172.30.0.10"])]));
    let replica_sets = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "10"},
        "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": replica_set().metadata}]});
    let mut late = app_pod("late-pod", "10.128.0.99");
    late.metadata.resource_version = Some("11".into());
    let later = json!({"type": "ADDED", "object": late});
    let handler = move |request: Request<Body>| {
        let path = request.uri().path().to_string();
        let watch = request
            .uri()
            .query()
            .unwrap_or_default()
            .contains("watch=true");
        let body = match path.as_str() {
            "/version" => Some(
                json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "0", "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
            ),
            "/api/v1/pods" => Some(pods.clone()),
            "/api/v1/nodes" => Some(nodes.clone()),
            "/api/v1/services" => Some(services.clone()),
            "/apis/apps/v1/replicasets" => Some(replica_sets.clone()),
            _ => None,
        };
        let response = match body {
            None => Response::builder().status(404).body(Body::empty()),
            Some(_) if forbid_replica_sets && path == "/apis/apps/v1/replicasets" => Response::builder()
                .status(403)
                .header("content-type", "application/json")
                .body(Body::from(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "replicasets.apps is forbidden: User \"system:serviceaccount:netobserv:flp\" cannot list resource",
                    "reason": "Forbidden", "code": 403}).to_string())),
            Some(_) if watch => {
                let first = if path == "/api/v1/pods" {
                    vec![Ok::<_, std::io::Error>(format!("{later}\n"))]
                } else {
                    Vec::new()
                };
                let events = futures::stream::iter(first).chain(futures::stream::pending());
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from_stream(events))
            }
            Some(body) => Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
        };
        std::future::ready(response.expect("response"))
    };
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let app = axum::Router::new().fallback(handler);
            axum::serve(listener, app).await.expect("serves");
        });
    });
    addr
}

/// The operator-shaped config pointing at a kubeconfig for `addr`, built with the feeder.
fn build_against(addr: std::net::SocketAddr, tag: &str) -> Result<NetworkStage, BuildError> {
    let dir = std::env::temp_dir().join(format!("netobserv-kube-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: 'http://{addr}'}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\n  context: {{cluster: fake, user: u}}\ncurrent-context: c\n"),
    )
    .expect("kubeconfig");
    let mut config = operator_config(json!({"interface": {}, "ip": {}}));
    config.kube_config = Some(json!({"configPath": path.display().to_string()}));
    // The kubeconfig stays: the watchers read it again on every connection attempt.
    NetworkStage::new(config)
}

/// Removes what [`build_against`] wrote.
fn cleanup(tag: &str) {
    let dir = std::env::temp_dir().join(format!("netobserv-kube-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(dir);
}

/// RBAC may land after the pod starts: a refused listing is retried, and reported meanwhile.
#[test]
fn refused_listing_is_retried_and_reported() {
    let addr = fake_api_server(true);
    let stage = build_against(addr, "forbidden").expect("builds");
    // Before the refusal arrives the pending list names ReplicaSets too ("not listed yet"):
    // wait for the refusal itself.
    let why = wait_pending(
        || stage.kube_pending(),
        |p| {
            p.as_deref()
                .is_some_and(|p| p.contains("cannot list ReplicaSet"))
        },
    )
    .expect("not synced while ReplicaSets are forbidden");
    assert!(why.contains("cannot list ReplicaSet"), "{why}");
    assert!(why.contains("forbidden"), "{why}");
    cleanup("forbidden");
}

#[test]
fn feeder_lists_and_watches_the_api_server() {
    let addr = fake_api_server(false);
    let mut stage = build_against(addr, "feed").expect("builds against the fake API server");
    let pending = wait_pending(|| stage.kube_pending(), Option::is_none);
    assert_eq!(pending, None, "the first listing arrives");
    let added = enriched(
        &mut stage,
        json!({"SrcAddr": "10.128.0.17", "DstAddr": "172.30.0.10"}),
    );
    assert_eq!(added["SrcK8S_OwnerName"], "web");
    assert_eq!(added["SrcK8S_OwnerType"], "Deployment");
    assert_eq!(added["SrcK8S_Zone"], "eu-west-1a");
    assert_eq!(added["DstK8S_Type"], "Service");
    // The pod added through the watch shows up shortly after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let added = enriched(&mut stage, json!({"SrcAddr": "10.128.0.99"}));
        if added.get("SrcK8S_Name").is_some() {
            assert_eq!(added["SrcK8S_Name"], "late-pod");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "watch event not applied"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cleanup("feed");
}

#[test]
fn relist_replaces_a_kind_and_managed_cni_without_ovn() {
    let mut config = operator_config(json!({"interface": {}, "ip": {}}));
    config.kube_config = Some(json!({"managedCNI": []}));
    let (index, mut stage) = cluster(config);
    // Without OVN the node subnet's management IP is not the node's.
    assert_eq!(
        enriched(&mut stage, json!({"SrcAddr": "10.128.0.1"})),
        json!({})
    );
    // Headless services own no address.
    assert_eq!(index.read().expect("lock").counts(), (3, 2, 2, 1));
    // A re-list after a watch gap drops what disappeared meanwhile.
    index
        .write()
        .expect("lock")
        .replace_all(&[app_pod("web-5c8b-new", "10.128.0.30")]);
    assert_eq!(index.read().expect("lock").counts(), (1, 2, 2, 1));
    assert_eq!(
        enriched(&mut stage, json!({"SrcAddr": "10.128.0.17"})),
        json!({})
    );
    assert_eq!(
        enriched(&mut stage, json!({"SrcAddr": "10.128.0.30"}))["SrcK8S_Name"],
        "web-5c8b-new"
    );
    // Nodes were not touched: the host-network address still resolves to node-a.
    assert_eq!(
        enriched(&mut stage, json!({"SrcAddr": "172.18.0.2"}))["SrcK8S_Name"],
        "node-a"
    );
}

/// A completed pod keeps its IP in its status while a new pod reuses the address: the pod that
/// still runs wins, whichever was seen first.
#[test]
fn two_pods_sharing_an_ip_resolve_to_the_running_one() {
    let done = || {
        let mut p = app_pod("job-x-done", "10.128.0.40");
        p.metadata.owner_references = None;
        if let Some(s) = p.status.as_mut() {
            s.phase = Some("Succeeded".into());
        }
        p
    };
    let running = || {
        let mut p = app_pod("web-5c8b-new", "10.128.0.40");
        if let Some(s) = p.status.as_mut() {
            s.phase = Some("Running".into());
        }
        p
    };
    for order in [[done(), running()], [running(), done()]] {
        let config = operator_config(json!({"interface": {}, "ip": {}}));
        let settings = NetworkStage::kube_index_settings(&config).expect("settings");
        let mut index = KubeIndex::new(settings);
        for pod in &order {
            index.apply(pod);
        }
        let mut stage =
            NetworkStage::with_kube_index(config, Arc::new(RwLock::new(index))).expect("builds");
        let added = enriched(&mut stage, json!({"SrcAddr": "10.128.0.40"}));
        assert_eq!(added["SrcK8S_Name"], "web-5c8b-new", "{added}");
    }
}
