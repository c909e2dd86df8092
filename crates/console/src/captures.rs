//! Capture files opened from the browser (beyond upstream): a SQLite file the CLI, local mode or
//! the pipeline's `sqlite` writer made is uploaded (`POST /api/captures?name=...`, the file as
//! the body), kept in a private directory, opened read-only as a flow store, and queried by
//! adding `capture=<id>` to any records, export, metrics or resources request. Off unless the
//! configuration enables it (`captures.enabled`, or `--store` mode), since it lets a caller put
//! files on the server's disk; the size and the number kept are bounded.

use crate::api::{ApiError, Shared};
use crate::source::store::StoreSource;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use futures::StreamExt as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::AsyncWriteExt as _;

/// Largest capture accepted by default (2 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;
/// Captures kept open by default; opening one more closes the oldest.
pub const DEFAULT_MAX_FILES: usize = 8;

/// One opened capture.
pub struct Capture {
    /// Its id in `capture=<id>`.
    pub id: String,
    /// The name the browser gave.
    pub name: String,
    /// The store over the file.
    pub source: Arc<StoreSource>,
    /// Flows in it.
    pub flows: u64,
    /// Oldest and newest `TimeFlowEndMs`, when it has a time column and rows.
    pub bounds: Option<(i64, i64)>,
    /// Size in bytes.
    pub bytes: u64,
    path: PathBuf,
}

impl Capture {
    /// The JSON the UI reads.
    pub fn describe(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "flows": self.flows,
            "bytes": self.bytes,
            "startMs": self.bounds.map(|b| b.0),
            "endMs": self.bounds.map(|b| b.1),
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The opened captures.
pub struct Captures {
    dir: PathBuf,
    owns_dir: bool,
    max_bytes: u64,
    max_files: usize,
    labels: Vec<String>,
    next: AtomicU64,
    open: Mutex<Vec<Arc<Capture>>>,
}

impl Drop for Captures {
    fn drop(&mut self) {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Captures {
    /// Captures kept in `dir` (a new private directory under the system's temporary directory
    /// when `None`, removed when the server stops).
    pub fn new(
        dir: Option<PathBuf>,
        max_bytes: u64,
        max_files: usize,
        labels: Vec<String>,
    ) -> std::io::Result<Self> {
        let (dir, owns_dir) = match dir {
            Some(d) => (d, false),
            None => (
                std::env::temp_dir()
                    .join(format!("netobserv-console-captures-{}", std::process::id())),
                true,
            ),
        };
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            owns_dir,
            max_bytes,
            max_files: max_files.max(1),
            labels,
            next: AtomicU64::new(1),
            open: Mutex::default(),
        })
    }

    /// The capture `id`, or a 404 saying it is not open.
    pub fn get(&self, id: &str) -> Result<Arc<Capture>, ApiError> {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or_else(|| ApiError {
                status: StatusCode::NOT_FOUND,
                message: format!(
                    "capture `{id}` is not open (the server may have restarted, or it was closed): open the file again"
                ),
            })
    }

    fn list(&self) -> Vec<Value> {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|c| c.describe())
            .collect()
    }

    /// Writes `body` to a new file, opens it as a flow store and keeps it.
    async fn add(&self, name: &str, body: Body) -> Result<Arc<Capture>, ApiError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("c{n}");
        let path = self.dir.join(format!("{id}.db"));
        let internal = |what: &str, e: std::io::Error| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("capture {name}: cannot {what} {}: {e}", path.display()),
        };
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| internal("create", e))?;
        let mut written: u64 = 0;
        let mut stream = body.into_data_stream();
        let outcome: Result<(), ApiError> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| ApiError::bad(format!("capture {name}: upload interrupted: {e}")))?;
                written += chunk.len() as u64;
                if written > self.max_bytes {
                    return Err(ApiError {
                        status: StatusCode::PAYLOAD_TOO_LARGE,
                        message: format!(
                            "capture {name} is larger than the {} MiB this server accepts (captures.maxBytes)",
                            self.max_bytes >> 20
                        ),
                    });
                }
                file.write_all(&chunk).await.map_err(|e| internal("write", e))?;
            }
            file.flush().await.map_err(|e| internal("write", e))?;
            if written == 0 {
                return Err(ApiError::bad(format!("capture {name}: the file is empty")));
            }
            Ok(())
        }
        .await;
        drop(file);
        if let Err(e) = outcome {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        let labels = self.labels.clone();
        let p = path.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let source = StoreSource::open(&p, labels)?;
            let flows = source.reader().count()?;
            let bounds = source.reader().time_bounds()?;
            Ok::<_, crate::source::SourceError>((source, flows, bounds))
        })
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("capture {name}: {e}"),
        })?;
        let (source, flows, bounds) = match opened {
            Ok(x) => x,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(ApiError::bad(format!(
                    "{name} cannot be opened as a capture: {e}"
                )));
            }
        };
        let capture = Arc::new(Capture {
            id,
            name: name.to_string(),
            source: Arc::new(source),
            flows,
            bounds,
            bytes: written,
            path,
        });
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.push(capture.clone());
        while open.len() > self.max_files {
            let old = open.remove(0);
            tracing::info!(capture = %old.name, id = %old.id, "closing the oldest capture");
        }
        Ok(capture)
    }

    fn close(&self, id: &str) -> bool {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let before = open.len();
        open.retain(|c| c.id != id);
        open.len() != before
    }
}

fn enabled(s: &Shared) -> Result<&Captures, ApiError> {
    s.captures.as_deref().ok_or_else(|| ApiError {
        status: StatusCode::FORBIDDEN,
        message: "opening capture files is not enabled on this server (captures.enabled in the configuration)".into(),
    })
}

/// `POST /api/captures?name=FILE`: the body is the SQLite file.
pub async fn upload(
    State(s): State<Shared>,
    Query(p): Query<HashMap<String, String>>,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let captures = enabled(&s)?;
    let name = p
        .get("name")
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        })
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "capture.db".into());
    let capture = captures.add(&name, body).await?;
    tracing::info!(capture = %capture.name, id = %capture.id, flows = capture.flows, "capture opened");
    Ok((StatusCode::CREATED, Json(capture.describe())))
}

/// `GET /api/captures`: the open captures.
pub async fn list(State(s): State<Shared>) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Array(enabled(&s)?.list())))
}

/// `DELETE /api/captures/{id}`.
pub async fn close(
    State(s): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    if enabled(&s)?.close(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("capture `{id}` is not open"),
        })
    }
}
