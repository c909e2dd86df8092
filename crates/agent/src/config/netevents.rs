//! NetworkEvents settings (`ENABLE_NETWORK_EVENTS_MONITORING` and the OVN / OVS sockets it
//! needs), read with the rest of the configuration.

use super::{ConfigError, Var, invalid, parse_bool, parse_go_duration, parse_num};
use std::path::PathBuf;
use std::time::Duration;

/// NetworkEvents (OVN observability samples) settings, grouped so the feature reads in one
/// place.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkEventsConfig {
    /// `ENABLE_NETWORK_EVENTS_MONITORING`.
    pub enable: bool,
    /// `NETWORK_EVENTS_MONITORING_GROUP_ID`: the psample group OVN samples into (default 10).
    pub group_id: u32,
    /// Not upstream (which hard-codes it): `NETWORK_EVENTS_OVNNB_SOCKET`, the OVN Northbound
    /// database's unix socket used to decode sample cookies.
    pub nb_socket: PathBuf,
    /// Not upstream: `NETWORK_EVENTS_CACHE_TTL`, how long a decoded cookie is reused.
    pub cache_ttl: Duration,
    /// Not upstream: `NETWORK_EVENTS_CACHE_MAX_ENTRIES`, most decoded cookies kept.
    pub cache_max_entries: usize,
    /// Not upstream (which hard-codes it): `NETWORK_EVENTS_OVS_SOCKET`, the local Open vSwitch
    /// database's unix socket, where the agent registers the OVS sample collector set that makes
    /// OVS hand OVN's samples to psample.
    pub ovs_socket: PathBuf,
    /// Not upstream: `NETWORK_EVENTS_REGISTER_OVS_COLLECTOR` (default true). Off when something
    /// else (e.g. `ovnkube-observ`) manages the collector set and the agent must not touch OVS.
    pub register_ovs_collector: bool,
    /// Not upstream: `NETWORK_EVENTS_OVS_CHECK_INTERVAL` (default 30s), how often the collector
    /// set registration is checked: a failed one retried (OVS or br-int may come up after the
    /// agent at node boot), a vanished one put back (OVS database reset).
    pub ovs_check_interval: Duration,
}

impl Default for NetworkEventsConfig {
    fn default() -> Self {
        Self {
            enable: false,
            group_id: 10,
            nb_socket: PathBuf::from("/var/run/ovn/ovnnb_db.sock"),
            cache_ttl: Duration::from_secs(300),
            cache_max_entries: 4096,
            ovs_socket: PathBuf::from("/var/run/openvswitch/db.sock"),
            register_ovs_collector: true,
            ovs_check_interval: Duration::from_secs(30),
        }
    }
}

/// Reads networkEvents (OVN samples) and its OVS/OVN sockets.
pub(super) fn read(c: &mut NetworkEventsConfig, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("ENABLE_NETWORK_EVENTS_MONITORING") {
        c.enable = parse_bool("ENABLE_NETWORK_EVENTS_MONITORING", &v)?;
    }
    if let Some(v) = var("NETWORK_EVENTS_MONITORING_GROUP_ID") {
        c.group_id = parse_num("NETWORK_EVENTS_MONITORING_GROUP_ID", &v)?;
    }
    if let Some(v) = var("NETWORK_EVENTS_OVNNB_SOCKET") {
        c.nb_socket = PathBuf::from(v);
    }
    if let Some(v) = var("NETWORK_EVENTS_CACHE_TTL") {
        c.cache_ttl = parse_go_duration(&v)
            .ok_or_else(|| invalid("NETWORK_EVENTS_CACHE_TTL", &v, "not a duration"))?;
    }
    if let Some(v) = var("NETWORK_EVENTS_CACHE_MAX_ENTRIES") {
        c.cache_max_entries = parse_num("NETWORK_EVENTS_CACHE_MAX_ENTRIES", &v)?;
    }
    if let Some(v) = var("NETWORK_EVENTS_OVS_SOCKET") {
        c.ovs_socket = PathBuf::from(v);
    }
    if let Some(v) = var("NETWORK_EVENTS_REGISTER_OVS_COLLECTOR") {
        c.register_ovs_collector = parse_bool("NETWORK_EVENTS_REGISTER_OVS_COLLECTOR", &v)?;
    }
    if let Some(v) = var("NETWORK_EVENTS_OVS_CHECK_INTERVAL") {
        c.ovs_check_interval = parse_go_duration(&v)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                invalid(
                    "NETWORK_EVENTS_OVS_CHECK_INTERVAL",
                    &v,
                    "not a positive duration",
                )
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<NetworkEventsConfig, ConfigError> {
        let m: HashMap<&str, &str> = pairs.iter().copied().collect();
        let mut c = NetworkEventsConfig::default();
        read(&mut c, &|k: &str| m.get(k).map(|v| v.to_string()))?;
        Ok(c)
    }

    #[test]
    fn network_events_variables() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c, NetworkEventsConfig::default());
        assert_eq!(c.group_id, 10);
        let c = cfg(&[
            ("ENABLE_NETWORK_EVENTS_MONITORING", "true"),
            ("NETWORK_EVENTS_MONITORING_GROUP_ID", "42"),
            ("NETWORK_EVENTS_OVNNB_SOCKET", "/tmp/nb.sock"),
            ("NETWORK_EVENTS_CACHE_TTL", "30s"),
            ("NETWORK_EVENTS_OVS_SOCKET", "/tmp/ovs.sock"),
            ("NETWORK_EVENTS_REGISTER_OVS_COLLECTOR", "false"),
            ("NETWORK_EVENTS_OVS_CHECK_INTERVAL", "5s"),
        ])
        .unwrap();
        assert!(c.enable);
        assert_eq!(c.group_id, 42);
        assert_eq!(c.nb_socket, PathBuf::from("/tmp/nb.sock"));
        assert_eq!(c.cache_ttl, Duration::from_secs(30));
        assert_eq!(c.ovs_socket, PathBuf::from("/tmp/ovs.sock"));
        assert!(!c.register_ovs_collector);
        assert_eq!(c.ovs_check_interval, Duration::from_secs(5));
        let d = NetworkEventsConfig::default();
        assert_eq!(d.ovs_socket, PathBuf::from("/var/run/openvswitch/db.sock"));
        assert!(d.register_ovs_collector);
    }
}
