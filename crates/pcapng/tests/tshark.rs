//! Files written by the writer, read back by Debian's `tshark` (an independent pcapng reader):
//! every packet with its bytes, nanosecond time stamp, original length, interface name,
//! direction and comments. `scripts/prerequisites.sh` installs tshark.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use pcapng::enrichment::{Endpoint, Enrichment};
use pcapng::{Direction, Interface, LINKTYPE_ETHERNET, Packet, Writer};
use std::process::Command;

/// Runs tshark on `path` with `args`, failing (never skipping) when it is missing.
fn tshark(path: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(args)
        .output()
        .expect("tshark is missing: run scripts/prerequisites.sh");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// An Ethernet + IPv4 + UDP frame of `len` bytes with a recognisable payload.
fn frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&4000u16.to_be_bytes());
    f[36..38].copy_from_slice(&5000u16.to_be_bytes());
    f[38..40].copy_from_slice(&(ip_len - 20).to_be_bytes());
    for (i, b) in f[42..].iter_mut().enumerate() {
        *b = seed.wrapping_add(i as u8);
    }
    f
}

#[test]
fn tshark_reads_packets_times_interfaces_directions_and_comments() {
    let dir = std::env::temp_dir().join(format!("pcapng-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.pcapng");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = Writer::new(file, "netobserv-rs test").unwrap();
    let eth0 = w
        .add_interface(&Interface {
            link_type: LINKTYPE_ETHERNET,
            snap_len: 128,
            name: "eth0",
            description: "node-a",
        })
        .unwrap();
    let veth = w
        .add_interface(&Interface {
            link_type: LINKTYPE_ETHERNET,
            snap_len: 128,
            name: "veth1",
            description: "",
        })
        .unwrap();
    let enrichment = Enrichment {
        source: Endpoint {
            namespace: "shop".into(),
            name: "cart-7d9f".into(),
            kind: "Pod".into(),
            owner_name: "cart".into(),
            owner_kind: "Deployment".into(),
            host_name: "node-a".into(),
            ..Endpoint::default()
        },
        destination: Endpoint {
            namespace: "db".into(),
            name: "pg-0".into(),
            kind: "Pod".into(),
            owner_name: "pg".into(),
            owner_kind: "StatefulSet".into(),
            host_name: "node-b".into(),
            ..Endpoint::default()
        },
        common: vec![("Interfaces".into(), "eth0".into())],
    };
    let comments = enrichment.comments();
    let full = frame(60, 1);
    let long = frame(1000, 7);
    let times = [1_700_000_000_123_456_789u64, 1_700_000_001_000_000_001];
    w.write_packet(&Packet {
        interface_id: eth0,
        timestamp_ns: times[0],
        orig_len: 60,
        data: &full,
        direction: Some(Direction::Outbound),
        comments: &comments,
    })
    .unwrap();
    w.write_packet(&Packet {
        interface_id: veth,
        timestamp_ns: times[1],
        orig_len: 1000,
        data: &long[..128],
        direction: Some(Direction::Inbound),
        comments: &[],
    })
    .unwrap();
    assert!(matches!(
        w.write_packet(&Packet {
            interface_id: 2,
            timestamp_ns: 0,
            orig_len: 1,
            data: &[0],
            direction: None,
            comments: &[],
        }),
        Err(pcapng::Error::UnknownInterface(2))
    ));
    w.into_inner().unwrap();

    let fields = tshark(
        &path,
        &[
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.packet_flags_direction",
            "-e",
            "udp.srcport",
        ],
    );
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 2, "{fields}");
    assert_eq!(
        rows[0][0], "1700000000.123456789",
        "nanoseconds kept: {fields}"
    );
    assert_eq!(rows[1][0], "1700000001.000000001", "{fields}");
    assert_eq!(&rows[0][1..4], &["60", "60", "eth0"]);
    assert_eq!(&rows[1][1..4], &["1000", "128", "veth1"]);
    assert_eq!(rows[0][4], "0x00000002", "outbound: {fields}");
    assert_eq!(rows[1][4], "0x00000001", "inbound: {fields}");
    assert_eq!(rows[0][5], "4000", "the frame is dissected: {fields}");

    // The bytes: tshark's hex dump of each frame is what was written.
    let hex = tshark(&path, &["-x"]);
    let dumped = dumped_bytes(&hex);
    assert_eq!(dumped, vec![full.clone(), long[..128].to_vec()]);

    // The comments, and a display filter on them.
    let c = tshark(&path, &["-T", "fields", "-e", "frame.comment"]);
    let first = c.lines().next().unwrap();
    for want in [
        "SrcK8S_Namespace: shop",
        "SrcK8S_OwnerName: cart",
        "SrcK8S_OwnerType: Deployment",
        "SrcK8S_HostName: node-a",
        "DstK8S_Name: pg-0",
        "DstK8S_OwnerType: StatefulSet",
        "DstK8S_HostName: node-b",
        "Interfaces: eth0",
    ] {
        assert!(first.contains(want), "{want} missing from {first:?}");
    }
    let filtered = tshark(
        &path,
        &[
            "-Y",
            "frame.comment contains \"DstK8S_Namespace: db\"",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    );
    assert_eq!(filtered.trim(), "1");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The frames of `tshark -x` output (hex dump lines `0000  02 00 ...`), one per packet.
fn dumped_bytes(out: &str) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    for line in out.lines() {
        let is_dump = line.len() > 6
            && line[..4].chars().all(|c| c.is_ascii_hexdigit())
            && &line[4..6] == "  ";
        if !is_dump {
            if !cur.is_empty() {
                frames.push(std::mem::take(&mut cur));
            }
            continue;
        }
        // Offset, two spaces, up to 16 hex bytes separated by spaces, then the ASCII column.
        let hex = &line[6..line.len().min(6 + 16 * 3)];
        cur.extend(
            hex.split_whitespace()
                .take_while(|t| t.len() == 2)
                .filter_map(|t| u8::from_str_radix(t, 16).ok()),
        );
    }
    if !cur.is_empty() {
        frames.push(cur);
    }
    frames
}
