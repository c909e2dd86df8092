//! Helpers shared by the console's integration tests.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, missing_docs)]

pub mod kube;

/// Serves `app` on a free loopback port.
pub async fn serve(app: axum::Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

/// A port nothing listens on (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` on the console at `port` with an optional bearer token: the status and body.
pub async fn call(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    use netobserv_console::client::{CallError, Client, ClientSettings};
    let client = Client::new(
        "console",
        ClientSettings {
            timeout: std::time::Duration::from_secs(5),
            ..ClientSettings::default()
        },
    )
    .expect("client");
    match client
        .get(&format!("http://127.0.0.1:{port}{path}"), token)
        .await
    {
        Ok(b) => (200, String::from_utf8_lossy(&b).into_owned()),
        Err(CallError::Status { status, body, .. }) => (status, body),
        Err(e) => panic!("{e}"),
    }
}
