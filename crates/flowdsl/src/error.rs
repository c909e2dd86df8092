//! Parse errors: what went wrong and where, as a byte offset into the query.

/// A query that could not be parsed (or whose regular expression could not
/// be compiled).
///
/// It exists so the FlowCollector webhook, the pipeline and the CLI can all
/// report the same precise message to the user: the [`kind`](Self::kind) says
/// what was wrong and the [`offset`](Self::offset) where, as a byte offset
/// into the query text. Its `Display` reads like
/// ``expected a value after `=` at 14``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {offset}")]
pub struct ParseError {
    offset: usize,
    kind: ErrorKind,
}

impl ParseError {
    pub(crate) fn new(offset: usize, kind: ErrorKind) -> Self {
        Self { offset, kind }
    }

    /// Byte offset into the query where the problem was found, so callers can
    /// point at it (for instance with a caret under the query).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong, for callers that want to react to a specific problem
    /// rather than only print the message.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

/// The different ways a query can be rejected.
///
/// Kept as an enum (rather than a bare string) so tests and callers can match
/// on the precise failure; every variant renders to a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The query holds nothing but whitespace or comments.
    #[error("the query is empty")]
    Empty,
    /// A character that starts no token of the language.
    #[error("unexpected character `{0}`")]
    UnexpectedChar(char),
    /// A `!` that is not part of `!=` or `!~`.
    #[error("`!` must be followed by `=` or `~`")]
    LoneBang,
    /// A string literal with no closing quote.
    #[error("unterminated string literal")]
    UnterminatedString,
    /// A raw line break inside a double-quoted string.
    #[error("line break in a double-quoted string (write `\\n`, or use a `backquoted` raw string)")]
    NewlineInString,
    /// A `/*` comment with no closing `*/`.
    #[error("unterminated `/*` comment")]
    UnterminatedComment,
    /// A backslash escape that double-quoted strings do not support, such as
    /// `\d` (regular expressions need `\\d`, or a backquoted raw string).
    #[error(
        "invalid escape `{0}` in string literal (write `\\\\` for a backslash, or use a `backquoted` raw string)"
    )]
    InvalidEscape(String),
    /// Byte escapes (`\xNN`, octal) that do not add up to valid UTF-8.
    #[error("string literal is not valid UTF-8 once its escapes are decoded")]
    InvalidUtf8,
    /// A `'single-quoted'` literal; only double quotes and backquotes delimit
    /// strings.
    #[error("single-quoted strings are not supported, use double quotes")]
    SingleQuote,
    /// A number with a fraction or exponent: comparisons only take integers.
    #[error("floating-point numbers are not supported, only integers")]
    FloatNumber,
    /// Digits run into letters or underscores, such as `12ab`, `0x1F` or `1_000`.
    #[error("invalid number `{0}` (only decimal integers are supported)")]
    InvalidNumber(String),
    /// An integer that does not fit in an `i64`.
    #[error("number `{0}` does not fit in a 64-bit signed integer")]
    NumberOutOfRange(String),
    /// A token that cannot appear here.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What the grammar allows at this point.
        expected: &'static str,
        /// Description of what was there instead.
        found: String,
    },
    /// A `(` that is never closed.
    #[error("expected `)` to close the `(` at {open}, found {found}")]
    UnclosedParen {
        /// Byte offset of the opening parenthesis.
        open: usize,
        /// Description of what was there instead.
        found: String,
    },
    /// A comparison operator with no value after it.
    #[error("expected a value after `{op}`, found {found}")]
    MissingValue {
        /// The operator, as written in the language.
        op: &'static str,
        /// Description of what was there instead.
        found: String,
    },
    /// A value of the wrong type for its operator, such as `Bytes > "10"` or
    /// `Proto =~ 6`.
    #[error("`{op}` needs {needed}, found {found}")]
    ValueType {
        /// The operator, as written in the language.
        op: &'static str,
        /// What kind of value the operator takes.
        needed: &'static str,
        /// Description of the value that was given.
        found: String,
    },
    /// The pattern of `=~` / `!~` is not a valid regular expression.
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),
    /// Parentheses nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH), refused
    /// so that hostile input cannot overflow the stack.
    #[error("parentheses nested more than {0} levels deep")]
    TooDeep(usize),
}
