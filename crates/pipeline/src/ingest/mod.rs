//! Ingest stages. So far: JSON lines from stdin or a file (upstream `stdin` / `file`).

mod lines;

pub use lines::{LineStats, read_json_lines};
