//! FlowCollector validation (reference §1.9): one test per error or warning rule, each with a
//! FlowCollector that trips it and a closely related one that does not; plus OpenShift version
//! parsing and the effective metric include list (§1.5 feature filtering).
//!
//! One module per topic; `support` holds the FlowCollector builders and report assertions they
//! share.
#![allow(clippy::unwrap_used)]

mod cluster;
mod flow_filter;
mod health_rules;
mod include_list;
mod kafka;
mod operations;
mod privileges;
mod processor;
mod report;
mod support;
