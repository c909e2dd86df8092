//! The packets "Payload" pane: the selected packet's frame as a hex dump (offset, 16 bytes in
//! hex, the same bytes as ASCII), read from the record's base64 `Data` field as upstream's
//! packet records carry it.

use base64::Engine;
use netobserv_pipeline::record::{Record, Value};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Paragraph};

pub use crate::collector::enrich::DATA_FIELD;

/// Bytes per dump line.
const WIDTH: usize = 16;

/// The frame of a packet record, when it has a decodable `Data` field (flows have none).
pub fn bytes_of(record: &Record) -> Option<Vec<u8>> {
    let Some(Value::Str(data)) = record.get(DATA_FIELD) else {
        return None;
    };
    base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .ok()
}

/// `bytes` as dump lines: `0010  00 83 bc ac 40 00 40 06  7f c6 7f 00 00 01 7f 00  |....@.@.........|`
/// (the gap after 8 bytes, `.` for bytes outside printable ASCII, a short last line padded so
/// its ASCII column lines up).
pub fn hex_dump(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(WIDTH)
        .enumerate()
        .map(|(i, chunk)| {
            let mut hex = String::with_capacity(3 * WIDTH + 1);
            for j in 0..WIDTH {
                if j == WIDTH / 2 {
                    hex.push(' ');
                }
                match chunk.get(j) {
                    Some(b) => hex.push_str(&format!("{b:02x} ")),
                    None => hex.push_str("   "),
                }
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        char::from(b)
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:04x}  {hex} |{ascii}|", i * WIDTH)
        })
        .collect()
}

/// Height the pane wants for `lines` dump lines (borders included), at most `max`.
pub fn height(lines: usize, max: u16) -> u16 {
    u16::try_from(lines + 2).unwrap_or(u16::MAX).min(max)
}

/// What the pane shows: the dump of a frame of `len` bytes, from line `scroll`.
pub struct View<'a> {
    /// Dump lines.
    pub lines: &'a [String],
    /// Frame length.
    pub len: usize,
    /// First line shown.
    pub scroll: usize,
    /// Whether ↑↓ scroll it (its border is then bold).
    pub focused: bool,
}

/// Draws the pane.
pub fn draw(frame: &mut Frame<'_>, area: Rect, view: &View<'_>) {
    let View {
        lines,
        len,
        scroll,
        focused,
    } = *view;
    let title = if focused {
        format!("Payload ({len} bytes; ↑↓ scroll, Tab: table)")
    } else {
        format!("Payload ({len} bytes; Tab: focus)")
    };
    let border = if focused {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    let text: Vec<ratatui::text::Line> = lines
        .iter()
        .skip(scroll)
        .map(|l| ratatui::text::Line::from(l.as_str()))
        .collect();
    frame.render_widget(
        Paragraph::new(text).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border)
                .title(title),
        ),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_last_line_keeps_the_ascii_column_aligned() {
        let d = hex_dump(b"GET / HTTP/1.1\r\nHost");
        assert_eq!(
            d,
            [
                "0000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  |GET / HTTP/1.1..|",
                "0010  48 6f 73 74                                       |Host|",
            ]
        );
        assert!(hex_dump(&[]).is_empty());
    }
}
