//! The error of the eBPF layer (loading the object, its programs and maps), shared by the
//! tracer and every feature module.

use crate::filter;

/// Errors of the eBPF layer.
#[derive(Debug, thiserror::Error)]
pub enum TracerError {
    /// Loading the object or creating its maps failed.
    #[error("loading the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    /// Verifying/loading a program or attaching it failed.
    #[error("program {name}: {source}")]
    Program {
        /// Program name.
        name: &'static str,
        /// Cause.
        source: aya::programs::ProgramError,
    },
    /// A map operation failed.
    #[error("map {name}: {source}")]
    Map {
        /// Map name.
        name: &'static str,
        /// Cause.
        source: aya::maps::MapError,
    },
    /// A map or program is missing from the object (build mismatch).
    #[error("{0} missing from the eBPF object")]
    Missing(&'static str),
    /// A raw syscall failed.
    #[error("{what}: {source}")]
    Io {
        /// Operation.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// Invalid filter rules, or rules the kernel maps refused.
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
}

/// The `MapData` of a (shared) hash map taken out of the object.
pub(crate) fn take_hash_map(
    ebpf: &mut aya::Ebpf,
    name: &'static str,
) -> Result<aya::maps::MapData, TracerError> {
    match ebpf.take_map(name) {
        Some(aya::maps::Map::HashMap(m)) => Ok(m),
        _ => Err(TracerError::Missing(name)),
    }
}

/// Map `name` taken out of the object as a typed map (`RingBuf`, `PerCpuArray`, ...).
pub(crate) fn take_typed_map<T>(ebpf: &mut aya::Ebpf, name: &'static str) -> Result<T, TracerError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(TracerError::Missing(name))?;
    T::try_from(map).map_err(|source| TracerError::Map { name, source })
}
