//! Connection keys: which fields identify a connection, and a hash over them that both
//! directions of the connection share.
//!
//! The key is made of "common" groups (hashed as they are: `Proto`) and, for bidirectional
//! connections, an A group and a B group whose fields pair up by position (`SrcAddr`/`DstAddr`,
//! `SrcPort`/`DstPort`). A flow from B to A carries A's values in the B fields; hashing the two
//! sides in a fixed order (the one whose text sorts first, first) gives both directions one hash.
//! The hash is FNV-1a 64, rendered as hex in `_HashId`.

use super::ConfigError;
use crate::config::KeyDefinition;
use crate::record::{Key, Record, Value, key};
use fnv::FnvHasher;
use std::hash::Hasher;

/// Separates two field values in the hashed bytes, so `("1", "23")` and `("12", "3")` differ.
const FIELD_SEPARATOR: u8 = 0x1f;
/// Separates the common part from the endpoints.
const GROUP_SEPARATOR: u8 = 0x1e;

/// A flow's key, once computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    /// The connection's hash (the same for both directions).
    pub hash: u64,
    /// Whether this flow's A-side values sort at or before its B-side values. Two flows of one
    /// connection going opposite ways have opposite values (unless both ends are equal), which
    /// is how a flow's direction relative to the connection is found without keeping the
    /// endpoints' text.
    pub a_first: bool,
}

/// Text buffers reused from one flow to the next, so computing a key does not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    common: String,
    a: String,
    b: String,
}

/// The compiled `keyDefinition`.
#[derive(Clone, Debug)]
pub struct KeyDef {
    common: Vec<Key>,
    a: Vec<Key>,
    b: Vec<Key>,
}

impl KeyDef {
    /// Compiles the key definition, checking that every reference names a group and that A and
    /// B pair up.
    pub fn new(def: &KeyDefinition) -> Result<Self, ConfigError> {
        let mut names = std::collections::HashSet::new();
        for g in &def.field_groups {
            if !names.insert(g.name.as_str()) {
                return Err(ConfigError::DuplicateGroup(g.name.clone()));
            }
        }
        let group = |name: &str| -> Result<Vec<Key>, ConfigError> {
            def.field_groups
                .iter()
                .find(|g| g.name == name)
                .map(|g| g.fields.iter().map(|f| key(f)).collect())
                .ok_or_else(|| ConfigError::UnknownGroup(name.to_string()))
        };
        let mut common = Vec::new();
        for name in &def.hash.field_group_refs {
            common.extend(group(name)?);
        }
        let (a_ref, b_ref) = (&def.hash.field_group_a_ref, &def.hash.field_group_b_ref);
        let (a, b) = match (a_ref.is_empty(), b_ref.is_empty()) {
            (true, true) => (Vec::new(), Vec::new()),
            (false, false) => (group(a_ref)?, group(b_ref)?),
            _ => return Err(ConfigError::HalfBidirectional),
        };
        if a.len() != b.len() {
            return Err(ConfigError::UnpairedGroups {
                a: a.len(),
                b: b.len(),
            });
        }
        if common.is_empty() && a.is_empty() {
            return Err(ConfigError::EmptyKey);
        }
        Ok(Self { common, a, b })
    }

    /// Whether the key has A and B endpoints (needed by `splitAB` and `swapAB`).
    pub fn bidirectional(&self) -> bool {
        !self.a.is_empty()
    }

    /// The key of `record`, or the first key field it lacks.
    pub fn compute(&self, record: &Record, scratch: &mut Scratch) -> Result<FlowKey, Key> {
        write_fields(record, &self.common, &mut scratch.common)?;
        write_fields(record, &self.a, &mut scratch.a)?;
        write_fields(record, &self.b, &mut scratch.b)?;
        let a_first = scratch.a <= scratch.b;
        let (first, second) = if a_first {
            (&scratch.a, &scratch.b)
        } else {
            (&scratch.b, &scratch.a)
        };
        let mut h = FnvHasher::default();
        h.write(scratch.common.as_bytes());
        h.write(&[GROUP_SEPARATOR]);
        h.write(first.as_bytes());
        h.write(&[GROUP_SEPARATOR]);
        h.write(second.as_bytes());
        Ok(FlowKey {
            hash: h.finish(),
            a_first,
        })
    }

    /// The key fields a connection record carries: the common fields, then the A fields with
    /// the values of the connection's A endpoint and the B fields with B's. `swap` says that
    /// `record`'s B side is the connection's A endpoint (a first flow seen from the server).
    pub fn values(&self, record: &Record, swap: bool) -> Vec<(Key, Value)> {
        let get = |k: &Key| record.get(k).cloned().unwrap_or(Value::Null);
        let mut out = Vec::with_capacity(self.common.len() + 2 * self.a.len());
        out.extend(self.common.iter().map(|k| (k.clone(), get(k))));
        let (from_a, from_b) = if swap {
            (&self.b, &self.a)
        } else {
            (&self.a, &self.b)
        };
        out.extend(self.a.iter().zip(from_a).map(|(k, f)| (k.clone(), get(f))));
        out.extend(self.b.iter().zip(from_b).map(|(k, f)| (k.clone(), get(f))));
        out
    }
}

/// Writes the text of `fields` into `out`, separated; fails on the first missing (or null) one.
fn write_fields(record: &Record, fields: &[Key], out: &mut String) -> Result<(), Key> {
    out.clear();
    for f in fields {
        match record.get(f) {
            Some(Value::Null) | None => return Err(f.clone()),
            Some(v) => {
                // Writing to a String cannot fail.
                let _ = v.write_text(out);
                out.push(char::from(FIELD_SEPARATOR));
            }
        }
    }
    Ok(())
}

/// `_HashId`: the hash in hex, zero-padded so every id has the same width.
pub fn hash_id(hash: u64) -> String {
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConnectionHash, FieldGroup};

    fn def() -> KeyDef {
        let g = |name: &str, fields: &[&str]| FieldGroup {
            name: name.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        };
        KeyDef::new(&KeyDefinition {
            field_groups: vec![
                g("src", &["SrcAddr", "SrcPort"]),
                g("dst", &["DstAddr", "DstPort"]),
                g("common", &["Proto"]),
            ],
            hash: ConnectionHash {
                field_group_refs: vec!["common".into()],
                field_group_a_ref: "src".into(),
                field_group_b_ref: "dst".into(),
            },
        })
        .expect("valid")
    }

    fn flow(json: &str) -> Record {
        Record::from_json(json).expect("json")
    }

    #[test]
    fn both_directions_share_a_hash_and_differ_in_side() {
        let d = def();
        let mut s = Scratch::default();
        let ab = d
            .compute(
                &flow(r#"{"SrcAddr":"10.0.0.1","SrcPort":40000,"DstAddr":"10.0.0.2","DstPort":80,"Proto":6}"#),
                &mut s,
            )
            .expect("key");
        let ba = d
            .compute(
                &flow(r#"{"SrcAddr":"10.0.0.2","SrcPort":80,"DstAddr":"10.0.0.1","DstPort":40000,"Proto":6}"#),
                &mut s,
            )
            .expect("key");
        assert_eq!(ab.hash, ba.hash);
        assert_ne!(ab.a_first, ba.a_first);
        let udp = d
            .compute(
                &flow(r#"{"SrcAddr":"10.0.0.1","SrcPort":40000,"DstAddr":"10.0.0.2","DstPort":80,"Proto":17}"#),
                &mut s,
            )
            .expect("key");
        assert_ne!(ab.hash, udp.hash);
        assert_eq!(hash_id(ab.hash).len(), 16);
    }

    #[test]
    fn missing_fields_are_named() {
        let d = def();
        let err = d
            .compute(
                &flow(r#"{"SrcAddr":"10.0.0.1","DstAddr":"10.0.0.2","Proto":1}"#),
                &mut Scratch::default(),
            )
            .expect_err("no ports");
        assert_eq!(err, "SrcPort");
    }
}
