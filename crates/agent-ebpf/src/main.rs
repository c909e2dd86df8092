//! Kernel side of the flow agent, built for `bpfel-unknown-none` by `crates/agent/build.rs`.
//!
//! One module per job: the flow classifiers ([`monitor`]) and what they use (header parsing,
//! the shared flow map, the per-CPU flow cache, the ring buffer of first packets, filter rules,
//! DNS, TLS and QUIC tracking), one module per tracing hook feature (FlowRTT, PacketDrop,
//! PacketTranslation, NetworkEvents, IPsec), and packet capture ([`capture`]: classifiers of
//! its own). A new hook is a new module here, with its maps, globals and programs, plus its
//! `mod` line.
//!
//! The programs never alter traffic: TC programs return `TC_ACT_OK`, TCX programs `TCX_NEXT`.
#![no_std]
#![no_main]
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod base;
mod cache;
mod capture;
mod clock;
mod dns;
mod drops;
mod filter;
mod flow;
mod flowmap;
mod ipsec;
mod monitor;
mod netevents;
mod parse;
mod quic;
mod ring;
mod rtt;
mod tls;
mod xlat;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
