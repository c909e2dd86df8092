//! Per-record transforms built from their configuration: `filter`, `network`, `generic`.
//!
//! Each is built once (queries parsed, regexes and CIDRs compiled, files read) and then applied to
//! every record without re-parsing anything.

mod filter;
mod generic;
pub mod kubernetes;
mod network;
mod sampler;

pub use filter::FilterStage;
pub use generic::GenericStage;
pub use network::{NetworkStage, decode_tcp_flags};
pub use sampler::Sampler;

use crate::config::{Transform, TransformKind};
use crate::record::Record;

/// Why a transform cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is inconsistent (the same checks as `Config::check`).
    #[error("{0}")]
    Invalid(String),
    /// The rule type is valid upstream but this pipeline does not run it yet: refusing is better
    /// than silently passing records through unchanged.
    #[error("{0} is not supported by this pipeline yet")]
    Unsupported(String),
    /// A file the transform needs could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A transform stage ready to run.
pub trait Transformer: Send {
    /// Transforms one record; `None` drops it.
    fn apply(&mut self, record: Record) -> Option<Record>;
}

/// A `none` transform.
struct Passthrough;

impl Transformer for Passthrough {
    fn apply(&mut self, record: Record) -> Option<Record> {
        Some(record)
    }
}

/// Builds the transform a stage's parameters describe (a network stage with `add_kubernetes`
/// starts its own watchers).
pub fn build(transform: &Transform) -> Result<Box<dyn Transformer>, BuildError> {
    build_with(transform, &NetworkStage::start_kube)
}

/// [`build`], getting the Kubernetes index of a network stage from `kube` (shared between the
/// workers' copies of the stage).
pub fn build_with(
    transform: &Transform,
    kube: &dyn Fn(&crate::config::NetworkTransform) -> Result<kubernetes::KubeSource, BuildError>,
) -> Result<Box<dyn Transformer>, BuildError> {
    transform.check().map_err(BuildError::Invalid)?;
    Ok(match transform.kind {
        TransformKind::None => Box::new(Passthrough),
        TransformKind::Generic => Box::new(GenericStage::new(
            transform.generic.clone().unwrap_or_default(),
        )),
        TransformKind::Filter => Box::new(FilterStage::new(
            transform.filter.as_ref().cloned().unwrap_or_default(),
        )?),
        TransformKind::Network => Box::new(NetworkStage::build_with(
            transform.network.as_ref().cloned().unwrap_or_default(),
            kube,
        )?),
    })
}
