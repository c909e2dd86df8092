//! The `conntrack` extract stage: conversation tracking. Flows are grouped into connections by
//! a key both directions share; the stage emits `newConnection` when a connection appears,
//! `heartbeat` while it lives, `endConnection` when it ends (inactivity, or a FIN / RST followed
//! by the terminating timeout), and, for `flowLog`, every input flow tagged with its connection.
//!
//! Connection records carry the key fields (A endpoint in the A fields), the configured output
//! fields (`Bytes_AB`, `Bytes_BA`, `numFlowLogs`...), `_RecordType`, `_HashId` and `_IsFirst`.
//! Time is the processing clock: the runtime ticks the stage while the input is idle (see
//! [`crate::extract::Extractor::tick`]); tests drive it through the `*_at` methods.
//!
//! Deviation from upstream, on purpose: when `maxConnectionsTracked` is reached the connection
//! closest to its end is ended early (its `endConnection` is emitted, reason
//! `max_connections`) instead of refusing the new one, so the bound never loses a connection's
//! totals; and flows that cannot be keyed (ICMP under a port key) still pass through as
//! `flowLog` (without `_HashId`) rather than disappearing.

mod aggregate;
mod key;
mod table;

pub use crate::conntrack_metrics::{ConntrackMetrics, ConntrackRegistry, EndReason, Tallies};
pub use aggregate::{Acc, Aggregation, FoldError};
pub use key::{FlowKey, KeyDef, hash_id};

use crate::config::{ConnectionRecordType, ConntrackConfig, Extract, parse_go_duration};
use crate::conntrack_metrics as metrics;
use crate::record::{Key, Record, Value, key as field_key};
use crate::stage::{BuildError, StageContext, section};
use metrics::Classification;
use std::sync::Arc;
use std::time::{Duration, Instant};
use table::{Connection, Schedule, Table};

/// Operator defaults for a scheduling group that leaves a timeout empty.
pub const DEFAULT_END_TIMEOUT: Duration = Duration::from_secs(10);
/// See [`DEFAULT_END_TIMEOUT`].
pub const DEFAULT_TERMINATING_TIMEOUT: Duration = Duration::from_secs(5);
/// See [`DEFAULT_END_TIMEOUT`].
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Longest wait between two ticks of an idle input: ends and heartbeats are at most this late.
pub const MAX_TICK: Duration = Duration::from_secs(1);

/// Why a conntrack configuration cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Two field groups share a name.
    #[error("field group `{0}` is defined twice")]
    DuplicateGroup(String),
    /// A hash reference names no group.
    #[error("keyDefinition.hash refers to unknown field group `{0}`")]
    UnknownGroup(String),
    /// Only one of fieldGroupARef / fieldGroupBRef is set.
    #[error("fieldGroupARef and fieldGroupBRef must be set together")]
    HalfBidirectional,
    /// A and B groups of different sizes.
    #[error("fieldGroupARef has {a} fields and fieldGroupBRef {b}: they pair up by position")]
    UnpairedGroups {
        /// Fields of A.
        a: usize,
        /// Fields of B.
        b: usize,
    },
    /// The key has no field.
    #[error("keyDefinition.hash selects no field")]
    EmptyKey,
    /// An output field without a name.
    #[error("an outputFields entry has no name")]
    UnnamedOutputField,
    /// Two output fields with one name.
    #[error("output field `{0}` is defined twice")]
    DuplicateOutputField(String),
    /// `splitAB` without A/B groups.
    #[error("output field `{0}` has splitAB but the key has no fieldGroupARef/fieldGroupBRef")]
    SplitWithoutEndpoints(String),
    /// The scheduling list does not end with the default (empty selector).
    #[error("the last scheduling entry must have an empty selector (the default)")]
    NoDefaultSchedule,
    /// An empty selector before the last entry.
    #[error("scheduling[{0}] has an empty selector: only the last entry may")]
    EarlyDefault(usize),
    /// A duration that does not parse.
    #[error("scheduling[{index}].{field}: {reason}")]
    Duration {
        /// Entry.
        index: usize,
        /// Field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A zero end timeout or heartbeat interval.
    #[error("scheduling[{index}].{field} must be positive")]
    ZeroDuration {
        /// Entry.
        index: usize,
        /// Field.
        field: &'static str,
    },
    /// `tcpFlags` asks for something without naming the field.
    #[error("tcpFlags.fieldName is required with detectEndConnection or swapAB")]
    TcpFlagsWithoutField,
    /// `swapAB` without A/B groups.
    #[error("tcpFlags.swapAB needs fieldGroupARef/fieldGroupBRef")]
    SwapWithoutEndpoints,
}

impl From<ConfigError> for BuildError {
    fn from(e: ConfigError) -> Self {
        BuildError::Invalid(format!("conntrack: {e}"))
    }
}

/// Output record types, as indexes into [`metrics::RECORD_TYPES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    New = 0,
    Heartbeat = 1,
    End = 2,
    FlowLog = 3,
}

impl Kind {
    fn name(self) -> &'static str {
        metrics::RECORD_TYPES[self as usize]
    }
}

/// TCP flag bits as the agent reports them (the kernel's, plus its combined ones).
mod flags {
    pub const FIN: u64 = 0x01;
    pub const SYN: u64 = 0x02;
    pub const RST: u64 = 0x04;
    pub const ACK: u64 = 0x10;
    pub const SYN_ACK: u64 = 0x100;
    pub const FIN_ACK: u64 = 0x200;
    pub const RST_ACK: u64 = 0x400;

    /// The bit of a flag name (`decode_tcp_flags` output), 0 when unknown.
    pub fn bit(name: &str) -> u64 {
        match name.trim() {
            "FIN" => FIN,
            "SYN" => SYN,
            "RST" => RST,
            "PSH" => 0x08,
            "ACK" => ACK,
            "URG" => 0x20,
            "ECE" => 0x40,
            "CWR" => 0x80,
            "SYN_ACK" => SYN_ACK,
            "FIN_ACK" => FIN_ACK,
            "RST_ACK" => RST_ACK,
            _ => 0,
        }
    }
}

/// The compiled `tcpFlags`.
#[derive(Clone, Debug)]
struct TcpFlags {
    field: Key,
    detect_end: bool,
    swap_ab: bool,
}

impl TcpFlags {
    /// The flag bits of `record`: a raw bitfield (before `decode_tcp_flags`, where NetObserv
    /// puts conntrack), or a list or comma-separated string of names (after it).
    fn bits(&self, record: &Record) -> u64 {
        match record.get(&self.field) {
            Some(Value::List(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(flags::bit)
                .fold(0, |a, b| a | b),
            Some(Value::Str(s)) => match s.trim().parse::<u64>() {
                Ok(n) => n,
                Err(_) => s.split([',', ' ']).map(flags::bit).fold(0, |a, b| a | b),
            },
            Some(v) => v.as_i64().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
            None => 0,
        }
    }
}

/// What a flow-log copy of an input flow carries.
#[derive(Clone, Copy, Debug)]
enum Tag {
    /// Not part of a connection (key missing, duplicate).
    Untracked,
    /// Part of connection `hash`; `first` when it opened it.
    Tracked { hash: u64, first: bool },
}

/// A built `conntrack` stage.
pub struct Conntrack {
    key: KeyDef,
    agg: Aggregation,
    table: Table,
    outputs: [bool; 4],
    tcp: Option<TcpFlags>,
    tick: Duration,
    scratch: key::Scratch,
    metrics: Arc<ConntrackMetrics>,
    pending: Tallies,
}

impl std::fmt::Debug for Conntrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conntrack")
            .field("connections", &self.table.len())
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

impl Conntrack {
    /// Builds the stage; its metrics go to `metrics` (shared by the workers' copies).
    pub fn new(
        config: &ConntrackConfig,
        metrics: Arc<ConntrackMetrics>,
    ) -> Result<Self, BuildError> {
        let key = KeyDef::new(&config.key_definition)?;
        let agg = Aggregation::new(&config.output_fields, key.bidirectional())?;
        let mut outputs = [false; 4];
        for t in &config.output_record_types {
            let kind = match t {
                ConnectionRecordType::NewConnection => Kind::New,
                ConnectionRecordType::Heartbeat => Kind::Heartbeat,
                ConnectionRecordType::EndConnection => Kind::End,
                ConnectionRecordType::FlowLog => Kind::FlowLog,
            };
            outputs[kind as usize] = true;
        }
        let tcp = match &config.tcp_flags {
            Some(t) if t.detect_end_connection || t.swap_ab => {
                if t.field_name.is_empty() {
                    return Err(ConfigError::TcpFlagsWithoutField.into());
                }
                if t.swap_ab && !key.bidirectional() {
                    return Err(ConfigError::SwapWithoutEndpoints.into());
                }
                Some(TcpFlags {
                    field: field_key(&t.field_name),
                    detect_end: t.detect_end_connection,
                    swap_ab: t.swap_ab,
                })
            }
            _ => None,
        };
        let schedules = schedules(config)?;
        let heartbeats = outputs[Kind::Heartbeat as usize];
        let tick = schedules
            .iter()
            .flat_map(|s| {
                [s.end, s.terminating]
                    .into_iter()
                    .chain(heartbeats.then_some(s.heartbeat))
            })
            .filter(|d| !d.is_zero())
            .min()
            .map_or(MAX_TICK, |d| {
                (d / 4).clamp(Duration::from_millis(50), MAX_TICK)
            });
        let max = config
            .max_connections_tracked
            .and_then(|m| usize::try_from(m).ok());
        Ok(Self {
            key,
            agg,
            table: Table::new(schedules, heartbeats, max),
            outputs,
            tcp,
            tick,
            scratch: key::Scratch::default(),
            metrics,
            pending: Tallies::default(),
        })
    }

    /// Connections held now.
    pub fn connections(&self) -> usize {
        self.table.len()
    }

    /// The stage's metrics (shared with the other copies).
    pub fn metrics(&self) -> &Arc<ConntrackMetrics> {
        &self.metrics
    }

    /// Processes a batch at time `now`, borrowing it (flow logs are copies).
    pub fn extract_at(&mut self, batch: &[Record], now: Instant) -> Vec<Record> {
        let mut out = Vec::new();
        self.due_ends(now, &mut out);
        for record in batch {
            let tag = self.ingest(record, now, &mut out);
            if self.outputs[Kind::FlowLog as usize] {
                out.push(self.flow_log(record.clone(), tag));
            }
        }
        self.due_heartbeats(now, &mut out);
        self.metrics.flush(&mut self.pending);
        out
    }

    /// [`Self::extract_at`] on a batch the stage may keep: flow logs are the input records
    /// themselves, tagged.
    pub fn extract_owned_at(&mut self, batch: Vec<Record>, now: Instant) -> Vec<Record> {
        let mut out = Vec::with_capacity(batch.len());
        self.due_ends(now, &mut out);
        for record in batch {
            let tag = self.ingest(&record, now, &mut out);
            if self.outputs[Kind::FlowLog as usize] {
                out.push(self.flow_log(record, tag));
            }
        }
        self.due_heartbeats(now, &mut out);
        self.metrics.flush(&mut self.pending);
        out
    }

    /// What became due by `now` without input: ended connections and heartbeats.
    pub fn tick_at(&mut self, now: Instant) -> Vec<Record> {
        let mut out = Vec::new();
        self.due_ends(now, &mut out);
        self.due_heartbeats(now, &mut out);
        self.metrics.flush(&mut self.pending);
        out
    }

    /// Folds one flow into its connection (creating it, evicting if the table is full),
    /// emitting `newConnection` when it opens one. Returns how its flow log is tagged.
    fn ingest(&mut self, record: &Record, now: Instant, out: &mut Vec<Record>) -> Tag {
        if matches!(record.get("Duplicate"), Some(Value::Bool(true))) {
            self.pending.input[Classification::Duplicate as usize] += 1;
            return Tag::Untracked;
        }
        let flow = match self.key.compute(record, &mut self.scratch) {
            Ok(k) => k,
            Err(missing) => {
                self.pending.input[Classification::Rejected as usize] += 1;
                *self
                    .pending
                    .hash_errors
                    .entry(missing.to_string())
                    .or_default() += 1;
                return Tag::Untracked;
            }
        };
        let bits = self.tcp.as_ref().map_or(0, |t| t.bits(record));
        let first = self.table.get_mut(flow.hash).is_none();
        if first {
            self.open(record, flow, bits, now, out);
        }
        let Some(conn) = self.table.get_mut(flow.hash) else {
            return Tag::Untracked;
        };
        if !first {
            let ab = flow.a_first == conn.a_first;
            let errors = &mut self.pending.aggregator_errors;
            self.agg.update(&mut conn.accs, record, ab, &mut |f, _| {
                *errors.entry(f.to_string()).or_default() += 1;
            });
            conn.last_seen = now;
        }
        let ending = flags::FIN | flags::RST | flags::FIN_ACK | flags::RST_ACK;
        if self.tcp.as_ref().is_some_and(|t| t.detect_end) && bits & ending != 0 {
            let group = conn.group;
            if self.table.terminate(flow.hash, now) {
                self.pending.tcp_flags[0] += 1;
                self.gauge(group, 0, -1);
                self.gauge(group, 1, 1);
            }
        }
        if first {
            self.emit_new(flow.hash, out);
        }
        Tag::Tracked {
            hash: flow.hash,
            first,
        }
    }

    /// Creates the connection `record` opens (not yet emitted: the caller emits
    /// `newConnection` once the flow's flags were applied).
    fn open(
        &mut self,
        record: &Record,
        flow: FlowKey,
        bits: u64,
        now: Instant,
        out: &mut Vec<Record>,
    ) {
        if self.table.full() {
            self.evict(out);
        }
        // A first flow answering a SYN comes from the server: the client is A.
        let swap = self.tcp.as_ref().is_some_and(|t| t.swap_ab)
            && (bits & flags::SYN_ACK != 0
                || bits & (flags::SYN | flags::ACK) == flags::SYN | flags::ACK);
        if swap {
            self.pending.tcp_flags[1] += 1;
        }
        let group = self.group_of(record);
        let mut accs = self.agg.init();
        let errors = &mut self.pending.aggregator_errors;
        self.agg.update(&mut accs, record, !swap, &mut |f, _| {
            *errors.entry(f.to_string()).or_default() += 1;
        });
        let a_first = flow.a_first != swap;
        let conn = Connection::new(group, self.key.values(record, swap), a_first, accs, now);
        self.table.insert(flow.hash, conn);
        self.pending.input[Classification::NewConnection as usize] += 1;
        self.gauge(group, 0, 1);
    }

    fn emit_new(&mut self, hash: u64, out: &mut Vec<Record>) {
        if !self.outputs[Kind::New as usize] {
            return;
        }
        if let Some(conn) = self.table.get_mut(hash) {
            let r = connection_record(&self.agg, hash, conn, Kind::New);
            self.pending.output[Kind::New as usize] += 1;
            out.push(r);
        }
    }

    /// Ends the connection closest to its end to make room.
    fn evict(&mut self, out: &mut Vec<Record>) {
        if let Some((hash, conn)) = self.table.evict() {
            self.ended(hash, conn, EndReason::Evicted, out);
        }
    }

    /// The first scheduling group whose selector the flow matches (the last one is the
    /// default and matches everything).
    fn group_of(&self, record: &Record) -> usize {
        let schedules = self.table.schedules();
        schedules
            .iter()
            .position(|s| {
                s.selector.iter().all(|(k, want)| {
                    record
                        .get(k)
                        .is_some_and(|v| v == want || v.to_text() == want.to_text())
                })
            })
            .unwrap_or(schedules.len().saturating_sub(1))
    }

    fn due_ends(&mut self, now: Instant, out: &mut Vec<Record>) {
        let mut ended = Vec::new();
        self.table.due_ends(now, &mut ended);
        for (hash, conn, reason) in ended {
            self.ended(hash, conn, reason, out);
        }
    }

    /// Accounts for an ended connection and emits its `endConnection`.
    fn ended(&mut self, hash: u64, mut conn: Connection, reason: EndReason, out: &mut Vec<Record>) {
        let phase = usize::from(conn.terminating_since.is_some());
        self.gauge(conn.group, phase, -1);
        let label = self.table.schedules()[conn.group].label.clone();
        *self
            .pending
            .ends
            .entry((label, reason.as_str()))
            .or_default() += 1;
        if self.outputs[Kind::End as usize] {
            out.push(connection_record(&self.agg, hash, &mut conn, Kind::End));
            self.pending.output[Kind::End as usize] += 1;
        }
    }

    fn due_heartbeats(&mut self, now: Instant, out: &mut Vec<Record>) {
        let agg = &self.agg;
        let mut emitted = 0;
        self.table.due_heartbeats(now, &mut |hash, conn| {
            out.push(connection_record(agg, hash, conn, Kind::Heartbeat));
            emitted += 1;
        });
        self.pending.output[Kind::Heartbeat as usize] += emitted;
    }

    /// The flow log of an input flow: the flow itself with the connection's tags.
    fn flow_log(&mut self, mut record: Record, tag: Tag) -> Record {
        record.insert("_RecordType", Kind::FlowLog.name());
        if let Tag::Tracked { hash, first } = tag {
            record.insert("_HashId", hash_id(hash));
            record.insert("_IsFirst", first);
        }
        self.pending.output[Kind::FlowLog as usize] += 1;
        record
    }

    /// Moves the connection gauge of (`group`, phase index) by `delta`.
    fn gauge(&mut self, group: usize, phase: usize, delta: i64) {
        let label = self
            .table
            .schedules()
            .get(group)
            .map_or_else(String::new, |s| s.label.clone());
        *self
            .pending
            .memory
            .entry((label, metrics::PHASES[phase]))
            .or_default() += delta;
    }
}

/// A connection record of `kind`: key fields, output fields, then the tags.
fn connection_record(agg: &Aggregation, hash: u64, conn: &mut Connection, kind: Kind) -> Record {
    let mut r = Record::with_capacity(conn.key_values.len() + conn.accs.len() + 3);
    for (k, v) in &conn.key_values {
        r.insert(k.clone(), v.clone());
    }
    agg.write(&conn.accs, &mut r);
    r.insert("_RecordType", kind.name());
    r.insert("_HashId", hash_id(hash));
    r.insert("_IsFirst", !conn.reported);
    conn.reported = true;
    r
}

/// Compiles `scheduling`: selectors, the default last, durations with operator defaults.
fn schedules(config: &ConntrackConfig) -> Result<Vec<Schedule>, ConfigError> {
    if config.scheduling.is_empty() {
        return Ok(vec![Schedule {
            selector: Vec::new(),
            label: "default".into(),
            end: DEFAULT_END_TIMEOUT,
            terminating: DEFAULT_TERMINATING_TIMEOUT,
            heartbeat: DEFAULT_HEARTBEAT_INTERVAL,
        }]);
    }
    let last = config.scheduling.len() - 1;
    let mut out = Vec::with_capacity(config.scheduling.len());
    for (index, s) in config.scheduling.iter().enumerate() {
        match (s.selector.is_empty(), index == last) {
            (true, false) => return Err(ConfigError::EarlyDefault(index)),
            (false, true) => return Err(ConfigError::NoDefaultSchedule),
            _ => {}
        }
        let duration = |field: &'static str, text: &str, default: Duration| {
            if text.is_empty() {
                return Ok(default);
            }
            parse_go_duration(text).map_err(|reason| ConfigError::Duration {
                index,
                field,
                reason,
            })
        };
        let end = duration(
            "endConnectionTimeout",
            &s.end_connection_timeout,
            DEFAULT_END_TIMEOUT,
        )?;
        let terminating = duration(
            "terminatingTimeout",
            &s.terminating_timeout,
            DEFAULT_TERMINATING_TIMEOUT,
        )?;
        let heartbeat = duration(
            "heartbeatInterval",
            &s.heartbeat_interval,
            DEFAULT_HEARTBEAT_INTERVAL,
        )?;
        for (field, d) in [
            ("endConnectionTimeout", end),
            ("heartbeatInterval", heartbeat),
        ] {
            if d.is_zero() {
                return Err(ConfigError::ZeroDuration { index, field });
            }
        }
        let selector: Vec<(Key, Value)> = s
            .selector
            .iter()
            .map(|(k, v)| (field_key(k), Value::from(v.clone())))
            .collect();
        let label = if selector.is_empty() {
            "default".to_string()
        } else {
            selector
                .iter()
                .map(|(k, v)| format!("{k}={}", v.to_text()))
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push(Schedule {
            selector,
            label,
            end,
            terminating,
            heartbeat,
        });
    }
    Ok(out)
}

/// Builder of `conntrack`.
pub fn build(
    extract: &Extract,
    ctx: &mut StageContext<'_>,
) -> Result<Box<dyn super::Extractor>, BuildError> {
    let config = section(extract.conntrack.as_ref(), "conntrack")?;
    let metrics = ctx.shared.conntrack().stage(ctx.name);
    Ok(Box::new(Conntrack::new(config, metrics)?))
}

impl super::Extractor for Conntrack {
    fn extract(&mut self, batch: &[Record]) -> Vec<Record> {
        self.extract_at(batch, Instant::now())
    }

    fn takes_input(&self) -> bool {
        self.outputs[Kind::FlowLog as usize]
    }

    fn extract_owned(&mut self, batch: Vec<Record>) -> Vec<Record> {
        self.extract_owned_at(batch, Instant::now())
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.tick)
    }

    fn tick(&mut self) -> Vec<Record> {
        self.tick_at(Instant::now())
    }
}

/// A dropped copy (reload, shutdown) no longer holds its connections: take them off the gauge.
impl Drop for Conntrack {
    fn drop(&mut self) {
        let held: Vec<(usize, usize)> = self
            .table
            .iter()
            .map(|(_, c)| (c.group, usize::from(c.terminating_since.is_some())))
            .collect();
        for (group, phase) in held {
            self.gauge(group, phase, -1);
        }
        self.metrics.flush(&mut self.pending);
    }
}
