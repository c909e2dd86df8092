//! Cost of the PacketTranslation conntrack fallback, printed (a benchmark, not a test):
//! parsing + recording one conntrack NEW event (paid once per new NAT-ed connection, on the
//! listener thread), and looking flows up at eviction (paid once per evicted flow).
//! `cargo run --release -p netobserv-agent --example bench_xlat`
#![allow(clippy::unwrap_used, missing_docs)]

use netobserv_agent::conntrack::{Table, Tuple, encode_new, parse_message};
use netobserv_agent_common::FlowId;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn v4(a: u32) -> [u8; 16] {
    std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets()
}

fn main() {
    const N: u32 = 100_000;
    let msgs: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let client = 0x0a00_0000 | (i >> 8);
            let orig = Tuple {
                src: v4(client),
                dst: v4(0x0a60_000a),
                sport: (i & 0xffff) as u16,
                dport: 80,
                proto: 6,
                v4: true,
            };
            let reply = Tuple {
                src: v4(0x0ac7_0002),
                dst: v4(client),
                sport: 8080,
                dport: (i & 0xffff) as u16,
                proto: 6,
                v4: true,
            };
            encode_new(&orig, &reply, 0)
        })
        .collect();
    let ids: Vec<FlowId> = (0..N)
        .map(|i| FlowId {
            src_ip: v4(0x0a00_0000 | (i >> 8)),
            // Every other flow was not translated (a miss).
            dst_ip: v4(if i % 2 == 0 { 0x0a60_000a } else { 0x0a60_000b }),
            src_port: (i & 0xffff) as u16,
            dst_port: 80,
            transport_protocol: 6,
            ..FlowId::default()
        })
        .collect();
    for round in 0..3 {
        let table = Table::new(N as usize * 2, Duration::from_secs(10));
        let t0 = Instant::now();
        for m in &msgs {
            if let Some(ev) = parse_message(black_box(m)) {
                table.apply(&ev);
            }
        }
        let per_event = t0.elapsed().as_nanos() as f64 / f64::from(N);
        let t1 = Instant::now();
        let found = table.lookup(black_box(&ids).iter());
        let per_lookup = t1.elapsed().as_nanos() as f64 / f64::from(N);
        assert_eq!(found.len(), N as usize / 2);
        println!(
            "round {round}: {per_event:.0} ns per conntrack NEW event (parse + record), \
             {per_lookup:.0} ns per flow looked up at eviction (50% hits), table {} entries, \
             message {} bytes",
            table.len(),
            msgs[0].len()
        );
    }
}
