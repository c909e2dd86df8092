//! Linker flags for the eBPF object. bpf-linker by default asks LLVM to expand memcpy "in order",
//! which turns every memset/memmove into a call to a function the verifier rejects; disabling it
//! lets LLVM expand all three as plain loads and stores.
fn main() {
    println!("cargo:rustc-link-arg-bins=--disable-expand-memcpy-in-order");
    println!("cargo:rerun-if-changed=build.rs");
}
