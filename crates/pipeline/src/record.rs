//! The flow record that travels through the pipeline.
//!
//! Upstream uses a `map[string]interface{}`. Here a record is a small vector of `(name, value)`
//! pairs: flows have 20–60 fields, a linear scan over short names is as fast as hashing them, the
//! order of insertion is kept (so JSON output is stable), known field names are `&'static str`
//! (no allocation per record) and short strings (namespaces, names) are stored inline.
//! Addresses stay binary ([`Value::Ip`]) from the decoder to the stage that needs them as text
//! (an encoder, a writer, a regex), so enrichment and subnet lookups never parse them back.

use compact_str::CompactString;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

/// A field name: static for the fields the pipeline itself produces, owned for others.
pub type Key = Cow<'static, str>;

/// A configured field name as a key that costs no allocation per record (see
/// [`crate::fields::intern`]).
pub fn key(name: &str) -> Key {
    Key::Borrowed(crate::fields::intern(name))
}

/// A field value. The variants are the JSON types plus the integer split that counters need and
/// binary addresses, which read and serialise as their text (v4-mapped IPv6 as IPv4, as
/// upstream's do).
#[derive(Clone, Debug)]
pub enum Value {
    /// An explicit null.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer (ports, directions, codes).
    Int(i64),
    /// An unsigned integer (byte and packet counters, timestamps).
    UInt(u64),
    /// A float (latencies, scaled values).
    Float(f64),
    /// A string, stored inline up to 24 bytes.
    Str(CompactString),
    /// An IP address, kept binary; build it with [`Value::ip`] so v4-mapped IPv6 is IPv4.
    Ip(IpAddr),
    /// A list, such as `Interfaces` or `Flags` names.
    List(Vec<Value>),
    /// A nested object, such as one `NetworkEvents` entry.
    Map(Record),
}

impl Value {
    /// An address value in its canonical form: a v4-mapped IPv6 address becomes IPv4, so it
    /// prints, compares and looks up as upstream's does.
    pub fn ip(ip: IpAddr) -> Value {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Value::Ip(IpAddr::V4(v4)),
                None => Value::Ip(ip),
            },
            v4 => Value::Ip(v4),
        }
    }

    /// The value as an address: binary ones as they are, strings parsed (records read from
    /// JSON or set by a configuration carry addresses as text).
    pub fn as_ip(&self) -> Option<IpAddr> {
        match self {
            Value::Ip(ip) => Some(*ip),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a string slice, when it is a string (not an address: see [`Value::as_ip`]
    /// and [`Value::to_text`]).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer, converting from any numeric variant or a decimal string (the
    /// way upstream's filters read numbers).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::UInt(u) => i64::try_from(*u).ok(),
            Value::Float(f) if f.is_finite() => Some(f.trunc() as i64),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a float, from any numeric variant or a decimal string.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::UInt(u) => Some(*u as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Writes the value as text the way upstream's string conversion does (lists as `[a b]`),
    /// for labels, regexes and subnet lookups.
    pub fn write_text(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match self {
            Value::Null => out.write_str("<nil>"),
            Value::Bool(b) => write!(out, "{b}"),
            Value::Int(i) => write!(out, "{i}"),
            Value::UInt(u) => write!(out, "{u}"),
            Value::Float(f) => write!(out, "{f}"),
            Value::Str(s) => out.write_str(s),
            Value::Ip(ip) => write!(out, "{ip}"),
            Value::List(items) => {
                out.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.write_char(' ')?;
                    }
                    item.write_text(out)?;
                }
                out.write_char(']')
            }
            Value::Map(map) => {
                let mut entries: Vec<&(Key, Value)> = map.entries.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                out.write_str("map[")?;
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.write_char(' ')?;
                    }
                    write!(out, "{k}:")?;
                    v.write_text(out)?;
                }
                out.write_char(']')
            }
        }
    }

    /// The text form as an owned string.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut s);
        s
    }
}

/// Equal when they are the same JSON value, except that an address equals any string that parses
/// to it (records decoded from protobuf hold [`Value::Ip`], records read from JSON or set by a
/// configuration hold strings; IPv6 has several spellings of one address).
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::UInt(a), Value::UInt(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Ip(a), Value::Ip(b)) => a == b,
            (Value::Ip(ip), Value::Str(s)) | (Value::Str(s), Value::Ip(ip)) => {
                s.parse::<IpAddr>().is_ok_and(|p| p == *ip)
            }
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl From<IpAddr> for Value {
    fn from(ip: IpAddr) -> Self {
        Value::ip(ip)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(CompactString::from(s))
    }
}
impl From<CompactString> for Value {
    fn from(s: CompactString) -> Self {
        Value::Str(s)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(CompactString::from(s))
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<u64> for Value {
    fn from(u: u64) -> Self {
        Value::UInt(u)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Key equality for the linear scans of [`Record`]: field names are short (5-25 bytes), and a
/// libc `memcmp` call per candidate was a visible share of the pipeline's profile. Interned
/// names (the static well-known ones, see [`crate::fields::known`]) match on their pointer.
#[inline(always)]
fn same_key(key: &str, field: &str) -> bool {
    let (a, b) = (key.as_bytes(), field.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if a.as_ptr() == b.as_ptr() {
        return true;
    }
    if n >= 8 {
        // Whole 8-byte words, then the last (possibly overlapping) word: no byte loop.
        let mut i = 0;
        while i + 8 < n {
            if word8(a, i) != word8(b, i) {
                return false;
            }
            i += 8;
        }
        word8(a, n - 8) == word8(b, n - 8)
    } else if n >= 4 {
        word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4)
    } else {
        a == b
    }
}

#[inline(always)]
fn word8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_ne_bytes(w)
}

#[inline(always)]
fn word4(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// One flow (or one derived record, such as a conversation event).
#[derive(Clone, Debug, Default)]
pub struct Record {
    entries: Vec<(Key, Value)>,
    /// One bit per key present ([`key_bit`]): a lookup whose bit is clear cannot match, so
    /// looking up an absent field (most lookups of optional fields) skips the scan. Removing a
    /// field leaves its bit set, which only costs a scan.
    mask: u64,
}

impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

/// The [`Record::mask`] bit of a field name, from its length and three of its bytes.
#[inline(always)]
fn key_bit(key: &str) -> u64 {
    let b = key.as_bytes();
    let n = b.len();
    if n == 0 {
        return 1;
    }
    let h = (n as u32).wrapping_mul(0x9E37_79B1)
        ^ u32::from(b[0]).wrapping_mul(0x85EB_CA77)
        ^ u32::from(b[n / 2]).wrapping_mul(0xC2B2_AE3D)
        ^ u32::from(b[n - 1]).wrapping_mul(0x27D4_EB2F);
    1u64 << (h >> 26)
}

impl Record {
    /// An empty record with room for `n` fields, so building a flow allocates once.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            entries: Vec::with_capacity(n),
            mask: 0,
        }
    }

    /// The value of `field`.
    #[inline]
    pub fn get(&self, field: &str) -> Option<&Value> {
        if self.mask & key_bit(field) == 0 {
            return None;
        }
        self.entries
            .iter()
            .find(|(k, _)| same_key(k, field))
            .map(|(_, v)| v)
    }

    /// Where `field` is in [`Self::iter`]'s order.
    pub fn position(&self, field: &str) -> Option<usize> {
        if self.mask & key_bit(field) == 0 {
            return None;
        }
        self.entries.iter().position(|(k, _)| same_key(k, field))
    }

    /// The value at `index` in [`Self::iter`]'s order.
    pub fn value_at(&self, index: usize) -> Option<&Value> {
        self.entries.get(index).map(|(_, v)| v)
    }

    /// A mutable reference to the value of `field`.
    #[inline]
    pub fn get_mut(&mut self, field: &str) -> Option<&mut Value> {
        if self.mask & key_bit(field) == 0 {
            return None;
        }
        self.entries
            .iter_mut()
            .find(|(k, _)| same_key(k, field))
            .map(|(_, v)| v)
    }

    /// Whether `field` is present.
    pub fn contains(&self, field: &str) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field`, replacing a previous value in place (its position is kept).
    pub fn insert(&mut self, field: impl Into<Key>, value: impl Into<Value>) {
        let field = field.into();
        let value = value.into();
        match self.get_mut(&field) {
            Some(slot) => *slot = value,
            None => {
                self.mask |= key_bit(&field);
                self.entries.push((field, value));
            }
        }
    }

    /// Appends a field the caller knows is not present yet (decoders building a record from
    /// scratch), skipping the scan [`Self::insert`] does. In debug builds a duplicate panics.
    pub fn push_new(&mut self, field: impl Into<Key>, value: impl Into<Value>) {
        let field = field.into();
        debug_assert!(!self.contains(&field), "duplicate field {field}");
        self.mask |= key_bit(&field);
        self.entries.push((field, value.into()));
    }

    /// Removes `field`, returning its value.
    pub fn remove(&mut self, field: &str) -> Option<Value> {
        let index = self.entries.iter().position(|(k, _)| k.as_ref() == field)?;
        Some(self.entries.remove(index).1)
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the record has no field.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The fields in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Parses one JSON object (a line of the `stdin`/`file` ingesters).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A view that serialises with the keys in alphabetical order, as upstream's JSON output
    /// (Go's encoder sorts map keys) and the `stdout` writer's.
    pub fn sorted(&self) -> Sorted<'_> {
        Sorted(self)
    }

    /// The record as one JSON line, in the record's field order.
    pub fn to_json(&self) -> String {
        // Serialising our own value types cannot fail: keys are strings and floats that are
        // not finite are written as null.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl<K: Into<Key>, V: Into<Value>> FromIterator<(K, V)> for Record {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut record = Record::default();
        for (k, v) in iter {
            record.insert(k, v);
        }
        record
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::UInt(u) => s.serialize_u64(*u),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(_) => s.serialize_unit(),
            Value::Str(v) => s.serialize_str(v),
            Value::Ip(ip) => s.collect_str(ip),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(map) => map.serialize(s),
        }
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

/// A record serialised with its keys sorted (see [`Record::sorted`]).
pub struct Sorted<'a>(&'a Record);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut fields: Vec<&(Key, Value)> = self.0.entries.iter().collect();
        fields.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut map = s.serialize_map(Some(fields.len()))?;
        for (k, v) in fields {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(b),
            J::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => Value::Str(CompactString::from(s)),
            J::Array(items) => Value::List(items.into_iter().map(Value::from).collect()),
            J::Object(map) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| (Key::Owned(k), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

/// Reads JSON (or any self-describing format) straight into records, keeping the field order and
/// without an intermediate `serde_json::Value`.
struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(if v >= 0 {
            Value::UInt(v as u64)
        } else {
            Value::Int(v)
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        RecordVisitor.visit_map(map).map(Value::Map)
    }
}

struct RecordVisitor;

/// A field name read from input: the static name when it is a well-known field (no allocation),
/// an owned copy otherwise.
struct FieldName(Key);

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl serde::de::Visitor<'_> for NameVisitor {
            type Value = FieldName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<FieldName, E> {
                Ok(FieldName(match crate::fields::known(v) {
                    Some(name) => Key::Borrowed(name),
                    None => Key::Owned(v.to_string()),
                }))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

impl<'de> serde::de::Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a flow record (a JSON object)")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut record = Record::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(FieldName(key)) = map.next_key::<FieldName>()? {
            let v = map.next_value::<Value>()?;
            record.mask |= key_bit(&key);
            record.entries.push((key, v));
        }
        Ok(record)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

/// Lets the filter language read records without converting them.
impl flowdsl::Record for Record {
    fn get(&self, field: &str) -> Option<flowdsl::Value<'_>> {
        Record::get(self, field).map(|v| match v {
            Value::Null => flowdsl::Value::Null,
            Value::Bool(b) => flowdsl::Value::Bool(*b),
            Value::Int(i) => flowdsl::Value::Int(*i),
            Value::UInt(u) => flowdsl::Value::UInt(*u),
            Value::Float(f) => flowdsl::Value::Float(*f),
            Value::Str(s) => flowdsl::Value::Str(s),
            Value::Ip(ip) => flowdsl::Value::Ip(*ip),
            composite @ (Value::List(_) | Value::Map(_)) => flowdsl::Value::Composite(composite),
        })
    }
}

impl flowdsl::Composite for Value {
    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.write_text(out)
    }
}

#[cfg(test)]
mod key_tests {
    #[test]
    fn same_key_matches_only_equal_names() {
        let names = [
            "",
            "a",
            "ab",
            "abc",
            "Abcd",
            "Proto",
            "SrcAddr",
            "DstAddr",
            "SrcPort1",
            "SrcPort2",
            "SrcK8S_Namespace",
            "DstK8S_Namespace",
            "SrcK8S_OwnerName",
            "TimeFlowRttNs",
            "K8S_FlowLayer_long_name_x",
        ];
        for x in names {
            for y in names {
                let owned = y.to_string();
                assert_eq!(super::same_key(x, &owned), x == y, "{x} vs {y}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_replaces_in_place_and_keeps_order() {
        let mut r = Record::default();
        r.insert("SrcAddr", "10.0.0.1");
        r.insert("Bytes", 10u64);
        r.insert("SrcAddr", "10.0.0.2");
        assert_eq!(r.to_json(), r#"{"SrcAddr":"10.0.0.2","Bytes":10}"#);
        assert_eq!(r.remove("SrcAddr"), Some(Value::from("10.0.0.2")));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn json_round_trip_keeps_types() {
        let line = r#"{"Bytes":66,"Proto":6,"Delta":-3,"Rtt":0.5,"Interfaces":["eth0","br-ex"],"NetworkEvents":[{"Action":"drop"}],"X":null,"Ok":true}"#;
        let r = Record::from_json(line).expect("parses");
        assert_eq!(r.get("Bytes"), Some(&Value::UInt(66)));
        assert_eq!(r.get("Delta"), Some(&Value::Int(-3)));
        assert_eq!(r.to_json(), line);
        assert!(Record::from_json("[1]").is_err());
    }

    #[test]
    fn text_form_matches_upstream_rendering() {
        let r = Record::from_json(r#"{"I":["eth0","br-ex"],"M":{"b":1,"a":"x"}}"#).expect("ok");
        assert_eq!(
            r.get("I").map(Value::to_text).as_deref(),
            Some("[eth0 br-ex]")
        );
        assert_eq!(
            r.get("M").map(Value::to_text).as_deref(),
            Some("map[a:x b:1]")
        );
    }

    #[test]
    fn filter_language_reads_records() {
        let r = Record::from_json(
            r#"{"SrcK8S_Namespace":"netobserv","DstPort":8080,"Interfaces":["eth0","br-ex"]}"#,
        )
        .expect("parses");
        let yes = flowdsl::compile(
            r#"SrcK8S_Namespace="netobserv" and DstPort>=1024 and Interfaces=~"br-ex""#,
        )
        .expect("compiles");
        let no = flowdsl::compile(r#"SrcK8S_Namespace="other" or without(DstPort)"#).expect("ok");
        assert!(yes.matches(&r));
        assert!(!no.matches(&r));
    }
}
