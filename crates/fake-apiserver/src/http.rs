//! The HTTP face of the fake: discovery, the resource verbs (get, list, watch, create, replace,
//! merge patch, server-side apply, delete, `/status`), with the request log tests count.

use crate::admission;
use crate::selector::Selectors;
use crate::status::{self, Failure};
use crate::store::{Write, serve};
use crate::{Logged, Shared};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Where a resource request points.
struct Target {
    group: String,
    version: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

enum Route {
    Version,
    CoreVersions,
    Groups,
    Resources(String, String),
    Resource(Target),
    Unknown,
}

fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["api"] => return Route::CoreVersions,
        ["apis"] => return Route::Groups,
        ["api", version] => return Route::Resources(String::new(), (*version).to_string()),
        ["apis", group, version] => {
            return Route::Resources((*group).to_string(), (*version).to_string());
        }
        ["api", version, rest @ ..] => (String::new(), (*version).to_string(), rest),
        ["apis", group, version, rest @ ..] => ((*group).to_string(), (*version).to_string(), rest),
        _ => return Route::Unknown,
    };
    let s = |x: &&str| Some((*x).to_string());
    let (plural, namespace, name, status) = match rest {
        [plural] => ((*plural).to_string(), None, None, false),
        ["namespaces", ns] if group.is_empty() => ("namespaces".to_string(), None, s(ns), false),
        ["namespaces", ns, "status"] if group.is_empty() => {
            ("namespaces".to_string(), None, s(ns), true)
        }
        ["namespaces", ns, plural] => ((*plural).to_string(), s(ns), None, false),
        ["namespaces", ns, plural, name] => ((*plural).to_string(), s(ns), s(name), false),
        ["namespaces", ns, plural, name, "status"] => ((*plural).to_string(), s(ns), s(name), true),
        [plural, name] => ((*plural).to_string(), None, s(name), false),
        [plural, name, "status"] => ((*plural).to_string(), None, s(name), true),
        _ => return Route::Unknown,
    };
    Route::Resource(Target {
        group,
        version,
        plural,
        namespace,
        name,
        status,
    })
}

fn json_response(code: u16, value: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

pub(crate) fn failure_response(f: &Failure) -> Response {
    json_response(f.code, &f.body)
}

/// What kube-apiserver answers for a path nothing serves (a group/version without its CRD).
fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

/// What the client asked for in `Accept`: whole objects, or their metadata only
/// (`as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`, what kube's metadata watchers send).
/// Any other `as=` is refused with 406, as kube-apiserver does.
fn metadata_only(headers: &HeaderMap) -> Result<bool, Box<Response>> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut wanted = None;
    for media in accept.split(',') {
        let params: BTreeMap<&str, &str> = media
            .split(';')
            .skip(1)
            .filter_map(|p| p.trim().split_once('='))
            .collect();
        let Some(as_kind) = params.get("as") else {
            // A plain media type: whole objects are acceptable.
            return Ok(false);
        };
        if matches!(
            *as_kind,
            "PartialObjectMetadata" | "PartialObjectMetadataList"
        ) && params.get("g") == Some(&"meta.k8s.io")
            && params.get("v") == Some(&"v1")
        {
            wanted = Some(true);
        }
    }
    match wanted {
        Some(meta) => Ok(meta),
        None if accept.contains("as=") => Err(Box::new(json_response(
            406,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": format!("only the following media types are accepted: application/json, application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1 (asked: {accept})"),
                    "reason": "NotAcceptable", "code": 406}),
        ))),
        None => Ok(false),
    }
}

/// An object as `PartialObjectMetadata`: its metadata alone.
fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// The single entry point: logs the request, then answers it.
/// Paths `system:anonymous` may read (the `system:public-info-viewer` role of a real cluster).
const PUBLIC_PATHS: [&str; 4] = ["/version", "/healthz", "/livez", "/readyz"];

/// The refusal of a request whose credentials do not pass, when `token` is required.
pub(crate) fn authenticate(
    token: Option<&str>,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
) -> Option<Failure> {
    let token = token?;
    match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let given = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer "));
            (given != Some(token)).then(status::unauthorized)
        }
        None if *method == Method::GET && PUBLIC_PATHS.contains(&path) => None,
        None => Some(status::forbidden_anonymous(
            &method.as_str().to_ascii_lowercase(),
            path,
        )),
    }
}

pub async fn handle(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: BTreeMap<String, String> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let parsed: Option<Value> = if body.is_empty() {
        None
    } else if content_type.contains("yaml") {
        serde_yaml::from_slice(&body).ok()
    } else {
        serde_json::from_slice(&body).ok()
    };
    let path = uri.path().to_string();
    let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    if let Ok(mut log) = shared.log.lock() {
        log.push(Logged {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            content_type: content_type.clone(),
            body: parsed.clone(),
            watch,
        });
    }
    if let Some(refused) = authenticate(shared.token.as_deref(), &headers, &method, &path) {
        return failure_response(&refused);
    }
    if !body.is_empty() && parsed.is_none() {
        return failure_response(&status::bad_request(
            "the request body is not valid JSON or YAML",
        ));
    }
    let meta = match metadata_only(&headers) {
        Ok(meta) => meta,
        Err(refused) => return *refused,
    };
    match route(&path) {
        Route::Version => json_response(
            200,
            &json!({
                "major": "1", "minor": "32", "gitVersion": "v1.32.0-netobserv-fake",
                "platform": "linux/amd64", "goVersion": "go1.23"
            }),
        ),
        Route::CoreVersions => {
            json_response(200, &json!({"kind": "APIVersions", "versions": ["v1"]}))
        }
        Route::Groups => json_response(200, &shared.discovery_groups()),
        Route::Resources(group, version) => match shared.discovery_resources(&group, &version) {
            Some(list) => json_response(200, &list),
            None => page_not_found(),
        },
        Route::Resource(target) if watch && method == Method::GET => {
            watch_stream(shared, target, query, meta)
        }
        Route::Resource(target) => {
            let response = resource(&shared, &method, target, &query, &content_type, parsed);
            if meta && method == Method::GET {
                metadata_of(response).await
            } else {
                response
            }
        }
        Route::Unknown => page_not_found(),
    }
}

/// A GET answer reduced to metadata: a list becomes a `PartialObjectMetadataList`, an object a
/// `PartialObjectMetadata`; failures pass unchanged.
async fn metadata_of(response: Response) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let Ok(bytes) = axum::body::to_bytes(response.into_body(), usize::MAX).await else {
        return failure_response(&status::internal("cannot read the answer".into()));
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return failure_response(&status::internal("the answer is not JSON".into()));
    };
    let reduced = match value.get("items").and_then(Value::as_array) {
        Some(items) => json!({
            "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
            "metadata": value["metadata"],
            "items": items.iter().map(partial).collect::<Vec<_>>(),
        }),
        None => partial(&value),
    };
    json_response(200, &reduced)
}

fn resource(
    shared: &Shared,
    method: &Method,
    t: Target,
    query: &BTreeMap<String, String>,
    content_type: &str,
    body: Option<Value>,
) -> Response {
    let mut store = match shared.store.lock() {
        Ok(s) => s,
        Err(_) => return failure_response(&status::internal("store lock poisoned".into())),
    };
    let Some(kind) = store.kind(&t.group, &t.version, &t.plural).cloned() else {
        return page_not_found();
    };
    if let Some(f) = admission::conversion(&kind, &t.version) {
        return failure_response(&f);
    }
    let ns = t.namespace.as_deref();
    let name = t.name.as_deref();
    let body = body.unwrap_or(Value::Null);
    let result: Result<(u16, Value), Failure> = match (method.as_str(), name) {
        ("GET", Some(name)) => store
            .get(&kind, &t.version, ns, name)
            .map(|v| (200, v))
            .ok_or_else(|| status::not_found(&kind.plural, name)),
        ("GET", None) => {
            let selectors = Selectors::from_query(query);
            let items: Vec<Value> = store
                .list(&kind, &t.version, ns)
                .into_iter()
                .filter(|o| selectors.matches(o))
                .map(|mut o| {
                    // Typed lists carry no kind/apiVersion on their items; custom resources do.
                    if matches!(kind.schema, crate::kinds::Schema::Builtin(_))
                        && let Some(m) = o.as_object_mut()
                    {
                        m.remove("kind");
                        m.remove("apiVersion");
                    }
                    o
                })
                .collect();
            Ok((
                200,
                json!({
                    "kind": format!("{}List", kind.kind),
                    "apiVersion": kind.api_version(&t.version),
                    "metadata": {"resourceVersion": store.resource_version().to_string()},
                    "items": items,
                }),
            ))
        }
        ("DELETE", Some(name)) => store.delete(&kind, &t.version, ns, name).map(|v| (200, v)),
        ("POST", None) | ("PUT", Some(_)) | ("PATCH", Some(_)) => {
            let how = match method.as_str() {
                "POST" => Write::Create,
                "PUT" => Write::Replace,
                _ if content_type.starts_with("application/apply-patch") => {
                    match query.get("fieldManager") {
                        Some(m) => Write::Apply { manager: m.clone() },
                        None => {
                            return failure_response(&status::bad_request(
                                "PATCH with apply-patch requires a fieldManager",
                            ));
                        }
                    }
                }
                _ if content_type.starts_with("application/merge-patch")
                    || content_type.starts_with("application/strategic-merge-patch") =>
                {
                    Write::Merge
                }
                other => {
                    return failure_response(&status::unsupported(&format!(
                        "the fake API server does not implement PATCH with content type {other:?}"
                    )));
                }
            };
            if query.contains_key("dryRun") {
                Err(status::unsupported(
                    "dryRun is not implemented by the fake API server",
                ))
            } else {
                store.write(&kind, &t.version, ns, name, body, how, t.status)
            }
        }
        _ => Err(Failure {
            code: 405,
            body: json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                         "message": format!("{method} is not allowed here"), "reason": "MethodNotAllowed", "code": 405}),
        }),
    };
    let rv = store.resource_version();
    drop(store);
    shared.changes.send_replace(rv);
    match result {
        Ok((code, value)) => json_response(code, &value),
        Err(f) => failure_response(&f),
    }
}

/// A watch: replays the changes after the given resourceVersion (or the current objects as
/// ADDED when none is given), then streams new ones until `timeoutSeconds`.
fn watch_stream(
    shared: Arc<Shared>,
    t: Target,
    query: BTreeMap<String, String>,
    meta: bool,
) -> Response {
    let line = move |change: &str, obj: &Value| {
        if meta {
            line(change, &partial(obj))
        } else {
            line(change, obj)
        }
    };
    let kind = match shared.store.lock() {
        Ok(store) => store.kind(&t.group, &t.version, &t.plural).cloned(),
        Err(_) => None,
    };
    let Some(kind) = kind else {
        return page_not_found();
    };
    let selectors = Selectors::from_query(&query);
    let from: Option<u64> = query
        .get("resourceVersion")
        .and_then(|rv| rv.parse().ok())
        .filter(|rv| *rv > 0);
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(290u64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut changes = shared.changes.subscribe();
    let ns = t.namespace.clone();
    let version = t.version.clone();
    let stream = async_stream(move |tx| async move {
        let mut last = match from {
            Some(rv) => rv,
            None => {
                let (rv, current) = match shared.store.lock() {
                    Ok(store) => (
                        store.resource_version(),
                        store.list(&kind, &version, ns.as_deref()),
                    ),
                    Err(_) => return,
                };
                for obj in current.into_iter().filter(|o| selectors.matches(o)) {
                    if tx.send(line("ADDED", &obj)).await.is_err() {
                        return;
                    }
                }
                rv
            }
        };
        loop {
            let batch: Vec<String> = match shared.store.lock() {
                Ok(store) => {
                    let mut out = Vec::new();
                    for e in store.events_after(last) {
                        last = e.rv;
                        let (g, p, n, _) = &e.key;
                        if *g != kind.group || *p != kind.plural || (ns.is_some() && *n != ns) {
                            continue;
                        }
                        let mut obj = serve(&kind, &version, &e.object);
                        obj["metadata"]["resourceVersion"] = json!(e.rv.to_string());
                        if selectors.matches(&obj) {
                            out.push(line(e.change.as_str(), &obj));
                        }
                    }
                    out
                }
                Err(_) => return,
            };
            for l in batch {
                if tx.send(l).await.is_err() {
                    return;
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(deadline) => return,
            }
        }
    });
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| page_not_found())
}

fn line(kind: &str, obj: &Value) -> String {
    format!("{}\n", json!({"type": kind, "object": obj}))
}

/// A byte stream fed by a task through a channel (the task ends when the client goes away).
pub(crate) fn async_stream<F, Fut>(
    producer: F,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(64);
    tokio::spawn(producer(tx));
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(|s| Ok(Bytes::from(s)))))
}
