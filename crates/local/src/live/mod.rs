//! The live terminal view of local mode, shown when stdout is a terminal: the run's status, the
//! busiest peer pairs of the last minute and the newest flows, refreshed every second from the
//! flow store. Otherwise (a pipe, a log, `--plain`) local mode prints plain lines
//! ([`crate::watch`]).

pub mod snapshot;
pub mod terminal;
pub mod view;

pub use view::LiveState;
