//! The connection table: live connections by hash, when each one ends and when its next
//! heartbeat is due, and the `maxConnectionsTracked` bound.
//!
//! Timers are kept in two min-heaps (ends, heartbeats) with one valid entry per connection.
//! Updating a connection does not touch the heaps: when an end entry falls due, the connection's
//! real deadline (its last flow plus the group's timeout, or its FIN plus the terminating
//! timeout) is recomputed, and the entry is pushed back if the connection is still alive. So a
//! flow costs a hash-map lookup, and the timers cost a heap operation per timeout period per
//! connection, not per flow. An entry whose deadline is no longer the connection's scheduled one
//! (superseded by an earlier FIN deadline, or left by a connection that ended) is dropped when
//! it surfaces; the heartbeat heap is compacted when such leftovers pile up.

use super::aggregate::Acc;
use crate::conntrack_metrics::EndReason;
use crate::record::{Key, Value};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

/// Timeouts of one scheduling group.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Field values a connection's first flow must have (empty: any).
    pub selector: Vec<(Key, Value)>,
    /// The metric label: the selector as `Field=value,...`, or `default`.
    pub label: String,
    /// Inactivity before the connection ends.
    pub end: Duration,
    /// Time from a FIN / RST to the end.
    pub terminating: Duration,
    /// Time between heartbeats.
    pub heartbeat: Duration,
}

/// One tracked connection.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Unique per connection of this table, so a timer left by an ended connection cannot
    /// act on a new one with the same hash.
    id: u64,
    /// Its scheduling group (index into the table's schedules).
    pub group: usize,
    /// Key fields as the connection's records carry them (A endpoint in the A fields).
    pub key_values: Vec<(Key, Value)>,
    /// Whether the connection's A endpoint is the side whose key text sorts first: a flow is
    /// A→B when its own `a_first` equals this.
    pub a_first: bool,
    /// The output fields' running values.
    pub accs: Vec<Acc>,
    /// Last flow.
    pub last_seen: Instant,
    /// When a FIN or RST was seen.
    pub terminating_since: Option<Instant>,
    /// Whether a connection record was emitted already (`_IsFirst` is true only on the first).
    pub reported: bool,
    scheduled_end: Instant,
    next_heartbeat: Instant,
}

impl Connection {
    /// A connection seen for the first time at `now`.
    pub fn new(
        group: usize,
        key_values: Vec<(Key, Value)>,
        a_first: bool,
        accs: Vec<Acc>,
        now: Instant,
    ) -> Self {
        Self {
            id: 0,
            group,
            key_values,
            a_first,
            accs,
            last_seen: now,
            terminating_since: None,
            reported: false,
            scheduled_end: now,
            next_heartbeat: now,
        }
    }

    /// When the connection ends unless another flow comes, and why it would.
    fn deadline(&self, s: &Schedule) -> (Instant, EndReason) {
        let idle = self.last_seen + s.end;
        match self.terminating_since {
            Some(fin) if fin + s.terminating <= idle => (fin + s.terminating, EndReason::FinFlag),
            _ => (idle, EndReason::Timeout),
        }
    }
}

type Timer = Reverse<(Instant, u64, u64)>;

/// The live connections and their timers.
#[derive(Debug)]
pub struct Table {
    schedules: Vec<Schedule>,
    connections: HashMap<u64, Connection, foldhash::fast::FixedState>,
    ends: BinaryHeap<Timer>,
    heartbeats: Option<BinaryHeap<Timer>>,
    max: Option<usize>,
    next_id: u64,
}

impl Table {
    /// An empty table. `heartbeats` says whether heartbeat records are wanted (no heap
    /// otherwise); `max` bounds the connections held.
    pub fn new(schedules: Vec<Schedule>, heartbeats: bool, max: Option<usize>) -> Self {
        Self {
            schedules,
            connections: HashMap::default(),
            ends: BinaryHeap::new(),
            heartbeats: heartbeats.then(BinaryHeap::new),
            max: max.filter(|m| *m > 0),
            next_id: 0,
        }
    }

    /// The scheduling groups.
    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.connections.len()
    }

    /// The connection of `hash`.
    pub fn get_mut(&mut self, hash: u64) -> Option<&mut Connection> {
        self.connections.get_mut(&hash)
    }

    /// Whether inserting a connection now would exceed `maxConnectionsTracked`.
    pub fn full(&self) -> bool {
        self.max.is_some_and(|m| self.connections.len() >= m)
    }

    /// Adds a connection and schedules its end and first heartbeat.
    pub fn insert(&mut self, hash: u64, mut conn: Connection) {
        self.next_id += 1;
        conn.id = self.next_id;
        let (end, _) = conn.deadline(&self.schedules[conn.group]);
        conn.scheduled_end = end;
        self.ends.push(Reverse((end, conn.id, hash)));
        if let Some(beats) = &mut self.heartbeats {
            conn.next_heartbeat = conn.last_seen + self.schedules[conn.group].heartbeat;
            beats.push(Reverse((conn.next_heartbeat, conn.id, hash)));
        }
        self.connections.insert(hash, conn);
    }

    /// Marks the connection terminating (a FIN or RST was seen at `now`), bringing its end
    /// forward to `now + terminatingTimeout` when that is sooner. Returns false when it already
    /// was terminating.
    pub fn terminate(&mut self, hash: u64, now: Instant) -> bool {
        let Some(conn) = self.connections.get_mut(&hash) else {
            return false;
        };
        if conn.terminating_since.is_some() {
            return false;
        }
        conn.terminating_since = Some(now);
        let (end, _) = conn.deadline(&self.schedules[conn.group]);
        if end < conn.scheduled_end {
            conn.scheduled_end = end;
            self.ends.push(Reverse((end, conn.id, hash)));
        }
        true
    }

    /// Removes and returns the connections whose end is due at `now`, with why.
    pub fn due_ends(&mut self, now: Instant, out: &mut Vec<(u64, Connection, EndReason)>) {
        while let Some(Reverse((at, id, hash))) = self.ends.peek().copied() {
            if at > now {
                break;
            }
            self.ends.pop();
            let Some(conn) = live(&mut self.connections, hash, id, at) else {
                continue;
            };
            let (deadline, reason) = conn.deadline(&self.schedules[conn.group]);
            if deadline > now {
                conn.scheduled_end = deadline;
                self.ends.push(Reverse((deadline, id, hash)));
                continue;
            }
            if let Some(conn) = self.connections.remove(&hash) {
                out.push((hash, conn, reason));
            }
        }
    }

    /// Removes the connection closest to its end, to make room under `maxConnectionsTracked`.
    pub fn evict(&mut self) -> Option<(u64, Connection)> {
        while let Some(Reverse((at, id, hash))) = self.ends.pop() {
            let Some(conn) = live(&mut self.connections, hash, id, at) else {
                continue;
            };
            // The entry may be older than the connection's last flow: the real deadline decides
            // which connection is closest to ending.
            let (deadline, _) = conn.deadline(&self.schedules[conn.group]);
            if deadline > at {
                conn.scheduled_end = deadline;
                self.ends.push(Reverse((deadline, id, hash)));
                continue;
            }
            return self.connections.remove(&hash).map(|c| (hash, c));
        }
        None
    }

    /// Calls `emit` for each connection whose heartbeat is due at `now`, and schedules the next
    /// one.
    pub fn due_heartbeats(&mut self, now: Instant, emit: &mut dyn FnMut(u64, &mut Connection)) {
        let Some(beats) = &mut self.heartbeats else {
            return;
        };
        while let Some(Reverse((at, id, hash))) = beats.peek().copied() {
            if at > now {
                break;
            }
            beats.pop();
            let Some(conn) = self.connections.get_mut(&hash) else {
                continue;
            };
            if conn.id != id || conn.next_heartbeat != at {
                continue;
            }
            emit(hash, conn);
            let every = self.schedules[conn.group].heartbeat;
            // After a long pause (no tick), the next beat is one interval from now, not a burst.
            let next = if at + every > now {
                at + every
            } else {
                now + every
            };
            conn.next_heartbeat = next;
            beats.push(Reverse((next, id, hash)));
        }
        // Entries of ended connections wait in the heap until their time: compact when they
        // outnumber the live ones, so churn cannot grow the heap beyond twice the table.
        if beats.len() > 2 * self.connections.len() + 1024 {
            let connections = &self.connections;
            beats.retain(|Reverse((at, id, hash))| {
                connections
                    .get(hash)
                    .is_some_and(|c| c.id == *id && c.next_heartbeat == *at)
            });
        }
    }

    /// Every connection held (for shutdown reporting and gauges).
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &Connection)> {
        self.connections.iter()
    }
}

/// The connection an end timer points at, if it is still the one scheduled.
fn live(
    connections: &mut HashMap<u64, Connection, foldhash::fast::FixedState>,
    hash: u64,
    id: u64,
    at: Instant,
) -> Option<&mut Connection> {
    connections
        .get_mut(&hash)
        .filter(|c| c.id == id && c.scheduled_end == at)
}
