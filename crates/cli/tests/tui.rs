//! The TUI drawn into ratatui's `TestBackend`: the rows each display and enrichment shows, live
//! regex filters, pause and the progress line, from enriched records like the collector's.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
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
    let mut terminal = Terminal::new(TestBackend::new(200, 12)).expect("terminal");
    terminal.draw(|f| tui::draw(f, app)).expect("draws");
    let buffer = terminal.backend().buffer().clone();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
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

    // Ctrl-E from Resource: Subnet label, then IP & port.
    app.key(key(KeyCode::Right)); // back to Standard
    app.key(ctrl('e'));
    assert_eq!(app.enrichment().name(), "Subnet label");
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
    app.key(ctrl('e'));
    app.key(ctrl('e'));
    assert_eq!(
        words(&rows(&app)[0])[1..3],
        ["10.128.0.10:40000", "10.128.0.20:443"]
    );
}
