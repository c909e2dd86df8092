//! Flows that reach user space through the `direct_flows` ring buffer rather than the kernel's
//! flow map (see `netobserv_agent_common::FlowEvent`): each flow's first packet on an interface
//! and direction, and whatever the map refused when it was full. They are aggregated here per
//! flow and interface, then merged with the map's flows at eviction, so a record carries the
//! same counts whichever way its packets came.
//!
//! The merge keeps the kernel's interface rule: one interface counts a flow's bytes and packets
//! (the map entry's first-seen interface when the map has the flow, else the interface of the
//! earliest ring record); other interfaces only appear in the observed list. Parts are kept per
//! interface until the merge so that the counting interface's packets are all summed whichever
//! path they took.

use crate::drops::PktDropTotals;
use crate::error::{TracerError, take_typed_map};
use aya::maps::{MapData, RingBuf};
use netobserv_agent_common::{
    DIRECTION_BOTH, FlowEvent, FlowId, FlowMetrics, MAX_OBSERVED_INTERFACES, event_kind, maps,
};
use std::collections::HashMap;

type Hasher = foldhash::fast::RandomState;

/// What the ring brought for one flow on one interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Part {
    /// Earliest packet (monotonic ns).
    pub start: u64,
    /// Latest packet (monotonic ns).
    pub end: u64,
    /// Bytes.
    pub bytes: u64,
    /// Packets.
    pub packets: u32,
    /// Sampling rate of the latest packet.
    pub sampling: u32,
    /// OR of the TCP flag bits.
    pub flags: u16,
    /// EtherType.
    pub eth_protocol: u16,
    /// Destination then source MAC of the first packet.
    pub macs: [u8; 12],
    /// Direction, [`DIRECTION_BOTH`] when seen both ways on this interface.
    pub direction: u8,
    /// DSCP of the latest packet.
    pub dscp: u8,
}

impl Part {
    fn of(e: &FlowEvent) -> Self {
        Self {
            start: e.start_mono_time_ts,
            end: e.end_mono_time_ts.max(e.start_mono_time_ts),
            bytes: e.bytes,
            packets: e.packets,
            sampling: e.sampling,
            flags: e.flags,
            eth_protocol: e.eth_protocol,
            macs: e.macs,
            direction: e.direction,
            dscp: e.dscp,
        }
    }

    fn absorb(&mut self, o: &Part) {
        self.packets = self.packets.saturating_add(o.packets);
        self.bytes = self.bytes.saturating_add(o.bytes);
        self.flags |= o.flags;
        if o.start < self.start {
            self.start = o.start;
            self.macs = o.macs;
        }
        if o.end >= self.end {
            self.end = o.end;
            self.dscp = o.dscp;
            self.sampling = o.sampling;
        }
        if o.direction != self.direction {
            self.direction = DIRECTION_BOTH;
        }
    }
}

/// What the ring brought for one flow: its first interface's part inline (a flow is nearly
/// always seen on one interface per node), others in a side list.
#[derive(Debug)]
struct Entry {
    ifindex: u32,
    part: Part,
    /// Other interfaces, rare: a boxed slice keeps the common entry small (8 bytes, not 24).
    others: Option<Box<[(u32, Part)]>>,
}

impl Entry {
    fn parts(&self) -> impl Iterator<Item = (u32, &Part)> {
        std::iter::once((self.ifindex, &self.part)).chain(
            self.others
                .iter()
                .flat_map(|v| v.iter().map(|(i, p)| (*i, p))),
        )
    }
}

/// Ring-buffer records aggregated per flow and interface until the next eviction.
#[derive(Debug, Default)]
pub struct Accounter {
    flows: HashMap<FlowId, Entry, Hasher>,
}

impl Accounter {
    /// Adds one ring record.
    pub fn add(&mut self, e: &FlowEvent) {
        let p = Part::of(e);
        match self.flows.entry(e.id) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    ifindex: e.if_index,
                    part: p,
                    others: None,
                });
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let en = o.get_mut();
                if en.ifindex == e.if_index {
                    en.part.absorb(&p);
                    return;
                }
                if let Some(q) = en
                    .others
                    .iter_mut()
                    .flat_map(|v| v.iter_mut())
                    .find(|(i, _)| *i == e.if_index)
                {
                    q.1.absorb(&p);
                    return;
                }
                let mut v = en.others.take().map(Vec::from).unwrap_or_default();
                v.push((e.if_index, p));
                en.others = Some(v.into_boxed_slice());
            }
        }
    }

    /// Number of flows held.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

/// Lists `ifindex` in the observed interfaces of `m` (the kernel's rule, in user space).
fn add_observed(m: &mut FlowMetrics, ifindex: u32, direction: u8) {
    let n = (m.nb_observed_intf as usize).min(MAX_OBSERVED_INTERFACES);
    for i in 0..n {
        if m.observed_intf[i] == ifindex {
            if m.observed_direction[i] != direction {
                m.observed_direction[i] = DIRECTION_BOTH;
            }
            return;
        }
    }
    if n < MAX_OBSERVED_INTERFACES {
        m.observed_intf[n] = ifindex;
        m.observed_direction[n] = direction;
        m.nb_observed_intf = (n + 1) as u8;
    }
}

/// Adds the parts of a flow to its entry: the parts of the counting interface add their counts,
/// the others are listed as observed.
fn apply(m: &mut FlowMetrics, e: &Entry) {
    for (ifindex, p) in e.parts() {
        m.end_mono_time_ts = m.end_mono_time_ts.max(p.end);
        m.flags |= p.flags;
        if ifindex == m.if_index_first_seen {
            m.packets = m.packets.saturating_add(p.packets);
            m.bytes = m.bytes.saturating_add(p.bytes);
            if p.start < m.start_mono_time_ts {
                m.start_mono_time_ts = p.start;
            }
        } else {
            add_observed(m, ifindex, p.direction);
        }
    }
}

/// A flow known only from ring records: the earliest part's interface counts.
fn from_parts(e: &Entry) -> FlowMetrics {
    let (i0, p0) = e
        .parts()
        .min_by_key(|(_, p)| p.start)
        .map(|(i, p)| (i, *p))
        .unwrap_or_default();
    let mut m = FlowMetrics {
        start_mono_time_ts: p0.start,
        end_mono_time_ts: p0.start,
        eth_protocol: p0.eth_protocol,
        src_mac: [
            p0.macs[6],
            p0.macs[7],
            p0.macs[8],
            p0.macs[9],
            p0.macs[10],
            p0.macs[11],
        ],
        dst_mac: [
            p0.macs[0], p0.macs[1], p0.macs[2], p0.macs[3], p0.macs[4], p0.macs[5],
        ],
        if_index_first_seen: i0,
        sampling: p0.sampling,
        direction_first_seen: if p0.direction == DIRECTION_BOTH {
            0
        } else {
            p0.direction
        },
        dscp: p0.dscp,
        ..FlowMetrics::default()
    };
    apply(&mut m, e);
    m
}

/// Merges the ring's flows into the map's and empties `acc` (keeping its allocation for the
/// next period): a flow in both gets the ring's packets of its counting interface added; a flow
/// only in the ring is appended. Returns how many flows were appended.
pub fn merge(flows: &mut Vec<(FlowId, FlowMetrics)>, acc: &mut Accounter) -> usize {
    if acc.is_empty() {
        return 0;
    }
    for (id, m) in flows.iter_mut() {
        if acc.flows.is_empty() {
            break;
        }
        if let Some(e) = acc.flows.remove(id) {
            apply(m, &e);
        }
    }
    let appended = acc.flows.len();
    flows.reserve(appended);
    for (id, e) in acc.flows.drain() {
        flows.push((id, from_parts(&e)));
    }
    appended
}

/// Adds a drop record (reason in `sampling`, TCP state in `dscp`) to the ring's drops.
fn add_drop(drops: &mut HashMap<FlowId, PktDropTotals, Hasher>, e: &FlowEvent) {
    let r = PktDropTotals {
        bytes: e.bytes,
        packets: u64::from(e.packets),
        flags: u32::from(e.flags),
        state: u32::from(e.dscp),
        cause: e.sampling,
        start: e.start_mono_time_ts,
        end: e.end_mono_time_ts.max(e.start_mono_time_ts),
        eth_protocol: e.eth_protocol,
    };
    drops.entry(e.id).and_modify(|t| t.merge(&r)).or_insert(r);
}

/// Records read from the ring, by kind, since the agent started.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RingStats {
    /// Records read.
    pub records: u64,
    /// Records too short to be a `FlowEvent` (never expected; counted, not parsed).
    pub malformed: u64,
}

/// The ring buffer and what was read from it, shared by the task that keeps the ring drained
/// and the eviction, which merges the aggregate with the map's flows.
pub struct RingSide {
    ring: RingBuf<MapData>,
    acc: Accounter,
    drops: HashMap<FlowId, PktDropTotals, Hasher>,
    stats: RingStats,
}

impl RingSide {
    /// Takes the ring out of the object.
    pub(crate) fn take(ebpf: &mut aya::Ebpf) -> Result<Self, TracerError> {
        Ok(Self::new(take_typed_map(ebpf, maps::DIRECT_FLOWS)?))
    }

    /// Wraps the ring map.
    pub fn new(ring: RingBuf<MapData>) -> Self {
        Self {
            ring,
            acc: Accounter::default(),
            drops: HashMap::default(),
            stats: RingStats::default(),
        }
    }

    /// Reads every record waiting in the ring into the aggregate; returns how many.
    pub fn drain(&mut self) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            if item.len() >= std::mem::size_of::<FlowEvent>() {
                // SAFETY: the record holds at least a `FlowEvent`, a plain-integer `repr(C)`
                // type for which any bytes are valid; read unaligned from the ring's memory.
                let e: FlowEvent =
                    unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<FlowEvent>()) };
                if e.kind == event_kind::DROP {
                    add_drop(&mut self.drops, &e);
                } else {
                    self.acc.add(&e);
                }
            } else {
                self.stats.malformed += 1;
            }
            n += 1;
        }
        self.stats.records += n as u64;
        n
    }

    /// Drains the ring, then merges the aggregate into the map's `flows` and empties it
    /// (eviction); returns how many flows only the ring had.
    pub fn merge_into(&mut self, flows: &mut Vec<(FlowId, FlowMetrics)>) -> usize {
        self.drain();
        merge(flows, &mut self.acc)
    }

    /// Drains the ring, then merges the flows' first drops it brought into the drops map's
    /// records and empties them (eviction).
    pub fn merge_drops_into(&mut self, drops: &mut Vec<(FlowId, PktDropTotals)>) {
        self.drain();
        if self.drops.is_empty() {
            return;
        }
        for (id, t) in drops.iter_mut() {
            if let Some(r) = self.drops.remove(id) {
                t.merge(&r);
            }
        }
        drops.extend(self.drops.drain());
    }

    /// Flows (and dropped flows) aggregated since the last eviction.
    pub fn pending(&self) -> usize {
        self.acc.len() + self.drops.len()
    }

    /// Records read so far.
    pub fn stats(&self) -> RingStats {
        self.stats
    }

    /// A duplicate of the ring's file descriptor, for readiness notifications (epoll) apart
    /// from the ring itself.
    pub fn notify_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.ring.as_fd().try_clone_to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netobserv_agent_common::{DIRECTION_EGRESS, DIRECTION_INGRESS, event_kind};

    fn id(port: u16) -> FlowId {
        FlowId {
            src_port: port,
            dst_port: 53,
            transport_protocol: 17,
            ..FlowId::default()
        }
    }

    fn ev(port: u16, ifindex: u32, dir: u8, ts: u64, bytes: u64) -> FlowEvent {
        FlowEvent {
            id: id(port),
            start_mono_time_ts: ts,
            end_mono_time_ts: ts,
            bytes,
            packets: 1,
            if_index: ifindex,
            sampling: 1,
            eth_protocol: 0x0800,
            flags: 0,
            macs: [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2],
            direction: dir,
            dscp: 0,
            kind: event_kind::FIRST_PACKET,
            pad: 0,
        }
    }

    fn map_flow(ifindex: u32, start: u64, packets: u32, bytes: u64) -> FlowMetrics {
        FlowMetrics {
            start_mono_time_ts: start,
            end_mono_time_ts: start + 10,
            packets,
            bytes,
            if_index_first_seen: ifindex,
            direction_first_seen: DIRECTION_EGRESS,
            eth_protocol: 0x0800,
            ..FlowMetrics::default()
        }
    }

    #[test]
    fn ring_only_flows_are_appended_with_their_counts() {
        let mut acc = Accounter::default();
        acc.add(&ev(1, 7, DIRECTION_EGRESS, 100, 64));
        acc.add(&ev(1, 7, DIRECTION_EGRESS, 150, 64));
        acc.add(&ev(2, 7, DIRECTION_EGRESS, 120, 80));
        let mut flows = Vec::new();
        assert_eq!(merge(&mut flows, &mut acc), 2);
        flows.sort_by_key(|(k, _)| k.src_port);
        let (k, m) = &flows[0];
        assert_eq!(k.src_port, 1);
        assert_eq!((m.packets, m.bytes), (2, 128));
        assert_eq!((m.start_mono_time_ts, m.end_mono_time_ts), (100, 150));
        assert_eq!(m.if_index_first_seen, 7);
        assert_eq!(m.src_mac, [2; 6]);
        assert_eq!(m.dst_mac, [1; 6]);
        assert_eq!((flows[1].1.packets, flows[1].1.bytes), (1, 80));
    }

    #[test]
    fn ring_packets_of_the_counting_interface_add_to_the_map_entry() {
        let mut acc = Accounter::default();
        // The first packet went through the ring on both interfaces the flow crosses.
        acc.add(&ev(1, 7, DIRECTION_EGRESS, 100, 64));
        acc.add(&ev(1, 9, DIRECTION_INGRESS, 101, 64));
        let mut flows = vec![(id(1), map_flow(7, 200, 4, 256))];
        assert_eq!(merge(&mut flows, &mut acc), 0);
        let m = &flows[0].1;
        assert_eq!((m.packets, m.bytes), (5, 320), "interface 9 only observed");
        assert_eq!(m.start_mono_time_ts, 100);
        assert_eq!(m.nb_observed_intf, 1);
        assert_eq!(m.observed_intf[0], 9);
        assert_eq!(m.observed_direction[0], DIRECTION_INGRESS);
    }

    #[test]
    fn the_map_entry_decides_the_counting_interface() {
        // The ring's earliest packet is on 7, but the map counts 9 (its fingerprint on 7 was
        // forgotten, so 9 inserted first): 9's packets from both paths are the flow's count.
        let mut acc = Accounter::default();
        acc.add(&ev(1, 7, DIRECTION_EGRESS, 100, 64));
        acc.add(&ev(1, 7, DIRECTION_EGRESS, 150, 64));
        acc.add(&ev(1, 9, DIRECTION_INGRESS, 101, 64));
        let mut flows = vec![(id(1), map_flow(9, 151, 3, 192))];
        merge(&mut flows, &mut acc);
        let m = &flows[0].1;
        assert_eq!((m.packets, m.bytes), (4, 256));
        assert_eq!(m.observed_intf[0], 7);
    }

    #[test]
    fn ring_only_flow_on_two_interfaces_counts_the_earliest() {
        let mut acc = Accounter::default();
        acc.add(&ev(1, 9, DIRECTION_INGRESS, 101, 64));
        acc.add(&ev(1, 7, DIRECTION_EGRESS, 100, 64));
        let mut flows = Vec::new();
        merge(&mut flows, &mut acc);
        let m = &flows[0].1;
        assert_eq!(m.if_index_first_seen, 7);
        assert_eq!(m.direction_first_seen, DIRECTION_EGRESS);
        assert_eq!((m.packets, m.bytes), (1, 64));
        assert_eq!(m.end_mono_time_ts, 101);
        assert_eq!((m.nb_observed_intf, m.observed_intf[0]), (1, 9));
    }

    #[test]
    fn drops_add_up_and_keep_the_latest_cause() {
        let mut drops = HashMap::default();
        let mut e = ev(1, 7, DIRECTION_INGRESS, 100, 60);
        e.kind = event_kind::DROP;
        e.sampling = 5; // reason
        add_drop(&mut drops, &e);
        let mut later = e;
        later.start_mono_time_ts = 200;
        later.end_mono_time_ts = 200;
        later.sampling = 7;
        later.flags = 0x10;
        add_drop(&mut drops, &later);
        let t = drops[&id(1)];
        assert_eq!((t.packets, t.bytes, t.cause), (2, 120, 7));
        assert_eq!((t.start, t.end, t.flags), (100, 200, 0x10));
        let mut map = PktDropTotals {
            packets: 3,
            bytes: 90,
            cause: 9,
            start: 300,
            end: 400,
            ..PktDropTotals::default()
        };
        map.merge(&t);
        assert_eq!(
            (map.packets, map.bytes, map.cause, map.start),
            (5, 210, 9, 100)
        );
    }

    #[test]
    fn nothing_to_merge_leaves_the_map_flows_alone() {
        let mut flows = vec![(id(1), map_flow(7, 200, 4, 256))];
        let before = flows.clone();
        assert_eq!(merge(&mut flows, &mut Accounter::default()), 0);
        assert_eq!(flows, before);
    }
}
