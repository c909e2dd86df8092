//! Record values as OTLP `AnyValue`s, keeping their types (a port stays an integer, an address
//! a string, `Interfaces` an array) so receivers can query them without parsing.

use crate::record::{Record, Value};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};

/// A record value as an `AnyValue`; `None` for nulls (left out, as OTLP has no null).
pub fn any(value: &Value) -> Option<AnyValue> {
    let v = match value {
        Value::Null => return None,
        Value::Bool(b) => Any::BoolValue(*b),
        Value::Int(i) => Any::IntValue(*i),
        Value::UInt(u) => Any::IntValue(i64::try_from(*u).unwrap_or(i64::MAX)),
        Value::Float(f) => Any::DoubleValue(*f),
        Value::Str(s) => Any::StringValue(s.to_string()),
        Value::Ip(ip) => Any::StringValue(ip.to_string()),
        Value::List(items) => Any::ArrayValue(ArrayValue {
            values: items.iter().filter_map(any).collect(),
        }),
        Value::Map(record) => Any::KvlistValue(KeyValueList {
            values: key_values(record),
        }),
    };
    Some(AnyValue { value: Some(v) })
}

/// Every non-null field of a record, in the record's order.
pub fn key_values(record: &Record) -> Vec<KeyValue> {
    record
        .iter()
        .filter_map(|(k, v)| {
            any(v).map(|value| KeyValue {
                key: k.to_string(),
                value: Some(value),
                ..KeyValue::default()
            })
        })
        .collect()
}

/// A string attribute.
pub fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(value.to_string())),
        }),
        ..KeyValue::default()
    }
}
