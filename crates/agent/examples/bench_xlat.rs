//! Cost of the PacketTranslation conntrack fallback, printed (a benchmark, not a test):
//! parsing + recording one conntrack NEW event (paid once per new NAT-ed connection, on the
//! listener thread), and looking flows up at eviction (paid once per evicted flow).
//! With `--real N` (root), also measures the listener on real kernel events: N UDP
//! "connections" DNAT-ed inside a throw-away network namespace, and the CPU time of the
//! `conntrack` thread per event (from /proc, 10 ms resolution).
//! `cargo run --release -p netobserv-agent --example bench_xlat [-- --real 50000]`
#![allow(clippy::unwrap_used, missing_docs)]

use netobserv_agent::conntrack::{Table, Tuple, encode_new, parse_message};
use netobserv_agent_common::FlowId;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn v4(a: u32) -> [u8; 16] {
    std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets()
}

/// CPU time (user + system, ns) of this process's thread named `conntrack`.
fn listener_cpu_ns() -> u64 {
    let tick_ns = 1_000_000_000 / 100;
    let mut total = 0;
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != "conntrack" {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised command: state is #3; utime #14, stime #15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split(' ').collect();
        total += (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) * tick_ns;
    }
    total
}

fn sh(cmd: &str) {
    let ok = std::process::Command::new("sh")
        .args(["-c", cmd])
        .status()
        .unwrap()
        .success();
    assert!(ok, "{cmd}");
}

fn real(n: u32) {
    use netobserv_agent::conntrack::Listener;
    use std::sync::Arc;
    let ns = format!("xlatbench{}", std::process::id());
    /// Removes the namespace even when the bench panics.
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }
    sh(&format!("ip netns add {ns}"));
    let _cleanup = Cleanup(ns.clone());
    sh(&format!(
        "ip -n {ns} link set lo up && ip -n {ns} route add 10.96.0.0/16 dev lo && \
         printf 'table ip nat {{\n chain out {{\n type nat hook output priority -100;\n \
         ip daddr 10.96.0.10 udp dport 80 dnat to 127.0.0.1:9\n }}\n}}\n' | \
         ip netns exec {ns} nft -f -"
    ));
    let path = std::path::PathBuf::from(format!("/run/netns/{ns}"));
    let table = Arc::new(Table::new(n as usize * 2, Duration::from_secs(60)));
    let t = table.clone();
    let listener = netobserv_agent::netns::in_netns(Some(&path), move || Listener::start(t))
        .unwrap()
        .unwrap();
    let cpu0 = listener_cpu_ns();
    let start = Instant::now();
    netobserv_agent::netns::in_netns(Some(&path), || {
        // Distinct source ports, so each datagram is a new connection.
        for i in 0..n {
            let s = std::net::UdpSocket::bind(("0.0.0.0", 10_000 + i as u16)).unwrap();
            let _ = s.send_to(b"x", "10.96.0.10:80");
        }
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while table.len() < n as usize && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let cpu = listener_cpu_ns().saturating_sub(cpu0);
    let counts = table.take_counts();
    let (learnt, overflows) = (counts.learnt, counts.overflows);
    println!(
        "real events: {learnt} of {n} NAT-ed connections learnt in {:.2} s, {overflows} overflows; \
         listener thread CPU {:.0} ms = {:.2} us per event",
        elapsed.as_secs_f64(),
        cpu as f64 / 1e6,
        cpu as f64 / 1e3 / learnt.max(1) as f64
    );
    drop(listener);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--real") {
        let n = args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        real(n);
    }
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
                ..Tuple::default()
            };
            let reply = Tuple {
                src: v4(0x0ac7_0002),
                dst: v4(client),
                sport: 8080,
                dport: (i & 0xffff) as u16,
                ..orig
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
