//! Webhooks the fake cannot call. A real API server calls every matching admission webhook and
//! every conversion webhook; in a cluster without the webhook's pods (no serving certificate, no
//! cert-manager) the call fails with `no endpoints available for service`, and with
//! `failurePolicy: Fail` (the v1 default) the request is refused. The fake runs no pods, so a
//! matching service-backed webhook always fails that way.

use crate::kinds::{Kind, Schema};
use crate::status::{self, Failure};
use serde_json::Value;

/// The admission operation of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// POST, or apply of an absent object.
    Create,
    /// PUT, PATCH, apply of an existing object.
    Update,
    /// DELETE.
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

fn listed(list: &Value, wanted: &str) -> bool {
    list.as_array()
        .is_some_and(|l| l.iter().any(|x| x == "*" || x == wanted))
}

fn service_of(webhook: &Value) -> Option<String> {
    let svc = webhook.pointer("/clientConfig/service")?;
    Some(format!(
        "{}/{}",
        svc["namespace"].as_str().unwrap_or_default(),
        svc["name"].as_str().unwrap_or_default()
    ))
}

/// The refusal, if a webhook configuration among `configs` matches the request and must fail.
pub fn check(
    configs: &[Value],
    kind: &Kind,
    version: &str,
    subresource: bool,
    op: Operation,
) -> Option<Failure> {
    let resource = if subresource {
        format!("{}/status", kind.plural)
    } else {
        kind.plural.clone()
    };
    for config in configs {
        for webhook in config["webhooks"].as_array().into_iter().flatten() {
            let matches = webhook["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|rule| {
                    listed(&rule["apiGroups"], &kind.group)
                        && listed(&rule["apiVersions"], version)
                        && listed(&rule["operations"], op.as_str())
                        && listed(&rule["resources"], &resource)
                });
            if !matches {
                continue;
            }
            let ignore = webhook["failurePolicy"].as_str() == Some("Ignore");
            let name = webhook["name"].as_str().unwrap_or_default();
            let target = service_of(webhook).map_or_else(
                || "a URL the fake API server cannot call".to_string(),
                |svc| format!("no endpoints available for service \"{svc}\""),
            );
            if !ignore {
                return Some(status::internal(format!(
                    "failed calling webhook \"{name}\": failed to call webhook: {target}"
                )));
            }
        }
    }
    None
}

/// A read or write of a custom resource in a version other than its storage version needs the
/// CRD's conversion webhook when it has one; the fake cannot call it.
pub fn conversion(kind: &Kind, version: &str) -> Option<Failure> {
    let Schema::Custom(custom) = &kind.schema else {
        return None;
    };
    (custom.conversion_webhook && version != custom.storage).then(|| {
        status::internal(format!(
            "conversion webhook for {} failed: no endpoints available for the conversion webhook service",
            kind.qualified()
        ))
    })
}
