//! The conversion-data annotation: what is written into it, and how it is read back (including
//! the layout the upstream Go operator wrote).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ConversionError;
use crate::v1beta2 as v2;

/// Content of the conversion-data annotation: the v1beta2 object without its metadata (the same
/// layout as the upstream operator's, so annotations it wrote can be read).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConversionDataOut<'a> {
    pub(super) api_version: &'a str,
    pub(super) kind: &'a str,
    pub(super) spec: &'a v2::FlowCollectorSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<&'a v2::FlowCollectorStatus>,
}

/// What is read back from the annotation; `metadata`, `apiVersion` and `kind` are ignored.
#[derive(Deserialize)]
pub(super) struct ConversionDataIn {
    pub(super) spec: v2::FlowCollectorSpec,
    #[serde(default)]
    pub(super) status: Option<v2::FlowCollectorStatus>,
}

/// Reads the annotation's JSON; any failure is [`ConversionError::InvalidConversionData`], so
/// a corrupt annotation is reported rather than silently ignored.
pub(super) fn parse_conversion_data(raw: &str) -> Result<ConversionDataIn, ConversionError> {
    let mut value: Value =
        serde_json::from_str(raw).map_err(ConversionError::InvalidConversionData)?;
    // The Go operator writes `null` for empty lists and maps; they mean "not set".
    strip_nulls(&mut value);
    serde_json::from_value(value).map_err(ConversionError::InvalidConversionData)
}

/// Removes `null` object members at every depth (array items stay, cleaned inside), so that
/// they read as absent.
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}
