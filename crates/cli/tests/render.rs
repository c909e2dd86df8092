//! `--yaml` output, golden: the manifests of a few command lines are compared with the committed
//! files in tests/golden (regenerate with `UPDATE_GOLDEN=1` and review the diff). Also checks
//! properties a golden file would not make obvious: every object carries the run labels, the
//! agent gets the filter rules in the agent's JSON, packets mode turns capture on.

use kubectl_netobserv::options;
use kubectl_netobserv::render::{self, MANAGED_BY_LABEL, Plan, RUN_LABEL};
use serde_json::Value;
use std::path::PathBuf;

fn plan(line: &str) -> Plan {
    let inv = options::parse(std::iter::once("kubectl-netobserv").chain(line.split_whitespace()))
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    let images = render::default_images(|_| None);
    Plan::for_command(&inv.command, &inv.rules, "run-0001", images).expect("a capture")
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    pretty_assertions::assert_eq!(want, actual, "{name}");
}

const CASES: &[(&str, &str)] = &[
    ("flows-default.yaml", "flows"),
    (
        "flows-features-filters.yaml",
        "flows --enable_dns --enable_rtt --enable_pkt_drop --enable_udn_mapping --sampling=10 --privileged \
         --interfaces=eth0,br-ex --node-selector=zone:east --log-level=debug --max-time=10m \
         --max-bytes=1GB --query=SrcK8S_Namespace=\"shop\" --protocol=TCP --dport=443 \
         or --protocol=UDP --dport=53 --action=Accept",
    ),
    (
        "packets-rules.yaml",
        "packets --namespace=capture --node=worker-1 --snaplen=1500 --cidr=10.128.0.0/14 \
         --protocol=TCP --port_range=8000-8100 or --peer_ip=10.0.0.9 --protocol=ICMP --icmp_type=8",
    ),
];

const METRICS_CASE: (&str, &str) = (
    "metrics-include-list.yaml",
    "metrics --enable_rtt --include_list=namespace_flows_total,node_egress_bytes_total \
     --node-selector=zone:east --protocol=TCP",
);

#[test]
fn yaml_manifests_match_the_golden_files() {
    for (file, line) in CASES.iter().chain([&METRICS_CASE]) {
        golden(file, &render::to_yaml(&render::render(&plan(line))));
    }
}

fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

fn env(ds: &Value, name: &str) -> Option<String> {
    ds["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_string))
}

#[test]
fn objects_carry_the_run_labels_and_the_capture_settings() {
    let objects = render::render(&plan(CASES[2].1));
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Pod",
            "DaemonSet"
        ]
    );
    for o in &objects {
        assert_eq!(
            o["metadata"]["labels"][MANAGED_BY_LABEL], "netobserv-cli",
            "{o}"
        );
        assert_eq!(o["metadata"]["labels"][RUN_LABEL], "run-0001", "{o}");
        if o["kind"] != "Namespace"
            && o["kind"] != "ClusterRole"
            && o["kind"] != "ClusterRoleBinding"
        {
            assert_eq!(o["metadata"]["namespace"], "capture", "{o}");
        }
    }
    let ds = find(&objects, "DaemonSet");
    assert_eq!(env(ds, "ENABLE_PCA").as_deref(), Some("true"));
    assert_eq!(env(ds, "PCA_SNAPLEN").as_deref(), Some("1500"));
    assert_eq!(
        env(ds, "TARGET_HOST").as_deref(),
        Some("collector.capture.svc")
    );
    let rules: Value =
        serde_json::from_str(&env(ds, "FLOW_FILTER_RULES").expect("rules")).expect("json");
    assert_eq!(
        rules,
        serde_json::json!([
            {"ip_cidr": "10.128.0.0/14", "action": "Accept", "protocol": "TCP", "port_range": "8000-8100"},
            {"ip_cidr": "0.0.0.0/0", "action": "Accept", "protocol": "ICMP", "icmp_type": 8, "peer_ip": "10.0.0.9"},
        ])
    );
    assert_eq!(
        ds["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/hostname"],
        "worker-1"
    );
    let pod = find(&objects, "Pod");
    let args: Vec<&str> = pod["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(args.contains(&"--mode=packets"), "{args:?}");
    let svc = find(&objects, "Service");
    assert_eq!(
        svc["spec"]["selector"],
        pod["metadata"]["labels"]["run"]
            .as_str()
            .map_or(Value::Null, |r| serde_json::json!({"run": r}))
    );
}

/// `metrics`: no collector; the agents run the pipeline in process (`EXPORT=direct-flp`) with
/// a `FLP_CONFIG` that the pipeline itself accepts (checked by parsing and graph-checking it
/// with the pipeline's own code) and that serves the include list on port 9401.
#[test]
fn metrics_agents_run_the_pipeline_with_a_prom_encoder() {
    let objects = render::render(&plan(METRICS_CASE.1));
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "DaemonSet"
        ]
    );
    let ds = find(&objects, "DaemonSet");
    assert_eq!(env(ds, "EXPORT").as_deref(), Some("direct-flp"));
    assert_eq!(env(ds, "TARGET_HOST"), None);
    assert_eq!(env(ds, "ENABLE_RTT").as_deref(), Some("true"));
    let text = env(ds, "FLP_CONFIG").expect("FLP_CONFIG");
    let config = netobserv_pipeline::config::Config::parse(&text).expect("the pipeline parses it");
    config.check().expect("a valid stage graph");
    let prom = config
        .stage("prometheus")
        .and_then(|s| s.encode.as_ref())
        .and_then(|e| e.prom.as_ref())
        .expect("a prom encoder");
    assert_eq!(
        config.metrics_settings.as_ref().and_then(|m| m.port),
        Some(9401)
    );
    assert_eq!(prom.prefix, "on_demand_netobserv_");
    let names: Vec<&str> = prom.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["namespace_flows_total", "node_egress_bytes_total"]);
    assert_eq!(
        ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        9401
    );
}

#[test]
fn unknown_metrics_are_named() {
    let inv = options::parse([
        "kubectl-netobserv",
        "metrics",
        "--include_list=namespace_flows_total,nope_total",
    ])
    .expect("parses");
    let err = Plan::for_command(
        &inv.command,
        &inv.rules,
        "r",
        (String::new(), String::new()),
    )
    .expect_err("unknown metric");
    assert!(
        err.to_string().contains("unknown metric `nope_total`"),
        "{err}"
    );
}

/// The default images are those of `images/images.env` (what `make images` builds), and the
/// environment overrides each one.
#[test]
fn default_images_come_from_images_env_and_the_environment_overrides_them() {
    let env = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../images/images.env"),
    )
    .expect("images/images.env");
    let get = |key: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in images.env"))
            .to_string()
    };
    let reference = |name: &str| {
        format!(
            "{}/{}:{}",
            get("IMAGE_REGISTRY"),
            get(name),
            get("IMAGE_TAG")
        )
    };
    assert_eq!(
        render::default_images(|_| None),
        (
            reference("IMAGE_EBPF_AGENT"),
            reference("IMAGE_CLI_COLLECTOR")
        )
    );
    let (agent, collector) = render::default_images(|k| match k {
        "NETOBSERV_AGENT_IMAGE" => Some("example.com/agent:dev".to_string()),
        _ => None,
    });
    assert_eq!(agent, "example.com/agent:dev");
    assert_eq!(collector, reference("IMAGE_CLI_COLLECTOR"));
}

/// UDN mapping and network events read the node's Open vSwitch sockets: without `--privileged`
/// the agent could not, so the run is refused before anything is deployed, naming the option.
#[test]
fn host_socket_features_need_privileged_agents() {
    for (line, option) in [
        ("flows --enable_udn_mapping", "--enable_udn_mapping"),
        ("metrics --enable_network_events", "--enable_network_events"),
    ] {
        let inv =
            options::parse(std::iter::once("kubectl-netobserv").chain(line.split_whitespace()))
                .expect("parses");
        let images = ("agent:v1".to_string(), "cli:v1".to_string());
        let err = Plan::for_command(&inv.command, &inv.rules, "run", images)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains(option) && err.contains("--privileged"),
            "{err}"
        );
    }
    // Privileged: the agent gets the feature and both host sockets.
    let objects = render::render(&plan("flows --enable_udn_mapping --privileged"));
    let ds = find(&objects, "DaemonSet");
    let text = ds.to_string();
    assert!(text.contains("ENABLE_UDN_MAPPING"), "{text}");
    assert!(text.contains("/var/run/openvswitch"), "{text}");
}

/// `metrics` on a cluster with ServiceMonitors and the OpenShift console: the metrics Service,
/// the ServiceMonitor, the namespace marked for the platform Prometheus and the dashboard
/// ConfigMap in `openshift-config-managed` (golden), whose panels query each included metric.
#[test]
fn metrics_on_openshift_add_monitoring_and_the_dashboard() {
    let mut p = plan(METRICS_CASE.1);
    p.monitoring = render::Monitoring {
        service_monitor: true,
        dashboard: true,
    };
    let objects = render::render(&p);
    golden("metrics-openshift.yaml", &render::to_yaml(&objects));
    let cm = find(&objects, "ConfigMap");
    assert_eq!(cm["metadata"]["namespace"], "openshift-config-managed");
    assert_eq!(
        cm["metadata"]["labels"]["console.openshift.io/dashboard"],
        "true"
    );
    let dashboard: Value = serde_json::from_str(
        cm["data"]["netobserv-on-demand.json"]
            .as_str()
            .expect("dashboard"),
    )
    .expect("JSON");
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["targets"][0]["expr"].as_str())
        .collect();
    for metric in ["namespace_flows_total", "node_egress_bytes_total"] {
        assert!(
            exprs
                .iter()
                .any(|e| e.contains(&format!("on_demand_netobserv_{metric}{{"))),
            "{metric}: {exprs:?}"
        );
    }
    // Without them (plain Kubernetes), none of it.
    let plain = render::render(&plan(METRICS_CASE.1));
    assert!(
        plain
            .iter()
            .all(|o| o["kind"] != "ServiceMonitor" && o["kind"] != "ConfigMap")
    );
}
