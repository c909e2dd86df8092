//! A flow record laid out as a `flow` row: one cell per catalogued field, plus the fields the
//! catalogue does not name. Writers fill rows from whatever record type they hold (the pipeline's
//! own, or JSON) through [`FlowRow::set`].

use crate::fields::{self, FIELDS, Kind};
use rusqlite::types::{ToSqlOutput, ValueRef};
use serde_json::{Map, Value};

/// One cell of a row.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Cell {
    /// Field absent.
    #[default]
    Null,
    /// An integer.
    Int(i64),
    /// A float (a latency that is not whole).
    Real(f64),
    /// Text, or a list / object as JSON text.
    Text(String),
}

impl Cell {
    /// The integer value, when numeric.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Real(f) => Some(*f as i64),
            Cell::Text(s) => s.parse().ok(),
            Cell::Null => None,
        }
    }

    fn hash_into(&self, h: &mut u64) {
        match self {
            Cell::Null => fnv(h, &[0]),
            Cell::Int(i) => {
                fnv(h, &[1]);
                fnv(h, &i.to_le_bytes());
            }
            Cell::Real(f) => {
                fnv(h, &[2]);
                fnv(h, &f.to_bits().to_le_bytes());
            }
            Cell::Text(s) => {
                fnv(h, &[3]);
                fnv(h, s.as_bytes());
            }
        }
        fnv(h, &[0xff]);
    }
}

/// FNV-1a: a stable hash (the same in every process and release) for rollup keys.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0100_0000_01b3);
    }
}

/// A stable 64-bit key for a list of cells.
pub fn key_of<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> i64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for c in cells {
        c.hash_into(&mut h);
    }
    h as i64
}

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Cell::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Cell::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Cell::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Cell::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// A record as a `flow` row.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRow {
    /// One cell per entry of [`FIELDS`].
    pub cells: Vec<Cell>,
    /// Fields outside the catalogue, written to the `Extra` column as a JSON object.
    pub extra: Map<String, Value>,
}

impl Default for FlowRow {
    fn default() -> Self {
        Self {
            cells: vec![Cell::Null; FIELDS.len()],
            extra: Map::new(),
        }
    }
}

impl FlowRow {
    /// Sets a catalogued field by position in [`FIELDS`].
    pub fn set_at(&mut self, index: usize, cell: Cell) {
        if let Some(c) = self.cells.get_mut(index) {
            *c = cell;
        }
    }

    /// Sets field `name` from a JSON value: catalogued fields go to their column (lists and
    /// objects as JSON text), others to `Extra`.
    pub fn set(&mut self, name: &str, value: &Value) {
        match fields::index(name) {
            Some(i) => self.cells[i] = cell_of(FIELDS[i].kind, value),
            None => {
                self.extra.insert(name.to_string(), value.clone());
            }
        }
    }

    /// The cell of field `name`.
    pub fn get(&self, name: &str) -> &Cell {
        static NULL: Cell = Cell::Null;
        fields::index(name).map_or(&NULL, |i| &self.cells[i])
    }

    /// A row from a JSON object record.
    pub fn from_json(record: &Map<String, Value>) -> Self {
        let mut row = Self::default();
        for (k, v) in record {
            row.set(k, v);
        }
        row.finish();
        row
    }

    /// Fills derived cells: the CLI's singular `Interface` column from `Interfaces` when the
    /// record has only the list.
    pub fn finish(&mut self) {
        let (Some(single), Some(list)) = (fields::index("Interface"), fields::index("Interfaces"))
        else {
            return;
        };
        if self.cells[single] == Cell::Null
            && let Cell::Text(json) = &self.cells[list]
            && let Ok(Value::Array(names)) = serde_json::from_str::<Value>(json)
        {
            let joined: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            if !joined.is_empty() {
                self.cells[single] = Cell::Text(joined.join(","));
            }
        }
    }

    /// The `Extra` cell.
    pub fn extra_cell(&self) -> Cell {
        if self.extra.is_empty() {
            Cell::Null
        } else {
            Cell::Text(Value::Object(self.extra.clone()).to_string())
        }
    }
}

/// The cell for a JSON value stored in a column of `kind`.
pub fn cell_of(kind: Kind, value: &Value) -> Cell {
    match value {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Int(i64::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Cell::Int(i),
            (None, Some(u), _) => Cell::Int(u as i64),
            (_, _, Some(f)) => Cell::Real(f),
            _ => Cell::Null,
        },
        Value::String(s) if kind == Kind::Int => {
            s.parse().map_or_else(|_| Cell::Text(s.clone()), Cell::Int)
        }
        Value::String(s) => Cell::Text(s.clone()),
        Value::Array(_) | Value::Object(_) => Cell::Text(value.to_string()),
    }
}

/// The JSON value of a stored cell of `kind` (lists and events parsed back from JSON text).
pub fn json_of(kind: Kind, value: ValueRef<'_>) -> Option<Value> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(Value::from(i)),
        ValueRef::Real(f) => Some(Value::from(f)),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            if matches!(kind, Kind::List | Kind::Events) && s.starts_with('[') {
                serde_json::from_str(&s)
                    .ok()
                    .or(Some(Value::String(s.into())))
            } else {
                Some(Value::String(s.into()))
            }
        }
        ValueRef::Blob(b) => Some(Value::String(String::from_utf8_lossy(b).into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_record_maps_to_columns_and_extra() {
        let rec = json!({"SrcAddr": "10.0.0.1", "Bytes": 12, "Interfaces": ["eth0", "br0"],
            "SrcK8S_labels_app": "web", "DnsLatencyMs": 1.5});
        let row = FlowRow::from_json(rec.as_object().expect("object"));
        assert_eq!(row.get("SrcAddr"), &Cell::Text("10.0.0.1".into()));
        assert_eq!(row.get("Bytes"), &Cell::Int(12));
        assert_eq!(
            row.get("Interfaces"),
            &Cell::Text(r#"["eth0","br0"]"#.into())
        );
        assert_eq!(row.get("Interface"), &Cell::Text("eth0,br0".into()));
        assert_eq!(row.get("DnsLatencyMs"), &Cell::Real(1.5));
        assert_eq!(row.extra.get("SrcK8S_labels_app"), Some(&json!("web")));
    }

    #[test]
    fn keys_differ_for_null_and_empty() {
        let a = key_of(&[Cell::Null, Cell::Text("x".into())]);
        let b = key_of(&[Cell::Text(String::new()), Cell::Text("x".into())]);
        let c = key_of(&[Cell::Text("x".into()), Cell::Null]);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, key_of(&[Cell::Null, Cell::Text("x".into())]));
    }
}
