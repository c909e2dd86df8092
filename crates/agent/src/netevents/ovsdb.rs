//! A minimal OVSDB client (RFC 7047 JSON-RPC over a unix socket): just enough to run `transact`
//! with `select`, `insert`, `delete` and `wait` operations and to answer the server's `echo`
//! keep-alives. The NetworkEvents decoder uses it to turn a sample id into the ACL that owns it
//! (OVN Northbound), and the collector registration to add and remove one row of the local Open
//! vSwitch database; a full OVSDB library (monitor/cache/model generation) would be far heavier.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Why a request to the OVSDB server failed.
#[derive(Debug, thiserror::Error)]
pub enum OvsdbError {
    /// Connecting, reading or writing the socket failed.
    #[error("OVSDB socket {path}: {source}")]
    Io {
        /// Socket path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The server did not answer in time.
    #[error("OVSDB request timed out after {0:?}")]
    Timeout(Duration),
    /// The server closed the connection.
    #[error("OVSDB server closed the connection")]
    Closed,
    /// The server answered with something that is not RFC 7047 JSON-RPC.
    #[error("malformed OVSDB message: {0}")]
    Protocol(String),
    /// The server reported an error for the request or one of its operations.
    #[error("OVSDB error: {0}")]
    Server(String),
}

/// One row returned by `select`: column name → OVSDB JSON value.
pub type Row = serde_json::Map<String, Value>;

/// A connection to one OVSDB server, opened lazily and reopened after a failure.
pub struct OvsdbClient {
    path: PathBuf,
    timeout: Duration,
    stream: Option<UnixStream>,
    buf: Vec<u8>,
    next_id: u64,
}

impl OvsdbClient {
    /// A client for the server listening on unix socket `path`; each request (connect included)
    /// must complete within `timeout`. Nothing is opened until the first request.
    pub fn new(path: impl Into<PathBuf>, timeout: Duration) -> Self {
        Self {
            path: path.into(),
            timeout,
            stream: None,
            buf: Vec::new(),
            next_id: 1,
        }
    }

    /// The socket path, for messages.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> OvsdbError {
        OvsdbError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Runs one `transact` on `db` with `ops` and returns the per-operation results. On any
    /// transport error the connection is dropped, so the next call reconnects.
    pub async fn transact(&mut self, db: &str, ops: Vec<Value>) -> Result<Vec<Value>, OvsdbError> {
        let mut params = vec![Value::String(db.to_string())];
        params.extend(ops);
        let timeout = self.timeout;
        let res = tokio::time::timeout(timeout, self.call("transact", Value::Array(params))).await;
        let res = match res {
            Ok(r) => r,
            Err(_) => Err(OvsdbError::Timeout(timeout)),
        };
        if matches!(
            res,
            Err(OvsdbError::Io { .. }
                | OvsdbError::Timeout(_)
                | OvsdbError::Closed
                | OvsdbError::Protocol(_))
        ) {
            self.stream = None;
            self.buf.clear();
        }
        let result = res?;
        let results = result
            .as_array()
            .ok_or_else(|| OvsdbError::Protocol("transact result is not an array".into()))?;
        for r in results {
            if let Some(e) = r.get("error").filter(|e| !e.is_null()) {
                let details = r.get("details").and_then(Value::as_str).unwrap_or_default();
                return Err(OvsdbError::Server(
                    format!("{e} {details}").trim().to_string(),
                ));
            }
        }
        Ok(results.clone())
    }

    /// `select` of `columns` in `table` where every condition holds; returns the rows.
    pub async fn select(
        &mut self,
        db: &str,
        table: &str,
        conditions: Vec<Value>,
        columns: &[&str],
    ) -> Result<Vec<Row>, OvsdbError> {
        let op = json!({"op": "select", "table": table, "where": conditions, "columns": columns});
        let results = self.transact(db, vec![op]).await?;
        let rows = results
            .first()
            .and_then(|r| r.get("rows"))
            .and_then(Value::as_array)
            .ok_or_else(|| OvsdbError::Protocol("select result has no rows".into()))?;
        Ok(rows.iter().filter_map(|r| r.as_object().cloned()).collect())
    }

    /// `delete` of the rows of `table` where every condition holds; returns how many went.
    pub async fn delete(
        &mut self,
        db: &str,
        table: &str,
        conditions: Vec<Value>,
    ) -> Result<u64, OvsdbError> {
        let results = self
            .transact(db, vec![delete_op(table, conditions)])
            .await?;
        results
            .first()
            .and_then(|r| r.get("count"))
            .and_then(Value::as_u64)
            .ok_or_else(|| OvsdbError::Protocol("delete result has no count".into()))
    }

    async fn connect(&mut self) -> Result<(), OvsdbError> {
        if self.stream.is_none() {
            let s = UnixStream::connect(&self.path)
                .await
                .map_err(|e| self.io(e))?;
            self.stream = Some(s);
            self.buf.clear();
        }
        Ok(())
    }

    async fn send(&mut self, msg: &Value) -> Result<(), OvsdbError> {
        let bytes = serde_json::to_vec(msg).map_err(|e| OvsdbError::Protocol(e.to_string()))?;
        let res = match self.stream.as_mut() {
            Some(s) => s.write_all(&bytes).await,
            None => return Err(OvsdbError::Closed),
        };
        res.map_err(|e| self.io(e))
    }

    /// Sends a request and waits for the reply with its id, answering `echo` requests and
    /// ignoring notifications meanwhile.
    async fn call(&mut self, method: &str, params: Value) -> Result<Value, OvsdbError> {
        self.connect().await?;
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"method": method, "params": params, "id": id}))
            .await?;
        loop {
            let msg = self.read_message().await?;
            if let Some(m) = msg.get("method").and_then(Value::as_str) {
                if m == "echo" {
                    let reply = json!({
                        "result": msg.get("params").cloned().unwrap_or(json!([])),
                        "error": null,
                        "id": msg.get("id").cloned().unwrap_or(Value::Null),
                    });
                    self.send(&reply).await?;
                }
                continue;
            }
            if msg.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(e) = msg.get("error").filter(|e| !e.is_null()) {
                return Err(OvsdbError::Server(e.to_string()));
            }
            return msg
                .get("result")
                .cloned()
                .ok_or_else(|| OvsdbError::Protocol("reply without result".into()));
        }
    }

    /// Reads until one complete JSON value is buffered (OVSDB messages are not delimited, so
    /// the stream is parsed incrementally) and returns it.
    async fn read_message(&mut self) -> Result<Value, OvsdbError> {
        loop {
            if !self.buf.is_empty() {
                let mut it = serde_json::Deserializer::from_slice(&self.buf).into_iter::<Value>();
                match it.next() {
                    Some(Ok(v)) => {
                        let used = it.byte_offset();
                        self.buf.drain(..used);
                        return Ok(v);
                    }
                    Some(Err(e)) if e.is_eof() => {}
                    Some(Err(e)) => return Err(OvsdbError::Protocol(e.to_string())),
                    None => self.buf.clear(),
                }
            }
            let mut chunk = [0u8; 8192];
            let n = match self.stream.as_mut() {
                Some(s) => s.read(&mut chunk).await,
                None => return Err(OvsdbError::Closed),
            };
            let n = n.map_err(|e| self.io(e))?;
            if n == 0 {
                return Err(OvsdbError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// An `insert` operation of `row` (column → OVSDB JSON value) into `table`.
pub fn insert_op(table: &str, row: Value) -> Value {
    json!({"op": "insert", "table": table, "row": row})
}

/// A `delete` operation of the rows of `table` matching every condition.
pub fn delete_op(table: &str, conditions: Vec<Value>) -> Value {
    json!({"op": "delete", "table": table, "where": conditions})
}

/// A `wait` operation that aborts the transaction at once unless no row of `table` matches the
/// conditions: the atomic "still absent" check in front of an insert, so two writers racing for
/// the same row cannot both succeed.
pub fn wait_absent_op(table: &str, conditions: Vec<Value>) -> Value {
    json!({
        "op": "wait", "timeout": 0, "table": table, "where": conditions,
        "columns": ["_uuid"], "until": "==", "rows": [],
    })
}

/// The uuid an `insert` operation result names (`{"uuid": ["uuid", "…"]}`).
pub fn inserted_uuid(result: &Value) -> Option<&str> {
    result.get("uuid").and_then(uuid_of)
}

/// An OVSDB map value (`["map", [[k, v], …]]`) of string pairs.
pub fn map_value(pairs: &[(&str, &str)]) -> Value {
    json!([
        "map",
        pairs.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()
    ])
}

/// An optional integer column (`n`, or the empty set `["set", []]`), as an `Option`.
pub fn optional_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::Array(a) => match a.as_slice() {
            [Value::String(tag), Value::Array(items)] if tag == "set" => {
                items.first().and_then(Value::as_i64)
            }
            _ => None,
        },
        _ => None,
    }
}

/// The `_uuid`-style value of a row column (`["uuid", "…"]`), if it is one.
pub fn uuid_of(v: &Value) -> Option<&str> {
    match v.as_array().map(Vec::as_slice) {
        Some([Value::String(tag), Value::String(u)]) if tag == "uuid" => Some(u),
        _ => None,
    }
}

/// An OVSDB string-to-string map column (`["map", [[k, v], …]]`) as a `HashMap`; anything else
/// yields an empty map.
pub fn string_map(v: &Value) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some([Value::String(tag), Value::Array(pairs)]) = v.as_array().map(Vec::as_slice)
        && tag == "map"
    {
        for p in pairs {
            if let Some([Value::String(k), Value::String(val)]) = p.as_array().map(Vec::as_slice) {
                out.insert(k.clone(), val.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovsdb_json_shapes() {
        assert_eq!(uuid_of(&json!(["uuid", "abc"])), Some("abc"));
        assert_eq!(uuid_of(&json!(["set", []])), None);
        let m = string_map(&json!(["map", [["a", "1"], ["b", "2"]]]));
        assert_eq!(m.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.len(), 2);
        assert!(string_map(&json!("x")).is_empty());
        assert_eq!(optional_int(&json!(10)), Some(10));
        assert_eq!(optional_int(&json!(["set", []])), None);
        assert_eq!(optional_int(&json!(["set", [7]])), Some(7));
        assert_eq!(
            string_map(&map_value(&[("owner", "me")])).get("owner"),
            Some(&"me".to_string())
        );
        assert_eq!(inserted_uuid(&json!({"uuid": ["uuid", "u1"]})), Some("u1"));
        let w = wait_absent_op("T", vec![json!(["id", "==", 1])]);
        assert_eq!(w["until"], "==");
        assert_eq!(w["rows"], json!([]));
    }
}
