//! The visible mark: the app's logo and `@username` in a corner, moving clockwise every
//! [`CORNER_PERIOD_SECONDS`] so no single crop removes it from the whole clip.

use super::font::{GLYPH_HEIGHT, GLYPH_WIDTH, Glyph, LOGO, glyph};
use super::{WatermarkError, check_frames};

/// Seconds the mark stays in one corner before moving to the next.
pub const CORNER_PERIOD_SECONDS: u32 = 2;
/// Screen pixels per font pixel.
const SCALE: usize = 2;
/// Gap between the mark and the frame edge, in screen pixels.
const MARGIN: usize = 8;
/// Longest username drawn; longer ones are cut so the mark stays small.
const MAX_USERNAME_CHARS: usize = 20;
/// Smallest frame side accepted.
const MIN_SIDE: usize = 64;
/// Font columns per character cell (glyph plus one blank column).
const ADVANCE: usize = GLYPH_WIDTH + 1;
/// How far the fill is pulled towards white (out of 256): legible but not opaque.
const FILL_ALPHA: u16 = 205;
/// How far the outline is pulled towards black (out of 256).
const OUTLINE_ALPHA: u16 = 166;

/// A corner of the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corner {
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom right.
    BottomRight,
    /// Bottom left.
    BottomLeft,
}

/// The corner the mark occupies in frame `frame_index` of a clip at `fps` (TL→TR→BR→BL).
pub fn corner_at(frame_index: usize, fps: u32) -> Corner {
    let period = (fps.max(1) as usize).saturating_mul(CORNER_PERIOD_SECONDS as usize);
    match (frame_index / period) % 4 {
        0 => Corner::TopLeft,
        1 => Corner::TopRight,
        2 => Corner::BottomRight,
        _ => Corner::BottomLeft,
    }
}

/// What a mask pixel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ink {
    None,
    Outline,
    Fill,
}

/// The label in font pixels (one pixel of outline room on every side).
struct Label {
    cols: usize,
    rows: usize,
    ink: Vec<Ink>,
}

impl Label {
    /// Logo, a space, then `@username`, cut to at most `max_cols` font columns.
    fn new(username: &str, max_cols: usize) -> Self {
        let text = std::iter::once(LOGO)
            .chain(std::iter::once(glyph(' ')))
            .chain(std::iter::once(glyph('@')))
            .chain(username.chars().take(MAX_USERNAME_CHARS).map(|c| glyph(if c.is_ascii() { c } else { '?' })));
        // Each glyph needs ADVANCE columns; the last one's blank column becomes outline room.
        let glyphs: Vec<Glyph> = text.take((max_cols.saturating_sub(1) / ADVANCE).max(1)).collect();
        let cols = glyphs.len() * ADVANCE + 1;
        let rows = GLYPH_HEIGHT + 2;
        let mut ink = vec![Ink::None; cols * rows];
        for (index, rows_bits) in glyphs.iter().enumerate() {
            for (y, bits) in rows_bits.iter().enumerate() {
                for x in 0..GLYPH_WIDTH {
                    if bits & (1 << (GLYPH_WIDTH - 1 - x)) != 0
                        && let Some(cell) = ink.get_mut((y + 1) * cols + 1 + index * ADVANCE + x)
                    {
                        *cell = Ink::Fill;
                    }
                }
            }
        }
        // Outline: every empty pixel touching a filled one (8-neighbourhood).
        let filled: Vec<bool> = ink.iter().map(|&i| i == Ink::Fill).collect();
        for (index, cell) in ink.iter_mut().enumerate() {
            if *cell != Ink::None {
                continue;
            }
            let (x, y) = (index % cols, index / cols);
            let touches = (y.saturating_sub(1)..=(y + 1).min(rows - 1)).any(|ny| {
                (x.saturating_sub(1)..=(x + 1).min(cols - 1))
                    .any(|nx| filled.get(ny * cols + nx).copied().unwrap_or(false))
            });
            if touches {
                *cell = Ink::Outline;
            }
        }
        Self { cols, rows, ink }
    }
}

/// Width and height in pixels of the mark for `username` (uncut by the frame width).
pub fn label_size(username: &str) -> (usize, usize) {
    let label = Label::new(username, usize::MAX);
    (label.cols * SCALE, label.rows * SCALE)
}

/// Draws the logo and `@username` into every frame, in the corner given by [`corner_at`].
///
/// Non-ASCII characters are drawn as `?`; the label is cut to fit the frame width.
pub fn draw_visible(
    frames: &mut [Vec<u8>],
    width: usize,
    height: usize,
    fps: u32,
    username: &str,
) -> Result<(), WatermarkError> {
    draw_visible_from(frames, 0, width, height, fps, username)
}

/// [`draw_visible`] over a run of a longer clip whose first frame is frame `first` of the clip,
/// so a clip marked a run at a time moves its mark exactly as one marked whole.
pub fn draw_visible_from(
    frames: &mut [Vec<u8>],
    first: usize,
    width: usize,
    height: usize,
    fps: u32,
    username: &str,
) -> Result<(), WatermarkError> {
    if fps == 0 {
        return Err(WatermarkError::InvalidFps);
    }
    check_frames(frames, width, height, MIN_SIDE)?;
    let label = Label::new(username, (width - 2 * MARGIN) / SCALE);
    let (label_width, label_height) = (label.cols * SCALE, label.rows * SCALE);
    for (index, frame) in frames.iter_mut().enumerate() {
        let (left, top) = match corner_at(first + index, fps) {
            Corner::TopLeft => (MARGIN, MARGIN),
            Corner::TopRight => (width - MARGIN - label_width, MARGIN),
            Corner::BottomRight => (width - MARGIN - label_width, height - MARGIN - label_height),
            Corner::BottomLeft => (MARGIN, height - MARGIN - label_height),
        };
        for dy in 0..label_height {
            let row_start = ((top + dy) * width + left) * 3;
            let Some(row) = frame.get_mut(row_start..row_start + label_width * 3) else {
                continue;
            };
            let mask_row = (dy / SCALE) * label.cols;
            for (dx, pixel) in row.chunks_exact_mut(3).enumerate() {
                let ink = label.ink.get(mask_row + dx / SCALE).copied().unwrap_or(Ink::None);
                for channel in pixel {
                    *channel = blend(*channel, ink);
                }
            }
        }
    }
    Ok(())
}

/// Mixes one channel towards white (fill) or black (outline).
fn blend(value: u8, ink: Ink) -> u8 {
    let v = u16::from(value);
    let mixed = match ink {
        Ink::None => v,
        Ink::Fill => v + ((255 - v) * FILL_ALPHA + 128) / 256,
        Ink::Outline => v - (v * OUTLINE_ALPHA + 128) / 256,
    };
    u8::try_from(mixed).unwrap_or(u8::MAX)
}
