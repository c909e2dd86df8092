//! The `metrics` view: one panel per included counter, cycled with ← → (or Ctrl-D): a line
//! chart of its total rate over the capture (ratatui `Chart`) and a table of its busiest label
//! sets now (source → destination). Ctrl-Space pauses (rounds keep being recorded, the view
//! does not move), Ctrl-C leaves. [`MetricsApp`] is drawn by [`draw`], so tests render it into
//! ratatui's `TestBackend`.

use super::Action;
use crate::metrics::history::{History, Panel};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Row, Table};
use std::time::Duration;

/// The metrics view's state.
pub struct MetricsApp {
    /// The charts.
    pub history: History,
    /// Shown while paused instead of `history`'s current panels.
    frozen: Option<Vec<Panel>>,
    panel: usize,
    /// Time since the start.
    pub elapsed: Duration,
    /// Agents answering at the last round.
    pub agents: usize,
    /// Scrapes that failed so far.
    pub failures: u64,
}

/// `1.5 kB/s`-style value with its unit.
pub fn human(v: f64, unit: &str) -> String {
    let (scaled, prefix) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{scaled:.1} {prefix}{unit}")
}

impl MetricsApp {
    /// A view of `history`, first panel shown.
    pub fn new(history: History) -> Self {
        Self {
            history,
            frozen: None,
            panel: 0,
            elapsed: Duration::ZERO,
            agents: 0,
            failures: 0,
        }
    }

    /// Records a round of scrapes.
    pub fn apply(&mut self, round: &crate::metrics::scrape::Round) {
        self.agents = round.scrapes.len();
        self.failures += round.failures;
        self.history.add(round.t, &round.scrapes);
    }

    /// The panels shown (a frozen copy while paused).
    pub fn panels(&self) -> &[Panel] {
        self.frozen.as_deref().unwrap_or(&self.history.panels)
    }

    /// The panel shown.
    pub fn current(&self) -> Option<&Panel> {
        self.panels().get(self.panel)
    }

    /// Whether the view is paused.
    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    /// Handles one key.
    pub fn key(&mut self, key: KeyEvent) -> Action {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let n = self.panels().len().max(1);
        match key.code {
            KeyCode::Char('c') if ctrl => return Action::Quit,
            KeyCode::Char('d') if ctrl => self.panel = (self.panel + 1) % n,
            KeyCode::Right => self.panel = (self.panel + 1) % n,
            KeyCode::Left => self.panel = (self.panel + n - 1) % n,
            KeyCode::Char(' ') if ctrl => {
                self.frozen = match self.frozen {
                    Some(_) => None,
                    None => Some(self.history.panels.clone()),
                }
            }
            KeyCode::Esc => self.frozen = None,
            _ => {}
        }
        Action::None
    }
}

/// Draws the view.
pub fn draw(frame: &mut Frame<'_>, app: &MetricsApp) {
    let [header, chart, table] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(8),
        Constraint::Length(13),
    ])
    .areas(frame.area());
    let names: Vec<Span> = app
        .panels()
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let style = if i == app.panel {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            Span::styled(format!(" {} ", p.metric), style)
        })
        .collect();
    let status = format!(
        "Metrics{}  elapsed {}s  agents {}  rounds {}  failed scrapes {}  (← → panel, Ctrl-Space pause, Ctrl-C quit)",
        if app.paused() { " (paused)" } else { "" },
        app.elapsed.as_secs(),
        app.agents,
        app.history.rounds,
        app.failures,
    );
    frame.render_widget(
        Paragraph::new(vec![Line::from(status), Line::from(names)]),
        header,
    );
    let Some(panel) = app.current() else {
        frame.render_widget(
            Paragraph::new("no counter in the include list")
                .block(Block::default().borders(Borders::ALL)),
            chart,
        );
        return;
    };
    let points: Vec<(f64, f64)> = panel.points.iter().copied().collect();
    let (x0, x1) = match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        (Some(a), _) => (a.0, a.0 + 1.0),
        _ => (0.0, 1.0),
    };
    let top = points.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0);
    let now = points.last().map_or(0.0, |p| p.1);
    let title = format!(
        "{} — total {} (max {})",
        panel.metric,
        human(now, panel.unit),
        human(top, panel.unit)
    );
    let data = [Dataset::default()
        .name(panel.unit)
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .data(&points)];
    let widget = Chart::new(data.to_vec())
        .block(Block::default().borders(Borders::ALL).title(title))
        .x_axis(
            Axis::default()
                .title("s")
                .bounds([x0, x1])
                .labels([format!("{x0:.0}"), format!("{x1:.0}")]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top * 1.1])
                .labels(["0".to_string(), human(top, panel.unit)]),
        );
    frame.render_widget(widget, chart);
    let rows: Vec<Row> = panel
        .top
        .iter()
        .map(|(labels, rate)| Row::new(vec![labels.clone(), human(*rate, panel.unit)]))
        .collect();
    frame.render_widget(
        Table::new(rows, [Constraint::Min(30), Constraint::Length(16)])
            .header(Row::new(vec!["Source → destination", "Rate"]))
            .block(Block::default().borders(Borders::ALL).title("Busiest now")),
        table,
    );
}
