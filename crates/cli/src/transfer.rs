//! Moving the collector's output home (`copy`): the collector pod packs its output directory
//! as a tar stream on stdout (`kubectl-netobserv export-output`, run through `pods/exec`), and
//! the CLI unpacks it below the local output directory. tar because it is what `kubectl cp`
//! streams too, and the `tar` crate refuses entries that would land outside the destination.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Why packing or unpacking failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The directory to pack does not exist.
    #[error("{0} does not exist (has the collector written anything yet?)")]
    Missing(PathBuf),
    /// Reading or writing files or the stream.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TransferError {
    let what = what.into();
    move |source| TransferError::Io { what, source }
}

/// Writes every file below `dir` to `out` as a tar stream, paths relative to `dir`.
pub fn pack(dir: &Path, out: impl Write) -> Result<(), TransferError> {
    if !dir.is_dir() {
        return Err(TransferError::Missing(dir.to_path_buf()));
    }
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    tar.append_dir_all(".", dir)
        .map_err(io(format!("pack {}", dir.display())))?;
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io("finish the tar stream"))
}

/// Unpacks a tar stream below `dest` (created if needed) and returns the files written, in
/// the stream's order.
pub fn unpack(stream: impl Read, dest: &Path) -> Result<Vec<PathBuf>, TransferError> {
    std::fs::create_dir_all(dest).map_err(io(format!("create {}", dest.display())))?;
    let mut archive = tar::Archive::new(stream);
    let mut files = Vec::new();
    for entry in archive.entries().map_err(io("read the tar stream"))? {
        let mut entry = entry.map_err(io("read the tar stream"))?;
        let path = entry
            .path()
            .map_err(io("read an entry's path"))?
            .into_owned();
        let is_file = entry.header().entry_type().is_file();
        // `unpack_in` skips (returns false for) entries that would escape `dest`.
        let inside = entry
            .unpack_in(dest)
            .map_err(io(format!("write {}", path.display())))?;
        if inside && is_file {
            files.push(dest.join(path.strip_prefix(".").unwrap_or(&path)));
        }
    }
    Ok(files)
}
