//! Writers: terminal stages. So far: Loki (encoding and the batching, retrying client).

pub mod loki;
pub mod loki_client;
