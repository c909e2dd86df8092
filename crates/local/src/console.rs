//! The web console of local mode: the console backend (API + embedded web UI) reading the flow
//! store the pipeline writes, on a loopback address, with capture files openable from the
//! browser (one person, this machine: no authentication).

use netobserv_console::api::{AppState, router};
use netobserv_console::config::{AuthCheck, Config, StoreConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Why the console cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The console refused its configuration (store unreadable, ...).
    #[error("console: {0}")]
    State(String),
    /// The address is taken or not ours.
    #[error("console: cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// A serving console.
pub struct Console {
    /// Where it listens (the port is the real one when 0 was asked for).
    pub addr: SocketAddr,
    /// Whether the web UI is built into this binary (`make ui` before the build).
    pub has_ui: bool,
    task: JoinHandle<()>,
}

impl Console {
    /// Binds `addr` and serves the store at `store`.
    pub async fn start(addr: SocketAddr, store: &Path) -> Result<Self, ConsoleError> {
        let mut config = Config::default();
        config.server.auth_check = AuthCheck::None;
        config.captures.enabled = true;
        config.store = Some(StoreConfig {
            path: store.to_path_buf(),
            labels: None,
        });
        let state = AppState::new(&config).map_err(|e| ConsoleError::State(e.to_string()))?;
        let has_ui = state.web.has_page();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ConsoleError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ConsoleError::Bind { addr, source })?;
        let app = router(Arc::new(state));
        let task = tokio::spawn(async move {
            if let Err(e) = netobserv_console::server::serve(listener, app, None).await {
                tracing::error!(error = %e, "console stopped");
            }
        });
        Ok(Self { addr, has_ui, task })
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}
