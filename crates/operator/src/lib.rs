//! The NetObserv operator: turns the `cluster` FlowCollector into the agent, pipeline and console
//! workloads. Reconciliation lands with the operator issue; this crate exists now so the workspace
//! layout is settled and the API crate has its first consumer.
