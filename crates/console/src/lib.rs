//! The console plugin: an HTTP API over Loki / Prometheus (or the local flow store) and the web UI.
