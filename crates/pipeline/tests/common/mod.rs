//! Helpers shared by the pipeline's integration tests.
#![allow(dead_code, clippy::expect_used, missing_docs)]

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A `Write` that appends to a shared buffer, standing in for stdout.
#[derive(Clone, Default)]
pub struct Shared(pub Arc<Mutex<Vec<u8>>>);

impl Shared {
    /// What was written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("lock").clone()).expect("utf8")
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The body of `GET path` on 127.0.0.1:`port` (HTTP/1.0), or `None` when it cannot be fetched.
pub fn http_body(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// [`http_body`] that fails the test when the endpoint does not answer.
pub fn http_get(port: u16, path: &str) -> String {
    http_body(port, path).expect("the endpoint answers")
}

/// Reads lines from `reader` until one contains `needle` (the pipeline logs other lines before
/// its banners); fails the test at the end of the stream.
pub fn read_until(reader: &mut impl std::io::BufRead, needle: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("reads stderr");
        assert!(n > 0, "the process ended without logging `{needle}`");
        if line.contains(needle) {
            return line;
        }
    }
}

pub mod cluster;
pub mod exporters;
pub mod loki;
pub mod pod;
pub mod rendered;
