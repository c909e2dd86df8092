//! The Prometheus API the Network Health page reads: `/api/prometheus/api/v1/rules` (the
//! operator's health rules, with their alerts' states) and `/api/prometheus/api/v1/query` (the
//! current value of each recording rule). In the OpenShift console these paths are the
//! console's own Prometheus proxy; standalone, this backend passes them to the configured
//! Prometheus with the caller's token when `forwardUserToken` is set.

use crate::api::{ApiError, Shared, caller};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

/// `GET /api/prometheus/api/v1/rules`: Prometheus's rules and alerts.
pub async fn rules(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    pass(&s, &headers, "rules", query).await
}

/// `GET /api/prometheus/api/v1/query`: an instant query.
pub async fn query(
    State(s): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    pass(&s, &headers, "query", query).await
}

async fn pass(
    s: &Shared,
    headers: &HeaderMap,
    api: &str,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let prom = s.prom.as_ref().ok_or_else(|| {
        ApiError::bad(
            "Prometheus is not configured: the Network Health page reads the health rules from it",
        )
    })?;
    let body = prom
        .api_get(api, query.as_deref().unwrap_or(""), &caller(headers))
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
