//! A Kubernetes API server for tests, served over real HTTP on loopback, as strict as
//! kube-apiserver on the points where a lenient stand-in let this project ship defects.
//!
//! No kube-apiserver can run on the machines the tests run on, so the operator is tested against
//! this: a kube `Client` (or a whole binary, through a kubeconfig) talks HTTP to it, and its
//! controller's LIST + WATCH work as in a cluster. What it enforces, each measured on a real v1.32
//! server (reference `operator.md` §9):
//! - CRDs: a structural schema, and every `default` pruned and valid against its own sub-schema
//!   (422 otherwise, every error at once);
//! - custom resources: unknown fields pruned, defaults applied, schema validated (422), the
//!   `self == oldSelf` transition rule; stored in the storage version and served in any served
//!   version *without conversion* (a field spelled the v1beta1 way stays so);
//! - built-in objects stored without empty lists, maps and strings (Go `omitempty`), so applying
//!   `ingress: []` again is a change that bumps `metadata.generation`, as it did for real;
//! - server-side apply with per-manager field ownership; a no-op apply writes nothing;
//! - status subresources, resource versions, generations, namespaces that must exist, owner
//!   references garbage-collected, namespaces emptied on deletion;
//! - admission and conversion webhooks backed by a Service: the fake runs no pods, so they fail
//!   as `no endpoints available` does, and `failurePolicy: Fail` refuses the request;
//! - unknown group/versions answer `404 page not found`, as for a CRD that is not installed.
//!
//! - authentication, when started with a bearer token ([`Options::bearer_token`]): a wrong token is
//!   `401 Unauthorized` on every path, no credentials is `system:anonymous`, which may read only
//!   `/version`, `/healthz`, `/livez` and `/readyz` (403 elsewhere), as with anonymous auth on.
//! - `pods/exec` (the WebSocket remote-command stream, a per-pod handler standing in for the
//!   container runtime) and `pods/log` (a log the test writes, followed until the container
//!   ends or the pod goes), each with the checks kube-apiserver makes before it answers.
//!
//! Not modelled: RBAC, pagination (`limit` is ignored), bookmarks, strategic
//! merge patch list semantics (treated as a JSON merge patch), string `format` checks, CEL rules
//! other than `self == oldSelf` (refused with a 500 rather than ignored).

pub mod admission;
mod cel;
mod exec;
mod http;
pub mod kinds;
mod logs;
mod omitempty;
pub mod schema;
mod selector;
pub mod status;
pub mod store;
pub mod structural;

use axum::http::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use store::{Store, Write};

pub use exec::{ExecHandler, ExecOutput, ExecRequest};
pub use status::Failure;

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    /// HTTP method.
    pub method: Method,
    /// URL path.
    pub path: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// Content-Type header.
    pub content_type: String,
    /// Parsed body, if any.
    pub body: Option<Value>,
    /// Whether it was a watch.
    pub watch: bool,
}

impl Logged {
    /// A LIST (a collection GET that is not a watch).
    pub fn is_list(&self) -> bool {
        self.method == Method::GET && !self.watch && is_collection(&self.path)
    }
}

fn is_collection(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segs.as_slice() {
        ["api", _, rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => return false,
    };
    matches!(rest.len(), 1 | 3) && !(rest.len() == 1 && rest[0].is_empty())
}

/// State shared by the HTTP handlers and the test's handle.
pub(crate) struct Shared {
    /// The one bearer token accepted, when authentication is on.
    token: Option<String>,
    store: Mutex<Store>,
    changes: tokio::sync::watch::Sender<u64>,
    log: Mutex<Vec<Logged>>,
    /// The kubelet stand-ins of `pods/exec`, by (namespace, pod).
    exec: Mutex<std::collections::HashMap<(String, String), ExecHandler>>,
    /// Container logs a test wrote, served by `pods/log`.
    logs: Mutex<logs::Logs>,
    /// Bumped on every log append or end, for followers.
    log_changes: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    fn discovery_groups(&self) -> Value {
        let Ok(store) = self.store.lock() else {
            return json!({});
        };
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for kind in store.kinds().iter().filter(|k| !k.group.is_empty()) {
            let versions = groups.entry(kind.group.clone()).or_default();
            for v in &kind.versions {
                if !versions.contains(v) {
                    versions.push(v.clone());
                }
            }
        }
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(name, versions)| {
                let list: Vec<Value> = versions
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
                    .collect();
                json!({"name": name, "versions": list, "preferredVersion": list.first()})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    fn discovery_resources(&self, group: &str, version: &str) -> Option<Value> {
        let store = self.store.lock().ok()?;
        let mut resources = Vec::new();
        for kind in store
            .kinds()
            .iter()
            .filter(|k| k.group == group && k.versions.iter().any(|v| v == version))
        {
            resources.push(json!({
                "name": kind.plural, "singularName": kind.kind.to_lowercase(),
                "namespaced": kind.namespaced, "kind": kind.kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }));
            if kind.has_status {
                resources.push(json!({"name": format!("{}/status", kind.plural), "singularName": "",
                    "namespaced": kind.namespaced, "kind": kind.kind, "verbs": ["get", "patch", "update"]}));
            }
        }
        if resources.is_empty() {
            return None;
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        )
    }
}

/// A kubeconfig for a server at `url` (`http://HOST:PORT`) with an optional bearer token, for a
/// binary that must be configured before the server it will reach starts.
pub fn kubeconfig(url: &str, token: Option<&str>) -> String {
    let user = match token {
        Some(token) => format!("{{token: {token:?}}}"),
        None => "{}".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n\
         contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
         current-context: fake\nusers:\n- name: fake\n  user: {user}\n"
    )
}

/// How to start a [`FakeApiServer`].
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Listen here instead of an ephemeral loopback port (a binary under test may expect the
    /// in-cluster address).
    pub addr: Option<SocketAddr>,
    /// Require `Authorization: Bearer <token>`, as a cluster does of a service account.
    pub bearer_token: Option<String>,
}

/// A running fake API server. Dropping it stops the server.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeApiServer {
    /// Starts a server on an ephemeral loopback port (inside a tokio runtime), without
    /// authentication.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(Options::default()).await
    }

    /// Starts a server as `options` say (inside a tokio runtime).
    pub async fn start_with(options: Options) -> std::io::Result<Self> {
        let (changes, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            token: options.bearer_token,
            store: Mutex::new(Store::new()),
            changes,
            log: Mutex::new(Vec::new()),
            exec: Mutex::default(),
            logs: Mutex::default(),
            log_changes: tokio::sync::watch::channel(0).0,
        });
        let bind = options
            .addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let router = axum::Router::new()
            .route(
                "/api/v1/namespaces/{namespace}/pods/{pod}/exec",
                axum::routing::get(exec::handle),
            )
            .route(
                "/api/v1/namespaces/{namespace}/pods/{pod}/log",
                axum::routing::get(logs::handle),
            )
            .fallback(http::handle)
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::warn!(error = %e, "fake API server stopped");
            }
        });
        Ok(Self {
            shared,
            addr,
            stop: Some(stop),
        })
    }

    /// Makes `handler` the container runtime of pod `namespace/pod` for `pods/exec`: it gets
    /// each command a client runs there (after the server's own checks) and returns the output
    /// and exit code the client then receives over the WebSocket stream.
    pub fn on_exec(
        &self,
        namespace: &str,
        pod: &str,
        handler: impl Fn(&ExecRequest) -> ExecOutput + Send + Sync + 'static,
    ) {
        if let Ok(mut h) = self.shared.exec.lock() {
            h.insert((namespace.to_string(), pod.to_string()), Arc::new(handler));
        }
    }

    /// Writes `text` to the log of `container` in pod `namespace/pod`, as its process would
    /// (one timestamped line per `\n`): served by `pods/log`, and to followers at once.
    pub fn append_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.change_log(namespace, pod, container, |l| {
            l.append(text, std::time::SystemTime::now());
        });
    }

    /// Ends the log of `container` (its process exited): followers get the rest, then the end
    /// of the body.
    pub fn end_log(&self, namespace: &str, pod: &str, container: &str) {
        self.change_log(namespace, pod, container, logs::ContainerLog::end);
    }

    /// Restarts `container` of pod `namespace/pod`: its log so far becomes the previous
    /// instance's (served with `previous=true`) and the new instance's log starts empty.
    pub fn restart_container(&self, namespace: &str, pod: &str, container: &str) {
        self.change_log(namespace, pod, container, logs::ContainerLog::restart);
    }

    fn change_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        change: impl FnOnce(&mut logs::ContainerLog),
    ) {
        if let Ok(mut logs) = self.shared.logs.lock() {
            let key = (
                namespace.to_string(),
                pod.to_string(),
                container.to_string(),
            );
            change(logs.entry(key).or_default());
        }
        self.shared.log_changes.send_modify(|n| *n += 1);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server (default namespace `default`), with the bearer token
    /// when authentication is on.
    pub fn client(&self) -> kube::Client {
        let url = self.url().parse().expect("a loopback URL is a valid URI");
        let mut config = kube::Config::new(url);
        config.auth_info.token = self.shared.token.clone().map(secrecy::SecretString::from);
        kube::Client::try_from(config).expect("a plain HTTP client always builds")
    }

    /// A kubeconfig pointing at this server, for binaries under test (`KUBECONFIG=...`), with
    /// the bearer token when authentication is on.
    pub fn kubeconfig(&self) -> String {
        kubeconfig(&self.url(), self.shared.token.as_deref())
    }

    fn notify(&self) {
        if let Ok(store) = self.shared.store.lock() {
            self.shared.changes.send_replace(store.resource_version());
        }
    }

    /// Creates an object through the same checks as a POST (the way to install CRDs and seed
    /// objects a test expects to be valid).
    pub fn create(&self, obj: Value) -> Result<Value, Failure> {
        self.write(obj, Write::Create)
    }

    /// Server-side applies an object as `manager` (force), through the same checks as a PATCH.
    pub fn apply(&self, obj: Value, manager: &str) -> Result<Value, Failure> {
        self.write(
            obj,
            Write::Apply {
                manager: manager.to_string(),
            },
        )
    }

    fn write(&self, obj: Value, how: Write) -> Result<Value, Failure> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind_name = obj["kind"].as_str().unwrap_or_default().to_string();
        let version = api_version
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let ns = obj["metadata"]["namespace"].as_str().map(str::to_string);
        let name = obj["metadata"]["name"].as_str().map(str::to_string);
        let result = {
            let mut store = self
                .shared
                .store
                .lock()
                .map_err(|_| status::internal("store lock poisoned".into()))?;
            let kind = store
                .kind_of(&api_version, &kind_name)
                .ok_or_else(|| status::not_found_kind(&api_version, &kind_name))?;
            let name = if matches!(how, Write::Create) {
                None
            } else {
                name.as_deref()
            };
            store
                .write(&kind, &version, ns.as_deref(), name, obj, how, false)
                .map(|(_, v)| v)
        };
        self.notify();
        result
    }

    /// Creates every document of a multi-document YAML (e.g. a CRD file, `kubectl kustomize`
    /// output), stopping at the first refusal.
    pub fn create_yaml(&self, yaml: &str) -> Result<Vec<Value>, Failure> {
        let mut out = Vec::new();
        for doc in serde_yaml::Deserializer::from_str(yaml) {
            let value = Value::deserialize(doc)
                .map_err(|e| status::bad_request(&format!("not YAML: {e}")))?;
            if value.is_null() {
                continue;
            }
            out.push(self.create(value)?);
        }
        Ok(out)
    }

    /// Stores an object without checks (see [`Store::insert_raw`]).
    pub fn insert_raw(&self, obj: Value) -> Result<Value, Failure> {
        let result = self
            .shared
            .store
            .lock()
            .map_err(|_| status::internal("store lock poisoned".into()))?
            .insert_raw(obj);
        self.notify();
        result
    }

    /// An object by its API path (`/apis/apps/v1/namespaces/ns/deployments/name`), as a GET
    /// would return it.
    pub fn get(&self, path: &str) -> Option<Value> {
        let (kind, version, ns, name) = self.locate(path)?;
        let store = self.shared.store.lock().ok()?;
        store.get(&kind, &version, ns.as_deref(), &name)
    }

    /// Deletes an object by its API path, with garbage collection of its dependents.
    pub fn delete(&self, path: &str) -> Result<Value, Failure> {
        let (kind, version, ns, name) = self
            .locate(path)
            .ok_or_else(|| status::bad_request(&format!("not an object path: {path}")))?;
        let result = self
            .shared
            .store
            .lock()
            .map_err(|_| status::internal("store lock poisoned".into()))?
            .delete(&kind, &version, ns.as_deref(), &name);
        self.notify();
        result
    }

    /// Every object of a kind (all namespaces), by its collection path (`/apis/apps/v1/deployments`).
    pub fn list(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let Ok(store) = self.shared.store.lock() else {
            return Vec::new();
        };
        let version = api_version.rsplit('/').next().unwrap_or_default();
        match store.kind_of(api_version, kind) {
            Some(k) => store.list(&k, version, None),
            None => Vec::new(),
        }
    }

    /// Every stored object, keyed `group/plural/namespace/name` (as stored, not as served).
    pub fn snapshot(&self) -> BTreeMap<String, Value> {
        self.shared
            .store
            .lock()
            .map(|s| s.snapshot())
            .unwrap_or_default()
    }

    fn locate(&self, path: &str) -> Option<(kinds::Kind, String, Option<String>, String)> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match segs.as_slice() {
            ["api", v, rest @ ..] => ("", *v, rest),
            ["apis", g, v, rest @ ..] => (*g, *v, rest),
            _ => return None,
        };
        let (plural, ns, name) = match rest {
            ["namespaces", name] if group.is_empty() => ("namespaces", None, *name),
            ["namespaces", ns, plural, name] => (*plural, Some((*ns).to_string()), *name),
            [plural, name] => (*plural, None, *name),
            _ => return None,
        };
        let store = self.shared.store.lock().ok()?;
        let kind = store.kind(group, version, plural)?.clone();
        Some((kind, version.to_string(), ns, name.to_string()))
    }

    /// The requests seen so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.shared
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Forgets the requests seen so far.
    pub fn clear_requests(&self) {
        if let Ok(mut l) = self.shared.log.lock() {
            l.clear();
        }
    }

    /// The current resource version (grows with every write that changed something).
    pub fn resource_version(&self) -> u64 {
        self.shared
            .store
            .lock()
            .map(|s| s.resource_version())
            .unwrap_or_default()
    }
}

use serde::Deserialize;

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
