//! UDP load for `scripts/bench-agent` and `scripts/bench-capture`: 64-byte frames (22-byte
//! payload, or PAYLOAD bytes) at a target rate, cycling over N destination ports so that each
//! packet is a new 5-tuple when N is large.
//! Usage: `udp_flood DST_IP PPS SECONDS DISTINCT_PORTS [SOCKETS [PAYLOAD]]`; prints the packets
//! sent. With several sockets (distinct source ports) the number of 5-tuples is PORTS × SOCKETS.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if !(5..=7).contains(&args.len()) {
        return Err(
            "usage: udp_flood DST_IP PPS SECONDS DISTINCT_PORTS [SOCKETS [PAYLOAD]]".into(),
        );
    }
    let dst: std::net::IpAddr = args[1].parse()?;
    let pps: u64 = args[2].parse()?;
    let secs: u64 = args[3].parse()?;
    let ports: u64 = args[4].parse::<u64>()?.clamp(1, 60_000);
    let nsocks: usize = args.get(5).map_or(Ok(1), |s| s.parse())?;
    let socks = (0..nsocks.max(1))
        .map(|_| UdpSocket::bind("0.0.0.0:0"))
        .collect::<Result<Vec<_>, _>>()?;
    // 14 Ethernet + 20 IPv4 + 8 UDP + 22 payload = 64 bytes on the wire.
    let payload = vec![0u8; args.get(6).map_or(Ok(22), |s| s.parse::<usize>())?];
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut sent: u64 = 0;
    while Instant::now() < end {
        // Pace in 1 ms slices; pps = 0 means as fast as possible.
        let due = if pps == 0 {
            sent + 1000
        } else {
            start.elapsed().as_micros() as u64 * pps / 1_000_000
        };
        while sent < due {
            let port = 1024 + (sent % ports) as u16;
            let sock = &socks[((sent / ports) as usize) % socks.len()];
            // Errors (e.g. ICMP unreachable feedback) do not stop the load.
            let _ = sock.send_to(&payload, (dst, port));
            sent += 1;
        }
        if pps != 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    println!("sent={sent} pps={}", sent / secs.max(1));
    Ok(())
}
