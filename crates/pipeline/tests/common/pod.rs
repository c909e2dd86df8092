//! Running a rendered container the way a kubelet would, as close as a test can get here:
//! its own network namespace (a pod has one, so the rendered ports are used as they are and
//! nothing else on the machine can clash with them), its volumes laid out as files, exactly its
//! command, arguments and environment.
#![allow(dead_code)]

use serde_json::Value as Json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs `f` on a new thread that has its own network namespace with loopback up. Everything
/// `f` starts (runtimes, threads, child processes) lives in that namespace; it disappears with
/// them. Needs root (CAP_SYS_ADMIN), like the rest of the suite.
pub fn in_new_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare only changes the calling thread's network namespace; no memory is
        // shared with the kernel call.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {} (the suite runs as root)",
            std::io::Error::last_os_error()
        );
        let up = Command::new(ip_binary())
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("runs ip");
        assert!(up.success(), "cannot bring loopback up");
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// `ip` from iproute2 (scripts/prerequisites.sh installs it).
fn ip_binary() -> PathBuf {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join("ip");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("ip")
}

/// The files of a pod's volumes under a temporary root, and the one substitution that implies:
/// a path under a mount path `M` becomes `<root>M`.
pub struct PodFiles {
    /// The temporary root.
    pub root: PathBuf,
    mounts: Vec<String>,
}

impl PodFiles {
    /// A fresh root.
    pub fn new(tag: &str) -> Self {
        let root = std::env::temp_dir().join(format!(
            "netobserv-pod-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&root).expect("pod root");
        Self {
            root,
            mounts: Vec::new(),
        }
    }

    /// The directory standing for mount path `mount`.
    pub fn dir(&mut self, mount: &str) -> PathBuf {
        if !self.mounts.iter().any(|m| m == mount) {
            self.mounts.push(mount.to_string());
            // Longest first, so nested mount paths are rewritten correctly.
            self.mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        }
        let dir = self.root.join(mount.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).expect("mount dir");
        dir
    }

    /// `text` with every path under a mount path moved under the root.
    pub fn rewrite(&self, text: &str) -> String {
        let mut out = text.to_string();
        for m in &self.mounts {
            let moved = format!("{}{m}", self.root.display());
            // Only whole path prefixes: `/etc/x` in `"/etc/x/config.json"` or `=/etc/x/...`.
            let mut result = String::new();
            let mut rest = out.as_str();
            while let Some(i) = rest.find(m.as_str()) {
                let before = rest[..i].chars().last();
                let after = rest[i + m.len()..].chars().next();
                let starts = before.is_none_or(|c| matches!(c, '"' | '=' | ' ' | '\'' | ':'));
                let ends = after.is_none_or(|c| matches!(c, '/' | '"' | ' ' | '\'' | '\n'));
                result.push_str(&rest[..i]);
                if starts && ends && !rest[..i].ends_with(&self.root.display().to_string()) {
                    result.push_str(&moved);
                } else {
                    result.push_str(m);
                }
                rest = &rest[i + m.len()..];
            }
            result.push_str(rest);
            out = result;
        }
        out
    }
}

impl Drop for PodFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The rendered object of `kind` named `name`.
pub fn object<'a>(objects: &'a [Json], kind: &str, name: &str) -> Option<&'a Json> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

/// A container port number by name (or the number itself).
pub fn port(container: &Json, port: &Json) -> u16 {
    if let Some(n) = port.as_u64() {
        return u16::try_from(n).expect("port");
    }
    let name = port.as_str().expect("port name or number");
    container["ports"]
        .as_array()
        .and_then(|ports| ports.iter().find(|p| p["name"] == name))
        .and_then(|p| p["containerPort"].as_u64())
        .and_then(|n| u16::try_from(n).ok())
        .unwrap_or_else(|| panic!("no container port named {name}"))
}

/// A CA and a serving certificate for the pipeline's Service name.
pub struct Pki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// Generates a CA and a certificate it signs for `service_dns`.
pub fn pki(service_dns: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = KeyPair::generate().expect("key");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = CertificateParams::new(vec![service_dns.to_string()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("cert");
    Pki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// GET over plain HTTP inside the current namespace: (status, body).
pub fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    std::io::Write::write_all(
        &mut s,
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    Some((code, text.split_once("\r\n\r\n")?.1.to_string()))
}

/// Polls `check` every 100 ms until it holds; fails the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every file under `dir`.
pub fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
