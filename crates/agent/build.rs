//! Builds the kernel programs (`crates/agent-ebpf`) for `bpfel-unknown-none` with aya-build and
//! leaves the object in `OUT_DIR` for `include_bytes_aligned!`.
//!
//! The eBPF crate is its own workspace (it needs nightly `-Z build-std=core`), so the nested
//! cargo must run from its directory; aya-build inherits the build script's working directory.

use std::path::PathBuf;

fn main() -> aya_build::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let ebpf_dir = manifest_dir.join("../agent-ebpf").canonicalize()?;
    let common_dir = manifest_dir.join("../agent-common").canonicalize()?;
    println!(
        "cargo:rerun-if-changed={}",
        common_dir.join("src").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        ebpf_dir.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", ebpf_dir.join("src").display());
    std::env::set_current_dir(&ebpf_dir)?;
    let root_dir = ebpf_dir.to_string_lossy().into_owned();
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "netobserv-agent-ebpf",
            root_dir: &root_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
