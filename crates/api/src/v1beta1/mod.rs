//! `flows.netobserv.io/v1beta1`: the deprecated FlowCollector version, served by converting to and
//! from the stored v1beta2 version.

pub mod conversion;
pub mod types;

pub use conversion::{CONVERSION_DATA_ANNOTATION, ConversionError, from_v1beta2, to_v1beta2};
pub use types::*;
