//! The compiled kernel object (`crates/agent-ebpf`), built by `build.rs`.

/// The object's bytes, aligned for the loader.
static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/netobserv-agent-ebpf"));

/// The compiled kernel object (for loaders outside `Tracer::load`, e.g. verifier checks).
pub fn ebpf_object() -> &'static [u8] {
    EBPF_OBJECT
}
