//! A Loki push endpoint stand-in (Loki itself cannot run here). It accepts what Loki 3's
//! `/loki/api/v1/push` accepts and refuses the rest the way Loki does:
//!
//! * POST only, `Content-Type: application/x-protobuf`, body a snappy-compressed
//!   `logproto.PushRequest` (400 otherwise);
//! * with a tenant configured, `X-Scope-OrgID` must carry it (401 "no org id" otherwise, as a
//!   multi-tenant Loki answers);
//! * every stream's label set must parse as LogQL (`{name="value", ...}`), with at most 15
//!   labels, names of at most 1024 bytes and values of at most 2048 bytes (Loki's default
//!   limits; 400 otherwise, and the whole push is rejected).
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use std::sync::{Arc, Mutex};

/// One stored entry: the stream's label set, the line, the timestamp in ns.
#[derive(Clone, Debug)]
pub struct Entry {
    /// `{a="x", b="y"}`.
    pub labels: String,
    /// The log line.
    pub line: String,
    /// Nanoseconds since the epoch.
    pub timestamp_ns: i128,
}

/// Entries accepted so far.
pub type Pushes = Arc<Mutex<Vec<Entry>>>;

/// Parses `{a="x", b="y"}` into pairs; None when malformed.
pub fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"")?;
        let name = name.trim().trim_start_matches(',').trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, e)) => value.push(e),
                    None => return None,
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end?;
        out.push((name.to_string(), value));
        rest = after[end + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
    }
    Some(out)
}

fn check(
    headers: &HeaderMap,
    body: &[u8],
    tenant: Option<&str>,
) -> Result<Vec<Entry>, (StatusCode, String)> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    if let Some(tenant) = tenant
        && header("x-scope-orgid") != tenant
    {
        return Err((StatusCode::UNAUTHORIZED, "no org id".into()));
    }
    if !header("content-type").starts_with("application/x-protobuf") {
        return Err((StatusCode::BAD_REQUEST, "unsupported content type".into()));
    }
    let push = netobserv_pipeline::write::loki::decode_push(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
    let mut out = Vec::new();
    for stream in push.streams {
        let labels = parse_labels(&stream.labels).ok_or((
            StatusCode::BAD_REQUEST,
            format!("error parsing labels {}", stream.labels),
        ))?;
        if labels.len() > 15 {
            return Err((StatusCode::BAD_REQUEST, "too many labels".into()));
        }
        for (name, value) in &labels {
            if name.len() > 1024 || value.len() > 2048 {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("label value too long for {name}"),
                ));
            }
        }
        for entry in stream.entries {
            let ts = entry.timestamp.map_or(0, |t| {
                i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
            });
            out.push(Entry {
                labels: stream.labels.clone(),
                line: entry.line,
                timestamp_ns: ts,
            });
        }
    }
    Ok(out)
}

/// Serves the push endpoint on `listener` (inside the current runtime).
pub fn serve(listener: tokio::net::TcpListener, tenant: Option<String>) -> Pushes {
    let pushes: Pushes = Arc::default();
    let stored = pushes.clone();
    let app = axum::Router::new().route(
        "/loki/api/v1/push",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let stored = stored.clone();
            let tenant = tenant.clone();
            async move {
                match check(&headers, &body, tenant.as_deref()) {
                    Ok(entries) => {
                        stored.lock().expect("lock").extend(entries);
                        (StatusCode::NO_CONTENT, String::new())
                    }
                    Err(refusal) => refusal,
                }
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    pushes
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_sets_parse() {
        assert_eq!(
            super::parse_labels(r#"{a="x", b="y \"q\""}"#),
            Some(vec![
                ("a".into(), "x".into()),
                ("b".into(), "y \"q\"".into())
            ])
        );
        assert_eq!(super::parse_labels("{}"), Some(vec![]));
        assert_eq!(super::parse_labels(r#"{a-b="x"}"#), None);
    }
}
