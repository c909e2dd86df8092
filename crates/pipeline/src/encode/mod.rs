//! Encoders: turn records into another representation. Only `prom` exists so far.

pub mod prom;

pub use prom::PromEncoder;
