//! The HTTP API (reference §B.2): routes, the choice of source per request, and answers in the
//! shapes the UI reads (Loki `streams` for records, Prometheus `matrix` for series).

use crate::config::{AuthCheck, Config};
use crate::params::{self, DataSource, ParamError};
use crate::source::loki::LokiSource;
use crate::source::prom::PromSource;
use crate::source::store::StoreSource;
use crate::source::{
    Caller, FlowRecord, FlowSource, MetricsAnswer, RecordsAnswer, SourceError, SourceKind, Stats,
};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use netobserv_flowstore::query::Series;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Operator default Loki labels, used for the store's answers when nothing else is configured.
pub const DEFAULT_LABELS: &[&str] = &[
    "SrcK8S_Namespace",
    "SrcK8S_OwnerName",
    "SrcK8S_Type",
    "DstK8S_Namespace",
    "DstK8S_OwnerName",
    "DstK8S_Type",
    "K8S_FlowLayer",
    "FlowDirection",
];

/// An error answer: a status and a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What is wrong and what to change.
    pub message: String,
}

impl ApiError {
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        ApiError::bad(e.0)
    }
}

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> Self {
        Self {
            status: StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, message = %self.message, "request failed");
        }
        (self.status, Json(json!({"message": self.message}))).into_response()
    }
}

/// What every handler shares.
pub struct AppState {
    /// Loki, when configured.
    pub loki: Option<Arc<LokiSource>>,
    /// Prometheus, when configured.
    pub prom: Option<Arc<PromSource>>,
    /// The flow store, when configured.
    pub store: Option<Arc<StoreSource>>,
    /// The merged frontend configuration.
    pub frontend: Value,
    /// The authorisation mode in force.
    pub auth: AuthCheck,
    /// Token reviews, for `authenticated` and `admin`.
    pub reviewer: Option<crate::auth::Reviewer>,
    /// Capture files opened from the browser, when enabled.
    pub captures: Option<Arc<crate::captures::Captures>>,
    /// The web UI's files.
    pub web: crate::web::Web,
}

/// Why the state cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

impl AppState {
    /// Builds the sources of a configuration.
    pub fn new(config: &Config) -> Result<Self, StateError> {
        let features: Vec<String> = config
            .frontend
            .as_ref()
            .and_then(|f| f.get("features"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let loki = config
            .loki
            .as_ref()
            .map(LokiSource::new)
            .transpose()
            .map_err(|e| StateError(e.to_string()))?
            .map(Arc::new);
        let prom = config
            .prometheus
            .as_ref()
            .map(|p| PromSource::new(p, &features))
            .transpose()
            .map_err(|e| StateError(e.to_string()))?
            .map(Arc::new);
        let loki_labels: Vec<String> = config
            .loki
            .as_ref()
            .map(|l| l.labels.clone())
            .unwrap_or_default();
        let store = match &config.store {
            Some(s) => {
                let labels = s.labels.clone().unwrap_or_else(|| {
                    if loki_labels.is_empty() {
                        DEFAULT_LABELS.iter().map(|s| s.to_string()).collect()
                    } else {
                        loki_labels.clone()
                    }
                });
                Some(Arc::new(
                    StoreSource::open(&s.path, labels).map_err(|e| StateError(e.to_string()))?,
                ))
            }
            None => None,
        };
        let mut sources = Vec::new();
        if loki.is_some() {
            sources.push("loki");
        }
        if prom.is_some() {
            sources.push("prom");
        }
        if store.is_some() {
            sources.push("store");
        }
        let captures = if config.captures.enabled {
            let labels = config
                .store
                .as_ref()
                .and_then(|s| s.labels.clone())
                .unwrap_or_else(|| DEFAULT_LABELS.iter().map(|s| s.to_string()).collect());
            Some(Arc::new(
                crate::captures::Captures::new(
                    config.captures.dir.clone(),
                    config
                        .captures
                        .max_bytes
                        .unwrap_or(crate::captures::DEFAULT_MAX_BYTES),
                    config
                        .captures
                        .max_files
                        .unwrap_or(crate::captures::DEFAULT_MAX_FILES),
                    labels,
                )
                .map_err(|e| StateError(format!("captures: {e}")))?,
            ))
        } else {
            None
        };
        if sources.is_empty() && captures.is_none() {
            return Err(StateError(
                "no data source: configure loki, prometheus or store (or enable captures to open files from the browser)".into(),
            ));
        }
        let auth = match config.server.auth_check {
            AuthCheck::Auto if config.server.cert_path.is_some() => AuthCheck::Authenticated,
            AuthCheck::Auto => AuthCheck::None,
            other => other,
        };
        let mut frontend =
            crate::frontend::merged(config.frontend.as_ref(), &sources, &loki_labels);
        if let Some(m) = frontend.as_object_mut() {
            m.insert("captureUpload".into(), json!(captures.is_some()));
        }
        Ok(Self {
            frontend,
            loki,
            prom,
            store,
            auth,
            reviewer: None,
            captures,
            web: crate::web::Web::default(),
        })
    }

    /// The capture named by `capture=<id>`, if the request names one.
    pub fn capture(
        &self,
        p: &HashMap<String, String>,
    ) -> Result<Option<Arc<crate::captures::Capture>>, ApiError> {
        let Some(id) = p.get("capture").filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        let captures = self.captures.as_ref().ok_or_else(|| {
            ApiError::bad("capture: opening capture files is not enabled on this server")
        })?;
        captures.get(id).map(Some)
    }

    fn records_source(&self, ds: DataSource) -> Result<Arc<dyn FlowSource>, ApiError> {
        let loki = self.loki.clone().map(|s| s as Arc<dyn FlowSource>);
        let store = self.store.clone().map(|s| s as Arc<dyn FlowSource>);
        match ds {
            DataSource::Loki => {
                loki.ok_or_else(|| ApiError::bad("dataSource loki: Loki is not configured"))
            }
            DataSource::Store => {
                store.ok_or_else(|| ApiError::bad("dataSource store: no flow store is configured"))
            }
            DataSource::Prom => Err(ApiError::bad(
                "dataSource prom: Prometheus holds metrics, not flow records (use loki or store)",
            )),
            DataSource::Auto => loki.or(store).ok_or_else(|| {
                ApiError::bad(
                    "flow records need Loki or a flow store; neither is configured (open a capture file instead)",
                )
            }),
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn caller(headers: &HeaderMap) -> Caller {
    Caller {
        token: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string),
        namespace: None,
    }
}

pub(crate) type Shared = Arc<AppState>;
pub(crate) type Params = Query<HashMap<String, String>>;

/// The router of every route: the API (behind the authorisation check), and the web UI's files
/// for every other path (without it: the console fetches the plugin's files with no token).
pub fn router(state: Shared) -> Router {
    let web = state.web.clone();
    Router::new()
        .route("/role", get(role))
        .route("/api/status", get(status))
        .route("/api/frontend-config", get(frontend_config))
        .route("/api/loki/ready", get(loki_ready))
        .route("/api/loki/metrics", get(loki_metrics))
        .route("/api/loki/buildinfo", get(loki_buildinfo))
        .route("/api/loki/config/limits", get(loki_limits))
        .route("/api/loki/flow/records", get(records))
        .route("/api/loki/export", get(export))
        .route("/api/flow/metrics", get(metrics))
        .route("/api/resources/clusters", get(crate::resources::clusters))
        .route("/api/resources/zones", get(crate::resources::zones))
        .route(
            "/api/resources/namespaces",
            get(crate::resources::namespaces),
        )
        .route("/api/resources/names", get(crate::resources::names))
        .route("/api/prometheus/api/v1/rules", get(crate::health::rules))
        .route("/api/prometheus/api/v1/query", get(crate::health::query))
        .route("/api/resources/udns", get(crate::resources::udns))
        .route(
            "/api/captures",
            get(crate::captures::list)
                .post(crate::captures::upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/api/captures/{id}",
            axum::routing::delete(crate::captures::close),
        )
        .route("/api", axum::routing::any(not_found))
        .route("/api/{*rest}", axum::routing::any(not_found))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::check,
        ))
        .fallback(move |method: axum::http::Method, uri: axum::http::Uri| {
            let web = web.clone();
            async move { web.answer(&method, &uri) }
        })
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!("no route {}", uri.path()),
    }
}

async fn role(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let admin = crate::auth::is_admin(&s, &headers).await;
    (if admin { "admin" } else { "dev" }).into_response()
}

async fn status(State(s): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let c = caller(&headers);
    let mut out = Map::new();
    let sources: Vec<(&str, Option<Arc<dyn FlowSource>>)> = vec![
        ("loki", s.loki.clone().map(|x| x as Arc<dyn FlowSource>)),
        (
            "prometheus",
            s.prom.clone().map(|x| x as Arc<dyn FlowSource>),
        ),
        ("store", s.store.clone().map(|x| x as Arc<dyn FlowSource>)),
    ];
    for (name, src) in sources {
        let entry = match src {
            None => json!({"isEnabled": false}),
            Some(src) => match src.ready(&c).await {
                Ok(()) => json!({"isEnabled": true, "isReady": true}),
                Err(e) => {
                    json!({"isEnabled": true, "isReady": false, "error": e.to_string(), "errorCode": e.status()})
                }
            },
        };
        out.insert(name.into(), entry);
    }
    Json(Value::Object(out))
}

async fn frontend_config(State(s): State<Shared>) -> Json<Value> {
    Json(s.frontend.clone())
}

async fn loki_ready(State(s): State<Shared>, headers: HeaderMap) -> Result<&'static str, ApiError> {
    let loki = s
        .loki
        .as_ref()
        .ok_or_else(|| ApiError::bad("Loki is not configured"))?;
    loki.ready(&caller(&headers)).await?;
    Ok("ready")
}

/// Loki passthrough for admins: its status URL's answer at `path`.
async fn loki_admin(
    s: &AppState,
    headers: &HeaderMap,
    path: &str,
) -> Result<bytes::Bytes, ApiError> {
    if !crate::auth::is_admin(s, headers).await {
        return Err(ApiError {
            status: StatusCode::FORBIDDEN,
            message: format!("{path} of Loki is for admins only"),
        });
    }
    let loki = s
        .loki
        .as_ref()
        .ok_or_else(|| ApiError::bad("Loki is not configured"))?;
    Ok(loki.status_get(path, &caller(headers)).await?)
}

async fn loki_metrics(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let body = loki_admin(&s, &headers, "/metrics").await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

async fn loki_buildinfo(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    let body = loki_admin(&s, &headers, "/loki/api/v1/status/buildinfo").await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Loki's `limits_config`, from its YAML `/config`, as JSON.
async fn loki_limits(State(s): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let body = loki_admin(&s, &headers, "/config").await?;
    let config: serde_yaml::Value = serde_yaml::from_slice(&body).map_err(|e| ApiError {
        status: StatusCode::BAD_GATEWAY,
        message: format!("Loki's /config is not YAML: {e}"),
    })?;
    let limits = config
        .get("limits_config")
        .cloned()
        .ok_or_else(|| ApiError {
            status: StatusCode::BAD_GATEWAY,
            message: "Loki's /config has no limits_config".into(),
        })?;
    serde_json::to_value(limits)
        .map(Json)
        .map_err(|e| ApiError {
            status: StatusCode::BAD_GATEWAY,
            message: format!("Loki's limits_config: {e}"),
        })
}

fn unix_now() -> i64 {
    now_ms() / 1000
}

/// Records as Loki `streams`: one stream per label set, newest first.
pub fn streams_json(answer: &RecordsAnswer) -> Value {
    let mut order: Vec<&BTreeMap<String, String>> = Vec::new();
    let mut streams: HashMap<&BTreeMap<String, String>, Vec<Value>> = HashMap::new();
    for r in &answer.records {
        let values = streams.entry(&r.labels).or_insert_with(|| {
            order.push(&r.labels);
            Vec::new()
        });
        values.push(json!([
            r.ts_ns.to_string(),
            serde_json::to_string(&r.fields).unwrap_or_default()
        ]));
    }
    let result: Vec<Value> = order
        .into_iter()
        .map(|l| json!({"stream": l, "values": streams.get(l).cloned().unwrap_or_default()}))
        .collect();
    json!({
        "resultType": "streams",
        "result": result,
        "stats": answer.stats,
        "unixTimestamp": unix_now(),
    })
}

/// Series as a Prometheus `matrix`.
pub fn matrix_json(series: &[Series], stats: &Stats) -> Value {
    let result: Vec<Value> = series
        .iter()
        .map(|s| {
            let values: Vec<Value> = s
                .values
                .iter()
                .map(|(t, v)| json!([t, v.to_string()]))
                .collect();
            json!({"metric": s.labels, "values": values})
        })
        .collect();
    json!({
        "resultType": "matrix",
        "result": result,
        "stats": stats,
        "unixTimestamp": unix_now(),
    })
}

async fn run_records(
    s: &AppState,
    p: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<RecordsAnswer, ApiError> {
    let q = params::records_query(p, now_ms())?;
    let source: Arc<dyn FlowSource> = match s.capture(p)? {
        Some(c) => c.source.clone(),
        None => s.records_source(params::data_source(p)?)?,
    };
    Ok(source.records(&q, &caller(headers)).await?)
}

async fn records(
    State(s): State<Shared>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let answer = run_records(&s, &p, &headers).await?;
    Ok(Json(streams_json(&answer)))
}

fn csv_cell(v: Option<&Value>) -> String {
    let text = match v {
        None | Some(Value::Null) => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Records as CSV: the requested columns, or every field seen, in order.
pub fn csv(records: &[FlowRecord], columns: Option<&str>) -> String {
    let merged: Vec<Map<String, Value>> = records.iter().map(FlowRecord::merged).collect();
    let cols: Vec<String> = match columns {
        Some(c) => c
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => {
            let mut all: Vec<String> = merged.iter().flat_map(|m| m.keys().cloned()).collect();
            all.sort();
            all.dedup();
            all
        }
    };
    let mut out = cols
        .iter()
        .map(|c| csv_cell(Some(&Value::String(c.clone()))))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for m in &merged {
        let row: Vec<String> = cols.iter().map(|c| csv_cell(m.get(c))).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

async fn export(
    State(s): State<Shared>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match p.get("format").map(String::as_str) {
        None | Some("csv") => {}
        Some(other) => {
            return Err(ApiError::bad(format!(
                "format: `{other}` is not supported (csv)"
            )));
        }
    }
    let answer = run_records(&s, &p, &headers).await?;
    let body = csv(&answer.records, p.get("columns").map(String::as_str));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"flows.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

async fn metrics(
    State(s): State<Shared>,
    Query(p): Params,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let q = params::metrics_query(&p, now_ms())?;
    let ds = params::data_source(&p)?;
    let c = caller(&headers).in_namespace(p.get("namespace"));
    if let Some(capture) = s.capture(&p)? {
        let answer = capture.source.metrics(&q, &c).await?;
        return Ok(Json(matrix_json(&answer.series, &answer.stats)));
    }
    let answer: MetricsAnswer =
        match ds {
            DataSource::Prom => {
                let prom = s.prom.as_ref().ok_or_else(|| {
                    ApiError::bad("dataSource prom: Prometheus is not configured")
                })?;
                prom.metrics(&q, &c).await?
            }
            DataSource::Loki => {
                let loki = s
                    .loki
                    .as_ref()
                    .ok_or_else(|| ApiError::bad("dataSource loki: Loki is not configured"))?;
                loki.metrics(&q, &c).await?
            }
            DataSource::Store => {
                let store = s.store.as_ref().ok_or_else(|| {
                    ApiError::bad("dataSource store: no flow store is configured")
                })?;
                store.metrics(&q, &c).await?
            }
            DataSource::Auto => auto_metrics(&s, &q, &c).await?,
        };
    Ok(Json(matrix_json(&answer.series, &answer.stats)))
}

/// Prometheus when it can answer; Loki or the store otherwise, or when Prometheus refuses the
/// caller's token (401/403).
async fn auto_metrics(
    s: &AppState,
    q: &netobserv_flowstore::query::MetricsQuery,
    c: &Caller,
) -> Result<MetricsAnswer, ApiError> {
    let mut why_not_prom = None;
    if let Some(prom) = &s.prom {
        match prom.queries(q) {
            Ok(_) => match prom.metrics(q, c).await {
                Ok(a) => return Ok(a),
                Err(SourceError::Forbidden(e)) => {
                    tracing::info!(error = %e, "Prometheus refused the request; trying Loki");
                    why_not_prom = Some(e);
                }
                Err(e) => return Err(e.into()),
            },
            Err(e) => why_not_prom = Some(e.to_string()),
        }
    }
    if let Some(loki) = &s.loki {
        return Ok(loki.metrics(q, c).await?);
    }
    if let Some(store) = &s.store {
        return Ok(store.metrics(q, c).await?);
    }
    Err(ApiError::bad(format!(
        "Prometheus cannot answer this query ({}) and neither Loki nor a flow store is configured",
        why_not_prom.unwrap_or_default()
    )))
}

/// Which source answered, for tests and logs.
pub fn source_names(stats: &Stats) -> Vec<&'static str> {
    stats
        .data_sources
        .iter()
        .map(|k| SourceKind::as_str(*k))
        .collect()
}
