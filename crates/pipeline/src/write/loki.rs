//! The Loki writer's encoding side: which record fields become stream labels, what the log line
//! is, the entry timestamp, batching into a push request, and the wire format (Loki's
//! `logproto.PushRequest` protobuf, snappy-compressed, POSTed to `/loki/api/v1/push`).
//!
//! Defaults follow upstream flowlogs-pipeline so that the console's LogQL queries keep working:
//! label fields are removed from the JSON line; label names have `/ . -` turned into `_`; the
//! timestamp is `timestampLabel × timestampScale`, or now when the field is missing or zero.

use crate::config::parse_go_duration;
use crate::record::{Record, Value};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `write: {type: loki, loki: {...}}` parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LokiWrite {
    /// Base URL; pushes go to `<url>/loki/api/v1/push`.
    #[serde(default)]
    pub url: String,
    /// Sent as `X-Scope-OrgID`.
    #[serde(default, rename = "tenantID", skip_serializing_if = "String::is_empty")]
    pub tenant_id: String,
    /// Longest wait before a non-full batch is sent (Go duration, default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_wait: Option<String>,
    /// Batch size in bytes of lines (default 100 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Request timeout (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// First retry delay (default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_backoff: Option<String>,
    /// Longest retry delay (default 1s upstream; NetObserv sets 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<String>,
    /// Retries after the first attempt (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Record fields promoted to stream labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Labels added to every stream.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub static_labels: BTreeMap<String, String>,
    /// Fields removed from lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_list: Vec<String>,
    /// HTTP client settings (TLS, auth), kept for the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_config: Option<serde_json::Value>,
    /// Field holding the entry time (default `TimeReceived`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_label: Option<String>,
    /// Unit of that field (default `1s`; NetObserv uses `TimeFlowEndMs` with `1ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_scale: Option<String>,
    /// Line format: `json` (default), `printf` or `fields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Whether the JSON line's keys are written in alphabetical order (upstream's `reorder`);
    /// otherwise they keep the record's order.
    #[serde(default)]
    pub reorder: bool,
    /// `http` (default) or `grpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_protocol: Option<String>,
}

/// Loki's `logproto` messages, as Loki's push endpoint decodes them.
pub mod proto {
    /// `logproto.PushRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        /// One entry per label set.
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<Stream>,
    }

    /// `logproto.StreamAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Stream {
        /// The label set in LogQL form: `{a="x", b="y"}`.
        #[prost(string, tag = "1")]
        pub labels: String,
        /// The lines.
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<Entry>,
        /// Unused by the push path.
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }

    /// `logproto.EntryAdapter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        /// Entry time.
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        /// The log line.
        #[prost(string, tag = "2")]
        pub line: String,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
    pub struct Timestamp {
        /// Seconds since the Unix epoch.
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        /// Nanoseconds within the second.
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

/// Why a Loki writer cannot be built or a payload not decoded.
#[derive(Debug, thiserror::Error)]
pub enum LokiError {
    /// A parameter is invalid.
    #[error("loki writer: {0}")]
    Config(String),
    /// A batch could not be compressed (larger than snappy's 4 GiB block limit).
    #[error("cannot compress a Loki push: {0}")]
    Encode(String),
    /// A payload is not snappy-compressed protobuf (used by tests and tools that read pushes).
    #[error("not a Loki push payload: {0}")]
    Decode(String),
}

/// Replaces the characters Loki label names cannot hold (`/`, `.`, `-`, ...) with `_`.
pub fn sanitize_label(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Loki's default limit on a label value's length, past which it rejects the whole push.
pub const MAX_LABEL_VALUE_BYTES: usize = 1024;

/// Label values worth sending: not empty (an empty value means "no label" in LogQL) and within
/// [`MAX_LABEL_VALUE_BYTES`].
fn valid_label_value(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_LABEL_VALUE_BYTES
}

/// Builds push requests from records.
#[derive(Debug)]
pub struct LokiEncoder {
    labels: Vec<(String, String)>,
    static_labels: BTreeMap<String, String>,
    ignore: Vec<String>,
    timestamp_field: String,
    timestamp_scale: Duration,
    batch_bytes: usize,
    batch_wait: Duration,
    /// Pending entries by label set (hashed: a batch holds many streams, and their label sets
    /// share long prefixes that make ordered comparisons slow); sorted when taken.
    streams: HashMap<String, Vec<proto::Entry>, foldhash::fast::RandomState>,
    pending_bytes: usize,
    reorder: bool,
    /// Per field of the current record: whether it stays out of the line (it became a label,
    /// or is ignored). Indexed like the record's fields, so the line is written without
    /// comparing names.
    skip: Vec<bool>,
    long_label_values: u64,
}

impl LokiEncoder {
    /// Builds the encoder from the writer's parameters.
    pub fn new(config: &LokiWrite) -> Result<Self, LokiError> {
        let duration = |field: &str, v: &Option<String>, default: Duration| match v {
            Some(text) => {
                parse_go_duration(text).map_err(|e| LokiError::Config(format!("{field}: {e}")))
            }
            None => Ok(default),
        };
        let timestamp_scale = duration(
            "timestampScale",
            &config.timestamp_scale,
            Duration::from_secs(1),
        )?;
        if timestamp_scale.is_zero() {
            return Err(LokiError::Config("timestampScale must be positive".into()));
        }
        if let Some(format) = &config.format
            && format != "json"
        {
            return Err(LokiError::Config(format!(
                "line format `{format}` is not supported yet (use json)"
            )));
        }
        for name in config.static_labels.keys() {
            if sanitize_label(name) != *name || name.is_empty() {
                return Err(LokiError::Config(format!(
                    "static label name `{name}` is not a valid label name"
                )));
            }
        }
        Ok(Self {
            labels: config
                .labels
                .iter()
                .map(|field| (field.clone(), sanitize_label(field)))
                .collect(),
            static_labels: config.static_labels.clone(),
            ignore: config.ignore_list.clone(),
            timestamp_field: config
                .timestamp_label
                .clone()
                .unwrap_or_else(|| "TimeReceived".into()),
            timestamp_scale,
            batch_bytes: config.batch_size.unwrap_or(100 * 1024).max(1),
            batch_wait: duration("batchWait", &config.batch_wait, Duration::from_secs(1))?,
            streams: HashMap::default(),
            pending_bytes: 0,
            reorder: config.reorder,
            skip: Vec::new(),
            long_label_values: 0,
        })
    }

    /// Label values that were too long to be labels (kept in the line instead), so far.
    pub fn long_label_values(&self) -> u64 {
        self.long_label_values
    }

    /// Longest time a batch waits before being sent.
    pub fn batch_wait(&self) -> Duration {
        self.batch_wait
    }

    /// Adds a record to the pending batch. Returns true when the batch reached its size and
    /// should be sent now.
    pub fn add(&mut self, record: &Record) -> bool {
        self.add_at(record, SystemTime::now())
    }

    /// [`Self::add`] with an explicit "now" for records without a usable timestamp.
    pub fn add_at(&mut self, record: &Record, now: SystemTime) -> bool {
        let (labels, entry) = self.encode_at(record, now);
        self.push(labels, entry)
    }

    /// The stream label set and the entry of one record, without batching them: the pipeline's
    /// workers encode lines (the costly part) and hand them to the writer thread, which only
    /// batches and pushes.
    pub fn encode_at(&mut self, record: &Record, now: SystemTime) -> (String, proto::Entry) {
        // Record labels first, then the static labels they do not override; sorted by name, the
        // order Loki and LogQL use for a stream's label set.
        let mut labels: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(self.labels.len() + 1);
        self.skip.clear();
        self.skip.resize(record.len(), false);
        for field in &self.ignore {
            if let Some(i) = record.position(field) {
                self.skip[i] = true;
            }
        }
        for (field, label) in &self.labels {
            if let Some(i) = record.position(field) {
                let value = record.value_at(i).unwrap_or(&Value::Null);
                let text = match value {
                    Value::Str(s) => Cow::Borrowed(s.as_str()),
                    other => Cow::Owned(other.to_text()),
                };
                if valid_label_value(&text) {
                    labels.push((label.as_str(), text));
                    self.skip[i] = true;
                } else if text.len() > MAX_LABEL_VALUE_BYTES {
                    // Not a label, so it stays in the line: nothing is lost, but count it.
                    self.long_label_values += 1;
                }
            }
        }
        for (name, value) in &self.static_labels {
            if !labels.iter().any(|(n, _)| *n == name.as_str()) {
                labels.push((name.as_str(), Cow::Borrowed(value.as_str())));
            }
        }
        labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut key = String::with_capacity(192);
        write_label_set(&mut key, &labels);
        // The line: every field but those that became labels and the ignored ones, serialised
        // straight from the record (no copy of the values).
        let line = serde_json::to_string(&LineView {
            record,
            skip: &self.skip,
            sorted: self.reorder,
        })
        .unwrap_or_default();
        let entry = proto::Entry {
            timestamp: Some(self.timestamp(record, now)),
            line,
        };
        (key, entry)
    }

    /// Adds an encoded entry to the pending batch. Returns true when the batch reached its size
    /// and should be sent now.
    pub fn push(&mut self, labels: String, entry: proto::Entry) -> bool {
        self.pending_bytes += entry.line.len();
        match self.streams.get_mut(labels.as_str()) {
            Some(entries) => entries.push(entry),
            None => {
                self.streams.insert(labels, vec![entry]);
            }
        }
        self.pending_bytes >= self.batch_bytes
    }

    fn timestamp(&self, record: &Record, now: SystemTime) -> proto::Timestamp {
        // Integer fields are scaled exactly (a float would turn 1732200000123 ms into
        // ...123000145 ns); fractional values are rounded to the nanosecond.
        let scale_ns = self.timestamp_scale.as_nanos();
        let from_record = record.get(&self.timestamp_field).and_then(|v| match v {
            Value::UInt(u) if *u > 0 => Some(u128::from(*u) * scale_ns),
            Value::Int(i) if *i > 0 => Some(*i as u128 * scale_ns),
            other => other
                .as_f64()
                .filter(|f| f.is_finite() && *f > 0.0)
                .map(|f| (f * scale_ns as f64).round() as u128),
        });
        let nanos = from_record.unwrap_or_else(|| {
            now.duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        });
        proto::Timestamp {
            seconds: (nanos / 1_000_000_000) as i64,
            nanos: (nanos % 1_000_000_000) as i32,
        }
    }

    /// Number of entries waiting.
    pub fn pending(&self) -> usize {
        self.streams.values().map(Vec::len).sum()
    }

    /// Takes the pending batch as a push request (None when empty).
    pub fn take_request(&mut self) -> Option<proto::PushRequest> {
        if self.streams.is_empty() {
            return None;
        }
        self.pending_bytes = 0;
        let mut streams: Vec<proto::Stream> = std::mem::take(&mut self.streams)
            .into_iter()
            .map(|(labels, entries)| proto::Stream {
                labels,
                entries,
                hash: 0,
            })
            .collect();
        streams.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        Some(proto::PushRequest { streams })
    }
}

/// Writes `{a="x", b="y"}`, values escaped as LogQL string literals.
fn write_label_set(out: &mut String, labels: &[(&str, Cow<'_, str>)]) {
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

/// A record seen without the fields that became labels and the ignored ones, serialised as the
/// log line.
struct LineView<'a> {
    record: &'a Record,
    /// Per field, whether it stays out of the line.
    skip: &'a [bool],
    sorted: bool,
}

impl LineView<'_> {
    fn kept(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.record
            .iter()
            .zip(self.skip)
            .filter(|(_, skip)| !**skip)
            .map(|(field, _)| field)
    }
}

impl Serialize for LineView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        if self.sorted {
            let mut fields: Vec<(&str, &Value)> = self.kept().collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (field, value) in fields {
                map.serialize_entry(field, value)?;
            }
        } else {
            for (field, value) in self.kept() {
                map.serialize_entry(field, value)?;
            }
        }
        map.end()
    }
}

/// The HTTP body of a push: the protobuf, snappy block-compressed.
pub fn encode_push(request: &proto::PushRequest) -> Result<Vec<u8>, LokiError> {
    let raw = request.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .map_err(|e| LokiError::Encode(e.to_string()))
}

/// Reverses [`encode_push`]: what a Loki (or a test standing in for one) does with the body.
pub fn decode_push(body: &[u8]) -> Result<proto::PushRequest, LokiError> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| LokiError::Decode(format!("snappy: {e}")))?;
    proto::PushRequest::decode(raw.as_slice())
        .map_err(|e| LokiError::Decode(format!("protobuf: {e}")))
}
