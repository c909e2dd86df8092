//! The shared flow map `aggregated_flows`: creating a flow's entry and adding packets to it,
//! with the counting-interface rule (one interface counts a flow's bytes and packets, the others
//! are only listed as observed).

use crate::base::{EEXIST, count, xadd_u32, xadd_u64};
use crate::flow::Delta;
use crate::ring::overflow;
use aya_ebpf::{bindings::BPF_NOEXIST, macros::map, maps::HashMap};
use netobserv_agent_common::{
    DIRECTION_BOTH, FlowId, FlowMetrics, MAX_OBSERVED_INTERFACES, counters,
};

/// The shared flow table. Resized by user space to `CACHE_MAX_FLOWS` before load.
/// Preallocated: a new flow pops a ready element off a per-CPU free list instead of going
/// through the kernel's BPF memory allocator (whose refills raise an IRQ work), which halves
/// the cost of the first packet of a flow.
#[map(name = "aggregated_flows")]
pub(crate) static AGGREGATED_FLOWS: HashMap<FlowId, FlowMetrics> = HashMap::with_max_entries(65536, 0);

/// Records `ifindex` in the flow's observed-interface list (no byte counting there).
/// Written with `get`/`get_mut` only, so no bounds-check panic path reaches the verifier.
#[inline(always)]
pub(crate) fn add_observed(m: &mut FlowMetrics, ifindex: u32, direction: u8) {
    let n = m.nb_observed_intf as usize;
    for i in 0..MAX_OBSERVED_INTERFACES {
        if i >= n {
            break;
        }
        let (Some(intf), Some(dir)) = (m.observed_intf.get(i), m.observed_direction.get_mut(i))
        else {
            break;
        };
        if *intf == ifindex {
            if *dir != direction {
                *dir = DIRECTION_BOTH;
            }
            return;
        }
    }
    match (m.observed_intf.get_mut(n), m.observed_direction.get_mut(n)) {
        (Some(intf), Some(dir)) => {
            *intf = ifindex;
            *dir = direction;
            m.nb_observed_intf = (n + 1) as u8;
        }
        _ => {
            if m.eth_protocol != 0 {
                count(counters::OBSERVED_INTF_MISSED);
            }
        }
    }
}

/// Adds `d` to an existing flow entry: counted when `ifindex` is the flow's counting interface,
/// otherwise only listed in its observed interfaces. Returns whether it was counted.
#[inline(always)]
pub(crate) fn update(m: *mut FlowMetrics, ifindex: u32, direction: u8, d: &Delta) -> bool {
    // SAFETY: `m` comes from a successful map lookup and stays valid during this program run.
    let m = unsafe { &mut *m };
    if m.if_index_first_seen == ifindex {
        xadd_u32(&mut m.packets, d.packets);
        xadd_u64(&mut m.bytes, d.bytes);
        if d.end > m.end_mono_time_ts {
            m.end_mono_time_ts = d.end;
        }
        m.flags |= d.flags;
        m.dscp = d.dscp;
        m.sampling = d.sampling;
        true
    } else {
        if ifindex != 0 {
            if d.end > m.end_mono_time_ts {
                m.end_mono_time_ts = d.end;
            }
            m.flags |= d.flags;
            add_observed(m, ifindex, direction);
        }
        false
    }
}

/// Adds `d` to the flow `id` in the shared map, creating the entry (with `first` as its start and
/// `macs` as destination + source MAC) when there is none. Returns whether `ifindex` counts the
/// flow, i.e. whether its packets may be summed in a cache slot.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_to_flow(
    id: &FlowId,
    ifindex: u32,
    direction: u8,
    eth_protocol: u16,
    d: &Delta,
    first: u64,
    macs: impl FnOnce() -> [u8; 12],
) -> bool {
    if let Some(m) = AGGREGATED_FLOWS.get_ptr_mut(id) {
        return update(m, ifindex, direction, d);
    }
    let macs = macs();
    let m = FlowMetrics {
        start_mono_time_ts: first,
        end_mono_time_ts: if d.end > first { d.end } else { first },
        bytes: d.bytes,
        packets: d.packets,
        eth_protocol,
        flags: d.flags,
        src_mac: [macs[6], macs[7], macs[8], macs[9], macs[10], macs[11]],
        dst_mac: [macs[0], macs[1], macs[2], macs[3], macs[4], macs[5]],
        if_index_first_seen: ifindex,
        sampling: d.sampling,
        direction_first_seen: direction,
        dscp: d.dscp,
        ..FlowMetrics::default()
    };
    match AGGREGATED_FLOWS.insert(id, &m, u64::from(BPF_NOEXIST)) {
        Ok(()) => {
            count(counters::FLOWS_INSERTED);
            true
        }
        Err(e) if e == -EEXIST => match AGGREGATED_FLOWS.get_ptr_mut(id) {
            Some(m) => update(m, ifindex, direction, d),
            None => {
                overflow(id, ifindex, direction, eth_protocol, d, first, macs);
                false
            }
        },
        Err(_) => {
            overflow(id, ifindex, direction, eth_protocol, d, first, macs);
            false
        }
    }
}

