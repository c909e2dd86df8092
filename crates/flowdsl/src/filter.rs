//! Compiled form of a query, evaluated once per flow record.

use std::fmt;
use std::str::FromStr;

use crate::ast::{Expr, NumOp};
use crate::error::ParseError;
use crate::value::{Record, Value};

/// A query ready to be evaluated against records.
///
/// It exists to keep per-record work minimal on the pipeline's hot path:
/// regexes are compiled once, `$(Field)` templates are split once, nested
/// `and` / `or` groups are flattened, and evaluating a plain comparison does
/// not allocate. It is cheap to clone (regexes are shared) and can be used
/// from many threads at once.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    All(Box<[Node]>),
    Any(Box<[Node]>),
    Present(Box<str>),
    Absent(Box<str>),
    StrEq {
        field: Box<str>,
        value: Box<str>,
        negated: bool,
    },
    Template {
        field: Box<str>,
        parts: Box<[Part]>,
        negated: bool,
    },
    Num {
        field: Box<str>,
        op: NumOp,
        value: i64,
    },
    Regex {
        field: Box<str>,
        regex: regex::Regex,
        negated: bool,
    },
}

/// Piece of a `$(Field)` template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(Box<str>),
    Var(Box<str>),
}

/// Splits a string literal on `$(Name)` references (a `$(` followed by at
/// least one character up to the next `)`, like upstream's lookup pattern).
/// Returns `None` when there is no reference.
fn split_template(s: &str) -> Option<Box<[Part]>> {
    let mut parts = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    while let Some(found) = s[i..].find("$(") {
        let open = i + found;
        let name_start = open + 2;
        let Some(close) = s[name_start..].find(')') else {
            break;
        };
        if close == 0 {
            // `$()` is not a reference; look again from the next byte (`(`).
            i = open + 1;
            continue;
        }
        if open > lit_start {
            parts.push(Part::Lit(s[lit_start..open].into()));
        }
        parts.push(Part::Var(s[name_start..name_start + close].into()));
        i = name_start + close + 1;
        lit_start = i;
    }
    if parts.is_empty() {
        return None;
    }
    if lit_start < s.len() {
        parts.push(Part::Lit(s[lit_start..].into()));
    }
    Some(parts.into_boxed_slice())
}

fn compile_node(expr: &Expr) -> Node {
    match expr {
        Expr::And(operands) => {
            let mut out = Vec::with_capacity(operands.len());
            for e in operands {
                match compile_node(e) {
                    Node::All(inner) => out.extend(inner.into_vec()),
                    n => out.push(n),
                }
            }
            Node::All(out.into_boxed_slice())
        }
        Expr::Or(operands) => {
            let mut out = Vec::with_capacity(operands.len());
            for e in operands {
                match compile_node(e) {
                    Node::Any(inner) => out.extend(inner.into_vec()),
                    n => out.push(n),
                }
            }
            Node::Any(out.into_boxed_slice())
        }
        Expr::With(field) => Node::Present(field.as_str().into()),
        Expr::Without(field) => Node::Absent(field.as_str().into()),
        Expr::Equals {
            field,
            value,
            negated,
        } => match split_template(value) {
            Some(parts) => Node::Template {
                field: field.as_str().into(),
                parts,
                negated: *negated,
            },
            None => Node::StrEq {
                field: field.as_str().into(),
                value: value.as_str().into(),
                negated: *negated,
            },
        },
        Expr::Compare { field, op, value } => Node::Num {
            field: field.as_str().into(),
            op: *op,
            value: *value,
        },
        Expr::Matches {
            field,
            pattern,
            negated,
        } => Node::Regex {
            field: field.as_str().into(),
            regex: pattern.regex().clone(),
            negated: *negated,
        },
    }
}

/// Whether the text form of a field equals the template with its `$(Name)`
/// references replaced by those fields' text forms (empty when absent).
/// Compared piece by piece, so nothing is concatenated.
fn template_matches<R: Record + ?Sized>(text: &str, parts: &[Part], record: &R) -> bool {
    let mut rest = text;
    for part in parts {
        let matched = match part {
            Part::Lit(lit) => match rest.strip_prefix(&**lit) {
                Some(r) => {
                    rest = r;
                    true
                }
                None => false,
            },
            Part::Var(name) => match record.get(name) {
                None => true,
                Some(v) => v.with_text(|t| match rest.strip_prefix(t) {
                    Some(r) => {
                        rest = r;
                        true
                    }
                    None => false,
                }),
            },
        };
        if !matched {
            return false;
        }
    }
    rest.is_empty()
}

impl Node {
    fn eval<R: Record + ?Sized>(&self, record: &R) -> bool {
        match self {
            Node::All(nodes) => nodes.iter().all(|n| n.eval(record)),
            Node::Any(nodes) => nodes.iter().any(|n| n.eval(record)),
            Node::Present(field) => record.get(field).is_some(),
            Node::Absent(field) => record.get(field).is_none(),
            Node::StrEq {
                field,
                value,
                negated,
            } => {
                let equal = match record.get(field) {
                    Some(Value::Str(s)) => s == &**value,
                    Some(ip @ Value::Ip(_)) => ip.with_text(|text| text == &**value),
                    _ => false,
                };
                equal != *negated
            }
            Node::Template {
                field,
                parts,
                negated,
            } => {
                let equal = match record.get(field) {
                    Some(v) => v.with_text(|text| template_matches(text, parts, record)),
                    None => false,
                };
                equal != *negated
            }
            Node::Num { field, op, value } => record
                .get(field)
                .and_then(|v| v.as_int())
                .is_some_and(|n| op.holds(n, i128::from(*value))),
            Node::Regex {
                field,
                regex,
                negated,
            } => {
                let found = match record.get(field) {
                    Some(v) => v.with_text(|text| regex.is_match(text)),
                    None => false,
                };
                found != *negated
            }
        }
    }
}

impl Filter {
    /// Prepares `expr` for evaluation. Infallible: everything that can fail
    /// (regex compilation included) already happened in [`parse`](crate::parse).
    pub fn new(expr: Expr) -> Self {
        let root = compile_node(&expr);
        Self { expr, root }
    }

    /// The query this filter was built from.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether `record` satisfies the query, i.e. whether the pipeline's
    /// `keep_entry_query` keeps it.
    pub fn matches<R: Record + ?Sized>(&self, record: &R) -> bool {
        self.root.eval(record)
    }
}

/// Parses and compiles a query in one step; what the pipeline and the CLI
/// call with the user's query text.
pub fn compile(query: &str) -> Result<Filter, ParseError> {
    crate::parse(query).map(Filter::new)
}

impl FromStr for Filter {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        compile(s)
    }
}

impl From<Expr> for Filter {
    fn from(expr: Expr) -> Self {
        Self::new(expr)
    }
}

/// Prints the canonical query.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit(s.into())
    }
    fn var(s: &str) -> Part {
        Part::Var(s.into())
    }

    #[test]
    fn template_splitting() {
        assert_eq!(split_template("plain"), None);
        assert_eq!(split_template(""), None);
        assert_eq!(split_template("$()"), None);
        assert_eq!(split_template("$(unclosed"), None);
        assert_eq!(split_template("$(A)").as_deref(), Some(&[var("A")][..]));
        assert_eq!(
            split_template("$(SrcAddr):$(SrcPort)").as_deref(),
            Some(&[var("SrcAddr"), lit(":"), var("SrcPort")][..])
        );
        assert_eq!(
            split_template("x$()$(B)y").as_deref(),
            Some(&[lit("x$()"), var("B"), lit("y")][..])
        );
        // The name runs to the first `)`, whatever it contains.
        assert_eq!(
            split_template("$($(a))").as_deref(),
            Some(&[var("$(a"), lit(")")][..])
        );
        assert_eq!(
            split_template("é$(ñ)é").as_deref(),
            Some(&[lit("é"), var("ñ"), lit("é")][..])
        );
    }

    #[test]
    fn nested_groups_are_flattened() {
        let f = compile("(a=1 and (b=2 and c=3)) and d=4").unwrap();
        match &f.root {
            Node::All(nodes) => assert_eq!(nodes.len(), 4),
            other => panic!("unexpected {other:?}"),
        }
        let f = compile("a=1 or (b=2 or c=3)").unwrap();
        match &f.root {
            Node::Any(nodes) => assert_eq!(nodes.len(), 3),
            other => panic!("unexpected {other:?}"),
        }
    }
}
