//! The terminal UI (ratatui): the captured flows as a table, newest first, with upstream's
//! display cycle (Ctrl-D or ← →) and enrichment cycle (Ctrl-E), live regex filters typed in
//! the filter line (Enter adds one; every filter must match the record's JSON; Backspace on an
//! empty line removes the last), pause (Ctrl-Space, Esc resumes; flows keep being written,
//! just not shown), and a progress line (elapsed, captured bytes, flows/s). [`App`] holds the
//! state and is drawn by [`draw`], so tests render it into ratatui's `TestBackend`.

pub mod columns;
pub mod metrics;
pub mod terminal;

use columns::{Column, DISPLAYS, ENRICHMENTS};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use netobserv_pipeline::record::Record;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use regex::Regex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Rows kept for display ("showing last N").
pub const KEEP_ROWS: usize = 1000;

/// What a key asks the caller to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond redrawing.
    None,
    /// Leave (Ctrl-C).
    Quit,
}

/// The TUI's state.
pub struct App {
    /// `Flows` or `Packets`, in the header.
    pub title: String,
    rows: VecDeque<Arc<Record>>,
    display: usize,
    enrichment: usize,
    filters: Vec<Regex>,
    input: String,
    error: Option<String>,
    paused: bool,
    /// Records that arrived while paused (not shown).
    pub skipped: u64,
    /// Progress: time since the start.
    pub elapsed: Duration,
    /// Progress: bytes written.
    pub bytes: u64,
    /// Progress: flows written.
    pub flows: u64,
}

impl App {
    /// An empty table, `Standard` display and `Resource` enrichment (upstream's defaults).
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_string(),
            rows: VecDeque::new(),
            display: 0,
            enrichment: ENRICHMENTS
                .iter()
                .position(|e| *e == columns::Enrichment::Resource)
                .unwrap_or(0),
            filters: Vec::new(),
            input: String::new(),
            error: None,
            paused: false,
            skipped: 0,
            elapsed: Duration::ZERO,
            bytes: 0,
            flows: 0,
        }
    }

    /// Adds a captured record (ignored, and counted, while paused).
    pub fn push(&mut self, record: Arc<Record>) {
        if self.paused {
            self.skipped += 1;
            return;
        }
        self.rows.push_front(record);
        self.rows.truncate(KEEP_ROWS);
    }

    /// The current display.
    pub fn display(&self) -> columns::Display {
        DISPLAYS[self.display]
    }

    /// The current enrichment.
    pub fn enrichment(&self) -> columns::Enrichment {
        ENRICHMENTS[self.enrichment]
    }

    /// Whether the table is paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// The columns shown: end time, the two ends as the enrichment names them, the display's.
    pub fn columns(&self) -> Vec<Column> {
        let mut c = vec![Column {
            title: "End time",
            fields: &["TimeFlowEndMs"],
            width: 12,
        }];
        c.extend(self.enrichment().columns());
        c.extend(self.display().columns());
        c
    }

    /// The rows that pass every filter, newest first.
    pub fn visible(&self) -> Vec<&Arc<Record>> {
        self.rows
            .iter()
            .filter(|r| {
                if self.filters.is_empty() {
                    return true;
                }
                let text = serde_json::to_string(&r.sorted()).unwrap_or_default();
                self.filters.iter().all(|f| f.is_match(&text))
            })
            .collect()
    }

    /// Handles one key.
    pub fn key(&mut self, key: KeyEvent) -> Action {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return Action::Quit,
            KeyCode::Char('d') if ctrl => self.display = (self.display + 1) % DISPLAYS.len(),
            KeyCode::Right => self.display = (self.display + 1) % DISPLAYS.len(),
            KeyCode::Left => self.display = (self.display + DISPLAYS.len() - 1) % DISPLAYS.len(),
            KeyCode::Char('e') if ctrl => {
                self.enrichment = (self.enrichment + 1) % ENRICHMENTS.len();
            }
            KeyCode::Char(' ') if ctrl => self.paused = !self.paused,
            KeyCode::Esc => {
                self.paused = false;
                self.error = None;
            }
            KeyCode::Enter if !self.input.is_empty() => match Regex::new(&self.input) {
                Ok(r) => {
                    self.filters.push(r);
                    self.input.clear();
                    self.error = None;
                }
                Err(e) => self.error = Some(format!("bad regex: {e}")),
            },
            KeyCode::Backspace if self.input.is_empty() => {
                self.filters.pop();
            }
            KeyCode::Backspace => {
                self.input.pop();
            }
            KeyCode::Char(ch) if !ctrl => self.input.push(ch),
            _ => {}
        }
        Action::None
    }
}

fn human_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} B"),
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let [header, filter, table] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(frame.area());
    let secs = app.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        app.flows as f64 / secs
    } else {
        0.0
    };
    let state = if app.paused { "PAUSED" } else { "running" };
    let line1 = Line::from(vec![
        Span::styled(
            format!("{} ", app.title),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "[{state}]  elapsed {:>4}s  captured {}  {:.0} flows/s  showing {} of last {}",
            app.elapsed.as_secs(),
            human_bytes(app.bytes),
            rate,
            app.visible().len(),
            app.rows.len()
        )),
    ]);
    let line2 = Line::from(format!(
        "Display: {} (Ctrl-D, ← →)   Enrichment: {} (Ctrl-E)   Pause: Ctrl-Space   Quit: Ctrl-C",
        app.display().name(),
        app.enrichment().name()
    ));
    frame.render_widget(Paragraph::new(vec![line1, line2]), header);
    let chips: String = app
        .filters
        .iter()
        .map(|f| format!("[{}] ", f.as_str()))
        .collect();
    let filter_line = match &app.error {
        Some(e) => format!("Live table regexes: {chips}{}  ({e})", app.input),
        None => format!("Live table regexes: {chips}{}_", app.input),
    };
    frame.render_widget(Paragraph::new(filter_line), filter);

    let cols = app.columns();
    let header_row =
        Row::new(cols.iter().map(|c| c.title)).style(Style::default().add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = app
        .visible()
        .into_iter()
        .map(|r| {
            Row::new(cols.iter().enumerate().map(|(i, c)| {
                if i == 0 {
                    columns::time(r)
                } else {
                    columns::cell(r, c)
                }
            }))
        })
        .collect();
    let title = if app.paused {
        format!(
            "{} (paused: {} new not shown; Esc resumes)",
            app.title, app.skipped
        )
    } else {
        app.title.clone()
    };
    frame.render_widget(
        Table::new(rows, cols.iter().map(|c| Constraint::Length(c.width)))
            .header(header_row)
            .block(Block::default().borders(Borders::TOP).title(title)),
        table,
    );
}
