//! The stage registry: every stage of a graph is built by the builder registered under its
//! upstream type name, at start and again on reload; a type without a builder is refused before
//! anything runs, naming the stage.

mod common;
use common::Shared;
use netobserv_pipeline::config::{Config, StageKind, Transform};
use netobserv_pipeline::record::Record;
use netobserv_pipeline::registry::Registry;
use netobserv_pipeline::runtime::{BuildError, Pipeline, PipelineError};
use netobserv_pipeline::stage::{BuildContext, StageContext};
use netobserv_pipeline::transform::Transformer;
use netobserv_pipeline::write;
use std::sync::atomic::{AtomicI64, Ordering};

const GRAPH: &str = r#"
pipeline:
  - {name: ingest}
  - {name: tag, follows: ingest}
  - {name: out, follows: tag}
parameters:
  - {name: ingest, ingest: {type: stdin}}
  - {name: tag, transform: {type: generic, generic: {policy: preserve_original_keys, rules: [{input: Bytes, output: Copied}]}}}
  - {name: out, write: {type: stdout, stdout: {format: json}}}
"#;

const RELOAD: &str = r#"
parameters:
  - {name: tag, transform: {type: generic, generic: {policy: preserve_original_keys, rules: [{input: Bytes, output: Again}]}}}
"#;

/// How many times [`tagging`] ran, across this test binary.
static BUILDS: AtomicI64 = AtomicI64::new(0);

/// A `generic` builder standing in for the standard one: it stamps each record with the number
/// of its build and the output field its rule names, so the test sees which build ran.
fn tagging(t: &Transform, _: &mut StageContext<'_>) -> Result<Box<dyn Transformer>, BuildError> {
    let output = t
        .generic
        .as_ref()
        .and_then(|g| g.rules.first())
        .map(|r| r.output.clone())
        .ok_or_else(|| BuildError::Invalid("a rule is needed".into()))?;
    let build = BUILDS.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Box::new(Tagging { build, output }))
}

struct Tagging {
    build: i64,
    output: String,
}

impl Transformer for Tagging {
    fn apply(&mut self, mut record: Record) -> Option<Record> {
        record.insert("Build", self.build);
        record.insert("Rule", self.output.as_str());
        Some(record)
    }
}

fn flow() -> Vec<Record> {
    vec![Record::from_json(r#"{"Bytes":7}"#).expect("record")]
}

fn last_line(out: &Shared) -> serde_json::Value {
    let text = out.text();
    let line = text.lines().last().expect("a line was written");
    serde_json::from_str(line).expect("JSON line")
}

#[test]
fn stages_are_built_and_reloaded_by_their_registered_builders() {
    let registry = Registry::default()
        .with_transform("generic", tagging)
        .with_write("stdout", write::stdout::build);
    let config = Config::parse(GRAPH).expect("parses");
    let out = Shared::default();
    let sink = out.clone();
    let mut pipeline =
        Pipeline::build_with(&registry, &config, &BuildContext::default(), move || {
            Box::new(sink.clone())
        })
        .expect("builds");
    pipeline.process(flow());
    let first = last_line(&out);
    assert_eq!(first["Rule"], "Copied", "{first}");
    assert_eq!(first["Bytes"], 7, "{first}");
    // Not the standard generic transform: the registered builder made this stage.
    assert!(first.get("Copied").is_none(), "{first}");
    let first_build = first["Build"].as_i64().expect("build number");

    let reloaded = pipeline
        .reload(&Config::parse(RELOAD).expect("parses"))
        .expect("reloads");
    assert_eq!(reloaded, ["tag"]);
    pipeline.process(flow());
    let second = last_line(&out);
    assert_eq!(second["Rule"], "Again", "{second}");
    assert!(
        second["Build"].as_i64().expect("build number") > first_build,
        "the reload went through the builder again: {second}"
    );
}

#[test]
fn the_standard_registry_runs_the_standard_builders() {
    let config = Config::parse(GRAPH).expect("parses");
    let out = Shared::default();
    let sink = out.clone();
    let mut pipeline = Pipeline::build(&config, move || Box::new(sink.clone())).expect("builds");
    pipeline.process(flow());
    let line = last_line(&out);
    assert_eq!(line["Copied"], 7, "{line}");
    assert!(line.get("Build").is_none(), "{line}");
    let registry = Registry::standard();
    assert_eq!(
        registry.types(StageKind::Transform),
        ["filter", "generic", "host_process", "network", "none"]
    );
    for (kind, name) in [
        (StageKind::Ingest, "grpc"),
        (StageKind::Ingest, "synthetic"),
        (StageKind::Ingest, "stdin"),
        (StageKind::Ingest, "file"),
        (StageKind::Ingest, "kafka"),
        (StageKind::Extract, "aggregates"),
        (StageKind::Encode, "prom"),
        (StageKind::Encode, "kafka"),
        (StageKind::Write, "loki"),
        (StageKind::Write, "stdout"),
        (StageKind::Write, "sqlite"),
    ] {
        assert!(registry.supports(kind, name), "{kind} {name}");
    }
}

#[test]
fn a_type_without_a_builder_is_refused_naming_the_stage() {
    let config = Config::parse(GRAPH).expect("parses");
    // A registry that runs no `generic` transform.
    let registry = Registry::default().with_write("stdout", write::stdout::build);
    let err = Pipeline::build_with(&registry, &config, &BuildContext::default(), || {
        Box::new(std::io::sink())
    })
    .err()
    .expect("refused");
    match &err {
        PipelineError::Stage { stage, source } => {
            assert_eq!(stage, "tag");
            assert!(matches!(source, BuildError::Unsupported(_)), "{err}");
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(err.to_string().contains("generic"), "{err}");
    // Upstream stage types this pipeline does not run are refused before anything starts.
    let s3 = Config::parse(
        r#"
pipeline:
  - {name: from-grpc}
  - {name: to-s3, follows: from-grpc}
parameters:
  - {name: from-grpc, ingest: {type: grpc, grpc: {port: 0}}}
  - {name: to-s3, encode: {type: s3, s3: {endpoint: "s3:9000", bucket: b, account: a}}}
"#,
    )
    .expect("valid upstream");
    let (stage, why) = Registry::standard()
        .check_supported(&s3)
        .expect_err("s3 is not run");
    assert_eq!(stage, "to-s3");
    assert!(why.to_string().contains("s3"), "{why}");
}
