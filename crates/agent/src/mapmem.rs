//! Kernel memory of the agent's eBPF maps: what the kernel accounts for each map now (`memlock`
//! in `/proc/self/fdinfo`), and a model of it as `fixed + per_cpu × N` when every map is full,
//! so that `/status` and the benchmark can tell what a node with N CPUs would need.
//!
//! The model follows the kernel's own accounting (`map_mem_usage` of each map type): a hash
//! map costs its bucket array plus, per element, a header, the key and the value (per-CPU maps:
//! one value per possible CPU); preallocated maps pay for every element at creation, maps
//! allocated on demand (`BPF_F_NO_PREALLOC`) as elements arrive. The measured figure at start
//! calibrates the fixed part, so the model's only assumptions are the per-element and per-CPU
//! terms.

use aya::maps::{MapInfo, MapType};
use serde::Serialize;
use std::os::fd::{AsFd, AsRawFd};

/// `BPF_F_NO_PREALLOC`.
const NO_PREALLOC: u32 = 1;
/// Size of the kernel's hash element header (`struct htab_elem` before the key).
const HTAB_ELEM_HEADER: u64 = 48;
/// Per-element overhead of an on-demand element (`llist_node` of the BPF allocator).
const ALLOC_NODE: u64 = 8;

fn round8(v: u32) -> u64 {
    u64::from(v).div_ceil(8) * 8
}

/// One map in `/status`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MapMem {
    /// Kernel map id (`bpftool map show id N`).
    pub id: u32,
    /// Map name (the kernel keeps the first 15 characters).
    pub name: String,
    /// Map type, as aya names it.
    pub kind: String,
    /// Entries (ring buffer: bytes).
    pub max_entries: u32,
    /// Whether elements are allocated on demand.
    pub on_demand: bool,
    /// What the kernel accounts for it now.
    pub bytes_now: u64,
    /// Model, every element present: fixed part.
    pub full_fixed_bytes: u64,
    /// Model, every element present: bytes per possible CPU.
    pub full_per_cpu_bytes: u64,
}

/// The `bpf_maps` part of `/status`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MapMemoryStatus {
    /// What the kernel accounts for all the agent's maps now.
    pub bytes_now: u64,
    /// Possible CPUs of this node (per-CPU maps hold one value for each).
    pub possible_cpus: u32,
    /// At start (every on-demand map empty): fixed part.
    pub start_fixed_bytes: u64,
    /// At start: bytes per possible CPU.
    pub start_per_cpu_bytes: u64,
    /// At start, on a 64-CPU node.
    pub start_bytes_64_cpus: u64,
    /// Model, every map full: fixed part.
    pub full_fixed_bytes: u64,
    /// Model, every map full: bytes per possible CPU.
    pub full_per_cpu_bytes: u64,
    /// The model for this node.
    pub full_bytes_here: u64,
    /// The model for a 64-CPU node.
    pub full_bytes_64_cpus: u64,
    /// `start_fixed + start_per_cpu × N` and `full_fixed + full_per_cpu × N`, in MB / kB.
    pub formula: String,
    /// Per map, largest first.
    pub maps: Vec<MapMem>,
}

/// The model's terms for one map: (fixed growth when full beyond what exists now, bytes per CPU
/// that exist now, bytes per CPU added when full).
fn model(kind: MapType, key: u32, value: u32, max: u32, flags: u32) -> (u64, u64, u64) {
    let max = u64::from(max);
    let on_demand = flags & NO_PREALLOC != 0;
    match kind {
        MapType::Hash | MapType::LruHash => {
            let elem = HTAB_ELEM_HEADER + round8(key) + round8(value);
            if on_demand {
                ((elem + ALLOC_NODE) * max, 0, 0)
            } else {
                // A preallocated shared map keeps one spare element per CPU.
                (0, elem + 8, 0)
            }
        }
        MapType::PerCpuHash | MapType::LruPerCpuHash => {
            let elem = HTAB_ELEM_HEADER + round8(key) + 8;
            if on_demand {
                ((elem + 2 * ALLOC_NODE + 8) * max, 0, round8(value) * max)
            } else {
                (0, round8(value) * max, 0)
            }
        }
        MapType::PerCpuArray => (0, round8(value) * max, 0),
        MapType::LpmTrie => ((48 + u64::from(key) + u64::from(value)) * max, 0, 0),
        _ => (0, 0, 0),
    }
}

/// The object's name of a map whose kernel name (15 characters at most) is ambiguous: several
/// maps share the prefix `aggregated_flow`; their value sizes tell them apart.
fn full_name(kernel: &str, value_size: u32) -> String {
    use netobserv_agent_common::{maps, netevents::NetworkEventsMetrics};
    use std::mem::size_of;
    let known: [(&str, usize); 5] = [
        (
            maps::AGGREGATED_FLOWS,
            size_of::<netobserv_agent_common::FlowMetrics>(),
        ),
        (
            maps::AGGREGATED_FLOWS_DNS,
            size_of::<netobserv_agent_common::DnsMetrics>(),
        ),
        (
            maps::AGGREGATED_FLOWS_PKT_DROP,
            size_of::<netobserv_agent_common::PktDropMetrics>(),
        ),
        (
            maps::AGGREGATED_FLOWS_XLAT,
            size_of::<netobserv_agent_common::XlatMetrics>(),
        ),
        (
            "aggregated_flows_network_events",
            size_of::<NetworkEventsMetrics>(),
        ),
    ];
    known
        .iter()
        .find(|(n, size)| n.starts_with(kernel) && *size == value_size as usize)
        .map_or_else(|| kernel.to_string(), |(n, _)| (*n).to_string())
}

/// Bytes the kernel accounts for the map behind `fd` (`memlock` of its fdinfo).
fn memlock(fd: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("memlock:"))
        .and_then(|v| v.trim().parse().ok())
}

fn mb(v: u64) -> String {
    format!("{:.1} MB", v as f64 / 1e6)
}

/// Measures and models the maps with these kernel ids. `base` holds, per map id, the bytes
/// measured when the maps were empty (at start), which calibrate the fixed part; `None` takes
/// the current figures as that base.
pub fn measure(ids: &[u32], base: Option<&[(u32, u64)]>) -> MapMemoryStatus {
    let cpus = aya::util::nr_cpus().map_or(1, |n| n as u32);
    let mut maps = Vec::new();
    let (mut fixed, mut per_cpu, mut now_total) = (0u64, 0u64, 0u64);
    let (mut start_fixed, mut start_cpu) = (0u64, 0u64);
    for id in ids {
        let Ok(info) = MapInfo::from_id(*id) else {
            continue;
        };
        let Ok(fd) = info.fd() else {
            continue;
        };
        let now = memlock(fd.as_fd().as_raw_fd()).unwrap_or(0);
        let Ok(kind) = info.map_type() else {
            continue;
        };
        let start = base
            .and_then(|b| b.iter().find(|(i, _)| i == id).map(|(_, v)| *v))
            .unwrap_or(now);
        let (grow, cpu_now, cpu_full) = model(
            kind,
            info.key_size(),
            info.value_size(),
            info.max_entries(),
            info.map_flags(),
        );
        let f0 = start.saturating_sub(cpu_now * u64::from(cpus));
        let f = f0 + grow;
        let c = cpu_now + cpu_full;
        start_fixed += f0;
        start_cpu += cpu_now;
        fixed += f;
        per_cpu += c;
        now_total += now;
        maps.push(MapMem {
            id: *id,
            name: full_name(info.name_as_str().unwrap_or("?"), info.value_size()),
            kind: format!("{kind:?}"),
            max_entries: info.max_entries(),
            on_demand: info.map_flags() & NO_PREALLOC != 0,
            bytes_now: now,
            full_fixed_bytes: f,
            full_per_cpu_bytes: c,
        });
    }
    maps.sort_by_key(|m| std::cmp::Reverse(m.bytes_now));
    MapMemoryStatus {
        bytes_now: now_total,
        possible_cpus: cpus,
        start_fixed_bytes: start_fixed,
        start_per_cpu_bytes: start_cpu,
        start_bytes_64_cpus: start_fixed + start_cpu * 64,
        full_fixed_bytes: fixed,
        full_per_cpu_bytes: per_cpu,
        full_bytes_here: fixed + per_cpu * u64::from(cpus),
        full_bytes_64_cpus: fixed + per_cpu * 64,
        formula: format!(
            "at start {} + {:.1} kB × N CPUs; every map full {} + {:.1} kB × N CPUs",
            mb(start_fixed),
            start_cpu as f64 / 1e3,
            mb(fixed),
            per_cpu as f64 / 1e3
        ),
        maps,
    }
}

/// (id, bytes now) of each map, to pass as `base` to later [`measure`] calls.
pub fn baseline(s: &MapMemoryStatus) -> Vec<(u32, u64)> {
    s.maps.iter().map(|m| (m.id, m.bytes_now)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preallocated_shared_hash_grows_only_by_spare_elements_per_cpu() {
        let (grow, cpu, cpu_full) = model(MapType::Hash, 40, 104, 100_000, 0);
        assert_eq!((grow, cpu_full), (0, 0));
        assert_eq!(cpu, 48 + 40 + 104 + 8);
    }

    #[test]
    fn on_demand_per_cpu_hash_grows_with_cpus_when_full() {
        let (grow, cpu, cpu_full) = model(MapType::PerCpuHash, 40, 64, 1000, NO_PREALLOC);
        assert!(grow > 0);
        assert_eq!(cpu, 0);
        assert_eq!(cpu_full, 64 * 1000);
    }

    #[test]
    fn truncated_names_are_told_apart_by_value_size() {
        assert_eq!(full_name("aggregated_flow", 104), "aggregated_flows");
        assert_eq!(full_name("aggregated_flow", 64), "aggregated_flows_dns");
        assert_eq!(full_name("flow_cache", 104), "flow_cache");
    }

    #[test]
    fn shared_on_demand_hash_does_not_grow_with_cpus() {
        let (grow, cpu, cpu_full) = model(MapType::Hash, 40, 64, 1000, NO_PREALLOC);
        assert_eq!((cpu, cpu_full), (0, 0));
        assert_eq!(grow, (48 + 40 + 64 + 8) * 1000);
    }
}
