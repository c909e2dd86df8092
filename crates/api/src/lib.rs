//! The `flows.netobserv.io` API shared by the operator, the console and the CLI.
//!
//! It holds the Rust types of the `FlowCollector` (v1beta2 stored, v1beta1 served and converted)
//! and `FlowMetric` custom resources, their defaults, the CRD manifests generated from them and the
//! validation that the admission webhook and the operator status both run.

pub mod crd;
pub mod v1alpha1;
pub mod v1beta1;
pub mod v1beta2;
pub mod validate;
