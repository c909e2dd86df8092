//! Conversion between the deprecated v1beta1 `FlowCollector` and the stored v1beta2 one.
//!
//! v1beta2 is the hub. [`from_v1beta2`] serves v1beta1 reads: it maps every field that v1beta1
//! can express and stores the whole v1beta2 object (spec and status, without metadata) as JSON in
//! the [`CONVERSION_DATA_ANNOTATION`] annotation. [`to_v1beta2`] serves v1beta1 writes: it maps
//! the v1beta1 fields back and, when the annotation is there, merges them into the v1beta2 object
//! it holds, then drops the annotation.
//!
//! The merge is three-way. The v1beta1 object that the annotation's content converts to is
//! what the client was shown; every v1beta2 field whose v1beta1 counterpart still shows that value
//! keeps the annotation's exact value (v1beta2-only fields, explicit defaults, `advanced` blocks),
//! and every field the client changed takes the client's value. So a read-modify-write through
//! v1beta1 loses nothing, and an edit made through v1beta1 is never overridden by the annotation.
//!
//! Differences from the upstream (Go) conversion, all made to keep data:
//! - every v1beta2-only field is restored from the annotation, not only the Loki mode blocks and
//!   the `scheduling` blocks (upstream lost `networkPolicy`, exporters' `openTelemetry`,
//!   `processor.advanced.env`/`secondaryNetworks`, `consolePlugin.advanced.env`/`args` and
//!   sometimes `agent.ebpf.advanced.capOverride`);
//! - v1beta1 Loki settings that the client edited win over the annotation; if the stored mode was
//!   not `Manual`, the mode becomes `Manual` with the connection settings the client sees;
//! - v1beta1 `processor.debug.env` maps to `processor.advanced.env` (upstream dropped it), and
//!   `agent.ebpf.debug.capOverride` alone keeps `agent.ebpf.advanced` (upstream lost it);
//! - on the way down, `advanced` values missing in v1beta2 are shown with their v1beta2 defaults
//!   rather than left out; `profilePort` is only set when it is set;
//! - a `LokiStack` without namespace is looked up in `spec.namespace`, as the operator does,
//!   instead of producing a host with an empty namespace segment; a `Monolithic` or
//!   `Microservices` Loki shows `authToken: DISABLED` instead of an invalid empty value;
//! - v1beta1 enums accept the values down-conversion may produce (`SERVICE`, `OPEN_TELEMETRY`,
//!   v1beta2 metric, alert and feature names), so such objects can be written back;
//! - `ignoreTags` turned into an `includeList` keeps only names that v1beta2 knows
//!   (`node_sampling` and `namespace_sampling` are not metrics v1beta2 can generate);
//! - durations are compared with the v1beta2 defaults as written (`1000ms` is kept as is).
//!
//! Without annotation, v1beta1 data that v1beta2 cannot hold is normalised rather than kept:
//! `ignoreTags` becomes the equivalent `includeList` (and reads back as the v1beta1 default),
//! `processor.debug.capOverride` (never used by the processor) is dropped, and a `querierUrl`
//! equal to `url` reads back empty, which means the same.
//!
//! A corrupt annotation (not JSON, or not a v1beta2 FlowCollector) makes [`to_v1beta2`] fail
//! with [`ConversionError::InvalidConversionData`] rather than silently reset the v1beta2-only
//! settings; removing the annotation from the v1beta1 object makes the write go through.
//!
//! Layout: `annotation` reads and writes the annotation, `merge` does the three-way merge, `up`
//! maps v1beta1 fields to v1beta2 and `down` maps them back.

use std::collections::BTreeMap;

use super::types as v1;
use crate::v1beta2 as v2;

mod annotation;
mod down;
mod merge;
mod up;

use annotation::{ConversionDataOut, parse_conversion_data};
use down::{down_spec, down_status};
use merge::restore_spec;
use up::{up_spec, up_status};

/// Annotation of a v1beta1 object that holds, as JSON, the v1beta2 object it was converted from.
pub const CONVERSION_DATA_ANNOTATION: &str = "flows.netobserv.io/conversion-data";

const V1BETA2_API_VERSION: &str = "flows.netobserv.io/v1beta2";

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConversionError {
    /// The conversion-data annotation is not the JSON of a v1beta2 FlowCollector.
    #[error(
        "annotation {CONVERSION_DATA_ANNOTATION} does not hold a valid v1beta2 FlowCollector \
         ({0}); fix it or remove it from the object"
    )]
    InvalidConversionData(#[source] serde_json::Error),
    /// A v1beta1 integer is too large for the 32-bit v1beta2 field it maps to.
    #[error("spec.{field} = {value} is out of range: v1beta2 only accepts 32-bit integers")]
    OutOfRange {
        /// Path of the field, under `spec`.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// The v1beta2 object could not be serialised into the annotation.
    #[error("cannot serialise the v1beta2 FlowCollector: {0}")]
    Serialize(#[source] serde_json::Error),
    /// Merging the v1beta1 values into the annotation's object gave an invalid v1beta2 spec.
    #[error("cannot merge the v1beta1 fields into the v1beta2 FlowCollector: {0}")]
    Merge(#[source] serde_json::Error),
}

/// Converts a v1beta1 FlowCollector (a create, update or patch sent as v1beta1) to v1beta2.
///
/// Without the conversion-data annotation, every v1beta1 field is mapped and the v1beta2-only
/// fields get their defaults. With it, the v1beta2 object it holds is restored and the v1beta1
/// fields the client changed are applied on top; the annotation itself is removed.
pub fn to_v1beta2(old: &v1::FlowCollector) -> Result<v2::FlowCollector, ConversionError> {
    let mut metadata = old.metadata.clone();
    let raw = metadata
        .annotations
        .as_mut()
        .and_then(|annotations| annotations.remove(CONVERSION_DATA_ANNOTATION));
    if metadata
        .annotations
        .as_ref()
        .is_some_and(BTreeMap::is_empty)
    {
        metadata.annotations = None;
    }
    let edited = up_spec(&old.spec)?;
    let (spec, stored_status) = match raw {
        None => (edited, None),
        Some(raw) => {
            let data = parse_conversion_data(&raw)?;
            (restore_spec(&data.spec, edited)?, data.status)
        }
    };
    let status = old
        .status
        .as_ref()
        .map(|status| up_status(status, stored_status.as_ref()));
    Ok(v2::FlowCollector {
        metadata,
        spec,
        status,
    })
}

/// Converts a v1beta2 FlowCollector to v1beta1 (a read as v1beta1). The whole v1beta2 object is
/// kept in the conversion-data annotation, replacing any previous value.
pub fn from_v1beta2(new: &v2::FlowCollector) -> Result<v1::FlowCollector, ConversionError> {
    let data = ConversionDataOut {
        api_version: V1BETA2_API_VERSION,
        kind: "FlowCollector",
        spec: &new.spec,
        status: new.status.as_ref(),
    };
    let json = serde_json::to_string(&data).map_err(ConversionError::Serialize)?;
    let mut metadata = new.metadata.clone();
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(CONVERSION_DATA_ANNOTATION.to_string(), json);
    Ok(v1::FlowCollector {
        metadata,
        spec: down_spec(&new.spec),
        status: new.status.as_ref().map(down_status),
    })
}
