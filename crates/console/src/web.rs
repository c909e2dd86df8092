//! The web UI's files: the standalone page at `/` (any other path without a file extension is a
//! page of the single-page app and gets `index.html`), and the OpenShift console dynamic plugin's
//! `plugin-manifest.json`, `plugin-entry.js` and chunks at the root too, where the console's
//! `ConsolePlugin` (basePath `/`) fetches them. Files come from the binary (embedded by
//! `build.rs` from `web/build` when the UI was built before compiling) or from a directory given
//! with `--web-dir`. These answers need no authorisation: the console fetches the plugin's files
//! without the user's token, and they hold no data.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// Where the UI's files come from.
#[derive(Clone, Debug, Default)]
pub enum Web {
    /// The files embedded at build time (possibly none).
    #[default]
    Embedded,
    /// Directories on disk: the standalone build, then the plugin build.
    Dirs(Vec<PathBuf>),
    /// No UI at all (tests of the missing-UI answer).
    None,
}

/// The page served when there is no UI to serve.
const NO_UI: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>netobserv console</title></head>\
<body style=\"font-family:sans-serif;max-width:42em;margin:3em auto\"><h1>The web UI is not built</h1>\
<p>This <code>netobserv-console</code> was compiled without the web UI, and no <code>--web-dir</code> was given. \
The API is served as usual under <code>/api</code>.</p>\
<p>To get the UI: run <code>make ui</code> in the repository (it needs Node.js 20 and npm; it builds \
<code>crates/console/web/build</code>), then either rebuild the binary (the UI is embedded) or start it with \
<code>--web-dir crates/console/web/build</code>.</p></body></html>";

impl Web {
    /// Serves files from `dir`: either a build directory holding `standalone/` and `plugin/`,
    /// or a directory of files served as they are.
    pub fn from_dir(dir: &Path) -> Self {
        let standalone = dir.join("standalone");
        if standalone.is_dir() {
            Web::Dirs(vec![standalone, dir.join("plugin")])
        } else {
            Web::Dirs(vec![dir.to_path_buf()])
        }
    }

    /// Whether the standalone page is there.
    pub fn has_page(&self) -> bool {
        self.file("index.html").is_some()
    }

    /// Whether the plugin's manifest is there.
    pub fn has_plugin(&self) -> bool {
        self.file("plugin-manifest.json").is_some()
    }

    /// The content of `rel` (a relative path already checked by [`safe_path`]).
    fn file(&self, rel: &str) -> Option<Cow<'static, [u8]>> {
        match self {
            Web::Embedded => embedded::STANDALONE
                .iter()
                .chain(embedded::PLUGIN.iter())
                .find(|(name, _)| *name == rel)
                .map(|(_, bytes)| Cow::Borrowed(*bytes)),
            Web::Dirs(dirs) => dirs.iter().find_map(|d| {
                let p = d.join(rel);
                if p.is_file() {
                    std::fs::read(p).ok().map(Cow::Owned)
                } else {
                    None
                }
            }),
            Web::None => None,
        }
    }

    /// The answer to a request outside `/api`.
    pub fn answer(&self, method: &Method, uri: &Uri) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return (StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD here").into_response();
        }
        let Some(rel) = safe_path(uri.path()) else {
            return (StatusCode::NOT_FOUND, "no such file").into_response();
        };
        let rel = if rel.is_empty() { "index.html" } else { rel };
        if let Some(bytes) = self.file(rel) {
            return file_response(rel, bytes, method);
        }
        let last = rel.rsplit('/').next().unwrap_or(rel);
        // A file that is not there is a 404, but the page itself (`/`, `/index.html`) falls
        // through to the page saying how to build the UI.
        if last.contains('.') && rel != "index.html" {
            return (StatusCode::NOT_FOUND, format!("no file {rel}")).into_response();
        }
        // A page of the single-page app (`/`, `/netflow-traffic`, ...).
        match self.file("index.html") {
            Some(bytes) => file_response("index.html", bytes, method),
            None => (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                NO_UI,
            )
                .into_response(),
        }
    }
}

/// The path without its leading `/`, or `None` when it could leave the UI's directory.
pub fn safe_path(path: &str) -> Option<&str> {
    let rel = path.trim_start_matches('/');
    let bad = rel.contains(['\\', '%', '\0'])
        || rel
            .split('/')
            .any(|seg| seg == ".." || seg == "." || (seg.is_empty() && !rel.is_empty()));
    (!bad).then_some(rel)
}

fn content_type(rel: &str) -> &'static str {
    match rel.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "map" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Content-hashed files (Vite's `assets/`, the plugin's chunks) never change; the entry points
/// (`index.html`, `plugin-manifest.json`, `plugin-entry.js`, locales) must be checked each time.
fn cache_control(rel: &str) -> &'static str {
    if rel.starts_with("assets/") || rel.contains("-chunk-") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

fn file_response(rel: &str, bytes: Cow<'static, [u8]>, method: &Method) -> Response {
    let len = bytes.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(rel)),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(rel)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_directory() {
        assert_eq!(safe_path("/"), Some(""));
        assert_eq!(
            safe_path("/assets/index-1a2b.js"),
            Some("assets/index-1a2b.js")
        );
        assert_eq!(safe_path("/../Cargo.toml"), None);
        assert_eq!(safe_path("/assets/../../x"), None);
        assert_eq!(safe_path("/%2e%2e/x"), None);
        assert_eq!(safe_path("/a//b"), None);
        assert_eq!(safe_path("/a\\b"), None);
    }

    fn body(resp: Response) -> String {
        let bytes = futures::executor::block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn without_a_ui_build_pages_say_how_to_make_one() {
        for path in [
            "/",
            "/index.html",
            "/netflow-traffic",
            "/network-health",
            "/resource/Pod/ns/p",
        ] {
            let resp = Web::None.answer(&Method::GET, &Uri::from_static(path));
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(body(resp).contains("make ui"), "{path}");
        }
        let resp = Web::None.answer(&Method::GET, &Uri::from_static("/assets/index-1a2b.js"));
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(!body(resp).contains("make ui"));
    }

    #[test]
    fn pages_of_the_app_get_index_html() {
        let dir = std::env::temp_dir().join(format!("console-web-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join("assets"));
        let _ = std::fs::write(dir.join("index.html"), "<html>app</html>");
        let _ = std::fs::write(dir.join("assets/a.js"), "js");
        let web = Web::from_dir(&dir);
        for path in [
            "/",
            "/netflow-traffic",
            "/network-health",
            "/resource/Pod/ns/p",
        ] {
            let resp = web.answer(&Method::GET, &Uri::from_static(path));
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            assert_eq!(body(resp), "<html>app</html>", "{path}");
        }
        let resp = web.answer(&Method::GET, &Uri::from_static("/assets/a.js"));
        assert_eq!(
            resp.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(body(resp), "js");
        let resp = web.answer(&Method::GET, &Uri::from_static("/assets/missing.js"));
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hashed_files_are_cached_for_good() {
        assert_eq!(cache_control("index.html"), "no-cache");
        assert_eq!(cache_control("plugin-entry.js"), "no-cache");
        assert!(cache_control("assets/index-abc.js").contains("immutable"));
        assert!(cache_control("exposed-netflowParent-chunk-0a1b.min.js").contains("immutable"));
    }
}
