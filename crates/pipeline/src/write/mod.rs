//! Writers: terminal stages. So far: the Loki push encoding (batching, labels, lines).

pub mod loki;
