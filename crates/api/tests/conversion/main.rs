//! Conversion between FlowCollector v1beta1 and v1beta2: mapping and defaulting of a minimal
//! v1beta1 manifest, lossless round trips both ways, edits made through v1beta1, and corrupt
//! conversion data.
//!
//! One module per kind of check, in the order above; `support` holds the conversion and
//! assertion helpers and `fixtures` the fully populated objects they run on.
#![allow(clippy::unwrap_used)]
#![recursion_limit = "512"]

mod conversion_data;
mod edits;
mod fixtures;
mod minimal_manifest;
mod support;
mod v1beta1_round_trip;
mod v1beta2_round_trip;
