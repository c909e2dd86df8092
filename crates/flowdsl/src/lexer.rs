//! Tokenizer: turns the query text into tokens with byte offsets.
//!
//! The accepted lexical forms follow the Go `text/scanner` conventions used
//! upstream: `//` and `/* */` comments, double-quoted strings with Go escapes,
//! backquoted raw strings, decimal integers, Go-style identifiers.

use crate::error::{ErrorKind, ParseError};

/// A comparison operator as written in the query, before the parser decides
/// which kind of comparison it builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpTok {
    Eq,
    Ne,
    Match,
    NotMatch,
    Lt,
    Le,
    Gt,
    Ge,
}

impl OpTok {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            OpTok::Eq => "=",
            OpTok::Ne => "!=",
            OpTok::Match => "=~",
            OpTok::NotMatch => "!~",
            OpTok::Lt => "<",
            OpTok::Le => "<=",
            OpTok::Gt => ">",
            OpTok::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    Ident(&'a str),
    And,
    Or,
    With,
    Without,
    Str(String),
    Int(i64),
    Op(OpTok),
    LParen,
    RParen,
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub(crate) tok: Tok<'a>,
    /// Byte offset of the first character of the token.
    pub(crate) start: usize,
    /// Byte offset just past the token.
    pub(crate) end: usize,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

pub(crate) fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

pub(crate) fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        let mut it = self.src[self.pos..].chars();
        it.next();
        it.next()
    }

    fn err<T>(&self, offset: usize, kind: ErrorKind) -> Result<T, ParseError> {
        Err(ParseError::new(offset, kind))
    }

    /// Skips spaces, tabs, line breaks and comments.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = &self.src[self.pos..];
            if let Some(c) = rest.chars().next()
                && matches!(c, ' ' | '\t' | '\n' | '\r')
            {
                self.pos += 1;
            } else if rest.starts_with("//") {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if let Some(body) = rest.strip_prefix("/*") {
                match body.find("*/") {
                    Some(i) => self.pos += 2 + i + 2,
                    None => return self.err(self.pos, ErrorKind::UnterminatedComment),
                }
            } else {
                return Ok(());
            }
        }
    }

    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, ParseError> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
                end: start,
            });
        };
        let tok = match c {
            '(' => {
                self.pos += 1;
                Tok::LParen
            }
            ')' => {
                self.pos += 1;
                Tok::RParen
            }
            '=' => self.op_pair(&[('~', OpTok::Match)], OpTok::Eq),
            '<' => self.op_pair(&[('=', OpTok::Le)], OpTok::Lt),
            '>' => self.op_pair(&[('=', OpTok::Ge)], OpTok::Gt),
            '!' => match self.peek_second() {
                Some('=') => {
                    self.pos += 2;
                    Tok::Op(OpTok::Ne)
                }
                Some('~') => {
                    self.pos += 2;
                    Tok::Op(OpTok::NotMatch)
                }
                _ => return self.err(start, ErrorKind::LoneBang),
            },
            '"' => Tok::Str(self.quoted_string()?),
            '`' => Tok::Str(self.raw_string()?),
            '\'' => return self.err(start, ErrorKind::SingleQuote),
            '0'..='9' => Tok::Int(self.number()?),
            '-' if matches!(self.peek_second(), Some('0'..='9')) => Tok::Int(self.number()?),
            c if is_ident_start(c) => {
                let len = self.src[start..]
                    .find(|c: char| !is_ident_continue(c))
                    .unwrap_or(self.src.len() - start);
                self.pos += len;
                let word = &self.src[start..self.pos];
                if word.eq_ignore_ascii_case("and") {
                    Tok::And
                } else if word.eq_ignore_ascii_case("or") {
                    Tok::Or
                } else if word.eq_ignore_ascii_case("with") {
                    Tok::With
                } else if word.eq_ignore_ascii_case("without") {
                    Tok::Without
                } else {
                    Tok::Ident(word)
                }
            }
            other => return self.err(start, ErrorKind::UnexpectedChar(other)),
        };
        Ok(Token {
            tok,
            start,
            end: self.pos,
        })
    }

    /// One-character operator, or two characters when the second is one of
    /// `follow`.
    fn op_pair(&mut self, follow: &[(char, OpTok)], single: OpTok) -> Tok<'a> {
        let second = self.peek_second();
        for &(c, op) in follow {
            if second == Some(c) {
                self.pos += 2;
                return Tok::Op(op);
            }
        }
        self.pos += 1;
        Tok::Op(single)
    }

    /// Decimal integer, optionally negative.
    fn number(&mut self) -> Result<i64, ParseError> {
        let start = self.pos;
        let mut end = start;
        if self.src[end..].starts_with('-') {
            end += 1;
        }
        end += self.src[end..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.src.len() - end);
        let next = self.src[end..].chars().next();
        if matches!(next, Some('.' | 'e' | 'E')) {
            return self.err(start, ErrorKind::FloatNumber);
        }
        if next.is_some_and(is_ident_continue) {
            let bad_end = end
                + self.src[end..]
                    .find(|c: char| !is_ident_continue(c))
                    .unwrap_or(self.src.len() - end);
            return self.err(
                start,
                ErrorKind::InvalidNumber(self.src[start..bad_end].to_owned()),
            );
        }
        let text = &self.src[start..end];
        self.pos = end;
        text.parse::<i64>()
            .map_err(|_| ParseError::new(start, ErrorKind::NumberOutOfRange(text.to_owned())))
    }

    /// Backquoted raw string: no escapes, may span lines; carriage returns
    /// are dropped like Go does.
    fn raw_string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let body = &self.src[start + 1..];
        match body.find('`') {
            Some(i) => {
                self.pos = start + 1 + i + 1;
                Ok(body[..i].chars().filter(|&c| c != '\r').collect())
            }
            None => self.err(start, ErrorKind::UnterminatedString),
        }
    }

    /// Double-quoted string with Go escapes: `\a \b \f \n \r \t \v \\ \"`,
    /// `\ooo` (octal byte), `\xhh` (byte), `\uhhhh`, `\Uhhhhhhhh`.
    fn quoted_string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let mut bytes: Vec<u8> = Vec::new();
        let mut i = start + 1;
        loop {
            let Some(c) = self.src[i..].chars().next() else {
                return self.err(start, ErrorKind::UnterminatedString);
            };
            match c {
                '"' => {
                    self.pos = i + 1;
                    break;
                }
                '\n' => return self.err(i, ErrorKind::NewlineInString),
                '\\' => {
                    i = self.escape(i, &mut bytes)?;
                }
                _ => {
                    let mut buf = [0u8; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += c.len_utf8();
                }
            }
        }
        String::from_utf8(bytes).map_err(|_| ParseError::new(start, ErrorKind::InvalidUtf8))
    }

    /// Decodes the escape whose backslash is at `at`, appending its bytes;
    /// returns the offset just past it.
    fn escape(&self, at: usize, out: &mut Vec<u8>) -> Result<usize, ParseError> {
        let rest = &self.src[at + 1..];
        let invalid = |len: usize| {
            // `len` counts characters after the backslash to show.
            let shown: String = rest.chars().take(len).collect();
            ParseError::new(at, ErrorKind::InvalidEscape(format!("\\{shown}")))
        };
        let Some(c) = rest.chars().next() else {
            return Err(ParseError::new(at, ErrorKind::UnterminatedString));
        };
        let simple = match c {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(b) = simple {
            out.push(b);
            return Ok(at + 2);
        }
        let digits = |count: usize, radix: u32| -> Option<u32> {
            let text = rest.get(1..1 + count)?;
            if !text.chars().all(|d| d.is_digit(radix)) {
                return None;
            }
            u32::from_str_radix(text, radix).ok()
        };
        match c {
            '0'..='7' => {
                let text = rest.get(..3).ok_or_else(|| invalid(3))?;
                if !text.chars().all(|d| d.is_digit(8)) {
                    return Err(invalid(3));
                }
                let v = u32::from_str_radix(text, 8).map_err(|_| invalid(3))?;
                let b = u8::try_from(v).map_err(|_| invalid(3))?;
                out.push(b);
                Ok(at + 4)
            }
            'x' => {
                let v = digits(2, 16).ok_or_else(|| invalid(3))?;
                let b = u8::try_from(v).map_err(|_| invalid(3))?;
                out.push(b);
                Ok(at + 4)
            }
            'u' | 'U' => {
                let count = if c == 'u' { 4 } else { 8 };
                let v = digits(count, 16).ok_or_else(|| invalid(count + 1))?;
                let ch = char::from_u32(v).ok_or_else(|| invalid(count + 1))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                Ok(at + 2 + count)
            }
            _ => Err(invalid(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token().unwrap();
            if t.tok == Tok::Eof {
                return out;
            }
            out.push(t.tok);
        }
    }

    fn lex_err(src: &str) -> ParseError {
        let mut lx = Lexer::new(src);
        loop {
            match lx.next_token() {
                Ok(t) if t.tok == Tok::Eof => panic!("no error lexing {src:?}"),
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn operators_longest_match() {
        assert_eq!(
            toks("= != =~ !~ < <= > >= ( )"),
            vec![
                Tok::Op(OpTok::Eq),
                Tok::Op(OpTok::Ne),
                Tok::Op(OpTok::Match),
                Tok::Op(OpTok::NotMatch),
                Tok::Op(OpTok::Lt),
                Tok::Op(OpTok::Le),
                Tok::Op(OpTok::Gt),
                Tok::Op(OpTok::Ge),
                Tok::LParen,
                Tok::RParen,
            ]
        );
        // No space needed between pieces.
        assert_eq!(
            toks("a>=1"),
            vec![Tok::Ident("a"), Tok::Op(OpTok::Ge), Tok::Int(1)]
        );
        // `= ~` with a space is `=` then an unexpected `~`.
        assert_eq!(
            lex_err("a = ~\"x\"").kind(),
            &ErrorKind::UnexpectedChar('~')
        );
    }

    #[test]
    fn keywords_are_case_insensitive_and_reserved() {
        assert_eq!(
            toks("and AND And or OR With WITHOUT android order"),
            vec![
                Tok::And,
                Tok::And,
                Tok::And,
                Tok::Or,
                Tok::Or,
                Tok::With,
                Tok::Without,
                Tok::Ident("android"),
                Tok::Ident("order"),
            ]
        );
    }

    #[test]
    fn identifiers() {
        assert_eq!(
            toks("SrcK8S_Namespace _x a1 Ñame"),
            vec![
                Tok::Ident("SrcK8S_Namespace"),
                Tok::Ident("_x"),
                Tok::Ident("a1"),
                Tok::Ident("Ñame"),
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("0 42 0042 -7 9223372036854775807 -9223372036854775808"),
            vec![
                Tok::Int(0),
                Tok::Int(42),
                Tok::Int(42),
                Tok::Int(-7),
                Tok::Int(i64::MAX),
                Tok::Int(i64::MIN),
            ]
        );
        assert_eq!(lex_err("4.5").kind(), &ErrorKind::FloatNumber);
        assert_eq!(lex_err("1e3").kind(), &ErrorKind::FloatNumber);
        assert_eq!(
            lex_err("0x1F").kind(),
            &ErrorKind::InvalidNumber("0x1F".into())
        );
        assert_eq!(
            lex_err("1_000").kind(),
            &ErrorKind::InvalidNumber("1_000".into())
        );
        let e = lex_err("a=9223372036854775808");
        assert_eq!(
            e.kind(),
            &ErrorKind::NumberOutOfRange("9223372036854775808".into())
        );
        assert_eq!(e.offset(), 2);
        // A lone minus is not a number.
        assert_eq!(lex_err("a=-x").kind(), &ErrorKind::UnexpectedChar('-'));
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(r#""plain" "a\"b" "back\\slash" "\t\n\r\a\b\f\v" "\x41\101\u00e9\U0001F600""#),
            vec![
                Tok::Str("plain".into()),
                Tok::Str("a\"b".into()),
                Tok::Str("back\\slash".into()),
                Tok::Str("\t\n\r\x07\x08\x0c\x0b".into()),
                Tok::Str("AAé😀".into()),
            ]
        );
        // Byte escapes that form UTF-8 together are fine...
        assert_eq!(toks(r#""\xc3\xa9""#), vec![Tok::Str("é".into())]);
        // ...alone they are not.
        assert_eq!(lex_err(r#""\xff""#).kind(), &ErrorKind::InvalidUtf8);
        let e = lex_err(r#"a="\d+""#);
        assert_eq!(e.kind(), &ErrorKind::InvalidEscape("\\d".into()));
        assert_eq!(e.offset(), 3);
        assert_eq!(
            lex_err(r#""\'""#).kind(),
            &ErrorKind::InvalidEscape("\\'".into())
        );
        assert_eq!(
            lex_err(r#""\u12""#).kind(),
            &ErrorKind::InvalidEscape("\\u12\"".into())
        );
        assert_eq!(
            lex_err(r#""\ud800""#).kind(),
            &ErrorKind::InvalidEscape("\\ud800".into())
        );
        assert_eq!(
            lex_err(r#""\400""#).kind(),
            &ErrorKind::InvalidEscape("\\400".into())
        );
        assert_eq!(lex_err("\"abc").kind(), &ErrorKind::UnterminatedString);
        assert_eq!(lex_err("\"abc\\").kind(), &ErrorKind::UnterminatedString);
        let e = lex_err("\"ab\ncd\"");
        assert_eq!(e.kind(), &ErrorKind::NewlineInString);
        assert_eq!(e.offset(), 3);
        assert_eq!(lex_err("'x'").kind(), &ErrorKind::SingleQuote);
    }

    #[test]
    fn raw_strings() {
        assert_eq!(
            toks("`\\d+\"x\"\r\nnext`"),
            vec![Tok::Str("\\d+\"x\"\nnext".into())]
        );
        assert_eq!(lex_err("`open").kind(), &ErrorKind::UnterminatedString);
    }

    #[test]
    fn comments_are_skipped() {
        assert_eq!(
            toks("a // line comment\n /* block\n comment */ = 1 //end"),
            vec![Tok::Ident("a"), Tok::Op(OpTok::Eq), Tok::Int(1)]
        );
        let e = lex_err("a /* never closed");
        assert_eq!(e.kind(), &ErrorKind::UnterminatedComment);
        assert_eq!(e.offset(), 2);
        // A lone slash is not a comment.
        assert_eq!(lex_err("a / b").kind(), &ErrorKind::UnexpectedChar('/'));
    }

    #[test]
    fn offsets() {
        let mut lx = Lexer::new("  ab  =~ \"x\"");
        let t = lx.next_token().unwrap();
        assert_eq!((t.start, t.end), (2, 4));
        let t = lx.next_token().unwrap();
        assert_eq!((t.start, t.end), (6, 8));
        let t = lx.next_token().unwrap();
        assert_eq!((t.start, t.end), (9, 12));
        let t = lx.next_token().unwrap();
        assert_eq!((t.tok, t.start), (Tok::Eof, 12));
    }

    #[test]
    fn lone_bang() {
        let e = lex_err("a ! b");
        assert_eq!(e.kind(), &ErrorKind::LoneBang);
        assert_eq!(e.offset(), 2);
    }
}
