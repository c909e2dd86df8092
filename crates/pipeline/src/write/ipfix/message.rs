//! IPFIX messages (RFC 7011): the 16-byte header, template sets and data sets, built into a
//! reusable buffer. Written by hand: no maintained Rust crate encodes IPFIX with
//! enterprise-specific and variable-length elements (the `ipfix` crate is a nom 2 parser, the
//! exporters on crates.io are an application's internals), and the format is small.

use super::elements::{Element, Encoding, Family, VARIABLE};
use crate::record::{Record, Value};
use std::net::IpAddr;

/// IPFIX version number.
const VERSION: u16 = 10;
/// Set id of template sets.
const TEMPLATE_SET: u16 = 2;
/// Bytes of the message header.
pub const HEADER_LEN: usize = 16;
/// Longest text kept in a variable-length element (longer ones are cut at a char boundary).
const MAX_TEXT: usize = 1024;

/// Builds messages for one observation domain of one transport session.
#[derive(Debug)]
pub struct MessageBuilder {
    domain: u32,
    enterprise_number: u32,
    /// Data records sent so far (the header's sequence number, modulo 2^32).
    sequence: u32,
}

impl MessageBuilder {
    /// A builder for `domain`; `enterprise_number` is written after each enterprise element.
    pub fn new(domain: u32, enterprise_number: u32) -> Self {
        Self {
            domain,
            enterprise_number,
            sequence: 0,
        }
    }

    /// A message carrying the templates of both families.
    pub fn templates(&self, templates: &[(Family, Vec<Element>)], export_secs: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.header(&mut out, export_secs);
        let set = begin_set(&mut out, TEMPLATE_SET);
        for (family, elements) in templates {
            put_u16(&mut out, family.template_id());
            put_u16(&mut out, elements.len() as u16);
            for e in elements {
                if e.enterprise {
                    put_u16(&mut out, e.id | 0x8000);
                    put_u16(&mut out, e.length);
                    put_u32(&mut out, self.enterprise_number);
                } else {
                    put_u16(&mut out, e.id);
                    put_u16(&mut out, e.length);
                }
            }
        }
        end_set(&mut out, set);
        finish(&mut out);
        out
    }

    /// Starts a data message (header and one data set of `family`); add records with
    /// [`DataMessage::push`].
    pub fn data(&mut self, family: Family, export_secs: u32) -> DataMessage<'_> {
        let mut out = Vec::with_capacity(1500);
        self.header(&mut out, export_secs);
        let set = begin_set(&mut out, family.template_id());
        DataMessage {
            builder: self,
            out,
            set,
            records: 0,
        }
    }

    fn header(&self, out: &mut Vec<u8>, export_secs: u32) {
        put_u16(out, VERSION);
        put_u16(out, 0); // length, set by `finish`
        put_u32(out, export_secs);
        put_u32(out, self.sequence);
        put_u32(out, self.domain);
    }
}

/// A data message being filled.
pub struct DataMessage<'a> {
    builder: &'a mut MessageBuilder,
    out: Vec<u8>,
    set: usize,
    records: u32,
}

impl DataMessage<'_> {
    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Appends `record` encoded with `elements` unless the message would then pass `limit`
    /// bytes (a message always takes its first record); false when it did not fit.
    pub fn push(&mut self, record: &Record, elements: &[Element], limit: usize) -> bool {
        let before = self.out.len();
        for e in elements {
            encode(&mut self.out, record.get(e.field), e);
        }
        if self.records > 0 && self.out.len() > limit {
            self.out.truncate(before);
            return false;
        }
        self.records += 1;
        true
    }

    /// The finished message and the number of records in it.
    pub fn finish(mut self) -> (Vec<u8>, u32) {
        end_set(&mut self.out, self.set);
        finish(&mut self.out);
        self.builder.sequence = self.builder.sequence.wrapping_add(self.records);
        (self.out, self.records)
    }
}

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn begin_set(out: &mut Vec<u8>, id: u16) -> usize {
    let at = out.len();
    put_u16(out, id);
    put_u16(out, 0);
    at
}

fn end_set(out: &mut [u8], at: usize) {
    let len = (out.len() - at) as u16;
    out[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn finish(out: &mut [u8]) {
    let len = out.len() as u16;
    out[2..4].copy_from_slice(&len.to_be_bytes());
}

/// Encodes one element's value; a missing or unusable value is zero / empty.
fn encode(out: &mut Vec<u8>, value: Option<&Value>, e: &Element) {
    match e.encoding {
        Encoding::Unsigned => unsigned(out, value.and_then(as_u64).unwrap_or(0), e.length),
        Encoding::TcpFlags => unsigned(out, value.map(tcp_flags).unwrap_or(0), e.length),
        Encoding::Mac => out.extend_from_slice(&value.and_then(mac).unwrap_or([0; 6])),
        Encoding::Address => address(out, value.and_then(Value::as_ip), e.length),
        Encoding::Text => text(out, &value.map(joined).unwrap_or_default()),
        Encoding::FirstText => text(out, &value.map(first).unwrap_or_default()),
    }
    debug_assert!(e.length == VARIABLE || e.length <= 16);
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::UInt(u) => Some(*u),
        other => other.as_i64().and_then(|i| u64::try_from(i).ok()),
    }
}

fn unsigned(out: &mut Vec<u8>, v: u64, length: u16) {
    let bytes = v.to_be_bytes();
    let n = usize::from(length).min(8);
    // A value too large for the element saturates rather than wrapping to a small number.
    if n < 8 && v >> (n * 8) != 0 {
        out.extend(std::iter::repeat_n(0xff, n));
    } else {
        out.extend_from_slice(&bytes[8 - n..]);
    }
}

fn mac(v: &Value) -> Option<[u8; 6]> {
    let s = v.as_str()?;
    let mut m = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for b in &mut m {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(m)
}

fn address(out: &mut Vec<u8>, ip: Option<IpAddr>, length: u16) {
    match (ip, length) {
        (Some(IpAddr::V4(a)), 4) => out.extend_from_slice(&a.octets()),
        (Some(IpAddr::V6(a)), 16) => out.extend_from_slice(&a.octets()),
        (Some(IpAddr::V4(a)), 16) => out.extend_from_slice(&a.to_ipv6_mapped().octets()),
        _ => out.extend(std::iter::repeat_n(0, usize::from(length))),
    }
}

/// NetObserv's flag names (after `decode_tcp_flags`) back to the agent's bit field.
fn tcp_flags(v: &Value) -> u64 {
    match v {
        Value::List(names) => names
            .iter()
            .filter_map(Value::as_str)
            .map(|n| match n {
                "FIN" => 0x01,
                "SYN" => 0x02,
                "RST" => 0x04,
                "PSH" => 0x08,
                "ACK" => 0x10,
                "URG" => 0x20,
                "ECE" => 0x40,
                "CWR" => 0x80,
                "SYN_ACK" => 0x100,
                "FIN_ACK" => 0x200,
                "RST_ACK" => 0x400,
                _ => 0,
            })
            .fold(0, |a, b| a | b),
        other => as_u64(other).unwrap_or(0),
    }
}

fn joined(v: &Value) -> String {
    match v {
        Value::List(items) => items
            .iter()
            .map(Value::to_text)
            .collect::<Vec<_>>()
            .join(","),
        Value::Null => String::new(),
        other => other.to_text(),
    }
}

fn first(v: &Value) -> String {
    match v {
        Value::List(items) => items.first().map(Value::to_text).unwrap_or_default(),
        Value::Null => String::new(),
        other => other.to_text(),
    }
}

/// A variable-length string: one length byte below 255, else 255 and two length bytes.
fn text(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &s.as_bytes()[..end];
    if bytes.len() < 255 {
        out.push(bytes.len() as u8);
    } else {
        out.push(255);
        put_u16(out, bytes.len() as u16);
    }
    out.extend_from_slice(bytes);
}
