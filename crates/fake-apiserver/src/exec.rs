//! `pods/exec`: the WebSocket remote-command protocol kube-apiserver speaks to clients
//! (`v5.channel.k8s.io` / `v4.channel.k8s.io`: binary frames whose first byte is the channel,
//! 1 stdout, 2 stderr, 3 the final `Status`), with the checks a real server makes before it
//! upgrades: the pod exists, the container is one of the pod's, the pod runs, at least one of
//! stdin / stdout / stderr is asked for, a command is given.
//!
//! No container runs here, so what the command does is up to the test: it registers a handler
//! per pod (the kubelet's part), which receives the command and returns its output and exit
//! code. A pod without a handler answers like a container without that executable.

use crate::Shared;
use crate::status::{self, Failure};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

/// What a test's kubelet stand-in is asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container (the pod's only one when the request names none).
    pub container: String,
    /// Command and arguments.
    pub command: Vec<String>,
}

/// What the command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Exit code (0: success).
    pub exit_code: i32,
}

/// A test's stand-in for the container runtime of one pod.
pub type ExecHandler = Arc<dyn Fn(&ExecRequest) -> ExecOutput + Send + Sync>;

/// Frames carry at most this many bytes of output (the kubelet streams, it never sends one
/// frame per command).
const FRAME: usize = 32 * 1024;

fn failure(f: &Failure) -> Response {
    crate::http::failure_response(f)
}

/// Checks the request as kube-apiserver would, then upgrades and runs the command.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((namespace, pod)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let path = format!("/api/v1/namespaces/{namespace}/pods/{pod}/exec");
    let method = axum::http::Method::GET;
    if let Some(refused) =
        crate::http::authenticate(shared.token.as_deref(), &headers, &method, &path)
    {
        return failure(&refused);
    }
    let params: Vec<(String, String)> = query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let flag = |name: &str| {
        params
            .iter()
            .any(|(k, v)| k == name && (v == "true" || v == "1"))
    };
    let command: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let asked_container = params
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.clone());
    let obj = match shared.store.lock() {
        Ok(store) => store
            .kind_of("v1", "Pod")
            .and_then(|k| store.get(&k, "v1", Some(&namespace), &pod)),
        Err(_) => return failure(&status::internal("store lock poisoned".into())),
    };
    let Some(obj) = obj else {
        return failure(&status::not_found("pods", &pod));
    };
    let container = match container_of(&obj, asked_container.as_deref(), &pod) {
        Ok(c) => c,
        Err(f) => return failure(&f),
    };
    if obj["status"]["phase"] != "Running" {
        return failure(&status::bad_request(&format!(
            "unable to upgrade connection: container not found (\"{container}\")"
        )));
    }
    if !(flag("stdin") || flag("stdout") || flag("stderr")) {
        return failure(&status::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    if command.is_empty() {
        return failure(&status::bad_request(
            "you must specify at least one command for the container",
        ));
    }
    let Ok(upgrade) = upgrade else {
        return failure(&status::bad_request(
            "Upgrade request required (pods/exec is a WebSocket or SPDY stream)",
        ));
    };
    let handler = shared
        .exec
        .lock()
        .ok()
        .and_then(|h| h.get(&(namespace.clone(), pod.clone())).cloned());
    let request = ExecRequest {
        namespace,
        pod,
        container,
        command,
    };
    let (stdout, stderr) = (flag("stdout"), flag("stderr"));
    upgrade
        .protocols(["v5.channel.k8s.io", "v4.channel.k8s.io"])
        .on_upgrade(move |socket| stream(socket, request, handler, stdout, stderr))
        .into_response()
}

/// The container the request names, or the pod's only one.
pub(crate) fn container_of(
    pod: &Value,
    asked: Option<&str>,
    name: &str,
) -> Result<String, Failure> {
    let names: Vec<&str> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    match asked {
        Some(c) if names.contains(&c) => Ok(c.to_string()),
        Some(c) => Err(status::bad_request(&format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(status::bad_request(&format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            names.join(" ")
        ))),
    }
}

/// Runs the command through the pod's handler and streams its output, then its status.
async fn stream(
    mut socket: WebSocket,
    request: ExecRequest,
    handler: Option<ExecHandler>,
    stdout: bool,
    stderr: bool,
) {
    let output = match handler {
        Some(h) => {
            let r = request.clone();
            tokio::task::spawn_blocking(move || h(&r))
                .await
                .unwrap_or_else(|e| ExecOutput {
                    stderr: format!("handler panicked: {e}").into_bytes(),
                    exit_code: 2,
                    ..ExecOutput::default()
                })
        }
        None => ExecOutput {
            stderr: format!(
                "exec: \"{}\": executable file not found in $PATH",
                request.command[0]
            )
            .into_bytes(),
            exit_code: 127,
            ..ExecOutput::default()
        },
    };
    let frames = [(1u8, stdout, &output.stdout), (2u8, stderr, &output.stderr)];
    for (channel, wanted, bytes) in frames {
        if !wanted {
            continue;
        }
        for chunk in bytes.chunks(FRAME) {
            let mut frame = Vec::with_capacity(chunk.len() + 1);
            frame.push(channel);
            frame.extend_from_slice(chunk);
            if socket.send(Message::Binary(frame.into())).await.is_err() {
                return;
            }
        }
    }
    let status = if output.exit_code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        let code = output.exit_code;
        json!({
            "metadata": {}, "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command {:?}, exit code {code}", request.command),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        })
    };
    let mut frame = vec![3u8];
    frame.extend_from_slice(status.to_string().as_bytes());
    let _ = socket.send(Message::Binary(frame.into())).await;
    let _ = socket.send(Message::Close(None)).await;
}
