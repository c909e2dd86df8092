//! Running a piece of work inside another network namespace. Netlink sockets, interface name
//! lookups and TCX/TC attachment all act on the namespace of the calling thread, so the work runs
//! on a short-lived thread that first joins the namespace; the rest of the agent stays put.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Runs `f` in the network namespace at `netns` (for instance `/run/netns/NAME`), or directly
/// when `netns` is `None`.
pub fn in_netns<T: Send>(netns: Option<&Path>, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    let Some(path) = netns else {
        return Ok(f());
    };
    let file = File::open(path)?;
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns on a valid namespace fd only affects this (scoped, short-lived) thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(f())
        })
        .join()
        .map_err(|_| io::Error::other("namespace worker thread panicked"))?
    })
}
