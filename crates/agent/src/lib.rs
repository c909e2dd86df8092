//! The node agent: loads and attaches the eBPF programs, evicts flows from kernel maps and exports
//! them as `pbflow` records. Implementation lands with the agent issue.
