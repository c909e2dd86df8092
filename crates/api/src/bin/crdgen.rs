//! Writes the generated CRD manifests (`make manifests`). Placeholder body until `crd` lands.
fn main() {}
