//! The stop signal every part of a run waits on: SIGTERM / Ctrl-C for the binary, or the
//! embedding program's own stop (the agent's, for an in-process pipeline).

/// A stop signal, seen by every part of the run that waits on it (one listener for the whole
/// process, so a signal arriving between two waits is not missed).
#[derive(Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

/// Sends the stop to every [`Shutdown`] made from it.
#[derive(Clone)]
pub struct ShutdownTrigger(std::sync::Arc<tokio::sync::watch::Sender<bool>>);

impl ShutdownTrigger {
    /// Asks every holder of the signal to stop.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Starts listening for SIGTERM and Ctrl-C (inside the runtime).
    pub fn listen() -> Self {
        let (trigger, shutdown) = Self::manual();
        tokio::spawn(async move {
            signal().await;
            trigger.stop();
        });
        shutdown
    }

    /// A signal only [`ShutdownTrigger::stop`] fires (an embedding program's stop).
    pub fn manual() -> (ShutdownTrigger, Self) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (ShutdownTrigger(std::sync::Arc::new(tx)), Self(rx))
    }

    /// Resolves once the signal came (at once if it already did).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// Whether the signal came.
    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(%err, "cannot watch SIGTERM; stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
