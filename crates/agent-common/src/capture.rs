//! Packet capture (upstream's PCA, `ENABLE_PCA=true`): the header the kernel writes before each
//! captured packet in the `packet_record` ring buffer, and the names user space loads, sizes and
//! attaches by.
//!
//! A record is a [`PacketMeta`] followed by `cap_len` bytes of the frame (Ethernet header
//! first), then padding up to the record's size class (see [`record_class`]).

/// Default snap length: the bytes copied per packet, upstream's fixed `MAX_PAYLOAD_SIZE`.
pub const DEFAULT_SNAPLEN: u32 = 256;

/// Largest snap length the kernel programs copy: the largest record size class. A 64 KiB GSO
/// packet (the largest an skb carries) fits whole.
pub const MAX_SNAPLEN: u32 = 65_536;

/// Bytes of frame data a record of each size class holds, smallest first. Ring records must have
/// a size the verifier knows, so the kernel picks the smallest class that holds the bytes it
/// copies; classes grow by about a half, so a record wastes at most a third of its data room.
pub const RECORD_CLASSES: [u32; 21] = [
    64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12_288, 16_384,
    24_576, 32_768, 49_152, 65_536,
];

/// The size class (data bytes) of a record holding `cap_len` bytes: the smallest of
/// [`RECORD_CLASSES`] that holds them (the largest for anything above it).
pub const fn record_class(cap_len: u32) -> u32 {
    let mut i = 0;
    while i < RECORD_CLASSES.len() {
        if cap_len <= RECORD_CLASSES[i] {
            return RECORD_CLASSES[i];
        }
        i += 1;
    }
    MAX_SNAPLEN
}

/// What the kernel knows of one captured packet, written before its bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the program saw the packet.
    pub timestamp: u64,
    /// Length of the frame (`skb->len`, Ethernet header included).
    pub len: u32,
    /// Bytes copied after this header: `min(len, snap length)`.
    pub cap_len: u32,
    /// Interface the packet was seen on.
    pub if_index: u32,
    /// `DIRECTION_INGRESS` or `DIRECTION_EGRESS`.
    pub direction: u8,
    /// Explicit trailing padding.
    pub pad: [u8; 3],
}

/// Size of [`PacketMeta`] in a record.
pub const PACKET_META_BYTES: usize = core::mem::size_of::<PacketMeta>();

/// Names of the load-time globals of the capture programs.
pub mod globals {
    /// `u32`: bytes copied per packet at most (`PCA_SNAPLEN`), 1 to `MAX_SNAPLEN`.
    pub const PCA_SNAPLEN: &str = "PCA_SNAPLEN";
    /// `u32`: log2 of the step of waiting bytes in `packet_record` at which a record wakes user
    /// space up (crossing each multiple); 0 = never, user space polls.
    pub const PCA_WAKEUP_SHIFT: &str = "PCA_WAKEUP_SHIFT";
}

/// Name of the ring buffer of captured packets (upstream's name).
pub const PACKET_RECORD_MAP: &str = "packet_record";

/// Names of the capture classifiers (upstream's program names).
pub mod programs {
    /// Legacy TC (clsact) ingress.
    pub const TC_INGRESS: &str = "tc_ingress_pca_parse";
    /// Legacy TC (clsact) egress.
    pub const TC_EGRESS: &str = "tc_egress_pca_parse";
    /// TCX ingress (returns `TCX_NEXT`).
    pub const TCX_INGRESS: &str = "tcx_ingress_pca_parse";
    /// TCX egress (returns `TCX_NEXT`).
    pub const TCX_EGRESS: &str = "tcx_egress_pca_parse";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_layout() {
        assert_eq!(PACKET_META_BYTES, 24);
        assert_eq!(core::mem::offset_of!(PacketMeta, cap_len), 12);
        assert_eq!(core::mem::offset_of!(PacketMeta, direction), 20);
    }

    #[test]
    fn classes_grow_and_waste_at_most_a_third() {
        assert_eq!(*RECORD_CLASSES.last().unwrap(), MAX_SNAPLEN);
        for w in RECORD_CLASSES.windows(2) {
            assert!(w[0] < w[1]);
            // The bytes of a packet just above a class fill more than two thirds of the next.
            assert!((w[0] + 1) * 3 > w[1] * 2 - 3, "{w:?}");
            assert_eq!(w[1] % 8, 0, "records stay 8-byte aligned");
        }
        assert_eq!(record_class(1), 64);
        assert_eq!(record_class(256), 256);
        assert_eq!(record_class(257), 384);
        assert_eq!(record_class(1500), 1536);
        assert_eq!(record_class(70_000), MAX_SNAPLEN);
    }
}
