//! The collector's output files: `flow/<time>.json` (a JSON array of enriched flows, keys
//! sorted), `flow/<time>.db` (the flow store) and `pcap/<time>.pcapng`, `<time>` being the start
//! in UTC as RFC 3339 without colons (upstream's naming, safe on every file system).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// `2026-12-03T174000Z` for a time.
pub fn stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The paths of one capture's files under `output`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputPaths {
    /// `flow/<time>.json`.
    pub json: PathBuf,
    /// `flow/<time>.db`.
    pub db: PathBuf,
    /// `pcap/<time>.pcapng`.
    pub pcapng: PathBuf,
}

impl OutputPaths {
    /// The paths of a capture that started at `start`.
    pub fn new(output: &Path, start: SystemTime) -> Self {
        let s = stamp(start);
        Self {
            json: output.join("flow").join(format!("{s}.json")),
            db: output.join("flow").join(format!("{s}.db")),
            pcapng: output.join("pcap").join(format!("{s}.pcapng")),
        }
    }
}

/// A JSON array written one element at a time, counting its bytes; [`JsonArray::finish`]
/// closes it (a capture stopped by a crash leaves an unterminated array, still readable line by
/// line: one object per line).
pub struct JsonArray {
    out: BufWriter<File>,
    count: u64,
    bytes: u64,
}

impl JsonArray {
    /// Creates `path` (and its directory).
    pub fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        out.write_all(b"[")?;
        Ok(Self {
            out,
            count: 0,
            bytes: 1,
        })
    }

    /// Appends one element, given as serialised JSON.
    pub fn push(&mut self, json: &[u8]) -> std::io::Result<()> {
        let sep: &[u8] = if self.count == 0 { b"\n" } else { b",\n" };
        self.out.write_all(sep)?;
        self.out.write_all(json)?;
        self.count += 1;
        self.bytes += (sep.len() + json.len()) as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Elements written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Pushes buffered bytes to the file.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// Closes the array and flushes.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.write_all(b"\n]\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_without_colons() {
        assert_eq!(stamp(UNIX_EPOCH), "1970-01-01T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_259_723);
        assert_eq!(stamp(t), "2026-12-03T010203Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(1_709_164_800);
        assert_eq!(stamp(t), "2024-02-29T000000Z");
    }
}
