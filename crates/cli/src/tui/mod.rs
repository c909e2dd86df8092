//! The terminal UI (ratatui): the captured flows as a table, newest first, with upstream's
//! display cycle (Ctrl-D or ← →) and enrichment cycle (Ctrl-E), live regex filters typed in
//! the filter line (Enter adds one; every filter must match the record's JSON; Backspace on an
//! empty line removes the last), pause (Ctrl-Space, Esc resumes; flows keep being written,
//! just not shown), and a progress line (elapsed, captured bytes, flows/s). Ctrl-O opens the
//! "Manage columns" modal ([`manager`], the choice kept in [`prefs`]); ↑↓ select a row (pausing
//! the table, so the row stays put), and a selected packet shows its bytes in the "Payload"
//! pane ([`payload`]; Tab moves the focus there and back). [`App`] holds the state and is
//! drawn by [`draw`], so tests render it into ratatui's `TestBackend`.

pub mod columns;
pub mod manager;
pub mod metrics;
pub mod payload;
pub mod prefs;
pub mod terminal;

use columns::{Column, DISPLAYS, END_TIME, ENRICHMENTS};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use manager::{Manager, Outcome};
use netobserv_pipeline::record::Record;
use prefs::ColumnPrefs;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, TableState};
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

/// Which pane ↑↓ act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The table: ↑↓ select rows.
    Table,
    /// The packet's "Payload" pane: ↑↓ scroll it.
    Payload,
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
    prefs: ColumnPrefs,
    manager: Option<Manager>,
    /// The selected row, an index into [`App::visible`] (only while paused).
    selected: Option<usize>,
    focus: Focus,
    payload_scroll: usize,
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
    /// An empty table, `Standard` display and `Resource` enrichment (upstream's defaults),
    /// every column shown and the column choice saved nowhere.
    pub fn new(title: &str) -> Self {
        Self::with_prefs(title, ColumnPrefs::in_memory())
    }

    /// [`App::new`] with the column choice of `prefs` (a warning it carries shows in the
    /// status line: in the terminal, the log is not visible).
    pub fn with_prefs(title: &str, mut prefs: ColumnPrefs) -> Self {
        let error = prefs.warning.take();
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
            error,
            paused: false,
            prefs,
            manager: None,
            selected: None,
            focus: Focus::Table,
            payload_scroll: 0,
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

    /// The columns the current display and enrichment offer: end time, the two ends as the
    /// enrichment names them, the display's (what "Manage columns" lists).
    pub fn offered_columns(&self) -> Vec<Column> {
        let mut c = vec![END_TIME];
        c.extend(self.enrichment().columns());
        c.extend(self.display().columns());
        c
    }

    /// The columns shown: those offered that the user did not hide.
    pub fn columns(&self) -> Vec<Column> {
        self.offered_columns()
            .into_iter()
            .filter(|c| self.prefs.shown(&c.id()))
            .collect()
    }

    /// The column choice (hidden columns, where it is saved).
    pub fn prefs(&self) -> &ColumnPrefs {
        &self.prefs
    }

    /// Whether the "Manage columns" modal is open.
    pub fn managing_columns(&self) -> bool {
        self.manager.is_some()
    }

    /// Which pane ↑↓ act on.
    pub fn focus(&self) -> Focus {
        self.focus
    }

    /// The selected row's record, if a row is selected and still passes the filters.
    pub fn selected(&self) -> Option<&Arc<Record>> {
        self.selected.and_then(|i| self.visible().get(i).copied())
    }

    /// The selected packet's frame, when the "Payload" pane shows (paused, a packet selected).
    pub fn payload(&self) -> Option<Vec<u8>> {
        if !self.paused {
            return None;
        }
        self.selected().and_then(|r| payload::bytes_of(r))
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

    /// Handles one key: Ctrl-C always quits; the modal, when open, takes every other key;
    /// the "Payload" pane, when focused, takes ↑↓, PageUp/PageDown and Tab.
    pub fn key(&mut self, key: KeyEvent) -> Action {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        if let Some(mut m) = self.manager.take() {
            let offered = self.offered_columns();
            let (outcome, error) = m.key(key, &offered, &mut self.prefs);
            if error.is_some() {
                self.error = error;
            }
            if outcome == Outcome::Open {
                self.manager = Some(m);
            }
            return Action::None;
        }
        if self.focus == Focus::Payload && self.key_payload(key) {
            return Action::None;
        }
        match key.code {
            KeyCode::Char('o') if ctrl => self.manager = Some(Manager::default()),
            KeyCode::Char('d') if ctrl => self.display = (self.display + 1) % DISPLAYS.len(),
            KeyCode::Right => self.display = (self.display + 1) % DISPLAYS.len(),
            KeyCode::Left => self.display = (self.display + DISPLAYS.len() - 1) % DISPLAYS.len(),
            KeyCode::Char('e') if ctrl => {
                self.enrichment = (self.enrichment + 1) % ENRICHMENTS.len();
            }
            KeyCode::Char(' ') if ctrl && self.paused => self.resume(),
            KeyCode::Char(' ') if ctrl => self.paused = true,
            KeyCode::Up => self.select(-1),
            KeyCode::Down => self.select(1),
            KeyCode::Tab if self.payload().is_some() => self.focus = Focus::Payload,
            KeyCode::Esc => {
                self.resume();
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

    /// Keys of the focused "Payload" pane; `false` for those it leaves to the table.
    fn key_payload(&mut self, key: KeyEvent) -> bool {
        let Some(len) = self.payload().map(|p| p.len()) else {
            self.focus = Focus::Table;
            return false;
        };
        let last = len.saturating_sub(1) / 16;
        match key.code {
            KeyCode::Up => self.payload_scroll = self.payload_scroll.saturating_sub(1),
            KeyCode::Down => self.payload_scroll = (self.payload_scroll + 1).min(last),
            KeyCode::PageUp => self.payload_scroll = self.payload_scroll.saturating_sub(8),
            KeyCode::PageDown => self.payload_scroll = (self.payload_scroll + 8).min(last),
            KeyCode::Tab => self.focus = Focus::Table,
            _ => return false,
        }
        true
    }

    /// Moves the selection; while running, the first press pauses on the newest row (so the
    /// row does not move under the cursor as records arrive).
    fn select(&mut self, delta: isize) {
        let n = self.visible().len();
        if n == 0 {
            return;
        }
        let next = match self.selected.filter(|_| self.paused) {
            None => 0,
            Some(i) => i.saturating_add_signed(delta).min(n - 1),
        };
        self.paused = true;
        if self.selected != Some(next) {
            self.payload_scroll = 0;
        }
        self.selected = Some(next);
    }

    /// Resumes the table, dropping the selection and the pane's focus.
    fn resume(&mut self) {
        self.paused = false;
        self.selected = None;
        self.focus = Focus::Table;
        self.payload_scroll = 0;
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
        "Display: {} (Ctrl-D, ← →)   Enrichment: {} (Ctrl-E)   Columns: Ctrl-O   Pause: Ctrl-Space   Quit: Ctrl-C",
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

    draw_table(frame, app, table);
}

/// The table, with the "Payload" pane under it when a packet is selected, and the modal over
/// both when open.
fn draw_table(frame: &mut Frame<'_>, app: &App, area: ratatui::layout::Rect) {
    let frame_bytes = app.payload();
    let dump = frame_bytes.as_deref().map(payload::hex_dump);
    let (table, pane) = match &dump {
        Some(lines) => {
            let h = payload::height(lines.len(), area.height / 2);
            let [t, p] = Layout::vertical([Constraint::Min(3), Constraint::Length(h)]).areas(area);
            (t, Some(p))
        }
        None => (area, None),
    };
    let cols = app.columns();
    let header_row =
        Row::new(cols.iter().map(|c| c.title)).style(Style::default().add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = app
        .visible()
        .into_iter()
        .map(|r| Row::new(cols.iter().map(|c| columns::show(r, c))))
        .collect();
    let title = if app.paused {
        format!(
            "{} (paused: {} new not shown; ↑↓ select, Esc resumes)",
            app.title, app.skipped
        )
    } else {
        format!("{} (↑↓ select)", app.title)
    };
    let mut state = TableState::default().with_selected(app.selected);
    frame.render_stateful_widget(
        Table::new(rows, cols.iter().map(|c| Constraint::Length(c.width)))
            .header(header_row)
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .block(Block::default().borders(Borders::TOP).title(title)),
        table,
        &mut state,
    );
    if let (Some(p), Some(lines), Some(bytes)) = (pane, &dump, &frame_bytes) {
        let view = payload::View {
            lines,
            len: bytes.len(),
            scroll: app.payload_scroll,
            focused: app.focus == Focus::Payload,
        };
        payload::draw(frame, p, &view);
    }
    if let Some(m) = &app.manager {
        m.draw(frame, area, &app.offered_columns(), &app.prefs);
    }
}
