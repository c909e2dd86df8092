//! Runs the live view on the real terminal (raw mode, alternate screen) on its own thread: it
//! redraws every second from the store and the run's status, and returns when the user presses
//! Ctrl-C or `q` (raw mode turns Ctrl-C into a key, so the view reports it) or when the run
//! closes the status channel. The terminal is restored however it ends.

use super::snapshot;
use super::view::{LiveState, draw};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyModifiers};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use netobserv_flowstore::Reader;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Time between two reads of the store.
const REFRESH: Duration = Duration::from_secs(1);

/// Restores the terminal however the loop ends.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = crossterm::execute!(std::io::stdout(), LeaveAlternateScreen);
    }
}

/// How the view ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The user asked to stop (Ctrl-C or `q`).
    Interrupted,
    /// The run stopped on its own (duration, SIGTERM).
    Closed,
}

/// Whether a key asks to stop.
pub fn is_stop_key(k: &KeyEvent) -> bool {
    matches!(k.code, KeyCode::Char('q'))
        || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL))
}

/// Shows the view until a stop key or until `status`'s sender is dropped. Blocking.
pub fn run(store: &Path, mut status: watch::Receiver<LiveState>) -> std::io::Result<Ended> {
    enable_raw_mode()?;
    let _restore = Restore;
    crossterm::execute!(std::io::stdout(), EnterAlternateScreen)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let mut source = Source::new(store);
    let mut last_read: Option<Instant> = None;
    let mut snapshot = Default::default();
    let mut error = None;
    loop {
        if status.has_changed().is_err() {
            return Ok(Ended::Closed);
        }
        if last_read.is_none_or(|t| t.elapsed() >= REFRESH) {
            last_read = Some(Instant::now());
            match source.read() {
                Ok(s) => {
                    snapshot = s;
                    error = None;
                }
                Err(e) => error = Some(e),
            }
        }
        let mut state = status.borrow_and_update().clone();
        state.snapshot = std::mem::take(&mut snapshot);
        state.error = error.clone();
        terminal.draw(|f| draw(f, &state))?;
        snapshot = state.snapshot;
        if event::poll(Duration::from_millis(250))?
            && let Event::Key(k) = event::read()?
            && is_stop_key(&k)
        {
            return Ok(Ended::Interrupted);
        }
    }
}

/// The store, opened once it exists (the writer creates it when the pipeline starts).
struct Source {
    path: PathBuf,
    reader: Option<Reader>,
}

impl Source {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            reader: None,
        }
    }

    fn read(&mut self) -> Result<snapshot::Snapshot, String> {
        if self.reader.is_none() {
            self.reader = Some(Reader::open(&self.path).map_err(|e| e.to_string())?);
        }
        let Some(reader) = &self.reader else {
            return Err("the store is not open".into());
        };
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        snapshot::read(reader, now_ms).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_c_and_q_stop_other_keys_do_not() {
        let key = |c, m| KeyEvent::new(KeyCode::Char(c), m);
        assert!(is_stop_key(&key('c', KeyModifiers::CONTROL)));
        assert!(is_stop_key(&key('q', KeyModifiers::NONE)));
        assert!(!is_stop_key(&key('c', KeyModifiers::NONE)));
        assert!(!is_stop_key(&key('x', KeyModifiers::CONTROL)));
    }
}
