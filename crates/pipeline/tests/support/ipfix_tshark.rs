//! IPFIX messages read back by Debian's `tshark` (Wireshark's IPFIX dissector, not our code):
//! shared by the pipeline's `ipfix` writer test and the agent's `EXPORT=ipfix+*` test, which
//! includes this file by path.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// A scratch pcapng path for `name`, unique to this process.
pub fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "netobserv-ipfix-{name}-{}.pcapng",
        std::process::id()
    ))
}

/// Wraps each message in Ethernet / IPv4 / UDP to port 4739 and writes a pcapng file.
pub fn pcap(messages: &[Vec<u8>], path: &Path) {
    let file = std::fs::File::create(path).expect("pcap file");
    let mut w = pcapng::Writer::new(file, "ipfix test").expect("writer");
    let iface = w
        .add_interface(&pcapng::Interface {
            link_type: pcapng::LINKTYPE_ETHERNET,
            snap_len: 0,
            name: "lo",
            description: "",
        })
        .expect("interface");
    for (i, m) in messages.iter().enumerate() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&0x0800u16.to_be_bytes());
        let total = (20 + 8 + m.len()) as u16;
        frame.extend_from_slice(&[0x45, 0]);
        frame.extend_from_slice(&total.to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        frame.extend_from_slice(&40000u16.to_be_bytes());
        frame.extend_from_slice(&4739u16.to_be_bytes());
        frame.extend_from_slice(&((8 + m.len()) as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(m);
        w.write_packet(&pcapng::Packet {
            interface_id: iface,
            timestamp_ns: 1_764_914_400_000_000_000 + i as u64 * 1000,
            orig_len: frame.len() as u32,
            data: &frame,
            direction: None,
            comments: &[],
        })
        .expect("packet");
    }
    w.flush().expect("flush");
}

/// tshark's decoding of the file: one JSON object per data record (its `cflow` fields).
pub fn tshark_records(path: &Path) -> Vec<serde_json::Map<String, Value>> {
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            path.to_str().expect("utf-8 path"),
            "-T",
            "json",
            "-d",
            "udp.port==4739,cflow",
        ])
        .output()
        .expect("tshark runs (Debian package tshark)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: Vec<Value> = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    let mut records = Vec::new();
    for p in &packets {
        collect_flows(&p["_source"]["layers"]["cflow"], &mut records);
    }
    records
}

/// Data records sit in tshark's tree as objects named `Flow N`.
fn collect_flows(v: &Value, out: &mut Vec<serde_json::Map<String, Value>>) {
    if let Value::Object(m) = v {
        for (k, child) in m {
            if k.starts_with("Flow ") {
                if let Value::Object(f) = child {
                    out.push(f.clone());
                }
            } else {
                collect_flows(child, out);
            }
        }
    }
}

/// The next IPFIX message on a TCP stream (each header carries its length); `None` once the
/// stream ends or stays quiet past its read timeout.
pub fn read_message(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut header = [0u8; 16];
    stream.read_exact(&mut header).ok()?;
    assert_eq!(
        u16::from_be_bytes([header[0], header[1]]),
        10,
        "IPFIX version"
    );
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let mut msg = header.to_vec();
    msg.resize(len.max(16), 0);
    stream.read_exact(&mut msg[16..]).ok()?;
    Some(msg)
}

/// `n` messages from a TCP stream, waiting up to 10 s for each.
pub fn read_messages(stream: &mut std::net::TcpStream, n: usize) -> Vec<Vec<u8>> {
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("read timeout");
    (0..n)
        .map(|_| read_message(stream).expect("an IPFIX message within 10 s"))
        .collect()
}
