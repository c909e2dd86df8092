//! Drawing the live view (ratatui): a status line, the busiest peer pairs of the last minute and
//! the newest flows. [`LiveState`] holds what is drawn, so tests render it into a `TestBackend`.

use super::snapshot::{Snapshot, WINDOW_S};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};
use std::time::Duration;

/// What the view shows besides the store's data.
#[derive(Clone, Debug, Default)]
pub struct LiveState {
    /// What is observed, in words (`this host, every interface except lo`).
    pub scope: String,
    /// `http://127.0.0.1:9001`.
    pub console: String,
    /// Time since the start.
    pub elapsed: Duration,
    /// Flows exported by the agent since the start.
    pub flows: u64,
    /// Interfaces hooked now.
    pub interfaces: usize,
    /// The last refresh.
    pub snapshot: Snapshot,
    /// Why the last refresh failed, if it did.
    pub error: Option<String>,
    /// The quiet-machine hint, while nothing is seen.
    pub hint: Option<String>,
}

/// `1.5 kB`-style size (the CLI's units, so both terminal views read alike).
pub fn human_bytes(v: f64) -> String {
    kubectl_netobserv::tui::metrics::human(v, "B")
}

/// Draws the whole view.
pub fn draw(frame: &mut Frame, s: &LiveState) {
    let [status, talkers, recent] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Length(super::snapshot::TOP_TALKERS as u16 + 3),
        Constraint::Min(4),
    ])
    .areas(frame.area());
    let secs = s.elapsed.as_secs();
    let mut lines = vec![Line::from(format!(
        "observing {} | {:02}:{:02}:{:02} | {} flows | {} interfaces | console at {} | Ctrl-C stops",
        s.scope,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        s.flows,
        s.interfaces,
        s.console
    ))];
    if let Some(e) = &s.error {
        lines.push(Line::from(format!("store: {e}")));
    } else if let Some(h) = &s.hint {
        lines.push(Line::from(h.clone()));
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::default()
                .borders(Borders::ALL)
                .title("netobserv-local"),
        ),
        status,
    );
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let rows = s.snapshot.talkers.iter().map(|t| {
        Row::new(vec![
            t.source.clone(),
            t.destination.clone(),
            human_bytes(t.bytes),
        ])
    });
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Percentage(42),
                Constraint::Percentage(42),
                Constraint::Percentage(16),
            ],
        )
        .header(Row::new(vec!["Source", "Destination", "Bytes"]).style(bold))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!("Top talkers, last {WINDOW_S} s")),
        ),
        talkers,
    );
    let rows = s.snapshot.recent.iter().map(|f| {
        Row::new(vec![
            f.time.clone(),
            f.proto.clone(),
            f.source.clone(),
            f.destination.clone(),
            human_bytes(f.bytes as f64),
            f.packets.to_string(),
        ])
    });
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Length(8),
                Constraint::Length(6),
                Constraint::Percentage(35),
                Constraint::Percentage(35),
                Constraint::Length(9),
                Constraint::Length(7),
            ],
        )
        .header(
            Row::new(vec![
                "End",
                "Proto",
                "Source",
                "Destination",
                "Bytes",
                "Pkts",
            ])
            .style(bold),
        )
        .block(Block::default().borders(Borders::ALL).title("Recent flows")),
        recent,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::snapshot::{RecentFlow, Talker};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen(s: &LiveState) -> String {
        let mut t = Terminal::new(TestBackend::new(140, 30)).expect("test terminal");
        t.draw(|f| draw(f, s)).expect("draw");
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn shows_status_talkers_and_recent_flows() {
        let s = LiveState {
            scope: "this host, every interface except lo".into(),
            console: "http://127.0.0.1:9001".into(),
            elapsed: Duration::from_secs(3725),
            flows: 42,
            interfaces: 3,
            snapshot: Snapshot {
                talkers: vec![Talker {
                    source: "10.0.0.1 (curl)".into(),
                    destination: "10.0.0.2".into(),
                    bytes: 2_500_000.0,
                }],
                recent: vec![RecentFlow {
                    time: "01:02:03".into(),
                    proto: "UDP".into(),
                    source: "10.0.0.1:5353".into(),
                    destination: "10.0.0.2:53".into(),
                    bytes: 120,
                    packets: 2,
                }],
            },
            error: None,
            hint: Some("no flow for 20 s".into()),
        };
        let text = screen(&s);
        assert!(
            text.contains("01:02:05 | 42 flows | 3 interfaces"),
            "{text}"
        );
        assert!(text.contains("no flow for 20 s"), "{text}");
        assert!(
            text.contains("10.0.0.1 (curl)") && text.contains("2.5 MB"),
            "{text}"
        );
        assert!(
            text.contains("10.0.0.1:5353") && text.contains("10.0.0.2:53"),
            "{text}"
        );
        assert!(text.contains("120.0 B"), "{text}");
    }
}
