//! The in-process pipeline of local mode, as an upstream flowlogs-pipeline configuration fed by
//! the agent (`preset-ingester`): subnet labels, the local process and container behind each
//! flow (`host_process`), then two branches — the SQLite flow store the console reads, and
//! Prometheus counters served on the metrics address.

use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;

/// Where the pipeline writes and serves.
pub struct PipelineTargets<'a> {
    /// The flow store file.
    pub store: &'a Path,
    /// Retention by age (Go duration).
    pub retention: &'a str,
    /// Retention by size, bytes (0: none).
    pub max_bytes: u64,
    /// Prometheus endpoint of the pipeline's metrics.
    pub metrics: SocketAddr,
    /// The observed network namespace (whose sockets name the processes), when not this one.
    pub netns: Option<&'a Path>,
    /// `--query`: only the flows it matches go further (a `keep_entry_query` filter first).
    pub query: Option<&'a str>,
    /// The services file naming ports (`/etc/services` when the host has one).
    pub services: Option<&'a Path>,
    /// A kubeconfig whose cluster answered: addresses get Kubernetes metadata (`SrcK8S_*`).
    pub kubeconfig: Option<&'a Path>,
    /// The observed host's own addresses: subnet label `host`.
    pub host_addresses: &'a [std::net::IpAddr],
}

/// The pipeline configuration (JSON text, as the agent's `FLP_CONFIG`).
pub fn config(t: &PipelineTargets<'_>) -> String {
    let mut store = json!({
        "path": t.store.display().to_string(),
        "flushInterval": "1s",
        "maxAge": t.retention,
        "peerRollup": true,
    });
    if t.max_bytes > 0 {
        store["maxBytes"] = json!(t.max_bytes);
    }
    let mut process = json!({"scanInterval": "500ms", "keepFor": "1m", "resolvedNames": true});
    if let Some(services) = t.services {
        process["services"] = json!(services.display().to_string());
    }
    if let Some(ns) = t.netns {
        process["netns"] = json!(ns.display().to_string());
    }
    let counter = |name: &str, value: Option<&str>, labels: &[&str]| {
        let mut m = json!({"name": name, "type": "counter", "labels": labels});
        if let Some(v) = value {
            m["valueKey"] = json!(v);
        }
        m
    };
    let labels = ["SrcSubnetLabel", "DstSubnetLabel", "Proto"];
    let host_cidrs: Vec<String> = t
        .host_addresses
        .iter()
        .map(|a| match a {
            std::net::IpAddr::V4(_) => format!("{a}/32"),
            std::net::IpAddr::V6(_) => format!("{a}/128"),
        })
        .collect();
    let mut config = json!({
        "pipeline": [
            {"name": "enrich", "follows": "preset-ingester"},
            {"name": "process", "follows": "enrich"},
            {"name": "store", "follows": "process"},
            {"name": "prometheus", "follows": "process"}
        ],
        "parameters": [
            {"name": "enrich", "transform": {"type": "network", "network": {
                "rules": [
                    {"type": "add_subnet_label", "add_subnet_label": {"input": "SrcAddr", "output": "SrcSubnetLabel"}},
                    {"type": "add_subnet_label", "add_subnet_label": {"input": "DstAddr", "output": "DstSubnetLabel"}}
                ],
                "subnetLabels": [
                    {"name": "host", "cidrs": host_cidrs},
                    {"name": "loopback", "cidrs": ["127.0.0.0/8", "::1/128"]},
                    {"name": "private", "cidrs": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]},
                    {"name": "link-local", "cidrs": ["169.254.0.0/16", "fe80::/10"]},
                    {"name": "EXT:public", "cidrs": ["0.0.0.0/0", "::/0"]}
                ]
            }}},
            {"name": "process", "transform": {"type": "host_process", "host_process": process}},
            {"name": "store", "write": {"type": "sqlite", "sqlite": store}},
            {"name": "prometheus", "encode": {"type": "prom", "prom": {
                "prefix": "netobserv_",
                "metrics": [
                    counter("host_bytes_total", Some("Bytes"), &labels),
                    counter("host_packets_total", Some("Packets"), &labels),
                    counter("host_flows_total", None, &labels)
                ]
            }}}
        ],
        "metricsSettings": {
            "address": t.metrics.ip().to_string(),
            "port": t.metrics.port()
        }
    });
    if host_cidrs.is_empty()
        && let Some(labels) =
            config["parameters"][0]["transform"]["network"]["subnetLabels"].as_array_mut()
    {
        labels.remove(0);
    }
    if let Some(path) = t.kubeconfig {
        let network = &mut config["parameters"][0]["transform"]["network"];
        network["kubeConfig"] = json!({"configPath": path.display().to_string()});
        if let Some(rules) = network["rules"].as_array_mut() {
            for side in ["Src", "Dst"] {
                rules.push(json!({"type": "add_kubernetes", "kubernetes": {
                    "ipField": format!("{side}Addr"),
                    "output": format!("{side}K8S"),
                    "add_zone": true
                }}));
            }
        }
    }
    if let Some(query) = t.query.filter(|q| !q.trim().is_empty()) {
        config["pipeline"][0]["follows"] = json!("query");
        if let Some(stages) = config["pipeline"].as_array_mut() {
            stages.insert(0, json!({"name": "query", "follows": "preset-ingester"}));
        }
        if let Some(params) = config["parameters"].as_array_mut() {
            params.insert(
                0,
                json!({"name": "query", "transform": {"type": "filter", "filter": {
                    "rules": [{"type": "keep_entry_query", "keepEntryQuery": query}]
                }}}),
            );
        }
    }
    config.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn targets<'a>(store: &'a Path, query: Option<&'a str>) -> PipelineTargets<'a> {
        PipelineTargets {
            store,
            retention: "24h",
            max_bytes: 0,
            metrics: SocketAddr::from(([127, 0, 0, 1], 9102)),
            netns: None,
            query,
            services: None,
            kubeconfig: None,
            host_addresses: &[],
        }
    }

    #[test]
    fn a_query_filters_before_everything_else() {
        let store = PathBuf::from("/tmp/flows.db");
        let plain: serde_json::Value =
            serde_json::from_str(&config(&targets(&store, None))).expect("json");
        assert_eq!(plain["pipeline"][0]["follows"], "preset-ingester");
        let text = config(&targets(&store, Some("Proto = 6")));
        let with: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            with["pipeline"][0],
            json!({"name": "query", "follows": "preset-ingester"})
        );
        assert_eq!(
            with["pipeline"][1],
            json!({"name": "enrich", "follows": "query"})
        );
        assert_eq!(
            with["parameters"][0]["transform"]["filter"]["rules"][0]["keepEntryQuery"],
            "Proto = 6"
        );
        let subnets = &with["parameters"][1]["transform"]["network"]["subnetLabels"];
        assert_eq!(
            subnets[0]["name"], "loopback",
            "no host label without addresses"
        );
        let mut t = targets(&store, None);
        let addrs = [
            "10.0.0.5".parse().expect("ip"),
            "fd00::5".parse().expect("ip"),
        ];
        t.host_addresses = &addrs;
        let host: serde_json::Value = serde_json::from_str(&config(&t)).expect("json");
        assert_eq!(
            host["parameters"][0]["transform"]["network"]["subnetLabels"][0],
            json!({"name": "host", "cidrs": ["10.0.0.5/32", "fd00::5/128"]})
        );
        // The pipeline's own parser accepts it as one graph.
        let parsed = netobserv_pipeline::config::Config::parse(&text).expect("pipeline config");
        parsed.check().expect("a valid graph");
    }
}
