//! Hand-written recursive-descent parser.
//!
//! Grammar (upstream's precedence: `or` binds tighter than `and`, both are
//! left-associative):
//!
//! ```text
//! query      := conjunction EOF
//! conjunction:= disjunction ( AND disjunction )*
//! disjunction:= primary ( OR primary )*
//! primary    := "(" conjunction ")"
//!             | WITH "(" IDENT ")" | WITHOUT "(" IDENT ")"
//!             | IDENT OP value
//! value      := STRING | INTEGER
//! ```

use crate::ast::{Expr, NumOp, Pattern};
use crate::error::{ErrorKind, ParseError};
use crate::lexer::{Lexer, OpTok, Tok, Token};

/// Deepest parenthesis nesting accepted by [`parse`](crate::parse).
///
/// Bounds the recursion of the parser (and of everything that walks the tree)
/// so hostile input is rejected with an error instead of overflowing the
/// stack. Real filters nest a handful of levels at most.
pub const MAX_DEPTH: usize = 256;

/// Parses a filter query into its syntax tree.
///
/// Regular expressions are compiled here, so an invalid pattern is reported
/// as a parse error (with the offset of its string literal): a query that
/// parses can always be turned into a [`Filter`](crate::Filter). This is the
/// check the FlowCollector webhook runs on `spec.processor.filters[].query`.
pub fn parse(query: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser::new(query)?;
    if parser.peek.tok == Tok::Eof {
        return Err(ParseError::new(parser.peek.start, ErrorKind::Empty));
    }
    let expr = parser.conjunction(0)?;
    if parser.peek.tok != Tok::Eof {
        return Err(parser.unexpected("`and`, `or` or the end of the query"));
    }
    Ok(expr)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peek: Token<'a>,
}

/// One-line reason from a regex error. The `regex` crate renders syntax
/// errors over several lines (pattern, caret, `error: reason`); a webhook
/// message reads better with just the reason.
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Human description of a token for error messages.
fn describe(tok: &Tok<'_>) -> String {
    match tok {
        Tok::Ident(name) => format!("field name `{name}`"),
        Tok::And => "`and`".to_owned(),
        Tok::Or => "`or`".to_owned(),
        Tok::With => "`with`".to_owned(),
        Tok::Without => "`without`".to_owned(),
        Tok::Str(s) => {
            let mut text = String::from("string ");
            // Writing into a String cannot fail.
            let _ = crate::ast::write_quoted(&mut text, s);
            text
        }
        Tok::Int(n) => format!("number `{n}`"),
        Tok::Op(op) => format!("`{}`", op.symbol()),
        Tok::LParen => "`(`".to_owned(),
        Tok::RParen => "`)`".to_owned(),
        Tok::Eof => "the end of the query".to_owned(),
    }
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, ParseError> {
        let mut lexer = Lexer::new(src);
        let peek = lexer.next_token()?;
        Ok(Self { lexer, peek })
    }

    /// Consumes the current token and returns it.
    fn bump(&mut self) -> Result<Token<'a>, ParseError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.peek, next))
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        ParseError::new(
            self.peek.start,
            ErrorKind::Unexpected {
                expected,
                found: describe(&self.peek.tok),
            },
        )
    }

    fn conjunction(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let first = self.disjunction(depth)?;
        if self.peek.tok != Tok::And {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.peek.tok == Tok::And {
            self.bump()?;
            operands.push(self.disjunction(depth)?);
        }
        Ok(Expr::And(operands))
    }

    fn disjunction(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let first = self.primary(depth)?;
        if self.peek.tok != Tok::Or {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.peek.tok == Tok::Or {
            self.bump()?;
            operands.push(self.primary(depth)?);
        }
        Ok(Expr::Or(operands))
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        match self.peek.tok {
            Tok::LParen => {
                if depth >= MAX_DEPTH {
                    return Err(ParseError::new(
                        self.peek.start,
                        ErrorKind::TooDeep(MAX_DEPTH),
                    ));
                }
                let open = self.bump()?.start;
                let inner = self.conjunction(depth + 1)?;
                if self.peek.tok != Tok::RParen {
                    return Err(ParseError::new(
                        self.peek.start,
                        ErrorKind::UnclosedParen {
                            open,
                            found: describe(&self.peek.tok),
                        },
                    ));
                }
                self.bump()?;
                Ok(inner)
            }
            Tok::With | Tok::Without => {
                let present = self.peek.tok == Tok::With;
                self.bump()?;
                if self.peek.tok != Tok::LParen {
                    return Err(self.unexpected("`(` after `with` / `without`"));
                }
                self.bump()?;
                let Tok::Ident(name) = self.peek.tok else {
                    return Err(self.unexpected("a field name inside `with(...)` / `without(...)`"));
                };
                self.bump()?;
                if self.peek.tok != Tok::RParen {
                    return Err(self.unexpected("`)` after the field name"));
                }
                self.bump()?;
                Ok(if present {
                    Expr::With(name.to_owned())
                } else {
                    Expr::Without(name.to_owned())
                })
            }
            Tok::Ident(field) => {
                self.bump()?;
                let Tok::Op(op) = self.peek.tok else {
                    return Err(self.unexpected(
                        "a comparison operator (`=`, `!=`, `=~`, `!~`, `<`, `<=`, `>`, `>=`)",
                    ));
                };
                self.bump()?;
                self.comparison(field, op)
            }
            Tok::Str(_) | Tok::Int(_) => {
                Err(self.unexpected("a field name (comparisons are written `Field <op> value`)"))
            }
            _ => Err(self.unexpected("a field name, `(`, `with(...)` or `without(...)`")),
        }
    }

    /// Builds the comparison once `field` and `op` are consumed; the value is
    /// the current token.
    fn comparison(&mut self, field: &str, op: OpTok) -> Result<Expr, ParseError> {
        let at = self.peek.start;
        let value = match &self.peek.tok {
            Tok::Str(_) | Tok::Int(_) => self.bump()?.tok,
            other => {
                return Err(ParseError::new(
                    at,
                    ErrorKind::MissingValue {
                        op: op.symbol(),
                        found: describe(other),
                    },
                ));
            }
        };
        let field = field.to_owned();
        let wrong_type = |needed: &'static str, found: &Tok<'_>| {
            ParseError::new(
                at,
                ErrorKind::ValueType {
                    op: op.symbol(),
                    needed,
                    found: describe(found),
                },
            )
        };
        let num_op = match op {
            OpTok::Eq => Some(NumOp::Eq),
            OpTok::Ne => Some(NumOp::Ne),
            OpTok::Lt => Some(NumOp::Lt),
            OpTok::Le => Some(NumOp::Le),
            OpTok::Gt => Some(NumOp::Gt),
            OpTok::Ge => Some(NumOp::Ge),
            OpTok::Match | OpTok::NotMatch => None,
        };
        match (op, value) {
            (OpTok::Eq | OpTok::Ne, Tok::Str(value)) => Ok(Expr::Equals {
                field,
                value,
                negated: op == OpTok::Ne,
            }),
            (OpTok::Match | OpTok::NotMatch, Tok::Str(source)) => {
                let pattern = Pattern::new(&source)
                    .map_err(|e| ParseError::new(at, ErrorKind::InvalidRegex(regex_message(&e))))?;
                Ok(Expr::Matches {
                    field,
                    pattern,
                    negated: op == OpTok::NotMatch,
                })
            }
            (_, Tok::Int(value)) => match num_op {
                Some(op) => Ok(Expr::Compare { field, op, value }),
                None => Err(wrong_type(
                    "a string (regular expression)",
                    &Tok::Int(value),
                )),
            },
            (_, other) => Err(wrong_type("an integer", &other)),
        }
    }
}
