//! Watching directories of named network namespaces (`/var/run/netns`, or container runtimes'
//! netns directories) with inotify, so the agent can follow secondary interfaces (Multus,
//! SR-IOV) that live inside pod namespaces: a namespace file appearing starts a link watcher in
//! it, a namespace file going away stops it.
//!
//! Raw inotify through libc keeps the dependency list short; the descriptor is driven by tokio's
//! `AsyncFd`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

/// A change in a watched netns directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsEvent {
    /// A namespace file appeared (or was there at start). It may not be bind-mounted yet:
    /// consumers retry entering it for a moment.
    Added(PathBuf),
    /// A namespace file was removed (`ip netns del`, CNI teardown).
    Removed(PathBuf),
}

/// Magic number of the nsfs filesystem, which a bind-mounted namespace file belongs to.
const NSFS_MAGIC: libc::c_long = 0x6e73_6673;

/// Whether `path` is a mounted namespace (not just the empty file `ip netns add` creates first).
pub fn is_namespace(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: zeroed statfs is a valid output buffer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a valid buffer.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)]
    let magic = st.f_type as libc::c_long;
    magic == NSFS_MAGIC
}

/// Whether two paths name the same namespace (the same nsfs inode): e.g. a file of
/// `/var/run/netns` and `/proc/self/ns/net`.
pub fn same_namespace(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn inotify_fd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; result checked.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh descriptor owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn add_watch(fd: &OwnedFd, dir: &Path) -> io::Result<i32> {
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let mask = libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_TO | libc::IN_MOVED_FROM;
    // SAFETY: valid fd and NUL-terminated path.
    let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) };
    if wd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(wd)
}

/// Parses a buffer of `inotify_event`s into (watch descriptor, mask, name).
fn parse_events(buf: &[u8]) -> Vec<(i32, u32, Vec<u8>)> {
    const HDR: usize = 16; // wd i32, mask u32, cookie u32, len u32
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + HDR <= buf.len() {
        let word = |i: usize| {
            let b = &buf[pos + i..pos + i + 4];
            [b[0], b[1], b[2], b[3]]
        };
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let end = (pos + HDR + len).min(buf.len());
        let raw = &buf[pos + HDR..end];
        let name = raw[..raw.iter().position(|b| *b == 0).unwrap_or(raw.len())].to_vec();
        out.push((wd, mask, name));
        pos = end;
    }
    out
}

/// Watches `dirs` and reports namespace files: the existing ones first, then arrivals and
/// removals. Directories that do not exist are skipped with a warning (an unprivileged agent
/// typically has no netns mount); `Err` only when inotify itself is unavailable.
pub fn watch(dirs: &[PathBuf]) -> io::Result<mpsc::UnboundedReceiver<NsEvent>> {
    let fd = inotify_fd()?;
    let mut watched: Vec<(i32, PathBuf)> = Vec::new();
    let (tx, rx) = mpsc::unbounded_channel();
    for dir in dirs {
        match add_watch(&fd, dir) {
            Ok(wd) => watched.push((wd, dir.clone())),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e,
                    "cannot watch this network namespace directory; its namespaces are not observed");
                continue;
            }
        }
        // Listed after the watch is in place, so nothing falls between the two.
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let _ = tx.send(NsEvent::Added(e.path()));
            }
        }
    }
    // SAFETY: `fd` is an OwnedFd moved into the AsyncFd, so it stays open and the same for the
    // AsyncFd's whole lifetime.
    let afd = unsafe { AsyncFd::register(fd) }.map_err(|e| io::Error::other(e.to_string()))?;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let Ok(mut guard) = afd.readable().await else {
                return;
            };
            let res = guard.try_io(|inner| {
                // SAFETY: `buf` is writable for its length.
                let n = unsafe {
                    libc::read(
                        inner.get_ref().as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            let n = match res {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "reading netns directory events; watch stopped");
                    return;
                }
                Err(_would_block) => continue,
            };
            for (wd, mask, name) in parse_events(&buf[..n]) {
                let Some((_, dir)) = watched.iter().find(|(w, _)| *w == wd) else {
                    continue;
                };
                if name.is_empty() {
                    continue;
                }
                let path = dir.join(std::ffi::OsStr::from_bytes(&name));
                let ev = if mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
                    NsEvent::Added(path)
                } else if mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
                    NsEvent::Removed(path)
                } else {
                    continue;
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inotify_records_are_split_with_their_names() {
        let mut buf = Vec::new();
        for (wd, mask, name) in [
            (1i32, libc::IN_CREATE, "cni-1234"),
            (2, libc::IN_DELETE, "x"),
        ] {
            let mut padded = name.as_bytes().to_vec();
            padded.resize(16, 0);
            buf.extend_from_slice(&wd.to_ne_bytes());
            buf.extend_from_slice(&mask.to_ne_bytes());
            buf.extend_from_slice(&0u32.to_ne_bytes());
            buf.extend_from_slice(&(padded.len() as u32).to_ne_bytes());
            buf.extend_from_slice(&padded);
        }
        let ev = parse_events(&buf);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0], (1, libc::IN_CREATE, b"cni-1234".to_vec()));
        assert_eq!(ev[1], (2, libc::IN_DELETE, b"x".to_vec()));
        // Truncated input never panics.
        for cut in 0..buf.len() {
            let _ = parse_events(&buf[..cut]);
        }
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<NsEvent>) -> NsEvent {
        tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn files_appearing_and_going_are_reported() {
        let dir = std::env::temp_dir().join(format!("nswatch-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("before"), b"").unwrap();
        let mut rx = watch(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(next(&mut rx).await, NsEvent::Added(dir.join("before")));
        std::fs::write(dir.join("after"), b"").unwrap();
        assert_eq!(next(&mut rx).await, NsEvent::Added(dir.join("after")));
        std::fs::remove_file(dir.join("before")).unwrap();
        assert_eq!(next(&mut rx).await, NsEvent::Removed(dir.join("before")));
        assert!(
            !is_namespace(&dir.join("after")),
            "a plain file is no namespace"
        );
        assert!(is_namespace(Path::new("/proc/self/ns/net")));
        assert!(same_namespace(
            Path::new("/proc/self/ns/net"),
            Path::new("/proc/thread-self/ns/net")
        ));
        assert!(!same_namespace(
            Path::new("/proc/self/ns/net"),
            Path::new("/proc/self/ns/mnt")
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let missing = watch(&[dir.join("missing")]);
        assert!(missing.is_ok(), "a missing directory is skipped, not fatal");
    }
}
