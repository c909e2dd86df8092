//! The container images `make images` built (`target/images/<name>.tar`, OCI archives), read as
//! a container runtime would: index → manifest → config and layers. Each image unpacks into a
//! root filesystem holding only its static binary and the CA bundle; the binary answers
//! `--version` when run inside that root (chroot, as the image's user, so a dynamically linked
//! binary or a missing file fails here); the entrypoint and user are the expected ones; sizes are
//! printed for the closing notes.
//!
//! `make test` builds the images first and sets `NETOBSERV_IMAGES_REQUIRED=1`, so a missing
//! archive fails there; a plain `cargo test` without images skips with a notice.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Expected {
    name: &'static str,
    binary: &'static str,
    user: &'static str,
}

const IMAGES: [Expected; 5] = [
    Expected {
        name: "operator",
        binary: "netobserv-operator",
        user: "65532:65532",
    },
    Expected {
        name: "ebpf-agent",
        binary: "netobserv-ebpf-agent",
        user: "0:0",
    },
    Expected {
        name: "flowlogs-pipeline",
        binary: "netobserv-pipeline",
        user: "65532:65532",
    },
    Expected {
        name: "console-plugin",
        binary: "netobserv-console",
        user: "65532:65532",
    },
    Expected {
        name: "cli-collector",
        binary: "kubectl-netobserv",
        user: "65532:65532",
    },
];

/// Images stay small: a static binary and a CA bundle.
const MAX_IMAGE_BYTES: u64 = 100 << 20;

fn images_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/images")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    layout.join("blobs/sha256").join(hex)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("readable")).expect("JSON")
}

/// Unpacks the OCI archive; returns the image config and the size of its layers.
fn unpack(archive: &Path, rootfs: &Path, layout: &Path) -> (Value, u64) {
    run(Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(layout));
    let index = read_json(&layout.join("index.json"));
    let manifest_digest = index["manifests"][0]["digest"].as_str().expect("manifest");
    let manifest = read_json(&blob(layout, manifest_digest));
    let config = read_json(&blob(
        layout,
        manifest["config"]["digest"].as_str().expect("cfg"),
    ));
    let mut size = 0;
    std::fs::create_dir_all(rootfs).expect("rootfs");
    for layer in manifest["layers"].as_array().expect("layers") {
        size += layer["size"].as_u64().expect("layer size");
        let digest = layer["digest"].as_str().expect("layer digest");
        run(Command::new("tar")
            .arg("-xf")
            .arg(blob(layout, digest))
            .arg("-C")
            .arg(rootfs));
    }
    (config, size)
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .expect("under root")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn each_image_runs_its_static_binary_as_its_user() {
    let dir = images_dir();
    if !dir.join("operator.tar").exists() {
        assert!(
            std::env::var_os("NETOBSERV_IMAGES_REQUIRED").is_none(),
            "no images in {}: `make images` must run first",
            dir.display()
        );
        eprintln!(
            "skipped: no images in {} (run `make images`)",
            dir.display()
        );
        return;
    }
    let version = env!("CARGO_PKG_VERSION");
    for image in IMAGES {
        let tmp = tempfile::tempdir().expect("tempdir");
        let rootfs = tmp.path().join("rootfs");
        let layout = tmp.path().join("layout");
        std::fs::create_dir_all(&layout).expect("layout");
        let (config, size) = unpack(&dir.join(format!("{}.tar", image.name)), &rootfs, &layout);
        let cfg = &config["config"];
        assert_eq!(cfg["User"], image.user, "{}: user", image.name);
        assert_eq!(
            cfg["Entrypoint"],
            serde_json::json!([format!("/{}", image.binary)]),
            "{}: entrypoint",
            image.name
        );
        assert_eq!(
            files_under(&rootfs),
            vec![
                "etc/ssl/certs/ca-certificates.crt".to_string(),
                image.binary.to_string(),
            ],
            "{}: the root filesystem holds only the binary and the CA bundle",
            image.name
        );
        assert!(size < MAX_IMAGE_BYTES, "{}: {size} bytes", image.name);
        let out = run(Command::new("timeout")
            .arg("20")
            .arg("chroot")
            .arg(format!("--userspec={}", image.user))
            .arg(&rootfs)
            .arg(format!("/{}", image.binary))
            .arg("--version"));
        assert!(
            out.contains(image.binary) && out.contains(version),
            "{}: --version printed {out:?}",
            image.name
        );
        println!(
            "{}: {:.1} MiB compressed layers, user {}, `--version`: {}",
            image.name,
            size as f64 / (1 << 20) as f64,
            image.user,
            out.trim()
        );
    }
}

/// `make images` on a machine with no builder says so and fails, before building anything.
#[test]
fn without_a_builder_make_images_says_so() {
    let bin = tempfile::tempdir().expect("tempdir");
    for tool in ["bash", "dirname"] {
        let path = which(tool);
        std::os::unix::fs::symlink(&path, bin.path().join(tool)).expect("symlink");
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-images.sh");
    let out = Command::new(bin.path().join("bash"))
        .arg(&script)
        .env("PATH", bin.path())
        .output()
        .expect("script runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail: {stderr}");
    assert!(
        stderr.contains("no image builder works here") && stderr.contains("buildah"),
        "{stderr}"
    );
}

fn which(tool: &str) -> PathBuf {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} not found");
}
