//! Cost of TLS tracking on an established flow's packet, with `BPF_PROG_TEST_RUN` (root): the
//! whole classifier run `REPEAT` times on one TCP segment (ACK + PSH, 100 bytes of payload),
//! with `ENABLE_TLS_TRACKING` off and on, for a payload that is not TLS (what every other TCP
//! packet pays) and for a TLS application-data record (what a TLS flow's packets pay: the map
//! update of the record type).
//!
//! Usage: `tls_profile [REPEAT]` (default 1000000); FlowCollector defaults otherwise
//! (CACHE_MAX_FLOWS 100000, sampling 1 here so that every run is accounted), DNS tracking on as
//! the other benchmarks run it.

use netobserv_agent::config::Config;
use netobserv_agent::tracer::Tracer;
use netobserv_agent_common::programs;

/// An Ethernet/IPv4/TCP segment with `payload`.
fn segment(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 54];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let total = (20 + 20 + payload.len()) as u16;
    {
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 1, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 2, 0, 1]);
    }
    {
        let tcp = &mut f[34..54];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x18; // ACK + PSH
        tcp[14..16].copy_from_slice(&65535u16.to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    netobserv_logging::init(Some("info"), netobserv_logging::Format::Text);
    let repeat: u32 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 1_000_000,
    };
    let mut plain = b"GET /index.html HTTP/1.1\r\nHost: example\r\n".to_vec();
    plain.resize(100, b'x');
    let mut tls = vec![0x17, 0x03, 0x03, 0x00, 95];
    tls.resize(100, 0xab);
    println!(
        "BPF_PROG_TEST_RUN of {} on one established TCP flow, {repeat} runs per figure; \
         CACHE_MAX_FLOWS=100000, sampling 1, DNS tracking on",
        programs::TCX_INGRESS
    );
    for tracking in [false, true] {
        let cfg = Config {
            target_host: "127.0.0.1".into(),
            target_port: 1,
            enable_dns_tracking: true,
            enable_tls_tracking: tracking,
            ..Config::default()
        };
        let (mut tracer, _maps) = Tracer::load(&cfg)?;
        for (what, payload) in [("non-TLS payload", &plain), ("TLS application data", &tls)] {
            let frame = segment(payload);
            // Warm: the flow enters the map and the cache.
            tracer.test_run_classifier(programs::TCX_INGRESS, &frame, 3)?;
            let ns = tracer.test_run_classifier(programs::TCX_INGRESS, &frame, repeat)?;
            println!(
                "ENABLE_TLS_TRACKING={tracking:5}  {what:22} {ns:5} ns per packet (nothing lost: \
                 test runs)"
            );
        }
    }
    Ok(())
}
