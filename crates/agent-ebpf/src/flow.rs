//! A flow as the per-packet path handles it: the key being built ([`KeyBuf`]), its hash on an
//! interface and direction ([`flow_hash`]), and what one packet adds to it ([`Delta`]).

use netobserv_agent_common::FlowId;

/// A flow key on an 8-byte boundary, so the parser fills it with word stores.
#[repr(C, align(8))]
#[derive(Default)]
pub(crate) struct KeyBuf {
    pub(crate) id: FlowId,
}

impl KeyBuf {
    /// Writes the `i`th 32-bit word of the key.
    #[inline(always)]
    pub(crate) fn set_u32(&mut self, i: usize, v: u32) {
        // SAFETY: `i` < 10 at every call site (the key is 40 bytes) and `self` is 8-aligned.
        unsafe { (self as *mut Self as *mut u32).add(i).write(v) };
    }

    /// Writes the `i`th 64-bit word of the key.
    #[inline(always)]
    pub(crate) fn set_u64(&mut self, i: usize, v: u64) {
        // SAFETY: `i` < 5 at every call site and `self` is 8-aligned.
        unsafe { (self as *mut Self as *mut u64).add(i).write(v) };
    }
}

/// Bytes 8..12 of a v4-mapped address (`::ffff:a.b.c.d`), as a little-endian word.
pub(crate) const V4_MAPPED_PREFIX: u32 = 0xffff_0000;

/// Hash of a flow on an interface and direction: Fibonacci hashing of the folded key words (the
/// top bits of the product depend on every input bit). Its top bits pick the flow's cache slot
/// and its `flow_seen` entry; the whole value is the flow's fingerprint there.
#[inline(always)]
pub(crate) fn flow_hash(key: &KeyBuf, ifindex: u32, direction: u8) -> u32 {
    let w = key as *const KeyBuf as *const u32;
    let mut h = ifindex ^ (u32::from(direction) << 24);
    for i in 0..10 {
        // SAFETY: the key is 40 bytes, 8-aligned.
        h ^= unsafe { w.add(i).read() }.rotate_left(i as u32 * 3);
    }
    h.wrapping_mul(0x9E37_79B1)
}

/// What one packet (or a flushed cache slot, or a drop) adds to a flow.
pub(crate) struct Delta {
    pub(crate) packets: u32,
    pub(crate) bytes: u64,
    pub(crate) flags: u16,
    pub(crate) dscp: u8,
    pub(crate) sampling: u32,
    /// Time of the latest packet.
    pub(crate) end: u64,
}
