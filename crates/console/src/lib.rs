//! The console backend: the upstream console plugin's HTTP API over three sources behind one
//! trait — Loki (LogQL), Prometheus (PromQL over the `netobserv_*` metrics) and the SQLite flow
//! store (SQL) — configured by the file the operator renders.
//!
//! * [`config`]: the configuration file.
//! * [`params`]: request parameters into queries.
//! * [`logql`], [`promql`]: query builders (the store's SQL is in `netobserv_flowstore::sql`).
//! * [`source`]: the sources.
//! * [`api`]: routes and answers; [`resources`]: autocompletion; [`auth`]: authorisation; [`frontend`]: the UI's configuration.
//! * [`server`]: serving over HTTP or TLS, with the metrics port.
//! * [`web`]: the web UI's files (embedded at build time or from a directory); [`captures`]:
//!   capture files opened from the browser.

pub mod api;
pub mod auth;
pub mod captures;
pub mod client;
pub mod config;
pub mod frontend;
pub mod health;
pub mod logql;
pub mod params;
pub mod promql;
pub mod resources;
pub mod server;
pub mod source;
mod tenancy;
pub mod web;
