//! `--get-subnets`: the subnets read from an OpenShift cluster's configuration (the `Network`
//! CRD and object, and the installer's ConfigMap, served by the strict fake API server: no
//! kube-apiserver runs here), handed to the collector and to the agents' metrics pipeline, and
//! the labels they put on flows.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kubectl_netobserv::collector::enrich::{FlowStages, KubeNames};
use kubectl_netobserv::options;
use kubectl_netobserv::render::{self, Plan};
use kubectl_netobserv::subnets::{self, SubnetLabel};
use netobserv_fake_apiserver::FakeApiServer;
use netobserv_pipeline::record::Record;
use serde_json::json;

/// A cut-down `networks.config.openshift.io` CRD (cluster-scoped, status subresource).
const NETWORK_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: networks.config.openshift.io}
spec:
  group: config.openshift.io
  scope: Cluster
  names: {kind: Network, listKind: NetworkList, plural: networks, singular: network}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

const INSTALL_CONFIG: &str = "apiVersion: v1\nbaseDomain: example.com\nnetworking:\n  clusterNetwork:\n  - cidr: 10.128.0.0/14\n    hostPrefix: 23\n  machineNetwork:\n  - cidr: 10.0.0.0/16\n  networkType: OVNKubernetes\n  serviceNetwork:\n  - 172.30.0.0/16\n";

fn label(name: &str, cidrs: &[&str]) -> SubnetLabel {
    SubnetLabel {
        name: name.into(),
        cidrs: cidrs.iter().map(|c| c.to_string()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subnets_come_from_the_network_config_and_the_install_config() {
    let fake = FakeApiServer::start().await.expect("fake");
    fake.create_yaml(NETWORK_CRD).expect("CRD");
    // The spec as installed; a real server (and the fake) drops `status` on create.
    fake.create(json!({
        "apiVersion": "config.openshift.io/v1", "kind": "Network", "metadata": {"name": "cluster"},
        "spec": {"clusterNetwork": [{"cidr": "10.0.0.0/8", "hostPrefix": 23}],
                 "serviceNetwork": ["172.30.0.0/16"]},
    }))
    .expect("network");
    fake.create(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-config-v1", "namespace": "kube-system"},
        "data": {"install-config": INSTALL_CONFIG},
    }))
    .expect("install-config");
    // Before the network operator reports a status, the spec is what there is.
    let got = subnets::discover(&fake.client()).await.expect("subnets");
    assert_eq!(
        got,
        vec![
            label("Pods", &["10.0.0.0/8"]),
            label("Services", &["172.30.0.0/16"]),
            label("Machines", &["10.0.0.0/16"]),
        ]
    );
    // What the network operator applied (its status) is preferred.
    let gvk = GroupVersionKind::gvk("config.openshift.io", "v1", "Network");
    let networks: Api<DynamicObject> = Api::all_with(
        fake.client(),
        &ApiResource::from_gvk_with_plural(&gvk, "networks"),
    );
    networks
        .patch_status(
            "cluster",
            &PatchParams::apply("network-operator").force(),
            &Patch::Apply(json!({
                "apiVersion": "config.openshift.io/v1", "kind": "Network",
                "metadata": {"name": "cluster"},
                "status": {"clusterNetwork": [{"cidr": "10.128.0.0/14", "hostPrefix": 23},
                                              {"cidr": "fd01::/48", "hostPrefix": 64}],
                           "serviceNetwork": ["172.30.0.0/16", "fd02::/112"]},
            })),
        )
        .await
        .expect("status");
    let got = subnets::discover(&fake.client()).await.expect("subnets");
    assert_eq!(
        got,
        vec![
            label("Pods", &["10.128.0.0/14", "fd01::/48"]),
            label("Services", &["172.30.0.0/16", "fd02::/112"]),
            label("Machines", &["10.0.0.0/16"]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_them_is_refused_with_the_option_named() {
    let fake = FakeApiServer::start().await.expect("fake");
    let err = subnets::discover(&fake.client())
        .await
        .expect_err("nothing to read");
    let text = err.to_string();
    assert!(
        text.contains("--get-subnets") && text.contains("cluster-config-v1"),
        "{text}"
    );
}

#[test]
fn the_labels_reach_the_collector_and_the_metrics_pipeline() {
    let labels = vec![
        label("Pods", &["10.128.0.0/14"]),
        label("Services", &["172.30.0.0/16"]),
    ];
    let plan_of = |line: &str| {
        let inv =
            options::parse(std::iter::once("kubectl-netobserv").chain(line.split_whitespace()))
                .expect("parses");
        let mut plan = Plan::for_command(
            &inv.command,
            &inv.rules,
            "run",
            ("agent:v1".to_string(), "cli:v1".to_string()),
        )
        .expect("plan");
        plan.subnet_labels = labels.clone();
        plan
    };
    let flows = plan_of("flows --get-subnets");
    assert!(matches!(&flows.capture, render::Capture::Flows(f) if f.get_subnets));
    let objects = render::render(&flows);
    let pod = objects
        .iter()
        .find(|o| o["kind"] == "Pod")
        .expect("collector pod");
    let args: Vec<String> = pod["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(
        args.contains(&"--subnet-label=Pods=10.128.0.0/14".to_string()),
        "{args:?}"
    );
    assert!(args.contains(&"--subnet-label=Services=172.30.0.0/16".to_string()));
    // The collector parses what the render gives it.
    let inv = options::parse(
        ["kubectl-netobserv", "collector", "--mode=flows"]
            .into_iter()
            .map(String::from)
            .chain(
                args.iter()
                    .filter(|a| a.starts_with("--subnet-label"))
                    .cloned(),
            ),
    )
    .expect("collector args parse");
    let options::Command::Collector(c) = inv.command else {
        panic!("collector")
    };
    assert_eq!(c.subnet_labels, labels);

    // Metrics: the agents' FLP_CONFIG labels both ends, and the pipeline accepts it.
    let metrics = plan_of("metrics --get-subnets");
    let objects = render::render(&metrics);
    let ds = objects
        .iter()
        .find(|o| o["kind"] == "DaemonSet")
        .expect("daemonset");
    let env = ds["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let flp = env.iter().find(|e| e["name"] == "FLP_CONFIG").unwrap()["value"]
        .as_str()
        .unwrap();
    let config: netobserv_pipeline::config::Config = serde_json::from_str(flp).expect("parses");
    config.check().expect("a valid stage graph");
    netobserv_pipeline::registry::Registry::standard()
        .check_supported(&config)
        .expect("stages the pipeline runs");
    assert!(
        flp.contains("SrcSubnetLabel") && flp.contains("172.30.0.0/16"),
        "{flp}"
    );
}

#[test]
fn the_collector_labels_both_ends() {
    let labels = vec![
        label("Pods", &["10.128.0.0/14"]),
        label("Services", &["172.30.0.0/16"]),
    ];
    let mut stages = FlowStages::new(&KubeNames::None, None, &labels).expect("stages");
    let flow =
        Record::from_json(r#"{"SrcAddr":"10.128.3.4","DstAddr":"172.30.0.10","Bytes":1}"#).unwrap();
    let out = stages.apply(flow).expect("kept");
    assert_eq!(
        out.get("SrcSubnetLabel").and_then(|v| v.as_str()),
        Some("Pods")
    );
    assert_eq!(
        out.get("DstSubnetLabel").and_then(|v| v.as_str()),
        Some("Services")
    );
    for bad in ["Pods", "Pods=10.0.0.0/33", "=10.0.0.0/8"] {
        assert!(SubnetLabel::parse(bad).is_err(), "{bad}");
    }
}
