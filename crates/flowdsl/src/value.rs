//! Record access: how the evaluator reads field values, and how values are
//! rendered as text for regexes and `$(Field)` templates.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;

/// A field value borrowed from a record.
///
/// It exists so the evaluator can read any record representation (JSON maps,
/// typed flow structs, ...) without converting or allocating: implementors of
/// [`Record`] hand out borrowed views of their values.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    /// A string.
    Str(&'a str),
    /// An address a record keeps binary; it reads as its text (equality, regexes, templates).
    Ip(std::net::IpAddr),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (byte and packet counters are `u64` in flows).
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// An explicit null: the field is present (for `with`) but has no value.
    Null,
    /// A list or map, such as the `Interfaces` array of a flow. Only regexes
    /// and `$(Field)` templates can look at it, through its text rendering.
    Composite(&'a dyn Composite),
}

/// Text rendering of list / map values.
///
/// It exists because upstream matches regexes against Go's `%v` rendering of
/// such values (`["eth0","br-ex"]` reads `[eth0 br-ex]`), which lets queries
/// like `Interfaces=~"eth0"` work; implementors render the same way.
pub trait Composite {
    /// Writes the value as Go's `%v` would: lists as `[a b c]`, maps as
    /// `map[k1:v1 k2:v2]` with sorted keys, nulls as `<nil>`.
    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result;
}

/// A flow record the filter can read fields from.
///
/// It exists to decouple the query language from the pipeline's record type:
/// the evaluator only ever asks for one field by name.
pub trait Record {
    /// The value of `field`, or `None` when the record has no such field
    /// (which is what `with` / `without` test).
    fn get(&self, field: &str) -> Option<Value<'_>>;
}

impl<R: Record + ?Sized> Record for &R {
    fn get(&self, field: &str) -> Option<Value<'_>> {
        (**self).get(field)
    }
}

impl Record for serde_json::Map<String, serde_json::Value> {
    fn get(&self, field: &str) -> Option<Value<'_>> {
        serde_json::Map::get(self, field).map(Value::from)
    }
}

impl<S: BuildHasher> Record for HashMap<String, serde_json::Value, S> {
    fn get(&self, field: &str) -> Option<Value<'_>> {
        HashMap::get(self, field).map(Value::from)
    }
}

/// A JSON object is a record; any other JSON value is a record with no fields.
impl Record for serde_json::Value {
    fn get(&self, field: &str) -> Option<Value<'_>> {
        self.as_object().and_then(|map| Record::get(map, field))
    }
}

impl<'a> From<&'a serde_json::Value> for Value<'a> {
    fn from(v: &'a serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => Value::Str(s),
            J::Array(_) | J::Object(_) => Value::Composite(v),
        }
    }
}

impl Composite for serde_json::Value {
    fn render(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        use serde_json::Value as J;
        match self {
            J::Null => out.write_str("<nil>"),
            J::Bool(b) => write!(out, "{b}"),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    write!(out, "{i}")
                } else if let Some(u) = n.as_u64() {
                    write!(out, "{u}")
                } else {
                    write_go_g(out, n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => out.write_str(s),
            J::Array(items) => {
                out.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.write_char(' ')?;
                    }
                    item.render(out)?;
                }
                out.write_char(']')
            }
            J::Object(map) => {
                // Go prints map keys sorted; do not rely on the map's order
                // (serde_json's `preserve_order` feature changes it).
                let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.write_str("map[")?;
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.write_char(' ')?;
                    }
                    out.write_str(k)?;
                    out.write_char(':')?;
                    v.render(out)?;
                }
                out.write_char(']')
            }
        }
    }
}

impl Value<'_> {
    /// Writes the value's text form: what regexes and `$(Field)` templates
    /// see. Mirrors upstream's string conversion: integers in decimal, floats
    /// in shortest decimal notation without exponent, `true`/`false`, `<nil>`.
    pub fn write_text(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        match *self {
            Value::Str(s) => out.write_str(s),
            Value::Ip(ip) => write!(out, "{ip}"),
            Value::Int(i) => write!(out, "{i}"),
            Value::UInt(u) => write!(out, "{u}"),
            Value::Float(f) => write_go_f(out, f),
            Value::Bool(b) => write!(out, "{b}"),
            Value::Null => out.write_str("<nil>"),
            Value::Composite(c) => c.render(out),
        }
    }

    /// The text form as an owned string (see [`write_text`](Self::write_text)),
    /// for callers off the hot path.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_text(&mut s);
        s
    }

    /// Runs `f` on the text form, borrowing strings directly and rendering
    /// anything else into a stack buffer, so the hot path does not allocate.
    pub(crate) fn with_text<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        if let Value::Str(s) = self {
            return f(s);
        }
        let mut buf = TextBuf::new();
        // TextBuf never fails; a failing Composite renders what it wrote.
        let _ = self.write_text(&mut buf);
        f(buf.as_str())
    }

    /// Integer conversion used by numeric comparisons, matching upstream:
    /// floats truncate toward zero, strings parse as decimal integers, and
    /// anything else (booleans, nulls, lists, NaN) does not convert.
    pub(crate) fn as_int(&self) -> Option<i128> {
        match *self {
            Value::Int(i) => Some(i128::from(i)),
            Value::UInt(u) => Some(i128::from(u)),
            Value::Float(f) if f.is_nan() => None,
            // `as` saturates, which keeps huge magnitudes on the right side.
            Value::Float(f) => Some(f.trunc() as i128),
            Value::Str(s) => s.parse::<i64>().ok().map(i128::from),
            Value::Bool(_) | Value::Null | Value::Ip(_) | Value::Composite(_) => None,
        }
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.debug_tuple("Str").field(s).finish(),
            Value::Ip(ip) => f.debug_tuple("Ip").field(ip).finish(),
            Value::Int(i) => f.debug_tuple("Int").field(i).finish(),
            Value::UInt(u) => f.debug_tuple("UInt").field(u).finish(),
            Value::Float(x) => f.debug_tuple("Float").field(x).finish(),
            Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Value::Null => f.write_str("Null"),
            Value::Composite(_) => f.debug_tuple("Composite").field(&self.to_text()).finish(),
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits,
/// never an exponent. Rust's `Display` for `f64` has the same contract.
fn write_go_f(out: &mut dyn fmt::Write, f: f64) -> fmt::Result {
    if f.is_nan() {
        out.write_str("NaN")
    } else if f.is_infinite() {
        out.write_str(if f > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        write!(out, "{f}")
    }
}

/// Go's `%v` for a `float64` (`%g` with shortest precision): exponent form
/// (`1e+06`, `1.5e-05`) when the decimal exponent is below -4 or at least 6,
/// plain decimal otherwise.
fn write_go_g(out: &mut dyn fmt::Write, f: f64) -> fmt::Result {
    if !f.is_finite() {
        return write_go_f(out, f);
    }
    if f == 0.0 {
        return out.write_str(if f.is_sign_negative() { "-0" } else { "0" });
    }
    // `{:e}` gives the shortest digits as `d.ddde[-]x`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        write!(out, "{f}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        write!(out, "{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

/// Small inline buffer for rendering non-string values without allocating;
/// spills to the heap only for unusually long renderings.
pub(crate) struct TextBuf {
    inline: [u8; 64],
    len: usize,
    spill: Option<String>,
}

impl TextBuf {
    pub(crate) fn new() -> Self {
        Self {
            inline: [0; 64],
            len: 0,
            spill: None,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.spill {
            Some(s) => s,
            // Only whole `&str`s are ever copied in, so this is valid UTF-8.
            None => std::str::from_utf8(&self.inline[..self.len]).unwrap_or(""),
        }
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(spill) = &mut self.spill {
            spill.push_str(s);
        } else if self.len + s.len() <= self.inline.len() {
            self.inline[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
            self.len += s.len();
        } else {
            let mut spill = String::with_capacity(self.len + s.len() + 16);
            spill.push_str(self.as_str());
            spill.push_str(s);
            self.spill = Some(spill);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::fmt::Write as _;

    fn text(v: &serde_json::Value) -> String {
        Value::from(v).to_text()
    }

    #[test]
    fn scalar_text_forms() {
        assert_eq!(text(&json!("abc")), "abc");
        assert_eq!(text(&json!(42)), "42");
        assert_eq!(text(&json!(-42)), "-42");
        assert_eq!(text(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(text(&json!(4.5)), "4.5");
        assert_eq!(text(&json!(20.0)), "20");
        assert_eq!(text(&json!(1e21)), "1000000000000000000000");
        assert_eq!(text(&json!(1e-7)), "0.0000001");
        assert_eq!(text(&json!(true)), "true");
        assert_eq!(text(&json!(null)), "<nil>");
        assert_eq!(Value::Float(f64::INFINITY).to_text(), "+Inf");
        assert_eq!(Value::Float(f64::NEG_INFINITY).to_text(), "-Inf");
        assert_eq!(Value::Float(f64::NAN).to_text(), "NaN");
    }

    #[test]
    fn composite_text_forms_follow_go() {
        assert_eq!(text(&json!(["eth0", "br-ex"])), "[eth0 br-ex]");
        assert_eq!(text(&json!([0, 1])), "[0 1]");
        assert_eq!(text(&json!([])), "[]");
        assert_eq!(
            text(&json!({"b": 1, "a": [true, null], "c": "x"})),
            "map[a:[true <nil>] b:1 c:x]"
        );
        // Floats inside lists use Go's %v (shortest %g).
        assert_eq!(
            text(&json!([4.5, 1e6, 123456.5, 1e-5, 0.0001])),
            "[4.5 1e+06 123456.5 1e-05 0.0001]"
        );
        assert_eq!(text(&json!([1.5e300])), "[1.5e+300]");
    }

    #[test]
    fn int_conversion() {
        assert_eq!(Value::Int(-3).as_int(), Some(-3));
        assert_eq!(Value::UInt(u64::MAX).as_int(), Some(i128::from(u64::MAX)));
        assert_eq!(Value::Float(4.9).as_int(), Some(4));
        assert_eq!(Value::Float(-4.9).as_int(), Some(-4));
        assert_eq!(Value::Float(f64::NAN).as_int(), None);
        assert_eq!(Value::Str("17").as_int(), Some(17));
        assert_eq!(Value::Str("+17").as_int(), Some(17));
        assert_eq!(Value::Str("-17").as_int(), Some(-17));
        assert_eq!(Value::Str("17.0").as_int(), None);
        assert_eq!(Value::Str(" 17").as_int(), None);
        assert_eq!(Value::Str("").as_int(), None);
        assert_eq!(Value::Bool(true).as_int(), None);
        assert_eq!(Value::Null.as_int(), None);
    }

    #[test]
    fn text_buf_spills_long_renderings() {
        let mut b = TextBuf::new();
        b.write_str(&"x".repeat(60)).unwrap();
        assert_eq!(b.as_str().len(), 60);
        assert!(b.spill.is_none());
        b.write_str("0123456789").unwrap();
        assert_eq!(b.as_str(), format!("{}0123456789", "x".repeat(60)));
        b.write_str("z").unwrap();
        assert!(b.as_str().ends_with("9z"));
        let long = Value::Float(1e300);
        assert_eq!(long.with_text(|t| t.len()), 301);
    }

    #[test]
    fn records() {
        let v = json!({"a": "x", "n": 3});
        assert!(matches!(Record::get(&v, "a"), Some(Value::Str("x"))));
        assert!(matches!(Record::get(&v, "n"), Some(Value::Int(3))));
        assert!(Record::get(&v, "zz").is_none());
        assert!(Record::get(&json!([1]), "a").is_none());
        let mut h: HashMap<String, serde_json::Value> = HashMap::new();
        h.insert("k".into(), json!(2.5));
        assert!(matches!(Record::get(&h, "k"), Some(Value::Float(x)) if x == 2.5));
        let by_ref: &dyn Record = &h;
        assert!(Record::get(&by_ref, "k").is_some());
    }
}
