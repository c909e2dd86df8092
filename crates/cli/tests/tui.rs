//! The TUI drawn into ratatui's `TestBackend`: the rows each display and enrichment shows, live
//! regex filters, pause and the progress line, from enriched records like the collector's.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kubectl_netobserv::tui::prefs::ColumnPrefs;
use kubectl_netobserv::tui::{self, Action, App};
use netobserv_pipeline::record::Record;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::time::Duration;

fn record(json: &str) -> Arc<Record> {
    Arc::new(Record::from_json(json).expect("record"))
}

fn flows() -> Vec<Arc<Record>> {
    vec![
        record(
            r#"{"TimeFlowEndMs": 1764763200123, "SrcAddr": "10.128.0.10", "SrcPort": 40000,
               "DstAddr": "10.128.0.20", "DstPort": 443, "Proto": 6, "Bytes": 1500, "Packets": 3,
               "Interfaces": ["eth0"], "FlowDirection": 1, "Dscp": 0,
               "SrcK8S_Name": "client", "SrcK8S_Namespace": "shop", "SrcK8S_Type": "Pod",
               "DstK8S_Name": "server", "DstK8S_Namespace": "shop", "DstK8S_Type": "Pod",
               "SrcK8S_HostName": "node-a", "DstK8S_HostName": "node-b",
               "SrcK8S_OwnerName": "web", "SrcK8S_OwnerType": "Deployment",
               "TimeFlowRttNs": 125000}"#,
        ),
        record(
            r#"{"TimeFlowEndMs": 1764763201456, "SrcAddr": "10.128.0.30", "SrcPort": 5353,
               "DstAddr": "172.30.0.10", "DstPort": 53, "Proto": 17, "Bytes": 80, "Packets": 1,
               "SrcK8S_Name": "resolver", "SrcK8S_Namespace": "dns", "SrcK8S_Type": "Pod",
               "DstK8S_Name": "dns-default", "DstK8S_Namespace": "openshift-dns", "DstK8S_Type": "Service",
               "DnsId": 4242, "DnsName": "example.com", "DnsLatencyMs": 7, "DnsFlagsResponseCode": "NoError"}"#,
        ),
    ]
}

fn screen(app: &App) -> Vec<String> {
    common::screen(app)
}

/// The table rows (after the 2 header lines, the filter line, the block title, the header).
fn rows(app: &App) -> Vec<String> {
    screen(app)
        .into_iter()
        .skip(5)
        .filter(|l| !l.is_empty())
        .collect()
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn standard_display_with_resource_names_newest_first() {
    let mut app = App::new("Flows");
    for f in flows() {
        app.push(f);
    }
    let s = screen(&app);
    assert!(
        s[1].contains("Display: Standard") && s[1].contains("Enrichment: Resource"),
        "{s:#?}"
    );
    assert_eq!(
        words(&s[4]),
        [
            "End",
            "time",
            "Src",
            "Dst",
            "Interfaces",
            "Dir",
            "Proto",
            "Dscp",
            "Bytes",
            "Packets"
        ]
    );
    let r = rows(&app);
    assert_eq!(r.len(), 2, "{s:#?}");
    assert_eq!(
        words(&r[0]),
        [
            "12:00:01.456",
            "Pod",
            "dns",
            "resolver",
            "Service",
            "openshift-dns",
            "dns-default",
            "17",
            "80",
            "1"
        ]
    );
    assert_eq!(
        words(&r[1]),
        [
            "12:00:00.123",
            "Pod",
            "shop",
            "client",
            "Pod",
            "shop",
            "server",
            "eth0",
            "1",
            "6",
            "0",
            "1500",
            "3"
        ]
    );
}

#[test]
fn display_and_enrichment_cycles_change_the_columns() {
    let mut app = App::new("Flows");
    for f in flows() {
        app.push(f);
    }
    // Ctrl-D twice: Packet drops, then DNS.
    app.key(ctrl('d'));
    assert_eq!(app.display().name(), "Packet drops");
    app.key(ctrl('d'));
    let s = screen(&app);
    assert!(s[1].contains("Display: DNS"), "{}", s[1]);
    assert!(
        s[4].contains("DNS name") && !s[4].contains("Bytes"),
        "{}",
        s[4]
    );
    assert!(
        rows(&app)[0].contains("4242")
            && rows(&app)[0].contains("example.com")
            && rows(&app)[0].contains("NoError")
    );
    // → : RTT.
    app.key(key(KeyCode::Right));
    assert!(rows(&app)[1].ends_with("125000"), "{:?}", rows(&app));
    // ← ← ← : back around to Standard, then All wraps from the left.
    for _ in 0..3 {
        app.key(key(KeyCode::Left));
    }
    assert_eq!(app.display().name(), "Standard");
    app.key(key(KeyCode::Left));
    assert_eq!(app.display().name(), "All");

    // Ctrl-E from Resource: Subnet label, Network name, then IP & port.
    app.key(key(KeyCode::Right)); // back to Standard
    app.key(ctrl('e'));
    assert_eq!(app.enrichment().name(), "Subnet label");
    app.key(ctrl('e'));
    assert_eq!(app.enrichment().name(), "Network name");
    app.key(ctrl('e'));
    assert_eq!(app.enrichment().name(), "IP & port");
    let r = rows(&app);
    assert_eq!(words(&r[1])[1..3], ["10.128.0.10:40000", "10.128.0.20:443"]);
    // Host, then Namespace, then Owner.
    for _ in 0..3 {
        app.key(ctrl('e'));
    }
    assert_eq!(app.enrichment().name(), "Host");
    assert_eq!(words(&rows(&app)[1])[1..3], ["node-a", "node-b"]);
    app.key(ctrl('e'));
    app.key(ctrl('e'));
    assert_eq!(app.enrichment().name(), "Owner");
    assert_eq!(words(&rows(&app)[1])[1..3], ["Deployment", "web"]);
}

#[test]
fn regex_filters_are_live_and_removable() {
    let mut app = App::new("Flows");
    for f in flows() {
        app.push(f);
    }
    for ch in "\"Proto\":6".chars() {
        app.key(key(KeyCode::Char(ch)));
    }
    assert!(screen(&app)[2].contains("Live table regexes: \"Proto\":6_"));
    app.key(key(KeyCode::Enter));
    let r = rows(&app);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains("client"));
    assert!(screen(&app)[2].contains("[\"Proto\":6]"));
    // A second filter that nothing matches together with the first.
    for ch in "dns".chars() {
        app.key(key(KeyCode::Char(ch)));
    }
    app.key(key(KeyCode::Enter));
    assert!(rows(&app).is_empty());
    // A bad regex is reported, not added.
    app.key(key(KeyCode::Char('(')));
    app.key(key(KeyCode::Enter));
    assert!(screen(&app)[2].contains("bad regex"), "{}", screen(&app)[2]);
    // Backspace: the typed character, then the last filter.
    app.key(key(KeyCode::Backspace));
    app.key(key(KeyCode::Backspace));
    assert_eq!(rows(&app).len(), 1);
    app.key(key(KeyCode::Backspace));
    assert_eq!(rows(&app).len(), 2);
}

#[test]
fn pause_keeps_the_table_and_counts_what_it_did_not_show() {
    let mut app = App::new("Flows");
    let f = flows();
    app.push(f[0].clone());
    app.key(ctrl(' '));
    assert!(app.paused());
    app.push(f[1].clone());
    let s = screen(&app);
    assert!(s[0].contains("[PAUSED]"), "{}", s[0]);
    assert!(s[3].contains("paused: 1 new not shown"), "{}", s[3]);
    assert_eq!(rows(&app).len(), 1);
    app.key(key(KeyCode::Esc));
    assert!(!app.paused());
    app.push(f[1].clone());
    assert_eq!(rows(&app).len(), 2);
    assert_eq!(app.key(ctrl('c')), Action::Quit);
}

#[test]
fn progress_line_shows_elapsed_bytes_and_rate() {
    let mut app = App::new("Flows");
    app.elapsed = Duration::from_secs(10);
    app.bytes = 3 << 20;
    app.flows = 25_000;
    let s = screen(&app);
    assert!(
        s[0].contains("elapsed   10s")
            && s[0].contains("captured 3.0 MiB")
            && s[0].contains("2500 flows/s"),
        "{}",
        s[0]
    );
}

#[test]
fn packets_show_in_the_same_table() {
    use kubectl_netobserv::collector::enrich::{Known, packet_record};
    // Ethernet + IPv4 + TCP 10.128.0.10:40000 -> 10.128.0.20:443.
    let mut frame = vec![0u8; 14 + 20 + 20];
    frame[12..14].copy_from_slice(&[0x08, 0x00]);
    frame[14] = 0x45;
    frame[14 + 9] = 6;
    frame[14 + 12..14 + 16].copy_from_slice(&[10, 128, 0, 10]);
    frame[14 + 16..14 + 20].copy_from_slice(&[10, 128, 0, 20]);
    frame[34..36].copy_from_slice(&40000u16.to_be_bytes());
    frame[36..38].copy_from_slice(&443u16.to_be_bytes());
    let known = Known {
        comments: Vec::new(),
        fields: vec![
            ("SrcK8S_Type".into(), "Pod".into()),
            ("SrcK8S_Namespace".into(), "shop".into()),
            ("SrcK8S_Name".into(), "client".into()),
        ],
    };
    let mut app = App::new("Packets");
    app.push(Arc::new(packet_record(
        &frame,
        1_764_763_200_123_456_789,
        1514,
        "eth0",
        &known,
    )));
    let r = rows(&app);
    assert_eq!(
        words(&r[0]),
        [
            "12:00:00.123",
            "Pod",
            "shop",
            "client",
            "eth0",
            "6",
            "1514",
            "1"
        ]
    );
    for _ in 0..3 {
        app.key(ctrl('e'));
    }
    assert_eq!(
        words(&rows(&app)[0])[1..3],
        ["10.128.0.10:40000", "10.128.0.20:443"]
    );
}

/// A columns file of its own for each test, in the system's temporary directory.
fn columns_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "netobserv-cli-columns-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("netobserv").join("cli-columns.json")
}

fn app_with(path: &std::path::Path) -> App {
    let mut app = App::with_prefs("Flows", ColumnPrefs::load(path.to_path_buf()));
    for f in flows() {
        app.push(f);
    }
    app
}

#[test]
fn manage_columns_hides_a_column_and_the_choice_survives_a_restart() {
    let path = columns_file("restart");
    let mut app = app_with(&path);
    app.key(ctrl('o'));
    assert!(app.managing_columns());
    let s = screen(&app).join("\n");
    assert!(s.contains("Manage columns"), "{s}");
    assert!(s.contains("[x] End time") && s.contains("[x] Dscp"), "{s}");
    // End time, Src, Dst, Interfaces, Dir, Proto, Dscp: six down.
    for _ in 0..6 {
        app.key(key(KeyCode::Down));
    }
    app.key(key(KeyCode::Enter));
    assert!(screen(&app).join("\n").contains("[ ] Dscp"));
    // Space toggles too: hide Packets (two further down), then `r`-less Esc closes.
    app.key(key(KeyCode::Down));
    app.key(key(KeyCode::Down));
    app.key(key(KeyCode::Char(' ')));
    app.key(key(KeyCode::Esc));
    assert!(!app.managing_columns());
    let s = screen(&app);
    assert!(
        s[2].ends_with("Live table regexes: _"),
        "the modal's keys are not typed: {}",
        s[2]
    );
    assert_eq!(
        words(&s[4]),
        [
            "End",
            "time",
            "Src",
            "Dst",
            "Interfaces",
            "Dir",
            "Proto",
            "Bytes"
        ]
    );
    assert_eq!(
        words(&rows(&app)[1]),
        [
            "12:00:00.123",
            "Pod",
            "shop",
            "client",
            "Pod",
            "shop",
            "server",
            "eth0",
            "1",
            "6",
            "1500"
        ]
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("saved")).expect("JSON");
    assert_eq!(saved, serde_json::json!({"hidden": ["Dscp", "Packets"]}));

    // A restart reads the choice back.
    let mut app = app_with(&path);
    let s = screen(&app);
    assert!(
        !s[4].contains("Dscp") && !s[4].contains("Packets"),
        "{}",
        s[4]
    );
    // A hidden column stays hidden in the displays that offer it (All).
    app.key(key(KeyCode::Left));
    assert_eq!(app.display().name(), "All");
    assert!(!screen(&app)[4].contains("Dscp"));
    // `r` restores the defaults, saved too.
    app.key(ctrl('o'));
    app.key(key(KeyCode::Char('r')));
    app.key(key(KeyCode::Esc));
    assert!(screen(&app)[4].contains("Dscp"));
    let app = app_with(&path);
    assert!(screen(&app)[4].contains("Dscp") && screen(&app)[4].contains("Packets"));
    let _ = std::fs::remove_dir_all(path.parent().and_then(|p| p.parent()).expect("dir"));
}

#[test]
fn a_corrupt_columns_file_falls_back_to_the_defaults_with_a_warning() {
    let path = columns_file("corrupt");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    std::fs::write(&path, "{\"hidden\": [\"Dscp\"").expect("written");
    let app = app_with(&path);
    let s = screen(&app);
    assert_eq!(
        words(&s[4]),
        [
            "End",
            "time",
            "Src",
            "Dst",
            "Interfaces",
            "Dir",
            "Proto",
            "Dscp",
            "Bytes",
            "Packets"
        ]
    );
    assert!(
        s[2].contains("ignored") && s[2].contains("not a columns file"),
        "{}",
        s[2]
    );
    // The next change replaces the corrupt file.
    let mut app = app;
    app.key(ctrl('o'));
    app.key(key(KeyCode::Enter));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("saved")).expect("JSON");
    assert_eq!(saved, serde_json::json!({"hidden": ["TimeFlowEndMs"]}));
    let _ = std::fs::remove_dir_all(path.parent().and_then(|p| p.parent()).expect("dir"));
}

/// A real frame, captured with `tcpdump -i lo` of `curl http://127.0.0.1:18765/` (Linux
/// loopback frames carry an Ethernet header with zero addresses): the HTTP request.
const HTTP_GET: &str = "000000000000000000000000080045000083bcac400040067fc67f0000017f000001\
                        e6ae494db76e87d3f0b58ba780180040fe7700000101080a81dae103c62b3dec\
                        474554202f20485454502f312e310d0a486f73743a203132372e302e302e313a\
                        31383736350d0a557365722d4167656e743a206375726c2f372e38382e310d0a\
                        4163636570743a202a2f2a0d0a0d0a";

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn a_selected_packet_shows_its_payload_as_a_hex_dump() {
    use kubectl_netobserv::collector::enrich::{Known, packet_record};
    let frame = unhex(HTTP_GET);
    assert_eq!(frame.len(), 145);
    let known = Known {
        comments: Vec::new(),
        fields: Vec::new(),
    };
    let mut app = App::new("Packets");
    for (i, f) in [&frame[..], &frame[..60]].iter().enumerate() {
        app.push(Arc::new(packet_record(
            f,
            1_764_763_200_000_000_000 + i as u64 * 1_000_000,
            u32::try_from(f.len()).unwrap(),
            "lo",
            &known,
        )));
    }
    // Running: no pane. ↓ pauses on the newest row (the 60-byte one), ↓ again the full frame.
    let tall = |app: &App| {
        let mut t = Terminal::new(TestBackend::new(120, 30)).unwrap();
        t.draw(|f| tui::draw(f, app)).unwrap();
        let b = t.backend().buffer().clone();
        (0..b.area.height)
            .map(|y| {
                (0..b.area.width)
                    .map(|x| b[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(!tall(&app).contains("Payload"));
    app.key(key(KeyCode::Down));
    assert!(app.paused());
    assert!(tall(&app).contains("Payload (60 bytes; Tab: focus)"));
    app.key(key(KeyCode::Down));
    let s = tall(&app);
    assert!(s.contains("Payload (145 bytes; Tab: focus)"), "{s}");
    for line in [
        "0000  00 00 00 00 00 00 00 00  00 00 00 00 08 00 45 00  |..............E.|",
        "0010  00 83 bc ac 40 00 40 06  7f c6 7f 00 00 01 7f 00  |....@.@.........|",
        "0040  3d ec 47 45 54 20 2f 20  48 54 54 50 2f 31 2e 31  |=.GET / HTTP/1.1|",
        "0070  65 6e 74 3a 20 63 75 72  6c 2f 37 2e 38 38 2e 31  |ent: curl/7.88.1|",
        "0090  0a                                                |.|",
    ] {
        assert!(s.contains(line), "{line}\n{s}");
    }
    // Tab focuses the pane: ↓ scrolls it (not the table), Tab goes back.
    app.key(key(KeyCode::Tab));
    assert_eq!(app.focus(), tui::Focus::Payload);
    for _ in 0..3 {
        app.key(key(KeyCode::Down));
    }
    let s = tall(&app);
    assert!(
        s.contains("Payload (145 bytes; ↑↓ scroll, Tab: table)"),
        "{s}"
    );
    assert!(!s.contains("0020  ") && s.contains("0030  "), "{s}");
    assert_eq!(
        app.payload().map(|p| p.len()),
        Some(145),
        "same row selected"
    );
    // Scrolling stops at the last line.
    for _ in 0..20 {
        app.key(key(KeyCode::Down));
    }
    assert!(tall(&app).contains("0090  0a"));
    app.key(key(KeyCode::Tab));
    assert_eq!(app.focus(), tui::Focus::Table);
    app.key(key(KeyCode::Up));
    assert_eq!(app.payload().map(|p| p.len()), Some(60));
    // Esc resumes: no selection, no pane.
    app.key(key(KeyCode::Esc));
    assert!(!app.paused() && app.payload().is_none());
    assert!(!tall(&app).contains("Payload"));
}

#[test]
fn udn_mapping_and_ipsec_displays_and_the_network_name_enrichment() {
    let mut app = App::new("Flows");
    app.push(record(
        r#"{"TimeFlowEndMs": 1764763202000, "SrcAddr": "10.200.0.5", "DstAddr": "10.200.0.6",
           "Interfaces": ["ovn-k8s-mp1", "eth0"], "Udns": ["blue/tenant", ""],
           "IPSecStatus": "success", "IPSecRetCode": 0,
           "SrcK8S_NetworkName": "blue/tenant", "DstK8S_NetworkName": "primary"}"#,
    ));
    let names: Vec<&str> = (0..9)
        .map(|_| {
            app.key(ctrl('d'));
            app.display().name()
        })
        .collect();
    assert_eq!(
        names,
        [
            "Packet drops",
            "DNS",
            "RTT",
            "Network events",
            "Packet translation",
            "UDN mapping",
            "IPsec",
            "All",
            "Standard"
        ]
    );
    for _ in 0..6 {
        app.key(ctrl('d'));
    }
    assert_eq!(app.display().name(), "UDN mapping");
    assert!(screen(&app)[4].ends_with("UDNs"), "{}", screen(&app)[4]);
    assert!(rows(&app)[0].ends_with("blue/tenant,"), "{:?}", rows(&app));
    app.key(ctrl('d'));
    let s = screen(&app);
    assert!(
        s[4].contains("IPsec status") && s[4].contains("IPsec code"),
        "{}",
        s[4]
    );
    // No Kubernetes names: the Resource ends are empty.
    assert_eq!(words(&rows(&app)[0]), ["12:00:02.000", "success", "0"]);
    // Network name: Ctrl-E twice from Resource.
    app.key(ctrl('e'));
    app.key(ctrl('e'));
    assert_eq!(app.enrichment().name(), "Network name");
    assert_eq!(words(&rows(&app)[0])[1..3], ["blue/tenant", "primary"]);
}
