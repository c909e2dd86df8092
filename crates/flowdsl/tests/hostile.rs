//! Robustness: no input may panic or overflow the stack, and printing any
//! tree gives text that parses back to the same tree.

use flowdsl::{Expr, Filter, MAX_DEPTH, NumOp, Pattern, compile, parse};
use serde_json::json;

/// Tiny deterministic PRNG (xorshift64*), enough to drive the generators
/// below without an extra dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn record() -> serde_json::Value {
    json!({
        "a": "x", "b": 2, "c": 4.5, "d": true, "e": null,
        "f": ["x", 1], "g": {"k": "v"}, "Proto": 6, "ns": "netobserv",
    })
}

/// Checks the invariants every input must satisfy.
fn exercise(query: &str) {
    match parse(query) {
        Ok(expr) => {
            let printed = expr.to_string();
            let reparsed = parse(&printed)
                .unwrap_or_else(|e| panic!("{query:?} printed as {printed:?} fails: {e}"));
            assert_eq!(reparsed, expr, "{query:?} printed as {printed:?}");
            let _ = Filter::new(expr).matches(&record());
        }
        Err(e) => {
            assert!(
                e.offset() <= query.len(),
                "{query:?}: offset {}",
                e.offset()
            );
            assert!(!e.to_string().is_empty());
        }
    }
}

#[test]
fn fixed_hostile_inputs() {
    let long_ident = "x".repeat(100_000);
    let deep_open = "(".repeat(100_000);
    let deep_close = ")".repeat(100_000);
    let deep_balanced = format!("{deep_open}a=1{deep_close}");
    let long_chain = vec!["a=\"x\""; 50_000].join(" and ");
    let long_or = vec!["b=1"; 50_000].join(" OR ");
    let long_string = format!("a=\"{}\"", "y".repeat(1_000_000));
    let many_templates = format!("a=\"{}\"", "$(a)".repeat(10_000));
    let inputs: Vec<&str> = vec![
        "",
        " ",
        "(",
        ")",
        "((",
        "))",
        "(()",
        "())",
        "\"",
        "\"\\",
        "`",
        "'",
        "/*",
        "/",
        "//",
        "!",
        "=",
        "=~",
        "a",
        "a=",
        "a=~",
        "a=\"",
        "a=\"\\u",
        "a=\"\\U0011ffff\"",
        "a=\"\\x\"",
        "a=\"\\",
        "a=-",
        "a=--1",
        "a=1-",
        "a=99999999999999999999999999",
        "with",
        "with(",
        "with()",
        "without(a",
        "and",
        "or or or",
        "a=1 and",
        "a=1 or",
        "\u{0}",
        "a=\"\u{0}\"",
        "\u{feff}a=1",
        "a\u{a0}=1",
        "é=1",
        "日本=\"語\"",
        "a=\"日本",
        "a=~\"[\"",
        "a=~\"\\\\\"",
        "a=~\"\\\\p{Greek}\"",
        "a=~\"(?P<n>x)\\\\k<n>\"",
        &long_ident,
        &deep_open,
        &deep_close,
        &deep_balanced,
        &long_chain,
        &long_or,
        &long_string,
        &many_templates,
    ];
    for q in inputs {
        exercise(q);
    }
    assert!(parse(&long_chain).is_ok());
    assert!(compile(&long_chain).unwrap().matches(&record()));
    assert!(!compile(&long_or).unwrap().matches(&record()));
    assert!(parse(&deep_balanced).is_err());
}

#[test]
fn random_character_soup() {
    let alphabet: Vec<char> = "()=!~<>\"`'\\/*-_ \n\tabcAND orwithout0123456789.$é日\u{0}"
        .chars()
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let len = rng.below(40);
        let q: String = (0..len).map(|_| rng.pick(&alphabet)).collect();
        exercise(&q);
    }
}

#[test]
fn random_token_soup() {
    let tokens = [
        "(", ")", "and", "OR", "with(", "without(", "a", "b", "Proto", "=", "!=", "=~", "!~", "<",
        "<=", ">", ">=", "\"x\"", "\"$(a)\"", "`r`", "6", "-1", "\"^n.*\"", " ", "//c\n", "/*c*/",
    ];
    let mut rng = Rng(42);
    for _ in 0..50_000 {
        let len = 1 + rng.below(16);
        let mut q = String::new();
        for _ in 0..len {
            q.push_str(rng.pick(&tokens));
            if rng.below(2) == 0 {
                q.push(' ');
            }
        }
        exercise(&q);
    }
}

/// Near-valid inputs: printed random trees with a few bytes cut, doubled or
/// swapped, plus keyword case and spacing variations.
#[test]
fn mutated_valid_queries() {
    let mut rng = Rng(1234);
    let mut parsed = 0;
    for _ in 0..5_000 {
        let printed = random_expr(&mut rng, 3).to_string();
        let mut chars: Vec<char> = printed.chars().collect();
        for _ in 0..rng.below(3) {
            if chars.is_empty() {
                break;
            }
            let i = rng.below(chars.len());
            match rng.below(4) {
                0 => {
                    chars.remove(i);
                }
                1 => chars.insert(i, chars[i]),
                2 => {
                    let j = rng.below(chars.len());
                    chars.swap(i, j);
                }
                _ => chars.insert(i, ' '),
            }
        }
        let mut q: String = chars.into_iter().collect();
        if rng.below(4) == 0 {
            q = q.replace(" and ", " AND ").replace(" or ", "  Or\n");
        }
        if parse(&q).is_ok() {
            parsed += 1;
        }
        exercise(&q);
    }
    // Enough of them must stay valid for the round-trip check to mean something.
    assert!(parsed > 500, "only {parsed} mutated queries parsed");
}

fn random_field(rng: &mut Rng) -> String {
    rng.pick(&["a", "b", "Proto", "ns", "SrcK8S_Namespace", "_x1", "é"])
        .to_string()
}

fn random_string(rng: &mut Rng) -> String {
    let pieces = [
        "x", "\"", "\\", "\n", "\t", "\u{1}", "\u{7f}", "é", "$(a)", "`", " ", "'",
    ];
    (0..rng.below(6)).map(|_| rng.pick(&pieces)).collect()
}

fn random_expr(rng: &mut Rng, depth: usize) -> Expr {
    let leaf_only = depth == 0;
    match rng.below(if leaf_only { 5 } else { 7 }) {
        0 => Expr::With(random_field(rng)),
        1 => Expr::Without(random_field(rng)),
        2 => Expr::Equals {
            field: random_field(rng),
            value: random_string(rng),
            negated: rng.below(2) == 0,
        },
        3 => Expr::Compare {
            field: random_field(rng),
            op: rng.pick(&[
                NumOp::Eq,
                NumOp::Ne,
                NumOp::Lt,
                NumOp::Le,
                NumOp::Gt,
                NumOp::Ge,
            ]),
            value: rng.pick(&[0, 1, -1, 1024, i64::MIN, i64::MAX]),
        },
        4 => Expr::Matches {
            field: random_field(rng),
            pattern: Pattern::new(rng.pick(&["^x", "a|b", r"\d+\.\w", "\"", "(?i)é", "\n"]))
                .expect("valid pattern"),
            negated: rng.below(2) == 0,
        },
        k => {
            let n = 2 + rng.below(3);
            let operands = (0..n).map(|_| random_expr(rng, depth - 1)).collect();
            if k == 5 {
                Expr::And(operands)
            } else {
                Expr::Or(operands)
            }
        }
    }
}

#[test]
fn random_trees_round_trip_through_display() {
    let mut rng = Rng(7);
    for _ in 0..2_000 {
        let expr = random_expr(&mut rng, 4);
        let printed = expr.to_string();
        let reparsed =
            parse(&printed).unwrap_or_else(|e| panic!("{expr:?} printed as {printed:?}: {e}"));
        assert_eq!(reparsed, expr, "printed as {printed:?}");
    }
}

#[test]
fn depth_limit_holds_for_every_kind_of_nesting() {
    let q = format!(
        "{}with(a){}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse(&q).is_err());
    let q = format!("{}with(a){}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(compile(&q).unwrap().matches(&record()));
}
