//! What a user who is not a cluster admin may read (`authCheck: authenticated`): one namespace's
//! traffic at a time, the namespace named by the `namespace` parameter (the console's developer
//! perspective sends it) and one the user may get pods in. Upstream leaves this to Loki's and
//! Thanos's tenancy; checking here as well means a store or a Loki without tenancy does not
//! show a developer other namespaces' flows.

use crate::auth::{Identity, Reviewer, refuse};
use axum::extract::{Query, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;

/// How a route is open to users who are not admins.
enum Access {
    /// Not about flows (status, configuration, role, captures the user uploads).
    Open,
    /// Flows and their values: one namespace the user can see.
    Namespaced,
    /// Cluster-wide views (Prometheus's rules for the Network Health page).
    AdminOnly,
}

fn access(path: &str) -> Access {
    if path.starts_with("/api/prometheus/") {
        Access::AdminOnly
    } else if path == "/api/loki/flow/records"
        || path == "/api/loki/export"
        || path == "/api/flow/metrics"
        || path.starts_with("/api/resources/")
    {
        Access::Namespaced
    } else {
        Access::Open
    }
}

/// The `namespace` query parameter, decoded.
fn namespace(req: &Request) -> Option<String> {
    let Query(mut p) = Query::<HashMap<String, String>>::try_from_uri(req.uri()).ok()?;
    p.remove("namespace").filter(|v| !v.is_empty())
}

/// Lets `id`'s request through when it may make it, or answers 403 saying what it may do.
pub(crate) async fn enforce(
    reviewer: &Reviewer,
    id: &Identity,
    req: Request,
    next: Next,
) -> Response {
    if id.admin {
        return next.run(req).await;
    }
    match access(req.uri().path()) {
        Access::Open => next.run(req).await,
        Access::AdminOnly => refuse(
            StatusCode::FORBIDDEN,
            format!(
                "{} is for cluster admins, and user {} cannot list namespaces",
                req.uri().path(),
                id.user
            ),
        ),
        Access::Namespaced => match namespace(&req) {
            None => refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "user {} is not a cluster admin and sees one namespace at a time: add namespace=<name> (the console's developer perspective does)",
                    id.user
                ),
            ),
            Some(ns) => match reviewer.can_view(id, &ns).await {
                Ok(true) => next.run(req).await,
                Ok(false) => refuse(
                    StatusCode::FORBIDDEN,
                    format!("user {} cannot get pods in namespace {ns}", id.user),
                ),
                Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, e),
            },
        },
    }
}
