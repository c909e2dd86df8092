//! The translated connections the conntrack listener learnt, looked up by flow at eviction.
//!
//! One original tuple can live in several conntrack zones at once (OVN-Kubernetes runs a packet
//! through more than one zone, each with its own NAT), so entries are kept per (tuple, zone):
//! a zone's DESTROY removes only that zone's entry. A flow carries the translation learnt last,
//! as the kernel hook keeps the last `nf_nat_manip_pkt` write.

use super::message::{
    CtEvent, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, Tuple,
};
use netobserv_agent_common::{ETH_P_IP, ETH_P_IPV6, FlowId, XlatMetrics};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The flow key of a tuple (same layout as the kernel's `FlowId`): ports for TCP, UDP and
/// SCTP, the request's type and code for ICMP, as the classifiers key flows.
fn key(t: &Tuple) -> FlowId {
    let mut id = FlowId {
        src_ip: t.src,
        dst_ip: t.dst,
        transport_protocol: t.proto,
        ..FlowId::default()
    };
    match t.proto {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => {
            id.src_port = t.sport;
            id.dst_port = t.dport;
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            id.icmp_type = t.icmp_type;
            id.icmp_code = t.icmp_code;
        }
        _ => {}
    }
    id
}

/// What the first packet of a connection became (`None` when it was not translated, or for a
/// protocol the classifiers key without ports or ICMP fields).
fn translation(orig: &Tuple, reply: &Tuple, zone: u16) -> Option<XlatMetrics> {
    let ports = match orig.proto {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP => true,
        IPPROTO_ICMP | IPPROTO_ICMPV6 => false,
        _ => return None,
    };
    // The reply tuple turned around; ICMP has no ports (its identifier is not part of the flow).
    let (sport, dport) = if ports {
        (reply.dport, reply.sport)
    } else {
        (0, 0)
    };
    let same_ports = !ports || (sport, dport) == (orig.sport, orig.dport);
    if (reply.dst, reply.src) == (orig.src, orig.dst) && same_ports {
        return None;
    }
    Some(XlatMetrics {
        saddr: reply.dst,
        daddr: reply.src,
        sport,
        dport,
        zone_id: zone,
        eth_protocol: if orig.v4 { ETH_P_IP } else { ETH_P_IPV6 },
        ..XlatMetrics::default()
    })
}

/// One zone's translation of a tuple.
struct Entry {
    zone: u16,
    xlat: XlatMetrics,
    /// Order in which entries were learnt (the latest wins a lookup).
    seq: u64,
    destroyed: Option<Instant>,
}

/// The entries and their count (a tuple may hold several zones).
#[derive(Default)]
struct Entries {
    by_flow: HashMap<FlowId, Vec<Entry>>,
    len: usize,
    seq: u64,
}

/// Translated connections keyed by their original tuple and zone, shared by the listener thread
/// and the eviction.
pub struct Table {
    entries: Mutex<Entries>,
    max_entries: usize,
    grace: Duration,
    /// Translations learnt (NEW events and dump entries with NAT).
    pub learnt: AtomicU64,
    /// Translations not kept because the table was full.
    pub refused: AtomicU64,
    /// Event overflows of the socket (ENOBUFS), each followed by a dump.
    pub overflows: AtomicU64,
}

/// What the table did since the counters were last taken.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableCounts {
    /// Translations learnt (NEW events and dump entries with NAT).
    pub learnt: u64,
    /// Translations not kept because the table was full.
    pub refused: u64,
    /// Event overflows of the socket (ENOBUFS), each followed by a dump.
    pub overflows: u64,
}

impl Table {
    /// An empty table holding at most `max_entries` (tuple, zone) entries; destroyed
    /// connections stay `grace` longer so the last eviction of their flow still finds them.
    pub fn new(max_entries: usize, grace: Duration) -> Self {
        Self {
            entries: Mutex::new(Entries {
                by_flow: HashMap::with_capacity(max_entries.min(4096)),
                ..Entries::default()
            }),
            max_entries,
            grace,
            learnt: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            overflows: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies one event; untranslated connections and protocols the classifiers key without
    /// ports or ICMP fields are ignored.
    pub fn apply(&self, ev: &CtEvent) {
        match ev {
            CtEvent::New { orig, reply, zone } => {
                let Some(xlat) = translation(orig, reply, *zone) else {
                    return;
                };
                let mut m = self.lock();
                m.seq += 1;
                let entry = Entry {
                    zone: *zone,
                    xlat,
                    seq: m.seq,
                    destroyed: None,
                };
                let k = key(orig);
                let full = m.len >= self.max_entries;
                let zones = m.by_flow.entry(k).or_default();
                if let Some(e) = zones.iter_mut().find(|e| e.zone == *zone) {
                    *e = entry;
                } else if full {
                    if zones.is_empty() {
                        m.by_flow.remove(&k);
                    }
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return;
                } else {
                    zones.push(entry);
                    m.len += 1;
                }
                self.learnt.fetch_add(1, Ordering::Relaxed);
            }
            CtEvent::Destroy { orig, zone } => {
                let mut m = self.lock();
                if let Some(e) = m
                    .by_flow
                    .get_mut(&key(orig))
                    .and_then(|z| z.iter_mut().find(|e| e.zone == *zone))
                {
                    e.destroyed = Some(Instant::now());
                }
            }
        }
    }

    /// Forgets connections destroyed more than the grace period ago.
    pub fn purge(&self, now: Instant) {
        let grace = self.grace;
        let mut m = self.lock();
        let mut removed = 0;
        m.by_flow.retain(|_, zones| {
            let before = zones.len();
            zones.retain(|e| e.destroyed.is_none_or(|t| now.duration_since(t) < grace));
            removed += before - zones.len();
            !zones.is_empty()
        });
        m.len -= removed;
    }

    /// The translation of each flow key that has one (the one learnt last when several zones
    /// translated the tuple).
    pub fn lookup<'a>(&self, ids: impl Iterator<Item = &'a FlowId>) -> Vec<(FlowId, XlatMetrics)> {
        let m = self.lock();
        if m.len == 0 {
            return Vec::new();
        }
        ids.filter_map(|id| {
            let e = m.by_flow.get(id)?.iter().max_by_key(|e| e.seq)?;
            Some((*id, e.xlat))
        })
        .collect()
    }

    /// Reads and resets the counters, for the agent's metrics.
    pub fn take_counts(&self) -> TableCounts {
        TableCounts {
            learnt: self.learnt.swap(0, Ordering::Relaxed),
            refused: self.refused.swap(0, Ordering::Relaxed),
            overflows: self.overflows.swap(0, Ordering::Relaxed),
        }
    }

    /// (Tuple, zone) entries currently held.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether the table holds no connection.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
