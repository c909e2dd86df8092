//! Store errors, split by who must act: the caller's input ([`Error::Invalid`],
//! [`Error::Unsupported`]) or the file / SQLite ([`Error::Sql`], [`Error::Open`]).

use std::path::Path;

/// A store error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be opened.
    #[error("cannot open the flow store {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        source: rusqlite::Error,
    },
    /// An SQLite call failed.
    #[error("flow store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The request is malformed (bad filter, inverted time range, unknown field...).
    #[error("{0}")]
    Invalid(String),
    /// The request is valid but this store cannot answer it (a field the capture file lacks).
    #[error("{0}")]
    Unsupported(String),
    /// Another error, about a given file.
    #[error("flow store {path}: {source}")]
    At {
        /// The file.
        path: String,
        /// The error.
        source: Box<Error>,
    },
}

impl Error {
    pub(crate) fn open(path: &Path, source: rusqlite::Error) -> Self {
        Error::Open {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn at(self, path: &Path) -> Self {
        match self {
            e @ (Error::Open { .. } | Error::At { .. }) => e,
            other => Error::At {
                path: path.display().to_string(),
                source: Box::new(other),
            },
        }
    }

    /// Whether the caller's request is at fault (an HTTP 4xx), as opposed to the store.
    pub fn is_client_error(&self) -> bool {
        match self {
            Error::Invalid(_) | Error::Unsupported(_) => true,
            Error::At { source, .. } => source.is_client_error(),
            _ => false,
        }
    }
}

/// Store result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
