//! Plain `#[repr(C)]` types shared between the kernel programs and user space. They live apart
//! from both so that the byte layout is defined once and checked on both sides.
#![no_std]
