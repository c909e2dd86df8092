//! The syntax tree of a query, and its canonical text form.

use std::fmt;

/// A parsed query.
///
/// It exists as plain data so that callers can inspect a filter (which fields
/// it reads, for instance), rebuild it, and print it back: `Display` writes a
/// canonical query that parses to an equal `Expr`. It is evaluated through a
/// [`Filter`](crate::Filter), built with [`Filter::new`](crate::Filter::new).
///
/// The parser only produces `And` / `Or` with at least two operands; a
/// parenthesised group stays a nested node, so printing and re-parsing gives
/// back exactly the same tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// All operands hold (`a and b and c`); evaluated left to right and
    /// short-circuited. An empty list holds.
    And(Vec<Expr>),
    /// At least one operand holds (`a or b or c`); evaluated left to right and
    /// short-circuited. An empty list does not hold.
    Or(Vec<Expr>),
    /// `with(Field)`: the field is present in the record, whatever its value.
    With(String),
    /// `without(Field)`: the field is absent from the record.
    Without(String),
    /// `Field = "text"` / `Field != "text"`: string (in)equality.
    ///
    /// Like upstream, `=` only holds for a field whose value is a string equal
    /// to `value`: a number never equals a string literal (`Proto="6"` is
    /// false when `Proto` is the number 6). A missing field makes `=` false
    /// and `!=` true. If `value` contains `$(OtherField)` references, they are
    /// replaced by that field's value (as text, empty when absent) and the
    /// field's own value is compared as text, so `SrcPort="$(DstPort)"` works
    /// on numbers too.
    Equals {
        /// Record field read on the left-hand side.
        field: String,
        /// The string literal, already unescaped.
        value: String,
        /// `true` for `!=`.
        negated: bool,
    },
    /// `Field <op> 123`: integer comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`).
    ///
    /// The field's value is converted to an integer like upstream does:
    /// integers as they are, floats truncated toward zero, strings parsed as
    /// decimal integers. A missing field or one that does not convert makes
    /// every operator false, `!=` included.
    Compare {
        /// Record field read on the left-hand side.
        field: String,
        /// The comparison.
        op: NumOp,
        /// The integer literal.
        value: i64,
    },
    /// `Field =~ "regex"` / `Field !~ "regex"`: unanchored regular expression
    /// search in the field's value rendered as text (numbers match their
    /// decimal form). A missing field makes `=~` false and `!~` true.
    Matches {
        /// Record field read on the left-hand side.
        field: String,
        /// The compiled regular expression.
        pattern: Pattern,
        /// `true` for `!~`.
        negated: bool,
    },
}

/// Operator of an integer comparison.
///
/// A separate enum from the string and regex operators because only these six
/// take a number, which the type system then enforces in [`Expr::Compare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl NumOp {
    /// The operator as written in a query, used when printing queries back.
    pub fn symbol(self) -> &'static str {
        match self {
            NumOp::Eq => "=",
            NumOp::Ne => "!=",
            NumOp::Lt => "<",
            NumOp::Le => "<=",
            NumOp::Gt => ">",
            NumOp::Ge => ">=",
        }
    }

    /// Applies the comparison `left <op> right`; `i128` so that both `i64`
    /// and `u64` record values compare exactly.
    pub(crate) fn holds(self, left: i128, right: i128) -> bool {
        match self {
            NumOp::Eq => left == right,
            NumOp::Ne => left != right,
            NumOp::Lt => left < right,
            NumOp::Le => left <= right,
            NumOp::Gt => left > right,
            NumOp::Ge => left >= right,
        }
    }
}

/// A compiled regular expression that remembers its source.
///
/// It exists so the syntax tree can hold the regex compiled once at parse time
/// (invalid patterns are parse errors, as upstream) while still comparing and
/// printing by its source text.
#[derive(Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// Compiles `source` with the `regex` crate's default (RE2-like) syntax.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        regex::Regex::new(source).map(Self)
    }

    /// The pattern as written in the query (after string unescaping).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The compiled regex, for callers that want to run it themselves.
    pub fn regex(&self) -> &regex::Regex {
        &self.0
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes `s` as a double-quoted literal that the lexer reads back unchanged.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 || c == '\x7f' => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl Expr {
    fn write_operands(f: &mut fmt::Formatter<'_>, operands: &[Expr], keyword: &str) -> fmt::Result {
        for (i, e) in operands.iter().enumerate() {
            if i > 0 {
                write!(f, " {keyword} ")?;
            }
            // Any logical operand is parenthesised: this keeps nesting exact
            // and makes the text unambiguous whatever precedence a reader
            // assumes between `and` and `or`.
            if matches!(e, Expr::And(_) | Expr::Or(_)) {
                write!(f, "({e})")?;
            } else {
                write!(f, "{e}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(operands) => Self::write_operands(f, operands, "and"),
            Expr::Or(operands) => Self::write_operands(f, operands, "or"),
            Expr::With(field) => write!(f, "with({field})"),
            Expr::Without(field) => write!(f, "without({field})"),
            Expr::Equals {
                field,
                value,
                negated,
            } => {
                f.write_str(field)?;
                f.write_str(if *negated { "!=" } else { "=" })?;
                write_quoted(f, value)
            }
            Expr::Compare { field, op, value } => {
                write!(f, "{field}{}{value}", op.symbol())
            }
            Expr::Matches {
                field,
                pattern,
                negated,
            } => {
                f.write_str(field)?;
                f.write_str(if *negated { "!~" } else { "=~" })?;
                write_quoted(f, pattern.as_str())
            }
        }
    }
}
