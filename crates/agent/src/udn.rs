//! UDN mapping (`ENABLE_UDN_MAPPING`): which OVN-Kubernetes User Defined Network each pod
//! interface of the node belongs to, so that every `DupMapEntry` of a flow carries the (C)UDN of
//! its interface and the pipeline can enrich UDN traffic (whose addresses overlap between
//! networks) with the right pod.
//!
//! OVN-Kubernetes tags the OVS `Interface` row of each pod port in `external_ids`: `iface-id`
//! and `iface-id-ver` mark a pod port, and `k8s.ovn.org/network` names the network when it is
//! not the default one. Network names follow OVN-Kubernetes' scheme: `cluster_udn_<name>` for a
//! ClusterUserDefinedNetwork, `<namespace>_<name>` for a namespaced UserDefinedNetwork, anything
//! else a NetworkAttachmentDefinition no (C)UDN owns. The label a flow carries is the one the
//! pipeline indexes pods by: `<namespace>/<name>` for a UDN, the bare name for a CUDN, and
//! `default` for a pod port on the cluster network or on a network no (C)UDN owns (what the
//! upstream agent sends; the pipeline skips it). Interfaces that are not pod ports get no label.
//!
//! The map is read again every `UDN_MAPPING_REFRESH_INTERVAL` by a background task and swapped
//! in whole, so an eviction only clones an `Arc`. A failed read (OVSDB down or restarting) keeps
//! the last good map, is counted in `errors_total{component="udn_mapping",error="ovsdb"}` and
//! shows in the `UDNMapping` row of `/status`.

use crate::config::UdnConfig;
use crate::lock;
use crate::metrics::{HookStatus, Metrics};
use crate::netevents::ovsdb::{OvsdbClient, OvsdbError, Row, string_map};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// `/status` row and `hook_active` label of the feature.
pub const HOOK: &str = "UDNMapping";
/// `external_ids` key naming a pod port's network (absent on the default network).
pub const KEY_NETWORK: &str = "k8s.ovn.org/network";
/// `external_ids` keys OVN-Kubernetes sets on every pod port.
pub const KEY_IFACE_ID: &str = "iface-id";
/// See [`KEY_IFACE_ID`].
pub const KEY_IFACE_ID_VER: &str = "iface-id-ver";
/// Prefix of ClusterUserDefinedNetwork network names.
pub const CUDN_PREFIX: &str = "cluster_udn_";
/// Label of pod ports on the default network (or on a network no (C)UDN owns).
pub const DEFAULT_LABEL: &str = "default";

const DB: &str = "Open_vSwitch";
/// How long one OVSDB request may take: a local unix socket answers in milliseconds, and the
/// refresh must not pile up behind a stuck server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Interface name → UDN label, as an eviction reads it.
pub type UdnMap = Arc<HashMap<String, String>>;

/// The label of a pod port whose `k8s.ovn.org/network` is `network`: `ns/name` for a UDN, the
/// bare name for a CUDN, [`DEFAULT_LABEL`] otherwise (no value, or a name no (C)UDN produces).
pub fn label_of_network(network: Option<&str>) -> String {
    let Some(network) = network.filter(|n| !n.is_empty()) else {
        return DEFAULT_LABEL.to_string();
    };
    if let Some(name) = network.strip_prefix(CUDN_PREFIX)
        && !name.is_empty()
    {
        return name.to_string();
    }
    // Kubernetes names cannot hold `_`, so a UDN's `<namespace>_<name>` splits in exactly two.
    match network.split('_').collect::<Vec<_>>().as_slice() {
        [ns, name] if !ns.is_empty() && !name.is_empty() => format!("{ns}/{name}"),
        _ => DEFAULT_LABEL.to_string(),
    }
}

/// The interface → label map of `Interface` rows (columns `name` and `external_ids`), keeping
/// pod ports only and at most `max` of them; also returns how many pod ports were left out.
pub fn mapping_from_rows(rows: &[Row], max: usize) -> (HashMap<String, String>, usize) {
    let mut map = HashMap::new();
    let mut left_out = 0;
    for row in rows {
        let Some(name) = row.get("name").and_then(|v| v.as_str()) else {
            continue;
        };
        let ids = row.get("external_ids").map(string_map).unwrap_or_default();
        let is_pod_port = [KEY_IFACE_ID, KEY_IFACE_ID_VER]
            .iter()
            .all(|k| ids.get(*k).is_some_and(|v| !v.is_empty()));
        if !is_pod_port || name.is_empty() {
            continue;
        }
        if map.len() >= max && !map.contains_key(name) {
            left_out += 1;
            continue;
        }
        map.insert(
            name.to_string(),
            label_of_network(ids.get(KEY_NETWORK).map(String::as_str)),
        );
    }
    (map, left_out)
}

/// Whether the mapping works, for `/status` and [`crate::Agent::udn_mapping_state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdnMappingState {
    /// Whether the last OVSDB read succeeded.
    pub active: bool,
    /// Why it is not active, or what the last read found.
    pub reason: String,
    /// Pod interfaces in the map in force.
    pub interfaces: usize,
    /// Interfaces mapped to a (C)UDN (not `default`).
    pub on_udns: usize,
}

/// Keeps the interface → UDN map of the node from OVSDB.
pub struct UdnMapper {
    client: tokio::sync::Mutex<OvsdbClient>,
    map: Mutex<UdnMap>,
    state: Mutex<UdnMappingState>,
    max_interfaces: usize,
    metrics: Arc<Metrics>,
}

impl UdnMapper {
    /// A mapper reading the database of `cfg.ovs_socket`; nothing is read until [`Self::refresh`].
    pub fn new(cfg: &UdnConfig, metrics: Arc<Metrics>) -> Self {
        let state = UdnMappingState {
            active: false,
            reason: format!("waiting for the first read of {}", cfg.ovs_socket.display()),
            interfaces: 0,
            on_udns: 0,
        };
        let mapper = Self {
            client: tokio::sync::Mutex::new(OvsdbClient::new(&cfg.ovs_socket, REQUEST_TIMEOUT)),
            map: Mutex::new(Arc::default()),
            state: Mutex::new(state),
            max_interfaces: cfg.max_interfaces,
            metrics,
        };
        mapper.publish();
        mapper
    }

    /// The map in force (cheap: an `Arc` clone).
    pub fn snapshot(&self) -> UdnMap {
        lock(&self.map).clone()
    }

    /// The state after the last read.
    pub fn state(&self) -> UdnMappingState {
        lock(&self.state).clone()
    }

    /// Reads the `Interface` table once and swaps the map in. On failure the previous map stays,
    /// the error is counted and the state says why.
    pub async fn refresh(&self) -> Result<usize, OvsdbError> {
        let rows = {
            let mut client = self.client.lock().await;
            client
                .select(DB, "Interface", Vec::new(), &["name", "external_ids"])
                .await
        };
        let rows = match rows {
            Ok(r) => r,
            Err(e) => {
                self.metrics.count_error("udn_mapping", "ovsdb", "medium");
                let kept = lock(&self.map).len();
                let was_active = {
                    let mut st = lock(&self.state);
                    let was = st.active;
                    st.active = false;
                    st.reason = format!(
                        "OVSDB read failed ({e}); keeping the last mapping ({kept} interfaces)"
                    );
                    was
                };
                if was_active {
                    tracing::warn!(error = %e, kept, "UDN mapping: OVSDB read failed");
                } else {
                    tracing::debug!(error = %e, "UDN mapping: OVSDB still unreadable");
                }
                self.publish();
                return Err(e);
            }
        };
        let (map, left_out) = mapping_from_rows(&rows, self.max_interfaces);
        if left_out > 0 {
            self.metrics
                .count_error("udn_mapping", "MaxInterfacesReached", "low");
            tracing::warn!(
                left_out,
                max = self.max_interfaces,
                "UDN mapping: too many pod interfaces; some get no UDN (UDN_MAPPING_MAX_INTERFACES)"
            );
        }
        let n = map.len();
        let on_udns = map.values().filter(|l| *l != DEFAULT_LABEL).count();
        *lock(&self.map) = Arc::new(map);
        let changed = {
            let mut st = lock(&self.state);
            let new = UdnMappingState {
                active: true,
                reason: format!("{n} pod interfaces, {on_udns} on user-defined networks"),
                interfaces: n,
                on_udns,
            };
            let changed = *st != new;
            *st = new;
            changed
        };
        if changed {
            tracing::debug!(interfaces = n, on_udns, "UDN mapping refreshed");
            self.publish();
        }
        Ok(n)
    }

    /// Refreshes every `interval` until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        // The first read happened at start.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => { let _ = self.refresh().await; }
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    /// Writes the state into the `/status` row.
    fn publish(&self) {
        self.metrics.set_hook_row(status_row(&self.state()));
    }
}

/// The `/status` row of a running mapper.
pub fn status_row(st: &UdnMappingState) -> HookStatus {
    HookStatus {
        hook: HOOK.into(),
        active: st.active,
        mode: Some("ovsdb".into()),
        reason: Some(st.reason.clone()),
        ..HookStatus::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn network_names_become_pipeline_labels() {
        assert_eq!(
            label_of_network(Some("cluster_udn_tenant-blue")),
            "tenant-blue"
        );
        assert_eq!(label_of_network(Some("ns1_udn-a")), "ns1/udn-a");
        assert_eq!(label_of_network(None), "default");
        assert_eq!(label_of_network(Some("")), "default");
        // A NAD no (C)UDN owns, or a malformed name.
        assert_eq!(label_of_network(Some("tenantnet")), "default");
        assert_eq!(label_of_network(Some("a_b_c")), "default");
        assert_eq!(label_of_network(Some("cluster_udn_")), "default");
        assert_eq!(label_of_network(Some("_x")), "default");
    }

    fn row(name: &str, ids: &[(&str, &str)]) -> Row {
        let pairs: Vec<_> = ids.iter().map(|(k, v)| json!([k, v])).collect();
        json!({"name": name, "external_ids": ["map", pairs]})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn only_pod_ports_are_mapped_and_the_map_is_bounded() {
        let pod = [("iface-id", "ns_pod"), ("iface-id-ver", "uid")];
        let rows = vec![
            row("br-int", &[]),
            row("patch-x", &[("iface-id", "x")]),
            row("veth-default", &pod),
            row("veth-udn", &[pod[0], pod[1], (KEY_NETWORK, "ns1_udn-a")]),
            row(
                "veth-cudn",
                &[pod[0], pod[1], (KEY_NETWORK, "cluster_udn_blue")],
            ),
        ];
        let (map, left_out) = mapping_from_rows(&rows, 10);
        assert_eq!(left_out, 0);
        assert_eq!(map.len(), 3);
        assert_eq!(map["veth-default"], "default");
        assert_eq!(map["veth-udn"], "ns1/udn-a");
        assert_eq!(map["veth-cudn"], "blue");
        let (map, left_out) = mapping_from_rows(&rows, 2);
        assert_eq!((map.len(), left_out), (2, 1));
    }
}
