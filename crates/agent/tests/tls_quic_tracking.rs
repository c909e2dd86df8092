//! TLSTracking with real handshakes: OpenSSL's `s_server` in one network namespace, `s_client`
//! in the other, the agent on the client's veth with `ENABLE_TLS_TRACKING`. TLS 1.3 and TLS 1.2
//! (with a client that offers 1.3) each pin the cipher suite and the key exchange group, and the
//! exported records must carry what the handshake negotiated: the version, the server's cipher
//! suite and group on the server → client flow, the hello types seen in each direction. A plain
//! TCP exchange beside them must carry no TLS fields. QUIC tracking is tested here too, with
//! crafted datagrams (no QUIC implementation is installed here).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use netobserv_agent::Agent;
use netobserv_agent::config::{Config, NameMatcher};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CLIENT_HELLO: u32 = 0x01;
const SERVER_HELLO: u32 = 0x02;
const OTHER_HANDSHAKE: u32 = 0x04;
const X25519: u32 = 0x001d;

fn config(pair: &NetPair, port: u16) -> Config {
    Config {
        target_host: "127.0.0.1".into(),
        target_port: port,
        cache_active_timeout: Duration::from_millis(300),
        netns: Some(pair.path_a()),
        interfaces: vec![NameMatcher::Exact(pair.veth_a.clone())],
        enable_tls_tracking: true,
        metrics_enable: true,
        metrics_server_address: "127.0.0.1".into(),
        metrics_server_port: 0,
        ..Config::default()
    }
}

/// A self-signed RSA certificate and key in `dir`.
fn certificate(dir: &std::path::Path) -> (String, String) {
    let cert = dir.join("cert.pem").to_string_lossy().into_owned();
    let key = dir.join("key.pem").to_string_lossy().into_owned();
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=netobserv-test",
            "-keyout",
            &key,
            "-out",
            &cert,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(ok.success(), "openssl req");
    (cert, key)
}

/// One handshake: `s_server` (in namespace b, accepting one connection, with `server_args`)
/// and `s_client` from namespace a; returns what the client printed.
fn handshake(pair: &NetPair, port: u16, cert: &(String, String), server_args: &[&str]) -> String {
    let accept = format!("{}:{port}", pair.ip_b);
    let mut server = Command::new("ip")
        .args([
            "netns", "exec", &pair.ns_b, "openssl", "s_server", "-naccept", "1",
        ])
        .args([
            "-accept", &accept, "-cert", &cert.0, "-key", &cert.1, "-groups", "X25519",
        ])
        .args(server_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s_server starts");
    let connect = format!("{}:{port}", pair.ip_b);
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = Command::new("ip")
            .args(["netns", "exec", &pair.ns_a, "openssl", "s_client", "-brief"])
            .args(["-connect", &connect, "-groups", "X25519"])
            .stdin(Stdio::null())
            .output()
            .expect("s_client runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.contains("Protocol version") {
            break text;
        }
        assert!(Instant::now() < deadline, "no handshake: {text}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = server.kill();
    let _ = server.wait();
    out
}

fn record_between<'a>(
    records: &'a [pbflow::Record],
    src_port: u32,
    dst_port: u32,
    what: &str,
) -> Vec<&'a pbflow::Record> {
    let found: Vec<&pbflow::Record> = records
        .iter()
        .filter(|r| {
            let t = r.transport.as_ref().unwrap();
            t.protocol == 6 && t.src_port == src_port && t.dst_port == dst_port
        })
        .collect();
    assert!(!found.is_empty(), "no {what} record in {records:#?}");
    found
}

/// What the records of one direction of a flow say, merged (a flow may span evictions).
#[derive(Debug, Default, PartialEq, Eq)]
struct Tls {
    version: u32,
    types: u32,
    cipher: u32,
    group: u32,
    mismatch: bool,
}

fn tls_of(records: &[&pbflow::Record]) -> Tls {
    let mut t = Tls::default();
    for r in records {
        if r.ssl_version != 0 {
            t.version = r.ssl_version;
        }
        t.types |= r.tls_types;
        if r.tls_cipher_suite != 0 {
            t.cipher = r.tls_cipher_suite;
        }
        if r.tls_key_share != 0 {
            t.group = r.tls_key_share;
        }
        t.mismatch |= r.ssl_mismatch;
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_yield_version_cipher_and_group() {
    require_root();
    let pair = NetPair::new();
    let dir = std::env::temp_dir().join(format!("netobserv-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cert = certificate(&dir);
    let collector = TestCollector::start(0).await;
    let agent = Agent::start(config(&pair, collector.port))
        .await
        .expect("agent starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !agent.attached().iter().any(|(n, _)| n == &pair.veth_a) {
        assert!(Instant::now() < deadline, "never attached");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let pair_ref = &pair;
    let cert_ref = &cert;
    let (tls13, tls12) = tokio::task::block_in_place(|| {
        let tls13 = handshake(
            pair_ref,
            8443,
            cert_ref,
            &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
        );
        let tls12 = handshake(
            pair_ref,
            9443,
            cert_ref,
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"],
        );
        // Plain TCP with a payload: no TLS fields.
        let mut server = Command::new("ip")
            .args(["netns", "exec", &pair_ref.ns_b, "nc", "-l", "-p", "7000"])
            .stdout(Stdio::null())
            .spawn()
            .expect("nc listens");
        std::thread::sleep(Duration::from_millis(300));
        let sent = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "printf 'GET / HTTP/1.1\\r\\n\\r\\n' | ip netns exec {} nc -q 1 {} 7000",
                pair_ref.ns_a, pair_ref.ip_b
            ))
            .status()
            .expect("nc sends");
        assert!(sent.success());
        let _ = server.kill();
        let _ = server.wait();
        (tls13, tls12)
    });
    assert!(tls13.contains("TLSv1.3"), "{tls13}");
    assert!(tls12.contains("TLSv1.2"), "{tls12}");
    let status = http_get(agent.metrics_addr().expect("metrics server"), "/status");
    assert!(
        status.contains("\"hook\":\"TLSTracking\",\"active\":true"),
        "{status}"
    );
    agent.shutdown().await.unwrap();
    let records = collector.snapshot();

    let to_server = |port| {
        let client_port = records
            .iter()
            .find_map(|r| {
                let t = r.transport.as_ref().unwrap();
                (t.protocol == 6 && t.dst_port == port && r.tls_types & CLIENT_HELLO != 0)
                    .then_some(t.src_port)
            })
            .unwrap_or_else(|| panic!("no ClientHello to port {port} in {records:#?}"));
        (
            tls_of(&record_between(
                &records,
                client_port,
                port,
                "client → server",
            )),
            tls_of(&record_between(
                &records,
                port,
                client_port,
                "server → client",
            )),
        )
    };

    // TLS 1.3: AES-128-GCM-SHA256 (0x1301) and X25519, from the ServerHello's extensions.
    let (client, server) = to_server(8443);
    assert_eq!(client.version, 0x0304, "client offers 1.3: {client:?}");
    assert_ne!(client.types & CLIENT_HELLO, 0, "{client:?}");
    assert_eq!(
        (server.version, server.cipher, server.group, server.mismatch),
        (0x0304, 0x1301, X25519, false),
        "{server:?}"
    );
    assert_ne!(server.types & SERVER_HELLO, 0, "{server:?}");

    // TLS 1.2 with a client that offered 1.3: ECDHE-RSA-AES256-GCM-SHA384 (0xc030), the group
    // from the ServerKeyExchange.
    let (client, server) = to_server(9443);
    assert_eq!(client.version, 0x0304, "client offers 1.3: {client:?}");
    assert_eq!(
        (server.version, server.cipher, server.group),
        (0x0303, 0xc030, X25519),
        "{server:?}"
    );
    assert_ne!(server.types & SERVER_HELLO, 0, "{server:?}");
    assert_ne!(
        server.types & OTHER_HANDSHAKE,
        0,
        "certificate / key exchange: {server:?}"
    );

    let plain: Vec<&pbflow::Record> = records
        .iter()
        .filter(|r| {
            let t = r.transport.as_ref().unwrap();
            t.protocol == 6 && (t.src_port == 7000 || t.dst_port == 7000)
        })
        .collect();
    assert!(
        plain.iter().any(|r| r.bytes > 100),
        "the plain exchange: {plain:#?}"
    );
    assert_eq!(
        tls_of(&plain),
        Tls::default(),
        "plain TCP has no TLS fields"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A QUIC-shaped datagram: long header (fixed bit, version `version`, 8-byte connection ids)
/// or short header, padded to `len` bytes.
fn quic_datagram(long: bool, version: u32, len: usize) -> Vec<u8> {
    let mut d = Vec::with_capacity(len);
    if long {
        d.push(0xc3); // long header, fixed bit, Initial
        d.extend_from_slice(&version.to_be_bytes());
        d.push(8);
        d.extend_from_slice(&[0x11; 8]);
        d.push(8);
        d.extend_from_slice(&[0x22; 8]);
    } else {
        d.push(0x43); // short header, fixed bit
        d.extend_from_slice(&[0x11; 8]);
    }
    d.resize(len, 0);
    d
}

/// QUIC_TRACKING_MODE=1 with crafted datagrams: a long-header Initial then short-header packets
/// to UDP port 443 give the version and both header kinds; the same datagrams to another port
/// are not looked at in mode 1; a datagram without the fixed bit is not QUIC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_headers_yield_version_and_header_kinds() {
    require_root();
    let pair = NetPair::new();
    let collector = TestCollector::start(0).await;
    let mut cfg = config(&pair, collector.port);
    cfg.enable_tls_tracking = false;
    cfg.quic_tracking_mode = 1;
    let agent = Agent::start(cfg).await.expect("agent starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !agent.attached().iter().any(|(n, _)| n == &pair.veth_a) {
        assert!(Instant::now() < deadline, "never attached");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ip_b = pair.ip_b.to_string();
    let (quic_port, other_port) = netobserv_agent::netns::in_netns(Some(&pair.path_a()), || {
        let sock = std::net::UdpSocket::bind(("0.0.0.0", 0)).unwrap();
        for port in [443u16, 4433] {
            sock.send_to(
                &quic_datagram(true, 0x0000_0001, 1200),
                (ip_b.as_str(), port),
            )
            .unwrap();
            for _ in 0..3 {
                sock.send_to(&quic_datagram(false, 0, 60), (ip_b.as_str(), port))
                    .unwrap();
            }
        }
        let mut not_quic = quic_datagram(true, 0x0000_0001, 100);
        not_quic[0] = 0x83; // no fixed bit
        let other = std::net::UdpSocket::bind(("0.0.0.0", 0)).unwrap();
        other.send_to(&not_quic, (ip_b.as_str(), 443)).unwrap();
        (
            sock.local_addr().unwrap().port(),
            other.local_addr().unwrap().port(),
        )
    })
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = http_get(agent.metrics_addr().expect("metrics server"), "/status");
    assert!(
        status.contains("\"hook\":\"QUICTracking\",\"active\":true"),
        "{status}"
    );
    agent.shutdown().await.unwrap();
    let records = collector.snapshot();
    let udp = |src: u16, dst: u32| -> Vec<&pbflow::Record> {
        records
            .iter()
            .filter(|r| {
                let t = r.transport.as_ref().unwrap();
                t.protocol == 17 && t.src_port == u32::from(src) && t.dst_port == dst
            })
            .collect()
    };
    let quic = udp(quic_port, 443);
    assert!(!quic.is_empty(), "no record to 443: {records:#?}");
    let q = quic
        .iter()
        .find_map(|r| r.quic)
        .expect("QUIC fields on the port-443 flow");
    assert_eq!(
        (q.version, q.seen_long_hdr, q.seen_short_hdr),
        (1, 1, 1),
        "{q:?}"
    );
    let elsewhere = udp(quic_port, 4433);
    assert!(!elsewhere.is_empty(), "no record to 4433");
    assert!(
        elsewhere.iter().all(|r| r.quic.is_none()),
        "mode 1 looks at port 443 only: {elsewhere:#?}"
    );
    let not_quic = udp(other_port, 443);
    assert!(!not_quic.is_empty(), "no record of the non-QUIC datagram");
    assert!(not_quic.iter().all(|r| r.quic.is_none()), "{not_quic:#?}");
}
