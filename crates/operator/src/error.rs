//! Errors of the operator, typed so that the reconcile loop can decide what to retry and the
//! metrics can count failures per cause.

/// Everything that can make a render or a reconcile fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the Kubernetes API failed; retried with backoff.
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// A rendered object could not be serialised: a bug in the render code, reported instead of
    /// panicking so the operator keeps serving the other components.
    #[error("cannot serialise {what}: {source}")]
    Serialize {
        /// Which object or config failed.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A required `RELATED_IMAGE_*` variable is missing: the operator cannot pick operand images.
    #[error(
        "environment variable {0} is not set; it names an operand image (see config/manager/manager.yaml)"
    )]
    MissingImage(&'static str),
    /// The FlowCollector has no name or uid, so owner references cannot be built.
    #[error("FlowCollector is missing metadata.{0}")]
    MissingMetadata(&'static str),
    /// A command-line or environment setting is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A certificate of the `Auto` TLS modes could not be issued.
    #[error("cannot issue a certificate: {0}")]
    Certificate(String),
}

impl Error {
    /// Short category used as the `error` label of the failure metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Serialize { .. } => "serialize",
            Self::MissingImage(_) => "missing_image",
            Self::MissingMetadata(_) => "missing_metadata",
            Self::Config(_) => "config",
            Self::Certificate(_) => "certificate",
        }
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
