//! `/api/frontend-config`: what the UI shows — columns, filters, scopes, quick filters, panels —
//! built in from the field catalogue, with the `frontend` section of the configuration (the
//! operator renders features, record types, quick filters, sampling...) laid over it key by key.

use netobserv_flowstore::fields::{self, Group};
use netobserv_flowstore::filter::{ENDPOINT_IDS, FILTER_IDS};
use serde_json::{Value, json};

/// Columns shown by default.
const DEFAULT_VISIBLE: &[&str] = &[
    "TimeFlowEndMs",
    "SrcK8S_Name",
    "SrcK8S_Namespace",
    "SrcPort",
    "DstK8S_Name",
    "DstK8S_Namespace",
    "DstPort",
    "Proto",
    "Bytes",
    "Packets",
    "DnsLatencyMs",
    "DnsFlagsResponseCode",
    "TimeFlowRttNs",
    "NetworkEvents",
    "ZoneId",
    "XlatSrcK8S_Name",
    "XlatDstK8S_Name",
    "IPSecStatus",
];

/// The feature flag a group of columns depends on.
fn feature(group: Group) -> Option<&'static str> {
    match group {
        Group::Dns => Some("dnsTracking"),
        Group::Drops => Some("pktDrop"),
        Group::Rtt => Some("flowRTT"),
        Group::NetworkEvents => Some("networkEvents"),
        Group::Translation => Some("packetTranslation"),
        _ => None,
    }
}

/// The feature flag of one column: its group's, or `ipsec` for the IPsec fields.
fn column_feature(name: &str, group: Group) -> Option<&'static str> {
    if name.starts_with("IPSec") {
        Some("ipsec")
    } else {
        feature(group)
    }
}

fn group_name(group: Group) -> &'static str {
    match group {
        Group::Record => "Record",
        Group::Network => "Network",
        Group::Interfaces => "Interfaces",
        Group::Kubernetes => "Kubernetes",
        Group::Dns => "DNS",
        Group::Drops => "Drops",
        Group::Rtt => "RTT",
        Group::NetworkEvents => "Network events",
        Group::Translation => "Translation",
        Group::Crypto => "Encryption",
        Group::Conntrack => "Conversations",
        Group::Host => "Host",
    }
}

/// One column per catalogued field.
pub fn columns() -> Vec<Value> {
    fields::FIELDS
        .iter()
        .map(|f| {
            let mut c = json!({
                "id": f.name,
                "name": f.name,
                "field": f.name,
                "group": group_name(f.group),
                "default": DEFAULT_VISIBLE.contains(&f.name),
            });
            if let Some(feat) = column_feature(f.name, f.group)
                && let Some(m) = c.as_object_mut()
            {
                m.insert("feature".into(), json!(feat));
            }
            c
        })
        .collect()
}

/// Every filter id and the fields it matches.
pub fn filters() -> Vec<Value> {
    let mut out: Vec<Value> = FILTER_IDS
        .iter()
        .map(|(id, field)| json!({"id": id, "fields": [field]}))
        .collect();
    for (id, suffix) in ENDPOINT_IDS {
        let (src, dst) = (format!("Src{suffix}"), format!("Dst{suffix}"));
        out.push(json!({"id": id, "fields": [src, dst], "either": true}));
        out.push(json!({"id": format!("src_{id}"), "fields": [src]}));
        out.push(json!({"id": format!("dst_{id}"), "fields": [dst]}));
    }
    out
}

/// Topology and overview scopes.
pub fn scopes() -> Vec<Value> {
    [
        ("cluster", "Cluster", Some("zone")),
        ("zone", "Zone", Some("host")),
        ("host", "Node", Some("namespace")),
        ("namespace", "Namespace", Some("owner")),
        ("owner", "Owner", Some("resource")),
        ("resource", "Resource", None),
        // Local mode: the process behind each end (host_process), else its address.
        ("process", "Process", None),
    ]
    .into_iter()
    .map(|(id, name, step)| {
        json!({
            "id": id,
            "name": name,
            "labels": crate::params::scope_labels(id).unwrap_or(&[]),
            "stepInto": step,
        })
    })
    .collect()
}

/// The built-in configuration.
pub fn defaults() -> Value {
    json!({
        "recordTypes": ["flowLog"],
        "portNaming": {"enable": true, "portNames": {}},
        "columns": columns(),
        "filters": filters(),
        "scopes": scopes(),
        "quickFilters": [
            {"name": "Applications", "filter": {"flow_layer": "\"app\""}, "default": true},
            {"name": "Infrastructure", "filter": {"flow_layer": "\"infra\""}, "default": false},
            {"name": "Pods network", "filter": {"src_kind": "\"Pod\"", "dst_kind": "\"Pod\""}, "default": true},
            {"name": "Services network", "filter": {"dst_kind": "\"Service\""}, "default": false},
            {"name": "DNS", "filter": {"dns_id!": "\"\""}, "default": false}
        ],
        // Without a configured list (local mode, a store or a capture file): every feature the
        // store keeps a column for. The operator always renders its own list.
        "features": ["pktDrop", "dnsTracking", "flowRTT", "networkEvents", "packetTranslation"],
        "sampling": 50,
        "panels": [
            "top_avg_byte_rates", "top_sankey", "byte_rates", "top_avg_packet_rates",
            "dropped_packet_rates", "state_dropped_packet_rates", "cause_dropped_packet_rates",
            "top_avg_dns_latency", "rcode_dns_latency_flows", "top_avg_rtt"
        ],
        "alertNamespaces": [],
    })
}

/// `frontend` from the configuration laid over the defaults (top-level keys replaced), plus what
/// the UI needs to know about the running backend.
pub fn merged(configured: Option<&Value>, data_sources: &[&str], loki_labels: &[String]) -> Value {
    let mut out = defaults();
    if let (Some(Value::Object(cfg)), Some(base)) = (configured, out.as_object_mut()) {
        for (k, v) in cfg {
            base.insert(k.clone(), v.clone());
        }
    }
    if let Some(m) = out.as_object_mut() {
        m.insert("dataSources".into(), json!(data_sources));
        m.insert("lokiLabels".into(), json!(loki_labels));
        m.insert("buildVersion".into(), json!(env!("CARGO_PKG_VERSION")));
    }
    out
}
