//! The FlowCollector as the API server serves it, decoded without trusting it.
//!
//! A real API server keeps an object written through `flows.netobserv.io/v1beta1` in its v1beta1
//! spelling when no conversion webhook is installed (`kubectl apply -f config/crd/bases` gives
//! `conversion: None`), and serves it as v1beta2 with `agent.type: EBPF`. Decoded with the typed
//! client, that one object made the whole LIST fail and blinded the operator. Here every object
//! decodes: the typed value when it is valid v1beta2, else a v1beta1 reading converted in memory,
//! else the error with the path of the field that broke it, for the status and an Event.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::{ClusterResourceScope, Resource};
use netobserv_api::v1beta1;
use netobserv_api::v1beta2::FlowCollector;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// Why a stored object is not a v1beta2 FlowCollector: the field and serde's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Dotted path of the field (`spec.agent.type`), empty for the whole object.
    pub path: String,
    /// What serde said (`unknown variant `EBPF`, expected `eBPF``).
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == "." {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// How a stored object could be read.
#[derive(Clone, Debug)]
pub enum Decoded {
    /// A valid v1beta2 object.
    Current(Box<FlowCollector>),
    /// Not valid v1beta2, but a valid v1beta1 object stored without conversion: converted here.
    /// The error says why it is not v1beta2.
    FromV1beta1(Box<FlowCollector>, DecodeError),
    /// Neither: the v1beta2 decoding error.
    Invalid(DecodeError),
}

/// A FlowCollector watched by the controller, whatever its content.
#[derive(Clone, Debug)]
pub struct ObservedFlowCollector {
    /// Metadata (always decodable: the API server guarantees it).
    pub metadata: ObjectMeta,
    /// The decoded object, or why it could not be.
    pub decoded: Decoded,
}

fn typed<T: serde::de::DeserializeOwned>(raw: &Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize::<_, T>(raw).map_err(|e| DecodeError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Decodes a served object (see [`Decoded`]).
pub fn decode(raw: &Value) -> Decoded {
    let error = match typed::<FlowCollector>(raw) {
        Ok(fc) => return Decoded::Current(Box::new(fc)),
        Err(e) => e,
    };
    let mut old = raw.clone();
    old["apiVersion"] = Value::String("flows.netobserv.io/v1beta1".to_string());
    match typed::<v1beta1::FlowCollector>(&old)
        .ok()
        .and_then(|o| v1beta1::to_v1beta2(&o).ok())
    {
        Some(mut fc) => {
            // Keep the served metadata (resourceVersion, uid, generation) and status.
            fc.metadata = serde_json::from_value(raw["metadata"].clone()).unwrap_or_default();
            Decoded::FromV1beta1(Box::new(fc), error)
        }
        None => Decoded::Invalid(error),
    }
}

impl<'de> Deserialize<'de> for ObservedFlowCollector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let metadata: ObjectMeta = serde_json::from_value(raw["metadata"].clone())
            .map_err(|e| serde::de::Error::custom(format!("metadata: {e}")))?;
        Ok(Self {
            metadata,
            decoded: decode(&raw),
        })
    }
}

impl Resource for ObservedFlowCollector {
    type DynamicType = ();
    type Scope = ClusterResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        <FlowCollector as Resource>::kind(&())
    }
    fn group(_: &()) -> Cow<'_, str> {
        <FlowCollector as Resource>::group(&())
    }
    fn version(_: &()) -> Cow<'_, str> {
        <FlowCollector as Resource>::version(&())
    }
    fn plural(_: &()) -> Cow<'_, str> {
        <FlowCollector as Resource>::plural(&())
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(spec: Value) -> Value {
        json!({"apiVersion": "flows.netobserv.io/v1beta2", "kind": "FlowCollector",
               "metadata": {"name": "cluster", "uid": "u1", "resourceVersion": "7"}, "spec": spec})
    }

    #[test]
    fn valid_objects_decode_as_they_are() {
        assert!(matches!(decode(&object(json!({}))), Decoded::Current(_)));
    }

    #[test]
    fn a_v1beta1_spelling_is_converted_and_the_field_named() {
        match decode(&object(json!({"agent": {"type": "EBPF"}}))) {
            Decoded::FromV1beta1(fc, why) => {
                assert_eq!(why.path, "spec.agent.type");
                assert!(why.message.contains("EBPF"), "{why}");
                assert_eq!(fc.metadata.uid.as_deref(), Some("u1"));
                assert_eq!(fc.metadata.resource_version.as_deref(), Some("7"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_reported_with_its_path() {
        match decode(&object(json!({"agent": {"ebpf": {"sampling": "many"}}}))) {
            Decoded::Invalid(why) => assert_eq!(why.path, "spec.agent.ebpf.sampling", "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
