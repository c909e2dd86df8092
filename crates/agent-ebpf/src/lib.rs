//! Kernel-side eBPF programs (TC/TCX flow capture and tracing hooks). The programs are built for
//! `bpfel-unknown-none` by the agent's build script once the agent issue lands; until then the
//! crate is an empty `no_std` library so the workspace builds on the host.
#![no_std]
