//! `kubectl-netobserv`: on-demand flow, packet and metric capture. Implementation lands with the
//! CLI issue.
