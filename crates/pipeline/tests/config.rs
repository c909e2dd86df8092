//! Pipeline configuration: strict parsing and stage-graph checks, with messages naming the stage
//! and key at fault.

use netobserv_pipeline::config::{Config, ConfigError, GraphError};

const NETOBSERV_LIKE: &str = r#"
log-level: info
pipeline:
  - name: grpc
  - name: enrich
    follows: grpc
  - name: filters
    follows: enrich
  - name: loki
    follows: filters
  - name: prometheus
    follows: filters
parameters:
  - name: grpc
    ingest: {type: grpc, grpc: {port: 2055}}
  - name: enrich
    transform:
      type: network
      network:
        rules:
          - type: add_subnet_label
            add_subnet_label: {input: SrcAddr, output: SrcSubnetLabel}
          - type: reinterpret_direction
          - type: decode_tcp_flags
            decode_tcp_flags: {input: Flags, output: Flags}
        subnetLabels:
          - {name: EXT:cloud, cidrs: ["10.0.0.0/8"]}
        directionInfo:
          reporterIPField: AgentIP
          srcHostField: SrcK8S_HostIP
          dstHostField: DstK8S_HostIP
          flowDirectionField: FlowDirection
          ifDirectionField: IfDirection
  - name: filters
    transform:
      type: filter
      filter:
        samplingField: Sampling
        rules:
          - type: keep_entry_query
            keepEntryQuery: 'SrcK8S_Namespace="netobserv" or DstPort>=1024'
            keepEntrySampling: 2
  - name: loki
    write: {type: loki, loki: {url: "http://loki:3100"}}
  - name: prometheus
    encode: {type: prom, prom: {prefix: netobserv_}}
perfSettings: {batcherMaxLen: 1000, nodeBufferLen: 100}
"#;

#[test]
fn netobserv_like_config_parses_and_orders_stages() {
    let config = Config::parse(NETOBSERV_LIKE).expect("parses");
    let graph = config.check().expect("valid graph");
    assert_eq!(graph.root, "grpc");
    assert_eq!(
        graph.order,
        ["grpc", "enrich", "filters", "loki", "prometheus"]
    );
    assert_eq!(graph.children["filters"], ["loki", "prometheus"]);
}

fn parse_err(text: &str) -> String {
    match Config::parse(text) {
        Err(e) => e.to_string(),
        Ok(c) => match c.check() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted: {text}"),
        },
    }
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let text = NETOBSERV_LIKE.replace("samplingField", "samplingFeild");
    let err = parse_err(&text);
    assert!(err.contains("samplingFeild"), "{err}");
    let err = parse_err(&NETOBSERV_LIKE.replace("log-level", "loglevel"));
    assert!(err.contains("loglevel"), "{err}");
}

#[test]
fn graph_errors_name_the_stage() {
    let cases = [
        (
            "pipeline: [{name: a}, {name: b, follows: nowhere}]\nparameters: [{name: a, ingest: {type: stdin}}, {name: b, write: {type: stdout}}]",
            "stage `b`: follows `nowhere`",
        ),
        (
            "pipeline: [{name: a}]\nparameters: [{name: a, transform: {type: none}}]",
            "stage `a`: follows nothing, so it must be an ingest",
        ),
        (
            "pipeline: [{name: a}, {name: a}]\nparameters: []",
            "stage `a` is declared twice",
        ),
        (
            "pipeline: [{name: a}, {name: b, follows: a}]\nparameters: [{name: a, ingest: {type: stdin}}]",
            "stage `b`: is in `pipeline` but has no `parameters` entry",
        ),
        (
            "pipeline: [{name: a}]\nparameters: [{name: a, ingest: {type: stdin}, write: {type: stdout}}]",
            "stage `a`: must set exactly one",
        ),
        (
            "pipeline: [{name: a}, {name: w, follows: a}, {name: t, follows: w}]\nparameters: [{name: a, ingest: {type: stdin}}, {name: w, write: {type: stdout}}, {name: t, transform: {type: none}}]",
            "stage `t`: follows `w`, a writer",
        ),
        (
            "pipeline: [{name: a}, {name: b, follows: c}, {name: c, follows: b}]\nparameters: [{name: a, ingest: {type: stdin}}, {name: b, transform: {type: none}}, {name: c, transform: {type: none}}]",
            "not reachable from the ingest stage",
        ),
        (
            "pipeline: [{name: a}, {name: t, follows: a}]\nparameters: [{name: a, ingest: {type: stdin}}, {name: t, transform: {type: filter, filter: {rules: [{type: keep_entry_query, keepEntryQuery: 'Proto='}]}}}]",
            "stage `t`: filter.rules[0]: keepEntryQuery `Proto=`",
        ),
        (
            "pipeline: [{name: a}, {name: t, follows: a}]\nparameters: [{name: a, ingest: {type: stdin}}, {name: t, transform: {type: network, network: {subnetLabels: [{name: x, cidrs: [10.0.0.0/33]}]}}}]",
            "`10.0.0.0/33` is not a CIDR",
        ),
        (
            "pipeline: [{name: a}, {name: t, follows: a}]\nparameters: [{name: a, ingest: {type: stdin}}, {name: t, transform: {type: network, network: {rules: [{type: reinterpret_direction}]}}}]",
            "needs the stage-level `directionInfo`",
        ),
    ];
    for (text, expected) in cases {
        let err = parse_err(text);
        assert!(err.contains(expected), "expected `{expected}` in `{err}`");
    }
    assert!(matches!(
        Config::parse("pipeline: []").expect("parses").check(),
        Err(ConfigError::Graph(GraphError::Empty))
    ));
}

#[test]
fn flags_form_is_accepted() {
    let config = Config::from_flags(
        r#"[{"name":"in"},{"name":"out","follows":"in"}]"#,
        r#"[{"name":"in","ingest":{"type":"stdin"}},{"name":"out","write":{"type":"stdout"}}]"#,
    )
    .expect("parses");
    assert_eq!(config.check().expect("valid").order, ["in", "out"]);
    let err = Config::from_flags("[{\"name\":\"in\",\"extra\":1}]", "[]").expect_err("strict");
    assert!(err.to_string().contains("--pipeline") && err.to_string().contains("extra"));
}
