//! Install paths of netobserv-rs, generated from one source of truth:
//!
//! * [`images`]: the image names and tag in `images/images.env`, written into `config/manager`
//!   and the bundle's `relatedImages`, so a release changes one file;
//! * [`kustomize`]: `config/` rendered by `kubectl kustomize`, the same objects `kubectl apply -k`
//!   would create;
//! * [`bundle`]: the OLM `registry+v1` bundle (`bundle/`), generated from the rendered `config/`
//!   rather than edited by hand, so it cannot drift from the kustomize install;
//! * [`validate`]: the offline rules of `operator-sdk bundle validate`, so a bundle OLM would
//!   refuse fails here first.

pub mod bundle;
pub mod images;
pub mod kustomize;
pub mod sync;
pub mod validate;

use std::path::PathBuf;

/// Why an install artefact could not be read, rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A YAML or JSON document did not parse or serialise.
    #[error("{what}: {message}")]
    Format {
        /// What was being parsed.
        what: String,
        /// The parser's message.
        message: String,
    },
    /// `kubectl kustomize` failed or is missing.
    #[error("kubectl kustomize {dir}: {message}")]
    Kustomize {
        /// The kustomization directory.
        dir: String,
        /// kubectl's error output.
        message: String,
    },
    /// The inputs under `config/` or `images/` are not what the generator expects.
    #[error("{0}")]
    Input(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(what: impl Into<String>, message: impl ToString) -> Self {
        Error::Format {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// Reads a file as UTF-8 text, naming it in the error.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}
