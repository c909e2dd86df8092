//! Packet-capture settings (`ENABLE_PCA` and what goes with it), read with the rest of the
//! configuration. With `ENABLE_PCA=true` the agent runs in packet mode, as upstream's does: the
//! capture classifiers replace the flow classifiers, and packets go to a `pbpacket.Collector`
//! at `TARGET_HOST:TARGET_PORT` instead of flows.

use super::{ConfigError, Var, invalid, parse_bool, parse_num};
use netobserv_agent_common::capture::{DEFAULT_SNAPLEN, MAX_SNAPLEN};

/// Default size of the `packet_record` ring buffer: 8 MiB, about 28,000 packets at the default
/// snap length, a third of a second of a 100,000 packets/s burst while user space is busy.
pub const DEFAULT_RINGBUF_BYTES: u32 = 8 << 20;

/// Default number of packets waiting for the collector before new ones are dropped (and counted).
pub const DEFAULT_QUEUE_PACKETS: usize = 16_384;

/// Default number of calls in flight at once towards the collector.
pub const DEFAULT_IN_FLIGHT: usize = 4;

/// Default number of packets per `SendBatch` call at most.
pub const DEFAULT_BATCH: usize = 1000;

/// Packet capture settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    /// `ENABLE_PCA`: packet mode instead of flows.
    pub enable: bool,
    /// Not upstream (which copies 256 bytes): `PCA_SNAPLEN`, the bytes copied per packet at most,
    /// 1 to 65,536 (a whole 64 KiB GSO packet).
    pub snaplen: u32,
    /// Not upstream: `PCA_RINGBUF_BYTES`, the size of the kernel ring buffer that carries the
    /// packets to user space (rounded up to a power of two, 64 KiB to 1 GiB). A full ring loses
    /// packets, counted and reported.
    pub ringbuf_bytes: u32,
    /// Not upstream: `PCA_EXPORT_QUEUE`, the packets waiting for the collector at most; beyond,
    /// packets are dropped, counted and reported.
    pub queue_packets: usize,
    /// Not upstream: `PCA_EXPORT_IN_FLIGHT`, the calls in flight at once. With more than one,
    /// a collector may receive batches slightly out of capture order (each packet carries its
    /// time stamp).
    pub in_flight: usize,
    /// Not upstream: `PCA_EXPORT_BATCH`, the packets per `SendBatch` call at most (a
    /// netobserv-rs addition to `pbpacket`, falling back to upstream's one `Send` per packet
    /// when the collector does not know it); 0 = one `Send` per packet from the start.
    pub batch: usize,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            enable: false,
            snaplen: DEFAULT_SNAPLEN,
            ringbuf_bytes: DEFAULT_RINGBUF_BYTES,
            queue_packets: DEFAULT_QUEUE_PACKETS,
            in_flight: DEFAULT_IN_FLIGHT,
            batch: DEFAULT_BATCH,
        }
    }
}

/// Reads the packet capture variables.
pub(super) fn read(c: &mut CaptureConfig, var: Var<'_>) -> Result<(), ConfigError> {
    if let Some(v) = var("ENABLE_PCA") {
        c.enable = parse_bool("ENABLE_PCA", &v)?;
    }
    if let Some(v) = var("PCA_SNAPLEN") {
        let n: u32 = parse_num("PCA_SNAPLEN", &v)?;
        if n == 0 || n > MAX_SNAPLEN {
            return Err(invalid(
                "PCA_SNAPLEN",
                &v,
                format!("must be between 1 and {MAX_SNAPLEN}"),
            ));
        }
        c.snaplen = n;
    }
    if let Some(v) = var("PCA_RINGBUF_BYTES") {
        let n: u32 = parse_num("PCA_RINGBUF_BYTES", &v)?;
        if !(64 << 10..=1 << 30).contains(&n) {
            return Err(invalid(
                "PCA_RINGBUF_BYTES",
                &v,
                "must be between 65536 (64 KiB) and 1073741824 (1 GiB)",
            ));
        }
        c.ringbuf_bytes = n.next_power_of_two();
    }
    if let Some(v) = var("PCA_EXPORT_QUEUE") {
        c.queue_packets = parse_num("PCA_EXPORT_QUEUE", &v)?;
        if c.queue_packets == 0 {
            return Err(invalid("PCA_EXPORT_QUEUE", &v, "must be > 0"));
        }
    }
    if let Some(v) = var("PCA_EXPORT_BATCH") {
        c.batch = parse_num("PCA_EXPORT_BATCH", &v)?;
    }
    if let Some(v) = var("PCA_EXPORT_IN_FLIGHT") {
        c.in_flight = parse_num("PCA_EXPORT_IN_FLIGHT", &v)?;
        if c.in_flight == 0 {
            return Err(invalid("PCA_EXPORT_IN_FLIGHT", &v, "must be > 0"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m.entry("TARGET_HOST".into()).or_insert_with(|| "h".into());
        m.entry("TARGET_PORT".into()).or_insert_with(|| "1".into());
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn off_by_default_with_upstreams_snap_length() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.capture, CaptureConfig::default());
        assert!(!c.capture.enable);
        assert_eq!(c.capture.snaplen, 256);
    }

    #[test]
    fn packet_mode_settings() {
        let c = cfg(&[
            ("ENABLE_PCA", "true"),
            ("PCA_SNAPLEN", "65536"),
            ("PCA_RINGBUF_BYTES", "100000"),
            ("PCA_EXPORT_QUEUE", "10"),
            ("PCA_EXPORT_IN_FLIGHT", "16"),
            ("PCA_EXPORT_BATCH", "0"),
        ])
        .unwrap();
        assert!(c.capture.enable);
        assert_eq!(c.capture.snaplen, 65_536);
        assert_eq!(
            c.capture.ringbuf_bytes,
            128 << 10,
            "rounded up to a power of two"
        );
        assert_eq!((c.capture.queue_packets, c.capture.in_flight), (10, 16));
        assert_eq!(c.capture.batch, 0, "one Send per packet");
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("ENABLE_PCA", "yes please"),
            ("PCA_SNAPLEN", "0"),
            ("PCA_SNAPLEN", "65537"),
            ("PCA_RINGBUF_BYTES", "4096"),
            ("PCA_EXPORT_QUEUE", "0"),
            ("PCA_EXPORT_IN_FLIGHT", "x"),
            ("PCA_EXPORT_BATCH", "-1"),
        ] {
            let e = cfg(&[(k, v)]).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { name, .. } if *name == k),
                "{k}={v}: {e}"
            );
        }
    }
}
