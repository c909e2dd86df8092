//! Evaluation semantics against records, including upstream's type coercions.

use std::collections::HashMap;

use flowdsl::{Filter, Record, Value, compile};
use serde_json::{Value as Json, json};

fn check(query: &str, record: &Json) -> bool {
    let filter = compile(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    filter.matches(record)
}

/// Asserts `query` gives `expected` on each record.
fn expect(query: &str, cases: &[(Json, bool)]) {
    let filter = compile(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    for (record, expected) in cases {
        assert_eq!(filter.matches(record), *expected, "{query} on {record}");
    }
}

#[test]
fn string_equality() {
    expect(
        r#"ns="netobserv""#,
        &[
            (json!({"ns": "netobserv"}), true),
            (json!({"ns": "netobserv2"}), false),
            (json!({"ns": "NetObserv"}), false),
            (json!({"other": "netobserv"}), false),
            (json!({"ns": null}), false),
        ],
    );
    expect(
        r#"ns!="netobserv""#,
        &[
            (json!({"ns": "netobserv"}), false),
            (json!({"ns": "other"}), true),
            // Missing field: `!=` holds (negation of `=`), as upstream.
            (json!({}), true),
        ],
    );
    expect(r#"ns="""#, &[(json!({"ns": ""}), true), (json!({}), false)]);
}

#[test]
fn string_literal_never_equals_a_number() {
    // Upstream compares with Go interface equality: 6 (number) != "6" (string).
    expect(
        r#"Proto="6""#,
        &[
            (json!({"Proto": 6}), false),
            (json!({"Proto": 6.0}), false),
            (json!({"Proto": "6"}), true),
            (json!({"Proto": true}), false),
        ],
    );
    expect(r#"Proto!="6""#, &[(json!({"Proto": 6}), true)]);
}

#[test]
fn numeric_comparisons() {
    let cases = [
        ("Bytes=20", [false, true, false]),
        ("Bytes!=20", [true, false, true]),
        ("Bytes<20", [true, false, false]),
        ("Bytes<=20", [true, true, false]),
        ("Bytes>20", [false, false, true]),
        ("Bytes>=20", [false, true, true]),
    ];
    for (query, expected) in cases {
        expect(
            query,
            &[
                (json!({"Bytes": 19}), expected[0]),
                (json!({"Bytes": 20}), expected[1]),
                (json!({"Bytes": 21}), expected[2]),
            ],
        );
    }
    expect(
        "Delta>=-3",
        &[(json!({"Delta": -3}), true), (json!({"Delta": -4}), false)],
    );
}

#[test]
fn numeric_comparisons_on_missing_or_non_numeric_fields_are_false() {
    for query in ["n=1", "n!=1", "n<1", "n<=1", "n>1", "n>=1"] {
        for record in [
            json!({}),
            json!({"n": "abc"}),
            json!({"n": "1.0"}),
            json!({"n": true}),
            json!({"n": null}),
            json!({"n": [1]}),
            json!({"n": {"v": 1}}),
        ] {
            assert!(!check(query, &record), "{query} on {record}");
        }
    }
}

#[test]
fn numeric_coercions() {
    // Strings holding decimal integers convert.
    expect(
        "Port=443",
        &[
            (json!({"Port": "443"}), true),
            (json!({"Port": "+443"}), true),
            (json!({"Port": " 443"}), false),
        ],
    );
    // Floats truncate toward zero, as Go's int(f).
    expect(
        "Rtt>4",
        &[(json!({"Rtt": 4.9}), false), (json!({"Rtt": 5.0}), true)],
    );
    expect("Rtt=4", &[(json!({"Rtt": 4.9}), true)]);
    expect("Rtt=-4", &[(json!({"Rtt": -4.9}), true)]);
    expect("Rtt>=4", &[(json!({"Rtt": 4.0001}), true)]);
    // Unsigned values beyond i64 compare exactly.
    expect(
        "Bytes>9223372036854775807",
        &[
            (json!({"Bytes": u64::MAX}), true),
            (json!({"Bytes": 1}), false),
        ],
    );
    expect(
        "Bytes<-9223372036854775808",
        &[(json!({"Bytes": i64::MIN}), false)],
    );
}

#[test]
fn regex_matching() {
    expect(
        r#"ns=~"openshift.*""#,
        &[
            (json!({"ns": "openshift-ingress"}), true),
            // Unanchored search, like Go's MatchString.
            (json!({"ns": "my-openshift"}), true),
            (json!({"ns": "my-app"}), false),
            (json!({}), false),
        ],
    );
    expect(
        r#"ns!~"^openshift-""#,
        &[
            (json!({"ns": "openshift-ingress"}), false),
            (json!({"ns": "my-openshift-"}), true),
            (json!({}), true),
        ],
    );
    expect(
        r#"ns=~"(?i)^NETOBSERV$""#,
        &[(json!({"ns": "netobserv"}), true)],
    );
    expect(r"name=~`^\w+-\d+$`", &[(json!({"name": "loki-0"}), true)]);
}

#[test]
fn regex_against_non_strings_uses_their_text() {
    expect(
        r#"Bytes=~"^1[0-9]$""#,
        &[
            (json!({"Bytes": 15}), true),
            (json!({"Bytes": 25}), false),
            (json!({"Bytes": 15.0}), true),
            (json!({"Bytes": 1.5}), false),
        ],
    );
    expect(r#"Rtt=~"^4\\.5$""#, &[(json!({"Rtt": 4.5}), true)]);
    expect(r#"Flag=~"^true$""#, &[(json!({"Flag": true}), true)]);
    expect(r#"Gone=~"nil""#, &[(json!({"Gone": null}), true)]);
    // Lists read like Go's %v: `[genev_sys_6081 br-ex]`.
    expect(
        r#"Interfaces=~"(^|\\[| )br-ex( |\\]|$)""#,
        &[
            (json!({"Interfaces": ["genev_sys_6081", "br-ex"]}), true),
            (json!({"Interfaces": ["br-ext"]}), false),
        ],
    );
    expect(
        r#"Interfaces!~"eth0""#,
        &[(json!({"Interfaces": ["eth0"]}), false)],
    );
}

#[test]
fn with_and_without() {
    expect(
        "with(rtt)",
        &[
            (json!({"rtt": 4.5}), true),
            (json!({"rtt": null}), true),
            (json!({"rtt": ""}), true),
            (json!({}), false),
        ],
    );
    expect(
        "without(rtt)",
        &[
            (json!({"rtt": 4.5}), false),
            (json!({"rtt": null}), false),
            (json!({}), true),
        ],
    );
}

#[test]
fn field_names_are_case_sensitive() {
    expect(
        r#"SrcK8S_Namespace="x""#,
        &[
            (json!({"SrcK8S_Namespace": "x"}), true),
            (json!({"srck8s_namespace": "x"}), false),
        ],
    );
}

#[test]
fn and_or_parentheses() {
    // Same scenario as upstream's and/or test, different data.
    let q = r#"(src="team-a" OR (src="gateway" AND dst="team-a")) AND kind!="Service""#;
    expect(
        q,
        &[
            (
                json!({"src": "team-b", "dst": "team-a", "kind": "Pod"}),
                false,
            ),
            (
                json!({"src": "gateway", "dst": "team-a", "kind": "Pod"}),
                true,
            ),
            (
                json!({"src": "gateway", "dst": "team-a", "kind": "Service"}),
                false,
            ),
            (json!({"src": "team-a", "kind": "Pod"}), true),
            (json!({"src": "team-a"}), true),
        ],
    );
}

#[test]
fn precedence_is_visible_in_results() {
    // `a or b and c` is `(a or b) and c` upstream; conventional precedence
    // would make this record match.
    let record = json!({"a": 1, "b": 0, "c": 0});
    assert!(!check("a=1 or b=1 and c=1", &record));
    assert!(check("a=1 or (b=1 and c=1)", &record));
    // `a and b or c` is `a and (b or c)`.
    let record = json!({"a": 0, "b": 1, "c": 1});
    assert!(!check("a=1 and b=1 or c=1", &record));
    assert!(check("(a=1 and b=1) or c=1", &record));
}

#[test]
fn short_circuit_and_n_ary_chains() {
    let record = json!({"a": 1, "b": 2, "c": 3});
    assert!(check("a=1 and b=2 and c=3", &record));
    assert!(!check("a=1 and b=2 and c=4", &record));
    assert!(check("a=9 or b=9 or c=3", &record));
    assert!(!check("a=9 or b=9 or c=9", &record));
}

#[test]
fn upstream_style_numeric_scenario() {
    let q = "flowdirection=0 and bytes > 15 and packets <= 2";
    expect(
        q,
        &[
            (json!({"flowdirection": 0, "bytes": 20, "packets": 1}), true),
            (
                json!({"flowdirection": 1, "bytes": 20, "packets": 1}),
                false,
            ),
            (
                json!({"flowdirection": 0, "bytes": 10, "packets": 1}),
                false,
            ),
            (json!({"bytes": 20, "packets": 1}), false),
            (json!({"flowdirection": 0, "bytes": 20, "packets": 2}), true),
            (
                json!({"flowdirection": 0, "bytes": 15, "packets": 2}),
                false,
            ),
            (
                json!({"flowdirection": 0, "bytes": 20, "packets": 3}),
                false,
            ),
        ],
    );
}

#[test]
fn field_templates() {
    expect(
        r#"SrcK8S_Namespace="$(DstK8S_Namespace)""#,
        &[
            (
                json!({"SrcK8S_Namespace": "a", "DstK8S_Namespace": "a"}),
                true,
            ),
            (
                json!({"SrcK8S_Namespace": "a", "DstK8S_Namespace": "b"}),
                false,
            ),
            (
                json!({"SrcK8S_Namespace": "a", "DstK8S_Namespace": "ab"}),
                false,
            ),
            // Missing reference reads as empty.
            (json!({"SrcK8S_Namespace": ""}), true),
            (json!({"SrcK8S_Namespace": "a"}), false),
            // Missing left-hand field: `=` is false.
            (json!({"DstK8S_Namespace": ""}), false),
        ],
    );
    // Numbers go through their text form on both sides.
    expect(
        r#"SrcPort="$(DstPort)""#,
        &[
            (json!({"SrcPort": 80, "DstPort": 80}), true),
            (json!({"SrcPort": 80, "DstPort": "80"}), true),
            (json!({"SrcPort": 80, "DstPort": 8080}), false),
        ],
    );
    expect(
        r#"Pair="$(SrcAddr):$(SrcPort)/x""#,
        &[
            (
                json!({"Pair": "10.0.0.1:443/x", "SrcAddr": "10.0.0.1", "SrcPort": 443}),
                true,
            ),
            (
                json!({"Pair": "10.0.0.1:443/y", "SrcAddr": "10.0.0.1", "SrcPort": 443}),
                false,
            ),
            (
                json!({"Pair": "10.0.0.1:443", "SrcAddr": "10.0.0.1", "SrcPort": 443}),
                false,
            ),
            (json!({"Pair": ":/x"}), true),
        ],
    );
    expect(
        r#"SrcK8S_Namespace!="$(DstK8S_Namespace)""#,
        &[
            (
                json!({"SrcK8S_Namespace": "a", "DstK8S_Namespace": "a"}),
                false,
            ),
            (
                json!({"SrcK8S_Namespace": "a", "DstK8S_Namespace": "b"}),
                true,
            ),
            (json!({"DstK8S_Namespace": "b"}), true),
        ],
    );
    // `$()` is not a reference: plain string comparison.
    expect(r#"v="$()""#, &[(json!({"v": "$()"}), true)]);
}

#[test]
fn comments_and_raw_strings_in_real_queries() {
    let q = "// only app namespaces\nSrcK8S_Namespace !~ `^(openshift|kube)-` /* infra */ and with(DstK8S_Namespace)";
    expect(
        q,
        &[
            (
                json!({"SrcK8S_Namespace": "shop", "DstK8S_Namespace": "db"}),
                true,
            ),
            (
                json!({"SrcK8S_Namespace": "kube-system", "DstK8S_Namespace": "db"}),
                false,
            ),
            (json!({"SrcK8S_Namespace": "shop"}), false),
        ],
    );
}

#[test]
fn escaped_quotes_in_values() {
    expect(
        r#"msg="say \"hi\"""#,
        &[(json!({"msg": "say \"hi\""}), true)],
    );
}

/// A typed record, as the pipeline might use instead of a JSON map.
struct TypedFlow {
    namespace: String,
    proto: u8,
    bytes: u64,
    rtt_ns: Option<u64>,
}

impl Record for TypedFlow {
    fn get(&self, field: &str) -> Option<Value<'_>> {
        match field {
            "SrcK8S_Namespace" => Some(Value::Str(&self.namespace)),
            "Proto" => Some(Value::UInt(u64::from(self.proto))),
            "Bytes" => Some(Value::UInt(self.bytes)),
            "TimeFlowRttNs" => self.rtt_ns.map(Value::UInt),
            _ => None,
        }
    }
}

#[test]
fn custom_record_types() {
    let filter: Filter =
        r#"SrcK8S_Namespace="netobserv" and Proto=6 and Bytes>1000 and with(TimeFlowRttNs)"#
            .parse()
            .unwrap();
    let mut flow = TypedFlow {
        namespace: "netobserv".into(),
        proto: 6,
        bytes: 5000,
        rtt_ns: Some(1200),
    };
    assert!(filter.matches(&flow));
    flow.rtt_ns = None;
    assert!(!filter.matches(&flow));
    // Works through references and trait objects too.
    flow.rtt_ns = Some(1);
    let dynamic: &dyn Record = &flow;
    assert!(filter.matches(dynamic));
    assert!(filter.matches(&&flow));
}

#[test]
fn other_map_types() {
    let filter = compile(r#"a="x" and b>1"#).unwrap();
    let mut map: HashMap<String, Json> = HashMap::new();
    map.insert("a".into(), json!("x"));
    map.insert("b".into(), json!(2));
    assert!(filter.matches(&map));
    let Json::Object(obj) = json!({"a": "x", "b": 0}) else {
        unreachable!()
    };
    assert!(!filter.matches(&obj));
    // Non-object JSON has no fields.
    assert!(compile("without(a)").unwrap().matches(&json!([1, 2])));
}

#[test]
fn filter_accessors() {
    let filter = compile("a=1 OR b=2").unwrap();
    assert_eq!(filter.to_string(), "a=1 or b=2");
    assert_eq!(filter.expr(), &flowdsl::parse("a=1 or b=2").unwrap());
    let again = Filter::from(filter.expr().clone());
    assert!(again.matches(&json!({"b": 2})));
    // Filters are shareable across threads.
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Filter>();
}
