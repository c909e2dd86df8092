//! The `packet_record` ring buffer from user space: each record parsed into its kernel header and
//! bytes, the monotonic time stamp turned into wall-clock nanoseconds, the interface index into
//! a name, and the result into a `pbpacket.Packet` (a pcap record in an `Any`).

use crate::convert::Clock;
use crate::error::{TracerError, take_typed_map};
use crate::ifaces::IfaceNames;
use aya::maps::{MapData, RingBuf};
use netobserv_agent_common::capture::{PACKET_META_BYTES, PACKET_RECORD_MAP, PacketMeta};
use netobserv_agent_common::{DIRECTION_EGRESS, DIRECTION_INGRESS};
use pbflow::pbpacket::{Packet, pcap_record_header};
use std::time::UNIX_EPOCH;

/// One record of the ring: the kernel's header and the bytes it copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Captured<'a> {
    /// What the kernel knew of the packet.
    pub meta: PacketMeta,
    /// The first `meta.cap_len` bytes of the frame.
    pub data: &'a [u8],
}

/// Parses one ring record; `None` when it is shorter than its header says (never expected).
pub fn parse_record(rec: &[u8]) -> Option<Captured<'_>> {
    if rec.len() < PACKET_META_BYTES {
        return None;
    }
    // SAFETY: the record holds at least a `PacketMeta`, a plain-integer `repr(C)` type for which
    // any bytes are valid; read unaligned from the ring's memory.
    let meta: PacketMeta = unsafe { std::ptr::read_unaligned(rec.as_ptr().cast::<PacketMeta>()) };
    let data = rec.get(PACKET_META_BYTES..PACKET_META_BYTES + meta.cap_len as usize)?;
    Some(Captured { meta, data })
}

/// The interface a packet was seen on: by index in the observed namespace, else by index and
/// the interface's own MAC address (the frame's source when sent, destination when received)
/// among the secondary namespaces' interfaces; empty when unknown.
pub(crate) fn interface_name(names: &IfaceNames, c: &Captured<'_>) -> String {
    if let Some(n) = names.by_index.get(&c.meta.if_index) {
        return n.clone();
    }
    let mac_at = |off: usize| -> Option<[u8; 6]> { c.data.get(off..off + 6)?.try_into().ok() };
    let own = if c.meta.direction == DIRECTION_EGRESS {
        mac_at(6)
    } else {
        mac_at(0)
    };
    own.and_then(|mac| names.by_mac.get(&(c.meta.if_index, mac)).cloned())
        .unwrap_or_default()
}

/// The wire form of a captured packet: the pcap record (16-byte header, microseconds, then the
/// bytes) in `pcap`, and the nanosecond time, interface and direction in the added fields.
pub fn to_packet(c: &Captured<'_>, clock: &Clock, interface: String) -> Packet {
    let time_ns = clock
        .wall_of(c.meta.timestamp)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut value = Vec::with_capacity(16 + c.data.len());
    value.extend_from_slice(&pcap_record_header(
        time_ns,
        c.data.len() as u32,
        c.meta.len,
    ));
    value.extend_from_slice(c.data);
    Packet {
        pcap: Some(prost_types::Any {
            type_url: String::new(),
            value,
        }),
        timestamp_ns: time_ns,
        interface,
        if_index: c.meta.if_index,
        direction: u32::from(c.meta.direction != DIRECTION_INGRESS),
    }
}

/// The ring, read by the capture's drain task.
pub struct PacketRing {
    ring: RingBuf<MapData>,
    /// Records too short for their header (never expected; counted).
    pub malformed: u64,
}

impl PacketRing {
    /// Takes the ring out of the loaded object.
    pub(crate) fn take(ebpf: &mut aya::Ebpf) -> Result<Self, TracerError> {
        Ok(Self {
            ring: take_typed_map(ebpf, PACKET_RECORD_MAP)?,
            malformed: 0,
        })
    }

    /// A descriptor that becomes readable when the kernel wakes user space up.
    pub fn notify_fd(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.ring.as_fd().try_clone_to_owned()
    }

    /// Reads up to `max` waiting records, handing each to `sink` as a packet; returns how many.
    pub(crate) fn drain(
        &mut self,
        names: &IfaceNames,
        max: usize,
        mut sink: impl FnMut(Packet),
    ) -> usize {
        let clock = Clock::now();
        let mut n = 0;
        while n < max {
            let Some(item) = self.ring.next() else {
                break;
            };
            match parse_record(&item) {
                Some(c) => sink(to_packet(&c, &clock, interface_name(names, &c))),
                None => self.malformed += 1,
            }
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(meta: PacketMeta, data: &[u8]) -> Vec<u8> {
        // SAFETY: `PacketMeta` is plain integers with explicit padding.
        let head: [u8; PACKET_META_BYTES] = unsafe { std::mem::transmute(meta) };
        let mut r = head.to_vec();
        r.extend_from_slice(data);
        r.resize(r.len().next_multiple_of(64), 0xee); // the rest of the size class
        r
    }

    #[test]
    fn records_become_pcap_records_with_wall_clock_nanoseconds() {
        let mut frame = vec![0u8; 60];
        frame[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 0xb]);
        frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0xa]);
        let meta = PacketMeta {
            timestamp: 5_000_000_000,
            len: 1514,
            cap_len: 60,
            if_index: 9,
            direction: DIRECTION_EGRESS,
            pad: [0; 3],
        };
        let rec = record(meta, &frame);
        let c = parse_record(&rec).unwrap();
        assert_eq!(c.data, &frame[..]);
        let wall = UNIX_EPOCH + Duration::from_nanos(1_700_000_010_250_000_123);
        let clock = Clock::from_parts(10_000_000_000, wall);
        let mut names = IfaceNames::default();
        names
            .by_mac
            .insert((9, [2, 0, 0, 0, 0, 0xa]), "eth1@ns".to_string());
        let p = to_packet(&c, &clock, interface_name(&names, &c));
        assert_eq!(
            p.timestamp_ns, 1_700_000_005_250_000_123,
            "5 s before the clock"
        );
        assert_eq!(
            (p.interface.as_str(), p.if_index, p.direction),
            ("eth1@ns", 9, 1)
        );
        let r = p.record().unwrap();
        assert_eq!(
            (r.time_ns, r.orig_len, r.data),
            (p.timestamp_ns, 1514, &frame[..])
        );
        let v = &p.pcap.as_ref().unwrap().value;
        assert_eq!(
            &v[4..8],
            &250_000u32.to_le_bytes(),
            "microseconds in the header"
        );
        names.by_index.insert(9, "eth0".into());
        assert_eq!(interface_name(&names, &c), "eth0");
    }

    #[test]
    fn short_records_are_refused() {
        assert!(parse_record(&[0; 10]).is_none());
        let meta = PacketMeta {
            cap_len: 100,
            ..PacketMeta::default()
        };
        // SAFETY: as above.
        let head: [u8; PACKET_META_BYTES] = unsafe { std::mem::transmute(meta) };
        assert!(parse_record(&head).is_none(), "header promises more bytes");
    }
}
