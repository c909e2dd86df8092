//! The stage registry: for each section (`ingest`, `transform`, `extract`, `encode`, `write`),
//! the builder of each type this pipeline runs, under its upstream name. The graph is built, and
//! rebuilt on reload, through these builders only.
//!
//! Adding a stage type is one module with a builder and one line in [`Registry::standard`];
//! a type that is valid upstream but not registered parses, and is refused here, naming the
//! stage, before anything starts.

use crate::config::{Config, Encode, Extract, Ingest, StageKind, StageParams, Transform, Write};
use crate::encode::Encoder;
use crate::extract::Extractor;
use crate::ingest::Ingester;
use crate::stage::{BuildError, StageContext};
use crate::transform::Transformer;
use crate::write::Writer;
use crate::{encode, extract, ingest, transform, write};
use std::collections::BTreeMap;

/// Builds an ingest from its parameters.
pub type IngestBuilder =
    fn(&Ingest, &mut StageContext<'_>) -> Result<Box<dyn Ingester>, BuildError>;
/// Builds a transform from its parameters.
pub type TransformBuilder =
    fn(&Transform, &mut StageContext<'_>) -> Result<Box<dyn Transformer>, BuildError>;
/// Builds an extractor from its parameters.
pub type ExtractBuilder =
    fn(&Extract, &mut StageContext<'_>) -> Result<Box<dyn Extractor>, BuildError>;
/// Builds an encoder from its parameters.
pub type EncodeBuilder = fn(&Encode, &mut StageContext<'_>) -> Result<Box<dyn Encoder>, BuildError>;
/// Builds a writer from its parameters.
pub type WriteBuilder = fn(&Write, &mut StageContext<'_>) -> Result<Box<dyn Writer>, BuildError>;

/// A built stage, whatever its section.
pub enum Built {
    /// A transform.
    Transform(Box<dyn Transformer>),
    /// An extractor.
    Extract(Box<dyn Extractor>),
    /// An encoder.
    Encode(Box<dyn Encoder>),
    /// A writer.
    Write(Box<dyn Writer>),
}

/// Builders by section and upstream type name.
#[derive(Clone, Default)]
pub struct Registry {
    ingest: BTreeMap<&'static str, IngestBuilder>,
    transform: BTreeMap<&'static str, TransformBuilder>,
    extract: BTreeMap<&'static str, ExtractBuilder>,
    encode: BTreeMap<&'static str, EncodeBuilder>,
    write: BTreeMap<&'static str, WriteBuilder>,
}

impl Registry {
    /// Every stage type this pipeline runs.
    pub fn standard() -> Self {
        Self::default()
            .with_ingest("grpc", ingest::grpc::build)
            .with_ingest("kafka", ingest::kafka::build)
            .with_ingest("synthetic", ingest::synthetic::build)
            .with_ingest("stdin", ingest::build_stdin)
            .with_ingest("file", ingest::build_file)
            .with_transform("none", transform::build_none)
            .with_transform("generic", transform::build_generic)
            .with_transform("filter", transform::build_filter)
            .with_transform("network", transform::build_network)
            .with_transform("host_process", transform::build_host_process)
            .with_extract("aggregates", extract::aggregates::build)
            .with_extract("conntrack", extract::conntrack::build)
            .with_encode("prom", encode::prom::build)
            .with_encode("kafka", encode::kafka::build)
            .with_encode("otlplogs", encode::otlp::logs::build)
            .with_encode("otlpmetrics", encode::otlp::metrics::build)
            .with_write("stdout", write::stdout::build)
            .with_write("loki", write::loki_client::build)
            .with_write("ipfix", write::ipfix::build)
            .with_write("sqlite", write::sqlite::build)
            .with_write("none", write::build_discard)
            .with_write("fake", write::build_discard)
    }

    /// Registers an ingest type.
    pub fn with_ingest(mut self, name: &'static str, builder: IngestBuilder) -> Self {
        self.ingest.insert(name, builder);
        self
    }

    /// Registers a transform type.
    pub fn with_transform(mut self, name: &'static str, builder: TransformBuilder) -> Self {
        self.transform.insert(name, builder);
        self
    }

    /// Registers an extract type.
    pub fn with_extract(mut self, name: &'static str, builder: ExtractBuilder) -> Self {
        self.extract.insert(name, builder);
        self
    }

    /// Registers an encode type.
    pub fn with_encode(mut self, name: &'static str, builder: EncodeBuilder) -> Self {
        self.encode.insert(name, builder);
        self
    }

    /// Registers a write type.
    pub fn with_write(mut self, name: &'static str, builder: WriteBuilder) -> Self {
        self.write.insert(name, builder);
        self
    }

    /// The type names registered for `kind`, sorted.
    pub fn types(&self, kind: StageKind) -> Vec<&'static str> {
        match kind {
            StageKind::Ingest => self.ingest.keys().copied().collect(),
            StageKind::Transform => self.transform.keys().copied().collect(),
            StageKind::Extract => self.extract.keys().copied().collect(),
            StageKind::Encode => self.encode.keys().copied().collect(),
            StageKind::Write => self.write.keys().copied().collect(),
        }
    }

    /// Whether `kind` / `type_name` has a builder.
    pub fn supports(&self, kind: StageKind, type_name: &str) -> bool {
        self.types(kind).contains(&type_name)
    }

    /// Refuses, before anything starts, a configuration with a stage type this pipeline does not
    /// run (Kafka ingest, exporters...), naming the stage: better than starting,
    /// waiting for the API server, and failing later.
    pub fn check_supported(&self, config: &Config) -> Result<(), (String, BuildError)> {
        for p in &config.parameters {
            if let Some((kind, type_name)) = p.type_name()
                && !self.supports(kind, type_name)
            {
                return Err((
                    p.name.clone(),
                    BuildError::Unsupported(format!("{kind} type `{type_name}`")),
                ));
            }
        }
        Ok(())
    }

    /// Builds the ingest of `params`.
    pub fn build_ingest(
        &self,
        params: &Ingest,
        ctx: &mut StageContext<'_>,
    ) -> Result<Box<dyn Ingester>, BuildError> {
        let name = params.kind.as_str();
        let builder = self
            .ingest
            .get(name)
            .ok_or_else(|| unsupported("ingest", name))?;
        builder(params, ctx)
    }

    /// Builds the (non-ingest) stage `params` describes.
    pub fn build(
        &self,
        params: &StageParams,
        ctx: &mut StageContext<'_>,
    ) -> Result<Built, BuildError> {
        if let Some(t) = &params.transform {
            let name = t.kind.as_str();
            let builder = self
                .transform
                .get(name)
                .ok_or_else(|| unsupported("transform", name))?;
            return builder(t, ctx).map(Built::Transform);
        }
        if let Some(x) = &params.extract {
            let name = x.kind.as_str();
            let builder = self
                .extract
                .get(name)
                .ok_or_else(|| unsupported("extract", name))?;
            return builder(x, ctx).map(Built::Extract);
        }
        if let Some(e) = &params.encode {
            let name = e.kind.as_str();
            let builder = self
                .encode
                .get(name)
                .ok_or_else(|| unsupported("encode", name))?;
            return builder(e, ctx).map(Built::Encode);
        }
        if let Some(w) = &params.write {
            let name = w.kind.as_str();
            let builder = self
                .write
                .get(name)
                .ok_or_else(|| unsupported("write", name))?;
            return builder(w, ctx).map(Built::Write);
        }
        Err(BuildError::Invalid(
            "the stage has no transform, extract, encode or write parameters".into(),
        ))
    }
}

fn unsupported(section: &str, name: &str) -> BuildError {
    BuildError::Unsupported(format!("{section} type {name}"))
}
