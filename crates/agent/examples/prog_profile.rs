//! Cost of each section of the classifier's per-packet path, with `BPF_PROG_TEST_RUN` (root).
//!
//! The object is loaded once per section boundary with `Config::profile_stop` set, so the
//! program returns there; the cost of a section is the difference between two boundaries.
//! Boundary 1 returns at entry: its figure is the harness's own overhead (the kernel's timer
//! and context set-up), to subtract from the others.
//!
//! Three workloads: *new flow* runs each distinct 64-byte UDP frame once (every run a new
//! 5-tuple: the first-packet path, to the ring buffer; the maps and the ring are drained every
//! `DRAIN_EVERY` runs, as an eviction would), *second packet* runs each frame a second time
//! right after its first (the flow's insert into the flow map; whole program only), and
//! *established* runs one frame `REPEAT` times (the flow cache).
//!
//! Usage: `prog_profile [CACHE_MAX_FLOWS] [NEW_FLOWS] [DRAIN_EVERY] [REPEAT]`, defaults
//! 100000 200000 10000 1000000; DNS tracking on, as the benchmark runs it.

use netobserv_agent::config::Config;
use netobserv_agent::tracer::Tracer;
use netobserv_agent_common::programs;

/// A 64-byte Ethernet/IPv4/UDP frame; `i` picks the source address and ports.
fn frame(i: u32) -> [u8; 64] {
    let mut f = [0u8; 64];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&50u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 1, (i >> 24) as u8, (i >> 16) as u8]);
    ip[16..20].copy_from_slice(&[10, 2, 0, 1]);
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&(1024 + (i & 0x7fff) as u16).to_be_bytes());
    udp[2..4].copy_from_slice(&(5000 + ((i >> 15) & 0x1) as u16).to_be_bytes());
    udp[4..6].copy_from_slice(&30u16.to_be_bytes());
    f
}

fn arg(i: usize, default: u32) -> Result<u32, Box<dyn std::error::Error>> {
    Ok(match std::env::args().nth(i) {
        Some(s) => s.parse()?,
        None => default,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let max_flows = arg(1, 100_000)?;
    let new_flows = arg(2, 200_000)?;
    let drain_every = arg(3, 10_000)?.max(1);
    let repeat = arg(4, 1_000_000)?;
    println!(
        "BPF_PROG_TEST_RUN of {} on 64-byte UDP frames; CACHE_MAX_FLOWS={max_flows}, DNS tracking \
         on, flow cache on; new flow: {new_flows} distinct frames run once each, the map drained \
         every {drain_every}; established: one frame x {repeat}",
        programs::TCX_INGRESS
    );
    let sections = [
        (1, "entry (harness overhead)"),
        (2, "+ sampling and parse"),
        (3, "+ DNS check"),
        (4, "+ flow cache probe"),
        (5, "+ flow_seen check"),
        (6, "+ clock"),
        (0, "+ ring record (whole program)"),
    ];
    let mut prev: Option<(f64, f64)> = None;
    for (stop, what) in sections {
        let cfg = Config {
            target_host: "127.0.0.1".into(),
            target_port: 1,
            cache_max_flows: max_flows,
            enable_dns_tracking: true,
            profile_stop: stop,
            ..Config::default()
        };
        let (mut tracer, mut maps) = Tracer::load(&cfg)?;
        let mut total = 0u64;
        for i in 0..new_flows {
            if i > 0 && i % drain_every == 0 {
                maps.drain()?;
            }
            total += u64::from(tracer.test_run_classifier(programs::TCX_INGRESS, &frame(i), 1)?);
        }
        let new = total as f64 / f64::from(new_flows);
        maps.drain()?;
        let est =
            f64::from(tracer.test_run_classifier(programs::TCX_INGRESS, &frame(7), repeat)?);
        let (dn, de) = prev.map_or((new, est), |(pn, pe)| (new - pn, est - pe));
        println!(
            "stop {stop}: {what:30} new flow {new:7.1} ns ({dn:+6.1}), established {est:6.1} ns \
             ({de:+6.1})"
        );
        prev = Some((new, est));
        if stop == 0 {
            let mut total = 0u64;
            for i in 0..new_flows {
                if i > 0 && i % drain_every == 0 {
                    maps.drain()?;
                }
                let f = frame(i + new_flows);
                tracer.test_run_classifier(programs::TCX_INGRESS, &f, 1)?;
                total += u64::from(tracer.test_run_classifier(programs::TCX_INGRESS, &f, 1)?);
            }
            println!(
                "second packet of a flow (insert into the flow map), whole program: {:.1} ns",
                total as f64 / f64::from(new_flows)
            );
        }
    }
    Ok(())
}
