//! UDN mapping settings (`ENABLE_UDN_MAPPING` and the Open vSwitch database it reads), read with
//! the rest of the configuration.
//!
//! Upstream has only the switch and hard-codes the rest (OVSDB at `/var/run/openvswitch/db.sock`,
//! a lookup at each eviction); the extra variables exist so tests can point the agent at their
//! own `ovsdb-server` and so a busy node can query OVSDB less often than it evicts.

use super::{ConfigError, Var, invalid, parse_bool, parse_go_duration, parse_num};
use std::path::PathBuf;
use std::time::Duration;

/// Default most interfaces kept in the interface → UDN map: far above the pods one node runs
/// (OVN-Kubernetes' default limit is 250 per node, a few interfaces each), so only a runaway
/// database hits it.
pub const DEFAULT_MAX_INTERFACES: usize = 16_384;

/// UDN mapping (OVN-Kubernetes User Defined Networks) settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdnConfig {
    /// `ENABLE_UDN_MAPPING`: tag each interface of a flow with the (C)UDN its pod port belongs
    /// to (`DupMapEntry.udn`), from the `external_ids` of the OVS `Interface` rows.
    pub enable: bool,
    /// Not upstream: `UDN_MAPPING_REFRESH_INTERVAL` (default 10s), how often the interface
    /// table is read again. A pod created in between gets its UDN at the next refresh.
    pub refresh_interval: Duration,
    /// Not upstream (which hard-codes it): `UDN_MAPPING_OVS_SOCKET`, the local Open vSwitch
    /// database's unix socket.
    pub ovs_socket: PathBuf,
    /// Not upstream: `UDN_MAPPING_MAX_INTERFACES`, most interfaces kept in the map; the others
    /// are counted and left without a UDN, so a huge table cannot grow the agent's memory.
    pub max_interfaces: usize,
}

impl Default for UdnConfig {
    fn default() -> Self {
        Self {
            enable: false,
            refresh_interval: Duration::from_secs(10),
            ovs_socket: PathBuf::from("/var/run/openvswitch/db.sock"),
            max_interfaces: DEFAULT_MAX_INTERFACES,
        }
    }
}

/// Reads the UDN mapping variables into `c`.
pub(super) fn read(c: &mut UdnConfig, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("ENABLE_UDN_MAPPING") {
        c.enable = parse_bool("ENABLE_UDN_MAPPING", &v)?;
    }
    if let Some(v) = var("UDN_MAPPING_REFRESH_INTERVAL") {
        c.refresh_interval = parse_go_duration(&v)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                invalid(
                    "UDN_MAPPING_REFRESH_INTERVAL",
                    &v,
                    "expected a positive duration like 10s",
                )
            })?;
    }
    if let Some(v) = var("UDN_MAPPING_OVS_SOCKET") {
        c.ovs_socket = PathBuf::from(v);
    }
    if let Some(v) = var("UDN_MAPPING_MAX_INTERFACES") {
        c.max_interfaces = parse_num("UDN_MAPPING_MAX_INTERFACES", &v)?;
        if c.max_interfaces == 0 {
            return Err(invalid("UDN_MAPPING_MAX_INTERFACES", &v, "must be > 0"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<UdnConfig, ConfigError> {
        let m: HashMap<&str, &str> = pairs.iter().copied().collect();
        let mut c = UdnConfig::default();
        read(&mut c, &|k: &str| m.get(k).map(|v| v.to_string()))?;
        Ok(c)
    }

    #[test]
    fn defaults_are_upstream_ones() {
        let c = cfg(&[]).expect("defaults");
        assert!(!c.enable);
        assert_eq!(c.refresh_interval, Duration::from_secs(10));
        assert_eq!(c.ovs_socket, PathBuf::from("/var/run/openvswitch/db.sock"));
        assert_eq!(c.max_interfaces, DEFAULT_MAX_INTERFACES);
    }

    #[test]
    fn variables_are_read_and_checked() {
        let c = cfg(&[
            ("ENABLE_UDN_MAPPING", "true"),
            ("UDN_MAPPING_REFRESH_INTERVAL", "1500ms"),
            ("UDN_MAPPING_OVS_SOCKET", "/tmp/db.sock"),
            ("UDN_MAPPING_MAX_INTERFACES", "10"),
        ])
        .expect("valid");
        assert!(c.enable);
        assert_eq!(c.refresh_interval, Duration::from_millis(1500));
        assert_eq!(c.ovs_socket, PathBuf::from("/tmp/db.sock"));
        assert_eq!(c.max_interfaces, 10);
        for bad in [
            ("ENABLE_UDN_MAPPING", "maybe"),
            ("UDN_MAPPING_REFRESH_INTERVAL", "0s"),
            ("UDN_MAPPING_REFRESH_INTERVAL", "ten"),
            ("UDN_MAPPING_MAX_INTERFACES", "0"),
        ] {
            assert!(
                matches!(cfg(&[bad]), Err(ConfigError::Invalid { .. })),
                "{bad:?}"
            );
        }
    }
}
