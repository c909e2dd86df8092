//! A pcapng writer for packet capture: one section header, an interface description per
//! interface (with `if_tsresol` set to nanoseconds), and an enhanced packet block per packet with
//! its direction (`epb_flags`) and comments. [`enrichment`] turns the Kubernetes enrichment of a
//! packet into such comments.
//!
//! Written here rather than taken from a crate: `pcap-file` (the maintained Rust pcap crate; its
//! last stable release, 2.0.0, is from 2022, 3.0 is still a release candidate) writes the
//! enhanced packet time stamp in nanoseconds whatever resolution the interface declares, so a
//! caller must know to add `if_tsresol` itself, and it builds owned block values per packet. The
//! format needs little: this writer encodes each block into one reused buffer and hands it to the
//! output in one write. Format: IETF draft-ietf-opsawg-pcapng (sections 4.1, 4.2, 4.3).

pub mod enrichment;

use std::io::Write;

/// `LINKTYPE_ETHERNET`: frames starting with an Ethernet header.
pub const LINKTYPE_ETHERNET: u16 = 1;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const EPB_FLAGS: u16 = 2;

/// Why a block could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The output refused the bytes.
    #[error("writing the pcapng output: {0}")]
    Io(#[from] std::io::Error),
    /// An option value (a comment, a name) is longer than an option can hold.
    #[error("{what} of {len} bytes is longer than a pcapng option can hold (65,535 bytes)")]
    OptionTooLong {
        /// Which option.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A packet names an interface that has no description block yet.
    #[error("packet on interface {0}, which was never described (see Writer::add_interface)")]
    UnknownInterface(u32),
    /// A block would exceed the 32-bit block length.
    #[error("block of {0} bytes exceeds the 4 GiB pcapng block limit")]
    BlockTooLong(usize),
}

/// Direction of a packet on its interface, recorded in `epb_flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received by the interface.
    Inbound,
    /// Sent by the interface.
    Outbound,
}

/// An interface the packets of a file were captured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface<'a> {
    /// Link type of its frames ([`LINKTYPE_ETHERNET`]).
    pub link_type: u16,
    /// Most bytes captured per packet (0: no limit).
    pub snap_len: u32,
    /// Name (`if_name`), e.g. `eth0`; empty to leave it out.
    pub name: &'a str,
    /// Free text (`if_description`), e.g. the node it is on; empty to leave it out.
    pub description: &'a str,
}

/// One packet to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Interface id returned by [`Writer::add_interface`].
    pub interface_id: u32,
    /// Capture time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Length of the packet on the wire (≥ `data.len()` when truncated to the snap length).
    pub orig_len: u32,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Direction, when known.
    pub direction: Option<Direction>,
    /// Comments (`opt_comment`, one option each), e.g. from [`enrichment::Enrichment::comments`].
    pub comments: &'a [String],
}

/// Writes a pcapng stream: the section header at creation, then interfaces and packets.
pub struct Writer<W: Write> {
    out: W,
    interfaces: u32,
    block: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Starts a section (little endian, unknown length) written by `application`
    /// (`shb_userappl`).
    pub fn new(out: W, application: &str) -> Result<Self, Error> {
        let mut w = Self {
            out,
            interfaces: 0,
            block: Vec::with_capacity(4096),
        };
        w.begin(SHB);
        w.u32(BYTE_ORDER_MAGIC);
        w.u16(1); // major version
        w.u16(0); // minor version
        w.block.extend_from_slice(&(-1i64).to_le_bytes()); // section length: not given
        w.option(SHB_USERAPPL, application.as_bytes(), "shb_userappl")?;
        w.end_options();
        w.finish()?;
        Ok(w)
    }

    /// Describes an interface, with nanosecond time stamps; returns its id for [`Packet`].
    pub fn add_interface(&mut self, iface: &Interface<'_>) -> Result<u32, Error> {
        self.begin(IDB);
        self.u16(iface.link_type);
        self.u16(0); // reserved
        self.u32(iface.snap_len);
        if !iface.name.is_empty() {
            self.option(IF_NAME, iface.name.as_bytes(), "if_name")?;
        }
        if !iface.description.is_empty() {
            self.option(
                IF_DESCRIPTION,
                iface.description.as_bytes(),
                "if_description",
            )?;
        }
        // 10^-9 s: the time stamps of this interface's packets are nanoseconds.
        self.option(IF_TSRESOL, &[9], "if_tsresol")?;
        self.end_options();
        self.finish()?;
        let id = self.interfaces;
        self.interfaces += 1;
        Ok(id)
    }

    /// Number of interfaces described so far (the next id).
    pub fn interfaces(&self) -> u32 {
        self.interfaces
    }

    /// Writes one enhanced packet block.
    pub fn write_packet(&mut self, p: &Packet<'_>) -> Result<(), Error> {
        if p.interface_id >= self.interfaces {
            return Err(Error::UnknownInterface(p.interface_id));
        }
        let cap_len = u32::try_from(p.data.len()).map_err(|_| Error::BlockTooLong(p.data.len()))?;
        self.begin(EPB);
        self.u32(p.interface_id);
        self.u32((p.timestamp_ns >> 32) as u32);
        self.u32(p.timestamp_ns as u32);
        self.u32(cap_len);
        self.u32(p.orig_len.max(cap_len));
        self.block.extend_from_slice(p.data);
        self.pad();
        let mut any = false;
        if let Some(d) = p.direction {
            let flags: u32 = match d {
                Direction::Inbound => 1,
                Direction::Outbound => 2,
            };
            self.option(EPB_FLAGS, &flags.to_le_bytes(), "epb_flags")?;
            any = true;
        }
        for c in p.comments.iter().filter(|c| !c.is_empty()) {
            self.option(OPT_COMMENT, c.as_bytes(), "comment")?;
            any = true;
        }
        if any {
            self.end_options();
        }
        self.finish()
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.out.flush()?;
        Ok(())
    }

    /// The output, flushed.
    pub fn into_inner(mut self) -> Result<W, Error> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// Starts a block of `kind` in the buffer (its length is filled in by [`Self::finish`]).
    fn begin(&mut self, kind: u32) {
        self.block.clear();
        self.u32(kind);
        self.u32(0);
    }

    /// Appends an option (code, length, value, padding).
    fn option(&mut self, code: u16, value: &[u8], what: &'static str) -> Result<(), Error> {
        let len = u16::try_from(value.len()).map_err(|_| Error::OptionTooLong {
            what,
            len: value.len(),
        })?;
        self.u16(code);
        self.u16(len);
        self.block.extend_from_slice(value);
        self.pad();
        Ok(())
    }

    fn end_options(&mut self) {
        self.u16(OPT_END);
        self.u16(0);
    }

    /// Writes the total length at both ends of the block and sends it out.
    fn finish(&mut self) -> Result<(), Error> {
        let total = self.block.len() + 4;
        let len = u32::try_from(total).map_err(|_| Error::BlockTooLong(total))?;
        self.block[4..8].copy_from_slice(&len.to_le_bytes());
        self.u32(len);
        self.out.write_all(&self.block)?;
        Ok(())
    }

    fn pad(&mut self) {
        let n = (4 - self.block.len() % 4) % 4;
        self.block.extend_from_slice(&[0; 3][..n]);
    }

    fn u16(&mut self, v: u16) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.block.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(type, body)` of every block, checking both length fields and the 4-byte alignment.
    fn blocks(mut b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let word = |s: &[u8], i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
        let mut out = Vec::new();
        while !b.is_empty() {
            let (kind, len) = (word(b, 0), word(b, 4) as usize);
            assert_eq!(len % 4, 0, "block length {len} not a multiple of 4");
            assert_eq!(word(b, len - 4) as usize, len, "trailing length");
            out.push((kind, b[8..len - 4].to_vec()));
            b = &b[len..];
        }
        out
    }

    #[test]
    fn blocks_are_framed_and_packets_padded() {
        let mut w = Writer::new(Vec::new(), "app").unwrap();
        let id = w
            .add_interface(&Interface {
                link_type: LINKTYPE_ETHERNET,
                snap_len: 256,
                name: "eth0",
                description: "",
            })
            .unwrap();
        w.write_packet(&Packet {
            interface_id: id,
            timestamp_ns: (7u64 << 32) | 9,
            orig_len: 1500,
            data: &[1, 2, 3, 4, 5],
            direction: None,
            comments: &[],
        })
        .unwrap();
        let out = w.into_inner().unwrap();
        let b = blocks(&out);
        assert_eq!(
            b.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![SHB, IDB, EPB]
        );
        assert_eq!(&b[0].1[..4], &BYTE_ORDER_MAGIC.to_le_bytes());
        // if_tsresol = 9 (nanoseconds) is among the interface's options.
        assert!(
            b[1].1.windows(5).any(|w| w == [9, 0, 1, 0, 9]),
            "{:?}",
            b[1].1
        );
        let epb = &b[2].1;
        assert_eq!(&epb[4..8], &7u32.to_le_bytes(), "time stamp high word");
        assert_eq!(&epb[8..12], &9u32.to_le_bytes(), "time stamp low word");
        assert_eq!(&epb[12..16], &5u32.to_le_bytes(), "captured length");
        assert_eq!(&epb[16..20], &1500u32.to_le_bytes(), "original length");
        assert_eq!(epb.len(), 20 + 8, "5 data bytes padded to 8, no options");
    }

    #[test]
    fn oversized_comments_are_refused_not_cut() {
        let mut w = Writer::new(Vec::new(), "app").unwrap();
        let id = w
            .add_interface(&Interface {
                link_type: LINKTYPE_ETHERNET,
                snap_len: 0,
                name: "",
                description: "",
            })
            .unwrap();
        let e = w
            .write_packet(&Packet {
                interface_id: id,
                timestamp_ns: 0,
                orig_len: 1,
                data: &[0],
                direction: None,
                comments: &["x".repeat(70_000)],
            })
            .unwrap_err();
        assert!(e.to_string().contains("70000 bytes"), "{e}");
    }
}
