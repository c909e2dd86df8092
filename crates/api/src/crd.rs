//! Generation of the CRD manifests from the Rust types.
