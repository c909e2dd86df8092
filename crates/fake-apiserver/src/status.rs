//! `Status` answers in the shape and with the reasons kube-apiserver uses, so clients (kube-rs
//! here) see the same `ErrorResponse` code and reason as in a cluster.

use crate::kinds::Kind;
use serde_json::{Value, json};

/// A refused request: the HTTP code and the `Status` body.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// HTTP status code.
    pub code: u16,
    /// The `Status` object.
    pub body: Value,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.code,
            self.body["message"].as_str().unwrap_or_default()
        )
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// The `message` of the Status.
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

fn failure(code: u16, reason: &str, message: String, details: Value) -> Failure {
    Failure {
        code,
        body: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "details": details, "code": code,
        }),
    }
}

/// 404 for a named object.
pub fn not_found(plural: &str, name: &str) -> Failure {
    failure(
        404,
        "NotFound",
        format!("{plural} \"{name}\" not found"),
        json!({"name": name, "kind": plural}),
    )
}

/// 404 for a kind no CRD or built-in type serves.
pub fn not_found_kind(api_version: &str, kind: &str) -> Failure {
    failure(
        404,
        "NotFound",
        format!("no matches for kind \"{kind}\" in version \"{api_version}\""),
        json!({}),
    )
}

/// 401: a bearer token the server does not know, as kube-apiserver answers it (no details).
pub fn unauthorized() -> Failure {
    Failure {
        code: 401,
        body: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
        }),
    }
}

/// 403 for an anonymous request (no credentials) outside the public discovery paths.
pub fn forbidden_anonymous(verb: &str, path: &str) -> Failure {
    failure(
        403,
        "Forbidden",
        format!("forbidden: User \"system:anonymous\" cannot {verb} path \"{path}\""),
        json!({}),
    )
}

/// 400.
pub fn bad_request(message: &str) -> Failure {
    failure(400, "BadRequest", message.to_string(), json!({}))
}

/// 409 AlreadyExists.
pub fn already_exists(kind: &Kind, name: &str) -> Failure {
    failure(
        409,
        "AlreadyExists",
        format!("{}.{} \"{name}\" already exists", kind.plural, kind.group),
        json!({"name": name, "kind": kind.plural}),
    )
}

/// 409 Conflict (stale resourceVersion).
pub fn conflict(kind: &Kind, name: &str) -> Failure {
    failure(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            kind.plural
        ),
        json!({"name": name, "kind": kind.plural}),
    )
}

/// 422 Invalid, listing every cause as the API server does.
pub fn invalid(kind: &Kind, name: &str, causes: Vec<String>) -> Failure {
    let list = if causes.len() == 1 {
        causes[0].clone()
    } else {
        format!("[{}]", causes.join(", "))
    };
    failure(
        422,
        "Invalid",
        format!("{} \"{name}\" is invalid: {list}", kind.qualified()),
        json!({"name": name, "kind": kind.kind,
               "causes": causes.iter().map(|c| json!({"message": c})).collect::<Vec<_>>()}),
    )
}

/// 415 for patch types the fake does not implement (loudly, rather than guessing).
pub fn unsupported(message: &str) -> Failure {
    failure(415, "UnsupportedMediaType", message.to_string(), json!({}))
}

/// 500 InternalError (a webhook that cannot be called, a rule the fake cannot evaluate).
pub fn internal(message: String) -> Failure {
    failure(
        500,
        "InternalError",
        format!("Internal error occurred: {message}"),
        json!({}),
    )
}
