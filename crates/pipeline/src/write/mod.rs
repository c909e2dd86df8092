//! Writers: terminal stages. So far: Loki (encoding, HTTP client settings, and the batching,
//! retrying client).

pub mod loki;
pub mod loki_client;
pub mod loki_http;
pub mod sqlite;
