//! Syntax: what parses to what, canonical printing, and error offsets.

use flowdsl::{ErrorKind, Expr, MAX_DEPTH, NumOp, ParseError, Pattern, parse};

fn eq(field: &str, value: &str) -> Expr {
    Expr::Equals {
        field: field.into(),
        value: value.into(),
        negated: false,
    }
}

fn num(field: &str, op: NumOp, value: i64) -> Expr {
    Expr::Compare {
        field: field.into(),
        op,
        value,
    }
}

fn re(field: &str, pattern: &str, negated: bool) -> Expr {
    Expr::Matches {
        field: field.into(),
        pattern: Pattern::new(pattern).expect("valid pattern"),
        negated,
    }
}

fn err(query: &str) -> ParseError {
    match parse(query) {
        Ok(e) => panic!("{query:?} parsed as {e:?}"),
        Err(e) => e,
    }
}

#[test]
fn every_comparison_operator() {
    assert_eq!(parse(r#"a="x""#).unwrap(), eq("a", "x"));
    assert_eq!(
        parse(r#"a!="x""#).unwrap(),
        Expr::Equals {
            field: "a".into(),
            value: "x".into(),
            negated: true
        }
    );
    assert_eq!(parse("a=1").unwrap(), num("a", NumOp::Eq, 1));
    assert_eq!(parse("a!=1").unwrap(), num("a", NumOp::Ne, 1));
    assert_eq!(parse("a<1").unwrap(), num("a", NumOp::Lt, 1));
    assert_eq!(parse("a<=1").unwrap(), num("a", NumOp::Le, 1));
    assert_eq!(parse("a>1").unwrap(), num("a", NumOp::Gt, 1));
    assert_eq!(parse("a>=1").unwrap(), num("a", NumOp::Ge, 1));
    assert_eq!(parse("a>=-1").unwrap(), num("a", NumOp::Ge, -1));
    assert_eq!(parse(r#"a=~"x.*""#).unwrap(), re("a", "x.*", false));
    assert_eq!(parse(r#"a!~"x.*""#).unwrap(), re("a", "x.*", true));
    assert_eq!(parse("with(a)").unwrap(), Expr::With("a".into()));
    assert_eq!(parse("without(a)").unwrap(), Expr::Without("a".into()));
}

#[test]
fn whitespace_is_optional_and_free() {
    assert_eq!(
        parse("  SrcK8S_Namespace \t=\n \"netobserv\"  ").unwrap(),
        eq("SrcK8S_Namespace", "netobserv")
    );
    assert_eq!(
        parse("with ( a )").unwrap(),
        Expr::With("a".into()),
        "with may be followed by spaces before its parenthesis"
    );
}

#[test]
fn keywords_are_case_insensitive() {
    let expected = Expr::And(vec![
        num("a", NumOp::Eq, 1),
        Expr::Or(vec![num("b", NumOp::Eq, 2), Expr::With("c".into())]),
        Expr::Without("d".into()),
    ]);
    for q in [
        "a=1 and b=2 or with(c) and without(d)",
        "a=1 AND b=2 OR WITH(c) AND WITHOUT(d)",
        "a=1 And b=2 oR With(c) aNd WithOut(d)",
    ] {
        assert_eq!(parse(q).unwrap(), expected, "{q}");
    }
}

#[test]
fn or_binds_tighter_than_and_like_upstream() {
    // Upstream's yacc grammar declares `%left AND` before `%left OR`, which
    // gives OR the higher precedence.
    assert_eq!(
        parse("a=1 and b=2 or c=3").unwrap(),
        Expr::And(vec![
            num("a", NumOp::Eq, 1),
            Expr::Or(vec![num("b", NumOp::Eq, 2), num("c", NumOp::Eq, 3)]),
        ])
    );
    assert_eq!(
        parse("a=1 or b=2 and c=3").unwrap(),
        Expr::And(vec![
            Expr::Or(vec![num("a", NumOp::Eq, 1), num("b", NumOp::Eq, 2)]),
            num("c", NumOp::Eq, 3),
        ])
    );
    assert_eq!(
        parse("a=1 or b=2 and c=3 or d=4").unwrap(),
        Expr::And(vec![
            Expr::Or(vec![num("a", NumOp::Eq, 1), num("b", NumOp::Eq, 2)]),
            Expr::Or(vec![num("c", NumOp::Eq, 3), num("d", NumOp::Eq, 4)]),
        ])
    );
}

#[test]
fn parentheses_override_precedence_and_stay_nested() {
    assert_eq!(
        parse("a=1 or (b=2 and c=3)").unwrap(),
        Expr::Or(vec![
            num("a", NumOp::Eq, 1),
            Expr::And(vec![num("b", NumOp::Eq, 2), num("c", NumOp::Eq, 3)]),
        ])
    );
    assert_eq!(
        parse("(a=1 and b=2) and c=3").unwrap(),
        Expr::And(vec![
            Expr::And(vec![num("a", NumOp::Eq, 1), num("b", NumOp::Eq, 2)]),
            num("c", NumOp::Eq, 3),
        ])
    );
    // Redundant parentheses around a single term vanish.
    assert_eq!(parse("((((a=1))))").unwrap(), num("a", NumOp::Eq, 1));
}

#[test]
fn upstream_documented_example() {
    let q = r#"(srcnamespace="netobserv" OR (srcnamespace="ingress" AND dstnamespace="netobserv")) AND srckind!="service""#;
    assert_eq!(
        parse(q).unwrap(),
        Expr::And(vec![
            Expr::Or(vec![
                eq("srcnamespace", "netobserv"),
                Expr::And(vec![
                    eq("srcnamespace", "ingress"),
                    eq("dstnamespace", "netobserv"),
                ]),
            ]),
            Expr::Equals {
                field: "srckind".into(),
                value: "service".into(),
                negated: true
            },
        ])
    );
}

#[test]
fn string_forms() {
    assert_eq!(
        parse(r#"a="say \"hi\"\\""#).unwrap(),
        eq("a", "say \"hi\"\\")
    );
    assert_eq!(parse(r#"a="tab\there""#).unwrap(), eq("a", "tab\there"));
    assert_eq!(parse(r#"a="caf\u00e9""#).unwrap(), eq("a", "café"));
    assert_eq!(parse("a=\"日本\"").unwrap(), eq("a", "日本"));
    assert_eq!(parse(r"a=~`^\d+$`").unwrap(), re("a", r"^\d+$", false));
    assert_eq!(parse(r#"a=~"^\\d+$""#).unwrap(), re("a", r"^\d+$", false));
    assert_eq!(parse(r#"a="""#).unwrap(), eq("a", ""));
}

#[test]
fn comments() {
    let q = "// keep app traffic\nSrcK8S_Namespace=\"app\" /* and only TCP */ and Proto=6";
    assert_eq!(
        parse(q).unwrap(),
        Expr::And(vec![
            eq("SrcK8S_Namespace", "app"),
            num("Proto", NumOp::Eq, 6)
        ])
    );
}

#[test]
fn display_is_canonical() {
    let cases = [
        (
            r#"  srcns = "x"   AND (  Proto=6 OR DstPort >= 1024 ) and DstNs !~ "^openshift-" "#,
            r#"srcns="x" and (Proto=6 or DstPort>=1024) and DstNs!~"^openshift-""#,
        ),
        // Mixed and/or always gets explicit parentheses.
        ("a=1 and b=2 or c=3", "a=1 and (b=2 or c=3)"),
        ("a=1 or b=2 and c=3", "(a=1 or b=2) and c=3"),
        ("(a=1 and b=2) and c=3", "(a=1 and b=2) and c=3"),
        ("WITH(x) Or WITHOUT(y)", "with(x) or without(y)"),
        ("a=-5", "a=-5"),
        (r"a=~`\d`", r#"a=~"\\d""#),
        ("a=\"l1\\nl2\\x01\\\"q\"", "a=\"l1\\nl2\\x01\\\"q\""),
        ("a=\"\\a\"", "a=\"\\x07\""),
    ];
    for (query, canonical) in cases {
        let e = parse(query).unwrap();
        assert_eq!(e.to_string(), canonical, "{query}");
        assert_eq!(parse(canonical).unwrap(), e, "{canonical}");
    }
}

#[test]
fn display_round_trips() {
    let queries = [
        r#"SrcK8S_Namespace="netobserv" and (Proto=6 or DstPort>=1024) and DstK8S_Namespace!~"^openshift-""#,
        r#"(srcnamespace="netobserv" OR (srcnamespace="ingress" AND dstnamespace="netobserv")) AND srckind!="service""#,
        r#"a=1 or b=2 and c=3 or ((d=4)) and (e=5 and (f=6 or g=7))"#,
        r#"with(TimeFlowRttNs) and without(DnsId) or Name=~`[\w-]+\.svc` and x!="\"q\"\\\t""#,
        r#"SrcAddr="$(DstAddr)" and Bytes<-9223372036854775808 or Bytes>9223372036854775807"#,
    ];
    for q in queries {
        let e = parse(q).unwrap();
        let printed = e.to_string();
        assert_eq!(parse(&printed).unwrap(), e, "{q} printed as {printed}");
        // Printing is stable.
        assert_eq!(parse(&printed).unwrap().to_string(), printed);
    }
}

#[test]
fn from_str() {
    let e: Expr = "a=1".parse().unwrap();
    assert_eq!(e, num("a", NumOp::Eq, 1));
    assert!("a=".parse::<Expr>().is_err());
}

#[test]
fn error_messages_carry_offsets() {
    let e = err("A=1 and Bytes=");
    assert_eq!(e.offset(), 14);
    assert_eq!(
        e.to_string(),
        "expected a value after `=`, found the end of the query at 14"
    );

    let e = err("SrcK8S_Namespace= and Proto=6");
    assert_eq!(e.offset(), 18);
    assert_eq!(
        e.kind(),
        &ErrorKind::MissingValue {
            op: "=",
            found: "`and`".into()
        }
    );

    let e = err("a=1 b=2");
    assert_eq!(e.offset(), 4);
    assert_eq!(
        e.to_string(),
        "expected `and`, `or` or the end of the query, found field name `b` at 4"
    );

    let e = err("(a=1 and b=2");
    assert_eq!(e.offset(), 12);
    assert_eq!(
        e.kind(),
        &ErrorKind::UnclosedParen {
            open: 0,
            found: "the end of the query".into()
        }
    );

    let e = err("a=1)");
    assert_eq!(e.offset(), 3);
    assert!(matches!(e.kind(), ErrorKind::Unexpected { found, .. } if found == "`)`"));

    let e = err("a");
    assert_eq!(e.offset(), 1);
    assert!(e.to_string().starts_with("expected a comparison operator"));

    let e = err("a=1 and");
    assert_eq!(e.offset(), 7);
    assert!(
        matches!(e.kind(), ErrorKind::Unexpected { found, .. } if found == "the end of the query")
    );

    let e = err("and a=1");
    assert_eq!(e.offset(), 0);

    let e = err("()");
    assert_eq!(e.offset(), 1);
}

#[test]
fn value_type_errors() {
    let e = err(r#"Bytes > "10""#);
    assert_eq!(e.offset(), 8);
    assert_eq!(
        e.kind(),
        &ErrorKind::ValueType {
            op: ">",
            needed: "an integer",
            found: "string \"10\"".into()
        }
    );
    for q in [r#"a<"1""#, r#"a<="1""#, r#"a>="1""#] {
        assert!(
            matches!(
                err(q).kind(),
                ErrorKind::ValueType {
                    needed: "an integer",
                    ..
                }
            ),
            "{q}"
        );
    }
    let e = err("Proto=~6");
    assert_eq!(e.offset(), 7);
    assert!(matches!(
        e.kind(),
        ErrorKind::ValueType {
            op: "=~",
            needed: "a string (regular expression)",
            ..
        }
    ));
    assert!(matches!(
        err("Proto!~6").kind(),
        ErrorKind::ValueType { op: "!~", .. }
    ));
    // Floats are refused, as upstream.
    let e = err("TimeFlowRttNs > 4.5");
    assert_eq!((e.offset(), e.kind()), (16, &ErrorKind::FloatNumber));
}

#[test]
fn comparisons_need_the_field_on_the_left() {
    let e = err("6=Proto");
    assert_eq!(e.offset(), 0);
    assert!(e.to_string().contains("Field <op> value"), "{e}");
    let e = err(r#""netobserv"=SrcK8S_Namespace"#);
    assert_eq!(e.offset(), 0);
    // Field compared to field is not a thing either.
    let e = err("SrcPort=DstPort");
    assert_eq!(e.offset(), 8);
    assert!(matches!(e.kind(), ErrorKind::MissingValue { op: "=", .. }));
}

#[test]
fn with_without_errors() {
    assert_eq!(err("with a").offset(), 5);
    assert_eq!(err("with(\"a\")").offset(), 5);
    assert_eq!(err("with(a").offset(), 6);
    assert_eq!(err("with(a b)").offset(), 7);
    assert_eq!(err("without()").offset(), 8);
    // Reserved words cannot be field names.
    assert_eq!(err("with=\"x\"").offset(), 4);
    assert_eq!(err("with(and)").offset(), 5);
}

#[test]
fn lexical_errors_reach_parse() {
    assert_eq!(err("").kind(), &ErrorKind::Empty);
    assert_eq!(err("   \n\t").kind(), &ErrorKind::Empty);
    assert_eq!(err("/* nothing */ // here").kind(), &ErrorKind::Empty);
    assert_eq!(err("a='x'").kind(), &ErrorKind::SingleQuote);
    let e = err(r#"a="unterminated"#);
    assert_eq!((e.offset(), e.kind()), (2, &ErrorKind::UnterminatedString));
    assert_eq!(err("a==\"x\"").offset(), 2);
    assert_eq!(err("a=1 && b=2").kind(), &ErrorKind::UnexpectedChar('&'));
    assert_eq!(err("a=1 || b=2").kind(), &ErrorKind::UnexpectedChar('|'));
    assert_eq!(
        err("Src.Addr=\"x\"").kind(),
        &ErrorKind::UnexpectedChar('.')
    );
    assert_eq!(
        err("a=0x10").kind(),
        &ErrorKind::InvalidNumber("0x10".into())
    );
    assert_eq!(
        err(r#"a=~"\d""#).kind(),
        &ErrorKind::InvalidEscape("\\d".into())
    );
}

#[test]
fn invalid_regex_is_a_parse_error() {
    let e = err(r#"SrcK8S_Name=~"(unclosed""#);
    assert_eq!(e.offset(), 13);
    assert_eq!(
        e.to_string(),
        "invalid regular expression: unclosed group at 13"
    );
    // Look-around and back-references are not supported (neither are they in Go).
    assert!(matches!(
        err(r#"a=~"(?=x)""#).kind(),
        ErrorKind::InvalidRegex(_)
    ));
    // Oversized programs are refused, not built.
    assert!(matches!(
        err(r#"a=~"((a{1000}){1000}){1000}""#).kind(),
        ErrorKind::InvalidRegex(_)
    ));
}

#[test]
fn nesting_depth_is_capped() {
    let ok = format!("{}a=1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(parse(&ok).unwrap(), num("a", NumOp::Eq, 1));
    let too_deep = format!(
        "{}a=1{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let e = err(&too_deep);
    assert_eq!(
        (e.offset(), e.kind()),
        (MAX_DEPTH, &ErrorKind::TooDeep(MAX_DEPTH))
    );
    // Alternating groups nest and/or nodes: still bounded.
    let mut q = String::from("a=1");
    for _ in 0..MAX_DEPTH {
        q = format!("b=2 or (c=3 and ({q}))");
    }
    assert!(matches!(err(&q).kind(), ErrorKind::TooDeep(_)));
}
