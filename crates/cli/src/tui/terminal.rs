//! Runs the [`App`](super::App) on the real terminal (raw mode, alternate screen) until
//! Ctrl-C or the capture ends, feeding it the collector's records and progress.

use super::{Action, App, draw};
use crate::collector::Progress;
use crossterm::event::{self, Event};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use netobserv_pipeline::record::Record;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Restores the terminal however the loop ends.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = crossterm::execute!(std::io::stdout(), LeaveAlternateScreen);
    }
}

/// Shows the table until Ctrl-C (returns `true`) or `records` closes (the capture ended,
/// returns `false`). Blocking: run it on its own thread.
pub fn run(
    title: &str,
    mut records: mpsc::Receiver<Arc<Record>>,
    progress: Arc<Progress>,
) -> std::io::Result<bool> {
    enable_raw_mode()?;
    let _restore = Restore;
    crossterm::execute!(std::io::stdout(), EnterAlternateScreen)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    // The column choice of earlier runs (a corrupt file: the defaults, and a warning shown).
    let prefs = super::prefs::default_path()
        .map(super::prefs::ColumnPrefs::load)
        .unwrap_or_default();
    let mut app = App::with_prefs(title, prefs);
    let started = Instant::now();
    loop {
        loop {
            match records.try_recv() {
                Ok(r) => app.push(r),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return Ok(false),
            }
        }
        app.elapsed = started.elapsed();
        app.bytes = progress.bytes();
        app.flows = progress.flows();
        terminal.draw(|f| draw(f, &app))?;
        if event::poll(Duration::from_millis(200))?
            && let Event::Key(k) = event::read()?
            && app.key(k) == Action::Quit
        {
            return Ok(true);
        }
    }
}

/// Shows the metrics charts until Ctrl-C (returns `true`) or `rounds` closes (`false`).
/// Blocking: run it on its own thread.
pub fn run_metrics(
    mut app: super::metrics::MetricsApp,
    mut rounds: mpsc::Receiver<crate::metrics::scrape::Round>,
) -> std::io::Result<bool> {
    enable_raw_mode()?;
    let _restore = Restore;
    crossterm::execute!(std::io::stdout(), EnterAlternateScreen)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let started = Instant::now();
    loop {
        loop {
            match rounds.try_recv() {
                Ok(r) => app.apply(&r),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return Ok(false),
            }
        }
        app.elapsed = started.elapsed();
        terminal.draw(|f| super::metrics::draw(f, &app))?;
        if event::poll(Duration::from_millis(200))?
            && let Event::Key(k) = event::read()?
            && app.key(k) == Action::Quit
        {
            return Ok(true);
        }
    }
}
