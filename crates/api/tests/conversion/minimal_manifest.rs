//! (a) The minimal v1beta1 manifest of the project documents, and the project's v1beta1 sample.

use std::path::Path;

use crate::support::{down, to_json, wire, without_annotation};
use netobserv_api::v1beta1::{self, to_v1beta2};
use netobserv_api::v1beta2;
use pretty_assertions::assert_eq;
use serde_json::json;

const MINIMAL_V1BETA1: &str = "\
apiVersion: flows.netobserv.io/v1beta1
kind: FlowCollector
metadata:
  name: cluster
spec:
  agent:
    type: EBPF
    ebpf:
      privileged: true
";

/// The v1beta1 manifest gets the v1beta1 CRD defaults; converted, it is the v1beta2 default
/// FlowCollector except where the v1beta1 defaults differ from the v1beta2 ones:
/// - `deploymentModel`: v1beta1 `DIRECT` -> `Direct` (v1beta2 default `Service`);
/// - `agent.ebpf.cacheActiveTimeout`: `5s` (v1beta2 default `15s`);
/// - `agent.ebpf.cacheMaxFlows`: `100000` (v1beta2 default `120000`);
/// - `loki.mode`: `Manual` (v1beta2 default `Monolithic`), with `loki.manual` made of the v1beta1
///   Loki defaults: `ingesterUrl` = `url` = `http://loki:3100/`, `querierUrl` = `url` (empty
///   v1beta1 `querierUrl`), `tenantID: netobserv`, `authToken: DISABLED` -> `Disabled`, which
///   happen to equal the v1beta2 `manual` defaults;
/// - `loki.writeBatchSize`: v1beta1 `batchSize` `102400` (v1beta2 default `10485760`);
/// - `consolePlugin.quickFilters`: the four v1beta1 presets with unquoted values (v1beta2 has six
///   presets with quoted, exact-match values).
///
/// Every other v1beta1 default maps to the v1beta2 default: `processor.metrics.ignoreTags` (the
/// old default) gives no `includeList`; the ports, probes, conversation timeouts, backoffs,
/// retries, static labels and `register` are the v1beta2 `advanced` defaults, so no `advanced`
/// block is written; enums are respelled (`EBPF` -> `eBPF`, `FLOWS` -> `Flows`, `DISABLED` ->
/// `Disabled`).
#[test]
fn minimal_v1beta1_manifest_converts_to_expected_v1beta2() {
    let old: v1beta1::FlowCollector = serde_yaml::from_str(MINIMAL_V1BETA1).unwrap();
    assert_eq!(old.spec.agent.kind, v1beta1::AgentType::Ebpf);
    assert!(old.spec.agent.ebpf.privileged);
    assert_eq!(old.spec.deployment_model, v1beta1::DeploymentModel::Direct);

    let new = to_v1beta2(&old).unwrap();

    let mut expected =
        v1beta2::FlowCollector::new("cluster", v1beta2::FlowCollectorSpec::default());
    let spec = &mut expected.spec;
    spec.agent.kind = v1beta2::AgentType::Ebpf;
    spec.agent.ebpf.privileged = true;
    spec.deployment_model = v1beta2::DeploymentModel::Direct;
    spec.agent.ebpf.cache_active_timeout = "5s".to_string();
    spec.agent.ebpf.cache_max_flows = 100_000;
    spec.loki.mode = v1beta2::LokiMode::Manual;
    spec.loki.write_batch_size = 102_400;
    spec.console_plugin.quick_filters = v1beta1::default_quick_filters();
    assert_eq!(to_json(&new), to_json(&expected));

    // The values that differ from the v1beta2 defaults, spelled out.
    let json = to_json(&new);
    assert_eq!(json["apiVersion"], "flows.netobserv.io/v1beta2");
    assert_eq!(json["metadata"], json!({"name": "cluster"}));
    assert_eq!(json["spec"]["agent"]["type"], "eBPF");
    assert_eq!(json["spec"]["agent"]["ebpf"]["privileged"], true);
    assert_eq!(json["spec"]["deploymentModel"], "Direct");
    assert_eq!(json["spec"]["agent"]["ebpf"]["cacheActiveTimeout"], "5s");
    assert_eq!(json["spec"]["agent"]["ebpf"]["cacheMaxFlows"], 100_000);
    assert_eq!(json["spec"]["loki"]["mode"], "Manual");
    assert_eq!(
        json["spec"]["loki"]["manual"],
        json!({
            "ingesterUrl": "http://loki:3100/",
            "querierUrl": "http://loki:3100/",
            "tenantID": "netobserv",
            "authToken": "Disabled",
            "tls": to_json(&v1beta2::ClientTls::default()),
            "statusTls": to_json(&v1beta2::ClientTls::default()),
        })
    );
    assert_eq!(json["spec"]["loki"]["writeBatchSize"], 102_400);
    assert_eq!(
        json["spec"]["consolePlugin"]["quickFilters"],
        json!([
            {"name": "Applications", "filter": {"flow_layer": "app"}, "default": true},
            {"name": "Infrastructure", "filter": {"flow_layer": "infra"}, "default": false},
            {"name": "Pods network", "filter": {"dst_kind": "Pod", "src_kind": "Pod"}, "default": true},
            {"name": "Services network", "filter": {"dst_kind": "Service"}, "default": false},
        ])
    );
    assert_eq!(json["spec"]["processor"]["logTypes"], "Flows");
    assert!(
        json["spec"]["processor"]["metrics"]
            .get("includeList")
            .is_none()
    );
    for section in ["processor", "loki", "consolePlugin"] {
        assert!(json["spec"][section].get("advanced").is_none(), "{section}");
    }
    assert!(json["spec"]["agent"]["ebpf"].get("advanced").is_none());
    assert!(json.get("status").is_none());
}

/// The project's v1beta1 sample converts and comes back unchanged.
#[test]
fn v1beta1_sample_converts() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/samples/flows_v1beta1_flowcollector.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let old: v1beta1::FlowCollector = serde_yaml::from_str(&text).unwrap();
    let new = to_v1beta2(&old).unwrap();
    assert_eq!(new.spec.deployment_model, v1beta2::DeploymentModel::Direct);
    assert_eq!(new.spec.loki.mode, v1beta2::LokiMode::Manual);
    assert_eq!(
        new.spec.loki.manual.ingester_url,
        "http://loki.netobserv.svc.cluster.local.:3100/"
    );
    assert_eq!(
        new.spec.loki.manual.querier_url,
        new.spec.loki.manual.ingester_url
    );
    let back = down(&wire(&new));
    assert_eq!(without_annotation(&back), without_annotation(&wire(&old)));
}
