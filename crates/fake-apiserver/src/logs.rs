//! `pods/log`: a container's log as kube-apiserver serves it (a plain-text chunked body, one
//! line per log line), with the checks a real server makes first: the pod exists (404), the
//! container is one of the pod's or the pod has only one (400), the container has started (400
//! `... is waiting to start: <reason>`), and the options are valid (`tailLines` >= 0,
//! `sinceSeconds` > 0, `limitBytes` > 0, not both `sinceSeconds` and `sinceTime`: 422; a
//! `sinceTime` that is not RFC 3339: 400). `previous` serves the log of the container's last
//! terminated instance ([`FakeApiServer::restart_container`]) or answers 400 as the kubelet does
//! when there is none; `limitBytes` cuts the body at that many bytes, mid-line if need be.
//!
//! No container runs here, so the test writes the log ([`FakeApiServer::append_log`]) and ends
//! it ([`FakeApiServer::end_log`], the container exiting). `follow=true` streams what is
//! appended until then, or until the pod is deleted, as a kubelet does when it kills the
//! container.
//!
//! [`FakeApiServer::append_log`]: crate::FakeApiServer::append_log
//! [`FakeApiServer::end_log`]: crate::FakeApiServer::end_log
//! [`FakeApiServer::restart_container`]: crate::FakeApiServer::restart_container

use crate::status::{self, Failure};
use crate::{Logged, Shared};
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One line of a container's log, as the runtime recorded it.
#[derive(Clone, Debug)]
struct Line {
    at: SystemTime,
    /// The text, ending with `\n`.
    text: String,
}

/// The log of one container.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContainerLog {
    lines: Vec<Line>,
    /// The container exited: a follower gets what is left, then the end of the body.
    ended: bool,
    /// The log of the last terminated instance, once the container restarted.
    previous: Option<Vec<Line>>,
}

/// Logs by (namespace, pod, container).
pub(crate) type Logs = BTreeMap<(String, String, String), ContainerLog>;

impl ContainerLog {
    /// Appends `text`, one timestamped line per `\n`-terminated piece (a last piece without
    /// one gets it: runtimes record whole lines).
    pub(crate) fn append(&mut self, text: &str, at: SystemTime) {
        for piece in text.split_inclusive('\n') {
            let mut text = piece.to_string();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            self.lines.push(Line { at, text });
        }
    }

    /// Marks the container as exited.
    pub(crate) fn end(&mut self) {
        self.ended = true;
    }

    /// The container restarted: its log so far becomes the previous instance's, and the new
    /// instance starts with an empty log.
    pub(crate) fn restart(&mut self) {
        self.previous = Some(std::mem::take(&mut self.lines));
        self.ended = false;
    }
}

/// The query of a log request, checked as `PodLogOptions` validation does.
#[derive(Clone, Debug, Default)]
struct Options {
    container: Option<String>,
    follow: bool,
    timestamps: bool,
    tail_lines: Option<usize>,
    since: Option<Duration>,
    since_time: Option<SystemTime>,
    limit_bytes: Option<usize>,
    previous: bool,
}

fn invalid(field: &str, value: &str, why: &str) -> Failure {
    rejected(
        field,
        &format!("Invalid value: {value}: {why}"),
        "FieldValueInvalid",
    )
}

fn rejected(field: &str, detail: &str, cause: &str) -> Failure {
    Failure {
        code: 422,
        body: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("PodLogOptions \"\" is invalid: {field}: {detail}"),
            "reason": "Invalid", "code": 422,
            "details": {"kind": "PodLogOptions",
                        "causes": [{"reason": cause, "field": field, "message": detail}]},
        }),
    }
}

impl Options {
    fn parse(query: &BTreeMap<String, String>) -> Result<Self, Failure> {
        let flag = |name: &str| -> Result<bool, Failure> {
            match query.get(name).map(String::as_str) {
                None | Some("false") | Some("0") => Ok(false),
                Some("true") | Some("1") | Some("") => Ok(true),
                Some(other) => Err(status::bad_request(&format!(
                    "{name}: invalid boolean value {other:?}"
                ))),
            }
        };
        let number = |name: &str| -> Result<Option<i64>, Failure> {
            query
                .get(name)
                .map(|v| {
                    v.parse::<i64>().map_err(|_| {
                        status::bad_request(&format!("{name}: invalid integer value {v:?}"))
                    })
                })
                .transpose()
        };
        let tail_lines = match number("tailLines")? {
            Some(n) if n < 0 => {
                return Err(invalid(
                    "tailLines",
                    &n.to_string(),
                    "must be greater than or equal to 0",
                ));
            }
            n => n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let since = match number("sinceSeconds")? {
            Some(n) if n < 1 => {
                return Err(invalid(
                    "sinceSeconds",
                    &n.to_string(),
                    "must be greater than 0",
                ));
            }
            n => n.map(|n| Duration::from_secs(n.unsigned_abs())),
        };
        let limit_bytes = match number("limitBytes")? {
            Some(n) if n < 1 => {
                return Err(invalid(
                    "limitBytes",
                    &n.to_string(),
                    "must be greater than 0",
                ));
            }
            n => n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let since_time = query
            .get("sinceTime")
            .map(|t| {
                t.parse::<k8s_openapi::jiff::Timestamp>()
                    .map(SystemTime::from)
                    .map_err(|e| {
                        status::bad_request(&format!("sinceTime: parsing time {t:?}: {e}"))
                    })
            })
            .transpose()?;
        if since.is_some() && since_time.is_some() {
            return Err(rejected(
                "sinceSeconds",
                "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
                "FieldValueForbidden",
            ));
        }
        Ok(Self {
            container: query.get("container").cloned(),
            follow: flag("follow")?,
            timestamps: flag("timestamps")?,
            tail_lines,
            since,
            since_time,
            limit_bytes,
            previous: flag("previous")?,
        })
    }
}

/// Why the container has not started, when it has not: its `waiting` reason, or
/// `ContainerCreating` for a pod still `Pending` without container statuses.
fn waiting(pod: &Value, container: &str) -> Option<String> {
    let statuses = pod["status"]["containerStatuses"].as_array();
    if let Some(s) = statuses.and_then(|ss| ss.iter().find(|s| s["name"] == container)) {
        if s["state"]["running"].is_object() || s["state"]["terminated"].is_object() {
            return None;
        }
        if let Some(reason) = s["state"]["waiting"]["reason"].as_str() {
            return Some(reason.to_string());
        }
    }
    match pod["status"]["phase"].as_str() {
        Some("Running" | "Succeeded" | "Failed") => None,
        _ => Some("ContainerCreating".to_string()),
    }
}

fn pod_of(shared: &Shared, namespace: &str, pod: &str) -> Result<Option<Value>, Failure> {
    let store = shared
        .store
        .lock()
        .map_err(|_| status::internal("store lock poisoned".into()))?;
    Ok(store
        .kind_of("v1", "Pod")
        .and_then(|k| store.get(&k, "v1", Some(namespace), pod)))
}

/// A line as served: with its RFC 3339 timestamp in front when asked.
fn render(line: &Line, timestamps: bool) -> String {
    if !timestamps {
        return line.text.clone();
    }
    let at = k8s_openapi::jiff::Timestamp::try_from(line.at)
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    format!("{at} {}", line.text)
}

/// The lines already there that the options select (`sinceSeconds` or `sinceTime`, then
/// `tailLines`), from the previous instance's log with `previous`.
fn backlog(log: &ContainerLog, opts: &Options, now: SystemTime) -> Vec<Line> {
    let since = opts
        .since
        .and_then(|d| now.checked_sub(d))
        .or(opts.since_time);
    let source = match (&log.previous, opts.previous) {
        (Some(previous), true) => previous,
        _ => &log.lines,
    };
    let lines: Vec<&Line> = source
        .iter()
        .filter(|l| since.is_none_or(|s| l.at >= s))
        .collect();
    let skip = opts.tail_lines.map_or(0, |n| lines.len().saturating_sub(n));
    lines.into_iter().skip(skip).cloned().collect()
}

/// Checks the request as kube-apiserver and the kubelet would, then serves the log.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((namespace, pod)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/v1/namespaces/{namespace}/pods/{pod}/log");
    let query: BTreeMap<String, String> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    if let Ok(mut log) = shared.log.lock() {
        log.push(Logged {
            method: Method::GET,
            path: path.clone(),
            query: query.clone(),
            content_type: String::new(),
            body: None,
            watch: false,
        });
    }
    match serve(shared, &namespace, &pod, &query, &headers, &path) {
        Ok(r) => r,
        Err(f) => crate::http::failure_response(&f),
    }
}

fn serve(
    shared: Arc<Shared>,
    namespace: &str,
    pod: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Response, Failure> {
    if let Some(refused) =
        crate::http::authenticate(shared.token.as_deref(), headers, &Method::GET, path)
    {
        return Err(refused);
    }
    let opts = Options::parse(query)?;
    let obj = pod_of(&shared, namespace, pod)?.ok_or_else(|| status::not_found("pods", pod))?;
    let container = crate::exec::container_of(&obj, opts.container.as_deref(), pod)?;
    if let Some(reason) = waiting(&obj, &container).filter(|_| !opts.previous) {
        return Err(status::bad_request(&format!(
            "container \"{container}\" in pod \"{pod}\" is waiting to start: {reason}"
        )));
    }
    let key = (namespace.to_string(), pod.to_string(), container);
    if opts.previous {
        let restarted = shared
            .logs
            .lock()
            .map_err(|_| status::internal("logs lock poisoned".into()))?
            .get(&key)
            .is_some_and(|l| l.previous.is_some());
        if !restarted {
            return Err(status::bad_request(&format!(
                "previous terminated container \"{}\" in pod \"{pod}\" not found",
                key.2
            )));
        }
    }
    let stream = crate::http::async_stream(move |tx| follow(shared, key, opts, tx));
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from_stream(stream))
        .map_err(|e| status::internal(e.to_string()))
}

/// Sends the selected backlog, then (with `follow`) each appended line until the container
/// exits, the pod is deleted, or the client goes away.
async fn follow(
    shared: Arc<Shared>,
    key: (String, String, String),
    opts: Options,
    tx: tokio::sync::mpsc::Sender<String>,
) {
    let mut appended = shared.log_changes.subscribe();
    let mut objects = shared.changes.subscribe();
    let (first, mut sent, mut ended) = match shared.logs.lock() {
        Ok(logs) => {
            let log = logs.get(&key).cloned().unwrap_or_default();
            (
                backlog(&log, &opts, SystemTime::now()),
                log.lines.len(),
                // A terminated instance's log has ended.
                log.ended || opts.previous,
            )
        }
        Err(_) => return,
    };
    let mut budget = Budget(opts.limit_bytes);
    for l in first {
        if !budget.send(&tx, render(&l, opts.timestamps)).await {
            return;
        }
    }
    while opts.follow && !ended {
        tokio::select! {
            changed = appended.changed() => if changed.is_err() { return },
            changed = objects.changed() => {
                if changed.is_err() || !matches!(pod_of(&shared, &key.0, &key.1), Ok(Some(_))) {
                    return;
                }
            }
        }
        let new: Vec<Line> = match shared.logs.lock() {
            Ok(logs) => {
                let Some(log) = logs.get(&key) else { continue };
                ended = log.ended;
                let new = log.lines.get(sent..).unwrap_or_default().to_vec();
                sent = log.lines.len();
                new
            }
            Err(_) => return,
        };
        for l in new {
            if !budget.send(&tx, render(&l, opts.timestamps)).await {
                return;
            }
        }
    }
}

/// What is left of `limitBytes` (none: no limit).
struct Budget(Option<usize>);

impl Budget {
    /// Sends `text`, cut to what the budget allows; false once the body must end (the budget
    /// is spent or the client went away).
    async fn send(&mut self, tx: &tokio::sync::mpsc::Sender<String>, mut text: String) -> bool {
        if let Some(left) = self.0.as_mut() {
            if text.len() >= *left {
                let mut cut = *left;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                *left = 0;
                let _ = tx.send(text).await;
                return false;
            }
            *left -= text.len();
        }
        tx.send(text).await.is_ok()
    }
}
