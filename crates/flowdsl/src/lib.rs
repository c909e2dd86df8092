//! The flow filter query language of NetObserv.
//!
//! One language, three users: the FlowCollector validation webhook checks that
//! `spec.processor.filters[].query` parses, the pipeline's `keep_entry_query`
//! filter evaluates it on every flow record, and the CLI takes it as
//! `--query`. Keeping it in one crate guarantees they all agree.
//!
//! ```
//! use serde_json::json;
//!
//! let filter = flowdsl::compile(
//!     r#"SrcK8S_Namespace="netobserv" and (Proto=6 or DstPort>=1024)"#,
//! )?;
//! let flow = json!({"SrcK8S_Namespace": "netobserv", "Proto": 17, "DstPort": 5353});
//! assert!(filter.matches(&flow));
//! # Ok::<(), flowdsl::ParseError>(())
//! ```
//!
//! # Syntax
//!
//! * Comparisons are `Field <op> value`, with the field always on the left:
//!   * `=` and `!=` take a string or an integer;
//!   * `=~` and `!~` take a string holding a regular expression;
//!   * `<`, `<=`, `>`, `>=` take an integer.
//! * `with(Field)` / `without(Field)` test presence / absence of a field.
//! * `and`, `or` (case-insensitive) combine them, parentheses group.
//!   **`or` binds tighter than `and`**, as upstream (whose yacc grammar
//!   declares `and` with the lower precedence): `a and b or c` means
//!   `a and (b or c)`. Parenthesise mixed expressions.
//! * Field names are identifiers (letters, digits, `_`, not starting with a
//!   digit); `and`, `or`, `with`, `without` are reserved.
//! * Strings are double-quoted with Go escapes (`\"`, `\\`, `\n`, `\t`,
//!   `\xNN`, `\u00e9`, ...) or backquoted raw strings without escapes
//!   (handy for regexes: `` Name=~`^\d+$` ``). Single quotes are not strings.
//! * Integers are decimal, optionally negative; no floats.
//! * `//` line comments and `/* */` block comments are ignored.
//!
//! # Evaluation
//!
//! See [`Expr`] for the exact semantics of each comparison; in short they
//! follow upstream's type coercions: string `=` is strict (a number never
//! equals a string), numeric comparisons convert the field to an integer and
//! are false when the field is missing or not numeric (`!=` included),
//! regexes search the field's text form, and a missing field makes `!=` and
//! `!~` true.

mod ast;
mod error;
mod filter;
mod lexer;
mod parser;
mod value;

pub use ast::{Expr, NumOp, Pattern};
pub use error::{ErrorKind, ParseError};
pub use filter::{Filter, compile};
pub use parser::{MAX_DEPTH, parse};
pub use value::{Composite, Record, Value};

impl std::str::FromStr for Expr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}
