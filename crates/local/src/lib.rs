//! Local mode (`netobserv-local`, `make run`): observes the machine it runs on with no cluster.
//! One process holds the eBPF agent (crate `netobserv-agent`), the flowlogs pipeline in process
//! (`EXPORT=direct-flp`) writing the SQLite flow store and Prometheus counters, and the console
//! backend serving the web UI over that store on 127.0.0.1:9001.
//!
//! * [`options`]: the command line, named as in the FlowCollector and the CLI.
//! * [`flp`]: the in-process pipeline's configuration.
//! * [`host_addrs`]: the observed host's own addresses (subnet label `host`).
//! * [`console`]: the console over the store.
//! * [`watch`]: the lines printed while running (summaries, the quiet-machine hint).
//! * [`live`]: the live terminal view (top talkers, recent flows) when stdout is a terminal.
//! * [`run`]: putting them together, with the two-step Ctrl-C.

pub mod console;
pub mod flp;
pub mod host_addrs;
pub mod live;
pub mod options;
pub mod run;
pub mod watch;
