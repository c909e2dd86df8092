//! `/api/resources/*`: values for the filter bar's autocompletion, from Prometheus label values,
//! Loki label values or the store, whichever can answer first.

use crate::api::{ApiError, AppState, Params, Shared, caller, now_ms};
use crate::params;
use crate::source::{Caller, FlowSource, SourceError};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use netobserv_flowstore::filter::Filters;
use std::collections::HashMap;
use std::sync::Arc;

/// Values of `fields` (merged, sorted) from the first source that can give them.
async fn values(
    s: &AppState,
    fields: &[&str],
    filters: &Filters,
    p: &HashMap<String, String>,
    c: &Caller,
) -> Result<Vec<String>, ApiError> {
    let range = params::time_range(p, now_ms())?;
    // The developer perspective: values of the flows from or to its namespace only.
    let filters = &params::within_namespace(filters.clone(), p)?;
    let c = &c.clone().in_namespace(p.get("namespace"));
    let mut sources: Vec<Arc<dyn FlowSource>> = Vec::new();
    if let Some(capture) = s.capture(p)? {
        // A capture answers alone.
        sources.push(capture.source.clone());
    } else {
        if let Some(x) = &s.prom {
            sources.push(x.clone());
        }
        if let Some(x) = &s.loki {
            sources.push(x.clone());
        }
        if let Some(x) = &s.store {
            sources.push(x.clone());
        }
    }
    let mut last = None;
    'sources: for src in sources {
        let mut all = Vec::new();
        for f in fields {
            match src.label_values(f, filters, range, c).await {
                Ok(v) => all.extend(v),
                Err(SourceError::NotHere(e)) => {
                    last = Some(ApiError::bad(format!(
                        "no configured source knows {}: {e}",
                        fields.join(", ")
                    )));
                    continue 'sources;
                }
                // Autocompletion is best effort: a source that is down leaves it to the next.
                Err(e @ (SourceError::Unavailable(_) | SourceError::Forbidden(_))) => {
                    tracing::debug!(error = %e, "label values: trying the next source");
                    last = Some(e.into());
                    continue 'sources;
                }
                Err(e) => return Err(e.into()),
            }
        }
        all.sort();
        all.dedup();
        return Ok(all);
    }
    Err(last.unwrap_or_else(|| {
        ApiError::bad(format!("no configured source knows {}", fields.join(", ")))
    }))
}

/// `/api/resources/clusters`: cluster names.
pub async fn clusters(
    State(s): State<Shared>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        values(
            &s,
            &["K8S_ClusterName"],
            &Filters::default(),
            &p,
            &caller(&headers),
        )
        .await?,
    ))
}

/// `/api/resources/zones`: zones of either end.
pub async fn zones(
    State(s): State<Shared>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        values(
            &s,
            &["SrcK8S_Zone", "DstK8S_Zone"],
            &Filters::default(),
            &p,
            &caller(&headers),
        )
        .await?,
    ))
}

/// `/api/resources/namespaces`: namespaces of either end.
pub async fn namespaces(
    State(s): State<Shared>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        values(
            &s,
            &["SrcK8S_Namespace", "DstK8S_Namespace"],
            &Filters::default(),
            &p,
            &caller(&headers),
        )
        .await?,
    ))
}

/// `/api/resources/udns`: user-defined network names.
pub async fn udns(
    State(s): State<Shared>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Json<Vec<String>>, ApiError> {
    // UDN names are per-interface lists; the store keeps them as JSON arrays.
    let raw = values(&s, &["Udns"], &Filters::default(), &p, &caller(&headers)).await?;
    let mut out: Vec<String> = raw
        .iter()
        .flat_map(|v| match serde_json::from_str::<Vec<String>>(v) {
            Ok(list) => list,
            Err(_) => vec![v.clone()],
        })
        .filter(|u| !u.is_empty())
        .collect();
    out.sort();
    out.dedup();
    Ok(Json(out))
}

/// Owner kinds: names of these are owner names; of other kinds (Pod, Service, Node) names.
const OWNER_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Gateway",
];

/// `/api/resources/names?kind=&namespace=`: names of a kind (owner names for owner kinds).
pub async fn names(
    State(s): State<Shared>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Json<Vec<String>>, ApiError> {
    let kind = p
        .get("kind")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::bad("kind is required (Pod, Service, Node, Deployment...)"))?;
    if !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::bad(format!(
            "kind: `{kind}` is not a Kubernetes kind"
        )));
    }
    let owner = OWNER_KINDS.contains(&kind.as_str());
    let (name, ty) = if owner {
        ("K8S_OwnerName", "K8S_OwnerType")
    } else {
        ("K8S_Name", "K8S_Type")
    };
    let c = caller(&headers);
    let mut out = Vec::new();
    for side in ["Src", "Dst"] {
        let mut f = format!("{side}{ty}=\"{kind}\"");
        if let Some(ns) = p.get("namespace").filter(|n| !n.is_empty()) {
            f.push_str(&format!("&{side}K8S_Namespace=\"{ns}\""));
        }
        let filters = Filters::parse(&f).map_err(|e| ApiError::bad(e.to_string()))?;
        let field = format!("{side}{name}");
        out.extend(values(&s, &[field.as_str()], &filters, &p, &c).await?);
    }
    out.sort();
    out.dedup();
    Ok(Json(out))
}
