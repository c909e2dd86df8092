//! The `udn` secondary index of `add_kubernetes` (OVN-Kubernetes User Defined Networks), driven
//! the way the operator configures it (`secondaryNetworks: [{name: ovn-kubernetes, index:
//! {udn: {}}}]`), from OVN-Kubernetes objects (`tests/data/ovn-udn`: the CRDs, a namespaced
//! primary UDN, a cluster UDN, pods with their `k8s.ovn.org/pod-networks` annotation) served by
//! the strict fake API server, and from agent flows (`pbflow.Record` whose per-interface entries
//! carry the UDN) decoded as the ingest does.

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams};
use netobserv_fake_apiserver::FakeApiServer;
use netobserv_pipeline::config::NetworkTransform;
use netobserv_pipeline::decode::record_from_pbflow;
use netobserv_pipeline::transform::kubernetes::{
    ClusterUserDefinedNetwork, KubeIndex, UserDefinedNetwork,
};
use netobserv_pipeline::transform::{NetworkStage, Transformer};
use pbflow::{DupMapEntry, Ip, Network, Record as Flow, Transport};
use serde_json::{Value as Json, json};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ovn-udn");

fn data(file: &str) -> String {
    std::fs::read_to_string(format!("{DATA}/{file}")).expect("test data")
}

/// Every document of a YAML file of the test data.
fn docs(file: &str) -> Vec<Json> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(&data(file))
        .map(|d| Json::deserialize(d).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The operator's enrichment rules with UDN mapping on (`flp_config.rs`: the `ovn-kubernetes`
/// secondary network indexed by `udn`), reading the cluster of `kubeconfig` when given.
fn operator_config(kubeconfig: Option<&str>) -> NetworkTransform {
    let mut kube = json!({
        "secondaryNetworks": [{"name": "ovn-kubernetes", "index": {"udn": {}}}],
        "trackedKinds": ["ReplicaSet", "Deployment", "Gateway"]
    });
    if let Some(path) = kubeconfig {
        kube["configPath"] = json!(path);
    }
    serde_json::from_value(json!({
        "kubeConfig": kube,
        "rules": [
            {"type": "add_kubernetes", "kubernetes": {"add_zone": false, "interfacesField": "Interfaces", "ipField": "SrcAddr", "macField": "SrcMac", "output": "SrcK8S", "udnsField": "Udns"}},
            {"type": "add_kubernetes", "kubernetes": {"add_zone": false, "interfacesField": "Interfaces", "ipField": "DstAddr", "macField": "DstMac", "output": "DstK8S", "udnsField": "Udns"}}
        ]
    }))
    .expect("operator network config")
}

/// An agent flow from `src` to `dst` seen on one pod interface, whose UDN the agent tagged.
fn flow(src: &str, dst: &str, interface: &str, udn: &str) -> Flow {
    let ip = |s: &str| Some(Ip::from_addr(s.parse().expect("address")));
    Flow {
        eth_protocol: 0x0800,
        network: Some(Network {
            src_addr: ip(src),
            dst_addr: ip(dst),
            dscp: 0,
        }),
        transport: Some(Transport {
            src_port: 40000,
            dst_port: 8080,
            protocol: 6,
        }),
        bytes: 600,
        packets: 4,
        agent_ip: ip("172.18.0.3"),
        dup_list: vec![
            DupMapEntry {
                interface: interface.into(),
                direction: 1,
                udn: udn.into(),
            },
            DupMapEntry {
                interface: "eth0".into(),
                direction: 1,
                udn: String::new(),
            },
        ],
        ..Default::default()
    }
}

/// What the stage writes for `f` (only the enrichment fields).
fn enriched(stage: &mut NetworkStage, f: &Flow) -> Json {
    let record = record_from_pbflow(f, 1_736_500_000);
    let before: serde_json::Map<String, Json> =
        serde_json::from_str(&record.to_json()).expect("json");
    let after = stage.apply(record).expect("kept");
    let mut out: serde_json::Map<String, Json> =
        serde_json::from_str(&after.to_json()).expect("json");
    out.retain(|k, _| !before.contains_key(k));
    Json::Object(out)
}

/// The strict fake API server holding the test data: CRDs, networks, then pods whose status is
/// written through the status subresource as the kubelet does. With `crds` false, the
/// OVN-Kubernetes CRDs (and so the (C)UDN objects) are absent, as on a cluster without them.
fn cluster(crds: bool) -> (tokio::runtime::Runtime, FakeApiServer) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let fake = runtime
        .block_on(FakeApiServer::start())
        .expect("fake API server starts");
    if crds {
        fake.create_yaml(&data("crds.yaml")).expect("CRDs");
    }
    for obj in docs("networks.yaml") {
        if crds || obj["apiVersion"] == "v1" {
            fake.create(obj).expect("network objects");
        }
    }
    for mut pod in docs("pods.yaml") {
        let status = pod
            .as_object_mut()
            .and_then(|o| o.remove("status"))
            .expect("status");
        let (ns, name) = (
            pod["metadata"]["namespace"]
                .as_str()
                .expect("ns")
                .to_string(),
            pod["metadata"]["name"].as_str().expect("name").to_string(),
        );
        fake.create(pod).expect("pod");
        runtime
            .block_on(async {
                Api::<Pod>::namespaced(fake.client(), &ns)
                    .patch_status(
                        &name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": status})),
                    )
                    .await
            })
            .expect("pod status");
    }
    (runtime, fake)
}

/// A stage reading `fake` through a kubeconfig, once its first listing is in.
fn stage_against(fake: &FakeApiServer, tag: &str) -> (NetworkStage, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("netobserv-udn-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("kubeconfig");
    std::fs::write(&path, fake.kubeconfig()).expect("kubeconfig");
    let stage = NetworkStage::new(operator_config(Some(&path.display().to_string())))
        .expect("builds against the fake API server");
    let deadline = Instant::now() + Duration::from_secs(15);
    while let Some(pending) = stage.kube_pending() {
        assert!(Instant::now() < deadline, "never synced: {pending}");
        std::thread::sleep(Duration::from_millis(20));
    }
    (stage, dir)
}

/// Two pods with the same address on two UDNs (a namespaced one and a cluster one): the UDN
/// each flow's interface carries picks the right pod, with the UDN as network name and
/// `UdnId`; the same address untagged matches no pod (it is no pod's cluster address), and the
/// pods' cluster addresses still resolve on the primary network.
#[test]
fn flows_on_user_defined_networks_resolve_to_their_pod() {
    let (runtime, fake) = cluster(true);
    let (mut stage, dir) = stage_against(&fake, "crds");
    // The (C)UDN objects were listed, metadata only.
    let requests = fake.requests();
    for path in [
        "/apis/k8s.ovn.org/v1/userdefinednetworks",
        "/apis/k8s.ovn.org/v1/clusteruserdefinednetworks",
    ] {
        assert!(
            requests.iter().any(|r| r.path == path && r.is_list()),
            "{path} not listed"
        );
    }

    let added = enriched(
        &mut stage,
        &flow(
            "10.100.0.5",
            "10.100.0.9",
            "c3d4e5f6a7b8c9d",
            "tenant-a/primary-udn",
        ),
    );
    assert_eq!(added["SrcK8S_Name"], "app-0", "{added}");
    assert_eq!(added["SrcK8S_Namespace"], "tenant-a");
    assert_eq!(added["SrcK8S_Type"], "Pod");
    assert_eq!(added["SrcK8S_NetworkName"], "tenant-a/primary-udn");
    assert_eq!(added["SrcK8S_HostName"], "ovn-worker");
    assert_eq!(added["UdnId"], "tenant-a/primary-udn");
    assert!(added.get("DstK8S_Name").is_none(), "{added}");

    let added = enriched(
        &mut stage,
        &flow(
            "10.100.0.5",
            "10.100.0.9",
            "e5f6a7b8c9d0e1f",
            "colored-enterprise",
        ),
    );
    assert_eq!(added["SrcK8S_Name"], "app-blue-0", "{added}");
    assert_eq!(added["SrcK8S_Namespace"], "blue");
    assert_eq!(added["SrcK8S_NetworkName"], "colored-enterprise");
    assert_eq!(added["UdnId"], "colored-enterprise");

    // A namespaced label for the cluster UDN's pod does not match: the objects say which is which.
    let added = enriched(
        &mut stage,
        &flow("10.100.0.5", "10.100.0.9", "x", "blue/colored-enterprise"),
    );
    assert!(added.get("SrcK8S_Name").is_none(), "{added}");

    // `default` (a pod port on the cluster network) and no tag match by cluster address only.
    for udn in ["default", ""] {
        let added = enriched(&mut stage, &flow("10.100.0.5", "10.244.1.6", "x", udn));
        assert!(added.get("SrcK8S_Name").is_none(), "{added}");
        assert!(added.get("UdnId").is_none(), "{added}");
        assert_eq!(added["DstK8S_Name"], "app-0");
        assert_eq!(added["DstK8S_NetworkName"], "primary");
    }

    // A UDN deleted later: its pods fall back to being indexed under both labels.
    fake.delete("/apis/k8s.ovn.org/v1/namespaces/tenant-a/userdefinednetworks/primary-udn")
        .expect("delete UDN");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let added = enriched(
            &mut stage,
            &flow("10.100.0.5", "10.100.0.9", "x", "primary-udn"),
        );
        if added.get("SrcK8S_Name").is_some() {
            assert_eq!(added["SrcK8S_Name"], "app-0");
            break;
        }
        assert!(Instant::now() < deadline, "UDN deletion not applied");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(runtime);
    let _ = std::fs::remove_dir_all(dir);
}

/// A cluster without the OVN-Kubernetes CRDs answers 404 for (C)UDNs: enrichment is not held
/// for it, and pods are found under either label.
#[test]
fn missing_crds_do_not_hold_flows() {
    let (runtime, fake) = cluster(false);
    let (mut stage, dir) = stage_against(&fake, "nocrds");
    for udn in ["tenant-a/primary-udn", "primary-udn"] {
        let added = enriched(&mut stage, &flow("10.100.0.5", "10.100.0.9", "x", udn));
        assert_eq!(added["SrcK8S_Name"], "app-0", "{udn}: {added}");
        assert_eq!(added["SrcK8S_NetworkName"], udn);
    }
    drop(runtime);
    let _ = std::fs::remove_dir_all(dir);
}

/// The index alone, fed in the order watchers may deliver: pods before their networks. The
/// late (C)UDN objects relabel the pods; without the `udn` index nothing is keyed by UDN.
#[test]
fn networks_listed_after_pods_relabel_them() {
    let pods: Vec<Pod> = docs("pods.yaml")
        .into_iter()
        .map(|p| serde_json::from_value(p).expect("pod"))
        .collect();
    let config = operator_config(None);
    let settings = NetworkStage::kube_index_settings(&config).expect("settings");
    assert!(settings.udn);
    assert!(settings.secondary_networks.is_empty());
    let mut index = KubeIndex::new(settings);
    for p in &pods {
        index.apply(p);
    }
    let ip = "10.100.0.5".parse().expect("ip");
    let key = |l: &str| vec![format!("{l}~10.100.0.5")];
    assert_eq!(
        index.lookup(&key("primary-udn"), ip).map(|i| i.name),
        Some("app-0")
    );
    let udn: UserDefinedNetwork = serde_json::from_value(
        json!({"metadata": {"name": "primary-udn", "namespace": "tenant-a"}}),
    )
    .expect("udn");
    let cudn: ClusterUserDefinedNetwork =
        serde_json::from_value(json!({"metadata": {"name": "colored-enterprise"}})).expect("cudn");
    index.apply(&udn);
    index.apply(&cudn);
    assert_eq!(index.udn_registry().counts(), (1, 1));
    assert!(index.lookup(&key("primary-udn"), ip).is_none());
    assert!(index.lookup(&key("blue/colored-enterprise"), ip).is_none());
    let info = index
        .lookup(&key("tenant-a/primary-udn"), ip)
        .expect("UDN pod");
    assert_eq!(
        (info.name, info.network_name),
        ("app-0", "tenant-a/primary-udn")
    );
    let info = index
        .lookup(&key("colored-enterprise"), ip)
        .expect("CUDN pod");
    assert_eq!(
        (info.name, info.network_name),
        ("app-blue-0", "colored-enterprise")
    );
    // A deleted pod leaves the UDN keys.
    index.delete(&pods[0]);
    assert!(index.lookup(&key("tenant-a/primary-udn"), ip).is_none());

    // Without the `udn` index (UDNMapping off), the annotation is not read.
    let mut plain: NetworkTransform = operator_config(None);
    plain.kube_config = None;
    let mut index = KubeIndex::new(NetworkStage::kube_index_settings(&plain).expect("settings"));
    index.apply(&pods[0]);
    assert!(index.lookup(&key("primary-udn"), ip).is_none());
    let shared = Arc::new(RwLock::new(index));
    let mut stage = NetworkStage::with_kube_index(plain, shared).expect("builds");
    let added = enriched(
        &mut stage,
        &flow("10.100.0.5", "10.244.1.6", "x", "tenant-a/primary-udn"),
    );
    assert!(added.get("SrcK8S_Name").is_none(), "{added}");
    assert!(added.get("UdnId").is_none(), "{added}");
    assert_eq!(added["DstK8S_Name"], "app-0");
}
