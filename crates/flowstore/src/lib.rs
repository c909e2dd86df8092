//! The flow store: flow records in an SQLite file, written by the pipeline's `sqlite` writer (and
//! local mode), read by the console and the CLI.
//!
//! * [`fields`]: the catalogue of record fields, one `flow` column each.
//! * [`schema`]: the tables (`flow`, `flow_rollup`, `store_meta`) and indexes.
//! * [`writer`] / [`background`]: batched transactions, rollups, retention by age and size.
//! * [`filter`] / [`query`]: the console's filter syntax and queries, shared by every source.
//! * [`sql`] / [`reader`]: queries as SQL, run on a store or a capture file opened read-only.

pub mod background;
pub mod error;
pub mod fields;
pub mod filter;
pub mod query;
pub mod reader;
pub mod row;
pub mod schema;
pub mod sql;
pub mod synth;
pub mod writer;

pub use background::{BackgroundWriter, BatchOptions, WriterStats};
pub use error::{Error, Result};
pub use filter::{FilterError, Filters};
pub use reader::Reader;
pub use row::{Cell, FlowRow};
pub use writer::{Retention, Store, StoreOptions};
