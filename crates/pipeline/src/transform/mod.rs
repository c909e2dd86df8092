//! Per-record transforms built from their configuration: `filter`, `network`, `generic`, `none`,
//! and ours, `host_process`.
//!
//! Each is built once (queries parsed, regexes and CIDRs compiled, files read) and then applied to
//! every record without re-parsing anything. The builders here are what [`crate::registry`]
//! registers under the upstream type names.

pub mod containers;
mod filter;
mod generic;
mod host_process;
mod network;
pub mod procfs;
pub mod resolved;
mod sampler;
pub mod services;

pub use crate::kubernetes;
pub use crate::stage::BuildError;
pub use filter::FilterStage;
pub use generic::GenericStage;
pub use host_process::HostProcessStage;
pub use network::{NetworkStage, decode_tcp_flags};
pub use sampler::Sampler;

use crate::config::{Transform, TransformKind};
use crate::record::Record;
use crate::stage::{StageContext, section};

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

/// Builder of `none`.
pub fn build_none(
    _: &Transform,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn Transformer>, BuildError> {
    Ok(Box::new(Passthrough))
}

/// Builder of `generic`.
pub fn build_generic(
    t: &Transform,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn Transformer>, BuildError> {
    let config = section(t.generic.as_ref(), "generic")?;
    Ok(Box::new(GenericStage::new(config.clone())))
}

/// Builder of `filter`.
pub fn build_filter(
    t: &Transform,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn Transformer>, BuildError> {
    t.check().map_err(BuildError::Invalid)?;
    let config = section(t.filter.as_ref(), "filter")?;
    Ok(Box::new(FilterStage::new(config.clone())?))
}

/// Builder of `network`: the Kubernetes index of an `add_kubernetes` stage is shared by the
/// workers' copies (one set of watchers per stage).
pub fn build_network(
    t: &Transform,
    ctx: &mut StageContext<'_>,
) -> Result<Box<dyn Transformer>, BuildError> {
    t.check().map_err(BuildError::Invalid)?;
    let config = section(t.network.as_ref(), "network")?;
    let (name, shared) = (ctx.name, ctx.shared);
    Ok(Box::new(NetworkStage::build_with(
        config.clone(),
        &|c: &crate::config::NetworkTransform| shared.kube_source(name, c),
    )?))
}

/// Builder of `host_process` (ours): the local process and container behind each flow.
pub fn build_host_process(
    t: &Transform,
    _: &mut StageContext<'_>,
) -> Result<Box<dyn Transformer>, BuildError> {
    t.check().map_err(BuildError::Invalid)?;
    let config = section(t.host_process.as_ref(), "host_process")?;
    Ok(Box::new(HostProcessStage::start(config)?))
}

/// Builds the transform a stage's parameters describe, outside any graph (a network stage with
/// `add_kubernetes` starts its own watchers).
pub fn build(transform: &Transform) -> Result<Box<dyn Transformer>, BuildError> {
    let shared = crate::stage::BuildContext::default();
    let mut stdout = || -> Box<dyn std::io::Write + Send> { Box::new(std::io::sink()) };
    let mut ctx = StageContext {
        name: "transform",
        shared: &shared,
        stdout: &mut stdout,
    };
    match transform.kind {
        TransformKind::None => build_none(transform, &mut ctx),
        TransformKind::Generic => build_generic(transform, &mut ctx),
        TransformKind::Filter => build_filter(transform, &mut ctx),
        TransformKind::Network => build_network(transform, &mut ctx),
        TransformKind::HostProcess => build_host_process(transform, &mut ctx),
    }
}
