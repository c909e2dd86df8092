//! Admission and conversion webhooks, served over HTTPS:
//! - `POST /validate-flows-netobserv-io-v1beta2-flowcollector`: runs the shared `validate()`;
//!   errors deny the request, warnings are returned to the client;
//! - `POST /validate-flows-netobserv-io-v1alpha1-flowmetric`: checks what the FlowMetric schema
//!   cannot (numeric buckets and divider, remapped labels that exist, histogram value field);
//! - `POST /convert`: the CRD conversion webhook, v1beta1 ↔ v1beta2 with the API crate's
//!   lossless conversion.
//!
//! Certificates come from PEM files (a mounted Secret filled by cert-manager or the OpenShift
//! service CA, see config/webhook).

use crate::error::{Error, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kube::api::DynamicObject;
use kube::core::Status;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use netobserv_api::v1alpha1::{FlowMetric, MetricType};
use netobserv_api::v1beta1;
use netobserv_api::v1beta2::FlowCollector;
use netobserv_api::validate::{ClusterFacts, validate};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{RwLock, watch};
use tracing::{debug, warn};

/// Path of the FlowCollector validating webhook.
pub const VALIDATE_FLOWCOLLECTOR: &str = "/validate-flows-netobserv-io-v1beta2-flowcollector";
/// Path of the FlowMetric validating webhook.
pub const VALIDATE_FLOWMETRIC: &str = "/validate-flows-netobserv-io-v1alpha1-flowmetric";
/// Path of the CRD conversion webhook.
pub const CONVERT: &str = "/convert";

/// API version strings of the FlowCollector.
const V1BETA1: &str = "flows.netobserv.io/v1beta1";
const V1BETA2: &str = "flows.netobserv.io/v1beta2";

/// Shared state: the cluster facts validation uses.
#[derive(Clone)]
pub struct WebhookState {
    /// Facts, refreshed by the operator's discovery loop.
    pub facts: Arc<RwLock<ClusterFacts>>,
}

fn json_response(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Parses a FlowCollector in either served version into v1beta2.
fn flowcollector(object: &DynamicObject) -> std::result::Result<FlowCollector, String> {
    let value = serde_json::to_value(object).map_err(|e| e.to_string())?;
    let api_version = value["apiVersion"].as_str().unwrap_or(V1BETA2);
    if api_version == V1BETA1 {
        let old: v1beta1::FlowCollector = serde_json::from_value(value)
            .map_err(|e| format!("invalid v1beta1 FlowCollector: {e}"))?;
        v1beta1::to_v1beta2(&old).map_err(|e| e.to_string())
    } else {
        serde_json::from_value(value).map_err(|e| format!("invalid FlowCollector: {e}"))
    }
}

/// The admission decision for a FlowCollector request.
pub fn review_flowcollector(
    req: &AdmissionRequest<DynamicObject>,
    facts: &ClusterFacts,
) -> AdmissionResponse {
    let response = AdmissionResponse::from(req);
    if req.operation == Operation::Delete {
        return response;
    }
    let Some(object) = &req.object else {
        return response.deny("no object in the admission request");
    };
    let fc = match flowcollector(object) {
        Ok(fc) => fc,
        Err(e) => return response.deny(e),
    };
    let report = validate(&fc, facts);
    let mut response = if report.is_valid() {
        response
    } else {
        response.deny(report.error_message())
    };
    let warnings = report.warning_messages();
    if !warnings.is_empty() {
        response.warnings = Some(warnings);
    }
    response
}

/// FlowMetric checks the CRD schema cannot express.
pub fn check_flowmetric(fm: &FlowMetric) -> Vec<String> {
    let spec = &fm.spec;
    let mut errors = Vec::new();
    for (i, b) in spec.buckets.iter().enumerate() {
        if b.parse::<f64>().is_err() {
            errors.push(format!("spec.buckets[{i}]: `{b}` is not a number"));
        }
    }
    if !spec.divider.is_empty() {
        match spec.divider.parse::<f64>() {
            Ok(d) if d != 0.0 => {}
            _ => errors.push(format!(
                "spec.divider: `{}` is not a non-zero number",
                spec.divider
            )),
        }
    }
    for key in spec.remap.keys() {
        if !spec.labels.contains(key) {
            errors.push(format!("spec.remap: `{key}` is not one of spec.labels"));
        }
    }
    for (i, f) in spec.filters.iter().enumerate() {
        if f.field.is_empty() {
            errors.push(format!("spec.filters[{i}].field: must not be empty"));
        }
    }
    if spec.kind == MetricType::Histogram && spec.value_field.is_empty() {
        errors.push("spec.valueField: a Histogram needs a value field".to_string());
    }
    if !spec.buckets.is_empty() && spec.kind != MetricType::Histogram {
        errors.push("spec.buckets: only a Histogram has buckets".to_string());
    }
    errors
}

/// The admission decision for a FlowMetric request.
pub fn review_flowmetric(req: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let response = AdmissionResponse::from(req);
    if req.operation == Operation::Delete {
        return response;
    }
    let Some(object) = &req.object else {
        return response.deny("no object in the admission request");
    };
    let fm: FlowMetric = match serde_json::to_value(object).and_then(serde_json::from_value) {
        Ok(fm) => fm,
        Err(e) => return response.deny(format!("invalid FlowMetric: {e}")),
    };
    let errors = check_flowmetric(&fm);
    if !errors.is_empty() {
        return response.deny(errors.join("; "));
    }
    let warnings: Vec<String> = fm
        .spec
        .risky_labels()
        .into_iter()
        .map(|(field, class)| {
            format!("label {field}: cardinality {class}, it may create many Prometheus series")
        })
        .collect();
    let mut response = response;
    if !warnings.is_empty() {
        response.warnings = Some(warnings);
    }
    response
}

/// Converts one FlowCollector to `desired` (a FlowCollector API version).
pub fn convert_object(object: &Value, desired: &str) -> std::result::Result<Value, String> {
    let from = object["apiVersion"].as_str().unwrap_or_default();
    if from == desired {
        return Ok(object.clone());
    }
    match (from, desired) {
        (V1BETA1, V1BETA2) => {
            let old: v1beta1::FlowCollector = serde_json::from_value(object.clone())
                .map_err(|e| format!("invalid v1beta1 object: {e}"))?;
            let new = v1beta1::to_v1beta2(&old).map_err(|e| e.to_string())?;
            serde_json::to_value(new).map_err(|e| e.to_string())
        }
        (V1BETA2, V1BETA1) => {
            let new: FlowCollector = serde_json::from_value(object.clone())
                .map_err(|e| format!("invalid v1beta2 object: {e}"))?;
            let old = v1beta1::from_v1beta2(&new).map_err(|e| e.to_string())?;
            serde_json::to_value(old).map_err(|e| e.to_string())
        }
        _ => Err(format!("cannot convert {from} to {desired}")),
    }
}

/// The conversion answer: all objects converted, or a failure naming the first one that could
/// not be.
pub fn convert_review(req: ConversionRequest) -> ConversionResponse {
    let desired = req.desired_api_version.clone();
    let mut converted = Vec::with_capacity(req.objects.len());
    for (i, object) in req.objects.iter().enumerate() {
        match convert_object(object, &desired) {
            Ok(v) => converted.push(v),
            Err(e) => {
                return ConversionResponse::for_request(req).failure(Status::failure(
                    &format!("object {i}: {e}"),
                    "ConversionFailed",
                ));
            }
        }
    }
    ConversionResponse::for_request(req).success(converted)
}

async fn validate_fc(State(state): State<WebhookState>, body: Bytes) -> Response {
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_response(&AdmissionResponse::invalid(e).into_review()),
    };
    let req: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(r) => r,
        Err(e) => return json_response(&AdmissionResponse::invalid(e).into_review()),
    };
    let facts = state.facts.read().await.clone();
    let response = review_flowcollector(&req, &facts);
    debug!(uid = %req.uid, allowed = response.allowed, "FlowCollector admission");
    json_response(&response.into_review())
}

async fn validate_fm(body: Bytes) -> Response {
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return json_response(&AdmissionResponse::invalid(e).into_review()),
    };
    let req: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(r) => r,
        Err(e) => return json_response(&AdmissionResponse::invalid(e).into_review()),
    };
    json_response(&review_flowmetric(&req).into_review())
}

async fn convert(body: Bytes) -> Response {
    let review: ConversionReview = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json_response(
                &ConversionResponse::invalid(Status::failure(&e.to_string(), "InvalidRequest"))
                    .into_review(),
            );
        }
    };
    match ConversionRequest::from_review(review) {
        Ok(req) => json_response(&convert_review(req).into_review()),
        Err(e) => json_response(
            &ConversionResponse::invalid(Status::failure(&e.to_string(), "InvalidRequest"))
                .into_review(),
        ),
    }
}

/// The webhook routes.
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route(VALIDATE_FLOWCOLLECTOR, post(validate_fc))
        .route(VALIDATE_FLOWMETRIC, post(validate_fm))
        .route(CONVERT, post(convert))
        .with_state(state)
}

/// A TLS server configuration from PEM certificate chain and key.
pub fn tls_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Config(format!("webhook certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| Error::Config(format!("webhook key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Config(format!("webhook certificate/key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` over HTTPS on an already-bound listener until `stop` turns true.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<ServerConfig>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (stream, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(error = %e, "webhook accept failed");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(t) => t,
                Err(e) => {
                    debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(router);
            if let Err(e) =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await
            {
                debug!(%peer, error = %e, "webhook connection ended with an error");
            }
        });
    }
}
