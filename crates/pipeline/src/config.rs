//! The pipeline configuration: upstream flowlogs-pipeline's `pipeline` + `parameters` document,
//! as the `netobserv-flp-config` crate models it (the operator renders the same model).

pub use netobserv_flp_config::*;
