//! The "Manage columns" modal (Ctrl-O): the columns the current display and enrichment offer,
//! each with a check box; ↑↓ move, Enter or Space toggles, `r` restores the defaults, Esc
//! closes. The choice lives in [`ColumnPrefs`], which saves it at each change, so closing never
//! loses it and there is no separate "save" step to forget.

use super::columns::Column;
use super::prefs::ColumnPrefs;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState};

/// The modal's state while open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Manager {
    /// The highlighted line.
    pub cursor: usize,
}

/// What a key did to the modal.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stays open.
    Open,
    /// Closed (Esc).
    Closed,
}

impl Manager {
    /// Handles a key over `offered` (the columns listed); a failed save is returned as text
    /// for the status line, the choice being kept for this run anyway.
    pub fn key(
        &mut self,
        key: KeyEvent,
        offered: &[Column],
        prefs: &mut ColumnPrefs,
    ) -> (Outcome, Option<String>) {
        let last = offered.len().saturating_sub(1);
        let saved = match key.code {
            KeyCode::Esc => return (Outcome::Closed, None),
            KeyCode::Up => {
                self.cursor = self.cursor.saturating_sub(1);
                Ok(())
            }
            KeyCode::Down => {
                self.cursor = (self.cursor + 1).min(last);
                Ok(())
            }
            KeyCode::Enter | KeyCode::Char(' ') => match offered.get(self.cursor) {
                Some(c) => prefs.toggle(&c.id()),
                None => Ok(()),
            },
            KeyCode::Char('r') => prefs.restore_defaults(),
            _ => Ok(()),
        };
        let error = saved.err().map(|e| format!("columns not saved: {e}"));
        (Outcome::Open, error)
    }

    /// Draws the modal centred over `area`.
    pub fn draw(&self, frame: &mut Frame<'_>, area: Rect, offered: &[Column], prefs: &ColumnPrefs) {
        let height = u16::try_from(offered.len() + 3).unwrap_or(u16::MAX);
        let [row] = Layout::vertical([Constraint::Length(height)])
            .flex(Flex::Center)
            .areas(area);
        let [modal] = Layout::horizontal([Constraint::Length(46)])
            .flex(Flex::Center)
            .areas(row);
        let items: Vec<ListItem> = offered
            .iter()
            .map(|c| {
                let mark = if prefs.shown(&c.id()) { "[x]" } else { "[ ]" };
                ListItem::new(format!("{mark} {}", c.title))
            })
            .collect();
        let list = List::new(items)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title("Manage columns")
                    .title_bottom(Line::from("↑↓ Enter/Space toggle  r defaults  Esc")),
            )
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .highlight_symbol("> ");
        frame.render_widget(Clear, modal);
        let mut state = ListState::default().with_selected(Some(self.cursor));
        frame.render_stateful_widget(list, modal, &mut state);
    }
}
